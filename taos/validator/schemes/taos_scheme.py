"""Preset ``taos``'s scheme (SPEC §9): each miner's EMA score of the activity-weighted per-book
Sharpe ratios, and weights in proportion to the scores.

The Sharpe ratio of a book is taken of the miner's trading PnL against holding its starting
inventory, ``P = V - (quote0 + mid x base0)`` (``ScoringSettings.series == "pnl"``, preset
``taos``), so that market drift on the inventory a miner was given earns nothing, or of the
inventory value ``V`` itself (``"value"``, preset ``sn79``: subnet 79's original formula). A book
counts only where the miner traded ``ScoringSettings.min_volume`` x its starting wealth there within
the Sharpe window (docs/scoring.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from taos.scoring import weights_from_scores
from taos.validator.schemes.base import BoolArray, FloatArray, Observation, ScoringScheme

if TYPE_CHECKING:
    from taos.validator.schemes.ptn.common import Elimination


class TaosScheme(ScoringScheme):
    name = "taos"

    def observe(self, obs: Observation) -> list[Elimination]:
        values = obs.trading_pnl() if self.settings.series == "pnl" else obs.values
        min_volume = self.settings.min_volume * self.history.params.starting_wealth
        self.history.observe(
            obs.step_index, obs.time_ns, values, obs.traded_totals, active=obs.tracked, min_volume=min_volume
        )
        return []

    def scores(self, now_ns: int, tracked: BoolArray) -> FloatArray:
        return self.history.scores()

    def weights(self, uids: Sequence[int], now_ns: int, exclude: int | None) -> tuple[FloatArray, FloatArray]:
        scores = self.history.scores()[list(uids)]
        return weights_from_scores(scores), scores
