"""An agent's worker process: ``python -m taos.miner.worker``, started and fed by ``AgentPool``.

The miner runs its agents outside the server's process so that an agent that blocks, spins or holds
the GIL in a C call never stalls the server: the server answers every validator within the time
budget whatever its agent does, and kills a worker stuck far past it.

The worker talks to the server over its standard input and output with length-prefixed frames
(``frame``); nothing is pickled: states arrive as the verified request body and are decoded here,
replies leave as encoded ``Reply`` bytes. The agent's own ``print`` goes to standard error (file
descriptor 1 is pointed there once the protocol's pipe is put aside), and its log records are sent
to the server, which logs them.

Frames, server to worker::

    I json                       init: agent path, name, params, uid, log level, max state bytes
    S id(8) len(2) hotkey body   a state for the agent of validator ``hotkey``
    E                            end: ``on_end`` of every agent, then exit

worker to server::

    R json                       ready (the class loaded and one instance built): {"shared": bool}
    F text                       the agent cannot be loaded or built (one line); the worker exits
    A id(8) reply                the encoded reply to state ``id``
    B id(8) text                 state ``id`` is not a valid state (the reason)
    X id(8) json                 the agent raised on state ``id`` (its reply, empty, follows):
                                 {"validator", "error": {"type", "message", "where"}, "traceback"}
                                 (the traceback only the first time this worker sees that error)
    L json                       a log record: {"level", "name", "msg", "exc"} (exc: a traceback)

The server logs an agent's exception once with its traceback and counts its repeats
(``taos.logs.RepeatedErrors``), over all its workers.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from taos.agents import Agent, AgentLoadError, create_agent, load_agent_class
from taos.logs import ErrorKey, traceback_text
from taos.protocol import (
    MAX_INSTRUCTIONS,
    BookEvents,
    ProtocolError,
    decode_state,
    encode_reply,
    max_reply_instructions,
)
from taos.protocol.instructions import INSTRUCTION_TYPES, Instruction

log = logging.getLogger("taos.miner")

_LENGTH = struct.Struct(">I")
_ID = struct.Struct(">Q")
_HOTKEY_LENGTH = struct.Struct(">H")
MAX_LOG_CHARS = 16_384
"""A forwarded log message (with its traceback) is cut to this many characters."""


def frame(kind: bytes, *parts: bytes) -> bytes:
    """One frame: a 4-byte big-endian length, then ``kind`` (one byte) and the parts."""
    size = len(kind) + sum(len(p) for p in parts)
    return b"".join((_LENGTH.pack(size), kind, *parts))


def state_frame(request_id: int, hotkey: str, body: bytes) -> bytes:
    raw = hotkey.encode()
    return frame(b"S", _ID.pack(request_id), _HOTKEY_LENGTH.pack(len(raw)), raw, body)


def parse_state(payload: memoryview) -> tuple[int, str, bytes]:
    (request_id,) = _ID.unpack_from(payload, 0)
    (length,) = _HOTKEY_LENGTH.unpack_from(payload, 8)
    hotkey = bytes(payload[10 : 10 + length]).decode()
    return request_id, hotkey, bytes(payload[10 + length :])


def split_id(payload: bytes) -> tuple[int, bytes]:
    (request_id,) = _ID.unpack_from(payload, 0)
    return request_id, payload[8:]


class _Channel:
    """The protocol's two pipes, kept away from the agent's standard streams."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self._in = os.fdopen(read_fd, "rb", buffering=1 << 16)
        self._out = write_fd
        self._lock = threading.Lock()

    def receive(self) -> tuple[bytes, memoryview] | None:
        head = self._in.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            return None
        (size,) = _LENGTH.unpack(head)
        data = self._in.read(size)
        if size == 0 or len(data) < size:
            return None
        return data[:1], memoryview(data)[1:]

    def send(self, kind: bytes, *parts: bytes) -> None:
        data = memoryview(frame(kind, *parts))
        with self._lock:
            while data:
                written = os.write(self._out, data)
                data = data[written:]


