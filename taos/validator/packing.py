"""MessagePack of many records at once, from numpy columns: the bytes msgspec writes for the same
structs, without building a Python object per record.

A validator sends every miner its accounts on every book each step (5,120 accounts at 256 miners
and 20 books) and its notices; building an ``Account`` with its ``Balance`` and ``OpenOrder``
objects for each and encoding them cost more than everything else in the state. ``pack_accounts``
writes the same bytes from whole columns.

How: a record is a list of fields, each a column with one value per record (an integer, a float,
an array's length, constant bytes such as a map key, or a span of bytes packed before: a nested
record). ``join`` hands the columns to the engine module's ``pack_records``, which writes every
record's fields one after the other in one pass; ``splice``, ``take`` and ``group`` arrange packed
records as spans of their bytes.

The encodings follow the MessagePack specification as msgspec applies it: the shortest integer
form (positive fixint, uint 8/16/32/64; negative fixint, int 8/16/32/64), float 64 for every float,
fixstr keys, fixarray/array 16/array 32 headers, nil for an absent optional value.
``tests/test_validator_packing.py`` checks the bytes against msgspec's for random records and for
the integer boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import msgspec
import numpy as np
from numpy.typing import NDArray

from taos.protocol.enums import TimeInForce
from taos.simulator import pack_records

U8 = NDArray[np.uint8]
I64 = NDArray[np.int64]


class FieldKind(IntEnum):
    """How ``pack_records`` writes a field (numbered as the engine module numbers them)."""

    CONSTANT = 0
    INTEGER = 1
    UNSIGNED = 2
    FLOAT = 3
    ARRAY_HEADER = 4
    SPANS = 5


@dataclass(frozen=True)
class Field:
    """One field of N records: ``spec`` is what ``pack_records`` reads, ``(kind, values, …)``."""

    spec: tuple[object, ...]
    n: int

    def __len__(self) -> int:
        return self.n


def constant(value: bytes, n: int) -> Field:
    """The same bytes in every record (a map key, an array header of fixed length)."""
    return Field((FieldKind.CONSTANT, bytes(value)), n)


def key(name: str) -> bytes:
    """A map key as msgspec writes a struct's field name (a fixstr)."""
    raw = name.encode()
    if len(raw) > 31:
        raise ValueError(f"key {name!r} is longer than a fixstr")
    return bytes([0xA0 | len(raw)]) + raw


def integers(values: NDArray[np.integer]) -> Field:
    """MessagePack integers (the shortest form) of int64 or uint64 values."""
    a = np.asarray(values)
    if a.dtype.kind == "u" and a.dtype.itemsize == 8:
        return Field((FieldKind.UNSIGNED, np.ascontiguousarray(a)), len(a))
    return Field((FieldKind.INTEGER, np.ascontiguousarray(a, dtype=np.int64)), len(a))


def floats(values: NDArray[np.floating]) -> Field:
    """MessagePack float 64 of each value."""
    v = np.ascontiguousarray(values, dtype=np.float64)
    return Field((FieldKind.FLOAT, v), len(v))


def optional(field: Field, present: NDArray[np.bool_]) -> Field:
    """``field`` where ``present``, nil (None) elsewhere (an integer or float field)."""
    kind = field.spec[0]
    if kind not in (FieldKind.INTEGER, FieldKind.UNSIGNED, FieldKind.FLOAT):
        raise ValueError(f"only numbers may be optional, not a field of kind {kind!r}")
    mask = np.ascontiguousarray(present, dtype=np.bool_)
    if len(mask) != field.n:
        raise ValueError(f"{len(mask)} presence flags for {field.n} values")
    return Field((kind, field.spec[1], mask), field.n)


def array_headers(counts: NDArray[np.integer]) -> Field:
    """The header of an array of each count (fixarray, array 16 or array 32)."""
    c = np.ascontiguousarray(counts, dtype=np.int64)
    if len(c) and (c.min() < 0 or c.max() > 0xFFFF_FFFF):
        raise ValueError("an array's length must lie in [0, 2**32)")
    return Field((FieldKind.ARRAY_HEADER, c), len(c))


def array_header(count: int) -> bytes:
    """The header of one array of ``count`` elements (as ``array_headers``)."""
    if not 0 <= count <= 0xFFFF_FFFF:
        raise ValueError("an array's length must lie in [0, 2**32)")
    if count < 16:
        return bytes([0x90 | count])
    if count <= 0xFFFF:
        return b"\xdc" + count.to_bytes(2, "big")
    return b"\xdd" + count.to_bytes(4, "big")


