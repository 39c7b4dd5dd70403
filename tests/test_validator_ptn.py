"""Elimination, challenge period, ledger and weights of preset ptn (taos/validator/schemes/ptn/), with
hand-computed cases."""

import dataclasses
import math
import typing

import numpy as np
import pytest

from taos.scoring import (
    ChallengeThresholds,
    age_decay_weight,
    checkpoint_ledger,
    exponential_rank_weights,
    ledger_omega,
    ledger_return,
    ledger_sortino,
)
from taos.validator.persisted import Persisted, load_state, state_of
from taos.validator.policy import ScoringSettings
from taos.validator.schemes.ptn import (
    ChallengeTracker,
    EliminationTracker,
    LedgerTracker,
    NoPositions,
    Policies,
    PortfolioValues,
    PositionStats,
    Reason,
    Status,
)

S = 1_000_000_000
H = 3_600 * S
DAY = 24 * H


class IntervalPositions:
    """A small position record: per uid, the (open, close) times of its positions (close None while
    open). Closed count and hours in positions are read from it as the position tracker would."""

    def __init__(self) -> None:
        self.positions: dict[int, list[tuple[int, int | None]]] = {}

    def open(self, uid: int, t_ns: int) -> None:
        self.positions.setdefault(uid, []).append((t_ns, None))

    def close(self, uid: int, t_ns: int) -> None:
        start, end = self.positions[uid][-1]
        assert end is None
        self.positions[uid][-1] = (start, t_ns)

    def closed_count(self, uid: int) -> int:
        return sum(1 for _, end in self.positions.get(uid, []) if end is not None)

    def hours_in_positions(self, uid: int, now_ns: int) -> float:
        total = 0
        for start, end in self.positions.get(uid, []):
            stop = now_ns if end is None else min(end, now_ns)
            total += max(0, stop - start)
        return total / H


def test_the_position_record_implements_the_protocol() -> None:
    assert isinstance(IntervalPositions(), PositionStats)
    assert isinstance(NoPositions(), PositionStats)
    p = IntervalPositions()
    p.open(1, 0)
    p.close(1, 2 * H)
    p.open(1, 3 * H)
    assert (p.closed_count(1), p.hours_in_positions(1, 4 * H)) == (1, 3.0)
    assert (p.closed_count(2), p.hours_in_positions(2, 4 * H)) == (0, 0.0)


# --- portfolio values -------------------------------------------------------------------------------


def test_portfolio_value_sums_books_and_keeps_the_last_finite_value_of_a_book() -> None:
    p = PortfolioValues(2, 3)
    nan = math.nan
    assert p.update([[100.0, 50.0, nan], [10.0, 20.0, 30.0]]).tolist()[1] == 60.0
    assert math.isnan(p.values()[0])  # book 2 of uid 0 was never valued
    assert p.update([[90.0, nan, 7.0], [nan, nan, nan]]).tolist() == [90.0 + 50.0 + 7.0, 60.0]
    p.reset_uid(1)
    assert math.isnan(p.values()[1]) and p.values()[0] == 147.0
    with pytest.raises(ValueError, match=r"inventory_values must have shape \(2, 3\)"):
        p.update([[1.0, 2.0]])


# --- elimination ------------------------------------------------------------------------------------


def observe(tracker: EliminationTracker, t_ns: int, value: float, uid: int = 0) -> list:
    values = np.full(tracker.miners, np.nan)
    values[uid] = value
    return tracker.observe(t_ns, values, np.ones(tracker.miners, dtype=bool), wall_time_s=1_000.0 + t_ns / S)


def test_exactly_ten_percent_below_the_maximum_is_not_eliminated_just_beyond_is() -> None:
    # A new sim day every observation, so only the 10 % rule can fire (each day's max is its value).
    e = EliminationTracker(1)
    assert observe(e, 0, 100.0) == []
    assert observe(e, 1 * DAY, 94.0) == []  # 6 % below the maximum
    assert observe(e, 2 * DAY, 90.0) == []  # exactly 10 %: not more than 10 %
    assert not e.is_eliminated(0)
    assert e.running_max().tolist() == [100.0] and e.day_max().tolist() == [90.0]
    (out,) = observe(e, 2 * DAY + 5 * S, 89.99)  # 10.01 % below: eliminated (the day's max is 90)
    assert (out.uid, out.reason, out.reason.text) == (0, Reason.DRAWDOWN, "drawdown")
    assert (out.sim_time_ns, out.wall_time_s, out.value, out.reference) == (
        2 * DAY + 5 * S,
        1_000.0 + 2 * 86_400 + 5,
        89.99,
        100.0,
    )
    assert e.is_eliminated(0) and e.records() == [out]


