"""The validator's policies of SPEC §10.2 and the checkpoint ledger of preset ``ptn`` (SPEC §9).

State kept per miner slot between steps, as numpy arrays, with ``to_state``/``from_state`` for the
validator store:

- :class:`PortfolioValues` — each miner's portfolio value, the sum over books of its inventory
  values, a book without a value this step (one-sided) counting with its last finite value;
- :class:`EliminationTracker` — the running maximum and the sim day's maximum of the portfolio
  value; a miner more than 10 % below the first or 5 % below the second is eliminated (also the
  record of challenge failures);
- :class:`ChallengeTracker` — each hotkey's challenge period: start, starting value, and whether it
  passed (:func:`taos.scoring.challenge_passed`) or failed;
- :class:`LedgerTracker` — the checkpoint ledger (summed log gains, log losses, time in market per
  6 h of sim time), built step by step and kept for the decay window only;
- :class:`Policies` — the four together, driven by :class:`ScoringSettings`, and the weights.

The arithmetic is done by the pure functions of :mod:`taos.scoring`. Engine and chain effects
(cancelling orders, not querying eliminated miners) are the validator's (``validator.py``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from taos.scoring import (
    DAY_NS,
    ChallengeThresholds,
    CheckpointLedger,
    challenge_passed,
    challenge_weights,
    exponential_rank_weights,
    ledger_age_weights,
    ledger_omega,
    ledger_return,
    ledger_sortino,
    ptn_score,
    weights_from_scores,
)
from taos.validator.policy import ScoringSettings

log = logging.getLogger("taos.validator")

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

NS_PER_S = 1_000_000_000
NS_PER_HOUR = 3_600 * NS_PER_S


@runtime_checkable
class PositionStats(Protocol):
    """What the challenge period and the ledger need from the position tracker (SPEC §10.1)."""

    def closed_count(self, uid: int) -> int:
        """Positions the miner on ``uid`` has closed since its hotkey registered."""
        ...

    def hours_in_positions(self, uid: int, now_ns: int) -> float:
        """Cumulative hours the miner on ``uid`` has had a position open, up to ``now_ns``."""
        ...


class NoPositions:
    """:class:`PositionStats` of a validator that tracks no positions: none ever closed, no time in
    positions (the challenge's position thresholds then cannot be met unless set to 0)."""

    def closed_count(self, uid: int) -> int:
        return 0

    def hours_in_positions(self, uid: int, now_ns: int) -> float:
        return 0.0


class Reason(IntEnum):
    """Why a miner was eliminated (stored as its number)."""

    NONE = 0
    DRAWDOWN = 1
    DAILY_DRAWDOWN = 2
    CHALLENGE_FAILED = 3

    @property
    def text(self) -> str:
        return _REASON_TEXT[self]


_REASON_TEXT = {
    Reason.NONE: "",
    Reason.DRAWDOWN: "drawdown",
    Reason.DAILY_DRAWDOWN: "daily drawdown",
    Reason.CHALLENGE_FAILED: "challenge failed",
}


class Status(IntEnum):
    """Where a miner is in its challenge period (stored as its number)."""

    NONE = 0  # not started: no hotkey seen on the uid yet (or challenge off)
    ACTIVE = 1
    PASSED = 2
    FAILED = 3


class LedgerSettingsChanged(ValueError):
    """The stored ledger was kept with another checkpoint period or decay window."""


@dataclass(frozen=True)
class Elimination:
    """One elimination: the uid, why, when (sim and wall time), the portfolio value then and the
    reference it was measured against (the maximum for a drawdown, the starting value of the
    challenge period for a failed challenge)."""

    uid: int
    reason: Reason
    sim_time_ns: int
    wall_time_s: float
    value: float
    reference: float


# --- state helpers ---------------------------------------------------------------------------------


def _uid(uid: int, miners: int) -> int:
    if isinstance(uid, bool) or not isinstance(uid, (int, np.integer)) or not 0 <= uid < miners:
        raise ValueError(f"uid must be an integer in [0, {miners}), got {uid!r}")
    return int(uid)


def _count(n: int, name: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0:
        raise ValueError(f"{name} must be a positive integer, got {n!r}")
    return int(n)


def _vector(x: ArrayLike, miners: int, name: str) -> FloatArray:
    a = np.asarray(x, dtype=np.float64)
    if a.shape != (miners,):
        raise ValueError(f"{name} must have shape ({miners},), got {a.shape}")
    return a


def _mask(x: ArrayLike, miners: int, name: str) -> BoolArray:
    a = np.asarray(x)
    if a.shape != (miners,) or a.dtype != np.bool_:
        raise ValueError(f"{name} must be a boolean array of shape ({miners},), got {a.dtype}{list(a.shape)}")
    return a


def _time(t: int, name: str) -> int:
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {t!r}")
    return int(t)


def _load(
    state: Mapping[str, np.ndarray], layout: Mapping[str, tuple[str, tuple[int, ...]]], what: str
) -> dict[str, np.ndarray]:
    """Checked copies of the arrays of ``layout`` (name → dtype, shape) from ``state``."""
    missing = sorted(set(layout) - set(state))
    unknown = sorted(set(state) - set(layout))
    if missing or unknown:
        raise ValueError(f"{what} state: missing {missing}, unknown {unknown}")
    out = {}
    for name, (dtype, shape) in layout.items():
        a = np.asarray(state[name])
        if a.dtype != np.dtype(dtype) or a.shape != shape:
            raise ValueError(
                f"{what} state {name}: expected {dtype}{list(shape)}, got {a.dtype}{list(a.shape)}"
            )
        out[name] = np.array(a)
    return out


# --- portfolio value --------------------------------------------------------------------------------


class PortfolioValues:
    """Each miner's portfolio value: ``Σ_b V_b``, ``V_b = quote_b + mid_b · base_b`` (the validator's
    ``inventory_values``). A book whose value is NaN in a step (no two-sided book) counts with the
    miner's last finite value of that book; a book never valued yet makes the portfolio NaN."""

    def __init__(self, miners: int, books: int) -> None:
        self.miners, self.books = _count(miners, "miners"), _count(books, "books")
        self._last: FloatArray = np.full((self.miners, self.books), np.nan)

    def update(self, inventory_values: ArrayLike) -> FloatArray:
        """Takes a step's ``(miners, books)`` inventory values; returns the portfolio values."""
        v = np.asarray(inventory_values, dtype=np.float64)
        if v.shape != (self.miners, self.books):
            raise ValueError(f"inventory_values must have shape {(self.miners, self.books)}, got {v.shape}")
        self._last = np.where(np.isfinite(v), v, self._last)
        return self.values()

    def values(self) -> FloatArray:
        """The current portfolio values (NaN where a book was never valued)."""
        out: FloatArray = self._last.sum(axis=1)
        return out

    def reset_uid(self, uid: int) -> None:
        self._last[_uid(uid, self.miners)] = np.nan

    def to_state(self) -> dict[str, np.ndarray]:
        return {"last_book_values": self._last.copy()}

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray], miners: int, books: int) -> PortfolioValues:
        out = cls(miners, books)
        out._last = _load(state, {"last_book_values": ("float64", (miners, books))}, "portfolio")[
            "last_book_values"
        ]
        return out