@dataclass(frozen=True)
class Packed:
    """N records' bytes one after the other: record i is ``data[offsets[i]:offsets[i + 1]]``."""

    data: U8
    offsets: I64

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def span(self, first: int, end: int) -> bytes:
        """The bytes of records ``first`` to ``end - 1``."""
        return self.data[self.offsets[first] : self.offsets[end]].tobytes()

    def records(self) -> Field:
        """Each record's bytes as a field of a record around it."""
        return Field((FieldKind.SPANS, self.data, self.offsets[:-1], self.offsets[1:]), len(self))


def join(fields: list[Field]) -> Packed:
    """The records whose fields are ``fields``, in that order."""
    sizes = {f.n for f in fields}
    if len(sizes) > 1:
        raise ValueError(f"the fields have different numbers of records: {sorted(sizes)}")
    n = sizes.pop() if sizes else 0
    data, offsets = pack_records(n, [f.spec for f in fields])
    return Packed(data, offsets)


def splice(parts: list[Packed]) -> Packed:
    """Record i of the result is record i of each part, one after the other (the parts have the
    same number of records)."""
    return join([p.records() for p in parts])


def group(packed: Packed, counts: NDArray[np.integer]) -> Packed:
    """Consecutive records taken ``counts[i]`` at a time as record i (an array's elements)."""
    ends = np.cumsum(np.asarray(counts, dtype=np.int64))
    if len(ends) and ends[-1] != len(packed):
        raise ValueError(f"the counts add up to {ends[-1]}, not the {len(packed)} records")
    return Packed(packed.data, np.concatenate(([0], packed.offsets[ends])).astype(np.int64))


def take(packed: Packed, order: NDArray[np.integer]) -> Packed:
    """The records ``order[0]``, ``order[1]``, … of ``packed``."""
    idx = np.asarray(order, dtype=np.int64)
    spans = (FieldKind.SPANS, packed.data, packed.offsets[idx], packed.offsets[idx + 1])
    return join([Field(spans, len(idx))])


def concat(parts: list[Packed]) -> Packed:
    """The records of every part, one part after the other."""
    if not parts:
        return Packed(np.empty(0, dtype=np.uint8), np.zeros(1, dtype=np.int64))
    at = np.cumsum([0] + [len(p.data) for p in parts[:-1]])
    offsets = np.concatenate(
        [parts[0].offsets[:1]] + [p.offsets[1:] + a for p, a in zip(parts, at, strict=True)]
    )
    return Packed(np.concatenate([p.data for p in parts]), offsets.astype(np.int64))


@dataclass(frozen=True)
class AccountColumns:
    """Accounts (``taos.protocol.state.Account``) as columns, one row per account: the values as
    they appear on the wire (decimals). Account i lists ``order_count[i]`` open orders, the next
    ones of the order columns; they are resting GTC orders without client id or expiry (what the
    engine keeps of a miner's order)."""

    book: I64
    base_free: NDArray[np.float64]
    base_reserved: NDArray[np.float64]
    quote_free: NDArray[np.float64]
    quote_reserved: NDArray[np.float64]
    fee_tier: I64
    volume: NDArray[np.float64]
    orders_dropped: I64
    order_count: I64
    order_id: I64
    side: I64
    price: NDArray[np.float64]
    quantity: NDArray[np.float64]


_GTC_NO_ID_NO_EXPIRY = msgspec.msgpack.encode(int(TimeInForce.GTC)) + b"\xc0\xc0"


def pack_accounts(a: AccountColumns) -> Packed:
    """Each account's bytes as ``msgspec.msgpack.encode(Account(...))`` writes them."""
    n, k = len(a.book), len(a.order_id)
    orders = join(
        [
            constant(b"\x97", k),  # OpenOrder: an array of its 7 fields
            integers(a.order_id),
            integers(a.side),
            floats(a.price),
            floats(a.quantity),
            constant(_GTC_NO_ID_NO_EXPIRY, k),
        ]
    )
    head = join(
        [
            constant(b"\x87" + key("book"), n),  # Account: a map of its 7 fields
            integers(a.book),
            constant(key("base") + b"\x92", n),
            floats(a.base_free),
            floats(a.base_reserved),
            constant(key("quote") + b"\x92", n),
            floats(a.quote_free),
            floats(a.quote_reserved),
            constant(key("orders"), n),
            array_headers(a.order_count),
        ]
    )
    tail = join(
        [
            constant(key("fee_tier"), n),
            integers(a.fee_tier),
            constant(key("volume"), n),
            floats(a.volume),
            constant(key("orders_dropped"), n),
            integers(a.orders_dropped),
        ]
    )
    return splice([head, group(orders, a.order_count), tail])
