"""The miner's agents, each validator's in its own worker process (``taos.miner.worker``).

- A worker is started ahead of need (the *spare*: at start, where it also checks that the agent
  loads and builds, and again each time a validator takes it); a validator's first authenticated
  state gives it the spare, so that it rarely waits for a Python process to start.
- ``run`` sends the verified body and waits for the reply at most ``timeout_s`` (the agent's budget);
  an overrun, a failure or a dead worker gives the empty reply. While an earlier state of a
  validator is still with its agent, that validator's new states get the empty reply at once (an
  agent never handles two states at once).
- A call still running ``kill_after_s`` after it was sent (a blocked agent, one spinning in a C call
  holding the GIL) gets its worker killed: the agent's state is lost (logged once); the next state
  of that validator starts a new agent.
- At most ``max_workers`` workers run; beyond, the least recently used idle one is stopped (its
  agent's ``on_end`` runs) to make room.
- An agent class with ``shared_process = True`` (agents that share state between their validators'
  instances in one process, e.g. ``SignalAgent``'s store) runs all its instances in one worker,
  each call in a thread there: such agents are isolated from the server but not from each other.
- ``close`` asks every worker to run its agents' ``on_end`` and exit, and kills those still running
  after ``grace_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import signal
import site
import sys
import sysconfig
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from taos.agents import AgentLoadError, Param
from taos.logs import ErrorKey, RepeatedErrors, log_traceback
from taos.miner.worker import frame, split_id, state_frame
from taos.protocol import DEFAULT_MAX_BYTES, BookEvents, encode_reply

log = logging.getLogger("taos.miner")

EMPTY_REPLY = encode_reply(())
REAP_S = 5.0
"""How long ``AgentPool.close`` waits for killed workers to be reaped (a killed process is reaped
at once; a worker still starting takes up to a Python start-up)."""
MAX_FRAME_BYTES = 256 * 2**20
"""The largest frame a worker may send (a reply of the largest market is under 100 MB)."""
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class AgentFile:
    """Where the agent class is (``path/name.py``) and its typed parameters."""

    path: str
    name: str
    params: Mapping[str, Param] = field(default_factory=dict)


class BadState(Exception):
    """The body is not a state the agent can be given (400); the message says why."""


class _Worker:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.ready: asyncio.Future[bool] = loop.create_future()  # the result: shared_process
        self.empty_reply = EMPTY_REPLY  # with the agent's book_events, once it is ready
        self.validators: set[str] = set()
        self.pending: dict[int, asyncio.Future[tuple[bytes, bytes]]] = {}
        self.busy: dict[str, int] = {}  # validator -> id of its state with the agent
        self.last_used = time.monotonic()
        self.task: asyncio.Task[None] | None = None
        self.gone = False  # exited, killed, or being stopped: takes no new state
        self.quiet = False  # its end was logged already (or is expected)

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def kill(self) -> None:
        self.gone = True
        if self.proc is not None and self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the agent's own children too


class AgentPool:
    def __init__(
        self,
        agent: AgentFile,
        uid: int,
        *,
        timeout_s: float,
        kill_after_s: float | None = None,
        max_workers: int = 64,
        start_timeout_s: float = 60.0,
        max_state_bytes: int = DEFAULT_MAX_BYTES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: the wall clock of the summary of repeated agent errors."""
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s!r}")
        kill_after_s = 4 * timeout_s if kill_after_s is None else kill_after_s
        if not kill_after_s >= timeout_s:
            raise ValueError(f"kill_after_s must be >= timeout_s ({timeout_s:g}), got {kill_after_s!r}")
        if max_workers < 1:
            raise ValueError(f"max_workers must be >= 1, got {max_workers!r}")
        self.agent = agent
        self.uid = uid
        self.timeout_s = timeout_s
        self.kill_after_s = kill_after_s
        self.max_workers = max_workers
        self.start_timeout_s = start_timeout_s
        self.max_state_bytes = max_state_bytes
        self.shared: bool | None = None  # known once the first worker is ready
        self._workers: list[_Worker] = []
        self._by_validator: dict[str, _Worker] = {}
        self._spare: _Worker | None = None
        self._ids = itertools.count(1)
        self._closing = False
        # agent exceptions, from every worker: the first of each kind logged with its traceback,
        # the repeats counted (the server reports them once a minute: ``errors.report_if_due``)
        self.errors = RepeatedErrors(log, "agent", clock=clock)
        self._agent_failed: set[int] = set()  # ids of states whose agent raised
        self._warned: set[tuple[str, str]] = set()  # (validator, busy/timeout) logged at WARNING

    # --- what tests and the miner look at -----------------------------------------------------------

    @property
    def validators(self) -> set[str]:
        """The validators that have an agent (a worker assigned)."""
        return set(self._by_validator)

    def pid_of(self, validator: str) -> int | None:
        w = self._by_validator.get(validator)
        return None if w is None else w.pid

    @property
    def pids(self) -> list[int]:
        """Every worker process running (the spare included)."""
        return [w.pid for w in self._workers if w.pid is not None and not w.gone]

    # --- start, run, close --------------------------------------------------------------------------

    async def start(self) -> None:
        """Starts the first worker and waits until its agent is built; ``AgentLoadError`` (with the
        worker's one line) when the agent cannot be loaded or built."""
        w = self._spawn()
        try:
            self.shared = await asyncio.shield(w.ready)
        except BaseException:
            w.kill()
            raise
        if not self.shared:
            self._spare = w

    async def run(self, validator: str, body: bytes) -> bytes:
        """The encoded reply of ``validator``'s agent to the state ``body`` (verified, not yet
        decoded); the empty reply on any failure or overrun. ``BadState`` when the worker finds
        that ``body`` is no valid state."""
        return (await self.answer(validator, body))[0]

    async def answer(self, validator: str, body: bytes) -> tuple[bytes, str]:
        """``run``'s reply and how it came about: ``ok``, or (with the empty reply) ``agent_error``
        (the agent raised), ``timeout`` (over its budget), ``busy`` (an earlier state is still with
        the agent), ``no_worker`` (all ``max_workers`` busy), ``not_started`` (the agent cannot
        start), ``worker_lost`` (its worker died or was killed) or ``closing``."""
        if self._closing:
            return EMPTY_REPLY, "closing"
        w = self._worker_for(validator)
        if w is None:
            return EMPTY_REPLY, "no_worker"
        if not w.ready.done():
            try:
                await asyncio.shield(w.ready)
            except AgentLoadError:
                return EMPTY_REPLY, "not_started"  # logged by _fail_start
        if w.gone:
            return w.empty_reply, "worker_lost"
        if validator in w.busy:
            self._warn_once(validator, "busy", "agent of %s is still busy with an earlier state: empty reply")
            return w.empty_reply, "busy"
        w.last_used = time.monotonic()
        request_id = next(self._ids)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[tuple[bytes, bytes]] = loop.create_future()
        w.pending[request_id] = answer
        w.busy[validator] = request_id
        overdue = loop.call_later(self.kill_after_s, self._overdue, w, validator, request_id)

        def finished(_: object) -> None:
            overdue.cancel()
            if w.busy.get(validator) == request_id:
                del w.busy[validator]

        answer.add_done_callback(finished)
        assert w.proc is not None and w.proc.stdin is not None
        stdin = w.proc.stdin
        try:
            stdin.write(state_frame(request_id, validator, body))
        except (ConnectionError, RuntimeError):
            self._lost(w)
            return w.empty_reply, "worker_lost"

        async def exchange() -> tuple[bytes, bytes]:
            with contextlib.suppress(ConnectionError):
                await stdin.drain()
            return await asyncio.shield(answer)

        try:
            kind, data = await asyncio.wait_for(exchange(), self.timeout_s)
        except TimeoutError:
            self._warn_once(
                validator, "timeout", f"agent of %s took longer than {self.timeout_s:.3g} s: empty reply"
            )
            return w.empty_reply, "timeout"
        if kind == b"B":
            raise BadState(data.decode("utf-8", "replace"))
        if kind == b"E":  # the reply after the agent raised (an empty one)
            return data, "agent_error"
        return (data, "ok") if kind == b"A" else (w.empty_reply, "worker_lost")

    def _warn_once(self, validator: str, kind: str, msg: str) -> None:
        """The first ``kind`` of failure for ``validator`` at WARNING, the next ones at DEBUG (the
        server's minute summary counts them)."""
        first = (validator, kind) not in self._warned and len(self._warned) < 10_000
        if first:
            self._warned.add((validator, kind))
        log.log(
            logging.WARNING if first else logging.DEBUG,
            msg + ("" if not first else " (logged once for this validator; the next ones are counted)"),
            validator,
        )

    async def close(self, grace_s: float = 2.0) -> None:
        """Every agent's ``on_end`` (in its worker), then the workers exit; those still running
        after ``grace_s`` are killed (an agent busy with a state ends only after it, or is killed).
        Returns once every worker process has been reaped, a worker still starting included (at
        most ``REAP_S`` more), so that none outlives the pool."""
        self._closing = True
        workers = list(self._workers)
        for w in workers:
            self._stop(w)
        procs = [w.proc for w in workers if w.proc is not None]
        if procs:
            _, running = await asyncio.wait([asyncio.ensure_future(p.wait()) for p in procs], timeout=grace_s)
            for w in workers:
                w.kill()
            if running:
                await asyncio.wait(running, timeout=REAP_S)
        tasks = [w.task for w in workers if w.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=REAP_S)

    def kill_all(self) -> None:
        """Kills every worker now (from any thread: the miner's last resort when stopping hangs)."""
        for w in list(self._workers):
            w.kill()

    # --- workers -----------------------------------------------------------------------------------

    def _worker_for(self, validator: str) -> _Worker | None:
        w = self._by_validator.get(validator)
        if w is not None and not w.gone:
            return w
        if self.shared:
            shared = next((x for x in self._workers if not x.gone), None) or self._spawn()
            return self._assign(shared, validator)
        if self._spare is not None and not self._spare.gone:
            w, self._spare = self._spare, None
        else:
            if not self._make_room():
                log.warning(
                    "no agent for %s: all %d workers are busy (--max-workers): empty reply",
                    validator,
                    self.max_workers,
                )
                return None
            w = self._spawn()
        self._assign(w, validator)
        if len(self._live()) < self.max_workers and not self._closing:
            self._spare = self._spawn()
        return w

    def _assign(self, w: _Worker, validator: str) -> _Worker:
        w.validators.add(validator)
        self._by_validator[validator] = w
        w.last_used = time.monotonic()
        return w

    def _live(self) -> list[_Worker]:
        return [w for w in self._workers if not w.gone]

    def _make_room(self) -> bool:
        """Stops the least recently used idle worker when ``max_workers`` run; False when all are busy."""
        live = self._live()
        if len(live) < self.max_workers:
            return True
        idle = [w for w in live if not w.busy]
        if not idle:
            return False
        lru = min(idle, key=lambda w: w.last_used)
        log.info(
            "stopped the agent of %s (least recently used; at most %d workers)",
            ", ".join(sorted(lru.validators)),
            self.max_workers,
        )
        self._stop(lru)
        return True

    def _spawn(self) -> _Worker:
        loop = asyncio.get_running_loop()
        w = _Worker(loop)
        self._workers.append(w)
        w.task = loop.create_task(self._serve(w))
        return w

    async def _serve(self, w: _Worker) -> None:
        """Starts ``w``'s process, then reads its frames until it exits."""
        try:
            w.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-P",  # not the working folder first on sys.path: a source tree there would shadow this taos
                "-m",
                "taos.miner.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                start_new_session=True,  # its own process group: killed as a whole; no terminal signals
                env=same_code_env(),
            )
        except OSError as e:
            self._fail_start(w, AgentLoadError(f"cannot start an agent worker: {e}"))
            self._lost(w)
            self._workers.remove(w)
            return
        if w.gone:  # stopped (the pool closing) while it started
            w.kill()
        assert w.proc.stdin is not None and w.proc.stdout is not None
        init = {
            "path": self.agent.path,
            "name": self.agent.name,
            "params": dict(self.agent.params),
            "uid": self.uid,
            "max_state_bytes": self.max_state_bytes,
            "log_level": _forwarded_level(),
            "parent": os.getpid(),
        }
        w.proc.stdin.write(frame(b"I", json.dumps(init).encode()))
        loop = asyncio.get_running_loop()
        start_timer = loop.call_later(self.start_timeout_s, self._start_overdue, w)
        try:
            await self._read(w, w.proc.stdout)
        finally:
            start_timer.cancel()
            self._lost(w)
            with contextlib.suppress(ProcessLookupError):
                await w.proc.wait()
            if w.proc.stdin is not None:
                w.proc.stdin.close()
            if w in self._workers:
                self._workers.remove(w)
            code = w.proc.returncode
            self._fail_start(
                w, AgentLoadError(f"the agent worker exited with code {code} before it was ready")
            )
            if not w.quiet and not self._closing:
                log.error(
                    "the worker of the agent of %s exited with code %s: its state is lost",
                    ", ".join(sorted(w.validators)) or "no validator yet",
                    code,
                )

    async def _read(self, w: _Worker, stdout: asyncio.StreamReader) -> None:
        try:
            while True:
                size = int.from_bytes(await stdout.readexactly(4), "big")
                if not 0 < size <= MAX_FRAME_BYTES:
                    log.error("the worker of %s sent a frame of %d bytes: killed", w.validators, size)
                    w.kill()
                    return
                data = await stdout.readexactly(size)
                kind, payload = data[:1], data[1:]
                if kind in (b"A", b"B"):
                    request_id, rest = split_id(payload)
                    if request_id in self._agent_failed:
                        self._agent_failed.discard(request_id)
                        kind = b"E" if kind == b"A" else kind
                    answer = w.pending.pop(request_id, None)
                    if answer is not None and not answer.done():
                        answer.set_result((kind, rest))
                elif kind == b"L":
                    doc = json.loads(payload)
                    logger = logging.getLogger(str(doc["name"]))
                    if doc.get("exc"):
                        log_traceback(logger, int(doc["level"]), str(doc["exc"]), "%s", doc["msg"])
                    else:
                        logger.log(int(doc["level"]), "%s", doc["msg"])
                elif kind == b"X":
                    request_id, rest = split_id(payload)
                    doc = json.loads(rest)
                    if request_id in w.pending:
                        self._agent_failed.add(request_id)
                    who = f"agent of {str(doc['validator'])[:64]}"
                    tb = doc.get("traceback")
                    self.errors.add(ErrorKey.parse(doc["error"]), who, str(tb) if tb else None)
                elif kind == b"R" and not w.ready.done():
                    doc = json.loads(payload)
                    w.empty_reply = encode_reply((), BookEvents(int(doc.get("book_events", 0))))
                    w.ready.set_result(bool(doc["shared"]))
                elif kind == b"F":
                    w.quiet = True
                    self._fail_start(w, AgentLoadError(payload.decode("utf-8", "replace")))
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        except (ValueError, KeyError, TypeError) as e:
            log.error("the worker of %s broke the protocol (%s): killed", w.validators, e)
            w.kill()

    def _fail_start(self, w: _Worker, error: AgentLoadError) -> None:
        if not w.ready.done():
            w.ready.set_exception(error)
            w.ready.exception()  # retrieved: run() and start() look at it when they wait
            if w.validators and not self._closing:
                log.error("the agent of %s cannot start: %s", ", ".join(sorted(w.validators)), error)
                w.quiet = True

    def _lost(self, w: _Worker) -> None:
        """``w`` takes no more states; its waiting states get the empty reply."""
        w.gone = True
        self._agent_failed.difference_update(w.pending)
        for answer in w.pending.values():
            if not answer.done():
                answer.set_result((b"X", b""))
        w.pending.clear()
        for v in w.validators:
            if self._by_validator.get(v) is w:
                del self._by_validator[v]
        if self._spare is w:
            self._spare = None

    def _stop(self, w: _Worker) -> None:
        """Asks ``w`` to end its agents and exit; killed if still running two seconds later."""
        w.quiet = True
        if w.gone and (w.proc is None or w.proc.returncode is not None):
            return
        self._lost(w)
        if w.proc is not None and w.proc.stdin is not None and not w.proc.stdin.is_closing():
            with contextlib.suppress(ConnectionError, RuntimeError):
                w.proc.stdin.write(frame(b"E"))
        asyncio.get_running_loop().call_later(2.0, w.kill)

    def _overdue(self, w: _Worker, validator: str, request_id: int) -> None:
        if request_id not in w.pending or w.proc is None or w.proc.returncode is not None:
            return
        others = sorted(w.validators - {validator})
        log.error(
            "agent of %s is still busy %.3g s after its state: its worker (pid %d) is killed and its "
            "state is lost%s; a new agent serves the next state",
            validator,
            self.kill_after_s,
            w.proc.pid,
            f", with those of {', '.join(others)} (one worker for all)" if others else "",
        )
        w.quiet = True
        w.kill()
        self._lost(w)

    def _start_overdue(self, w: _Worker) -> None:
        if not w.ready.done():
            self._fail_start(
                w,
                AgentLoadError(
                    f"the agent was not ready {self.start_timeout_s:g} s after its worker started"
                ),
            )
            w.kill()


def same_code_env() -> dict[str, str]:
    """The environment of a child process that must run this process's ``taos`` (started with
    ``python -P -m ...``: the working folder is not put first on its ``sys.path``): this
    environment, and when this ``taos`` is not an installed one (a source checkout on
    ``PYTHONPATH`` or the working folder), its folder first on ``PYTHONPATH``."""
    env = dict(os.environ)
    installed = {*site.getsitepackages(), site.getusersitepackages()}
    installed |= {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    if os.path.realpath(_PACKAGE_ROOT) not in {os.path.realpath(p) for p in installed if p}:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
    return env


def _forwarded_level() -> int:
    """The lowest level the miner's loggers would print: the workers send no record below it."""
    levels = [logging.getLogger().getEffectiveLevel(), logging.getLogger("taos.miner").getEffectiveLevel()]
    return min(levels)
