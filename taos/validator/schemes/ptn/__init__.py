"""Preset ``ptn``'s scheme (SPEC §9-§10.2): portfolio values, drawdown eliminations, challenge
periods and checkpoint ledgers (one small module each), driven by :class:`ScoringSettings`, and
weights by rank (or by EMA score with ``--scoring.weights taos``).

The arithmetic is done by the pure functions of :mod:`taos.scoring`. Engine and chain effects
(cancelling orders, not querying eliminated miners) are the validator's: it reads
:meth:`PtnScheme.excluded`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike

from taos.scoring import challenge_weights, exponential_rank_weights, ptn_score, weights_from_scores
from taos.validator.history import ScoreParams
from taos.validator.persisted import Persisted
from taos.validator.policy import ScoringSettings
from taos.validator.schemes.base import Observation, ScoringScheme
from taos.validator.schemes.ptn.challenge import ChallengeTracker
from taos.validator.schemes.ptn.common import (
    BoolArray,
    Elimination,
    FloatArray,
    NoPositions,
    PositionStats,
    Reason,
    Status,
    _count,
    _mask,
    _vector,
    log,
)
from taos.validator.schemes.ptn.elimination import EliminationTracker
from taos.validator.schemes.ptn.ledger import LedgerTracker
from taos.validator.schemes.ptn.portfolio import PortfolioValues

__all__ = [
    "ChallengeTracker",
    "Elimination",
    "EliminationTracker",
    "LedgerTracker",
    "NoPositions",
    "Policies",
    "PortfolioValues",
    "PositionStats",
    "PtnScheme",
    "Reason",
    "Status",
]


class Policies(Persisted):
    """Portfolio values, eliminations, challenge periods and ledgers of all miner slots, as the
    :class:`ScoringSettings` ask; the validator calls :meth:`observe` once per step after the grace
    period and :meth:`weights` when it sets weights. A state without them (kept by another
    scheme) starts them new."""

    PARTS: ClassVar[dict[str, str]] = {
        "portfolio": "portfolio",
        "elimination": "eliminations",
        "challenge": "challenge",
        "ledger": "ledger",
    }
    OPTIONAL: ClassVar[bool] = True

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

    def boundary(self) -> None:
        """A new simulation starts: the portfolio values continue their chain (eliminations,
        challenges and ledgers carry over and see no change at the boundary)."""
        self.portfolio.boundary()

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

    def scores(
        self,
        now_ns: int,
        ema_scores: ArrayLike,
        eligible: ArrayLike | None = None,
        trading: ArrayLike | None = None,
    ) -> FloatArray:
        """The score of every slot that the weights are made from: preset ``ptn``'s
        :func:`taos.scoring.ptn_score` of the competing miners' ledgers (ranked among the competing
        miners that are ``eligible``, e.g. registered, and ``trading``: traded the minimum volume
        lately), or the EMA scores; 0 for the others."""
        return np.nan_to_num(self._scores(now_ns, ema_scores, eligible, trading), nan=0.0)

    def _scores(
        self, now_ns: int, ema_scores: ArrayLike, eligible: ArrayLike | None, trading: ArrayLike | None = None
    ) -> FloatArray:
        """:meth:`scores`, with NaN for the competing miners that ``ptn`` weights do not rank (fewer
        checkpoints that count than ``min_checkpoints``: not enough time in the market; or not
        ``trading``)."""
        competing = self.competing()
        if eligible is not None:
            competing &= _mask(eligible, self.miners, "eligible")
        out = np.zeros(self.miners)
        uids = [int(u) for u in np.flatnonzero(competing)]
        s = self.settings
        if s.weights == "ptn":
            active = (
                np.ones(self.miners, dtype=np.bool_)
                if trading is None
                else _mask(trading, self.miners, "trading")
            )
            counted = self.ledger.counted(uids, now_ns, s.min_exposure)
            ranked = [
                u for u, c in zip(uids, counted.tolist(), strict=True) if c >= s.min_checkpoints and active[u]
            ]
            out[uids] = np.nan
            if ranked:
                metrics = self.ledger.metrics(ranked, now_ns, s.decay_exponent, s.min_exposure)
                out[ranked] = ptn_score(metrics, s.metric_weights, losers_by_return=s.losers_by_return)
        else:
            ema = _vector(ema_scores, self.miners, "ema_scores")
            out[uids] = ema[uids]
        return out

    def weights(
        self,
        uids: Sequence[int],
        now_ns: int,
        ema_scores: ArrayLike,
        exclude: int | None = None,
        trading: ArrayLike | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Weights and scores of ``uids`` (the registered ones; ``exclude`` = the validator's own
        uid gets 0). Competing miners share the weight by the rank curve (``ptn``: those
        ``trading``, see :meth:`scores`) or in proportion to their EMA scores (``taos``); miners in
        their challenge get ``challenge_weight`` each, the competing ones the rest
        (:func:`taos.scoring.challenge_weights`); eliminated ones 0."""
        ids = np.asarray([int(u) for u in uids], dtype=np.int64)
        keep = np.ones(len(ids), dtype=np.bool_) if exclude is None else ids != exclude
        eligible = np.zeros(self.miners, dtype=np.bool_)
        eligible[ids[keep]] = True
        scores = self._scores(now_ns, ema_scores, eligible, trading)
        competing = self.competing()[ids] & keep
        challenge = self.in_challenge()[ids] & keep
        s = self.settings
        if s.weights == "ptn":
            ranked = np.where(competing, scores[ids], np.nan)  # NaN: not ranked (yet), weight 0
            base = exponential_rank_weights(ranked, s.rank_share, s.rank_fraction)
        else:
            base = weights_from_scores(np.where(competing, scores[ids], 0.0))
        weights = challenge_weights(base, challenge, s.challenge_weight)
        return weights, np.nan_to_num(np.where(competing, scores[ids], 0.0), nan=0.0)

    def before_load(self, arrays: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        if not arrays:
            log.info("no stored elimination, challenge or ledger state: starting them now")
        return arrays


class PtnScheme(ScoringScheme):
    """The SPEC §10 policies on top of the preset ``taos`` history: :attr:`policies` holds the
    trackers; eliminated miners are excluded."""

    name = "ptn"
    PARTS: ClassVar[dict[str, str]] = {**ScoringScheme.PARTS, "policy": "policies"}

    def __init__(self, settings: ScoringSettings, params: ScoreParams, slots: int, books: int) -> None:
        super().__init__(settings, params, slots, books)
        self.policies = Policies(settings, slots, books)

    def observe(self, obs: Observation) -> list[Elimination]:
        super().observe(obs)
        if self.settings.challenge:
            sharpes = self.history.book_sharpes(obs.tracked)
        else:
            sharpes = np.zeros((self.slots, self.books))
        values = obs.values
        if self.settings.series == "pnl":  # the starting wealth plus the trading PnL: no drift of base0
            values = obs.trading_pnl() + self.history.params.starting_wealth
        return self.policies.observe(
            obs.time_ns, obs.wall_time_s, values, sharpes, obs.positions, obs.tracked
        )

    def boundary(self) -> None:
        super().boundary()
        self.policies.boundary()

    def trading(self) -> BoolArray:
        """The miners that traded at least ``min_volume`` x their starting wealth on all books
        together (summed over books, against the sum of the books' wealth) within the Sharpe
        window: preset ``ptn`` ranks only these (a miner that bought once and holds is not
        trading; docs/scoring.md)."""
        need = self.settings.min_volume * self.history.params.starting_wealth * self.books
        out: BoolArray = self.history.window_volume().sum(axis=1) >= need
        return out

    def scores(self, now_ns: int, tracked: BoolArray) -> FloatArray:
        return self.policies.scores(now_ns, self.history.scores(), tracked, self.trading())

    def weights(self, uids: Sequence[int], now_ns: int, exclude: int | None) -> tuple[FloatArray, FloatArray]:
        return self.policies.weights(
            uids, now_ns, self.history.scores(), exclude=exclude, trading=self.trading()
        )

    def excluded(self) -> BoolArray:
        return self.policies.eliminated

    def register(self, uids: Sequence[int], time_ns: int, wall_time_s: float) -> list[int]:
        return self.policies.start_challenges(uids, time_ns, wall_time_s)

    def reset_uid(self, uid: int) -> None:
        super().reset_uid(uid)
        self.policies.reset_uid(uid)

    def summary(self, uid: int) -> dict[str, Any]:
        """The challenge status and the elimination (reason, sim time) of ``uid``."""
        e = self.policies.eliminations.record(uid)
        return {
            "challenge": self.policies.challenge.status_of(uid).name.lower(),
            "eliminated": None if e is None else {"reason": e.reason.text, "sim_time_s": e.sim_time_ns / 1e9},
        }