def test_ten_percent_boundary_in_engine_units() -> None:
    # Engine quote units (ticks x lots): 2e11 is a miner's starting wealth on two books.
    e = EliminationTracker(1)
    observe(e, 0, 2e11)
    assert observe(e, DAY, 1.8e11) == []  # 2e11 - 1.8e11 = 2e10 = 0.1 x 2e11 exactly
    assert [r.reason for r in observe(e, DAY + S, 1.8e11 - 1.0)] == [Reason.DRAWDOWN]


def test_exactly_five_percent_below_the_days_maximum_is_not_eliminated_just_beyond_is() -> None:
    e = EliminationTracker(1)
    assert observe(e, 0, 100.0) == []
    assert observe(e, 10 * S, 95.0) == []  # exactly 5 % below the day's maximum
    (out,) = observe(e, 20 * S, 94.99)
    assert (out.reason, out.reason.text, out.reference) == (Reason.DAILY_DRAWDOWN, "daily drawdown", 100.0)


def test_the_days_maximum_restarts_at_the_day_boundary() -> None:
    e = EliminationTracker(1)
    observe(e, 0, 100.0)
    assert observe(e, DAY - 5 * S, 96.0) == []  # 4 % below the day's maximum
    # day 1: its first value starts the day's maximum, although it is 7 % below yesterday's
    assert observe(e, DAY, 93.0) == []
    assert e.day_max().tolist() == [93.0] and e.running_max().tolist() == [100.0]
    # 8 % below yesterday's maximum 100 (more than 5 %) but 1.1 % below today's 93: not eliminated
    assert observe(e, DAY + 5 * S, 92.0) == []
    # 5.4 % below today's maximum 97.3 (set within the day): eliminated
    assert observe(e, DAY + 10 * S, 97.3) == []
    (out,) = observe(e, DAY + 15 * S, 92.0)
    assert (out.reason, out.reference) == (Reason.DAILY_DRAWDOWN, 97.3)


def test_eliminated_stays_eliminated_until_reset() -> None:
    e = EliminationTracker(2)
    observe(e, 0, 100.0)
    (first,) = observe(e, S, 80.0)
    assert first.reason == Reason.DRAWDOWN
    assert observe(e, 2 * S, 200.0) == [] and observe(e, 3 * S, 1.0) == []
    assert e.records() == [first]  # the record and the maxima do not move any more
    assert e.running_max().tolist()[0] == 100.0
    # a second elimination of an eliminated miner keeps the first record
    assert e.eliminate(0, Reason.CHALLENGE_FAILED, 4 * S, 0.0) == first
    e.reset_uid(0)
    assert not e.is_eliminated(0) and e.records() == []
    assert math.isnan(e.running_max()[0]) and math.isnan(e.day_max()[0])
    assert observe(e, 5 * S, 50.0) == []  # a new miner: its maximum starts at 50
    assert e.running_max().tolist()[0] == 50.0


def test_inactive_and_nan_values_are_not_tracked() -> None:
    e = EliminationTracker(3)
    active = np.array([True, False, True])
    assert e.observe(0, [100.0, 100.0, math.nan], active, 0.0) == []
    out = e.observe(S, [50.0, 50.0, 50.0], active, 0.0)
    assert [r.uid for r in out] == [0]  # uid 1 inactive, uid 2 first valued now
    assert e.running_max().tolist()[1:] == [pytest.approx(math.nan, nan_ok=True), 50.0]


def test_elimination_tracker_bad_input() -> None:
    with pytest.raises(ValueError, match=r"max_drawdown must lie in \(0, 1\)"):
        EliminationTracker(1, max_drawdown=0.0)
    e = EliminationTracker(2)
    with pytest.raises(ValueError, match=r"values must have shape \(2,\)"):
        e.observe(0, [1.0], np.ones(2, dtype=bool), 0.0)
    with pytest.raises(ValueError, match="active must be a boolean array"):
        e.observe(0, [1.0, 1.0], [1, 1], 0.0)
    with pytest.raises(ValueError, match="time_ns must be an integer >= 0"):
        e.observe(-1, [1.0, 1.0], np.ones(2, dtype=bool), 0.0)
    with pytest.raises(ValueError, match="uid must be an integer in"):
        e.reset_uid(2)
    with pytest.raises(ValueError, match="needs a reason"):
        e.eliminate(0, Reason.NONE, 0, 0.0)


_P = typing.TypeVar("_P", bound=Persisted)


def loaded(fresh: _P, original: Persisted) -> _P:
    """``fresh`` with ``original``'s state loaded, checked to give back the same arrays."""
    load_state(fresh, state_of(original))
    for k, a in state_of(original).items():
        assert state_of(fresh)[k].tobytes() == a.tobytes(), k
    return fresh


