"""What a validator sends each publish interval: the market state.

The books (levels and anonymous L3 events) are the same for every miner; the
accounts, notices and starting capital are the receiver's own. Bulk records
(balances, capital) are MessagePack arrays in field order; a book's levels,
level orders and events are byte strings of fixed records
(``taos.protocol.levels``, ``taos.protocol.events``); everything else is a map.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import msgspec

from taos.protocol.enums import Side, TimeInForce
from taos.protocol.events import (
    BookEvent,
    event_dtype,
    pack_events,
    unpack_events,
)
from taos.protocol.levels import (
    Level,
    best_price,
    level_dtype,
    order_dtype,
    pack_side,
    unpack_side,
)
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


class BookState(msgspec.Struct, frozen=True):
    """One book: the top levels of each side (best first) and the public events since the last
    state.

    Levels and events travel as packed records (``taos.protocol.levels``, ``taos.protocol.events``).
    Read them as numpy structured arrays (``bid_array``, ``bid_order_array``, ``event_array``, ...:
    no copy, the fast path) or as objects (``bids``, ``asks``, ``events``: built on each access, so
    keep the result rather than asking twice). ``BookState.build`` packs objects."""

    book: int
    bid_levels: bytes = b""
    ask_levels: bytes = b""
    bid_orders: bytes = b""
    ask_orders: bytes = b""
    event_records: bytes = b""
    events_dropped: int = 0  # older events of this interval left out (``limits.MAX_EVENTS_PER_BOOK``)

    @classmethod
    def build(
        cls,
        book: int,
        bids: Sequence[Level] = (),
        asks: Sequence[Level] = (),
        events: Iterable[BookEvent] = (),
    ) -> BookState:
        bid_levels, bid_orders = pack_side(bids)
        ask_levels, ask_orders = pack_side(asks)
        return cls(book, bid_levels, ask_levels, bid_orders, ask_orders, pack_events(events))

    @property
    def bids(self) -> tuple[Level, ...]:
        return unpack_side(self.bid_levels, self.bid_orders)

    @property
    def asks(self) -> tuple[Level, ...]:
        return unpack_side(self.ask_levels, self.ask_orders)

    @property
    def events(self) -> tuple[BookEvent, ...]:
        return unpack_events(self.event_records)

    @property
    def best_bid(self) -> float | None:
        return best_price(self.bid_levels)

    @property
    def best_ask(self) -> float | None:
        return best_price(self.ask_levels)

    @property
    def mid(self) -> float | None:
        bid, ask = self.best_bid, self.best_ask
        if bid is None or ask is None:
            return None
        return (bid + ask) / 2

    @property
    def bid_array(self) -> Any:
        """The bid levels as a read-only numpy structured array (``price``, ``quantity``)."""
        return _frombuffer(self.bid_levels, level_dtype())

    @property
    def ask_array(self) -> Any:
        return _frombuffer(self.ask_levels, level_dtype())

    @property
    def bid_order_array(self) -> Any:
        """The orders of the detailed bid levels (``order_id``, ``quantity``, ``level``)."""
        return _frombuffer(self.bid_orders, order_dtype())

    @property
    def ask_order_array(self) -> Any:
        return _frombuffer(self.ask_orders, order_dtype())

    @property
    def event_array(self) -> Any:
        """The events as a read-only numpy structured array (fields: ``EVENT_FIELDS``)."""
        return _frombuffer(self.event_records, event_dtype())


def _frombuffer(data: bytes, dtype: Any) -> Any:
    import numpy as np

    return np.frombuffer(data, dtype=dtype)


class Balance(msgspec.Struct, frozen=True, array_like=True):
    free: float
    reserved: float

    @property
    def total(self) -> float:
        return self.free + self.reserved


class OpenOrder(msgspec.Struct, frozen=True, array_like=True):
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
    orders_dropped: int = 0  # open orders beyond ``limits.MAX_ACCOUNT_ORDERS``, not listed


class MarketState(msgspec.Struct, frozen=True):
    """One state update for one miner."""

    protocol_version: int
    timestamp_ns: int
    simulation: SimulationInfo
    books: tuple[BookState, ...]
    accounts: tuple[Account, ...] = ()
    notices: tuple[Notice, ...] = ()
