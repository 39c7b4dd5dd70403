"""Who may query this miner: ``bittensor.http_auth`` request signing and the metagraph.

Checked in two stages so that no body byte is read for a request that can be refused from its
headers:

1. ``precheck`` (headers only): the ``btauth/1`` headers are present and well formed, the request
   is signed for this miner's hotkey, the nonce is fresh (``max_age_s`` back, ``allowed_skew_s``
   ahead) and was not accepted before (looked up, not yet recorded); then ``authorize``: the
   claimed sender is registered with a validator permit and at least ``min_stake``.
2. ``authenticate`` (with the body): ``bittensor.http_auth.verify``, i.e. the signature over the
   body, and the nonce is recorded (a replay gets 401).

Refusals are ``Refused(401)`` (not authenticated), ``Refused(403)`` (not authorized) or
``Refused(503)`` (the metagraph cannot be read at all); messages never echo a header that is not
well formed.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Mapping
from typing import Any

from taos.chain import Chain, ChainError, Metagraph, http_auth

log = logging.getLogger("taos.miner")

_SS58 = re.compile(r"[1-9A-HJ-NP-Za-km-z]{40,60}")
_HEX = re.compile(r"(0x)?[0-9a-fA-F]{2,256}")
_NONCE = re.compile(r"[0-9]{1,20}")


class Refused(Exception):
    """A request that gets no agent call: ``status`` 401 (not authenticated), 403 (not authorized),
    503 (the metagraph cannot be read), or another status set by the server (408, 413, 415)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class NonceStore:
    """``bittensor.http_auth``'s nonce store (``check_and_store``, ``retention``) that can also be
    asked whether a nonce was accepted without recording it (``seen``), for the header check."""

    def __init__(self, retention: float) -> None:
        self.retention = retention
        self._seen: set[tuple[str, int]] = set()
        self._expiry: deque[tuple[float, tuple[str, int]]] = deque()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._expiry and self._expiry[0][0] <= now:
            self._seen.discard(self._expiry.popleft()[1])

    def seen(self, hotkey: str, nonce: int) -> bool:
        with self._lock:
            self._expire(time.monotonic())
            return (hotkey, nonce) in self._seen

    def check_and_store(self, hotkey_ss58: str, nonce_ns: int) -> bool:
        key = (hotkey_ss58, nonce_ns)
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            if key in self._seen:
                return False
            self._seen.add(key)
            self._expiry.append((now + self.retention, key))
            return True


