"""The validator loop: one publish interval per turn (SPEC §8).

    step the simulator ─▶ build each miner's state ─▶ query the miners ─▶ validate and delay
         ▲                                                                       │
         └──── persist ◀── deregistrations and weights ◀── update the scores ◀──┘

Simulated time stands still while the miners think: their answers become delays inside the next
step (``taos.validator.latency``). Nothing here knows about HTTP, SQLite or the C++ core; each hop is
one method of ``Validator`` (``taos/validator/validator.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

from taos.validator.validator import Validator


async def run(
    v: Validator,
    *,
    max_steps: int | None = None,
    stop: asyncio.Event | None = None,
    on_step: Callable[[Any], None] | None = None,
) -> int:
    """Runs until the simulation ends, ``max_steps`` steps have run or ``stop`` is set; returns
    the number of steps run. ``on_step(result)`` sees every step's result at its end (research
    output, progress)."""
    steps = 0
    while not v.finished and (max_steps is None or steps < max_steps) and not (stop and stop.is_set()):
        started = time.perf_counter()
        result = v.step()  # 1. every book to the next publish time, with last turn's instructions
        requests = v.requests(result)  # 2. one state per miner; the books encoded once
        answers = await _unless(stop, v.query(requests))  # 3. concurrently, with the timeout
        v.accept(answers)  # 4. decode, validate, delay: the next step's instructions and notices
        v.score(result)  # 5. inventory values, volumes, scores
        v.sync_chain()  # 6. deregistered uids reset; weights on schedule
        v.persist()  # 7. a consistent state to resume from
        v.observe(result, time.perf_counter() - started)
        if on_step is not None:
            on_step(result)
        steps += 1
        await asyncio.sleep(0)  # signals and other tasks get their turn, even when nothing was queried
    return steps


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
