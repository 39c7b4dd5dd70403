"""What the validator logs of its steps, its miners and its weights (docs/validator.md, "Logs").

- ``StepStats``: the counts of one step, kept by the ``Validator`` while the step runs (queries and
  their outcomes, instructions accepted and rejected, events); the loop logs them in one line at
  INFO (``log_step``) when asked to (``taos validator`` does; ``taos local`` only with
  ``--log-steps``).
- ``MinerFailures``: the failed queries of every step, summarised in one line a minute (wall clock):
  "in the last 60 s: 3 miners failed: uid 4 refused x12, uid 7 timeout x3 ...".
- ``log_weights``: one line per weights update: uids, the top weights and the result.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from taos.logs import SUMMARY_S, Every, seconds_text, top_counts
from taos.validator.outcome import QueryOutcome

log = logging.getLogger("taos.validator")
TOP = 5
"""Summary lines name this many miners (or weights), then "and K more"."""


@dataclass
class StepStats:
    """One step's counts. ``outcomes``: how each queried miner's query ended (the last word: a reply
    that arrived but could not be applied is ``internal``); ``errors``: what went wrong, for the
    failed ones. ``accepted``: instructions accepted (turned into orders for the next step, or
    targets accepted); ``rejected``: instructions refused by validation or the trading rules;
    ``rate_limited``: replies dropped by the reply rate limit; ``engine_rejected``: orders of the
    previous step that the books refused (told to the miners in this step's states)."""

    step: int = 0
    sim_time_s: float = 0.0
    queried: int = 0
    outcomes: dict[int, QueryOutcome] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    accepted: int = 0
    rejected: int = 0
    rate_limited: int = 0
    engine_rejected: int = 0
    events: int = 0

    def outcome(self, uid: int, outcome: QueryOutcome, error: str | None = None) -> None:
        self.outcomes[uid] = outcome
        if outcome is QueryOutcome.OK:
            self.errors.pop(uid, None)
        elif error:
            self.errors[uid] = error

    @property
    def answered(self) -> int:
        return sum(o is QueryOutcome.OK for o in self.outcomes.values())

    @property
    def timed_out(self) -> int:
        return sum(o is QueryOutcome.TIMEOUT for o in self.outcomes.values())

    @property
    def failed(self) -> int:
        return sum(o not in (QueryOutcome.OK, QueryOutcome.TIMEOUT) for o in self.outcomes.values())

    def failures(self) -> dict[int, QueryOutcome]:
        """The miners whose query failed or timed out, with the outcome."""
        return {u: o for u, o in self.outcomes.items() if o is not QueryOutcome.OK}


def log_step(stats: StepStats, wall_ms: float) -> None:
    """The step's line at INFO."""
    if not log.isEnabledFor(logging.INFO):
        return
    log.info(
        "step %d sim %.1f s: %.0f ms; miners %d queried, %d answered, %d timed out, %d failed; "
        "instructions %d accepted, %d rejected; %d events",
        stats.step,
        stats.sim_time_s,
        wall_ms,
        stats.queried,
        stats.answered,
        stats.timed_out,
        stats.failed,
        stats.accepted,
        stats.rejected,
        stats.events,
        extra={
            "event": "step",
            "step": stats.step,
            "sim_time_s": stats.sim_time_s,
            "wall_ms": round(wall_ms, 3),
            "queried": stats.queried,
            "answered": stats.answered,
            "timed_out": stats.timed_out,
            "failed": stats.failed,
            "accepted": stats.accepted,
            "rejected": stats.rejected,
            "rate_limited": stats.rate_limited,
            "engine_rejected": stats.engine_rejected,
            "events": stats.events,
        },
    )


class MinerFailures:
    """Failed and timed-out queries, counted per miner and outcome, logged in one INFO line every
    ``period_s`` of the wall ``clock`` (nothing when no query failed)."""

    def __init__(self, period_s: float = SUMMARY_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = Every(period_s, clock)
        self.clock = clock
        self.since = clock()
        self.counts: Counter[tuple[int, str]] = Counter()
        self.last_error: dict[int, str] = {}
        self.queries = 0

    def add(self, stats: StepStats) -> None:
        self.queries += len(stats.outcomes)
        for uid, outcome in stats.failures().items():
            self.counts[(uid, outcome.value)] += 1
            if uid in stats.errors:
                self.last_error[uid] = stats.errors[uid]

    def report_if_due(self) -> None:
        if self.every.due():
            self.report()

    def report(self) -> None:
        """The line of the failures since the last one (also before a period is over: at the end)."""
        now = self.clock()
        window, self.since = now - self.since, now
        if self.counts:
            miners = sorted({uid for uid, _ in self.counts})
            per_miner: Counter[int] = Counter()
            for (uid, _), n in self.counts.items():
                per_miner[uid] += n
            top = [uid for uid, _ in per_miner.most_common(TOP)]
            log.info(
                "in the last %s: %d miner(s) failed %d of %d queries: %s",
                seconds_text(window),
                len(miners),
                sum(self.counts.values()),
                self.queries,
                top_counts(self.counts, lambda k: f"uid {k[0]} {k[1]}", top=TOP),
                extra={
                    "event": "miner_failures",
                    "window_s": round(window, 3),
                    "miners": len(miners),
                    "queries": self.queries,
                    "failures": sum(self.counts.values()),
                    "by_miner": [
                        {
                            "uid": uid,
                            **{o: n for (u, o), n in self.counts.items() if u == uid},
                            "last_error": self.last_error.get(uid, ""),
                        }
                        for uid in top
                    ],
                },
            )
        self.counts.clear()
        self.last_error.clear()
        self.queries = 0


def top_weights(uids: Sequence[int], weights: Sequence[float], top: int = TOP) -> list[tuple[int, float]]:
    """The ``top`` largest weights (uid, weight), largest first (uid order among equals); zeros left out."""
    pairs = sorted(
        ((int(u), float(w)) for u, w in zip(uids, weights, strict=True) if w > 0), key=lambda p: (-p[1], p[0])
    )
    return pairs[:top]


def log_weights(
    uids: Sequence[int],
    weights: Sequence[float],
    result: str,
    reason: str = "",
    *,
    level: int = logging.INFO,
    note: str = "",
    failures: int = 0,
) -> None:
    """A weights update: ``result`` ``set``, ``failed`` (``reason``: the chain's error;
    ``failures``: how many in a row) or ``skipped`` (``reason``: why); ``note`` ends the line
    (e.g. when the next try is)."""
    best = top_weights(uids, weights)
    nonzero = sum(w > 0 for w in weights)
    shown = ", ".join(f"uid {u}: {w:.4f}" for u, w in best)
    if nonzero > len(best):
        shown += f" and {nonzero - len(best)} more"
    what = {"set": "set", "failed": "not set: set_weights failed", "skipped": "not set"}[result]
    if result == "failed" and failures > 1:
        what += f" {failures} times in a row"
    log.log(
        level,
        "weights for %d uids %s%s (top: %s)%s",
        len(uids),
        what,
        f": {reason}" if reason else "",
        shown or "all zero",
        note,
        extra={
            "event": "weights",
            "result": result,
            "reason": reason,
            "failures": failures,
            "uids": len(uids),
            "nonzero": nonzero,
            "top": [{"uid": u, "weight": w} for u, w in best],
        },
    )
