"""The validator's side of the transport: sign a state with the validator's hotkey,
POST it to a miner and time the answer.

Every miner is a potential attacker, so the client:
- never follows a redirect (a 3xx is an ``http_error``: a miner could otherwise make the validator
  POST its signed state to an address of the miner's choosing, e.g. one inside the validator's
  network);
- never keeps or echoes a failed answer's body: a ``QueryResult`` with an error carries no body,
  and its ``error`` says only what kind of failure it was (a timeout, a refused connection, an
  HTTP status, an oversized reply), never what the peer sent;
- reads at most ``max_reply_bytes``, and refuses a larger announced length before reading;
- sends a state compressed (zstd) only to a miner whose last answer said it takes it
  (``taos.protocol.compression``);
- asks for and takes only uncompressed replies (``Accept-Encoding: identity``, and a reply with a
  ``Content-Encoding`` is an ``http_error``), so a small compressed body can never expand into a
  large one (a gzip bomb) before the size cap applies;
- times a reply from the moment its request was sent (after the connection is set up and the
  body signed) to the end of its reading, so waiting for a pooled connection or for the signing
  of other miners' requests never counts as a miner's response time. ``connector`` builds a
  connection pool with no limit: the number of requests in flight is the number of miners.

``query`` never raises for a miner's fault: every failure is a ``QueryResult`` with ``error`` and
``outcome`` set.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp
from yarl import URL

from taos.chain import http_auth
from taos.protocol import CONTENT_TYPE, DEFAULT_MAX_BYTES, STATE_PATH
from taos.protocol.compression import IDENTITY, accepts_zstd
from taos.validator.outcome import QueryOutcome


@dataclass(frozen=True)
class QueryResult:
    """``status`` is None when no HTTP answer came; ``body`` is empty unless the query succeeded;
    ``elapsed_s`` is measured from the sending of the request to the end of reading the answer
    (or the failure)."""

    status: int | None
    body: bytes
    elapsed_s: float
    error: str | None = None
    outcome: QueryOutcome = QueryOutcome.OK
    accepts_zstd: bool = False  # the miner's answer said it takes zstd bodies (Accept-Encoding)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Target:
    endpoint: str  # "host:port"
    hotkey: str  # the miner's hotkey, which the request is signed for


def state_url(endpoint: str) -> str:
    return f"http://{endpoint}{STATE_PATH}"


async def _request_sent(session: Any, context: Any, params: Any) -> None:
    context.trace_request_ctx.sent = time.perf_counter()


def trace_config() -> aiohttp.TraceConfig:
    """Marks the moment each request's headers are on their way (``trace_request_ctx.sent``)."""
    trace = aiohttp.TraceConfig()
    trace.on_request_headers_sent.append(_request_sent)
    return trace


def new_session() -> aiohttp.ClientSession:
    """A session for querying miners: a pool without a connection limit and the send-time trace."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, limit_per_host=0),
        trace_configs=[trace_config()],
        auto_decompress=False,
    )


def sign(wallet: Any, target: Target, body: bytes, coding: str = IDENTITY) -> dict[str, str]:
    """The headers of a request of ``body`` (of content coding ``coding``: identity or zstd) to
    ``target``, signed with ``wallet``'s hotkey (the signature is over the body as sent)."""
    url = URL(state_url(target.endpoint))
    headers = dict(
        http_auth().sign(wallet, method="POST", path=url.raw_path_qs, body=body, receiver_ss58=target.hotkey)
    )
    headers["Content-Type"] = CONTENT_TYPE
    headers["Accept-Encoding"] = "identity"
    if coding != IDENTITY:
        headers["Content-Encoding"] = coding
    return headers


