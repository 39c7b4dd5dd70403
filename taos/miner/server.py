"""The miner's HTTP server: one POST route that takes a market state and answers a reply.

Per request, in this order (no agent code runs before the last step):
1. the body is read (larger than the cap: 413);
2. ``bittensor.http_auth.verify``: signature, freshness, receiver, nonce (else 401);
3. the caller against the metagraph: registered, validator permit, minimum stake
   (else 403; 503 while the metagraph cannot be read at all);
4. the body is decoded (``ProtocolError``: 400 with the reason);
5. the caller's agent handles the state within the time budget; a failure or an
   overrun gives an empty reply. 200 with the MessagePack reply.
"""

from __future__ import annotations

import logging

from aiohttp import web

from taos.miner.auth import Gatekeeper, Refused
from taos.miner.pool import AgentPool
from taos.protocol import (
    CONTENT_TYPE,
    DEFAULT_MAX_BYTES,
    STATE_PATH,
    ProtocolError,
    decode_state,
    encode_reply,
)

log = logging.getLogger("taos.miner")


class MinerServer:
    def __init__(self, gate: Gatekeeper, pool: AgentPool, *, max_body_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.gate = gate
        self.pool = pool
        self.max_body_bytes = max_body_bytes

    def app(self) -> web.Application:
        app = web.Application(client_max_size=self.max_body_bytes)
        app.router.add_post(STATE_PATH, self.handle_state)
        return app

    async def handle_state(self, request: web.Request) -> web.Response:
        body = await request.read()
        try:
            caller = self.gate.authenticate(request.headers, body, request.method, request.path_qs)
            await self.gate.authorize(caller)
        except Refused as e:
            log.info("refused %s from %s: %s", e.status, request.remote, e)
            return web.Response(status=e.status, text=str(e))
        try:
            state = decode_state(body, max_bytes=self.max_body_bytes)
        except ProtocolError as e:
            log.warning("bad state from %s: %s", caller, e)
            return web.Response(status=400, text=str(e))
        instructions = await self.pool.run(caller, state)
        return web.Response(body=encode_reply(instructions), content_type=CONTENT_TYPE)
