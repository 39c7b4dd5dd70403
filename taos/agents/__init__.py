"""The miner agent contract (``Agent``), instruction helpers and the agent loader.
Uses only ``taos.protocol``: no C++ extension, no bittensor, no HTTP."""

from taos.agents.agent import Agent, Param
from taos.agents.helpers import cancel, limit, market, snap_price, snap_quantity, target
from taos.agents.loader import AgentLoadError, create_agent, load_agent_class, parse_params, parse_value

__all__ = [
    "Agent",
    "AgentLoadError",
    "Param",
    "cancel",
    "create_agent",
    "limit",
    "load_agent_class",
    "market",
    "parse_params",
    "parse_value",
    "snap_price",
    "snap_quantity",
    "target",
]
