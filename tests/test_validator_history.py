"""taos.validator.history.ScoreState: volumes, resets, activity decay, Sharpe window, EMA, persistence."""

import math

import numpy as np
import pytest

from taos.scoring import activity_weighted, normalize_sharpe, sharpe, taos_score_batch
from taos.validator.history import ScoreParams, ScoreState
from taos.validator.persisted import load_state, state_of

S = 1_000_000_000


def params(**kw: object) -> ScoreParams:
    """Window 4 observations of 5 s, buckets of 10 s, a 30 s volume horizon, cap 1000."""
    base: dict[str, object] = {
        "starting_wealth": 100.0,
        "window": 4,
        "interval_ns": 5 * S,
        "bucket_ns": 10 * S,
        "volume_horizon_ns": 30 * S,
    }
    base.update(kw)
    return ScoreParams(**base)  # type: ignore[arg-type]


def test_defaults_follow_the_spec() -> None:
    p = ScoreParams(starting_wealth=1_000.0)
    assert (p.window, p.alpha, p.cap) == (720, 0.1, 10_000.0)
    assert p.bucket_ns == 600 * S
    assert p.window_buckets == 6  # 720 x 5 s = 1 h
    assert p.horizon_buckets == p.ring_buckets == 144  # 24 h


def test_volume_is_the_difference_of_the_counters_and_a_drop_is_a_reset() -> None:
    st = ScoreState(params(), miners=1, books=2)
    st.observe(1, 5 * S, [[100.0, 100.0]], [[100, 0]])
    st.observe(2, 6 * S, [[100.0, 100.0]], [[250, 40]])
    assert st.volume_24h().tolist() == [[250, 40]]
    st.observe(3, 7 * S, [[100.0, 100.0]], [[30, 40]])  # book 0's counter restarted: 30 since
    assert st.volume_24h().tolist() == [[280, 40]]
    st.observe(4, 8 * S, [[100.0, 100.0]], np.array([[35.0, 41.0]]))  # whole floats are accepted
    assert st.volume_24h().tolist() == [[285, 41]]


def test_the_24h_volume_counts_exactly_the_steps_inside_the_horizon() -> None:
    """Horizon 30 s, buckets of 10 s: the volume at time t is that of the observations after
    t - 30 s, at times that are not bucket boundaries (7 s, 13 s, 22 s, 36 s, 38 s, 44 s); with
    buckets it was that of the buckets ending with t's, e.g. at 38 s buckets 1 to 3 (10 s to
    40 s), which also counted the step at 13 s... but not the one at 7 s that left at 37 s."""
    st = ScoreState(params(), miners=2, books=1)
    st.observe(1, 7 * S, [[1.0], [1.0]], [[600], [0]])  # +600, +0
    st.observe(2, 13 * S, [[1.0], [1.0]], [[700], [10]])  # +100, +10
    st.observe(3, 22 * S, [[1.0], [1.0]], [[1000], [10]])  # +300, +0
    assert st.volume_24h().tolist() == [[1000], [10]]
    assert st.over_volume_cap().tolist() == [[True], [False]]  # cap 1000
    assert st.volume_24h(36 * S).tolist() == [[1000], [10]]  # 7 s > 36 s - 30 s: still inside
    assert st.volume_24h(37 * S).tolist() == [[400], [10]]  # 7 s = 37 s - 30 s: out
    assert st.over_volume_cap(37 * S).tolist() == [[False], [False]]
    assert st.volume_24h(43 * S).tolist() == [[300], [0]]  # 13 s out too
    st.observe(4, 38 * S, [[1.0], [1.0]], [[1050], [10]])  # +50
    assert st.volume_24h().tolist() == [[450], [10]]  # 13, 22, 38 s
    st.observe(5, 44 * S, [[1.0], [1.0]], [[1050], [20]])  # +0, +10
    assert st.volume_24h().tolist() == [[350], [10]]  # 22, 38, 44 s
    with pytest.raises(ValueError, match="before the latest observation"):
        st.volume_24h(40 * S)
    st.observe(6, 95 * S, [[1.0], [1.0]], [[1050], [20]])  # everything old is gone
    assert st.volume_24h().tolist() == [[0], [0]]


