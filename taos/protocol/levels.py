"""A book side's top levels on the wire: fixed little-endian records in byte strings.

Like the events (``taos.protocol.events``), the levels of every book are packed once by the validator
and read by a miner as numpy arrays (no copy) or as ``Level`` objects. One side of a book is two
byte strings:

levels, 16 bytes per level, best first::

     0  price     f64   decimal price
     8  quantity  f64   decimal base quantity resting at that price

orders of the detailed (top) levels, 24 bytes per order, by level then time priority::

     0  order_id  u64
     8  quantity  f64   what is left of the order
    16  level     u32   index of its level in the levels string
    20  (4 zero bytes)
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Sequence
from typing import Any

import msgspec


class LevelOrder(msgspec.Struct, frozen=True, array_like=True):
    order_id: int
    quantity: float


class Level(msgspec.Struct, frozen=True, array_like=True):
    """One price level; ``orders`` in time priority for the top levels, else empty."""

    price: float
    quantity: float
    orders: tuple[LevelOrder, ...] = ()


LEVEL_SIZE = 16
ORDER_SIZE = 24
_LEVEL = struct.Struct("<dd")
_ORDER = struct.Struct("<QdI4x")
assert _LEVEL.size == LEVEL_SIZE and _ORDER.size == ORDER_SIZE

LEVEL_FIELDS: tuple[tuple[str, str, int], ...] = (("price", "<f8", 0), ("quantity", "<f8", 8))
ORDER_FIELDS: tuple[tuple[str, str, int], ...] = (
    ("order_id", "<u8", 0),
    ("quantity", "<f8", 8),
    ("level", "<u4", 16),
)


def _dtype(fields: tuple[tuple[str, str, int], ...], size: int) -> Any:
    import numpy as np

    return np.dtype(
        {
            "names": [f[0] for f in fields],
            "formats": [f[1] for f in fields],
            "offsets": [f[2] for f in fields],
            "itemsize": size,
        }
    )


def level_dtype() -> Any:
    """The numpy dtype of a level record (numpy is imported only when this is called)."""
    return _dtype(LEVEL_FIELDS, LEVEL_SIZE)


def order_dtype() -> Any:
    """The numpy dtype of a level-order record."""
    return _dtype(ORDER_FIELDS, ORDER_SIZE)


def check_side(levels: bytes, orders: bytes) -> str | None:
    """What is wrong with one side's records (lengths; an order's level missing or out of
    order), or None."""
    if len(levels) % LEVEL_SIZE:
        return f"{len(levels)} bytes is not a whole number of {LEVEL_SIZE}-byte level records"
    if len(orders) % ORDER_SIZE:
        return f"{len(orders)} bytes is not a whole number of {ORDER_SIZE}-byte order records"
    if not orders:
        return None
    n, column = len(levels) // LEVEL_SIZE, _level_column(orders)
    if max(column) < n and column == sorted(column):  # the usual case, at C speed
        return None
    last = 0
    for level in column:
        if level >= n:
            return f"an order of level {level} on a side of {n} levels"
        if level < last:
            return f"orders are not grouped by level (level {level} after level {last})"
        last = level
    return None


def _level_column(orders: bytes) -> list[int]:
    """The ``level`` field of every order record (a whole number of records)."""
    if sys.byteorder == "little":  # a view of the u32 words: the level is word 4 of each 6
        return memoryview(orders).cast("I")[4 :: ORDER_SIZE // 4].tolist()
    return [level for _, _, level in _ORDER.iter_unpack(orders)]


def pack_side(levels: Sequence[Level]) -> tuple[bytes, bytes]:
    """(levels, orders) records of ``levels`` (objects, best first)."""
    out, orders = bytearray(), bytearray()
    for i, level in enumerate(levels):
        out += _LEVEL.pack(level.price, level.quantity)
        for o in level.orders:
            orders += _ORDER.pack(o.order_id, o.quantity, i)
    return bytes(out), bytes(orders)


def unpack_side(levels: bytes, orders: bytes) -> tuple[Level, ...]:
    """The ``Level`` objects of one side (a ``ValueError`` naming the problem for bad records)."""

    problem = check_side(levels, orders)
    if problem is not None:
        raise ValueError(f"level records: {problem}")
    by_level: dict[int, list[LevelOrder]] = {}
    for oid, qty, level in _ORDER.iter_unpack(orders):
        by_level.setdefault(level, []).append(LevelOrder(oid, qty))
    return tuple(
        Level(price, qty, tuple(by_level.get(i, ())))
        for i, (price, qty) in enumerate(_LEVEL.iter_unpack(levels))
    )


def best_price(levels: bytes) -> float | None:
    """The first level's price, or None for an empty side."""
    return _LEVEL.unpack_from(levels, 0)[0] if len(levels) >= LEVEL_SIZE else None
