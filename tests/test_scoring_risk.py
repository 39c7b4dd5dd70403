"""Omega, time-adjusted Sortino, max drawdown, total return, Calmar: hand-computed values."""

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taos.scoring import DAY_NS, calmar, max_drawdown, omega, sortino_time_adjusted, total_return

HOUR_NS = 3_600 * 1_000_000_000
RETURNS = [0.02, -0.01, 0.03, -0.02]
# Value path with two drawdowns: 120 → 90 (25 %) and 130 → 104 (20 %)
PATH = [100.0, 120.0, 90.0, 130.0, 104.0]


# --- omega ---------------------------------------------------------------------------------------


def test_omega_hand_value() -> None:
    # gains 0.02 + 0.03 = 0.05, losses 0.01 + 0.02 = 0.03 → 5/3
    assert omega(RETURNS) == pytest.approx(5.0 / 3.0)


@pytest.mark.parametrize(
    ("returns", "expected"),
    [
        ([], 0.0),  # nothing gained: 0 / floor
        ([0.0, 0.0], 0.0),  # constant
        ([0.01], 0.01 / 1e-6),  # one gain, no loss: gains / floor
        ([-0.01], 0.0),  # one loss
        ([0.01, 0.02], 0.03 / 1e-6),
        ([0.02, np.nan, -0.01, np.inf], 2.0),  # non-finite dropped: 0.02 / 0.01
        ([np.nan], 0.0),
    ],
)
def test_omega_edge_cases(returns: list[float], expected: float) -> None:
    assert omega(returns) == pytest.approx(expected)


def test_omega_custom_floor() -> None:
    # losses 0.2 < floor 0.5 → 0.1 / 0.5
    assert omega([0.1, -0.2], floor=0.5) == pytest.approx(0.2)


def test_omega_bad_arguments() -> None:
    with pytest.raises(ValueError, match="floor must be a finite number > 0"):
        omega(RETURNS, floor=0.0)
    with pytest.raises(ValueError, match="returns must be one-dimensional"):
        omega([[0.1, 0.2]])


# --- time-adjusted Sortino -----------------------------------------------------------------------


def test_sortino_hand_value_full_time_in_market() -> None:
    # τ = 6 h each → T = 24 h = H. R = 0.02, Σ min(r,0)² = 0.0001 + 0.0004 = 0.0005,
    # S = (0.02 / 24h · 24h) / √(0.0005 / 24h · 24h) = 0.02 / √0.0005 = 2/√5 ≈ 0.8944
    s = sortino_time_adjusted(RETURNS, [6 * HOUR_NS] * 4)
    assert s == pytest.approx(2.0 / math.sqrt(5.0))


def test_sortino_rewards_less_time_in_market_for_the_same_returns() -> None:
    # τ = 3 h each → T = 12 h: R/T·H = 0.02 · 2 = 0.04, D·H = 0.0005 · 2 = 0.001,
    # S = 0.04 / √0.001 = 4/√10 ≈ 1.2649
    s = sortino_time_adjusted(RETURNS, [3 * HOUR_NS] * 4)
    assert s == pytest.approx(4.0 / math.sqrt(10.0))


def test_sortino_one_loss() -> None:
    # R = -0.01, T = H, D·H = 1e-4 → -0.01 / 0.01 = -1
    assert sortino_time_adjusted([-0.01], [DAY_NS]) == pytest.approx(-1.0)


def test_sortino_without_losses_is_floored() -> None:
    # R = 0.03 over T = 24 h = H, downside 0 → 0.03 / 1e-6
    s = sortino_time_adjusted([0.01, 0.02], [12 * HOUR_NS, 12 * HOUR_NS])
    assert s == pytest.approx(0.03 / 1e-6)


@pytest.mark.parametrize(
    ("returns", "times"),
    [
        ([], []),  # empty
        ([0.01, -0.02], [0, 0]),  # never in the market: T = 0
        ([0.0, 0.0, 0.0], [HOUR_NS] * 3),  # constant: R = 0
        ([np.nan, 0.01], [HOUR_NS, np.nan]),  # every interval dropped
    ],
)
def test_sortino_zero_cases(returns: list[float], times: list[float]) -> None:
    assert sortino_time_adjusted(returns, times) == 0.0


def test_sortino_drops_nan_intervals() -> None:
    s = sortino_time_adjusted([0.02, np.nan, -0.01, 0.03, -0.02], [6 * HOUR_NS, HOUR_NS, *[6 * HOUR_NS] * 3])
    assert s == pytest.approx(2.0 / math.sqrt(5.0))


