"""Connection limits of the miner's HTTP server, below aiohttp.

aiohttp's server bounds nothing in time until a request's headers are complete, so a peer that
connects and sends nothing, or its headers one byte at a time, holds a socket (a file descriptor)
for ever. ``ConnectionGuard`` wraps the server's protocol factory and keeps, per connection, a phase
and a deadline:

- ``new``: connected, no request seen yet: the headers must be complete within ``header_timeout_s``;
- ``body``: in our handler, the headers passed their check, the body is being read: it must be
  complete within ``body_timeout_s`` of the handler's start (the handler refuses with 408 first);
- ``busy``: the request is authenticated (signature over the body verified) and is being served:
  no deadline here (the agent's budget bounds it), and it is never evicted;
- ``idle``: between requests of a keep-alive connection: the next request's headers must be
  complete within ``idle_timeout_s`` after the last answer (``header_timeout_s`` for a connection
  that never had an authenticated request).

A connection past its deadline is aborted. At most ``max_connections`` are open: a new connection
beyond that evicts (aborts) the open connection that is least likely an honest validator's,
i.e. one never authenticated, the oldest in its phase first, else the longest idle authenticated
one; a connection being served is never evicted, and when all are, the new one is closed at once.
So sockets that send nothing, or too slowly, cost at most ``max_connections`` file descriptors and
cannot keep an honest validator out: its connection is the newest and is served within
milliseconds of being accepted.

Bodies being read are held in memory until their signature is checked, and their headers may
claim any validator's hotkey: together they may hold at most ``max_body_memory`` bytes. A body
that would pass it evicts the bodies still being read, oldest first (never its own, never one
whose request is authenticated); when that is not enough, ``charge`` says no (the handler answers
503).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("taos.miner")

NEW, BODY, BUSY, IDLE = "new", "body", "busy", "idle"


class _Conn:
    __slots__ = ("buffered", "deadline", "phase", "since", "transport", "trusted")

    def __init__(self, transport: asyncio.Transport, now: float) -> None:
        self.transport = transport
        self.phase = NEW
        self.since = now
        self.trusted = False
        self.buffered = 0
        self.deadline: asyncio.TimerHandle | None = None


class ConnectionGuard:
    def __init__(
        self,
        *,
        max_connections: int = 256,
        header_timeout_s: float = 5.0,
        body_timeout_s: float = 10.0,
        idle_timeout_s: float = 30.0,
        max_body_memory: int = 256 * 2**20,
    ) -> None:
        for name, value in (
            ("header_timeout_s", header_timeout_s),
            ("body_timeout_s", body_timeout_s),
            ("idle_timeout_s", idle_timeout_s),
        ):
            if not 0 < value < float("inf"):
                raise ValueError(f"{name} must be > 0, got {value!r}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {max_connections!r}")
        if max_body_memory < 1:
            raise ValueError(f"max_body_memory must be >= 1, got {max_body_memory!r}")
        self.max_body_memory = max_body_memory
        self.buffered = 0
        self.max_connections = max_connections
        self.header_timeout_s = header_timeout_s
        self.body_timeout_s = body_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self._conns: dict[asyncio.BaseTransport, _Conn] = {}
        self.evicted = 0
        self.expired = 0
        self.turned_away = 0

    @property
    def open(self) -> int:
        return len(self._conns)

    def wrap(self, factory: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        """A protocol factory for ``loop.create_server`` around ``factory`` (aiohttp's server)."""
        return lambda: _Guarded(self, factory())

    # --- the handler's calls ---------------------------------------------------------------------

    def receiving(self, transport: asyncio.BaseTransport | None) -> None:
        """A request's headers arrived and passed to the handler: the body is due (the handler
        answers 408 at ``body_timeout_s``; the connection is aborted a second later)."""
        self._enter(transport, BODY, self.body_timeout_s + 1.0)

    def serving(self, transport: asyncio.BaseTransport | None) -> None:
        """The request is authenticated: no deadline, never evicted."""
        conn = self._conns.get(transport) if transport is not None else None
        if conn is not None:
            conn.trusted = True
        self._enter(transport, BUSY, None)

    def done(self, transport: asyncio.BaseTransport | None) -> None:
        """The handler answered: the next request's headers are due."""
        conn = self._conns.get(transport) if transport is not None else None
        if conn is not None:
            self._release(conn)
            self._enter(transport, IDLE, self.idle_timeout_s if conn.trusted else self.header_timeout_s)

    def charge(self, transport: asyncio.BaseTransport | None, size: int) -> bool:
        """Counts ``size`` more body bytes held for ``transport``'s request; False when they do not
        fit in ``max_body_memory`` even after evicting the other bodies still being read."""
        conn = self._conns.get(transport) if transport is not None else None
        if conn is None:
            return True
        while self.buffered + size > self.max_body_memory:
            victim = min(
                (c for c in self._conns.values() if c.phase == BODY and c.buffered and c is not conn),
                key=lambda c: c.since,
                default=None,
            )
            if victim is None:
                return False
            self.evicted += 1
            self._forget(victim.transport)
            victim.transport.abort()
        conn.buffered += size
        self.buffered += size
        return True

    def close_all(self) -> None:
        for conn in list(self._conns.values()):
            conn.transport.abort()

    # --- connections -----------------------------------------------------------------------------

    def _enter(self, transport: asyncio.BaseTransport | None, phase: str, timeout_s: float | None) -> None:
        conn = self._conns.get(transport) if transport is not None else None
        if conn is None:
            return
        loop = asyncio.get_running_loop()
        conn.phase, conn.since = phase, loop.time()
        if conn.deadline is not None:
            conn.deadline.cancel()
            conn.deadline = None
        if timeout_s is not None:
            conn.deadline = loop.call_later(timeout_s, self._expire, conn)

    def _expire(self, conn: _Conn) -> None:
        conn.deadline = None
        if conn.transport in self._conns:
            self.expired += 1
            log.debug("closing a connection %.3g s in phase %s", self._age(conn), conn.phase)
            conn.transport.abort()

    def _age(self, conn: _Conn) -> float:
        return asyncio.get_running_loop().time() - conn.since

    def opened(self, transport: asyncio.Transport) -> bool:
        """Registers a new connection; False when it must be closed at once."""
        if len(self._conns) >= self.max_connections:
            victim = min(
                (c for c in self._conns.values() if c.phase != BUSY),
                key=lambda c: (c.trusted, c.since),
                default=None,
            )
            if victim is None:
                self.turned_away += 1
                return False
            self.evicted += 1
            self._forget(victim.transport)
            victim.transport.abort()
        conn = self._conns[transport] = _Conn(transport, asyncio.get_running_loop().time())
        conn.deadline = asyncio.get_running_loop().call_later(self.header_timeout_s, self._expire, conn)
        return True

    def _forget(self, transport: asyncio.BaseTransport) -> None:
        conn = self._conns.pop(transport, None)
        if conn is not None:
            self._release(conn)
            if conn.deadline is not None:
                conn.deadline.cancel()

    def _release(self, conn: _Conn) -> None:
        self.buffered -= conn.buffered
        conn.buffered = 0


class _Guarded(asyncio.Protocol):
    """Forwards every protocol call to aiohttp's handler, telling the guard of opens and closes."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self._inner = inner
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if not self._guard.opened(transport):
            transport.abort()
            return
        self._transport = transport
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is None:
            return
        self._guard._forget(self._transport)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._transport is not None:
            self._inner.data_received(data)

    def eof_received(self) -> Any:
        return self._inner.eof_received() if self._transport is not None else None

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()
