"""Preset ``taos``'s scheme (SPEC §9): each miner's EMA score of the activity-weighted per-book
Sharpe ratios, and weights in proportion to the scores."""

from __future__ import annotations

from collections.abc import Sequence

from taos.scoring import weights_from_scores
from taos.validator.schemes.base import BoolArray, FloatArray, ScoringScheme


class TaosScheme(ScoringScheme):
    name = "taos"

    def scores(self, now_ns: int, tracked: BoolArray) -> FloatArray:
        return self.history.scores()

    def weights(self, uids: Sequence[int], now_ns: int, exclude: int | None) -> tuple[FloatArray, FloatArray]:
        scores = self.history.scores()[list(uids)]
        return weights_from_scores(scores), scores