def test_the_24h_volume_on_the_default_horizon_at_odd_times() -> None:
    """24 h and 10-minute buckets: a trade 24 h + 1 s ago is out, one 23 h 59 min 59 s ago in,
    whatever the buckets (the bucketed sum counted 23 h 50 min to 24 h)."""
    p = ScoreParams(starting_wealth=100.0)
    st = ScoreState(p, miners=1, books=1)
    day = 86_400 * S
    st.observe(1, 1_234 * S, [[1.0]], [[40]])  # 20 min 34 s
    st.observe(2, 1_235 * S, [[1.0]], [[45]])
    st.observe(3, day + 1_234 * S, [[1.0]], [[145]])  # exactly a day after the first: it left
    assert st.volume_24h().tolist() == [[105]]
    assert st.volume_24h(day + 1_235 * S - 1).tolist() == [[105]]  # the second is 1 ns inside
    assert st.volume_24h(day + 1_235 * S).tolist() == [[100]]
    st.observe(4, day + 1_800 * S, [[1.0]], [[150]])
    assert st.volume_24h().tolist() == [[105]]


def test_activity_rises_with_volume_and_halves_over_one_idle_window() -> None:
    st = ScoreState(params(), miners=1, books=1)
    st.observe(1, 5 * S, [[1.0]], [[500]])  # traded in the latest bucket: a = 1 + 500/1000
    assert st.activity()[0, 0] == pytest.approx(1.5)
    st.observe(2, 10 * S, [[1.0]], [[500]])  # a new bucket without trades: decay
    assert st.activity()[0, 0] == pytest.approx(1.5 * 2 ** (-1 / 4))
    for step in (3, 4, 5):
        st.observe(step, step * 5 * S, [[1.0]], [[500]])
    assert st.activity()[0, 0] == pytest.approx(0.75)  # 4 idle observations = one window
    st.observe(6, 30 * S, [[1.0]], [[5_000]])  # window volume 4500 → capped at 2
    assert st.activity()[0, 0] == 2.0


def test_a_miner_that_never_trades_keeps_activity_and_score_zero() -> None:
    st = ScoreState(params(), miners=1, books=2)
    for step in range(1, 8):
        st.observe(step, step * 5 * S, [[100.0 + step, 100.0 + step * step]], [[0, 0]])
    assert st.activity().tolist() == [[0.0, 0.0]]
    assert st.scores().tolist() == [0.0]


def test_scores_hand_computed_through_the_ring_wrap() -> None:
    st = ScoreState(params(), miners=1, books=1)
    a = [1.5 * 2 ** (-i / 4) for i in range(5)]  # traded only at step 1 (bucket 0)
    s3 = math.sqrt(2) * 1.5 / 0.5  # r = [1, 2]
    s4 = 2 * math.sqrt(3) / math.sqrt(14)  # r = [1, 2, -1]
    s5 = math.sqrt(3) * (4 / 3) / math.sqrt(14 / 3 - 16 / 9)  # window [101, 103, 102, 105]
    hat = [0.5, 0.5, (s3 + 10) / 20, (s4 + 10) / 20, (s5 + 10) / 20]
    # Ŝ <= 0.5 with a >= 1 → (2 - a)·Ŝ; otherwise a·Ŝ (one book: the score is w itself).
    w = [(2 - a[0]) * hat[0], (2 - a[1]) * hat[1], a[2] * hat[2], a[3] * hat[3], a[4] * hat[4]]
    assert a[3] < 1 < a[2]
    ema = 0.0
    for i, value in enumerate([100.0, 101.0, 103.0, 102.0, 105.0]):
        raw = st.observe(i + 1, (i + 1) * 5 * S, [[value]], [[500]])
        ema = 0.1 * w[i] + 0.9 * ema
        assert raw[0] == pytest.approx(w[i], rel=1e-12)
        assert st.scores()[0] == pytest.approx(ema, rel=1e-12)
    assert s5 == pytest.approx(sharpe([101, 103, 102, 105]))
    assert st.window_values()[0, 0].tolist() == [101.0, 103.0, 102.0, 105.0]
    assert st.window_steps().tolist() == [2, 3, 4, 5]
    assert (st.observations, st.last_step, st.last_time_ns) == (5, 5, 25 * S)


def test_outlier_book_is_penalised_across_books() -> None:
    st = ScoreState(params(window=3), miners=1, books=4)
    for step, v in enumerate(([100] * 4, [101, 101, 101, 99], [103, 103, 103, 97]), start=1):
        st.observe(step, step * 5 * S, [v], [[2000 * step] * 4])  # a = 2 on every book
    # Three books: r = [1, 2] → S = 3√2; the fourth: r = [-1, -2] → S = -3√2.
    good = 2 * (3 * math.sqrt(2) + 10) / 20
    bad = 0.0 * (-3 * math.sqrt(2) + 10) / 20  # a = 2, Ŝ < 0.5: (2 - a)·Ŝ = 0
    q1, q3 = bad + 0.75 * (good - bad), good  # sorted w = [bad, good, good, good]
    penalty = max(0.0, q1 - 1.5 * (q3 - q1) - bad)
    assert penalty == pytest.approx(0.375 * good)
    assert st.step_scores()[0] == pytest.approx(good - penalty)


