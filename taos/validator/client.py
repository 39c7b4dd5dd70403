"""The validator's side of the transport: sign a state with the validator's hotkey,
POST it to a miner and time the answer.

``query`` never raises for a miner's fault: a timeout, a refused connection, an
error status or an oversized answer is a ``QueryResult`` with ``error`` set.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from yarl import URL

from taos.chain import http_auth
from taos.protocol import CONTENT_TYPE, DEFAULT_MAX_BYTES, STATE_PATH


@dataclass(frozen=True)
class QueryResult:
    """``status`` is None when no HTTP answer came; ``elapsed_s`` is measured from
    just before sending to the end of reading the answer (or the failure)."""

    status: int | None
    body: bytes
    elapsed_s: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class Target:
    endpoint: str  # "host:port"
    hotkey: str  # the miner's hotkey, which the request is signed for


def state_url(endpoint: str) -> str:
    return f"http://{endpoint}{STATE_PATH}"


async def query(
    session: aiohttp.ClientSession,
    wallet: Any,
    target: Target,
    body: bytes,
    *,
    timeout_s: float,
    max_reply_bytes: int = DEFAULT_MAX_BYTES,
) -> QueryResult:
    """Signs ``body`` for ``target.hotkey`` with ``wallet``'s hotkey and POSTs it."""
    url = URL(state_url(target.endpoint))
    headers = http_auth().sign(
        wallet, method="POST", path=url.raw_path_qs, body=body, receiver_ss58=target.hotkey
    )
    headers["Content-Type"] = CONTENT_TYPE
    start = time.perf_counter()
    try:
        async with session.post(
            url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as response:
            reply = await _read_capped(response, max_reply_bytes)
            elapsed = time.perf_counter() - start
            if reply is None:
                return QueryResult(
                    response.status, b"", elapsed, f"reply larger than {max_reply_bytes} bytes"
                )
            if response.status != 200:
                text = reply[:500].decode("utf-8", "replace")
                return QueryResult(response.status, reply, elapsed, f"HTTP {response.status}: {text}")
            return QueryResult(200, reply, elapsed)
    except asyncio.TimeoutError:
        return QueryResult(None, b"", time.perf_counter() - start, f"no answer within {timeout_s:g} s")
    except (aiohttp.ClientError, OSError) as e:
        return QueryResult(None, b"", time.perf_counter() - start, f"{type(e).__name__}: {e}")


async def query_all(
    session: aiohttp.ClientSession,
    wallet: Any,
    requests: Sequence[tuple[Target, bytes]],
    *,
    timeout_s: float,
    max_reply_bytes: int = DEFAULT_MAX_BYTES,
) -> list[QueryResult]:
    """Queries every target concurrently; results in the order of ``requests``."""
    return list(
        await asyncio.gather(
            *(
                query(session, wallet, t, b, timeout_s=timeout_s, max_reply_bytes=max_reply_bytes)
                for t, b in requests
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