async def query(
    session: aiohttp.ClientSession,
    wallet: Any,
    target: Target,
    body: bytes,
    *,
    timeout_s: float,
    max_reply_bytes: int = DEFAULT_MAX_BYTES,
    headers: Mapping[str, str] | None = None,
) -> QueryResult:
    """Signs ``body`` for ``target.hotkey`` with ``wallet``'s hotkey (unless ``headers`` were signed
    already) and POSTs it. The response time starts when the request is sent when ``session`` has
    the send-time trace (``new_session``), else when this call starts."""
    if headers is None:
        headers = sign(wallet, target, body)
    mark = SimpleNamespace(sent=None)
    start = time.perf_counter()

    def elapsed() -> float:
        return time.perf_counter() - (mark.sent if mark.sent is not None else start)

    url = URL(state_url(target.endpoint))
    options: dict[str, Any] = {
        "data": body,
        "headers": headers,
        "timeout": aiohttp.ClientTimeout(total=timeout_s),
        "trace_request_ctx": mark,
    }
    try:
        async with session.post(url, allow_redirects=False, **options) as response:  # never follow a miner
            status = response.status
            zstd = accepts_zstd(response.headers.getone("Accept-Encoding", ""))
            if status != 200:
                note = " (redirects are not followed)" if 300 <= status < 400 else ""
                return QueryResult(
                    status, b"", elapsed(), f"HTTP {status}{note}", QueryOutcome.HTTP_ERROR, accepts_zstd=zstd
                )
            encoding = response.headers.getone("Content-Encoding", "identity").strip().lower()
            if encoding not in ("", "identity"):
                return QueryResult(
                    status,
                    b"",
                    elapsed(),
                    "compressed reply refused (Content-Encoding)",
                    QueryOutcome.HTTP_ERROR,
                )
            reply = await _read_capped(response, max_reply_bytes)
            if reply is None:
                return QueryResult(
                    status,
                    b"",
                    elapsed(),
                    f"reply larger than {max_reply_bytes} bytes",
                    QueryOutcome.OVERSIZED,
                )
            return QueryResult(200, reply, elapsed(), accepts_zstd=zstd)
    except TimeoutError:
        return QueryResult(None, b"", elapsed(), f"no answer within {timeout_s:g} s", QueryOutcome.TIMEOUT)
    except aiohttp.ClientResponseError as e:  # a malformed HTTP answer
        return QueryResult(
            None, b"", elapsed(), f"malformed HTTP answer ({e.status})", QueryOutcome.HTTP_ERROR
        )
    except (aiohttp.ClientError, OSError) as e:
        return QueryResult(None, b"", elapsed(), _connection_error(e), QueryOutcome.REFUSED)


def _connection_error(e: BaseException) -> str:
    """What went wrong with a connection, in our words (no text of the peer's)."""
    if isinstance(e, aiohttp.ServerDisconnectedError):
        return "the connection was closed before an answer"
    if isinstance(e, aiohttp.ClientConnectorError):
        return f"cannot connect: {_os_reason(e.os_error)}"
    if isinstance(e, aiohttp.ClientPayloadError):
        return "the answer's body was cut off or malformed"
    if isinstance(e, OSError):
        return f"connection failed: {_os_reason(e)}"
    return f"connection failed: {type(e).__name__}"


def _os_reason(e: OSError) -> str:
    """The system's words for ``e``'s error number ("Connection refused"), or its type: never its
    message, which may carry the peer's address or text."""
    return os.strerror(e.errno) if e.errno else type(e).__name__


async def query_all(
    session: aiohttp.ClientSession,
    wallet: Any,
    requests: Sequence[tuple[Target, bytes] | tuple[Target, bytes, str]],
    *,
    timeout_s: float,
    max_reply_bytes: int = DEFAULT_MAX_BYTES,
) -> list[QueryResult]:
    """Queries every target concurrently; results in the order of ``requests`` (target, body and
    optionally the body's content coding). Every request is signed before the first is sent, so
    that no miner's time includes the signing of others'."""
    signed = [sign(wallet, r[0], r[1], r[2] if len(r) > 2 else IDENTITY) for r in requests]
    return list(
        await asyncio.gather(
            *(
                query(
                    session,
                    wallet,
                    r[0],
                    r[1],
                    timeout_s=timeout_s,
                    max_reply_bytes=max_reply_bytes,
                    headers=h,
                )
                for r, h in zip(requests, signed, strict=True)
            )
        )
    )


async def _read_capped(response: aiohttp.ClientResponse, cap: int) -> bytes | None:
    if response.content_length is not None and response.content_length > cap:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
