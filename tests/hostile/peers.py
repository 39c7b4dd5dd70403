"""Hostile miners for the validator's tests: HTTP servers on loopback that answer a validator's
state in every bad way a miner can, one behaviour per port.

A ``HostileMiners`` runs them in a background thread with its own event loop, so that a validator
in the test's process (or in a subprocess) can query them. Each behaviour records what it saw of
the validator: how many states it got, and the ``ReplyRejected`` notices of those states (the
validator's word on the previous answer), decoded from the signed bodies it received.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import msgspec
from aiohttp import web

from taos.protocol import (
    PROTOCOL_VERSION,
    STATE_PATH,
    PlaceLimit,
    ProtocolError,
    ReplyRejected,
    Side,
    decode_state,
    encode_reply,
)

SECRET = b"internal-secret-7f3a: this text must never reach a miner"
"""What the 'internal' server answers: a redirected validator would leak it."""

HONEST_REPLY = encode_reply([PlaceLimit(0, Side.BUY, 290.0, 0.01)])
GARBAGE = bytes(range(256)) * 8
# 200,000 cancels: the old hard limit of one reply, about 5 MB
HUGE_REPLY = msgspec.msgpack.encode(
    {
        "protocol_version": PROTOCOL_VERSION,
        "instructions": [{"kind": 3, "book": 0, "order_id": i + 1} for i in range(200_000)],
    }
)
EXTREME_REPLY = msgspec.msgpack.encode(
    {
        "protocol_version": PROTOCOL_VERSION,
        "instructions": [
            {"kind": 1, "book": 0, "side": 1, "price": 1e308, "quantity": 1e308},
            {"kind": 1, "book": 0, "side": 2, "price": 300.0, "quantity": 0.1, "time_in_force": 2,
             "expiry_ns": 2**63},
            {"kind": 1, "book": 1, "side": 1, "price": 5e-324, "quantity": 2.0**64},
            {"kind": 2, "book": 1, "side": 1, "quantity": 1e308, "currency": 2},
            {"kind": 3, "book": 0, "order_id": 2**64 - 1, "quantity": 1e308},
            {"kind": 5, "book": 1, "direction": 1, "leverage": 1e308, "client_order_id": 2**64 - 1},
            {"kind": 1, "book": 2**32, "side": 1, "price": 300.0, "quantity": 0.1, "delay_ns": 2**63},
        ],
    }
)  # fmt: skip


def _gzip_bomb(size: int) -> bytes:
    """``size`` zero bytes, gzip-compressed (about a thousandth of the size)."""
    out = gzip.compress(b"\0" * size, compresslevel=9)
    return out


GZIP_BOMB = _gzip_bomb(64 * 2**20)


@dataclass
class Seen:
    """What one hostile miner saw of the validator."""

    states: int = 0
    rejections: list[str] = field(default_factory=list)  # ReplyRejected details, in order
    undecodable: int = 0  # states it could not decode (none expected)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class HostileMiners:
    """``behaviours`` names → a server per name on 127.0.0.1; ``endpoint(name)`` is its "host:port".
    The name 'internal' is a server that must never be reached (``internal_hits``)."""

    def __init__(self, behaviours: list[str], *, stall_s: float = 30.0) -> None:
        self.behaviours = list(behaviours)
        self.stall_s = stall_s  # how long the stalling behaviours hold a request at most
        self.seen: dict[str, Seen] = {name: Seen() for name in self.behaviours}
        self.internal_hits = 0
        self.ports: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runners: list[web.AppRunner] = []
        self._raw_servers: list[asyncio.AbstractServer] = []
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

    def endpoint(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    # --- lifetime ------------------------------------------------------------------------------

    def __enter__(self) -> HostileMiners:
        self._thread = threading.Thread(target=self._run, name="hostile-miners", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the hostile miners did not start")
        if self._error is not None:
            raise RuntimeError(f"the hostile miners did not start: {self._error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=15)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as e:  # reported to the test through __enter__
            self._error = e
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.ports["internal"] = await self._serve(self._internal)
        for name in self.behaviours:
            if name == "refused":
                self.ports[name] = _closed_port()
            elif name in ("bad_http", "reset", "silent"):
                self.ports[name] = await self._raw(name)
            else:
                self.ports[name] = await self._serve(self._behaviour(name))
        self._ready.set()
        await self._stop.wait()
        for runner in self._runners:
            await runner.cleanup()
        for server in self._raw_servers:
            server.close()

    async def _serve(self, handler: Handler) -> int:
        app = web.Application(client_max_size=64 * 2**20)
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runners.append(runner)
        return int(runner.addresses[0][1])

    # --- behaviours ---------------------------------------------------------------------------

    async def _internal(self, request: web.Request) -> web.Response:
        self.internal_hits += 1
        return web.Response(body=SECRET)

    def _record(self, name: str, body: bytes) -> None:
        seen = self.seen[name]
        seen.states += 1
        try:
            state = decode_state(body, max_bytes=len(body) + 1)
        except ProtocolError:
            seen.undecodable += 1
            return
        seen.rejections.extend(n.detail for n in state.notices if isinstance(n, ReplyRejected))

    def _behaviour(self, name: str) -> Handler:
        stall = self.stall_s

        async def handle(request: web.Request) -> web.StreamResponse:
            self._record(name, await request.read())
            try:
                return await answer(request)
            except (ConnectionError, asyncio.CancelledError):  # the validator gave up on us
                return web.Response(status=499)

        async def answer(request: web.Request) -> web.StreamResponse:
            if name == "honest":
                return web.Response(body=HONEST_REPLY)
            if name == "garbage":
                return web.Response(body=GARBAGE)
            if name == "huge":
                return web.Response(body=HUGE_REPLY)
            if name == "extreme":
                return web.Response(body=EXTREME_REPLY)
            if name == "error500":
                return web.Response(status=500, body=SECRET)
            if name == "redirect":
                internal = f"http://127.0.0.1:{self.ports['internal']}/steal"
                return web.Response(status=307, headers={"Location": internal}, body=SECRET)
            if name == "redirect_loop":
                return web.Response(status=307, headers={"Location": STATE_PATH})
            if name == "gzip_bomb":
                return web.Response(body=GZIP_BOMB, headers={"Content-Encoding": "gzip"})
            if name == "lying_length":  # announces 1 GB, sends a little, then stalls
                response = web.StreamResponse(headers={"Content-Length": str(2**30)})
                await response.prepare(request)
                await response.write(b"\x82" * 100)
                await asyncio.sleep(stall)
                return response
            if name == "endless":  # a chunked body that never ends
                response = web.StreamResponse()
                response.enable_chunked_encoding()
                await response.prepare(request)
                for _ in range(int(stall * 100)):
                    await response.write(b"\0" * 65_536)
                    await asyncio.sleep(0.01)
                return response
            if name == "drip":  # one byte a second
                response = web.StreamResponse(headers={"Content-Length": str(len(HONEST_REPLY))})
                await response.prepare(request)
                for byte in HONEST_REPLY:
                    await response.write(bytes([byte]))
                    await asyncio.sleep(1.0)
                return response
            if name == "stall":  # never answers
                await asyncio.sleep(stall)
                return web.Response(body=HONEST_REPLY)
            raise ValueError(f"unknown behaviour {name!r}")

        return handle

    async def _raw(self, name: str) -> int:
        """Servers below HTTP: 'bad_http' answers bytes that are not HTTP, 'reset' closes at once,
        'silent' reads the request and never answers."""

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                if name == "reset":
                    writer.transport.abort()
                    return
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    key, _, value = line.partition(b":")
                    if key.strip().lower() == b"content-length":
                        length = int(value.strip())
                self._record(name, await reader.readexactly(length))
                if name == "bad_http":
                    writer.write(b"HTTP/1.1 2OO NOT-A-STATUS\r\nX: " + b"y" * 100_000 + b"\r\n\r\n")
                    await writer.drain()
                else:
                    await asyncio.sleep(self.stall_s)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
        self._raw_servers.append(server)
        return int(server.sockets[0].getsockname()[1])


def _closed_port() -> int:
    """A loopback port that nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