def test_elimination_state_round_trip_and_bad_state() -> None:
    e = EliminationTracker(2)
    observe(e, 0, 100.0)
    observe(e, S, 80.0)
    back = loaded(EliminationTracker(2), e)
    assert back.records() == e.records()
    bad = state_of(e)
    bad["reason"] = np.array([9, 0], dtype=np.int8)
    with pytest.raises(ValueError, match="array reason holds a value that is no Reason"):
        load_state(EliminationTracker(2), bad)
    with pytest.raises(ValueError, match=r"array running_max must be float64\[3\]"):
        load_state(EliminationTracker(3), state_of(e))
    with pytest.raises(ValueError, match="array day is missing"):
        load_state(EliminationTracker(2), {k: a for k, a in state_of(e).items() if k != "day"})


# --- challenge period -------------------------------------------------------------------------------


def challenge_step(
    c: ChallengeTracker,
    t_ns: int,
    value: float,
    sharpe: float = 0.05,
    positions: PositionStats | None = None,
    wall: float = 0.0,
) -> tuple[list[int], list[int]]:
    return c.observe(t_ns, wall, [value], [sharpe], positions or NoPositions(), np.array([True]))


def seasoned(closed: int, hours: float) -> IntervalPositions:
    """``closed`` closed positions of ``hours`` hours in total, from time 0."""
    p = IntervalPositions()
    each = round(hours * H / closed)
    for i in range(closed):
        p.open(0, i * each)
        p.close(0, (i + 1) * each)
    return p


def test_challenge_passes_early_on_the_inclusive_thresholds() -> None:
    c = ChallengeTracker(1)
    c.start(0, 10 * S, 0.0)
    assert c.status_of(0) == Status.ACTIVE
    enough = seasoned(10, 50.0)  # exactly 10 closed positions, 50 hours
    # the starting value is the first value observed after the start
    assert challenge_step(c, 15 * S, 100.0, positions=enough) == ([], [])
    assert c.start_value().tolist() == [100.0]
    assert challenge_step(c, 3 * DAY, 101.9, positions=enough) == ([], [])  # 1.9 %: in progress
    assert c.status_of(0) == Status.ACTIVE
    assert challenge_step(c, 3 * DAY, 102.0, sharpe=0.049, positions=enough) == ([], [])  # Sharpe short
    assert challenge_step(c, 3 * DAY, 102.0, positions=seasoned(9, 50.0)) == ([], [])  # 9 closed
    assert challenge_step(c, 3 * DAY, 102.0, positions=seasoned(10, 49.9)) == ([], [])  # 49.9 hours
    # 2 % exactly, median Sharpe 0.05, 10 positions, 50 hours, on day 3 of 30: passes early
    assert challenge_step(c, 3 * DAY + 5 * S, 102.0, positions=enough) == ([0], [])
    assert c.status_of(0) == Status.PASSED
    # passed is final: a later bad step changes nothing
    assert challenge_step(c, 40 * DAY, 1.0) == ([], [])
    assert c.status_of(0) == Status.PASSED


def test_challenge_fails_when_the_sim_period_is_over() -> None:
    c = ChallengeTracker(1, period_s=30 * 86_400.0)
    c.start(0, 100 * S, 0.0)
    assert challenge_step(c, 105 * S, 100.0) == ([], [])
    assert challenge_step(c, 100 * S + 30 * DAY - S, 150.0) == ([], [])  # one second before the end
    assert c.status_of(0) == Status.ACTIVE
    assert c.elapsed_s(100 * S + 30 * DAY, 0.0).tolist() == [30 * 86_400.0]
    assert challenge_step(c, 100 * S + 30 * DAY, 150.0) == ([], [0])  # no positions: failed
    assert c.status_of(0) == Status.FAILED


def test_passing_at_the_step_the_period_ends_passes() -> None:
    c = ChallengeTracker(1, period_s=60 * 3_600.0)
    c.start(0, 0, 0.0)
    challenge_step(c, S, 100.0)
    assert challenge_step(c, 60 * H, 103.0, positions=seasoned(10, 50.0)) == ([0], [])


def test_challenge_in_wall_time() -> None:
    c = ChallengeTracker(1, period_s=600.0, clock="wall")
    c.start(0, 0, 1_000.0)
    # sim time far beyond the period does not end a wall-time challenge
    assert challenge_step(c, 90 * DAY, 100.0, wall=1_599.0) == ([], [])
    assert c.elapsed_s(90 * DAY, 1_599.0).tolist() == [599.0]
    assert challenge_step(c, 90 * DAY + S, 100.0, wall=1_600.0) == ([], [0])
    # and a sim-time challenge ignores the wall clock
    c2 = ChallengeTracker(1, period_s=600.0, clock="sim")
    c2.start(0, 0, 1_000.0)
    assert challenge_step(c2, 599 * S, 100.0, wall=1e9) == ([], [])
    assert challenge_step(c2, 600 * S, 100.0, wall=1e9) == ([], [0])