# --- elimination ------------------------------------------------------------------------------------


class EliminationTracker:
    """Drawdown elimination (SPEC §10.2) and the record of every eliminated miner.

    Per miner: the running maximum of its portfolio value since its hotkey was first seen, and the
    maximum of the current sim day (day ``⌊t / 24 h⌋``; the first value of a new day starts the new
    day's maximum). At each :meth:`observe` a miner is eliminated when

        max - V > max_drawdown · max            (reason ``drawdown``, 10 % by default), or
        day_max - V > max_daily_drawdown · day_max   (reason ``daily drawdown``, 5 %).

    Both are strict: exactly 10 % below the maximum is not eliminated. An eliminated miner stays
    eliminated until :meth:`reset_uid` (its uid re-registered with a new hotkey).
    """

    _FIELDS = ("running_max", "day_max", "day", "reason", "sim_time_ns", "wall_time_s", "value", "reference")

    def __init__(
        self, miners: int, max_drawdown: float = 0.10, max_daily_drawdown: float = 0.05, day_ns: int = DAY_NS
    ) -> None:
        self.miners = _count(miners, "miners")
        for name, x in (("max_drawdown", max_drawdown), ("max_daily_drawdown", max_daily_drawdown)):
            if not (isinstance(x, (int, float)) and 0.0 < x < 1.0):
                raise ValueError(f"{name} must lie in (0, 1), got {x!r}")
        self.max_drawdown = float(max_drawdown)
        self.max_daily_drawdown = float(max_daily_drawdown)
        self.day_ns = _count(day_ns, "day_ns")
        m = self.miners
        self._running_max: FloatArray = np.full(m, np.nan)
        self._day_max: FloatArray = np.full(m, np.nan)
        self._day: IntArray = np.full(m, -1, dtype=np.int64)
        self._reason: NDArray[np.int8] = np.zeros(m, dtype=np.int8)
        self._sim_time_ns: IntArray = np.full(m, -1, dtype=np.int64)
        self._wall_time_s: FloatArray = np.full(m, np.nan)
        self._value: FloatArray = np.full(m, np.nan)
        self._reference: FloatArray = np.full(m, np.nan)

    @property
    def eliminated(self) -> BoolArray:
        """Mask of the eliminated miners (a copy)."""
        out: BoolArray = self._reason != Reason.NONE
        return out

    def is_eliminated(self, uid: int) -> bool:
        return bool(self._reason[_uid(uid, self.miners)] != Reason.NONE)

    def running_max(self) -> FloatArray:
        return self._running_max.copy()

    def day_max(self) -> FloatArray:
        return self._day_max.copy()

    def record(self, uid: int) -> Elimination | None:
        """The elimination of ``uid``, or None when it is not eliminated."""
        u = _uid(uid, self.miners)
        if self._reason[u] == Reason.NONE:
            return None
        return Elimination(
            u,
            Reason(int(self._reason[u])),
            int(self._sim_time_ns[u]),
            float(self._wall_time_s[u]),
            float(self._value[u]),
            float(self._reference[u]),
        )

    def records(self) -> list[Elimination]:
        """Every current elimination, by uid."""
        return [r for u in range(self.miners) if (r := self.record(u)) is not None]

    def observe(
        self, time_ns: int, values: ArrayLike, active: ArrayLike, wall_time_s: float
    ) -> list[Elimination]:
        """Updates the maxima with the portfolio values of the ``active`` miners (NaN values are
        skipped) and eliminates those beyond a limit; returns the new eliminations.

        Raises:
            ValueError: a negative or non-integer time, or arrays of the wrong shape.
        """
        t = _time(time_ns, "time_ns")
        v = _vector(values, self.miners, "values")
        ok = _mask(active, self.miners, "active") & np.isfinite(v) & ~self.eliminated
        day = t // self.day_ns
        new_day = ok & (self._day != day)
        self._day_max = np.where(new_day, v, self._day_max)
        self._day = np.where(ok, day, self._day)
        with np.errstate(invalid="ignore"):
            self._day_max = np.where(ok, np.fmax(self._day_max, v), self._day_max)
            self._running_max = np.where(ok, np.fmax(self._running_max, v), self._running_max)
            total = ok & (self._running_max - v > self.max_drawdown * self._running_max)
            daily = ok & ~total & (self._day_max - v > self.max_daily_drawdown * self._day_max)
        out = []
        for u in np.flatnonzero(total | daily):
            reason = Reason.DRAWDOWN if total[u] else Reason.DAILY_DRAWDOWN
            reference = self._running_max[u] if total[u] else self._day_max[u]
            out.append(self.eliminate(int(u), reason, t, wall_time_s, float(v[u]), float(reference)))
        return out

    def eliminate(
        self,
        uid: int,
        reason: Reason,
        time_ns: int,
        wall_time_s: float,
        value: float = math.nan,
        reference: float = math.nan,
    ) -> Elimination:
        """Records an elimination (e.g. a failed challenge). An already eliminated miner keeps its
        first record."""
        u = _uid(uid, self.miners)
        if Reason(reason) == Reason.NONE:
            raise ValueError("an elimination needs a reason")
        if self._reason[u] == Reason.NONE:
            self._reason[u] = Reason(reason)
            self._sim_time_ns[u] = _time(time_ns, "time_ns")
            self._wall_time_s[u] = float(wall_time_s)
            self._value[u] = value
            self._reference[u] = reference
        record = self.record(u)
        assert record is not None
        return record

    def reset_uid(self, uid: int) -> None:
        """A new hotkey on ``uid``: not eliminated, maxima forgotten."""
        u = _uid(uid, self.miners)
        self._running_max[u] = np.nan
        self._day_max[u] = np.nan
        self._day[u] = -1
        self._reason[u] = Reason.NONE
        self._sim_time_ns[u] = -1
        self._wall_time_s[u] = np.nan
        self._value[u] = np.nan
        self._reference[u] = np.nan

    def to_state(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, f"_{name}").copy() for name in self._FIELDS}

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, np.ndarray],
        miners: int,
        max_drawdown: float = 0.10,
        max_daily_drawdown: float = 0.05,
        day_ns: int = DAY_NS,
    ) -> EliminationTracker:
        out = cls(miners, max_drawdown, max_daily_drawdown, day_ns)
        m = (out.miners,)
        layout = {
            "running_max": ("float64", m),
            "day_max": ("float64", m),
            "day": ("int64", m),
            "reason": ("int8", m),
            "sim_time_ns": ("int64", m),
            "wall_time_s": ("float64", m),
            "value": ("float64", m),
            "reference": ("float64", m),
        }
        arrays = _load(state, layout, "elimination")
        if not np.isin(arrays["reason"], [int(r) for r in Reason]).all():
            raise ValueError("elimination state reason holds an unknown reason")
        for name, a in arrays.items():
            setattr(out, f"_{name}", a)
        return out


