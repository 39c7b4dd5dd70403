"""Who may query this miner: authentication with ``bittensor.http_auth`` (signature,
freshness, receiver, no replay), then authorization against the metagraph
(registered, validator permit, minimum stake).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from taos.chain import Chain, ChainError, Metagraph, http_auth

log = logging.getLogger("taos.miner")


class Refused(Exception):
    """A request that gets no agent call: ``status`` 401 (not authenticated),
    403 (not authorized) or 503 (the metagraph cannot be read)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


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
        self._nonces = self._auth.InMemoryNonceStore(retention=max(60.0, 2 * (max_age_s + allowed_skew_s)))
        self._graph: Metagraph | None = None
        self._fetched = -float("inf")
        self._lock = asyncio.Lock()

    def authenticate(self, headers: Mapping[str, str], body: bytes, method: str, path: str) -> str:
        """The caller's hotkey; ``Refused(401)`` when the request is not signed for this miner, fresh and new."""
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
            raise Refused(401, f"not authenticated: {e}") from None
        return str(caller.hotkey_ss58)

    async def authorize(self, hotkey: str) -> None:
        """``Refused(403)`` unless ``hotkey`` is registered with a validator permit and enough stake."""
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
