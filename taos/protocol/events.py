"""A book's public L3 events on the wire: fixed 64-byte little-endian records in one byte string.

A step of a busy book has thousands of events; one MessagePack map or array per event made
building and reading a state cost more than the simulation step itself. The records are packed
once by the validator and read by a miner either as a numpy structured array (``event_array``,
no copy) or as ``OrderPlaced`` / ``Trade`` / ``OrderRemoved`` objects (``unpack_events``).

Record layout (offsets in bytes; ``<`` little-endian)::

     0  seq             u64   the event's sequence number in its book
     8  ts_ns           i64   simulated time
    16  order_id        u64   the order's public id (for a trade: the taker's)
    24  other_order_id  u64   for a trade: the maker's order's public id; else 0
    32  price           f64   decimal price; NaN for a market order's arrival and for removals
    40  quantity        f64   decimal base quantity
    48  remaining       f64   for a removal: what is left of the order; else 0
    56  kind            u8    EventKind: 1 placed, 3 trade, 4 removed
    57  side            u8    Side (for a trade: the aggressor's)
    58  reason          u8    for a removal: CancelReason; else 0
    59  (5 zero bytes)

Public order ids: the events (and the orders of a book's levels, ``taos.protocol.levels``) name
orders by their public id, the order's number among the orders that arrived on its book (1, 2, …,
in the order their ``OrderPlaced`` events come), so an id tells nothing the event stream does not:
not which agent sent it, nor which earlier order it replaces. A miner's own orders carry their
exchange ``order_id`` in its account and notices (what a ``Cancel`` names);
``public_order_id(order_id)`` is the same order's public id.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable
from typing import Any

import msgspec

from taos.protocol.enums import CancelReason, EventKind, Side

PUBLIC_ID_SHIFT = 24
"""An exchange order id is ``(public id << PUBLIC_ID_SHIFT) | the order's slot in its book``."""


def public_order_id(order_id: int) -> int:
    """The public id (in the events and levels every miner receives) of one's own order
    ``order_id`` (from the account or a notice)."""
    return int(order_id) >> PUBLIC_ID_SHIFT


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

RECORD_SIZE = 64
_RECORD = struct.Struct("<QqQQdddBBB5x")
assert _RECORD.size == RECORD_SIZE

_KINDS = bytes(sorted({int(EventKind.ORDER_PLACED), int(EventKind.TRADE), int(EventKind.ORDER_CANCELLED)}))
_SIDES = bytes(sorted(int(s) for s in Side))
_REASONS = bytes(sorted(int(r) for r in CancelReason))
_SIDE = {int(s): s for s in Side}
_REASON = {int(r): r for r in CancelReason}

EVENT_FIELDS: tuple[tuple[str, str, int], ...] = (
    ("seq", "<u8", 0),
    ("ts_ns", "<i8", 8),
    ("order_id", "<u8", 16),
    ("other_order_id", "<u8", 24),
    ("price", "<f8", 32),
    ("quantity", "<f8", 40),
    ("remaining", "<f8", 48),
    ("kind", "u1", 56),
    ("side", "u1", 57),
    ("reason", "u1", 58),
)
"""(name, numpy type, offset) of each field; ``event_dtype()`` builds the numpy dtype."""


def event_dtype() -> Any:
    """The numpy structured dtype of one record (numpy is imported only when this is called)."""
    import numpy as np

    return np.dtype(
        {
            "names": [f[0] for f in EVENT_FIELDS],
            "formats": [f[1] for f in EVENT_FIELDS],
            "offsets": [f[2] for f in EVENT_FIELDS],
            "itemsize": RECORD_SIZE,
        }
    )


def check_records(data: bytes) -> str | None:
    """What is wrong with ``data`` as event records (length, kind, side or reason), or None.
    Cheap: it reads only the three one-byte columns, with byte slicing."""
    if len(data) % RECORD_SIZE:
        return f"{len(data)} bytes is not a whole number of {RECORD_SIZE}-byte event records"
    for what, offset, allowed in (
        ("event kind", 56, _KINDS),
        ("event side", 57, _SIDES),
        ("cancel reason", 58, _REASONS),
    ):
        bad = bytes(data[offset::RECORD_SIZE]).translate(None, allowed)  # what is left is not allowed
        if bad:
            return f"unknown {what} {min(bad)}"
    return None


def pack_events(events: Iterable[BookEvent]) -> bytes:
    """Records of ``events`` (objects), in order. The validator packs whole numpy columns instead
    (``taos.validator.convert``); both give the same bytes."""

    out = bytearray()
    for e in events:
        match e:
            case OrderPlaced():
                price = math.nan if e.price is None else e.price
                out += _RECORD.pack(e.seq, e.ts_ns, e.order_id, 0, price, e.quantity, 0.0, 1, e.side, 0)
            case Trade():
                out += _RECORD.pack(
                    e.seq, e.ts_ns, e.taker_order_id, e.maker_order_id, e.price, e.quantity, 0.0, 3, e.side, 0
                )
            case OrderRemoved():
                out += _RECORD.pack(
                    e.seq, e.ts_ns, e.order_id, 0, math.nan, e.quantity, e.remaining, 4, e.side, e.reason
                )
            case _:
                raise TypeError(f"not a book event: {type(e).__name__}")
    return bytes(out)


def unpack_events(data: bytes) -> tuple[BookEvent, ...]:
    """The event objects of ``data`` (a ``ValueError`` naming the problem for bad records)."""

    problem = check_records(data)
    if problem is not None:
        raise ValueError(f"event records: {problem}")
    out: list[BookEvent] = []
    for seq, ts, oid, other, price, qty, left, kind, side, reason in _RECORD.iter_unpack(data):
        if kind == 1:
            out.append(OrderPlaced(seq, ts, oid, _SIDE[side], None if math.isnan(price) else price, qty))
        elif kind == 3:
            out.append(Trade(seq, ts, oid, other, _SIDE[side], price, qty))
        else:
            out.append(OrderRemoved(seq, ts, oid, _SIDE[side], qty, left, _REASON[reason]))
    return tuple(out)
