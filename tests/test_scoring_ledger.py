"""Checkpoint ledger (preset ptn): construction, metrics, age decay — hand-computed values."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taos.scoring import (
    CHECKPOINT_NS,
    age_decay_weight,
    checkpoint_ledger,
    ledger_age_weights,
    ledger_omega,
    ledger_return,
    ledger_sortino,
)

H = 3_600 * 1_000_000_000  # one hour in ns

# Observations at 0, 3h, 7h, 8h, 13h; period 6h → checkpoints [0, 6h) and [6h, 12h).
# interval      change            in market   checkpoint
# 0  → 3h       ln(110/100)       yes (3h)    0
# 3h → 7h       ln(99/110)        no          0  (booked where it starts)
# 7h → 8h       ln(99/99) = 0     yes (1h)    1
# 8h → 13h      ln(120/99)        yes (5h)    1
VALUES = [100.0, 110.0, 99.0, 99.0, 120.0]
TIMES = [0, 3 * H, 7 * H, 8 * H, 13 * H]
IN_MARKET = [True, False, True, True, False]


def test_ledger_hand_values() -> None:
    led = checkpoint_ledger(VALUES, TIMES, IN_MARKET)
    assert CHECKPOINT_NS == 6 * H
    assert led.period_ns == 6 * H
    assert led.start_ns.tolist() == [0, 6 * H]
    assert led.gains == pytest.approx([math.log(1.1), math.log(120.0 / 99.0)])
    assert led.losses == pytest.approx([math.log(0.9), 0.0])
    assert led.time_in_market_ns.tolist() == [3 * H, 6 * H]
    assert led.time_in_market_ns.dtype == np.int64


@pytest.mark.parametrize("n", [0, 1])
def test_fewer_than_two_observations_give_an_empty_ledger(n: int) -> None:
    led = checkpoint_ledger(VALUES[:n], TIMES[:n], IN_MARKET[:n])
    assert led.start_ns.shape == (0,) and led.gains.shape == (0,) and led.losses.shape == (0,)
    assert led.time_in_market_ns.shape == (0,)
    assert ledger_return(led) == 0.0
    assert ledger_omega(led) == 0.0
    assert ledger_sortino(led) == 0.0


def test_constant_values_give_zero_changes() -> None:
    led = checkpoint_ledger([50.0, 50.0, 50.0], [0, H, 2 * H], [True, True, True])
    assert led.gains.tolist() == [0.0] and led.losses.tolist() == [0.0]
    assert led.time_in_market_ns.tolist() == [2 * H]
    assert ledger_return(led) == 0.0 and ledger_omega(led) == 0.0 and ledger_sortino(led) == 0.0


def test_nan_drops_the_intervals_touching_it() -> None:
    # 100 → 110 kept (1h in market); 110 → NaN and NaN → 121 dropped with their time
    led = checkpoint_ledger([100.0, 110.0, np.nan, 121.0], [0, H, 2 * H, 3 * H], [True] * 4)
    assert led.gains == pytest.approx([math.log(1.1)])
    assert led.losses.tolist() == [0.0]
    assert led.time_in_market_ns.tolist() == [H]


def test_empty_periods_are_present_with_zeros() -> None:
    # intervals [0, 13h) → checkpoint 0, [13h, 14h) → checkpoint 2; checkpoint 1 empty
    led = checkpoint_ledger([100.0, 200.0, 100.0], [0, 13 * H, 14 * H], [True, True, True])
    assert led.start_ns.tolist() == [0, 6 * H, 12 * H]
    assert led.gains == pytest.approx([math.log(2.0), 0.0, 0.0])
    assert led.losses == pytest.approx([0.0, 0.0, math.log(0.5)])
    assert led.time_in_market_ns.tolist() == [13 * H, 0, H]


def test_checkpoints_are_aligned_to_simulation_time_zero() -> None:
    led = checkpoint_ledger([100.0, 101.0], [7 * H, 8 * H], [False, False])
    assert led.start_ns.tolist() == [6 * H]
    assert led.time_in_market_ns.tolist() == [0]


def test_custom_period() -> None:
    led = checkpoint_ledger(VALUES, TIMES, IN_MARKET, period_ns=4 * H)
    # starts 0, 3h, 7h, 8h → checkpoints 0, 0, 1, 2 of 4h each
    assert led.start_ns.tolist() == [0, 4 * H, 8 * H]
    assert led.time_in_market_ns.tolist() == [3 * H, H, 5 * H]


@pytest.mark.parametrize(
    ("values", "times", "market", "period", "message"),
    [
        ([1.0, 2.0], [0, H], [True], CHECKPOINT_NS, "must have the same shape"),
        ([1.0, 2.0], [0], [True, True], CHECKPOINT_NS, "must have the same shape"),
        ([1.0, 2.0], [0.0, 1.5], [True, True], CHECKPOINT_NS, "times_ns must be integers"),
        ([1.0, 2.0], [H, H], [True, True], CHECKPOINT_NS, "strictly increasing"),
        ([1.0, 2.0], [H, 0], [True, True], CHECKPOINT_NS, "strictly increasing"),
        ([1.0, 2.0], [0, H], [1.0, 1.0], CHECKPOINT_NS, "in_market must be boolean"),
        ([1.0, 0.0], [0, H], [True, True], CHECKPOINT_NS, "values must be > 0"),
        ([1.0, 2.0], [0, H], [True, True], 0, "period_ns must be a positive integer"),
        ([1.0, 2.0], [0, H], [True, True], 1.5, "period_ns must be a positive integer"),
        ([[1.0, 2.0]], [0, H], [True, True], CHECKPOINT_NS, "values must be one-dimensional"),
    ],
)
def test_ledger_bad_arguments(
    values: object, times: object, market: object, period: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        checkpoint_ledger(values, times, market, period)  # type: ignore[arg-type]


# --- metrics -------------------------------------------------------------------------------------


def test_ledger_return_telescopes_to_the_log_of_last_over_first() -> None:
    # ln 1.1 + ln 0.9 + 0 + ln(120/99) = ln(120/100)
    led = checkpoint_ledger(VALUES, TIMES, IN_MARKET)
    assert ledger_return(led) == pytest.approx(math.log(1.2))


def test_ledger_omega_hand_value() -> None:
    # gains ln 1.1 + ln(120/99) = ln(4/3); losses |ln 0.9| = ln(10/9) → ln(4/3)/ln(10/9) ≈ 2.7305
    led = checkpoint_ledger(VALUES, TIMES, IN_MARKET)
    assert ledger_omega(led) == pytest.approx(math.log(4.0 / 3.0) / math.log(10.0 / 9.0))


def test_ledger_sortino_hand_value() -> None:
    # R = ln 1.2, T = 3h + 6h = 9h, Σ losses² = ln(0.9)², H = 24h:
    # S = (R/T·H) / √(ln(0.9)²/T·H) = ln 1.2 · √(24/9) / ln(10/9) ≈ 2.8258
    led = checkpoint_ledger(VALUES, TIMES, IN_MARKET)
    expected = math.log(1.2) * math.sqrt(24.0 / 9.0) / math.log(10.0 / 9.0)
    assert ledger_sortino(led) == pytest.approx(expected)
    assert expected == pytest.approx(2.8258, abs=1e-4)


def test_ledger_sortino_counts_losses_inside_a_winning_checkpoint() -> None:
    # one checkpoint: +ln 2 then ln(0.75): net ln 1.5 > 0 but the loss is downside
    led = checkpoint_ledger([100.0, 200.0, 150.0], [0, H, 2 * H], [True, True, True])
    expected = math.log(1.5) * math.sqrt(12.0) / abs(math.log(0.75))  # T = 2h, H = 24h
    assert ledger_sortino(led) == pytest.approx(expected)


def test_ledger_metrics_with_weights() -> None:
    led = checkpoint_ledger(VALUES, TIMES, IN_MARKET)
    # only the first checkpoint: R = ln 1.1 + ln 0.9 = ln 0.99, omega = ln 1.1 / ln(10/9)
    assert ledger_return(led, [1.0, 0.0]) == pytest.approx(math.log(0.99))
    assert ledger_omega(led, [1.0, 0.0]) == pytest.approx(math.log(1.1) / math.log(10.0 / 9.0))
    # half weight on the second: R = ln 0.99 + 0.5·ln(120/99)
    assert ledger_return(led, [1.0, 0.5]) == pytest.approx(math.log(0.99) + 0.5 * math.log(120.0 / 99.0))
    # second checkpoint alone: no losses → gains / floor; T = 6h
    assert ledger_sortino(led, [0.0, 1.0]) == pytest.approx(math.log(120.0 / 99.0) * 4.0 / 1e-6)
    # all weights zero → T = 0 → 0
    assert ledger_sortino(led, [0.0, 0.0]) == 0.0


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1.0], "weights has length 1 but the ledger has 2 checkpoints"),
        ([1.0, -0.5], "weights must be finite and >= 0"),
        ([1.0, np.nan], "weights must be finite and >= 0"),
    ],
)
def test_ledger_metrics_reject_bad_weights(weights: list[float], message: str) -> None:
    led = checkpoint_ledger(VALUES, TIMES, IN_MARKET)
    for fn in (ledger_return, ledger_omega, ledger_sortino):
        with pytest.raises(ValueError, match=message):
            fn(led, weights)


def test_ledger_metrics_reject_bad_floors() -> None:
    led = checkpoint_ledger(VALUES, TIMES, IN_MARKET)
    with pytest.raises(ValueError, match="floor must be a finite number > 0"):
        ledger_omega(led, floor=0.0)
    with pytest.raises(ValueError, match="horizon_ns must be a finite number > 0"):
        ledger_sortino(led, horizon_ns=-1)


# --- age decay -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("age", "c", "expected"),
    [
        (0.0, 4.0, 1.0),
        (5.0, 4.0, 1.0 - 0.5**4),  # f = 0.5 → 1 - 1/16 = 0.9375
        (5.0, 1.0, 0.5),  # linear
        (5.0, 2.0, 0.75),
        (10.0, 4.0, 0.0),  # f = 1
        (20.0, 4.0, 0.0),  # beyond the window
    ],
)
def test_age_decay_hand_values(age: float, c: float, expected: float) -> None:
    assert float(age_decay_weight(age, 10.0, c)) == pytest.approx(expected)


def test_age_decay_vectorised_nan_and_empty() -> None:
    out = age_decay_weight([0.0, 5.0, np.nan], 10.0)
    assert out[:2] == pytest.approx([1.0, 0.9375])
    assert math.isnan(out[2])
    assert age_decay_weight([], 10.0).shape == (0,)


@pytest.mark.parametrize(
    ("age", "window", "c", "message"),
    [
        (-1.0, 10.0, 4.0, "age must be >= 0"),
        (1.0, 0.0, 4.0, "window must be a finite number > 0"),
        (1.0, 10.0, 0.0, "c must be a finite number > 0"),
    ],
)
def test_age_decay_bad_arguments(age: float, window: float, c: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        age_decay_weight(age, window, c)


def test_ledger_age_weights_of_an_empty_ledger() -> None:
    led = checkpoint_ledger([], [], [])
    assert ledger_age_weights(led, 12 * H, 12 * H).shape == (0,)


def test_ledger_age_weights_measure_age_from_the_checkpoint_end() -> None:
    led = checkpoint_ledger(VALUES, TIMES, IN_MARKET)
    # ends 6h and 12h; now 12h → ages 6h and 0; window 12h, c = 1 → 0.5 and 1
    assert ledger_age_weights(led, 12 * H, 12 * H, c=1.0) == pytest.approx([0.5, 1.0])
    # now before the second checkpoint ends: its age is 0, not negative
    assert ledger_age_weights(led, 9 * H, 12 * H, c=1.0) == pytest.approx([0.75, 1.0])


@given(st.lists(st.floats(0.0, 1e3), max_size=30), st.floats(0.1, 8.0))
def test_age_decay_is_in_unit_interval_and_falls_with_age(ages: list[float], c: float) -> None:
    out = age_decay_weight(sorted(ages), 100.0, c)
    assert np.all((out >= 0.0) & (out <= 1.0))
    assert np.all(np.diff(out) <= 1e-15)


positive_paths = st.lists(st.floats(1.0, 1e4), min_size=2, max_size=40)


@given(positive_paths, st.integers(1, 12))
def test_ledger_return_is_log_of_last_over_first(values: list[float], step_h: int) -> None:
    times = [i * step_h * H for i in range(len(values))]
    led = checkpoint_ledger(values, times, [True] * len(values))
    assert ledger_return(led) == pytest.approx(math.log(values[-1] / values[0]), abs=1e-9)
    assert np.all(led.gains >= 0.0) and np.all(led.losses <= 0.0)
    assert int(led.time_in_market_ns.sum()) == times[-1]
