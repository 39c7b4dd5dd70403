"""One agent per validator hotkey, each call run in a worker thread with a time budget.

A call that raises or overruns gives an empty reply and a log line. While an
overrun call of an agent is still running, that agent gets no new state (its
validator gets empty replies) so that no agent runs in two threads at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from taos.agents import Agent
from taos.protocol import MAX_INSTRUCTIONS, MarketState
from taos.protocol.instructions import INSTRUCTION_TYPES, Instruction

log = logging.getLogger("taos.miner")


class _Slot:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self.running: asyncio.Future[list[Instruction]] | None = None


class AgentPool:
    def __init__(
        self,
        factory: Callable[[], Agent],
        *,
        timeout_s: float,
        workers: int = 16,
        first: Agent | None = None,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        self._factory = factory
        self._first = first
        self._timeout = timeout_s
        self._slots: dict[str, _Slot] = {}
        self._creating: dict[str, asyncio.Future[_Slot]] = {}
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="agent")

    @property
    def agents(self) -> dict[str, Agent]:
        return {hotkey: slot.agent for hotkey, slot in self._slots.items()}

    async def run(self, hotkey: str, state: MarketState) -> list[Instruction]:
        """The instructions of ``hotkey``'s agent for ``state``; empty on any failure."""
        slot = await self._slot(hotkey)
        if slot is None:
            return []
        if slot.running is not None and not slot.running.done():
            log.warning("agent of %s is still busy with an earlier state: empty reply", hotkey)
            return []
        loop = asyncio.get_running_loop()
        running = loop.run_in_executor(self._executor, slot.agent.handle, state)
        running.add_done_callback(_consume)
        slot.running = running
        try:
            result = await asyncio.wait_for(asyncio.shield(running), self._timeout)
        except asyncio.TimeoutError:
            log.warning("agent of %s took longer than %.3g s: empty reply", hotkey, self._timeout)
            return []
        except Exception as e:
            log.error("agent of %s raised %s: %s: empty reply", hotkey, type(e).__name__, e, exc_info=e)
            return []
        return _checked(result, hotkey)

    async def _slot(self, hotkey: str) -> _Slot | None:
        slot = self._slots.get(hotkey)
        if slot is not None:
            return slot
        if hotkey in self._creating:  # another request of this validator is building its agent
            try:
                await asyncio.shield(self._creating[hotkey])
            except Exception:
                return None  # logged by the request that tried
            return self._slots.get(hotkey)
        creating: asyncio.Future[_Slot] = asyncio.get_running_loop().create_future()
        self._creating[hotkey] = creating
        try:
            if self._first is not None:
                agent, self._first = self._first, None
            else:
                agent = await asyncio.get_running_loop().run_in_executor(self._executor, self._factory)
            agent.validator = hotkey
            slot = self._slots[hotkey] = _Slot(agent)
            creating.set_result(slot)
            log.info("new agent for validator %s", hotkey)
            return slot
        except Exception as e:
            log.error("creating an agent for %s failed: %s: %s", hotkey, type(e).__name__, e)
            creating.set_exception(e)
            creating.exception()  # retrieved: waiters see the slot missing
            return None
        finally:
            del self._creating[hotkey]

    def close(self) -> None:
        """Calls every agent's ``on_end`` and lets the worker threads finish."""
        for hotkey, slot in self._slots.items():
            try:
                slot.agent.on_end()
            except Exception as e:
                log.error("on_end of the agent of %s raised %s: %s", hotkey, type(e).__name__, e)
        self._executor.shutdown(wait=False, cancel_futures=True)


def _consume(future: asyncio.Future[list[Instruction]] | Future[list[Instruction]]) -> None:
    """Marks an abandoned call's exception as retrieved (it was logged, or the call overran)."""
    if not future.cancelled():
        future.exception()


def _checked(result: object, hotkey: str) -> list[Instruction]:
    if not isinstance(result, list):
        log.error("agent of %s returned %s, not a list: empty reply", hotkey, type(result).__name__)
        return []
    good = [i for i in result if isinstance(i, INSTRUCTION_TYPES)]
    if len(good) < len(result):
        log.error(
            "agent of %s returned %d items that are not instructions; dropped",
            hotkey,
            len(result) - len(good),
        )
    if len(good) > MAX_INSTRUCTIONS:
        log.error(
            "agent of %s returned %d instructions; the first %d are sent", hotkey, len(good), MAX_INSTRUCTIONS
        )
        good = good[:MAX_INSTRUCTIONS]
    return good  # type: ignore[return-value]