def test_sortino_bad_arguments() -> None:
    with pytest.raises(ValueError, match="must have the same shape"):
        sortino_time_adjusted([0.01, 0.02], [HOUR_NS])
    with pytest.raises(ValueError, match="time_in_market_ns must be >= 0"):
        sortino_time_adjusted([0.01], [-1])
    with pytest.raises(ValueError, match="horizon_ns must be a finite number > 0"):
        sortino_time_adjusted([0.01], [HOUR_NS], horizon_ns=0)
    with pytest.raises(ValueError, match="floor must be a finite number > 0"):
        sortino_time_adjusted([0.01], [HOUR_NS], floor=-1.0)


@given(
    st.lists(st.tuples(st.floats(-0.1, 0.1), st.integers(0, 10 * HOUR_NS)), min_size=1, max_size=20),
    st.integers(1, 1000),
)
def test_sortino_does_not_depend_on_the_time_unit(rows: list[tuple[float, int]], factor: int) -> None:
    r = [x for x, _ in rows]
    tau = [t for _, t in rows]
    a = sortino_time_adjusted(r, tau, horizon_ns=DAY_NS)
    b = sortino_time_adjusted(r, [t * factor for t in tau], horizon_ns=DAY_NS * factor)
    assert b == pytest.approx(a, rel=1e-9, abs=1e-12)


# --- max drawdown, total return, Calmar ----------------------------------------------------------


def test_max_drawdown_hand_value() -> None:
    # peaks 100, 120, 120, 130, 130 → falls 0, 0, 30/120 = 0.25, 0, 26/130 = 0.2 → 0.25
    assert max_drawdown(PATH) == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], 0.0),
        ([100.0], 0.0),
        ([100.0, 100.0, 100.0], 0.0),  # constant
        ([100.0, 110.0, 120.0], 0.0),  # rising
        ([100.0, np.nan, 50.0], 0.5),  # NaN dropped
        ([np.nan, np.inf, 100.0, 80.0], 0.2),
    ],
)
def test_max_drawdown_edge_cases(values: list[float], expected: float) -> None:
    assert max_drawdown(values) == pytest.approx(expected)


def test_total_return_hand_value_and_edges() -> None:
    assert total_return(PATH) == pytest.approx(0.04)  # 104 / 100 - 1
    assert total_return([]) == 0.0
    assert total_return([100.0]) == 0.0
    assert total_return([100.0, 100.0]) == 0.0
    assert total_return([np.nan, 100.0, 110.0, np.nan]) == pytest.approx(0.1)  # first/last finite


def test_calmar_hand_value_and_edges() -> None:
    assert calmar(PATH) == pytest.approx(0.16)  # 0.04 / 0.25
    assert calmar([]) == 0.0
    assert calmar([100.0]) == 0.0
    assert calmar([100.0, 100.0, 100.0]) == 0.0
    assert calmar([100.0, 110.0]) == pytest.approx(0.1 / 1e-6)  # no drawdown: return / floor
    assert calmar([100.0, 80.0]) == pytest.approx(-1.0)  # -0.2 / 0.2
    assert calmar([100.0, 110.0], floor=0.5) == pytest.approx(0.2)
    # NaN dropped: [100, 120, 90] → return -0.1, drawdown 0.25 → -0.4
    assert calmar([100.0, np.nan, 120.0, 90.0]) == pytest.approx(-0.4)
    assert calmar([np.nan, np.nan]) == 0.0


@pytest.mark.parametrize("fn", [max_drawdown, total_return, calmar])
def test_value_metrics_reject_non_positive_values_and_bad_shapes(fn: Callable[..., float]) -> None:
    with pytest.raises(ValueError, match="values must be > 0"):
        fn([100.0, 0.0, 90.0])
    with pytest.raises(ValueError, match="values must be > 0"):
        fn([100.0, -5.0])
    with pytest.raises(ValueError, match="values must be one-dimensional"):
        fn([[100.0, 90.0]])


def test_calmar_rejects_a_bad_floor() -> None:
    with pytest.raises(ValueError, match="floor must be a finite number > 0"):
        calmar(PATH, floor=0.0)


values_strategy = st.lists(st.floats(1.0, 1e6), max_size=40)


@given(values_strategy)
def test_max_drawdown_is_in_unit_interval(values: list[float]) -> None:
    assert 0.0 <= max_drawdown(values) < 1.0


@given(values_strategy)
def test_total_return_compounds_the_simple_returns(values: list[float]) -> None:
    v = np.asarray(values)
    growth = float(np.prod(v[1:] / v[:-1])) if v.size > 1 else 1.0
    assert total_return(values) == pytest.approx(growth - 1.0, rel=1e-9, abs=1e-9)


@given(values_strategy)
def test_drawdown_bounds_the_worst_total_loss(values: list[float]) -> None:
    # losing x % from the start means a drawdown of at least x %
    assert max_drawdown(values) >= -total_return(values) - 1e-12