def test_reset_uid_forgets_one_miner_only() -> None:
    st = ScoreState(params(), miners=2, books=1)
    for step in range(1, 5):
        st.observe(step, step * 5 * S, [[100.0 + step**2], [100.0 + step**2]], [[100 * step], [100 * step]])
    assert st.scores()[0] > 0 and st.scores()[0] == st.scores()[1]
    st.reset_uid(1)
    assert st.scores().tolist()[1] == 0.0 and st.scores()[0] > 0
    assert st.activity()[1, 0] == 0.0 and st.activity()[0, 0] > 0
    assert np.isnan(st.window_values()[1]).all() and not np.isnan(st.window_values()[0]).any()
    assert st.volume_24h()[:, 0].tolist() == [400, 0]
    # The simulator reset the account: its counter restarts from 0 (uid 0 keeps counting).
    st.observe(5, 25 * S, [[200.0], [100.0]], [[500], [70]])
    assert st.volume_24h()[:, 0].tolist() == [500, 70]
    assert np.isnan(st.window_values()[1, 0, :-1]).all() and st.window_values()[1, 0, -1] == 100.0
    with pytest.raises(ValueError, match="uid"):
        st.reset_uid(2)
    with pytest.raises(ValueError, match="uid"):
        st.reset_uid(-1)


def test_a_boundary_is_a_nan_column_and_restarts_the_counters() -> None:
    st = ScoreState(params(window=5), miners=1, books=1)
    st.observe(1, 5 * S, [[100.0]], [[300]])
    st.observe(2, 10 * S, [[110.0]], [[400]])
    st.mark_boundary()
    st.observe(3, 15 * S, [[50.0]], [[20]])  # the new simulation's counter: 20 since its start
    vals = st.window_values()[0, 0]
    assert np.isnan(vals[[0, 3]]).all()
    assert vals[[1, 2, 4]].tolist() == [100.0, 110.0, 50.0]
    assert st.window_steps().tolist() == [-1, 1, 2, -1, 3]
    assert st.volume_24h()[0, 0] == 20  # the old simulation's buckets are gone
    assert st.observations == 3
    st.mark_boundary()
    st.observe(4, 0, [[60.0]], [[5]])  # a new simulation's time starts again from 0
    assert st.volume_24h()[0, 0] == 5 and st.last_time_ns == 0
    with pytest.raises(ValueError, match="not after the last observed step"):
        st.observe(4, 5 * S, [[60.0]], [[5]])


@pytest.mark.parametrize(
    ("step", "time", "values", "totals", "message"),
    [
        (2, 10 * S, [[1.0]], [[0]], "not after the last observed step"),
        (4, 4 * S, [[1.0]], [[0]], "before the last observation"),
        (4, 20 * S, [[1.0, 2.0]], [[0]], r"inventory_values must have shape \(1, 1\)"),
        (4, 20 * S, [[math.inf]], [[0]], "inf"),
        (4, 20 * S, [[1.0]], [[0, 1]], "traded_quote_totals must have shape"),
        (4, 20 * S, [[1.0]], [[-1]], ">= 0"),
        (4, 20 * S, [[1.0]], [[1.5]], "whole numbers"),
        (4, 20 * S, [[1.0]], [["x"]], "integers"),
        (-1, 20 * S, [[1.0]], [[0]], "step_index must be >= 0"),
        (4.0, 20 * S, [[1.0]], [[0]], "step_index must be an integer"),
    ],
)
def test_bad_observations_are_refused_and_change_nothing(
    step: object, time: object, values: object, totals: object, message: str
) -> None:
    st = ScoreState(params(), miners=1, books=1)
    st.observe(3, 5 * S, [[1.0]], [[7]])
    before = state_of(st)
    with pytest.raises(ValueError, match=message):
        st.observe(step, time, values, totals)  # type: ignore[arg-type]
    after = state_of(st)
    assert all(np.array_equal(before[k], after[k], equal_nan=True) for k in before)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"starting_wealth": 0.0}, "starting_wealth"),
        ({"starting_wealth": math.nan}, "starting_wealth"),
        ({"window": 1}, "window"),
        ({"bucket_ns": 0}, "bucket_ns"),
        ({"interval_ns": 2.5}, "interval_ns"),
        ({"alpha": 0.0}, "alpha"),
        ({"cap_multiple": -1.0}, "cap_multiple"),
    ],
)
def test_bad_parameters_are_refused(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        params(**kw)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="miners"):
        ScoreState(params(), miners=0, books=1)
    with pytest.raises(ValueError, match="books"):
        ScoreState(params(), miners=1, books=True)  # type: ignore[arg-type]


