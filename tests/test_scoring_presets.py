"""Presets taos (median minus outlier penalty) and ptn (rank, combine, challenge)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from taos.scoring import (
    PTN_METRIC_WEIGHTS,
    ChallengeThresholds,
    challenge_passed,
    outlier_penalty,
    ptn_score,
    rank_percentiles,
    taos_score,
    taos_score_batch,
)

# --- outlier penalty and taos score --------------------------------------------------------------


def test_outlier_penalty_fires_on_a_low_book() -> None:
    # sorted [0, 1, 1, 1]; linear percentiles: Q1 at index 0.75 → 0 + 0.75·(1 - 0) = 0.75,
    # Q3 at index 2.25 → 1; IQR 0.25; fence 0.75 - 0.375 = 0.375; min 0 → penalty 0.375
    assert outlier_penalty([1.0, 0.0, 1.0, 1.0]) == pytest.approx(0.375)


def test_outlier_penalty_five_books() -> None:
    # sorted [0.1, 0.6, 0.62, 0.64, 0.7]: Q1 index 1 → 0.6, Q3 index 3 → 0.64, IQR 0.04,
    # fence 0.6 - 0.06 = 0.54, min 0.1 → 0.44
    assert outlier_penalty([0.6, 0.1, 0.64, 0.62, 0.7]) == pytest.approx(0.44)


def test_outlier_penalty_is_zero_without_an_outlier() -> None:
    # sorted [0.4, 0.5, 0.6, 0.7]: Q1 = 0.4 + 0.75·0.1 = 0.475, Q3 = 0.6 + 0.25·0.1 = 0.625,
    # fence 0.475 - 0.225 = 0.25 < min 0.4 → 0
    assert outlier_penalty([0.4, 0.5, 0.6, 0.7]) == 0.0


@pytest.mark.parametrize("w", [[], [0.3], [0.4] * 5, [np.nan, np.nan]])
def test_outlier_penalty_empty_one_constant_all_nan(w: list[float]) -> None:
    assert outlier_penalty(w) == 0.0


def test_outlier_penalty_drops_nan_books() -> None:
    assert outlier_penalty([0.0, np.nan, 1.0, 1.0, 1.0]) == pytest.approx(0.375)


def test_taos_score_hand_values() -> None:
    assert taos_score([1.0, 0.0, 1.0, 1.0]) == pytest.approx(1.0 - 0.375)  # median 1
    assert taos_score([0.6, 0.1, 0.64, 0.62, 0.7]) == pytest.approx(0.62 - 0.44)  # median 0.62
    assert taos_score([0.4, 0.5, 0.6, 0.7]) == pytest.approx(0.55)  # median, no penalty


@pytest.mark.parametrize(
    ("w", "expected"),
    [([], 0.0), ([0.3], 0.3), ([0.4] * 5, 0.4), ([np.nan] * 3, 0.0), ([np.nan, 0.7], 0.7)],
)
def test_taos_score_edge_cases(w: list[float], expected: float) -> None:
    assert taos_score(w) == pytest.approx(expected)


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_infinite_book_values_are_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match=r"w_books must not contain \+inf or -inf"):
        outlier_penalty([0.5, bad])
    with pytest.raises(ValueError, match=r"w_books must not contain \+inf or -inf"):
        taos_score([0.5, bad])
    with pytest.raises(ValueError, match=r"w_books must not contain \+inf or -inf"):
        taos_score_batch([[0.5, bad]])


def test_taos_score_wants_one_dimension() -> None:
    with pytest.raises(ValueError, match="w_books must be one-dimensional"):
        taos_score([[0.1, 0.2]])
    with pytest.raises(ValueError, match="w_books must be one-dimensional"):
        outlier_penalty(0.5)


def test_taos_score_batch_hand_values() -> None:
    w = np.array(
        [
            [1.0, 0.0, 1.0, 1.0, np.nan],
            [0.6, 0.1, 0.64, 0.62, 0.7],
            [np.nan] * 5,
            [0.3, np.nan, np.nan, np.nan, np.nan],
        ]
    )
    assert taos_score_batch(w) == pytest.approx([0.625, 0.18, 0.0, 0.3])


def test_taos_score_batch_shapes_and_errors() -> None:
    cube = np.full((3, 2, 5), 0.5)
    cube[1, 0] = [0.6, 0.1, 0.64, 0.62, 0.7]
    cube[2, 1, 1:] = np.nan
    out = taos_score_batch(cube)
    assert out.shape == (3, 2)
    assert out == pytest.approx(np.array([[0.5, 0.5], [0.18, 0.5], [0.5, 0.5]]))
    assert taos_score_batch(np.zeros((0, 20))).shape == (0,)
    assert taos_score_batch(np.zeros((4, 0))).tolist() == [0.0] * 4
    assert taos_score_batch([[np.nan, np.nan]]).tolist() == [0.0]
    with pytest.raises(ValueError, match="at least one dimension"):
        taos_score_batch(0.5)


w_matrices = hnp.arrays(
    np.float64,
    hnp.array_shapes(min_dims=2, max_dims=2, min_side=0, max_side=12),
    elements=st.one_of(st.floats(0.0, 2.0), st.just(np.nan)),
)


@given(w_matrices)
def test_taos_score_batch_equals_a_loop(w: np.ndarray) -> None:
    assert taos_score_batch(w).tolist() == pytest.approx([taos_score(row) for row in w], abs=1e-12)


@given(st.lists(st.floats(0.0, 2.0), min_size=1, max_size=30))
def test_taos_score_lies_between_min_and_median(w: list[float]) -> None:
    s = taos_score(w)
    assert min(w) - 1e-12 <= s <= float(np.median(w)) + 1e-12


# --- ptn: ranks and combination ------------------------------------------------------------------


def test_rank_percentiles_hand_values() -> None:
    # valid [0.3, 0.1, 0.3], N = 3: 0.1 rank 1; the tied 0.3s share ranks 2 and 3 → 2.5
    assert rank_percentiles([0.3, np.nan, 0.1, 0.3]) == pytest.approx([2.5 / 3, 0.0, 1.0 / 3, 2.5 / 3])
    assert rank_percentiles([3.0, 1.0, 2.0]) == pytest.approx([1.0, 1.0 / 3, 2.0 / 3])


def test_rank_percentiles_edge_cases() -> None:
    assert rank_percentiles([]).shape == (0,)
    assert rank_percentiles([-5.0]).tolist() == [1.0]
    assert rank_percentiles([np.nan, np.nan]).tolist() == [0.0, 0.0]
    assert rank_percentiles([2.0, 2.0]).tolist() == [0.75, 0.75]  # both at rank 1.5 of 2


METRICS = {
    "return": [0.1, 0.3, 0.2],  # percentiles 1/3, 1, 2/3
    "omega": [2.0, 1.0, 3.0],  # 2/3, 1/3, 1
    "sortino": [np.nan, 1.0, 2.0],  # N = 2: 0, 1/2, 1
}


def test_ptn_score_equal_weights_hand_values() -> None:
    # (1/3 + 2/3 + 0)/3 = 1/3; (1 + 1/3 + 1/2)/3 = 11/18; (2/3 + 1 + 1)/3 = 8/9
    assert ptn_score(METRICS) == pytest.approx([1.0 / 3, 11.0 / 18, 8.0 / 9])
    assert dict(PTN_METRIC_WEIGHTS) == {"return": 1.0, "omega": 1.0, "sortino": 1.0}


def test_ptn_score_custom_weights_hand_values() -> None:
    # weights 2, 1, 1 (total 4): (2/3 + 2/3 + 0)/4 = 1/3; (2 + 1/3 + 1/2)/4 = 17/24; (4/3 + 1 + 1)/4 = 5/6
    weights = {"return": 2.0, "omega": 1.0, "sortino": 1.0}
    assert ptn_score(METRICS, weights) == pytest.approx([1.0 / 3, 17.0 / 24, 5.0 / 6])


def test_ptn_score_zero_weight_ignores_a_metric() -> None:
    weights = {"return": 1.0, "omega": 0.0, "sortino": 0.0}
    assert ptn_score(METRICS, weights) == pytest.approx([1.0 / 3, 1.0, 2.0 / 3])


def test_ptn_score_one_miner_and_all_tied() -> None:
    # one miner is best on everything → 1; two tied miners share ranks 1 and 2 → 1.5/2 = 0.75
    assert ptn_score({"return": [0.1], "omega": [2.0], "sortino": [1.0]}).tolist() == [1.0]
    tied = ptn_score({"return": [0.1, 0.1], "omega": [2.0, 2.0], "sortino": [1.0, 1.0]})
    assert tied == pytest.approx([0.75, 0.75])


def test_ptn_score_ranks_losers_by_their_return() -> None:
    """Miners 1 and 2 lost (returns -0.001 and -0.004); miner 2's noise gave it the better Omega
    and Sortino of the two. With ``losers_by_return`` both rank below the winners on every metric
    and miner 1 (the smaller loss) above miner 2."""
    metrics = {
        "return": [0.01, -0.001, -0.004, 0.002],  # percentiles 1, 1/2, 1/4, 3/4
        "omega": [1.2, 0.95, 0.999, 1.1],  # as they are: 1, 1/4, 1/2, 3/4
        "sortino": [0.3, -0.5, -0.1, 0.2],  # 1, 1/4, 1/2, 3/4
    }
    # as they are: miner 1 (1/2 + 1/4 + 1/4)/3 = 1/3, miner 2 (1/4 + 1/2 + 1/2)/3 = 5/12
    assert ptn_score(metrics) == pytest.approx([1.0, 1.0 / 3, 5.0 / 12, 0.75])
    # losers by return: miner 1 gets 1/2 and miner 2 1/4 on every metric
    assert ptn_score(metrics, losers_by_return=True) == pytest.approx([1.0, 0.5, 0.25, 0.75])
    # NaN stays unranked; nothing changes without a loser
    with_nan = {**metrics, "sortino": [0.3, np.nan, -0.1, 0.2]}
    assert ptn_score(with_nan, losers_by_return=True)[1] == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    winners = {k: [abs(x) for x in v] for k, v in metrics.items()}
    assert ptn_score(winners, losers_by_return=True) == pytest.approx(ptn_score(winners))
    with pytest.raises(ValueError, match="needs a 'return' metric"):
        ptn_score({"omega": [1.0]}, {"omega": 1.0}, losers_by_return=True)


def test_ptn_score_no_miners() -> None:
    assert ptn_score({"return": [], "omega": [], "sortino": []}).shape == (0,)


@pytest.mark.parametrize(
    ("metrics", "weights", "message"),
    [
        ({"return": [1.0], "omega": [1.0]}, None, r"missing \['sortino'\]"),
        ({**METRICS, "calmar": [1.0, 2.0, 3.0]}, None, r"unweighted \['calmar'\]"),
        (METRICS, {"return": -1.0, "omega": 1.0, "sortino": 1.0}, "weight of metric 'return'"),
        (METRICS, {"return": math.nan, "omega": 1.0, "sortino": 1.0}, "weight of metric 'return'"),
        (METRICS, {"return": 0.0, "omega": 0.0, "sortino": 0.0}, "must not all be 0"),
        ({"return": [1.0, 2.0], "omega": [1.0], "sortino": [1.0]}, None, r"lengths \[1, 2\]"),
        ({"return": [[1.0]], "omega": [1.0], "sortino": [1.0]}, None, "return must be one-dimensional"),
        ({}, {}, "at least one metric"),
    ],
)
def test_ptn_score_bad_arguments(
    metrics: dict[str, object], weights: dict[str, float] | None, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ptn_score(metrics, weights)  # type: ignore[arg-type]


metric_columns = st.integers(0, 15).flatmap(
    lambda n: st.lists(
        st.lists(st.one_of(st.floats(-10.0, 10.0), st.just(np.nan)), min_size=n, max_size=n),
        min_size=3,
        max_size=3,
    )
)


@given(metric_columns)
def test_ptn_score_is_in_unit_interval_and_rewards_dominance(cols: list[list[float]]) -> None:
    metrics = dict(zip(("return", "omega", "sortino"), cols, strict=True))
    s = ptn_score(metrics)
    assert np.all((s >= 0.0) & (s <= 1.0))
    # a miner at least as good as another on every metric scores at least as high
    m = np.array(cols).T if cols[0] else np.zeros((0, 3))
    filled = np.where(np.isnan(m), -np.inf, m)
    for i in range(len(filled)):
        for j in range(len(filled)):
            if np.all(filled[i] >= filled[j]) and not np.isnan(m[i]).any():
                assert s[i] >= s[j] - 1e-12


# --- challenge -----------------------------------------------------------------------------------


def test_challenge_thresholds_defaults() -> None:
    th = ChallengeThresholds()
    assert (th.min_total_return, th.min_median_sharpe) == (0.02, 0.05)
    assert (th.min_closed_positions, th.min_hours_in_positions) == (10, 50.0)


def test_challenge_bounds_are_inclusive() -> None:
    assert bool(challenge_passed(0.02, 0.05, 10, 50.0))
    assert challenge_passed(0.02, 0.05, 10, 50.0).shape == ()


@pytest.mark.parametrize(
    "args",
    [
        (0.0199, 0.05, 10, 50.0),
        (0.02, 0.0499, 10, 50.0),
        (0.02, 0.05, 9, 50.0),
        (0.02, 0.05, 10, 49.9),
        (math.nan, 1.0, 100, 100.0),
        (1.0, math.nan, 100, 100.0),
        (1.0, 1.0, math.nan, 100.0),
        (1.0, 1.0, 100, math.nan),
    ],
)
def test_challenge_fails_below_any_bound_or_on_nan(args: tuple[float, float, float, float]) -> None:
    assert not bool(challenge_passed(*args))


def test_challenge_vectorised_and_custom_thresholds() -> None:
    out = challenge_passed([0.03, 0.01, 0.05], [0.1, 0.1, 0.01], [12, 12, 12], 60.0)
    assert out.tolist() == [True, False, False]
    lenient = ChallengeThresholds(min_total_return=0.0, min_median_sharpe=0.0, min_closed_positions=1)
    assert challenge_passed([0.03, 0.01, 0.05], [0.1, 0.1, 0.01], [12, 12, 12], 60.0, lenient).tolist() == [
        True,
        True,
        True,
    ]
    assert challenge_passed([], [], [], []).shape == (0,)


def test_challenge_rejects_shapes_that_do_not_broadcast() -> None:
    with pytest.raises(ValueError, match="do not broadcast"):
        challenge_passed([0.1, 0.2], [0.1, 0.2, 0.3], 10, 50.0)