class Gatekeeper:
    def __init__(
        self,
        chain: Chain,
        *,
        min_stake: float = 0.0,
        metagraph_ttl_s: float = 60.0,
        retry_unknown_s: float = 10.0,
        max_age_s: float = 10.0,
        allowed_skew_s: float = 2.0,
    ) -> None:
        self._auth = http_auth()
        self._chain = chain
        self._hotkey = chain.hotkey
        self._min_stake = min_stake
        self._ttl = metagraph_ttl_s
        self._retry_unknown = retry_unknown_s
        self._max_age = max_age_s
        self._skew = allowed_skew_s
        self._nonces = NonceStore(retention=max(60.0, 2 * (max_age_s + allowed_skew_s)))
        self._graph: Metagraph | None = None
        self._fetched = -float("inf")
        self._lock = asyncio.Lock()

    @property
    def hotkey(self) -> str:
        return self._hotkey

    def precheck(self, headers: Mapping[str, str]) -> str:
        """The claimed sender's hotkey when the headers alone do not refuse the request; else
        ``Refused(401)``. Nothing is recorded: ``authenticate`` decides with the body."""
        a = self._auth
        h = {k.lower(): v for k, v in headers.items()}
        if h.get(a.HEADER_VERSION.lower()) != a.VERSION:
            raise _refused(f"missing or unsupported {a.HEADER_VERSION} (expected {a.VERSION!r})")
        sender = h.get(a.HEADER_HOTKEY.lower())
        if not sender:
            raise _refused(f"missing {a.HEADER_HOTKEY}")
        if not _SS58.fullmatch(sender):
            raise _refused(f"{a.HEADER_HOTKEY} is not an ss58 address")
        raw_nonce = h.get(a.HEADER_NONCE.lower())
        if raw_nonce is None:
            raise _refused(f"missing {a.HEADER_NONCE}")
        if not _NONCE.fullmatch(raw_nonce):
            raise _refused(f"{a.HEADER_NONCE} is not a decimal integer")
        crypto = h.get(a.HEADER_CRYPTO.lower())
        if crypto is not None and crypto not in a.CRYPTO_TYPE_NAMES.values():
            raise _refused(f"unsupported {a.HEADER_CRYPTO}")
        signature = h.get(a.HEADER_SIGNATURE.lower())
        if signature is None:
            raise _refused(f"missing {a.HEADER_SIGNATURE}")
        if not _HEX.fullmatch(signature):
            raise _refused(f"{a.HEADER_SIGNATURE} is not hex")
        receiver = h.get(a.HEADER_RECEIVER.lower())
        if receiver is None:
            raise _refused(f"missing {a.HEADER_RECEIVER}: this server requires receiver-bound requests")
        if receiver != self._hotkey:
            raise _refused("request was signed for a different receiving hotkey")
        nonce = int(raw_nonce)
        now = time.time_ns()
        if now - nonce > self._max_age * 1e9:
            raise _refused(f"nonce is older than the {self._max_age:g}s freshness window")
        if nonce - now > self._skew * 1e9:
            raise _refused(f"nonce is more than {self._skew:g}s in the future")
        if self._nonces.seen(sender, nonce):
            raise _refused("this nonce was already accepted from this hotkey")
        return sender

    def authenticate(self, headers: Mapping[str, str], body: bytes, method: str, path: str) -> str:
        """The caller's hotkey; ``Refused(401)`` unless the request is signed over ``body`` for this
        miner, fresh and new. Records the nonce."""
        try:
            caller = self._auth.verify(
                headers,
                body,
                method=method,
                path=path,
                self_hotkey_ss58=self._hotkey,
                max_age=self._max_age,
                allowed_skew=self._skew,
                nonce_store=self._nonces,
            )
        except self._auth.AuthError as e:
            raise _refused(str(e)) from None
        return str(caller.hotkey_ss58)

    async def authorize(self, hotkey: str) -> None:
        """``Refused(403)`` unless ``hotkey`` is registered with a validator permit and enough stake."""
        graph = self._graph
        neuron: Any = None
        if graph is None or time.monotonic() - self._fetched > self._ttl:
            graph = await self._metagraph(max_age_s=self._ttl)
        neuron = graph.by_hotkey(hotkey)
        if neuron is None or not neuron.validator_permit:
            graph = await self._metagraph(max_age_s=self._retry_unknown)  # it may be new: look again
            neuron = graph.by_hotkey(hotkey)
        if neuron is None:
            raise Refused(403, f"hotkey {hotkey} is not registered")
        if not neuron.validator_permit:
            raise Refused(403, f"hotkey {hotkey} (uid {neuron.uid}) has no validator permit")
        if neuron.stake < self._min_stake:
            raise Refused(
                403, f"hotkey {hotkey} (uid {neuron.uid}) has stake {neuron.stake:g} < {self._min_stake:g}"
            )

    async def _metagraph(self, max_age_s: float) -> Metagraph:
        async with self._lock:
            if self._graph is None or time.monotonic() - self._fetched > max_age_s:
                try:
                    self._graph = await asyncio.get_running_loop().run_in_executor(
                        None, self._chain.metagraph
                    )
                    self._fetched = time.monotonic()
                except ChainError as e:
                    if self._graph is None:
                        raise Refused(503, f"the metagraph cannot be read: {e}") from None
                    log.warning("metagraph refresh failed, using the one from before: %s", e)
                    self._fetched = time.monotonic()
            return self._graph


def _refused(reason: str) -> Refused:
    return Refused(401, f"not authenticated: {reason}")