def test_arrays_round_trip_and_the_copy_continues_identically() -> None:
    rng = np.random.default_rng(3)
    a = ScoreState(params(window=6), miners=3, books=2)
    totals = np.zeros((3, 2), dtype=np.int64)
    for step in range(1, 10):
        totals += rng.integers(0, 300, size=(3, 2))
        a.observe(step, step * 5 * S, 1000 + rng.normal(size=(3, 2)), totals)
    arrays = state_of(a)
    assert all(isinstance(v, np.ndarray) and v.dtype.kind in "if" for v in arrays.values())
    b = ScoreState.restored(arrays, 3, 2)
    for step in range(10, 16):
        totals += rng.integers(0, 300, size=(3, 2))
        values = 1000 + rng.normal(size=(3, 2))
        a.observe(step, step * 5 * S, values, totals)
        b.observe(step, step * 5 * S, values, totals)
    fa, fb = state_of(a), state_of(b)
    assert fa.keys() == fb.keys()
    assert all(fa[k].tobytes() == fb[k].tobytes() for k in fa)
    assert b.params == a.params


def test_restoring_refuses_bad_arrays() -> None:
    st = ScoreState(params(), miners=2, books=1)
    st.observe(1, 5 * S, [[1.0], [2.0]], [[0], [0]])
    good = state_of(st)
    missing = dict(good)
    del missing["activity"]
    with pytest.raises(ValueError, match="array activity is missing"):
        ScoreState.restored(missing, 2, 1)
    with pytest.raises(ValueError, match=r"unknown arrays \['extra'\]"):
        ScoreState.restored({**good, "extra": np.zeros(1)}, 2, 1)
    with pytest.raises(ValueError, match="array score"):
        ScoreState.restored({**good, "score": np.zeros(3)}, 2, 1)
    with pytest.raises(ValueError, match="array volume"):
        ScoreState.restored({**good, "volume": good["volume"].astype(np.float64)}, 2, 1)
    with pytest.raises(ValueError, match="array values"):  # 4 columns stored, window says 6
        ScoreState.restored({**good, "param.window": np.array(6)}, 2, 1)
    with pytest.raises(ValueError, match="counters"):
        ScoreState.restored({**good, "counters": np.array([0, 1, 1, 5 * S])}, 2, 1)
    with pytest.raises(ValueError, match="parameter alpha must be a number"):
        ScoreState.restored({**good, "param.alpha": np.array("x")}, 2, 1)
    with pytest.raises(ValueError, match="array values"):  # another number of miners
        ScoreState.restored(good, 3, 1)
    with pytest.raises(ValueError, match=r"param\.alpha is 0\.1, this state.s alpha is 0\.5"):
        load_state(ScoreState(params(alpha=0.5), miners=2, books=1), good)


def test_only_the_active_miners_are_scored() -> None:
    """``observe(..., active=mask)`` records every miner's values and volumes but computes the
    Sharpe windows of the active miners only: they score exactly as without the mask, the others
    score 0 (their EMA decays) and still get their history, so they score from it once active."""
    rng = np.random.default_rng(3)
    full, masked = ScoreState(params(), 4, 2), ScoreState(params(), 4, 2)
    active = np.array([True, False, True, False])
    values = 100 + np.cumsum(rng.normal(size=(12, 4, 2)), axis=0)
    for i in range(10):
        totals = np.full((4, 2), 100 * (i + 1))
        a = full.observe(i + 1, (i + 1) * 5 * S, values[i], totals)
        b = masked.observe(i + 1, (i + 1) * 5 * S, values[i], totals, active=active)
        assert b[active].tolist() == a[active].tolist() and (b[~active] == 0).all()
    assert (full.scores()[~active] > 0).all() and (masked.scores()[~active] == 0).all()
    assert masked.scores()[active].tolist() == full.scores()[active].tolist()
    assert masked.window_values().tobytes() == full.window_values().tobytes()
    sharpes = masked.book_sharpes(active)
    assert sharpes[active].tolist() == full.book_sharpes()[active].tolist() and (sharpes[~active] == 0).all()
    assert masked.book_sharpes().tolist() == full.book_sharpes().tolist()  # all rows when asked
    # uid 1 becomes active: its Sharpe comes from the history recorded while it was not
    b = masked.observe(11, 55 * S, values[10], np.full((4, 2), 1100), active=np.ones(4, dtype=bool))
    a = full.observe(11, 55 * S, values[10], np.full((4, 2), 1100))
    assert b[1] == a[1] != 0
    with pytest.raises(ValueError, match="active must have shape"):
        masked.observe(12, 60 * S, values[11], np.full((4, 2), 1200), active=np.ones(3, dtype=bool))