def test_challenge_without_a_value_cannot_pass_and_reset_forgets() -> None:
    c = ChallengeTracker(1, thresholds=ChallengeThresholds(-1.0, -1.0, 0, 0.0))
    c.start(0, 0, 0.0)
    assert challenge_step(c, S, math.nan) == ([], [])  # no value yet: no return, not passed
    assert challenge_step(c, 2 * S, 50.0) == ([0], [])  # return 0 ≥ -100 %
    c.reset_uid(0)
    assert c.status_of(0) == Status.NONE and math.isnan(c.start_value()[0])
    assert challenge_step(c, 3 * S, 50.0) == ([], [])  # not in a challenge: nothing


def test_challenge_asks_the_positions_of_active_miners_only() -> None:
    asked: list[int] = []

    class Counting(IntervalPositions):
        def closed_count(self, uid: int) -> int:
            asked.append(uid)
            return super().closed_count(uid)

    c = ChallengeTracker(3)
    c.start(1, 0, 0.0)
    c.observe(S, 0.0, [1.0, 1.0, 1.0], [0.0, 0.0, 0.0], Counting(), np.array([True, True, False]))
    assert asked == [1]


def test_challenge_state_round_trip_and_bad_input() -> None:
    c = ChallengeTracker(2, period_s=100.0)
    c.start(0, 5 * S, 7.0)
    challenge_step_2 = c.observe(6 * S, 8.0, [10.0, 20.0], [0.0, 0.0], NoPositions(), np.ones(2, dtype=bool))
    assert challenge_step_2 == ([], [])
    loaded(ChallengeTracker(2, period_s=100.0), c)
    bad = state_of(c)
    bad["status"] = np.array([7, 0], dtype=np.int8)
    with pytest.raises(ValueError, match="array status holds a value that is no Status"):
        load_state(ChallengeTracker(2), bad)
    with pytest.raises(ValueError, match="clock must be sim or wall"):
        ChallengeTracker(1, clock="moon")
    with pytest.raises(ValueError, match="period_s must be a positive number"):
        ChallengeTracker(1, period_s=0.0)


# --- ledger -----------------------------------------------------------------------------------------

# The series of tests/test_scoring_ledger.py: observations at 0, 3h, 7h, 8h, 13h, period 6h.
VALUES = [100.0, 110.0, 99.0, 99.0, 120.0]
TIMES = [0, 3 * H, 7 * H, 8 * H, 13 * H]
HOURS = [0.0, 3.0, 3.0, 4.0, 9.0]  # in a position 0-3h and 7h-13h


def feed(
    ledger: LedgerTracker, values: list[float], times: list[int], hours: list[float], uid: int = 0
) -> None:
    for v, t, h in zip(values, times, hours, strict=True):
        vals = np.full(ledger.miners, np.nan)
        vals[uid] = v
        hrs = np.zeros(ledger.miners)
        hrs[uid] = h
        ledger.observe(t, vals, hrs, np.ones(ledger.miners, dtype=bool))


def test_incremental_ledger_by_hand_and_equal_to_checkpoint_ledger() -> None:
    led = LedgerTracker(1, period_ns=6 * H, window_ns=30 * DAY)
    feed(led, VALUES, TIMES, HOURS)
    got = led.ledger(0)
    # interval      change         time in market  checkpoint
    # 0  → 3h       ln(1.1)        3h              0
    # 3h → 7h       ln(0.9)        0               0 (booked where it starts)
    # 7h → 8h       0              1h              1
    # 8h → 13h      ln(120/99)     5h              1
    assert got.start_ns.tolist() == [0, 6 * H]
    assert got.gains == pytest.approx([math.log(1.1), math.log(120.0 / 99.0)])
    assert got.losses == pytest.approx([math.log(0.9), 0.0])
    assert got.time_in_market_ns.tolist() == [3 * H, 6 * H]
    ref = checkpoint_ledger(VALUES, TIMES, [True, False, True, True, False], 6 * H)
    assert got.start_ns.tolist() == ref.start_ns.tolist()
    np.testing.assert_allclose(got.gains, ref.gains, rtol=1e-15)
    np.testing.assert_allclose(got.losses, ref.losses, rtol=1e-15)
    assert got.time_in_market_ns.tolist() == ref.time_in_market_ns.tolist()


