"""EMA, proportional weights and the exponential rank curve: hand-computed values, properties."""

import math
import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taos.scoring import challenge_weights, ema, exponential_rank_weights, weights_from_scores

# --- ema -----------------------------------------------------------------------------------------


def test_ema_hand_value() -> None:
    # 0.1 · 2 + 0.9 · 1 = 1.1
    assert float(ema(1.0, 2.0)) == pytest.approx(1.1)


def test_ema_two_steps_from_zero() -> None:
    # m1 = 0.1 · 1 = 0.1; m2 = 0.1 · 1 + 0.9 · 0.1 = 0.19
    m = ema(0.0, 1.0)
    m = ema(m, 1.0)
    assert float(m) == pytest.approx(0.19)


def test_ema_nan_rules() -> None:
    # no history → x; no observation → prev; both missing → NaN
    out = ema([1.0, np.nan, 3.0, np.nan], [2.0, 5.0, np.nan, np.nan])
    assert out[:3] == pytest.approx([1.1, 5.0, 3.0])
    assert math.isnan(out[3])


def test_ema_of_a_constant_stays_constant() -> None:
    m = np.array([3.0, -2.0])
    for _ in range(10):
        m = ema(m, [3.0, -2.0])
    assert m == pytest.approx([3.0, -2.0])


def test_ema_alpha_one_and_custom_alpha() -> None:
    assert float(ema(7.0, 3.0, alpha=1.0)) == 3.0
    assert float(ema(0.0, 4.0, alpha=0.25)) == pytest.approx(1.0)


def test_ema_shapes() -> None:
    assert ema(1.0, 1.0).shape == ()
    assert ema([], []).shape == (0,)
    assert ema([0.0, 10.0], 10.0) == pytest.approx([1.0, 10.0])  # broadcast
    # infinities do not warn: inf - inf is NaN
    out = ema([np.inf], [-np.inf])
    assert math.isnan(out[0])


@pytest.mark.parametrize("alpha", [0.0, -0.1, 1.5, math.nan])
def test_ema_rejects_bad_alpha(alpha: float) -> None:
    with pytest.raises(ValueError, match=r"alpha must lie in \(0, 1\]"):
        ema(1.0, 2.0, alpha=alpha)


def test_ema_rejects_shapes_that_do_not_broadcast() -> None:
    with pytest.raises(ValueError, match=r"prev with shape .* and x with shape .* do not broadcast"):
        ema([1.0, 2.0], [1.0, 2.0, 3.0])


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=30))
def test_ema_stays_between_previous_and_new(xs: list[float]) -> None:
    m = np.float64(xs[0])
    for x in xs[1:]:
        new = float(ema(m, x))
        assert min(float(m), x) - 1e-6 <= new <= max(float(m), x) + 1e-6
        m = np.float64(new)


# --- weights_from_scores -------------------------------------------------------------------------


def test_weights_from_scores_hand_values() -> None:
    assert weights_from_scores([1.0, 3.0]) == pytest.approx([0.25, 0.75])
    # negative and NaN → 0, the rest 1 : 3
    assert weights_from_scores([-1.0, 1.0, 3.0, np.nan]) == pytest.approx([0.0, 0.25, 0.75, 0.0])
    assert weights_from_scores([2.0]) == pytest.approx([1.0])
    assert weights_from_scores([2.0, 2.0, 2.0, 2.0]) == pytest.approx([0.25] * 4)  # constant


@pytest.mark.parametrize("scores", [[0.0, 0.0], [-1.0, -2.0], [np.nan, -np.inf], [0.0]])
def test_weights_from_scores_without_positive_scores_are_all_zero(scores: list[float]) -> None:
    assert weights_from_scores(scores).tolist() == [0.0] * len(scores)


def test_weights_from_scores_empty_and_errors() -> None:
    assert weights_from_scores([]).shape == (0,)
    with pytest.raises(ValueError, match=r"scores must not contain \+inf"):
        weights_from_scores([1.0, np.inf])
    with pytest.raises(ValueError, match="scores must be one-dimensional"):
        weights_from_scores([[1.0]])