def test_the_24h_volume_equals_a_fresh_sum_through_resets_boundaries_and_later_times() -> None:
    """After every observation, reset and boundary, and for times ahead of the latest observation
    (the accept hop asks with the step's time), volume_24h equals the volume of the observations
    within the horizon counted afresh. window_volume is the volume of exactly the last ``window``
    history columns (a boundary's column has none), counted afresh."""
    rng = np.random.default_rng(11)
    p = params(window=4, bucket_ns=10 * S, volume_horizon_ns=60 * S)
    st = ScoreState(p, miners=3, books=2)
    totals = np.zeros((3, 2), dtype=np.int64)
    prev = totals.copy()
    columns: list[np.ndarray] = []  # each history column's step volume
    observed: list[tuple[int, np.ndarray]] = []  # (time, step volume) of this simulation
    t = 0

    def fresh(time_ns: int) -> np.ndarray:
        inside = [v for at, v in observed if at > time_ns - p.volume_horizon_ns]
        return sum(inside, np.zeros((3, 2), dtype=np.int64))

    checked = 0
    for step in range(1, 200):
        t += int(rng.choice([3, 5, 5, 7, 25])) * S + int(rng.integers(0, S))
        totals += rng.integers(0, 50, size=(3, 2))
        st.observe(step, t, np.ones((3, 2)), totals)
        columns.append(totals - prev)
        observed.append((t, totals - prev))
        prev = totals.copy()
        if rng.random() < 0.05:
            uid = int(rng.integers(3))
            st.reset_uid(uid)
            totals[uid] = prev[uid] = 0
            for c in columns:
                c[uid] = 0
            for _, v in observed:
                v[uid] = 0
        if rng.random() < 0.02:
            st.mark_boundary()
            totals[...] = prev[...] = 0
            columns.append(np.zeros((3, 2), dtype=np.int64))
            observed.clear()
            t = 0
            continue
        for ahead in (0, 5 * S, 10 * S, 59 * S, 70 * S):
            assert st.volume_24h(t + ahead).tolist() == fresh(t + ahead).tolist()
            checked += int(st.volume_24h(t + ahead).any())
        assert st.window_volume().tolist() == sum(columns[-p.window :]).tolist()
    assert checked > 300  # the sums compared were not all zero


def test_the_written_columns_cover_every_change_between_commits() -> None:
    """``written()`` lets a store read only the ring columns written since the last commit: through
    observations, ring wraps, resets, boundaries and restores, every column that changed between
    two commits is listed (or the array is not listed: the store then compares all of it)."""
    rng = np.random.default_rng(5)
    p = params(window=4, bucket_ns=10 * S, volume_horizon_ns=60 * S)
    st = ScoreState(p, miners=3, books=2)
    totals = np.zeros((3, 2), dtype=np.int64)
    t = 0
    before = state_of(st)
    assert st.written() == {}  # new: unknown
    st.committed()
    listed, step = 0, 0
    for _ in range(300):
        for _ in range(int(rng.integers(1, 4))):  # commits every one to three observations
            step += 1
            t += int(rng.choice([5, 5, 5, 25])) * S
            totals += rng.integers(0, 50, size=(3, 2))
            st.observe(step, t, rng.normal(100, 1, size=(3, 2)), totals)
            if rng.random() < 0.03:
                st.reset_uid(int(rng.integers(3)))
            if rng.random() < 0.01:
                st.mark_boundary()
                totals[...] = 0
                t = 0
        if rng.random() < 0.02:  # restored from its own state
            copy = ScoreState(p, miners=3, books=2)
            load_state(copy, state_of(st))
            st = copy
        now, written = state_of(st), st.written()
        for name in ("values", "volume"):
            bits_now, bits_before = now[name].view(np.uint64), before[name].view(np.uint64)  # NaN by its bits
            changed = set(np.flatnonzero((bits_now != bits_before).any(axis=(0, 1))).tolist())
            if name in written:
                listed += 1
                assert changed <= set(written[name].tolist()), (step, name, changed, written[name])
        before = now
        st.committed()
    assert listed > 400  # most commits listed the rings