def test_time_in_market_is_clipped_to_the_interval() -> None:
    led = LedgerTracker(1, period_ns=6 * H, window_ns=DAY)
    # 2 h of positions on several books during a 1 h interval count 1 h; hours going back count 0
    feed(led, [100.0, 100.0, 100.0, 100.0], [0, H, 2 * H, 3 * H], [0.0, 2.0, 1.5, 1.75])
    assert led.ledger(0).time_in_market_ns.tolist() == [H + 0 + H // 4]


def test_the_ring_keeps_the_decay_window_only() -> None:
    # period 1 h, window 2 h: 2 // 1 + 2 = 4 checkpoints kept
    led = LedgerTracker(1, period_ns=H, window_ns=2 * H)
    assert led.slots == 4
    times = [i * H // 2 for i in range(14)]  # every 30 min up to 6.5 h
    values = [100.0 * (1.01 if i % 2 else 1.0) for i in range(14)]
    feed(led, values, times, [0.0] * 14)
    got = led.ledger(0)
    # intervals start at 0 … 6 h: checkpoints 0 … 6; the last 4 are kept
    assert got.start_ns.tolist() == [3 * H, 4 * H, 5 * H, 6 * H]
    # each full checkpoint: up 1 % and down again; the running one (6 h) only the rise
    assert got.gains == pytest.approx([math.log(1.01)] * 4)
    assert got.losses == pytest.approx([-math.log(1.01)] * 3 + [0.0])
    # an expired checkpoint weighs 0 anyway: its age from its end is ≥ the window
    ages = [max(0, 6 * H + H // 2 - (s + H)) for s in [2 * H]]
    assert age_decay_weight(ages, 2 * H).tolist() == [0.0]


def test_ledger_nan_value_keeps_the_previous_observation_and_reset_forgets() -> None:
    led = LedgerTracker(2, period_ns=6 * H, window_ns=DAY)
    active = np.ones(2, dtype=bool)
    led.observe(0, [100.0, 100.0], [0.0, 0.0], active)
    led.observe(H, [math.nan, 90.0], [0.0, 0.0], active)
    led.observe(2 * H, [110.0, 90.0], [0.0, 0.0], active)  # uid 0: 0 → 2h in one interval
    assert led.ledger(0).gains.tolist() == pytest.approx([math.log(1.1)])
    assert led.ledger(1).losses.tolist() == pytest.approx([math.log(0.9)])
    led.reset_uid(1)
    assert led.ledger(1).losses.tolist() == [0.0]
    led.observe(3 * H, [110.0, 50.0], [0.0, 0.0], active)  # uid 1 starts again: no interval yet
    assert led.ledger(1).losses.tolist() == [0.0]
    with pytest.raises(ValueError, match="values must be > 0"):
        led.observe(4 * H, [0.0, 1.0], [0.0, 0.0], active)
    with pytest.raises(ValueError, match="before a miner's previous observation"):
        led.observe(2 * H, [1.0, 1.0], [0.0, 0.0], active)


def test_ledger_metrics_edge_cases_one_interval_and_no_losses() -> None:
    led = LedgerTracker(2, period_ns=6 * H, window_ns=DAY)
    active = np.array([True, True])
    led.observe(0, [100.0, 100.0], [0.0, 0.0], active)
    m = led.metrics([0, 1], H)
    assert {k: v.tolist() for k, v in m.items()} == {
        "return": [0.0, 0.0],
        "omega": [0.0, 0.0],
        "sortino": [0.0, 0.0],
    }
    led.observe(H, [110.0, 100.0], [1.0, 0.0], active)  # one interval: a gain, 1 h in market
    m = led.metrics([0, 1], H)
    g = math.log(1.1)
    assert m["return"].tolist() == pytest.approx([g, 0.0])
    assert m["omega"].tolist() == pytest.approx([g / 1e-6, 0.0])  # no losses: gains / floor
    # R/T·H = g / 1h · 24h, no downside → divided by the floor; uid 1 never in the market → 0
    assert m["sortino"].tolist() == pytest.approx([g * 24 / 1e-6, 0.0])


def test_older_losses_weigh_less_with_age_decay() -> None:
    # uid 0 loses 5 % in checkpoint 0 and gains 5 % in checkpoint 2; uid 1 the other way round
    led = LedgerTracker(2, period_ns=6 * H, window_ns=DAY)
    active = np.ones(2, dtype=bool)
    for t, a, b in [(0, 100.0, 100.0), (H, 95.0, 105.0), (12 * H, 95.0, 105.0), (13 * H, 99.75, 99.75)]:
        led.observe(t, [a, b], [0.0, 0.0], active)
    now = 18 * H  # checkpoint 0 ended 12 h ago (f = 0.5), checkpoint 2 is running (weight 1)
    w0 = 1.0 - 0.5**4
    m = led.metrics([0, 1], now)
    assert m["return"].tolist() == pytest.approx(
        [w0 * math.log(0.95) + math.log(1.05), w0 * math.log(1.05) + math.log(0.95)]
    )
    assert m["return"][0] > m["return"][1]  # the same moves, the loss older: better
    ledger0 = led.ledger(0)
    assert ledger0.start_ns.tolist() == [0, 12 * H]  # no interval started in checkpoint 1
    weights = [w0, 1.0]
    assert m["omega"][0] == pytest.approx(ledger_omega(ledger0, weights))
    assert m["sortino"][0] == ledger_sortino(ledger0, weights) == 0.0  # never in the market
    assert m["return"][0] == pytest.approx(ledger_return(ledger0, weights))


def test_ledger_state_round_trip_and_changed_settings(caplog: pytest.LogCaptureFixture) -> None:
    led = LedgerTracker(1, period_ns=6 * H, window_ns=30 * DAY)
    feed(led, VALUES, TIMES, HOURS)
    loaded(LedgerTracker(1, 6 * H, 30 * DAY), led)
    other = LedgerTracker(1, 3 * H, 30 * DAY)
    load_state(other, state_of(led))  # kept with another period: left out, the ledger starts anew
    assert "kept with checkpoint period 21600000000000 ns" in caplog.text
    assert other.ledger(0).gains.size == 0
    assert state_of(other).keys() == state_of(LedgerTracker(1, 3 * H, 30 * DAY)).keys()
    new = state_of(LedgerTracker(1, 3 * H, 30 * DAY))
    assert all(a.tobytes() == new[k].tobytes() for k, a in state_of(other).items())


# --- weights ----------------------------------------------------------------------------------------


def ptn_policies(miners: int = 5, **changes: object) -> Policies:
    """Preset ptn; the tests of the rank curve rank miners never in a position (no minimum exposure)
    unless they ask for the eligibility rules (tested below)."""
    no_minimum = {"min_checkpoints": 0, "min_exposure": 0.0}
    settings = dataclasses.replace(ScoringSettings.preset("ptn"), **{**no_minimum, **changes})
    return Policies(settings, miners, 1)


class InMarket:
    """Hours in positions: uid 2 from 0.5 h on, uid 3 from 0.95 h on (3 minutes of a 1 h
    checkpoint: 5 %), the others never."""

    def closed_count(self, uid: int) -> int:
        return 0

    def hours_in_positions(self, uid: int, now_ns: int) -> float:
        start = {2: 0.5, 3: 0.95}.get(uid)
        return 0.0 if start is None else max(0.0, now_ns / H - start)


def test_only_miners_long_enough_in_the_market_are_ranked() -> None:
    """Checkpoints of 1 h, at least 10 % of one in the market, one such checkpoint to be ranked:
    uid 2 (half of the first hour in a position) is ranked, uid 3 (5 %) and uid 1 (never in a
    position, although its value rose most) get weight 0. uid 0 is the validator."""
    p = ptn_policies(4, min_checkpoints=1, min_exposure=0.1, challenge=False, checkpoint_period_s=3_600.0)
    tracked = np.array([False, True, True, True])
    p.observe(0, 0.0, [[100.0]] * 4, np.zeros((4, 1)), InMarket(), tracked)
    p.observe(H, 0.0, [[100.0], [110.0], [101.0], [105.0]], np.zeros((4, 1)), InMarket(), tracked)
    assert p.ledger.counted([1, 2, 3], H, 0.1).tolist() == [0, 1, 0]
    weights, scores = p.weights([0, 1, 2, 3], H, np.zeros(4), exclude=0)
    assert weights.tolist() == [0.0, 0.0, 1.0, 0.0]  # one miner ranked: the whole curve
    assert scores[[0, 1, 3]].tolist() == [0.0, 0.0, 0.0]
    assert p.scores(H, np.zeros(4), tracked)[[1, 3]].tolist() == [0.0, 0.0]
    loose = ptn_policies(
        4, min_checkpoints=1, min_exposure=0.05, challenge=False, checkpoint_period_s=3_600.0
    )
    loose.observe(0, 0.0, [[100.0]] * 4, np.zeros((4, 1)), InMarket(), tracked)
    loose.observe(H, 0.0, [[100.0], [110.0], [101.0], [105.0]], np.zeros((4, 1)), InMarket(), tracked)
    weights, _ = loose.weights([0, 1, 2, 3], H, np.zeros(4), exclude=0)
    assert weights[1] == 0.0 and weights[2] > 0 and weights[3] > weights[2]  # 5 % is enough now


def test_a_miner_that_stopped_trading_is_not_ranked() -> None:
    """The same market as above with a looser exposure: uids 2 and 3 are ranked, until uid 3 is no
    longer trading (it bought once and holds): then uid 2 takes the whole curve and uid 3 gets 0."""
    p = ptn_policies(4, min_checkpoints=1, min_exposure=0.05, challenge=False, checkpoint_period_s=3_600.0)
    tracked = np.array([False, True, True, True])
    p.observe(0, 0.0, [[100.0]] * 4, np.zeros((4, 1)), InMarket(), tracked)
    p.observe(H, 0.0, [[100.0], [110.0], [101.0], [105.0]], np.zeros((4, 1)), InMarket(), tracked)
    both, _ = p.weights([0, 1, 2, 3], H, np.zeros(4), exclude=0)
    assert both[2] > 0 and both[3] > 0
    trading = np.array([True, True, True, False])
    weights, scores = p.weights([0, 1, 2, 3], H, np.zeros(4), exclude=0, trading=trading)
    assert weights.tolist() == [0.0, 0.0, 1.0, 0.0] and scores[3] == 0.0
    assert p.scores(H, np.zeros(4), tracked, trading)[3] == 0.0
    with pytest.raises(ValueError, match="trading"):
        p.weights([0, 1, 2, 3], H, np.zeros(4), exclude=0, trading=np.ones(3, dtype=bool))


def test_weights_challenge_first_then_the_rank_curve() -> None:
    # uid 0: the validator; 1: eliminated; 2: in its challenge; 3, 4: passed (4 did better)
    # (no positions tracked here: the challenge asks for a 0.5 % return only)
    p = ptn_policies(
        checkpoint_period_s=3_600.0,
        decay_window_s=86_400.0,
        challenge_thresholds=ChallengeThresholds(0.005, 0.0, 0, 0.0),
    )
    assert p.start_challenges([1, 2, 3, 4], 0, 0.0) == [1, 2, 3, 4]
    tracked = np.array([False, True, True, True, True])
    p.observe(0, 0.0, [[100.0]] * 5, np.zeros((5, 1)), NoPositions(), tracked)
    out = p.observe(
        H, 0.0, [[100.0], [50.0], [100.0], [101.0], [103.0]], np.zeros((5, 1)), NoPositions(), tracked
    )
    assert [(r.uid, r.reason) for r in out] == [(1, Reason.DRAWDOWN)]
    assert [p.challenge.status_of(u) for u in (2, 3, 4)] == [Status.ACTIVE, Status.PASSED, Status.PASSED]
    weights, scores = p.weights([0, 1, 2, 3, 4], 2 * H, np.zeros(5), exclude=0)
    # N = 2 competing: curve [1, 10^-1.25] / (1 + 10^-1.25), scaled by 1 - 0.001
    e = 10.0**-1.25
    assert weights.tolist() == pytest.approx([0.0, 0.0, 0.001, 0.999 * e / (1 + e), 0.999 / (1 + e)])
    assert weights.sum() == pytest.approx(1.0)
    # uid 4 ranks first on return and Omega (no losses: both gains / floor), Sortino 0 for both
    assert scores.tolist() == pytest.approx([0.0, 0.0, 0.0, (0.5 + 0.5 + 0.75) / 3, (1 + 1 + 0.75) / 3])


def test_rank_weights_of_many_passed_miners_sum_to_one_and_the_top_40_percent_get_90_percent() -> None:
    n = 100
    p = ptn_policies(miners=n, challenge=False)
    tracked = np.ones(n, dtype=bool)
    p.observe(0, 0.0, np.full((n, 1), 100.0), np.zeros((n, 1)), NoPositions(), tracked)
    p.observe(H, 0.0, (100.0 + np.arange(n, dtype=float))[:, None], np.zeros((n, 1)), NoPositions(), tracked)
    weights, scores = p.weights(list(range(n)), H, np.zeros(n))
    assert weights.sum() == pytest.approx(1.0)
    top = np.argsort(-weights)[:40]
    assert sorted(top.tolist()) == list(range(60, 100))  # the 40 best returns
    assert weights[top].sum() == pytest.approx(0.9 / (1.0 - 10.0**-2.5), rel=1e-9)
    np.testing.assert_allclose(weights, exponential_rank_weights(scores))


def test_only_challenge_miners_share_everything_and_nobody_gets_nothing() -> None:
    p = ptn_policies(miners=3)
    assert p.weights([0, 1, 2], 0, np.zeros(3))[0].tolist() == [0.0, 0.0, 0.0]
    p.start_challenges([1, 2], 0, 0.0)
    assert p.weights([0, 1, 2], 0, np.zeros(3), exclude=0)[0].tolist() == [0.0, 0.5, 0.5]


def test_taos_weights_with_elimination_opted_in() -> None:
    settings = dataclasses.replace(ScoringSettings(), elimination=True)
    p = Policies(settings, 3, 1)
    p.eliminations.eliminate(2, Reason.DAILY_DRAWDOWN, 0, 0.0)
    weights, scores = p.weights([0, 1, 2], 0, np.array([0.2, 0.6, 0.9]))
    assert weights.tolist() == pytest.approx([0.25, 0.75, 0.0])
    assert scores.tolist() == [0.2, 0.6, 0.0]
    assert p.start_challenges([0, 1], 0, 0.0) == []  # challenge off


def test_policies_observe_eliminates_failed_challenges_and_skips_the_validator() -> None:
    p = ptn_policies(miners=3, challenge_period_s=60.0)
    p.start_challenges([1, 2], 0, 0.0)
    tracked = np.array([False, True, True])
    positions = IntervalPositions()
    out = p.observe(30 * S, 5.0, [[100.0], [100.0], [100.0]], np.zeros((3, 1)), positions, tracked)
    assert out == []
    out = p.observe(60 * S, 6.0, [[1.0], [100.0], [99.0]], np.zeros((3, 1)), positions, tracked)
    assert [(r.uid, r.reason.text, r.sim_time_ns, r.wall_time_s, r.value, r.reference) for r in out] == [
        (1, "challenge failed", 60 * S, 6.0, 100.0, 100.0),
        (2, "challenge failed", 60 * S, 6.0, 99.0, 100.0),
    ]
    assert not p.eliminations.is_eliminated(0)  # the validator's own slot fell 99 % but is not watched
    p.reset_uid(1)
    assert not p.eliminations.is_eliminated(1) and p.challenge.status_of(1) == Status.NONE
    assert p.start_challenges([1, 2], 70 * S, 7.0) == [1]  # 2 is eliminated: no new challenge


def test_policies_state_round_trip() -> None:
    p = ptn_policies(miners=3)
    p.start_challenges([1, 2], 0, 0.0)
    tracked = np.array([False, True, True])
    p.observe(5 * S, 1.0, [[100.0], [100.0], [100.0]], np.zeros((3, 1)), NoPositions(), tracked)
    p.observe(10 * S, 2.0, [[100.0], [80.0], [101.0]], np.zeros((3, 1)), NoPositions(), tracked)
    state = state_of(p)
    assert {k.split("/")[0] for k in state} == {"portfolio", "elimination", "challenge", "ledger"}
    loaded(ptn_policies(miners=3), p)
    with pytest.raises(ValueError, match=r"unknown arrays \['rules/x'\]"):
        load_state(ptn_policies(miners=3), {**state, "rules/x": np.zeros(1)})
    with pytest.raises(ValueError, match=r"array portfolio/last_book_values must be float64\[4, 1\]"):
        load_state(ptn_policies(miners=4), state)
    fresh = ptn_policies(miners=3)
    load_state(fresh, {})  # kept by another scheme: the policies start new
    assert fresh.challenge.status().tolist() == [0, 0, 0]


def test_policies_from_state_with_another_ledger_period_starts_the_ledgers_anew(
    caplog: pytest.LogCaptureFixture,
) -> None:
    p = ptn_policies(miners=2)
    tracked = np.array([True, True])
    p.observe(0, 0.0, [[100.0], [100.0]], np.zeros((2, 1)), NoPositions(), tracked)
    p.observe(H, 0.0, [[110.0], [100.0]], np.zeros((2, 1)), NoPositions(), tracked)
    other = dataclasses.replace(p.settings, checkpoint_period_s=3_600.0)
    back = Policies(other, 2, 1)
    load_state(back, state_of(p))
    assert "the ledgers start anew" in caplog.text
    assert back.ledger.ledger(0).gains.size == 0
    assert back.challenge.status().tolist() == p.challenge.status().tolist()


def test_ptn_scores_rank_among_the_registered_miners_only() -> None:
    # challenge off: every slot that is not eliminated competes, but only registered ones are
    # ranked; slot 3 (never registered, empty ledger) must not shift the percentiles
    p = ptn_policies(miners=4, challenge=False)
    tracked = np.array([False, True, True, False])
    p.observe(0, 0.0, [[100.0]] * 4, np.zeros((4, 1)), NoPositions(), tracked)
    p.observe(H, 0.0, [[100.0], [103.0], [101.0], [100.0]], np.zeros((4, 1)), NoPositions(), tracked)
    weights, scores = p.weights([0, 1, 2], H, np.zeros(4), exclude=0)
    # N = 2: uid 1 first on return and Omega, both tied on Sortino (0, never in a position)
    assert scores.tolist() == pytest.approx([0.0, (1 + 1 + 0.75) / 3, (0.5 + 0.5 + 0.75) / 3])
    e = 10.0**-1.25
    assert weights.tolist() == pytest.approx([0.0, 1 / (1 + e), e / (1 + e)])
    assert p.scores(H, np.zeros(4), tracked).tolist() == pytest.approx([0.0, *scores[1:], 0.0])
