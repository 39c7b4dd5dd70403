"""What happened to the receiving miner's own orders and account.

A miner receives only its own notices. Each notice is a MessagePack map whose
``kind`` key holds its fixed integer tag. Timestamps are simulated nanoseconds;
prices, quantities and fees are decimals in the book's currencies.
"""

from __future__ import annotations

import msgspec

from taos.protocol.enums import CancelReason, RejectReason, Side, TimeInForce
from taos.protocol.instructions import Direction


class _Notice(msgspec.Struct, frozen=True, tag_field="kind", array_like=True):
    pass


class OrderAccepted(_Notice, frozen=True, tag=1):
    """An order was accepted by the exchange and got ``order_id``.
    ``price`` is None for a market order; ``quantity`` is then in the order's currency."""

    book: int
    ts_ns: int
    order_id: int
    side: Side
    price: float | None
    quantity: float
    client_order_id: int | None = None
    time_in_force: TimeInForce | None = None


class OrderRejected(_Notice, frozen=True, tag=2):
    """An instruction was refused. ``order_id`` is set when a cancel of that order
    was refused, ``client_order_id`` when a placement was."""

    book: int
    ts_ns: int
    reason: RejectReason
    client_order_id: int | None = None
    order_id: int | None = None
    detail: str = ""


class OrderFilled(_Notice, frozen=True, tag=3):
    """One fill of an own order. ``fee`` is in quote currency (negative: a rebate);
    ``maker`` tells whether the own order was resting."""

    book: int
    ts_ns: int
    order_id: int
    side: Side
    price: float
    quantity: float
    fee: float
    maker: bool
    remaining: float
    client_order_id: int | None = None


class OrderCancelled(_Notice, frozen=True, tag=4):
    """An own order lost ``quantity`` without trading; ``remaining`` > 0 after a
    partial cancel."""

    book: int
    ts_ns: int
    order_id: int
    quantity: float
    remaining: float
    reason: CancelReason
    client_order_id: int | None = None


class AccountReset(_Notice, frozen=True, tag=5):
    """The account on ``book`` was reset to the starting balances (its orders
    were cancelled first), e.g. after the uid was registered anew."""

    book: int
    ts_ns: int


class SimulationStarted(_Notice, frozen=True, tag=6):
    ts_ns: int
    simulation_id: str = ""


class SimulationEnded(_Notice, frozen=True, tag=7):
    ts_ns: int
    simulation_id: str = ""


class ReplyRejected(_Notice, frozen=True, tag=8):
    """The previous reply was dropped as a whole (it did not decode, or came too late)."""

    ts_ns: int
    detail: str


class TargetAccepted(_Notice, frozen=True, tag=9):
    """The validator accepted a ``TargetPosition``. ``leverage`` is the one applied
    (clamped to the maximum); ``quantity`` is the signed base change it ordered
    (buy > 0, sell < 0; 0 when the inventory was already on target)."""

    book: int
    ts_ns: int
    direction: Direction
    leverage: float
    quantity: float
    client_order_id: int | None = None


Notice = (
    OrderAccepted
    | OrderRejected
    | OrderFilled
    | OrderCancelled
    | AccountReset
    | SimulationStarted
    | SimulationEnded
    | ReplyRejected
    | TargetAccepted
)
NOTICE_TYPES: tuple[type[_Notice], ...] = (
    OrderAccepted,
    OrderRejected,
    OrderFilled,
    OrderCancelled,
    AccountReset,
    SimulationStarted,
    SimulationEnded,
    ReplyRejected,
    TargetAccepted,
)