def test_a_state_kept_with_buckets_only_counts_them_until_they_leave_then_exactly() -> None:
    """A state kept before the exact 24 h volume (no day_volume, no log): its 24 h volume starts as
    the buckets' sum and each bucket leaves it whole when its start leaves the horizon; once the
    horizon has passed, it is the exact volume again."""
    p = params()  # horizon 30 s, buckets of 10 s
    a = ScoreState(p, miners=1, books=1)
    a.observe(1, 7 * S, [[1.0]], [[100]])  # bucket 0
    a.observe(2, 13 * S, [[1.0]], [[130]])  # bucket 1: +30
    a.observe(3, 22 * S, [[1.0]], [[150]])  # bucket 2: +20
    old = {
        k: v
        for k, v in state_of(a).items()
        if k not in ("day_volume", "reset_step") and not k.startswith("log_")
    }
    b = ScoreState.restored(old, 1, 1)
    assert b.volume_24h().tolist() == [[150]]
    b.observe(4, 31 * S, [[1.0]], [[150]])  # bucket 0 starts at 0 s = 31 s - 30 s... leaves at 30 s
    assert b.volume_24h().tolist() == [[50]]
    b.observe(5, 41 * S, [[1.0]], [[155]])  # bucket 1 (10 s) out: +5
    assert b.volume_24h().tolist() == [[25]]
    b.observe(6, 53 * S, [[1.0]], [[165]])  # bucket 2 (20 s) out: 31, 41, 53 s
    assert b.volume_24h().tolist() == [[15]]
    b.observe(7, 62 * S, [[1.0]], [[165]])  # exact now: 41 s left at 71 s, 31 s at 61 s
    assert b.volume_24h().tolist() == [[15]]
    assert b.volume_24h(72 * S).tolist() == [[10]]


def three_miners_on_one_book(c_traded: float, min_volume: float = 0.0) -> tuple[ScoreState, np.ndarray]:
    """Window 5 (4 returns) on one book. A loses 1.5 a step with an s.d. of 1 (Sharpe -3); B loses
    more, 2 a step, with an s.d. of 4 (Sharpe -1); C earns (Sharpe 4). A and B trade 100 a step, C
    ``c_traded``. Returns the state and the last step's raw scores."""
    st = ScoreState(params(window=5), miners=3, books=1)
    paths = ([100, 99.5, 97, 96.5, 94], [100, 94, 96, 90, 92], [100, 101, 104, 105, 108])
    for i in range(5):
        traded = [[100 * (i + 1)], [100 * (i + 1)], [c_traded * (i + 1)]]
        raw = st.observe(i + 1, (i + 1) * 5 * S, [[p[i]] for p in paths], traded, min_volume=min_volume)
    return st, raw


def test_a_loss_noisier_than_the_books_typical_one_is_not_raised_by_its_noise() -> None:
    """B's noise alone would raise its Sharpe ratio (-1) above A's (-3). The typical s.d. is the
    median, 1, so B's loss counts with that s.d.: 2 x (-2) / 1 = -4, below A. The reported Sharpe
    ratios stay plain."""
    st, _ = three_miners_on_one_book(100.0)
    assert st.book_sharpes()[:, 0] == pytest.approx([-3.0, -1.0, 4.0], rel=1e-12)
    expected = taos_score_batch(activity_weighted(st.activity(), normalize_sharpe([[-3.0], [-4.0], [4.0]])))
    assert st.step_scores() == pytest.approx(expected, rel=1e-12)
    assert st.step_scores()[1] < st.step_scores()[0] < st.step_scores()[2]


def test_the_typical_noise_counts_only_the_miners_that_traded_enough() -> None:
    """The same book with a minimum volume that only A and B reach: the typical s.d. is then the
    median of 1 and 4 (2.5), and B's loss counts 2 x (-2) / 2.5 = -1.6."""
    st, raw = three_miners_on_one_book(1.0, min_volume=50.0)
    w = activity_weighted(st.activity(), normalize_sharpe([[-3.0], [-1.6], [4.0]]))
    w[2] = 0.0  # C did not trade the minimum volume: its book counts 0
    assert raw == pytest.approx(taos_score_batch(w), rel=1e-12)
