"""What a miner sends: instructions and the reply that carries them.

Every instruction names its book and may ask for an extra delay (simulated
nanoseconds added to the latency the validator assigns). Prices and quantities
are decimals in the book's currencies; ``taos.protocol.checks`` says how they
map onto ticks and lots.

On the wire each instruction is a MessagePack map whose ``kind`` key holds its
fixed integer tag; fields equal to their default are omitted.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Annotated

import msgspec

from taos.protocol.enums import Currency, Side, Stp, TimeInForce

MAX_INSTRUCTIONS = 200_000
"""Hard limit of instructions in one reply; a longer reply does not decode."""


class Direction(IntEnum):
    """The desired exposure of a ``TargetPosition``. Python-only (the validator
    turns a target into market orders), numbered once."""

    FLAT = 0
    LONG = 1
    SHORT = 2


class _Instruction(msgspec.Struct, frozen=True, tag_field="kind", omit_defaults=True):
    pass


class PlaceLimit(_Instruction, frozen=True, tag=1):
    """A limit order. ``expiry_ns`` (absolute simulated time) only with GTT."""

    book: int
    side: Side
    price: float
    quantity: float
    time_in_force: TimeInForce = TimeInForce.GTC
    expiry_ns: int | None = None
    post_only: bool = False
    stp: Stp = Stp.CANCEL_OLDEST
    client_order_id: int | None = None
    delay_ns: int = 0


class PlaceMarket(_Instruction, frozen=True, tag=2):
    """A market order sized in base (``currency=BASE``) or as a quote notional."""

    book: int
    side: Side
    quantity: float
    currency: Currency = Currency.BASE
    stp: Stp = Stp.CANCEL_OLDEST
    client_order_id: int | None = None
    delay_ns: int = 0


class Cancel(_Instruction, frozen=True, tag=3):
    """Cancels an own order, or reduces it by ``quantity`` (keeping its priority)."""

    book: int
    order_id: int
    quantity: float | None = None
    delay_ns: int = 0


# Tag 4 is the engine's ResetAgent, which only the validator issues.
class TargetPosition(_Instruction, frozen=True, tag=5):
    """Moves the base inventory towards ``direction`` at ``leverage`` times the
    current equity on the book; FLAT returns to the starting inventory.

    The validator answers with ``TargetAccepted`` (carrying ``client_order_id``)
    or ``OrderRejected``; the market order it places carries the same id."""

    book: int
    direction: Direction
    leverage: float = 1.0
    client_order_id: int | None = None
    delay_ns: int = 0


Instruction = PlaceLimit | PlaceMarket | Cancel | TargetPosition
INSTRUCTION_TYPES: tuple[type[_Instruction], ...] = (PlaceLimit, PlaceMarket, Cancel, TargetPosition)


class BookEvents(IntEnum):
    """Which public events of the books a miner wants in its states (``Reply.book_events``):
    every L3 event, the trades only, or none (the levels alone). Less is sent and decoded faster."""

    ALL = 0
    TRADES = 1
    NONE = 2


class Reply(msgspec.Struct, frozen=True):
    """A miner's answer to one market state: its instructions, and which of the books' public
    events it wants in its next states (``book_events``; all by default)."""

    protocol_version: int
    instructions: Annotated[tuple[Instruction, ...], msgspec.Meta(max_length=MAX_INSTRUCTIONS)] = ()
    book_events: BookEvents = BookEvents.ALL
