"""The running maximum and the sim day's maximum of each portfolio value; a miner more than
``max_drawdown`` below the first or ``max_daily_drawdown`` below the second is eliminated (also
the record of challenge failures)."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from taos.scoring import (
    DAY_NS,
)
from taos.validator.persisted import Persisted, Stored
from taos.validator.schemes.ptn.common import (
    BoolArray,
    Elimination,
    FloatArray,
    IntArray,
    Reason,
    _count,
    _mask,
    _time,
    _uid,
    _vector,
)


class EliminationTracker(Persisted):
    """Drawdown elimination (SPEC §10.2) and the record of every eliminated miner.

    Per miner: the running maximum of its portfolio value since its hotkey was first seen, and the
    maximum of the current sim day (day ``⌊t / 24 h⌋``; the first value of a new day starts the new
    day's maximum). At each :meth:`observe` a miner is eliminated when

        max - V > max_drawdown · max            (reason ``drawdown``, 10 % by default), or
        day_max - V > max_daily_drawdown · day_max   (reason ``daily drawdown``, 5 %).

    Both are strict: exactly 10 % below the maximum is not eliminated. An eliminated miner stays
    eliminated until :meth:`reset_uid` (its uid re-registered with a new hotkey).
    """

    STORED: ClassVar[dict[str, Stored]] = {
        "running_max": Stored("float64", ("miners",), np.nan),
        "day_max": Stored("float64", ("miners",), np.nan),
        "day": Stored("int64", ("miners",), -1),
        "reason": Stored("int8", ("miners",), Reason.NONE, values=Reason),
        "sim_time_ns": Stored("int64", ("miners",), -1),
        "wall_time_s": Stored("float64", ("miners",), np.nan),
        "value": Stored("float64", ("miners",), np.nan),
        "reference": Stored("float64", ("miners",), np.nan),
    }

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
        self._running_max: FloatArray
        self._day_max: FloatArray
        self._day: IntArray
        self._reason: NDArray[np.int8]
        self._sim_time_ns: IntArray
        self._wall_time_s: FloatArray
        self._value: FloatArray
        self._reference: FloatArray
        self.allocate()

    def sizes(self) -> dict[str, int]:
        return {"miners": self.miners}

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
        self.reset_entry(_uid(uid, self.miners))


# --- challenge period -------------------------------------------------------------------------------