# --- challenge period -------------------------------------------------------------------------------


class ChallengeTracker:
    """The challenge period of SPEC §10.2, per miner slot.

    :meth:`start` opens a hotkey's challenge (when the validator first sees it). The starting value
    is the first finite portfolio value observed after that. At every :meth:`observe` a miner in
    its challenge **passes** when :func:`taos.scoring.challenge_passed` holds for

        total return     V / V_start - 1
        median Sharpe    the median over books of its per-book Sharpe (the validator's ScoreState)
        closed positions, hours in positions   from :class:`PositionStats`

    (it may pass early); otherwise it **fails** once the period is over (``elapsed ≥ period``,
    elapsed in sim time or wall time). A miner that passes at the step its period ends passes.
    """

    _FIELDS = ("status", "start_sim_ns", "start_wall_s", "start_value", "end_sim_ns", "end_wall_s")

    def __init__(
        self,
        miners: int,
        period_s: float = 30 * 86_400.0,
        clock: str = "sim",
        thresholds: ChallengeThresholds | None = None,
    ) -> None:
        self.miners = _count(miners, "miners")
        if not (isinstance(period_s, (int, float)) and math.isfinite(period_s) and period_s > 0):
            raise ValueError(f"period_s must be a positive number, got {period_s!r}")
        if clock not in ("sim", "wall"):
            raise ValueError(f"clock must be sim or wall, got {clock!r}")
        self.period_s = float(period_s)
        self.clock = clock
        self.thresholds = thresholds or ChallengeThresholds()
        m = self.miners
        self._status: NDArray[np.int8] = np.zeros(m, dtype=np.int8)
        self._start_sim_ns: IntArray = np.full(m, -1, dtype=np.int64)
        self._start_wall_s: FloatArray = np.full(m, np.nan)
        self._start_value: FloatArray = np.full(m, np.nan)
        self._end_sim_ns: IntArray = np.full(m, -1, dtype=np.int64)
        self._end_wall_s: FloatArray = np.full(m, np.nan)

    def status(self) -> NDArray[np.int8]:
        """:class:`Status` of every slot, as numbers (a copy)."""
        return self._status.copy()

    def status_of(self, uid: int) -> Status:
        return Status(int(self._status[_uid(uid, self.miners)]))

    def start_value(self) -> FloatArray:
        return self._start_value.copy()

    def start(self, uid: int, time_ns: int, wall_time_s: float) -> None:
        """Opens the challenge of the hotkey now on ``uid``."""
        u = _uid(uid, self.miners)
        self.reset_uid(u)
        self._status[u] = Status.ACTIVE
        self._start_sim_ns[u] = _time(time_ns, "time_ns")
        self._start_wall_s[u] = float(wall_time_s)

    def elapsed_s(self, time_ns: int, wall_time_s: float) -> FloatArray:
        """Seconds each slot has been in its challenge, on the challenge clock (NaN if not started)."""
        if self.clock == "sim":
            started = self._start_sim_ns >= 0
            return np.where(started, (time_ns - self._start_sim_ns) / NS_PER_S, np.nan)
        return wall_time_s - self._start_wall_s

    def observe(
        self,
        time_ns: int,
        wall_time_s: float,
        values: ArrayLike,
        median_sharpe: ArrayLike,
        positions: PositionStats,
        active: ArrayLike,
    ) -> tuple[list[int], list[int]]:
        """One step for the ``active`` miners in their challenge; returns the uids that passed and
        those that failed now. The caller eliminates the failed ones (reason ``challenge failed``)."""
        t = _time(time_ns, "time_ns")
        v = _vector(values, self.miners, "values")
        sharpe = _vector(median_sharpe, self.miners, "median_sharpe")
        on = _mask(active, self.miners, "active") & (self._status == Status.ACTIVE)
        if not on.any():
            return [], []
        first = on & np.isnan(self._start_value) & np.isfinite(v)
        self._start_value = np.where(first, v, self._start_value)
        uids = np.flatnonzero(on)
        closed = np.zeros(self.miners)
        hours = np.zeros(self.miners)
        for u in uids:
            closed[u] = float(positions.closed_count(int(u)))
            hours[u] = float(positions.hours_in_positions(int(u), t))
        with np.errstate(invalid="ignore", divide="ignore"):
            ret = v / self._start_value - 1.0
        passed = on & challenge_passed(ret, sharpe, closed, hours, self.thresholds)
        over = self.elapsed_s(t, wall_time_s) >= self.period_s
        failed = on & ~passed & over
        for mask, status in ((passed, Status.PASSED), (failed, Status.FAILED)):
            self._status[mask] = status
            self._end_sim_ns[mask] = t
            self._end_wall_s[mask] = wall_time_s
        return [int(u) for u in np.flatnonzero(passed)], [int(u) for u in np.flatnonzero(failed)]

    def reset_uid(self, uid: int) -> None:
        """Forgets the slot's challenge (status ``NONE``)."""
        u = _uid(uid, self.miners)
        self._status[u] = Status.NONE
        self._start_sim_ns[u] = -1
        self._start_wall_s[u] = np.nan
        self._start_value[u] = np.nan
        self._end_sim_ns[u] = -1
        self._end_wall_s[u] = np.nan

    def to_state(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, f"_{name}").copy() for name in self._FIELDS}

    @classmethod
    def from_state(
        cls,
        state: Mapping[str, np.ndarray],
        miners: int,
        period_s: float = 30 * 86_400.0,
        clock: str = "sim",
        thresholds: ChallengeThresholds | None = None,
    ) -> ChallengeTracker:
        out = cls(miners, period_s, clock, thresholds)
        m = (out.miners,)
        layout = {
            "status": ("int8", m),
            "start_sim_ns": ("int64", m),
            "start_wall_s": ("float64", m),
            "start_value": ("float64", m),
            "end_sim_ns": ("int64", m),
            "end_wall_s": ("float64", m),
        }
        arrays = _load(state, layout, "challenge")
        if not np.isin(arrays["status"], [int(s) for s in Status]).all():
            raise ValueError("challenge state status holds an unknown status")
        for name, a in arrays.items():
            setattr(out, f"_{name}", a)
        return out


