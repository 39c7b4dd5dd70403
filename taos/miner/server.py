"""The miner's HTTP server: one POST route that takes a market state and answers a reply.

Per request, in this order (no agent code runs before the last step, no body byte is read before
the third):

1. the headers (``Gatekeeper.precheck``): ``btauth/1`` headers well formed, signed for this miner,
   fresh, nonce not used (else 401);
2. the claimed sender against the metagraph: registered, validator permit, minimum stake (else 403;
   503 while the metagraph cannot be read at all); a ``Content-Encoding`` other than identity or
   zstd: 415;
3. the body, at most ``max_body_bytes`` (a larger ``Content-Length`` is refused before reading, a
   chunked body is cut off at the cap: 413), complete within ``body_timeout_s`` of the headers
   (else 408); all bodies being read share the guard's ``max_body_memory`` (older ones being read
   are evicted to make room; 503 when that is not enough);
4. ``bittensor.http_auth.verify``: the signature over the body; the nonce is recorded (else 401);
   a zstd body is then decompressed, to at most ``max_body_bytes`` (else 400; the decompressed
   bytes count against ``max_body_memory`` too);
5. the caller's agent, in its worker process, decodes the state (a bad one: 400 with the reason) and
   answers within its budget; an overrun or a failure gives an empty reply. 200 with the MessagePack
   reply. Every answer says ``Accept-Encoding: zstd, identity``: the validator may compress the
   next state (``taos.protocol.compression``).

A refusal's text is ours: nothing of the body is echoed. Refused connections are closed.

Logs: each request is one line at DEBUG (validator hotkey, bytes in and out, response time,
outcome); every ``summary_every_s`` (a minute) and at the stop one line at INFO sums them up: requests, distinct
validators, mean response time, failures by kind, refusals by status, connections evicted, timed out
and turned away. An agent's exception is logged once with its traceback; its repeats are counted
and reported in one WARNING line a minute (``AgentPool.errors``). So a flood cannot flood the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import resource
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from taos.logs import Every, counts_text, seconds_text
from taos.miner.auth import Gatekeeper, Refused
from taos.miner.guard import ConnectionGuard
from taos.miner.pool import AgentPool, BadState
from taos.protocol import CONTENT_TYPE, DEFAULT_MAX_BYTES, STATE_PATH, ProtocolError
from taos.protocol.compression import ACCEPTED, IDENTITY, ZSTD, decompress

ACCEPT = {"Accept-Encoding": ACCEPTED}  # on every answer: the next state may come compressed

log = logging.getLogger("taos.miner")


class MinerServer:
    def __init__(
        self,
        gate: Gatekeeper,
        pool: AgentPool,
        *,
        max_body_bytes: int = DEFAULT_MAX_BYTES,
        guard: ConnectionGuard | None = None,
        summary_every_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``clock``: the wall clock of the summary lines (``report_if_due``)."""
        self.gate = gate
        self.pool = pool
        self.max_body_bytes = max_body_bytes
        self.guard = guard or ConnectionGuard()
        self.summary_every_s = summary_every_s
        self.every = Every(summary_every_s, clock)
        self.clock = clock
        self._since = clock()
        self.refused: Counter[int] = Counter()
        self.requests = 0  # served (authenticated) since the last summary
        self.validators: set[str] = set()
        self.response_s = 0.0
        self.outcomes: Counter[str] = Counter()  # the served requests that did not end "ok"
        self._guard_counts = (0, 0, 0)
        self._runner: web.AppRunner | None = None
        self._server: asyncio.AbstractServer | None = None
        self._summary: asyncio.Task[None] | None = None

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body_bytes)
        app.router.add_post(STATE_PATH, self.handle_state)
        return app

    async def start(self, host: str, port: int) -> int:
        """Listens on ``host:port`` (0: a free port); returns the port. ``OSError`` when it cannot."""
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1.0, **self._handler_options())
        await runner.setup()
        try:
            assert runner.server is not None
            self._server = await asyncio.get_running_loop().create_server(
                self.guard.wrap(runner.server),
                host,
                port,
                backlog=accept_backlog(self.guard.max_connections),
            )
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._summary = asyncio.get_running_loop().create_task(self._report())
        return int(self._server.sockets[0].getsockname()[1])

    def _handler_options(self) -> dict[str, Any]:
        """aiohttp's per-connection options: short header lines, a one-second linger after a refusal
        (the unread rest of a body is read and dropped, then the connection closes), and no
        decompression of a request body by aiohttp (a zstd body is decompressed by the miner after
        its signature is checked, within the body cap; other codings are refused unread). An
        option the installed aiohttp does not know is left out."""
        options: dict[str, Any] = {
            "keepalive_timeout": self.guard.idle_timeout_s,
            "lingering_time": 1.0,
            "max_line_size": 4096,
            "max_field_size": 4096,
            "auto_decompress": False,
        }
        known = inspect.signature(RequestHandler.__init__).parameters
        return {k: v for k, v in options.items() if k in known}

    async def stop(self) -> None:
        """Stops listening, closes every connection (requests in flight get a second to finish);
        the summary of the last, partial minute is logged."""
        if self._summary is not None:
            self._summary.cancel()
            self.report()
        if self._server is not None:
            self._server.close()
        if self._runner is not None:
            await self._runner.cleanup()
        self.guard.close_all()
        if self._server is not None:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)

    async def handle_state(self, request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        conn = request.transport
        self.guard.receiving(conn)
        deadline = asyncio.get_running_loop().time() + self.guard.body_timeout_s
        try:
            try:
                claimed = self.gate.precheck(request.headers)
                await self.gate.authorize(claimed)
                coding = request.headers.get("Content-Encoding", IDENTITY).strip().lower() or IDENTITY
                if coding not in (IDENTITY, ZSTD):
                    raise Refused(415, "Content-Encoding must be identity or zstd")
                body = await self._read_body(request, deadline)
                caller = await self._authenticate(request, body)
                if coding == ZSTD:
                    body = await self._decompress(request, body)
            except Refused as e:
                self.refused[e.status] += 1
                log.debug(
                    "refused %s from %s: %s",
                    e.status,
                    request.remote,
                    e,
                    extra={
                        "event": "request",
                        "outcome": "refused",
                        "status": e.status,
                        "peer": request.remote,
                    },
                )
                response = web.Response(status=e.status, text=str(e), headers=ACCEPT)
                response.force_close()
                return response
            self.guard.serving(conn)
            try:
                reply, outcome = await self.pool.answer(caller, body)
            except BadState as e:
                log.warning("bad state from %s: %s", caller, e)
                self._served(caller, len(body), 0, started, "bad_state")
                return web.Response(status=400, text=str(e), headers=ACCEPT)
            self._served(caller, len(body), len(reply), started, outcome)
            return web.Response(body=reply, content_type=CONTENT_TYPE, headers=ACCEPT)
        finally:
            self.guard.done(conn)

    def _served(self, validator: str, size_in: int, size_out: int, started: float, outcome: str) -> None:
        """Counts an authenticated request for the summary; its line at DEBUG."""
        elapsed = time.perf_counter() - started
        self.requests += 1
        self.validators.add(validator)
        self.response_s += elapsed
        if outcome != "ok":
            self.outcomes[outcome] += 1
        log.debug(
            "request from %s: %d bytes in, %d bytes out, %.1f ms, %s",
            validator,
            size_in,
            size_out,
            elapsed * 1e3,
            outcome,
            extra={
                "event": "request",
                "validator": validator,
                "bytes_in": size_in,
                "bytes_out": size_out,
                "response_ms": round(elapsed * 1e3, 3),
                "outcome": outcome,
            },
        )

    async def _read_body(self, request: web.Request, deadline: float) -> bytes:
        cap = self.max_body_bytes
        length = request.content_length
        if length is not None and length > cap:
            raise Refused(413, f"a body of {length} bytes is over this miner's limit of {cap} bytes")

        async def read() -> bytes:
            chunks: list[bytes] = []
            size = 0
            while True:
                chunk = await request.content.readany()
                if not chunk:
                    return b"".join(chunks)
                size += len(chunk)
                if size > cap:
                    raise Refused(413, f"the body is over this miner's limit of {cap} bytes")
                if not self.guard.charge(request.transport, len(chunk)):
                    raise Refused(503, "the miner holds too many request bodies at the moment")
                chunks.append(chunk)

        try:
            return await asyncio.wait_for(read(), max(0.0, deadline - asyncio.get_running_loop().time()))
        except TimeoutError:
            raise Refused(
                408, f"the body did not arrive within {self.guard.body_timeout_s:g} s of the headers"
            ) from None
        except Refused:
            raise
        except Exception as e:  # a reset connection, a malformed chunked encoding
            raise Refused(400, f"the body cannot be read: {type(e).__name__}") from None

    async def _decompress(self, request: web.Request, body: bytes) -> bytes:
        """A zstd body's state, at most ``max_body_bytes`` (a large one in a thread)."""
        try:
            if len(body) < 2**16:
                data = decompress(body, self.max_body_bytes)
            else:
                data = await asyncio.get_running_loop().run_in_executor(
                    None, decompress, body, self.max_body_bytes
                )
        except ProtocolError as e:
            raise Refused(400, str(e)) from None
        if not self.guard.charge(request.transport, len(data)):
            raise Refused(503, "the miner holds too many request bodies at the moment")
        return data

    async def _authenticate(self, request: web.Request, body: bytes) -> str:
        """``Gatekeeper.authenticate``; a large body is hashed in a thread (hashlib releases the GIL)
        so that the event loop keeps serving meanwhile."""
        if len(body) < 2**16:
            return self.gate.authenticate(request.headers, body, request.method, request.path_qs)
        return await asyncio.get_running_loop().run_in_executor(
            None, self.gate.authenticate, request.headers, body, request.method, request.path_qs
        )

    async def _report(self) -> None:
        while True:
            await asyncio.sleep(min(1.0, self.summary_every_s))
            self.report_if_due()

    def report_if_due(self) -> None:
        """Once every ``summary_every_s`` of the clock: ``report``."""
        if self.every.due():
            self.report()

    def report(self) -> None:
        """The summary line (INFO) of the requests, failures, refusals and connections since the
        last one, and the repeated agent errors (WARNING, when there were any)."""
        g = self.guard
        at = self.clock()
        window, self._since = at - self._since, at
        now = (g.evicted, g.expired, g.turned_away)
        evicted, expired, turned_away = (a - b for a, b in zip(now, self._guard_counts, strict=True))
        mean_ms = self.response_s / self.requests * 1e3 if self.requests else 0.0
        refused = ", ".join(f"{n} x {status}" for status, n in sorted(self.refused.items()))
        log.info(
            "in the last %s: %d requests from %d validators, mean response %.1f ms; failed: %s; "
            "refused %s; connections evicted %d, timed out %d, turned away %d (%d open)",
            seconds_text(window),
            self.requests,
            len(self.validators),
            mean_ms,
            counts_text(sorted(self.outcomes.items())),
            refused or "none",
            evicted,
            expired,
            turned_away,
            g.open,
            extra={
                "event": "requests",
                "window_s": round(window, 3),
                "requests": self.requests,
                "validators": len(self.validators),
                "mean_response_ms": round(mean_ms, 3),
                "failed": dict(self.outcomes),
                "refused": {str(k): n for k, n in self.refused.items()},
                "evicted": evicted,
                "timed_out": expired,
                "turned_away": turned_away,
                "open": g.open,
            },
        )
        self.pool.errors.report(window)
        self.refused.clear()
        self.outcomes.clear()
        self.validators.clear()
        self.requests, self.response_s, self._guard_counts = 0, 0.0, now


MAX_BACKLOG = 512
FD_RESERVE = 256
"""Descriptors kept for the miner's own files, its agent workers' pipes and the answers in flight."""


def accept_backlog(max_connections: int, fd_limit: int | None = None) -> int:
    """The listen backlog, which is also how many connections asyncio accepts in one go before the
    guard's aborts of those beyond ``max_connections`` close them: at most ``MAX_BACKLOG``, and
    small enough that ``max_connections`` kept, a whole burst accepted and ``FD_RESERVE`` stay
    within the process's descriptor limit (``fd_limit``, default: its soft RLIMIT_NOFILE), so that
    a flood of connections never makes ``accept`` fail for want of descriptors (asyncio then stops
    accepting, honest validators too, for a second)."""
    if fd_limit is None:
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        fd_limit = soft if soft != resource.RLIM_INFINITY else 1 << 20
    return max(16, min(MAX_BACKLOG, (fd_limit - max_connections - FD_RESERVE) // 2))
