"""The exchange engine, through the private compiled module ``taos._simulator``.

Everything is in integer units: prices in ticks, quantities in lots, quote
amounts in tick x lot units, time in nanoseconds, fee rates in parts per billion.
Conversion to decimals happens at the protocol edge, not here.

Typical use::

    from taos.simulator import Exchange, AgentClass, Side
    ex = Exchange(books=2, agent_classes=[AgentClass("miner")])
    ex.open_account(book=0, agent=7, agent_class=0, base_lots=10_000, quote=10**9)
    ex.submit_limit(book=0, agent=7, side=Side.SELL, price_ticks=30_000, qty_lots=5)
    events = ex.take_events()          # numpy array of EVENT_DTYPE
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

try:
    from taos import _simulator  # noqa: F401
except ImportError as exc:  # a miner-only install (TAOS_NO_SIMULATOR=1) has no extension
    raise ImportError(
        "taos.simulator needs the compiled extension taos._simulator; "
        "install the package without TAOS_NO_SIMULATOR=1 to build it"
    ) from exc

from taos._simulator import (
    ACCOUNT_DTYPE,
    EVENT_DTYPE,
    INSTRUCTION_DTYPE,
    LEVEL_DTYPE,
    MAX_NOTIONAL,
    MAX_PRICE_TICKS,
    MAX_QTY_LOTS,
    ORDER_DTYPE,
    RATE_SCALE,
    REPLY_INSTRUCTION_DTYPE,
    AgentClass,
    BookLevels,
    CancelReason,
    CheckpointError,
    Currency,
    EventKind,
    Exchange,
    FeeTier,
    FundamentalConfig,
    InstructionKind,
    PopulationConfig,
    RejectReason,
    Side,
    Simulation,
    SimulationConfig,
    Stp,
    TimeInForce,
    agent_models,
    default_miner_fee_tiers,
    pack_records,
    reply_columns,
    validate_agent_params,
)
from taos._simulator.testing import random_instruction_stream

__all__ = [
    "ACCOUNT_DTYPE",
    "EVENT_DTYPE",
    "INSTRUCTION_DTYPE",
    "LEVEL_DTYPE",
    "MAX_NOTIONAL",
    "MAX_PRICE_TICKS",
    "MAX_QTY_LOTS",
    "ORDER_DTYPE",
    "RATE_SCALE",
    "REPLY_INSTRUCTION_DTYPE",
    "AgentClass",
    "BookLevels",
    "CancelReason",
    "CheckpointError",
    "Currency",
    "EventKind",
    "Exchange",
    "FeeTier",
    "FundamentalConfig",
    "InstructionKind",
    "PopulationConfig",
    "RejectReason",
    "Side",
    "Simulation",
    "SimulationConfig",
    "Stp",
    "TimeInForce",
    "agent_models",
    "default_miner_fee_tiers",
    "instruction_array",
    "load_checkpoint",
    "notices",
    "pack_records",
    "random_instruction_stream",
    "rate_to_ppb",
    "reply_columns",
    "save_checkpoint",
    "validate_agent_params",
]


def instruction_array(n: int) -> np.ndarray:
    """A zeroed array of ``n`` instruction records, ready for ``Exchange.submit_batch``.

    A zeroed record is invalid on purpose (kind 0, side 0): every field must be set.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return np.zeros(n, dtype=INSTRUCTION_DTYPE)


def rate_to_ppb(rate: float) -> int:
    """A fee rate given as a fraction (0.0005 = 0.05 %) in parts per billion, rounded
    to the nearest integer. Rates must lie in (-1, 1)."""
    if not -1.0 < rate < 1.0:
        raise ValueError(f"fee rate must be in (-1, 1), got {rate}")
    return round(rate * RATE_SCALE)


def notices(events: np.ndarray, agent: int) -> np.ndarray:
    """The events addressed to one agent: its own orders' events, and the trades
    in which it was the maker as well as the taker."""
    mine = events["agent"] == agent
    maker = (events["kind"] == EventKind.TRADE) & (events["other_agent"] == agent)
    return events[mine | maker]


def save_checkpoint(sim: Simulation, path: str | Path) -> None:
    """Writes the simulation's state to `path` atomically: a temporary file in the same
    folder, flushed to disk, then renamed over `path` (the folder is synced too), so a
    crash at any moment leaves either the old file or the new one, never a mix."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    data = sim.save_state()
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_checkpoint(config: SimulationConfig, path: str | Path) -> Simulation:
    """A simulation restored from a checkpoint file written for the same configuration.
    Raises CheckpointError (a ValueError) for a foreign, truncated or corrupt file and
    OSError when the file cannot be read."""
    return Simulation.restore(config, Path(path).read_bytes())
