"""The miner: an aiohttp server that authenticates validators with bittensor's
request signing, checks them against the metagraph, and runs each validator's agent in a
worker process with a time budget (the validator's client is ``taos.validator.client``).

Run it with ``python -m taos.miner`` (see docs/miner.md). Needs the ``chain`` extra (bittensor)
for request verification. The names below are imported on first use, so that an agent's worker
process (``taos.miner.worker``) imports neither aiohttp nor the chain.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taos.miner.auth import Gatekeeper, Refused
    from taos.miner.guard import ConnectionGuard
    from taos.miner.pool import AgentFile, AgentPool, BadState
    from taos.miner.server import MinerServer

_WHERE = {
    "AgentFile": "taos.miner.pool",
    "AgentPool": "taos.miner.pool",
    "BadState": "taos.miner.pool",
    "ConnectionGuard": "taos.miner.guard",
    "Gatekeeper": "taos.miner.auth",
    "MinerServer": "taos.miner.server",
    "Refused": "taos.miner.auth",
}

__all__ = [
    "AgentFile",
    "AgentPool",
    "BadState",
    "ConnectionGuard",
    "Gatekeeper",
    "MinerServer",
    "Refused",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'taos.miner' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