class _Forward(logging.Handler):
    """Sends log records to the server (which logs them with its own handlers)."""

    def __init__(self, channel: _Channel, level: int) -> None:
        super().__init__(level)
        self._channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
            exc = record.exc_text
            if record.exc_info:
                exc = logging.Formatter().formatException(record.exc_info)
            doc = {"level": record.levelno, "name": record.name, "msg": msg[:MAX_LOG_CHARS]}
            if exc:
                doc["exc"] = exc[:MAX_LOG_CHARS]
            self._channel.send(b"L", json.dumps(doc).encode())
        except Exception:
            self.handleError(record)


PIPE_BYTES = 1 << 20
"""The capacity asked for each of the two pipes to the server (Linux): a state of the default market
passes in one write instead of a write, a wait and a wake-up per 64 KiB (the default)."""


def _widen(fd: int) -> None:
    """Asks for ``PIPE_BYTES`` of capacity for the pipe ``fd`` is an end of (a pipe's capacity is
    the pipe's, whichever end asks); leaves it when the system does not allow it."""
    if hasattr(fcntl, "F_SETPIPE_SZ"):
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _die_with_parent(parent: int) -> None:
    """On Linux, the kernel kills this worker when the miner dies, even by ``kill -9`` and even
    while an agent holds the GIL."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the miner died before the line above
        os._exit(1)


class Worker:
    def __init__(self, channel: _Channel, init: dict[str, Any]) -> None:
        self.channel = channel
        self.uid = int(init["uid"])
        self.params = dict(init["params"])
        self.max_state_bytes = int(init["max_state_bytes"])
        self.cls = load_agent_class(init["path"], init["name"])
        self.shared = bool(getattr(self.cls, "shared_process", False))
        try:
            self.book_events = BookEvents(getattr(self.cls, "book_events", BookEvents.ALL))
        except ValueError:
            raise AgentLoadError(
                f"{init['name']}.book_events must be a BookEvents (ALL, TRADES or NONE), "
                f"got {getattr(self.cls, 'book_events', None)!r}"
            ) from None
        self.spare: Agent | None = create_agent(self.cls, self.uid, self.params)
        self.agents: dict[str, Agent] = {}
        self._lock = threading.Lock()
        self._raised: set[ErrorKey] = set()  # the agent errors whose traceback went to the server

    def agent_for(self, hotkey: str) -> Agent | None:
        """``hotkey``'s agent: the one built at start for the first validator, then new ones (the
        server sends one state of a validator at a time, so one thread per hotkey asks)."""
        with self._lock:
            agent = self.agents.get(hotkey)
            if agent is not None:
                return agent
            agent, self.spare = self.spare, None
        if agent is None:
            try:
                agent = self.cls(self.uid, dict(self.params))
            except Exception as e:
                log.error("creating an agent for %s failed: %s: %s", hotkey, type(e).__name__, e)
                return None
        agent.validator = hotkey
        with self._lock:
            self.agents[hotkey] = agent
        log.info("new agent for validator %s", hotkey)
        return agent

    def handle(self, request_id: int, hotkey: str, body: bytes) -> None:
        rid = _ID.pack(request_id)
        try:
            state = decode_state(body, max_bytes=self.max_state_bytes)
            limit = max_reply_instructions(state.simulation.books, state.simulation.max_instructions_per_book)
        except ProtocolError as e:
            self.channel.send(b"B", rid, str(e).encode())
            return
        except ValueError as e:
            self.channel.send(b"B", rid, f"market state: simulation: {e}".encode())
            return
        instructions: list[Instruction] = []
        agent = self.agent_for(hotkey)
        if agent is not None:
            try:
                result = agent.handle(state)
            except Exception as e:
                self._raised_on(rid, hotkey, e)
            else:
                instructions = checked(result, hotkey, min(limit, MAX_INSTRUCTIONS))
        self.channel.send(b"A", rid, encode_reply(instructions, self.book_events))

    def _raised_on(self, rid: bytes, hotkey: str, error: Exception) -> None:
        """Tells the server that the agent of ``hotkey`` raised ``error`` (the traceback with the
        first occurrence of its kind in this worker)."""
        key = ErrorKey.of(error)
        with self._lock:
            first = key not in self._raised and len(self._raised) < 1_000
            if first:
                self._raised.add(key)
        doc = {
            "validator": hotkey,
            "error": key.as_dict(),
            "traceback": traceback_text(error)[:MAX_LOG_CHARS] if first else None,
        }
        self.channel.send(b"X", rid, json.dumps(doc).encode())

    def end(self) -> None:
        with self._lock:
            agents = list(self.agents.items())
        for hotkey, agent in agents:
            try:
                agent.on_end()
            except Exception as e:
                log.error("on_end of the agent of %s raised %s: %s", hotkey, type(e).__name__, e)


def checked(result: object, hotkey: str, limit: int) -> list[Instruction]:
    """The instructions of an agent's answer: a list, items that are instructions, at most ``limit``
    (what the validator looks at); anything else is dropped with a log line (each kind at most once
    a minute per validator, with the count of the repeats since)."""
    if not isinstance(result, list):
        _limited(
            hotkey,
            "not a list",
            "agent of %s returned %s, not a list: empty reply",
            hotkey,
            type(result).__name__,
        )
        return []
    good = [i for i in result if isinstance(i, INSTRUCTION_TYPES)]
    if len(good) < len(result):
        _limited(
            hotkey,
            "not instructions",
            "agent of %s returned %d items that are not instructions; dropped",
            hotkey,
            len(result) - len(good),
        )
    if len(good) > limit:
        _limited(
            hotkey,
            "too many",
            "agent of %s returned %d instructions; the first %d are sent (the most the validator reads)",
            hotkey,
            len(good),
            limit,
        )
        good = good[:limit]
    return good  # type: ignore[return-value]


LIMITED_S = 60.0
"""A kind of bad answer of one agent is logged at most once in this many seconds."""
_limited_seen: dict[tuple[str, str], list[float]] = {}  # (hotkey, kind) → [last logged, repeats since]
_limited_lock = threading.Lock()


def _limited(
    hotkey: str, kind: str, message: str, *args: Any, clock: Callable[[], float] = time.monotonic
) -> None:
    """``log.error(message, *args)``, at most once a ``LIMITED_S`` per agent and kind; the line says
    how many were left out since the last one."""
    now = clock()
    with _limited_lock:
        if len(_limited_seen) >= 1_000:  # bounded: the oldest half goes
            for key in sorted(_limited_seen, key=lambda k: _limited_seen[k][0])[:500]:
                del _limited_seen[key]
        entry = _limited_seen.get((hotkey, kind))
        if entry is not None and now - entry[0] < LIMITED_S:
            entry[1] += 1
            return
        repeats = 0 if entry is None else int(entry[1])
        _limited_seen[(hotkey, kind)] = [now, 0]
    if repeats:
        message += f" ({repeats} more such answers in the last {LIMITED_S:g} s were not logged)"
    log.error(message, *args)


def _thread(target: Callable[..., None], *args: Any) -> None:
    threading.Thread(target=target, args=args, daemon=True, name="agent").start()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the miner decides when its workers stop
    channel = _Channel(os.dup(0), os.dup(1))
    _widen(0)
    _widen(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)  # the agent's prints go to the miner's standard error
    received = channel.receive()
    if received is None or received[0] != b"I":
        os._exit(2)
    init = json.loads(bytes(received[1]))
    _die_with_parent(int(init["parent"]))
    root = logging.getLogger()
    root.handlers[:] = [_Forward(channel, int(init["log_level"]))]
    root.setLevel(int(init["log_level"]))
    try:
        worker = Worker(channel, init)
    except AgentLoadError as e:
        channel.send(b"F", str(e).encode())
        os._exit(0)
    except BaseException as e:  # an agent's constructor may raise anything
        channel.send(b"F", f"{type(e).__name__}: {e}".encode())
        os._exit(0)
    channel.send(b"R", json.dumps({"shared": worker.shared, "book_events": int(worker.book_events)}).encode())
    while True:
        received = channel.receive()
        if received is None:  # the miner is gone
            os._exit(0)
        kind, payload = received
        if kind == b"S" and worker.shared:  # the agents of several validators, in parallel
            _thread(worker.handle, *parse_state(payload))
        elif kind == b"S":  # one validator's agent, one state at a time: no thread to start
            worker.handle(*parse_state(payload))
        elif kind == b"E":
            worker.end()
            logging.shutdown()
            os._exit(0)


if __name__ == "__main__":
    main()
