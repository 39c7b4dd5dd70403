"""Positions (taos.validator.positions): open/close by the one-lot threshold, returns, hours,
reset and the persisted state. Every expected value is worked out by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from taos.validator.persisted import load_state, state_of
from taos.validator.positions import NS_PER_HOUR, Position, PositionTracker

H = NS_PER_HOUR
LOT = 0.01
NEUTRAL = 1.0  # base units; one lot = 0.01


def tracker(**kw: int) -> PositionTracker:
    return PositionTracker(2, 2, LOT, **kw)


def obs(t: PositionTracker, hours: float, base: list[list[float]], equity: list[list[float]]) -> None:
    t.observe(round(hours * H), np.array(base, dtype=float), NEUTRAL, np.array(equity, dtype=float))


FLAT = [[1.0, 1.0], [1.0, 1.0]]
E100 = [[100.0, 100.0], [100.0, 100.0]]


def test_adds_and_partial_closes_stay_one_position_until_the_inventory_is_back_within_a_lot() -> None:
    t = tracker()
    obs(t, 1, FLAT, E100)  # at neutral: nothing
    assert t.open_count(0) == 0 and t.positions(0) == []
    obs(t, 2, [[1.5, 1.0], [1.0, 1.0]], [[100.0, 100.0], [100.0, 100.0]])  # +0.5: long opens
    obs(t, 3, [[2.0, 1.0], [1.0, 1.0]], [[110.0, 100.0], [100.0, 100.0]])  # an add
    obs(t, 4, [[1.2, 1.0], [1.0, 1.0]], [[105.0, 100.0], [100.0, 100.0]])  # a partial close
    assert t.open_count(0) == 1 and t.closed_count(0) == 0
    assert t.positions(0) == [Position(0, 0, 1, 2 * H, 100.0)]
    # 1.005 is half a lot from neutral: closed, although no FLAT was asked (implicit flat)
    obs(t, 5, [[1.005, 1.0], [1.0, 1.0]], [[120.0, 100.0], [100.0, 100.0]])
    assert t.open_count(0) == 0 and t.closed_count(0) == 1
    (p,) = t.positions(0)
    assert p == Position(0, 0, 1, 2 * H, 100.0, 5 * H, 120.0)
    assert p.return_ == pytest.approx(0.2)  # 120 / 100 - 1
    assert t.hours_in_positions(0, 9 * H) == 3.0  # 2 h → 5 h
    assert t.positions(1) == [] and t.closed_count(1) == 0  # the other miner saw nothing


def test_exactly_one_lot_away_is_not_a_position_and_two_lots_are() -> None:
    t = tracker()
    obs(t, 1, [[1.01, 0.99], [1.02, 0.98]], E100)  # 1.01 - 1.0 = 0.010000000000000009 in floats
    assert t.open_directions(0).tolist() == [0, 0]
    assert t.open_directions(1).tolist() == [1, -1]


def test_a_sign_flip_between_two_observations_closes_one_position_and_opens_the_other() -> None:
    t = tracker()
    obs(t, 1, [[0.5, 1.0], [1.0, 1.0]], [[90.0, 100.0], [100.0, 100.0]])  # short opens at 90
    obs(t, 2, [[1.6, 1.0], [1.0, 1.0]], [[99.0, 100.0], [100.0, 100.0]])  # now long
    closed, opened = t.positions(0)
    assert closed == Position(0, 0, -1, 1 * H, 90.0, 2 * H, 99.0)
    assert closed.return_ == pytest.approx(0.1)  # 99 / 90 - 1
    assert opened == Position(0, 0, 1, 2 * H, 99.0)
    assert opened.is_open and opened.return_ is None
    assert t.closed_count(0) == 1 and t.open_count(0) == 1


def test_a_book_without_a_mid_is_skipped_until_it_has_one_again() -> None:
    t = tracker()
    nan = float("nan")
    obs(t, 1, [[1.0, 2.0], [1.0, 1.0]], [[100.0, nan], [100.0, 100.0]])  # long on book 1, no price
    assert t.open_count(0) == 0
    obs(t, 2, [[1.0, 2.0], [1.0, 1.0]], [[100.0, 50.0], [100.0, 100.0]])  # priced: opens at 50
    obs(t, 3, [[1.0, 1.0], [1.0, 1.0]], [[100.0, nan], [100.0, 100.0]])  # flat, but no price: kept
    assert t.open_count(0) == 1
    obs(t, 4, [[1.0, 1.0], [1.0, 1.0]], [[100.0, 60.0], [100.0, 100.0]])  # closes at 60
    (p,) = t.positions(0)
    assert (p.book, p.open_ns, p.close_ns, p.return_) == (1, 2 * H, 4 * H, pytest.approx(0.2))


def test_hours_count_the_time_with_any_position_open_and_book_hours_sum_over_books() -> None:
    t = tracker()
    obs(t, 1, [[2.0, 1.0], [1.0, 1.0]], E100)  # book 0 long from 1 h
    obs(t, 4, [[1.0, 0.0], [1.0, 1.0]], E100)  # book 0 closed (3 h), book 1 short from 4 h
    obs(t, 5, [[2.0, 0.0], [1.0, 1.0]], E100)  # book 0 long again from 5 h
    # in the market from 1 h on without a break: 6 h at 7 h, 4 h at 5 h
    assert t.hours_in_positions(0, 7 * H) == 6.0
    assert t.hours_in_positions(0, 5 * H) == 4.0
    # over books: 3 h closed + (7 - 4) h + (7 - 5) h open = 8 h; at 5 h: 3 + 1 + 0
    assert t.book_hours_in_positions(0, 7 * H) == 8.0
    assert t.book_hours_in_positions(0, 5 * H) == 4.0
    assert t.open_count(0) == 2 and t.closed_count(0) == 1
    assert [(p.book, p.open_ns) for p in t.positions(0)] == [(0, 1 * H), (1, 4 * H), (0, 5 * H)]
    assert t.open_counts().tolist() == [2, 0]
    obs(t, 8, FLAT, E100)  # both closed at 8 h: 7 h in the market, and no more after
    assert t.hours_in_positions(0, 20 * H) == 7.0 and t.open_count(0) == 0


def test_neutral_may_differ_per_book() -> None:
    t = PositionTracker(1, 2, LOT)
    t.observe(1, np.array([[1.0, 1.0]]), np.array([1.0, 3.0]), np.array([[10.0, 10.0]]))
    assert t.open_directions(0).tolist() == [0, -1]  # 1.0 is 2.0 below book 1's neutral of 3.0


def test_only_the_last_keep_closed_positions_are_kept_but_the_counters_stay_exact() -> None:
    t = tracker(keep_closed=2)
    for i in range(3):  # three positions of 1 h each, closed at 2, 4 and 6 h
        obs(t, 2 * i + 1, [[2.0, 1.0], [1.0, 1.0]], E100)
        obs(t, 2 * i + 2, FLAT, E100)
    assert t.closed_count(0) == 3
    assert [p.open_ns for p in t.positions(0)] == [3 * H, 5 * H]
    assert t.hours_in_positions(0, 100 * H) == 3.0


def test_reset_forgets_one_miner_only() -> None:
    t = tracker()
    obs(t, 1, [[2.0, 0.0], [2.0, 1.0]], E100)
    obs(t, 2, [[1.0, 0.0], [2.0, 1.0]], E100)
    t.reset_uid(0)
    assert t.open_count(0) == 0 and t.closed_count(0) == 0 and t.positions(0) == []
    assert t.hours_in_positions(0, 10 * H) == 0.0
    assert t.open_count(1) == 1 and t.hours_in_positions(1, 3 * H) == 2.0
    # after the reset, an inventory off neutral opens a new position at the next observation
    obs(t, 3, [[1.0, 0.0], [2.0, 1.0]], E100)
    assert [(p.book, p.open_ns) for p in t.positions(0)] == [(1, 3 * H)]


def test_observe_refuses_bad_inputs() -> None:
    t = tracker()
    with pytest.raises(ValueError, match=r"base must have shape \(2, 2\)"):
        t.observe(1, np.ones((2, 3)), NEUTRAL, np.ones((2, 2)))
    with pytest.raises(ValueError, match="neutral must be a number or broadcastable"):
        t.observe(1, np.ones((2, 2)), np.ones(3), np.ones((2, 2)))
    with pytest.raises(TypeError, match="time_ns must be an integer"):
        t.observe(1.5, np.ones((2, 2)), NEUTRAL, np.ones((2, 2)))  # type: ignore[arg-type]
    t.observe(10, np.ones((2, 2)), NEUTRAL, np.ones((2, 2)))
    with pytest.raises(ValueError, match="before the last observation"):
        t.observe(9, np.ones((2, 2)), NEUTRAL, np.ones((2, 2)))
    with pytest.raises(ValueError, match="uid must be in"):
        t.open_count(2)
    for bad in ({"slots": -1}, {"books": 0}, {"lot_size": 0.0}):
        args = {"slots": 2, "books": 2, "lot_size": LOT, **bad}
        with pytest.raises(ValueError):
            PositionTracker(**args)  # type: ignore[arg-type]


def busy() -> PositionTracker:
    t = tracker(keep_closed=5)
    obs(t, 1, [[2.0, 0.5], [1.0, 1.0]], [[100.0, 80.0], [100.0, 100.0]])
    obs(t, 2, [[1.0, 0.5], [1.3, 1.0]], [[110.0, 81.0], [100.0, 100.0]])
    obs(t, 3, [[0.0, 0.5], [1.3, 1.0]], [[108.0, 82.0], [101.5, 100.0]])
    return t


def fresh(keep_closed: int = 5) -> PositionTracker:
    return tracker(keep_closed=keep_closed)


def test_the_state_round_trips_and_the_loaded_tracker_goes_on_as_the_original() -> None:
    t = busy()
    back = fresh()
    load_state(back, state_of(t), "positions")
    assert all(np.array_equal(a, state_of(back)[k]) for k, a in state_of(t).items())
    for uid in (0, 1):
        assert back.positions(uid) == t.positions(uid)
        assert back.hours_in_positions(uid, 5 * H) == t.hours_in_positions(uid, 5 * H)
    assert back.last_time_ns == t.last_time_ns == 3 * H
    for x in (t, back):
        obs(x, 4, FLAT, [[120.0, 90.0], [99.0, 100.0]])
    assert all(np.array_equal(a, state_of(back)[k]) for k, a in state_of(t).items())
    assert [p.return_ for p in back.positions(0)] == pytest.approx([0.1 / 1.0, 90 / 80 - 1, 120 / 108 - 1])
    never = fresh()
    load_state(never, state_of(tracker(keep_closed=5)))
    assert never.last_time_ns is None and never.positions(0) == []


def test_the_stored_arrays_keep_each_miners_history_in_its_own_column() -> None:
    arrays = state_of(busy())
    assert arrays["direction"].shape == (2, 2) and arrays["direction"].dtype == np.int8
    assert arrays["hist_close_ns"].shape == (5, 2)  # [keep_closed, slots]: a store chunk per miner or few
    assert arrays["hist_close_ns"][:, 0].tolist() == [2 * H, 0, 0, 0, 0]
    assert arrays["hist_len"].tolist() == [1, 0]
    assert arrays["params"].tolist() == [LOT, 5.0] and arrays["last_time_ns"].tolist() == [3 * H]


def test_a_history_kept_with_another_keep_closed_is_taken_with_it() -> None:
    t = busy()
    back = fresh(keep_closed=2)
    load_state(back, state_of(t))
    assert back.keep_closed == 5 and back.positions(0) == t.positions(0)


def _set(name: str, index: tuple[int, ...], value: float):  # type: ignore[no-untyped-def]
    return lambda a: a[name].__setitem__(index, value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.pop("open_ns"), "array open_ns is missing"),
        (lambda a: a.update(other=np.zeros(1)), r"unknown arrays \['other'\]"),
        (lambda a: a.update(open_equity=np.zeros((2, 3))), r"open_equity must be float64\[2, 2\]"),
        (lambda a: a.update(params=np.array([LOT, 2.5])), "keep_closed must be an integer"),
        (lambda a: a.update(params=np.array([0.5, 5.0])), "kept with lot size 0.5, not 0.01"),
        (_set("direction", (1, 1), 3), "direction must be 1, -1 or 0"),
        (_set("open_equity", (0, 1), np.nan), "open_equity of an open position must be a finite number"),
        (_set("closed_ns", (1,), -5), "closed_ns must be >= 0"),
        (lambda a: a.update(hist_len=np.array([6, 0])), r"hist_len must lie in \[0, 5\]"),
        (_set("closed_count", (0,), 0), "more kept than closed"),
        (_set("hist_direction", (0, 0), 0), "hist_direction of a kept position must be 1 or -1"),
        (_set("hist_book", (0, 0), 2), r"hist_book of a kept position must be a book \(0..1\)"),
        (_set("hist_close_ns", (0, 0), 0), "closes before it opens"),
        (_set("market_since_ns", (1,), np.iinfo(np.int64).min), "market_since_ns must be set for exactly"),
    ],
)
def test_bad_stored_arrays_are_refused_with_a_clear_error(change, message: str) -> None:  # type: ignore[no-untyped-def]
    arrays = state_of(busy())
    change(arrays)
    with pytest.raises(ValueError, match=f"positions: .*{message}"):
        load_state(fresh(), arrays, "positions")


def test_kept_positions_out_of_closing_order_are_refused() -> None:
    t = tracker(keep_closed=5)
    for i in range(2):  # two closed positions of uid 0: closed at 2 h and 4 h
        obs(t, 2 * i + 1, [[2.0, 1.0], [1.0, 1.0]], E100)
        obs(t, 2 * i + 2, FLAT, E100)
    arrays = state_of(t)
    arrays["hist_close_ns"][:2, 0] = arrays["hist_close_ns"][1::-1, 0].copy()
    arrays["hist_open_ns"][:2, 0] = 0
    with pytest.raises(ValueError, match="not in closing order"):
        load_state(fresh(), arrays, "positions")


class _Reference:
    """Positions followed one cell at a time with Python lists: what the tracker's whole-array
    ``observe`` must agree with."""

    def __init__(self, slots: int, books: int, keep: int) -> None:
        self.open: dict[tuple[int, int], tuple[int, int, float]] = {}  # direction, open_ns, equity
        self.closed: list[list[Position]] = [[] for _ in range(slots)]
        self.count = [0] * slots
        self.ns = [0] * slots
        self.books, self.keep = books, keep
        self.market_ns = [0] * slots  # time with any position open: the stretches that ended
        self.since: list[int | None] = [None] * slots

    def observe(self, t: int, base: np.ndarray, equity: np.ndarray) -> None:
        before = [any(k[0] == u for k in self.open) for u in range(len(self.closed))]
        self._cells(t, base, equity)
        for u, was in enumerate(before):
            now = any(k[0] == u for k in self.open)
            if now and not was:
                self.since[u] = t
            elif was and not now:
                self.market_ns[u] += t - self.since[u]  # type: ignore[operator]
                self.since[u] = None

    def _cells(self, t: int, base: np.ndarray, equity: np.ndarray) -> None:
        for uid in range(len(self.closed)):
            for book in range(self.books):
                if not np.isfinite(equity[uid, book]):
                    continue
                dev = base[uid, book] - NEUTRAL
                side = 1 if dev > LOT * (1 + 1e-9) else -1 if dev < -LOT * (1 + 1e-9) else 0
                was = self.open.get((uid, book))
                if (was[0] if was else 0) == side:
                    continue
                if was:
                    del self.open[(uid, book)]
                    self.count[uid] += 1
                    self.ns[uid] += max(0, t - was[1])
                    closed = Position(uid, book, was[0], was[1], was[2], t, float(equity[uid, book]))
                    self.closed[uid] = (self.closed[uid] + [closed])[-self.keep :] if self.keep else []
                if side:
                    self.open[(uid, book)] = (side, t, float(equity[uid, book]))


@pytest.mark.parametrize(("keep", "seed"), [(0, 1), (1, 2), (2, 3), (3, 4), (100, 5)])
def test_whole_array_observations_agree_with_one_cell_at_a_time(keep: int, seed: int) -> None:
    """Many books closing at once for one miner (more than ``keep_closed`` in one step, too),
    sign flips and books without a price, against the per-cell reference above."""
    rng = np.random.default_rng(seed)
    slots, books = 4, 5
    t, ref = PositionTracker(slots, books, LOT, keep_closed=keep), _Reference(slots, books, keep)
    for step in range(60):
        base = NEUTRAL + rng.choice([-0.5, 0.0, 0.005, 0.5], size=(slots, books))
        equity = rng.uniform(50.0, 150.0, size=(slots, books))
        equity[rng.random((slots, books)) < 0.1] = np.nan
        t.observe(step * H, base, NEUTRAL, equity)
        ref.observe(step * H, base, equity)
        if step == 30:
            t.reset_uid(2)
            ref.count[2], ref.ns[2], ref.closed[2], ref.market_ns[2], ref.since[2] = 0, 0, [], 0, None
            ref.open = {k: v for k, v in ref.open.items() if k[0] != 2}
    if keep < 100:
        assert min(ref.count) > 4 * keep  # every history did fill and move up
    for uid in range(slots):
        assert t.closed_count(uid) == ref.count[uid]
        since = ref.since[uid]
        assert (
            t.hours_in_positions(uid, 60 * H)
            == (ref.market_ns[uid] + (60 * H - since if since is not None else 0)) / H
        )
        assert t.book_hours_in_positions(uid, 60 * H) == pytest.approx(
            (ref.ns[uid] + sum(60 * H - v[1] for k, v in ref.open.items() if k[0] == uid)) / H
        )
        opened = [Position(uid, b, d, o, e) for (u, b), (d, o, e) in ref.open.items() if u == uid]
        want = sorted(
            ref.closed[uid] + opened, key=lambda p: (p.open_ns, p.close_ns is None, p.close_ns or 0, p.book)
        )
        assert t.positions(uid) == want
    back = PositionTracker(slots, books, LOT, keep_closed=keep)
    load_state(back, state_of(t), "positions")  # the loaded checks accept what observe builds


def test_a_position_below_the_minimum_notional_is_not_open() -> None:
    """min_notional = 1 % of the book's equity: with equity 100 and a mid of 10, a position needs
    more than 0.1 base (1 quote of notional); 0.05 base off neutral (dust, five lots) is none."""
    t = PositionTracker(2, 2, LOT, min_notional=0.01)
    mid = np.array([10.0, 10.0])
    t.observe(1 * H, np.array([[1.05, 1.2], [0.85, 1.0]]), NEUTRAL, np.array(E100), mid)
    assert t.open_directions(0).tolist() == [0, 1] and t.open_directions(1).tolist() == [-1, 0]
    with pytest.raises(ValueError, match="mid is needed"):
        t.observe(2 * H, np.ones((2, 2)), NEUTRAL, np.array(E100))
    with pytest.raises(ValueError, match=r"mid must have shape \(2,\)"):
        t.observe(2 * H, np.ones((2, 2)), NEUTRAL, np.array(E100), np.ones(3))
    with pytest.raises(ValueError, match="min_notional"):
        PositionTracker(2, 2, LOT, min_notional=1.0)


def test_a_state_kept_before_the_time_in_the_market_starts_it_at_its_last_observation() -> None:
    arrays = state_of(busy())  # both miners in a position at 3 h
    del arrays["market_ns"], arrays["market_since_ns"]
    back = fresh()
    load_state(back, arrays, "positions")
    assert back.hours_in_positions(0, 5 * H) == back.hours_in_positions(1, 5 * H) == 2.0  # from 3 h
