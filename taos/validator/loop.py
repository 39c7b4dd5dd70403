"""The validator loop: one publish interval per turn (SPEC §8).

    step the simulator ─▶ build each miner's state ─▶ query the miners ─▶ validate and delay
         ▲                                                                       │
         └──── persist ◀── deregistrations and weights ◀── update the scores ◀──┘

Simulated time stands still while the miners think: their answers become delays inside the next
step (``taos.validator.latency``). Nothing here knows about HTTP, SQLite or the C++ core; each hop is
one method of ``Validator`` (``taos/validator/validator.py``).

Pacing (``pace``): a step covers one publish interval of simulated time; with ``pace`` p > 0 a step
starts ``publish interval / p`` of wall time after the previous one started (p = 1: simulated time
runs as fast as the wall clock), and the loop waits in between. A step that takes longer than that
is logged (a warning at most once a minute, with the count since) and the next one starts at once:
the loop never runs steps in a burst to catch up. ``pace`` 0 (the default of ``run``; ``taos local``)
runs as fast as the miners answer; ``taos validator`` paces at 1 by default (``--pace``).

Logs (``taos.validator.steplog``): with ``log_steps`` every step ends with one INFO line of its
counts (``taos validator`` sets it; ``taos local`` runs thousands of steps a minute and leaves it off
unless ``--log-steps``); the miners whose queries failed are summarised in one line a minute of the
wall ``log_clock``, whatever ``log_steps`` says.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from taos.validator.steplog import MinerFailures, log_step
from taos.validator.validator import Validator

log = logging.getLogger("taos.validator")
SLOW_LOG_S = 60.0
"""Slow steps are logged at most once in this many wall seconds (with how many there were)."""


class Pacer:
    """When each step may start: ``interval_s / pace`` of wall time after the previous one
    started, or at once after a step that took longer (logged, at most once a minute)."""

    def __init__(self, interval_s: float, pace: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not (math.isfinite(pace) and pace >= 0):
            raise ValueError(f"pace must be a finite number >= 0, got {pace!r}")
        self.period_s = interval_s / pace if pace > 0 else 0.0
        self.clock = clock
        self.slow = 0  # slow steps not logged yet
        self.lag_s = 0.0  # how much the last step ran over its period (0: on time)
        self._logged = -math.inf
        self._next = clock()

    def started(self) -> None:
        """A step starts now (when it was due, or later)."""
        now = self.clock()
        self._due = self._next
        self._next = now + self.period_s

    def wait_s(self, step_index: int) -> float:
        """The wall seconds to wait before the next step may start (0: at once)."""
        if self.period_s <= 0:
            return 0.0
        now = self.clock()
        left = self._next - now
        self.lag_s = max(0.0, -left)
        if left >= 0:
            return left
        self.slow += 1
        if now - self._logged >= SLOW_LOG_S:
            log.warning(
                "step %d took %.2f s, more than its %.2f s at this pace (%d slow step(s) since the last such line); "
                "the next starts at once",
                step_index,
                now - (self._next - self.period_s),
                self.period_s,
                self.slow,
            )
            self._logged, self.slow = now, 0
        self._next = now  # no catching up: the schedule starts again from here
        return 0.0


async def run(
    v: Validator,
    *,
    max_steps: int | None = None,
    stop: asyncio.Event | None = None,
    on_step: Callable[[Any], None] | None = None,
    pace: float = 0.0,
    clock: Callable[[], float] = time.monotonic,
    log_steps: bool = False,
    log_clock: Callable[[], float] = time.monotonic,
) -> int:
    """Runs until the last simulation ends (``v.settings.simulations``: one by default; at the end
    of one the next starts, :meth:`Validator.next_simulation`), ``max_steps`` steps have run or
    ``stop`` is set; returns the number of steps run. ``on_step(result)`` sees every step's result
    at its end (research output, progress). ``pace``: simulated seconds per wall second (0: unpaced; see the module
    doc), on the wall ``clock``. ``log_steps``: a line per step at INFO; ``log_clock``: the wall clock
    of the summary of failing miners (a minute)."""
    pacer = Pacer(v.publish_ns / 1e9, pace, clock)
    failures = MinerFailures(clock=log_clock)
    steps = 0

    def ended() -> bool:
        return v.finished and v.last_simulation

    while not ended() and (max_steps is None or steps < max_steps) and not (stop and stop.is_set()):
        if v.finished:  # the next simulation starts
            v.next_simulation()
        pacer.started()
        started = time.perf_counter()
        result = v.step()  # 1. every book to the next publish time, with last turn's instructions
        requests = v.requests(result)  # 2. one state per miner; the books encoded once
        answers = await _unless(stop, v.query(requests))  # 3. concurrently, with the timeout
        v.accept(answers)  # 4. decode, validate, delay: the next step's instructions and notices
        v.score(result)  # 5. inventory values, volumes, scores
        v.sync_chain()  # 6. deregistered uids reset; weights on schedule
        v.persist()  # 7. a consistent state to resume from
        took = time.perf_counter() - started
        v.observe(result, took)
        if log_steps:
            log_step(v.stats, took * 1e3)
        failures.add(v.stats)
        failures.report_if_due()
        if on_step is not None:
            on_step(result)
        steps += 1
        wait = pacer.wait_s(v.step_index) if not ended() else 0.0
        v.metrics.set_pace_lag(pacer.lag_s)
        await _pause(stop, wait)  # signals and other tasks get their turn, even when nothing was queried
    failures.report()  # the failures of the last, partial minute
    return steps


async def _pause(stop: asyncio.Event | None, seconds: float) -> None:
    """Waits ``seconds`` (at least one turn of the event loop), or until ``stop`` is set."""
    if seconds <= 0 or stop is None:
        await asyncio.sleep(max(0.0, seconds))
        return
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _unless(stop: asyncio.Event | None, query: Awaitable[dict[int, Any]]) -> dict[int, Any]:
    """The answers of ``query``, or none when ``stop`` is set first (the query is cancelled: a
    stopping validator does not wait for its slowest miners)."""
    if stop is None:
        return await query
    asked = asyncio.ensure_future(query)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({asked, stopped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
    if asked.done():
        return asked.result()
    asked.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asked
    return {}
