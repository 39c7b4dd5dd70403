"""Wire vocabulary shared by validator and miner. Pure Python: importing it never
needs the C++ extension or bittensor."""

from taos.protocol.enums import (
    CancelReason,
    Currency,
    EventKind,
    InstructionKind,
    RejectReason,
    Side,
    Stp,
    TimeInForce,
)

__all__ = [
    "CancelReason",
    "Currency",
    "EventKind",
    "InstructionKind",
    "RejectReason",
    "Side",
    "Stp",
    "TimeInForce",
]