# --- checkpoint ledger ------------------------------------------------------------------------------


class LedgerTracker:
    """The checkpoint ledger of every miner (SPEC §9 preset ``ptn``), built step by step.

    Checkpoint ``k`` covers ``[k·P, (k+1)·P)`` of sim time (``P`` = 6 h), as in
    :func:`taos.scoring.checkpoint_ledger`: the interval from one observation to the next, with log
    change ``c = ln(V / V_prev)``, is booked whole in the checkpoint of its start, into
    ``gains += max(c, 0)``, ``losses += min(c, 0)`` and ``time_in_market += τ``, where ``τ`` is the
    growth of the miner's hours in positions over the interval (:class:`PositionStats`), clipped to
    ``[0, interval]``. Only the checkpoints younger than the decay window are kept (a ring of
    ``⌊window / P⌋ + 2`` checkpoints shared by all miners): an older one has age weight 0.
    """

    _FIELDS = (
        "gains",
        "losses",
        "time_in_market_ns",
        "checkpoint",
        "prev_value",
        "prev_time_ns",
        "prev_hours",
    )

    def __init__(self, miners: int, period_ns: int = 6 * NS_PER_HOUR, window_ns: int = 30 * DAY_NS) -> None:
        self.miners = _count(miners, "miners")
        self.period_ns = _count(period_ns, "period_ns")
        self.window_ns = _count(window_ns, "window_ns")
        self.slots = self.window_ns // self.period_ns + 2
        m, k = self.miners, self.slots
        self._gains: FloatArray = np.zeros((m, k))
        self._losses: FloatArray = np.zeros((m, k))
        self._time_in_market_ns: IntArray = np.zeros((m, k), dtype=np.int64)
        self._checkpoint: IntArray = np.full(k, -1, dtype=np.int64)  # checkpoint index of each slot
        self._prev_value: FloatArray = np.full(m, np.nan)
        self._prev_time_ns: IntArray = np.full(m, -1, dtype=np.int64)
        self._prev_hours: FloatArray = np.full(m, np.nan)

    def observe(
        self, time_ns: int, values: ArrayLike, hours_in_positions: ArrayLike, active: ArrayLike
    ) -> None:
        """Books the interval since each ``active`` miner's previous value. A NaN value books
        nothing and leaves the previous observation in place; an interval whose checkpoint has left
        the ring (older than the window) is not booked.

        Raises:
            ValueError: time before a miner's previous observation, a value ≤ 0, wrong shapes.
        """
        t = _time(time_ns, "time_ns")
        v = _vector(values, self.miners, "values")
        h = _vector(hours_in_positions, self.miners, "hours_in_positions")
        ok = _mask(active, self.miners, "active") & np.isfinite(v)
        if (v[ok] <= 0).any():
            raise ValueError("values must be > 0 (log changes are taken)")
        if (ok & (self._prev_time_ns > t)).any():
            raise ValueError(f"time_ns {t} is before a miner's previous observation")
        idx = np.flatnonzero(ok & np.isfinite(self._prev_value) & (self._prev_time_ns < t))
        if idx.size:
            start = self._prev_time_ns[idx]
            cp = start // self.period_ns
            slot = cp % self.slots
            for s, c in zip(*np.unique(np.stack([slot, cp]), axis=1), strict=True):
                if self._checkpoint[s] < c:  # a new checkpoint takes over the slot of an expired one
                    self._checkpoint[s] = c
                    self._gains[:, s] = 0.0
                    self._losses[:, s] = 0.0
                    self._time_in_market_ns[:, s] = 0
            keep = self._checkpoint[slot] == cp  # an interval older than the ring's is not booked
            idx, start, slot = idx[keep], start[keep], slot[keep]
            change = np.log(v[idx] / self._prev_value[idx])
            np.add.at(self._gains, (idx, slot), np.maximum(change, 0.0))
            np.add.at(self._losses, (idx, slot), np.minimum(change, 0.0))
            with np.errstate(invalid="ignore"):
                dh = np.nan_to_num(h[idx] - self._prev_hours[idx], nan=0.0, posinf=0.0, neginf=0.0)
            tau = np.minimum(np.round(np.maximum(dh, 0.0) * NS_PER_HOUR), t - start).astype(np.int64)
            np.add.at(self._time_in_market_ns, (idx, slot), tau)
        self._prev_value = np.where(ok, v, self._prev_value)
        self._prev_time_ns = np.where(ok, t, self._prev_time_ns)
        self._prev_hours = np.where(ok, h, self._prev_hours)

    def ledger(self, uid: int) -> CheckpointLedger:
        """The miner's checkpoints in time order (the slots in use; zeros where it had no data)."""
        u = _uid(uid, self.miners)
        used = np.flatnonzero(self._checkpoint >= 0)
        order = used[np.argsort(self._checkpoint[used])]
        return CheckpointLedger(
            self._checkpoint[order] * self.period_ns,
            self._gains[u, order].copy(),
            self._losses[u, order].copy(),
            self._time_in_market_ns[u, order].copy(),
            self.period_ns,
        )

    def metrics(self, uids: Sequence[int], now_ns: int, decay_exponent: float = 4.0) -> dict[str, FloatArray]:
        """``return``, ``omega`` and ``sortino`` of each of ``uids``' ledgers, every checkpoint
        weighted by its age (:func:`taos.scoring.ledger_age_weights` over the window)."""
        out = {name: np.zeros(len(uids)) for name in ("return", "omega", "sortino")}
        for i, uid in enumerate(uids):
            ledger = self.ledger(uid)
            w = ledger_age_weights(ledger, now_ns, self.window_ns, decay_exponent)
            out["return"][i] = ledger_return(ledger, w)
            out["omega"][i] = ledger_omega(ledger, w)
            out["sortino"][i] = ledger_sortino(ledger, w)
        return out

    def reset_uid(self, uid: int) -> None:
        u = _uid(uid, self.miners)
        self._gains[u] = 0.0
        self._losses[u] = 0.0
        self._time_in_market_ns[u] = 0
        self._prev_value[u] = np.nan
        self._prev_time_ns[u] = -1
        self._prev_hours[u] = np.nan

    def to_state(self) -> dict[str, np.ndarray]:
        out = {name: getattr(self, f"_{name}").copy() for name in self._FIELDS}
        out["params"] = np.array([self.period_ns, self.window_ns], dtype=np.int64)
        return out

    @classmethod
    def from_state(
        cls, state: Mapping[str, np.ndarray], miners: int, period_ns: int, window_ns: int
    ) -> LedgerTracker:
        out = cls(miners, period_ns, window_ns)
        m, k = out.miners, out.slots
        layout = {
            "gains": ("float64", (m, k)),
            "losses": ("float64", (m, k)),
            "time_in_market_ns": ("int64", (m, k)),
            "checkpoint": ("int64", (k,)),
            "prev_value": ("float64", (m,)),
            "prev_time_ns": ("int64", (m,)),
            "prev_hours": ("float64", (m,)),
            "params": ("int64", (2,)),
        }
        params = np.asarray(state.get("params", np.zeros(0)))
        if params.shape == (2,) and (int(params[0]), int(params[1])) != (out.period_ns, out.window_ns):
            raise LedgerSettingsChanged(
                f"ledger state was kept with checkpoint period {int(params[0])} ns and window "
                f"{int(params[1])} ns, not {out.period_ns} ns and {out.window_ns} ns"
            )
        arrays = _load(state, layout, "ledger")
        del arrays["params"]
        for name, a in arrays.items():
            setattr(out, f"_{name}", a)
        return out


