"""The signal server: ``POST /api/receive-signal`` turns a JSON request into a signal file.

Per request, in this order:

1. the body is read; over the cap (``max_body_bytes``, 16 KiB by default, also after
   decompression): 413;
2. it must be UTF-8 JSON holding one object without repeated keys, nested at most 16 levels, with
   integers of at most 40 digits, and a string ``api_key`` that is valid text (no lone surrogate)
   (else 400);
3. ``api_key`` is compared in constant time with the secrets file's key (else 401);
4. the other fields are checked (``taos.signals.records.check_request``; else 400);
5. the signal gets a uuid4 and is written atomically to ``received_signals/<uuid>.json``;
   200 ``{"uuid": ...}`` (503 if the file cannot be written).

Every refusal is ``{"error": "<reason>"}``, one log line (INFO; ERROR for a failed write) and
writes nothing; no body makes the handler raise. The Content-Type of the request is not checked
(alert services often send JSON as ``text/plain``). The key is read once, at start.

At start (``serve``), the server locks its folder (``received_signals/.server.lock``: one server
per folder) and removes the temporary files (``.incoming-*.tmp``) a killed predecessor may have
left in the middle of a write.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import logging
import os
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from aiohttp import web

from taos.signals.files import DirLock, LockedError, is_temporary, write_json_atomic
from taos.signals.records import Signal, SignalError, check_request, is_text, load_api_key, loads_object

SIGNAL_PATH = "/api/receive-signal"
DEFAULT_MAX_BODY_BYTES = 16 * 1024
SECRETS_FILE = "miner_secrets.json"
RECEIVED = "received_signals"
INCOMING_PREFIX = ".incoming-"
LOCK_FILE = ".server.lock"
log = logging.getLogger("taos.signals")


class SignalServer:
    def __init__(
        self,
        root: str | Path,
        api_key: str,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        if max_body_bytes < 64:
            raise ValueError(f"max_body_bytes must be >= 64, got {max_body_bytes}")
        self.received = Path(root) / RECEIVED
        self.received.mkdir(parents=True, exist_ok=True)
        self._key = api_key.encode("utf-8")
        self.max_body_bytes = max_body_bytes
        self._clock = clock

    def app(self) -> web.Application:
        # aiohttp refuses a larger body itself (413) once the handler reads it.
        app = web.Application(client_max_size=self.max_body_bytes)
        app.router.add_post(SIGNAL_PATH, self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _refuse(413, f"body larger than {self.max_body_bytes} bytes", request)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return _refuse(400, "body is not UTF-8 text", request)
        try:
            doc = loads_object(text, "body")
        except SignalError as e:
            return _refuse(400, str(e), request)
        key = doc.get("api_key")
        if key is None:
            return _refuse(400, "missing field(s): api_key", request)
        if not isinstance(key, str):
            return _refuse(400, "api_key must be a string", request)
        if not is_text(key):
            return _refuse(400, "api_key is not valid text (a lone surrogate)", request)
        if not hmac.compare_digest(key.encode("utf-8"), self._key):
            return _refuse(401, "invalid api_key", request)
        try:
            book_id, order_type, leverage = check_request(doc)
        except SignalError as e:
            return _refuse(400, str(e), request)
        signal = Signal(str(uuid.uuid4()), self._clock(), book_id, order_type, leverage)
        path = self.received / f"{signal.uuid}.json"
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: write_json_atomic(path, signal.to_json(), prefix=INCOMING_PREFIX)
            )
        except OSError as e:
            log.error("cannot write signal %s: %s", path, e.strerror or e)
            return web.json_response({"error": "cannot store the signal"}, status=503)
        log.info("signal %s: book %d %s leverage %g", signal.uuid, book_id, order_type, leverage)
        return web.json_response({"uuid": signal.uuid})

    def claim(self) -> DirLock:
        """Locks the folder for this server (``StartError`` if another server holds it) and removes
        the temporary files a killed predecessor left in the middle of a write. Release the lock
        when the server stops."""
        try:
            lock = DirLock(self.received / LOCK_FILE)
        except LockedError:
            raise StartError(
                f"{self.received} is in use by another signal server ({LOCK_FILE} is locked)"
            ) from None
        removed = 0
        for item in self.received.iterdir():
            if item.name.startswith(INCOMING_PREFIX) and is_temporary(item.name):
                item.unlink(missing_ok=True)
                removed += 1
        if removed:
            log.info("removed %d unfinished signal file(s) left by a stopped server", removed)
        return lock


def _refuse(status: int, reason: str, request: web.Request) -> web.Response:
    log.info("refused %d from %s: %s", status, request.remote, reason)
    return web.json_response({"error": reason}, status=status)


# --- command line --------------------------------------------------------------------------------


class StartError(Exception):
    """The server cannot start; the message says why."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="run_receive_signals_server",
        description="Receive trading signals over HTTP and write them for the miner's SignalAgent.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    p.add_argument("--port", type=int, default=8088, help="port to listen on (8088; 0 picks a free one)")
    p.add_argument(
        "--dir", default="mining", help=f"folder of {SECRETS_FILE} and the signal folders (mining)"
    )
    p.add_argument(
        "--max-body-bytes",
        dest="max_body_bytes",
        type=int,
        default=DEFAULT_MAX_BODY_BYTES,
        help=f"largest request body accepted ({DEFAULT_MAX_BODY_BYTES})",
    )
    p.add_argument("--log-level", dest="log_level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    return p


def build(args: argparse.Namespace) -> SignalServer:
    if not 0 <= args.port <= 65_535:
        raise StartError(f"--port must be in [0, 65535], got {args.port}")
    if args.max_body_bytes < 64:
        raise StartError(f"--max-body-bytes must be >= 64, got {args.max_body_bytes}")
    root = Path(args.dir)
    if not root.is_dir():
        raise StartError(f"--dir {root} is not a folder")
    try:
        key = load_api_key(root / SECRETS_FILE)
        return SignalServer(root, key, max_body_bytes=args.max_body_bytes)
    except (SignalError, OSError) as e:
        raise StartError(str(e)) from None


async def serve(server: SignalServer, host: str, port: int, stop: asyncio.Event) -> None:
    lock = server.claim()
    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        try:
            await site.start()
        except OSError as e:
            reason = os.strerror(e.errno) if e.errno else str(e)
            raise StartError(f"cannot listen on {host}:{port}: {reason}") from None
        bound = runner.addresses[0][1]
        print(
            f"listening on http://{host}:{bound}{SIGNAL_PATH}; signals go to {server.received}",
            flush=True,
        )
        await stop.wait()
    finally:
        await runner.cleanup()
        lock.release()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        server = build(args)
        asyncio.run(_run(server, args.host, args.port))
    except StartError as e:
        print(f"run_receive_signals_server: error: {e}", file=sys.stderr)
        return 1
    return 0


async def _run(server: SignalServer, host: str, port: int) -> None:
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await serve(server, host, port, stop)
