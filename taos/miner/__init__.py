"""The miner: an aiohttp server that authenticates validators with bittensor's
request signing, checks them against the metagraph, and runs one agent per
validator with a time budget; plus the validator's client for it.

Run it with ``python -m taos.miner`` (see docs/miner.md). Needs the ``chain``
extra (bittensor) for request verification.
"""

from taos.miner.auth import Gatekeeper, Refused
from taos.miner.client import QueryResult, Target, query, query_all, state_url
from taos.miner.pool import AgentPool
from taos.miner.server import STATE_PATH, MinerServer

__all__ = [
    "STATE_PATH",
    "AgentPool",
    "Gatekeeper",
    "MinerServer",
    "QueryResult",
    "Refused",
    "Target",
    "query",
    "query_all",
    "state_url",
]