# --- the policies together --------------------------------------------------------------------------


class Policies:
    """Portfolio values, eliminations, challenge periods and ledgers of all miner slots, as the
    :class:`ScoringSettings` ask; the validator calls :meth:`observe` once per step after the grace
    period and :meth:`weights` when it sets weights."""

    def __init__(self, settings: ScoringSettings, miners: int, books: int) -> None:
        self.settings = settings
        self.miners = _count(miners, "miners")
        self.books = _count(books, "books")
        s = settings
        self.portfolio = PortfolioValues(miners, books)
        self.eliminations = EliminationTracker(miners, s.max_drawdown, s.max_daily_drawdown)
        self.challenge = ChallengeTracker(
            miners, s.challenge_period_s, s.challenge_clock, s.challenge_thresholds
        )
        self.ledger = LedgerTracker(miners, s.checkpoint_period_ns, s.decay_window_ns)

    @property
    def eliminated(self) -> BoolArray:
        return self.eliminations.eliminated

    def start_challenges(self, uids: Sequence[int], time_ns: int, wall_time_s: float) -> list[int]:
        """Opens the challenge of every uid in ``uids`` that has none yet (a hotkey seen for the
        first time, also at the first start); returns those uids. Nothing when the challenge is off."""
        if not self.settings.challenge:
            return []
        status = self.challenge.status()
        new = [int(u) for u in uids if status[u] == Status.NONE and not self.eliminations.is_eliminated(u)]
        for u in new:
            self.challenge.start(u, time_ns, wall_time_s)
        return new

    def observe(
        self,
        time_ns: int,
        wall_time_s: float,
        inventory_values: ArrayLike,
        book_sharpes: ArrayLike,
        positions: PositionStats,
        tracked: ArrayLike,
    ) -> list[Elimination]:
        """One step: portfolio values, drawdown eliminations, challenge passes and failures, ledger;
        returns the new eliminations. ``tracked`` masks the miners to police (registered uids, not
        the validator's own); ``book_sharpes`` is the ``(miners, books)`` Sharpe of the validator's
        scoring state."""
        s = self.settings
        values = self.portfolio.update(inventory_values)
        mask = _mask(tracked, self.miners, "tracked")
        new: list[Elimination] = []
        if s.elimination:
            new += self.eliminations.observe(time_ns, values, mask & ~self.eliminated, wall_time_s)
        if s.challenge:
            sharpe = np.asarray(book_sharpes, dtype=np.float64)
            if sharpe.shape != (self.miners, self.books):
                raise ValueError(
                    f"book_sharpes must have shape {(self.miners, self.books)}, got {sharpe.shape}"
                )
            median = np.median(sharpe, axis=1) if self.books else np.zeros(self.miners)
            _, failed = self.challenge.observe(
                time_ns, wall_time_s, values, median, positions, mask & ~self.eliminated
            )
            start = self.challenge.start_value()
            for u in failed:
                new.append(
                    self.eliminations.eliminate(
                        u, Reason.CHALLENGE_FAILED, time_ns, wall_time_s, float(values[u]), float(start[u])
                    )
                )
        if s.weights == "ptn":
            live = mask & ~self.eliminated
            hours = np.zeros(self.miners)
            for uid in np.flatnonzero(live):
                hours[uid] = float(positions.hours_in_positions(int(uid), time_ns))
            self.ledger.observe(time_ns, values, hours, live)
        return new

    def reset_uid(self, uid: int) -> None:
        """A new hotkey on ``uid``: everything about the previous one is forgotten."""
        self.portfolio.reset_uid(uid)
        self.eliminations.reset_uid(uid)
        self.challenge.reset_uid(uid)
        self.ledger.reset_uid(uid)

    def competing(self) -> BoolArray:
        """Miners that compete for the rank-curve weights: not eliminated and, with the challenge
        on, passed."""
        out = ~self.eliminated
        if self.settings.challenge:
            out &= self.challenge.status() == Status.PASSED
        return out

    def in_challenge(self) -> BoolArray:
        if not self.settings.challenge:
            return np.zeros(self.miners, dtype=np.bool_)
        out: BoolArray = (self.challenge.status() == Status.ACTIVE) & ~self.eliminated
        return out

    def scores(self, now_ns: int, ema_scores: ArrayLike, eligible: ArrayLike | None = None) -> FloatArray:
        """The score of every slot that the weights are made from: preset ``ptn``'s
        :func:`taos.scoring.ptn_score` of the competing miners' ledgers (ranked among the competing
        miners that are ``eligible``, e.g. registered), or the EMA scores; 0 for the others."""
        competing = self.competing()
        if eligible is not None:
            competing &= _mask(eligible, self.miners, "eligible")
        out = np.zeros(self.miners)
        uids = [int(u) for u in np.flatnonzero(competing)]
        if self.settings.weights == "ptn":
            if uids:
                metrics = self.ledger.metrics(uids, now_ns, self.settings.decay_exponent)
                out[uids] = ptn_score(metrics, self.settings.metric_weights)
        else:
            ema = _vector(ema_scores, self.miners, "ema_scores")
            out[uids] = ema[uids]
        return out

    def weights(
        self, uids: Sequence[int], now_ns: int, ema_scores: ArrayLike, exclude: int | None = None
    ) -> tuple[FloatArray, FloatArray]:
        """Weights and scores of ``uids`` (the registered ones; ``exclude`` = the validator's own
        uid gets 0). Competing miners share the weight by the rank curve (``ptn``) or in proportion
        to their EMA scores (``taos``); miners in their challenge get ``challenge_weight`` each, the
        competing ones the rest (:func:`taos.scoring.challenge_weights`); eliminated ones 0."""
        ids = np.asarray([int(u) for u in uids], dtype=np.int64)
        keep = np.ones(len(ids), dtype=np.bool_) if exclude is None else ids != exclude
        eligible = np.zeros(self.miners, dtype=np.bool_)
        eligible[ids[keep]] = True
        scores = self.scores(now_ns, ema_scores, eligible)
        competing = self.competing()[ids] & keep
        challenge = self.in_challenge()[ids] & keep
        s = self.settings
        if s.weights == "ptn":
            ranked = np.where(competing, scores[ids], np.nan)
            base = exponential_rank_weights(ranked, s.rank_share, s.rank_fraction)
        else:
            base = weights_from_scores(np.where(competing, scores[ids], 0.0))
        weights = challenge_weights(base, challenge, s.challenge_weight)
        return weights, np.where(competing, scores[ids], 0.0)

    # --- persistence ----------------------------------------------------------------------------

    def to_state(self) -> dict[str, np.ndarray]:
        """All state as plain arrays, names prefixed by part (``elimination/…`` etc.)."""
        out: dict[str, np.ndarray] = {}
        for prefix, part in self._parts().items():
            for name, a in part.to_state().items():
                out[f"{prefix}/{name}"] = a
        return out

    def _parts(
        self,
    ) -> dict[str, PortfolioValues | EliminationTracker | ChallengeTracker | LedgerTracker]:
        return {
            "portfolio": self.portfolio,
            "elimination": self.eliminations,
            "challenge": self.challenge,
            "ledger": self.ledger,
        }

    @classmethod
    def from_state(
        cls, state: Mapping[str, np.ndarray], settings: ScoringSettings, miners: int, books: int
    ) -> Policies:
        """Rebuilds from :meth:`to_state` output with the current settings.

        A ledger kept with another checkpoint period or decay window cannot be carried over: it is
        dropped with a warning and the ledgers start anew (eliminations and challenges are kept).

        Raises:
            ValueError: a missing, unknown or malformed part (the message names it).
        """
        out = cls(settings, miners, books)
        parts: dict[str, dict[str, np.ndarray]] = {}
        for key, a in state.items():
            prefix, sep, name = key.partition("/")
            if not sep or prefix not in ("portfolio", "elimination", "challenge", "ledger"):
                raise ValueError(f"policy state: unknown array {key!r}")
            parts.setdefault(prefix, {})[name] = a
        s = settings
        out.portfolio = PortfolioValues.from_state(parts.get("portfolio", {}), miners, books)
        out.eliminations = EliminationTracker.from_state(
            parts.get("elimination", {}), miners, s.max_drawdown, s.max_daily_drawdown
        )
        out.challenge = ChallengeTracker.from_state(
            parts.get("challenge", {}),
            miners,
            s.challenge_period_s,
            s.challenge_clock,
            s.challenge_thresholds,
        )
        try:
            out.ledger = LedgerTracker.from_state(
                parts.get("ledger", {}), miners, s.checkpoint_period_ns, s.decay_window_ns
            )
        except LedgerSettingsChanged as e:
            log.warning("%s: the ledgers start anew", e)
        return out