@given(st.lists(st.one_of(st.floats(-1e9, 1e9), st.just(np.nan)), max_size=50))
def test_weights_from_scores_are_non_negative_and_sum_to_one_or_zero(scores: list[float]) -> None:
    w = weights_from_scores(scores)
    assert np.all(w >= 0.0)
    total = float(w.sum())
    if any(s > 0 for s in scores):
        assert total == pytest.approx(1.0)
    else:
        assert total == 0.0


# --- exponential rank curve ----------------------------------------------------------------------


def test_top_forty_percent_receive_about_ninety_percent() -> None:
    # N = 100, k = ln(10)/40: the top 40 hold (1 - e^(-40k)) / (1 - e^(-100k)) = 0.9 / (1 - 10^-2.5)
    w = exponential_rank_weights(np.arange(100.0))
    top = np.sort(w)[::-1][:40].sum()
    assert top == pytest.approx(0.9 / (1.0 - 10.0**-2.5), rel=1e-12)
    assert top == pytest.approx(0.9, abs=0.005)


def test_two_miners_hand_values() -> None:
    # N = 2: k = ln(10)/0.8, e^-k = 10^-1.25 ≈ 0.0562341; w = [1, 0.0562341] / 1.0562341
    e = 10.0**-1.25
    assert exponential_rank_weights([5.0, 3.0]) == pytest.approx([1.0 / (1.0 + e), e / (1.0 + e)])
    assert exponential_rank_weights([3.0, 5.0]) == pytest.approx([e / (1.0 + e), 1.0 / (1.0 + e)])


def test_ties_share_the_weights_of_their_ranks() -> None:
    # N = 3: k = ln(10)/1.2, curve ∝ [1, 10^-5/6, 10^-5/3]; the tied pair takes ranks 0 and 1
    c = np.array([1.0, 10.0 ** (-5.0 / 6.0), 10.0 ** (-5.0 / 3.0)])
    c /= c.sum()
    shared = (c[0] + c[1]) / 2.0
    assert exponential_rank_weights([1.0, 1.0, 0.0]) == pytest.approx([shared, shared, c[2]])
    assert exponential_rank_weights([0.0, 1.0, 1.0]) == pytest.approx([c[2], shared, shared])


def test_nan_scores_get_nothing_and_do_not_count() -> None:
    e = 10.0**-1.25
    assert exponential_rank_weights([np.nan, 5.0, 3.0]) == pytest.approx(
        [0.0, 1.0 / (1.0 + e), e / (1.0 + e)]
    )


def test_rank_weights_edge_cases() -> None:
    assert exponential_rank_weights([]).shape == (0,)
    assert exponential_rank_weights([np.nan, np.nan]).tolist() == [0.0, 0.0]
    assert exponential_rank_weights([-3.0]).tolist() == [1.0]
    # all tied: uniform
    assert exponential_rank_weights([2.0] * 4) == pytest.approx([0.25] * 4)
    # infinities rank first and last
    w = exponential_rank_weights([-np.inf, 0.0, np.inf])
    assert w[2] > w[1] > w[0]


@pytest.mark.parametrize(
    ("b", "p", "message"),
    [
        (1.0, 0.4, r"b must lie in \(0, 1\)"),
        (0.0, 0.4, r"b must lie in \(0, 1\)"),
        (0.9, 0.0, r"p must lie in \(0, 1\]"),
        (0.9, 1.5, r"p must lie in \(0, 1\]"),
    ],
)
def test_rank_weights_bad_parameters(b: float, p: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        exponential_rank_weights([1.0, 2.0], b=b, p=p)


def test_rank_weights_other_parameters() -> None:
    # b = 0.5, p = 0.5, N = 4: k = ln 2 / 2; top 2 hold (1 - 2^-1) / (1 - 2^-2) = 2/3
    w = exponential_rank_weights([4.0, 3.0, 2.0, 1.0], b=0.5, p=0.5)
    assert w[:2].sum() == pytest.approx(2.0 / 3.0)


scores_strategy = st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(np.nan)), max_size=60)


