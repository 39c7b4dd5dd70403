"""Each hotkey's challenge period: start, starting value, and whether it passed
(:func:`taos.scoring.challenge_passed`) or failed."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from taos.scoring import (
    ChallengeThresholds,
    challenge_passed,
)
from taos.validator.persisted import Persisted, Stored
from taos.validator.schemes.ptn.common import (
    NS_PER_S,
    FloatArray,
    IntArray,
    PositionStats,
    Status,
    _count,
    _mask,
    _time,
    _uid,
    _vector,
)


class ChallengeTracker(Persisted):
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

    STORED: ClassVar[dict[str, Stored]] = {
        "status": Stored("int8", ("miners",), Status.NONE, values=Status),
        "start_sim_ns": Stored("int64", ("miners",), -1),
        "start_wall_s": Stored("float64", ("miners",), np.nan),
        "start_value": Stored("float64", ("miners",), np.nan),
        "end_sim_ns": Stored("int64", ("miners",), -1),
        "end_wall_s": Stored("float64", ("miners",), np.nan),
    }

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
        self._status: NDArray[np.int8]
        self._start_sim_ns: IntArray
        self._start_wall_s: FloatArray
        self._start_value: FloatArray
        self._end_sim_ns: IntArray
        self._end_wall_s: FloatArray
        self.allocate()

    def sizes(self) -> dict[str, int]:
        return {"miners": self.miners}

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
        self.reset_entry(_uid(uid, self.miners))


# --- checkpoint ledger ------------------------------------------------------------------------------
