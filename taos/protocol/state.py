"""What a validator sends each publish interval: the market state.

The books (levels and anonymous L3 events) are the same for every miner; the
accounts, notices and starting capital are the receiver's own. Bulk records
(levels, level orders, events, balances) are MessagePack arrays in field order;
everything else is a map.
"""

from __future__ import annotations

import msgspec

from taos.protocol.enums import CancelReason, Side, TimeInForce
from taos.protocol.notices import Notice

LEVELS = 21
"""Levels sent per side of a book."""
DETAILED_LEVELS = 5
"""Levels per side that list their orders."""


class FeeTier(msgspec.Struct, frozen=True):
    """Rates from a rolling traded quote volume on. Rates are fractions (0.005 = 0.5 %)."""

    volume: float
    maker: float
    taker: float


class Capital(msgspec.Struct, frozen=True, array_like=True):
    base: float
    quote: float


class SimulationInfo(msgspec.Struct, frozen=True):
    """What a trader may know of the simulation. ``capital`` is the receiver's
    own starting balances, one entry per book."""

    simulation_id: str
    books: int
    tick_size: float
    lot_size: float
    duration_ns: int
    publish_interval_ns: int
    capital: tuple[Capital, ...]
    fee_tiers: tuple[FeeTier, ...]
    fee_window_ns: int = 86_400_000_000_000
    max_instructions_per_book: int = 20


class LevelOrder(msgspec.Struct, frozen=True, array_like=True):
    order_id: int
    quantity: float


class Level(msgspec.Struct, frozen=True, array_like=True):
    """One price level; ``orders`` in time priority for the top levels, else empty."""

    price: float
    quantity: float
    orders: tuple[LevelOrder, ...] = ()


class OrderPlaced(msgspec.Struct, frozen=True, array_like=True, tag=1):
    """An order arrived (``price`` None for a market order)."""

    seq: int
    ts_ns: int
    order_id: int
    side: Side
    price: float | None
    quantity: float


class Trade(msgspec.Struct, frozen=True, array_like=True, tag=3):
    """A fill at the resting order's price; ``side`` is the aggressor's."""

    seq: int
    ts_ns: int
    taker_order_id: int
    maker_order_id: int
    side: Side
    price: float
    quantity: float


class OrderRemoved(msgspec.Struct, frozen=True, array_like=True, tag=4):
    """An order lost ``quantity`` without trading (cancel, expiry, STP, reset, the
    rest of an IOC or market order); ``remaining`` > 0 after a partial cancel."""

    seq: int
    ts_ns: int
    order_id: int
    side: Side
    quantity: float
    remaining: float
    reason: CancelReason


BookEvent = OrderPlaced | Trade | OrderRemoved
"""Tags are the engine's EventKind values. Rejections are not public."""


class BookState(msgspec.Struct, frozen=True):
    """One book: the top levels (best first) and the events since the last state."""

    book: int
    bids: tuple[Level, ...] = ()
    asks: tuple[Level, ...] = ()
    events: tuple[BookEvent, ...] = ()

    @property
    def best_bid(self) -> float | None:
        return self.bids[0].price if self.bids else None

    @property
    def best_ask(self) -> float | None:
        return self.asks[0].price if self.asks else None

    @property
    def mid(self) -> float | None:
        if not self.bids or not self.asks:
            return None
        return (self.bids[0].price + self.asks[0].price) / 2


class Balance(msgspec.Struct, frozen=True, array_like=True):
    free: float
    reserved: float

    @property
    def total(self) -> float:
        return self.free + self.reserved


class OpenOrder(msgspec.Struct, frozen=True):
    """A resting own order; ``quantity`` is what is left of it."""

    order_id: int
    side: Side
    price: float
    quantity: float
    time_in_force: TimeInForce = TimeInForce.GTC
    client_order_id: int | None = None
    expiry_ns: int | None = None


class Account(msgspec.Struct, frozen=True):
    """The receiver's account on one book. ``volume`` is its rolling traded quote
    volume, which sets ``fee_tier`` (an index into ``SimulationInfo.fee_tiers``)."""

    book: int
    base: Balance
    quote: Balance
    orders: tuple[OpenOrder, ...] = ()
    fee_tier: int = 0
    volume: float = 0.0


class MarketState(msgspec.Struct, frozen=True):
    """One state update for one miner."""

    protocol_version: int
    timestamp_ns: int
    simulation: SimulationInfo
    books: tuple[BookState, ...]
    accounts: tuple[Account, ...] = ()
    notices: tuple[Notice, ...] = ()
