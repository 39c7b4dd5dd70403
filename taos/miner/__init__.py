"""The miner: an aiohttp server that authenticates validators with bittensor's
request signing, checks them against the metagraph, and runs one agent per
validator with a time budget (the validator's client is ``taos.validator.client``).

Run it with ``python -m taos.miner`` (see docs/miner.md). Needs the ``chain``
extra (bittensor) for request verification.
"""

from taos.miner.auth import Gatekeeper, Refused
from taos.miner.pool import AgentPool
from taos.miner.server import MinerServer

__all__ = [
    "AgentPool",
    "Gatekeeper",
    "MinerServer",
    "Refused",
]