@given(scores_strategy)
def test_rank_weights_sum_to_one_and_are_monotone(scores: list[float]) -> None:
    w = exponential_rank_weights(scores)
    s = np.asarray(scores, dtype=np.float64)
    valid = ~np.isnan(s)
    assert np.all(w >= 0.0)
    assert np.all(w[~valid] == 0.0)
    if valid.any():
        assert float(w.sum()) == pytest.approx(1.0)
        order = np.argsort(s[valid])
        assert np.all(np.diff(w[valid][order]) >= -1e-15)  # higher score, no less weight
    else:
        assert float(w.sum()) == 0.0


@given(scores_strategy, st.randoms(use_true_random=False))
def test_rank_weights_do_not_depend_on_input_order(scores: list[float], rnd: random.Random) -> None:
    perm = list(range(len(scores)))
    rnd.shuffle(perm)
    w = exponential_rank_weights(scores)
    wp = exponential_rank_weights([scores[i] for i in perm])
    assert wp == pytest.approx(w[perm])


# --- challenge weights ---------------------------------------------------------------------------


def test_challenge_weights_hand_values() -> None:
    # two challenge miners at 0.001 each; the competing ones share 1 - 0.002 in proportion to base
    base = [0.0, 0.75, 0.0, 0.25, 0.0]
    mask = np.array([True, False, True, False, False])
    w = challenge_weights(base, mask, 0.001)
    assert w.tolist() == pytest.approx([0.001, 0.75 * 0.998, 0.001, 0.25 * 0.998, 0.0])
    assert w.sum() == pytest.approx(1.0)


def test_challenge_weights_edge_cases() -> None:
    mask = np.array([True, True, False])
    # nobody competing with weight: the challenge miners share 1
    assert challenge_weights([0.0, 0.0, 0.0], mask, 0.001).tolist() == [0.5, 0.5, 0.0]
    # no challenge miners: base unchanged; nobody at all: zeros
    assert challenge_weights([0.2, 0.8], np.array([False, False]), 0.1).tolist() == [0.2, 0.8]
    assert challenge_weights([0.0, 0.0], np.array([False, False]), 0.1).tolist() == [0.0, 0.0]
    assert challenge_weights([], np.array([], dtype=bool), 0.1).tolist() == []
    # n_c · c over 1: the challenge miners' total is capped at 1
    assert challenge_weights([0.0, 0.0, 1.0], mask, 0.6).tolist() == [0.5, 0.5, 0.0]
    # weight 0: challenge miners get nothing while somebody competes
    assert challenge_weights([0.0, 0.0, 1.0], mask, 0.0).tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize(
    ("base", "mask", "c", "message"),
    [
        ([0.5, 0.5], [True], 0.1, "challenge must be a boolean array of shape"),
        ([0.5, 0.5], [1, 0], 0.1, "challenge must be a boolean array"),
        ([0.5, 0.5], [False, False], 1.5, r"challenge_weight must lie in \[0, 1\]"),
        ([0.5, np.nan], [False, False], 0.1, "base must be finite and >= 0"),
        ([1.5, -0.5], [False, False], 0.1, "base must be finite and >= 0"),
        ([0.5, 0.25], [False, False], 0.1, "base must sum to 1 or be all 0"),
        ([0.5, 0.5], [True, False], 0.1, "base must be 0 for the miners in their challenge period"),
    ],
)
def test_challenge_weights_bad_input(base: list[float], mask: list, c: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        challenge_weights(base, np.array(mask), c)


@given(st.lists(st.tuples(st.floats(0.0, 10.0), st.booleans()), max_size=40), st.floats(0.0, 1.0))
def test_challenge_weights_sum_to_one_whenever_anybody_has_weight(rows: list, c: float) -> None:
    mask = np.array([m for _, m in rows], dtype=bool)
    base = weights_from_scores([0.0 if m else x for x, m in rows])
    w = challenge_weights(base, mask, c)
    assert np.all(w >= 0.0)
    if base.sum() > 0 or mask.any():
        assert float(w.sum()) == pytest.approx(1.0)
    else:
        assert float(w.sum()) == 0.0
    if mask.any():
        assert np.allclose(w[mask], w[mask][0])  # the same fixed weight for every challenge miner
