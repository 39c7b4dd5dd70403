"""The rolling return sums of ScoreState (taos.validator.history.ReturnSums) give the Sharpe ratios of
the full-window formula (taos.scoring.sharpe_batch of the window), whatever the series: random
walks, the validator's half-unit values, flat and constant-slope series (the zero-std rule), huge
jumps that leave the window, missing values, boundaries and resets, across many anchor periods."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taos.scoring import sharpe_batch
from taos.validator.history import ANCHOR_PERIOD, ScoreParams, ScoreState
from taos.validator.persisted import state_of

S = 1_000_000_000
KINDS = ("walk", "half_units", "flat", "slope", "jumps", "gappy")


def series_step(kind: str, previous: np.ndarray, rng: np.random.Generator, step: int) -> np.ndarray:
    """The next value of each series of one kind, from its previous value."""
    base = np.where(np.isnan(previous), 1_000.0, previous)
    if kind == "walk":
        return base + rng.normal(size=base.shape)
    if kind == "half_units":  # the validator's values: quote units + lots x a mid in half ticks
        return base + 0.5 * rng.integers(-4_000_000, 4_000_000, size=base.shape)
    if kind == "flat":
        return base
    if kind == "slope":  # equal returns, with the rounding of 0.1 accumulated
        return base + 0.1
    if kind == "jumps":  # quiet, with an occasional jump 10^6 times larger
        jump = rng.random(size=base.shape) < 0.05
        return base + np.where(jump, 1e6 * rng.normal(size=base.shape), rng.normal(size=base.shape))
    out = base + rng.normal(size=base.shape)  # gappy: missing values now and then
    return np.where(rng.random(size=base.shape) < 0.2, np.nan, out)


def assert_same_sharpes(state: ScoreState) -> None:
    rolling = state.book_sharpes()
    full = sharpe_batch(state.window_values())
    zero = full == 0
    assert (rolling[zero] == 0).all(), (rolling[zero], full[zero])
    np.testing.assert_allclose(rolling[~zero], full[~zero], rtol=1e-8, atol=0)


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    window=st.sampled_from([2, 3, 5, 12, 40]),
    kinds=st.lists(st.sampled_from(KINDS), min_size=1, max_size=4),
    steps=st.integers(1, 3 * ANCHOR_PERIOD + 5),
    reset_p=st.sampled_from([0.0, 0.03]),
    boundary_p=st.sampled_from([0.0, 0.02]),
)
def test_rolling_sharpes_equal_the_full_window_formula(
    seed: int, window: int, kinds: list[str], steps: int, reset_p: float, boundary_p: float
) -> None:
    rng = np.random.default_rng(seed)
    miners, books = len(kinds), 2
    p = ScoreParams(starting_wealth=100.0, window=window, interval_ns=5 * S, bucket_ns=10 * S)
    state = ScoreState(p, miners, books)
    values = np.full((miners, books), np.nan)
    t = 0
    for step in range(1, steps + 1):
        t += 5 * S
        for m, kind in enumerate(kinds):
            values[m] = series_step(kind, values[m], rng, step)
        state.observe(step, t, values, np.zeros((miners, books), dtype=np.int64))
        assert_same_sharpes(state)
        if rng.random() < reset_p:
            uid = int(rng.integers(miners))
            state.reset_uid(uid)
            values[uid] = np.nan
            assert_same_sharpes(state)
        if rng.random() < boundary_p:
            state.mark_boundary()
            t = 0
            assert_same_sharpes(state)


def test_equal_series_score_equally_and_a_restored_state_continues_identically() -> None:
    """Two miners with the same values get bit-identical Sharpe ratios (the sums are anchored for
    all series at once), and a state rebuilt from its arrays continues byte for byte."""
    rng = np.random.default_rng(5)
    p = ScoreParams(starting_wealth=100.0, window=50, interval_ns=5 * S, bucket_ns=10 * S)
    a = ScoreState(p, 3, 2)
    walk = 1_000 + np.cumsum(rng.normal(size=(200, 1, 2)), axis=0)
    totals = np.zeros((3, 2), dtype=np.int64)
    for step in range(1, 101):
        a.observe(step, step * 5 * S, np.concatenate([walk[step]] * 2 + [walk[step] + 3.0]), totals)
    b = ScoreState.restored(state_of(a), 3, 2)
    for step in range(101, 200):
        values = np.concatenate([walk[step]] * 2 + [walk[step] + 3.0])
        a.observe(step, step * 5 * S, values, totals)
        b.observe(step, step * 5 * S, values, totals)
        sharpes = a.book_sharpes()
        assert sharpes[0].tobytes() == sharpes[1].tobytes()
        assert a.book_sharpes().tobytes() == b.book_sharpes().tobytes()
    fa, fb = state_of(a), state_of(b)
    assert all(fa[k].tobytes() == fb[k].tobytes() for k in fa)


def test_a_state_stored_without_the_sums_rebuilds_them() -> None:
    """A checkpoint written before the rolling sums existed has none: they are rebuilt from the
    windows. Some of them but not all is a damaged checkpoint and is refused."""
    rng = np.random.default_rng(2)
    p = ScoreParams(starting_wealth=100.0, window=20, interval_ns=5 * S, bucket_ns=10 * S)
    a = ScoreState(p, 2, 3)
    for step in range(1, 45):
        a.observe(step, step * 5 * S, 1_000 + rng.normal(size=(2, 3)), np.zeros((2, 3), dtype=np.int64))
    old = {k: v for k, v in state_of(a).items() if not k.startswith("returns/")}
    b = ScoreState.restored(old, 2, 3)
    np.testing.assert_allclose(b.book_sharpes(), a.book_sharpes(), rtol=1e-9)
    assert b.book_sharpes().tolist() != [[0.0] * 3] * 2
    damaged = state_of(a)
    del damaged["returns/squares"]
    with pytest.raises(ValueError, match="array returns/squares is missing"):
        ScoreState.restored(damaged, 2, 3)
    with pytest.raises(ValueError, match="array returns/count"):
        ScoreState.restored({**state_of(a), "returns/count": np.zeros((2, 3))}, 2, 3)
