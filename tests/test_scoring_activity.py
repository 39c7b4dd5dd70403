"""Activity factor and activity-weighted Sharpe: hand-computed values, NaN, errors."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taos.scoring import activity_factor, activity_weighted

CAP = 10.0
L = 720


def test_traded_sets_one_plus_volume_over_cap() -> None:
    # v = 5, cap = 10 → 1 + 0.5 = 1.5; v = 0 → 1; v = 20 → min(3, 2) = 2; prev is irrelevant
    out = activity_factor([0.0, 1.9, 0.3], [5.0, 0.0, 20.0], CAP, [True, True, True], L)
    assert out == pytest.approx([1.5, 1.0, 2.0])


def test_idle_decays_by_two_to_minus_one_over_l() -> None:
    # 1.5 · 2^(-1/720)
    out = float(activity_factor(1.5, 100.0, CAP, False, L))
    assert out == pytest.approx(1.5 * 2.0 ** (-1.0 / 720.0))


def test_idle_factor_halves_over_one_window() -> None:
    a = np.array([1.6])
    for _ in range(L):
        a = activity_factor(a, [0.0], CAP, [False], L)
    assert a == pytest.approx([0.8])


def test_new_miner_starts_at_zero_and_stays_there_until_it_trades() -> None:
    a = np.zeros(3)
    for _ in range(5):
        a = activity_factor(a, 0.0, CAP, np.array([False, False, False]), L)
    assert a.tolist() == [0.0, 0.0, 0.0]
    a = activity_factor(a, [0.0, 2.0, 0.0], CAP, [False, True, False], L)
    assert a == pytest.approx([0.0, 1.2, 0.0])


def test_reset_mask_restarts_from_zero() -> None:
    # miner 0 reset and idle → 0; miner 1 reset and traded v = 5 → 1.5; miner 2 not reset, idle, L = 2
    out = activity_factor(
        [1.8, 1.8, 1.8], [0.0, 5.0, 0.0], CAP, [False, True, False], 2, reset=[True, True, False]
    )
    assert out == pytest.approx([0.0, 1.5, 1.8 / math.sqrt(2.0)])


def test_vectorised_hand_values() -> None:
    # L = 2: idle factor · 2^(-1/2)
    out = activity_factor([0.0, 1.5, 2.0], [5.0, 0.0, 30.0], CAP, [True, False, True], 2)
    assert out == pytest.approx([1.5, 1.5 / math.sqrt(2.0), 2.0])


def test_nan_propagates_elementwise() -> None:
    out = activity_factor([np.nan, np.nan, 1.0], [0.0, 5.0, np.nan], CAP, [False, True, True], L)
    assert math.isnan(out[0])  # idle: NaN · decay
    assert out[1] == pytest.approx(1.5)  # traded: prev not used
    assert math.isnan(out[2])  # traded with unknown volume


def test_empty_and_scalar_shapes() -> None:
    assert activity_factor([], [], CAP, [], L).shape == (0,)
    assert activity_factor(0.0, 0.0, CAP, True, L).shape == ()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cap": 0.0}, "cap must be a finite number > 0"),
        ({"cap": -1.0}, "cap must be a finite number > 0"),
        ({"cap": math.nan}, "cap must be a finite number > 0"),
        ({"window_len": 0}, "window_len must be a finite number > 0"),
        ({"prev": 2.5}, r"prev must lie in \[0, 2\]"),
        ({"prev": -0.1}, r"prev must lie in \[0, 2\]"),
        ({"volume_in_window": -1.0}, "volume_in_window must be >= 0"),
        ({"traded_in_latest_bucket": 1.0}, "traded_in_latest_bucket must be boolean"),
        ({"reset": [1, 0]}, "reset must be boolean"),
        ({"prev": [0.0, 1.0, 1.0]}, "do not broadcast"),
    ],
)
def test_bad_arguments_are_named(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {
        "prev": [0.0, 1.0],
        "volume_in_window": [1.0, 2.0],
        "cap": CAP,
        "traded_in_latest_bucket": [True, False],
        "window_len": L,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        activity_factor(**args)  # type: ignore[arg-type]


@given(
    st.lists(
        st.tuples(st.floats(0.0, 2.0), st.floats(0.0, 1e6), st.booleans()),
        max_size=20,
    )
)
def test_factor_stays_in_zero_two(rows: list[tuple[float, float, bool]]) -> None:
    prev = [r[0] for r in rows]
    vol = [r[1] for r in rows]
    traded = np.array([r[2] for r in rows], dtype=bool)
    out = activity_factor(prev, vol, CAP, traded, L)
    assert np.all((out >= 0.0) & (out <= 2.0))
    # traded miners are at least 1; idle ones never grow
    assert np.all(out[traded] >= 1.0)
    assert np.all(out[~traded] <= np.asarray(prev)[~traded])


# --- activity-weighted ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "s", "expected"),
    [
        (0.5, 0.3, 0.15),  # a < 1 → a·Ŝ
        (0.5, 0.8, 0.4),  # a < 1 → a·Ŝ
        (1.5, 0.8, 1.2),  # Ŝ > 0.5 → a·Ŝ
        (1.5, 0.3, 0.15),  # a ≥ 1 and Ŝ ≤ 0.5 → (2 - 1.5)·0.3
        (2.0, 0.5, 0.0),  # (2 - 2)·0.5
        (1.0, 0.4, 0.4),  # both branches agree at a = 1
        (0.0, 0.9, 0.0),
        (2.0, 1.0, 2.0),
    ],
)
def test_activity_weighted_hand_values(a: float, s: float, expected: float) -> None:
    assert float(activity_weighted(a, s)) == pytest.approx(expected)


def test_activity_weighted_vectorised_nan_and_empty() -> None:
    out = activity_weighted([0.5, 1.5, np.nan, 1.0], [0.3, 0.3, 0.7, np.nan])
    assert out[:2] == pytest.approx([0.15, 0.15])
    assert np.isnan(out[2:]).all()
    assert activity_weighted([], []).shape == (0,)
    # a column of factors against a row of Ŝ: 1.5·0.8, (2 - 1.5)·0.2; 0.5·0.8, 0.5·0.2
    assert activity_weighted([[1.5], [0.5]], [0.8, 0.2]) == pytest.approx(np.array([[1.2, 0.1], [0.4, 0.1]]))


@pytest.mark.parametrize(
    ("a", "s", "message"),
    [
        (2.1, 0.5, r"a must lie in \[0, 2\]"),
        (-0.1, 0.5, r"a must lie in \[0, 2\]"),
        (1.0, 1.1, r"s_hat must lie in \[0, 1\]"),
        (1.0, -0.1, r"s_hat must lie in \[0, 1\]"),
        ([1.0, 1.0], [0.5, 0.5, 0.5], "do not broadcast"),
    ],
)
def test_activity_weighted_bad_arguments(a: object, s: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        activity_weighted(a, s)  # type: ignore[arg-type]


@given(st.floats(0.0, 2.0), st.floats(0.0, 1.0))
def test_activity_weighted_bounds(a: float, s: float) -> None:
    w = float(activity_weighted(a, s))
    assert 0.0 <= w <= 2.0 * s + 1e-12
    if s <= 0.5 and a >= 1.0:
        assert w <= s + 1e-12  # activity cannot raise a non-positive Sharpe
