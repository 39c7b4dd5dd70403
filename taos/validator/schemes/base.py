"""The interface of a scoring scheme: how a validator turns what its miners did into scores and
weights (SPEC §9-§10). The validator calls it at fixed points of its loop and never asks which
scheme it has; a scheme is chosen by name (``taos.validator.schemes.make_scheme``).

Every scheme keeps the preset ``taos`` history (:class:`~taos.validator.history.ScoreState`: the
inventory-value windows, the traded volume buckets, the EMA scores), because the trading rules
read its 24 h volumes (the volume cap of SPEC §8) whatever the scheme.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from taos.validator.history import ScoreParams, ScoreState
from taos.validator.persisted import Persisted, within
from taos.validator.policy import ScoringSettings

if TYPE_CHECKING:
    from taos.validator.schemes.ptn.common import Elimination, PositionStats

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Observation:
    """One step as a scheme sees it (after the grace period)."""

    step_index: int
    time_ns: int  # simulation time at the end of the step
    wall_time_s: float  # wall clock (challenge periods in wall time, elimination records)
    values: FloatArray  # (slots, books) inventory values in quote units; NaN for a one-sided book
    holding: FloatArray  # (books,) the starting inventory's value at the mid, quote + mid x base (NaN)
    traded_totals: NDArray[np.int64]  # (slots, books) cumulative traded quote of each account
    tracked: BoolArray  # (slots,) the registered uids, except the validator's own
    positions: PositionStats  # closed positions and hours in positions, per uid

    def trading_pnl(self) -> FloatArray:
        """``(slots, books)`` what the miners' trading added to their starting inventories, valued at
        the same mid: ``values - holding`` (0 for an account that kept its starting balances)."""
        out: FloatArray = self.values - self.holding[None, :]
        return out


class ScoringScheme(ABC, Persisted):
    """A scoring regime. Subclasses set ``name`` and implement :meth:`scores` and :meth:`weights`;
    the other hooks have neutral defaults (nothing excluded, nothing to start, no extra state).

    Saved and restored as a :class:`~taos.validator.persisted.Persisted` part: :attr:`history`,
    plus what a subclass adds to ``PARTS`` (its own parts: preset ``ptn`` its ``policy``)."""

    name: ClassVar[str]
    PARTS: ClassVar[dict[str, str]] = {"history": "history"}

    def __init__(self, settings: ScoringSettings, params: ScoreParams, slots: int, books: int) -> None:
        self.settings = settings
        self.slots, self.books = slots, books
        self.history = ScoreState(params, slots, books)

    def observe(self, obs: Observation) -> list[Elimination]:
        """One step's values and volumes; returns the miners excluded by it (none by default)."""
        self.history.observe(obs.step_index, obs.time_ns, obs.values, obs.traded_totals, active=obs.tracked)
        return []

    @abstractmethod
    def scores(self, now_ns: int, tracked: BoolArray) -> FloatArray:
        """The score of every slot that its weight comes from (0 for the untracked ones)."""

    @abstractmethod
    def weights(self, uids: Sequence[int], now_ns: int, exclude: int | None) -> tuple[FloatArray, FloatArray]:
        """Weights and scores of the registered ``uids``; ``exclude`` is the validator's own uid."""

    def excluded(self) -> BoolArray:
        """Slots that are neither queried nor allowed orders (e.g. eliminated miners)."""
        return np.zeros(self.slots, dtype=np.bool_)

    def register(self, uids: Sequence[int], time_ns: int, wall_time_s: float) -> list[int]:
        """The registered uids at a metagraph sync; returns those that start something (e.g. a
        challenge period), for the log."""
        return []

    def reset_uid(self, uid: int) -> None:
        """A new hotkey on ``uid``: everything about the previous one is forgotten."""
        self.history.reset_uid(uid)

    def boundary(self) -> None:
        """A new simulation starts (every account anew, simulation time from 0; the times the
        scheme is given keep increasing): scores, histories and policies carry over, and no
        return spans the boundary (:meth:`ScoreState.mark_boundary`)."""
        self.history.mark_boundary()

    def summary(self, uid: int) -> dict[str, Any]:
        """What a research run's ``summary.json`` reports of ``uid`` under this scheme (JSON)."""
        return {}

    # --- persistence: the parts in PARTS (history, and a scheme's own) ------------------------------

    def before_load(self, arrays: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """A history kept with other score parameters (e.g. another window) is taken as it was
        kept: the history is rebuilt with those parameters before it is loaded."""
        params = ScoreState.params_of(within(arrays, "history"))
        if params is not None and params != self.history.params:
            self.history = ScoreState(params, self.slots, self.books)
        return arrays
