"""What the trackers of preset ``ptn`` share: array types, the position statistics they read,
the elimination record and the argument checks."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

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


# --- portfolio value --------------------------------------------------------------------------------
