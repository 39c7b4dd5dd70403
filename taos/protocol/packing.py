"""MessagePack of many records at once, from numpy columns: the bytes msgspec writes for the same
structs, without building a Python object per record.

A validator sends every miner its accounts on every book each step (5,120 accounts at 256 miners
and 20 books); building an ``Account`` with its ``Balance`` and ``OpenOrder`` objects for each
and encoding them cost more than everything else in the state. ``pack_accounts`` writes the same
bytes from whole columns.

How: every field of a record is a small byte matrix ``(records, width)`` with a length per record
(a MessagePack integer takes 1 to 9 bytes, a float 9, a constant key its own length). The fields
side by side, with the bytes beyond each length masked out, read row by row are the records one
after the other. Nested arrays (an account's open orders) are packed the same way and spliced
between the parts of their parents.

The encodings follow the MessagePack specification as msgspec applies it: the shortest integer
form (positive fixint, uint 8/16/32/64; negative fixint, int 8/16/32/64), float 64 for every float,
fixstr keys, fixarray/array 16/array 32 headers. ``tests/test_protocol_packing.py`` checks the
bytes against msgspec's for random records and for the integer boundaries.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec
import numpy as np
from numpy.typing import NDArray

from taos.protocol.enums import TimeInForce

U8 = NDArray[np.uint8]
I64 = NDArray[np.int64]


@dataclass(frozen=True)
class Field:
    """One field of N records: ``data[i, :length[i]]`` are record i's bytes."""

    data: U8
    length: I64


def constant(value: bytes, n: int) -> Field:
    """The same bytes in every record (a map key, an array header of fixed length)."""
    data = np.broadcast_to(np.frombuffer(value, dtype=np.uint8), (n, len(value)))
    return Field(np.ascontiguousarray(data), np.full(n, len(value), dtype=np.int64))


def key(name: str) -> bytes:
    """A map key as msgspec writes a struct's field name (a fixstr)."""
    raw = name.encode()
    if len(raw) > 31:
        raise ValueError(f"key {name!r} is longer than a fixstr")
    return bytes([0xA0 | len(raw)]) + raw


# (lowest, highest, header byte, number of big-endian bytes) of each integer form but the fixints
_INT_FORMS = (
    (128, 0xFF, 0xCC, 1),
    (0x100, 0xFFFF, 0xCD, 2),
    (0x1_0000, 0xFFFF_FFFF, 0xCE, 4),
    (0x1_0000_0000, np.iinfo(np.int64).max, 0xCF, 8),
    (-128, -33, 0xD0, 1),
    (-32_768, -129, 0xD1, 2),
    (-(2**31), -32_769, 0xD2, 4),
    (np.iinfo(np.int64).min, -(2**31) - 1, 0xD3, 8),
)


def integers(values: NDArray[np.integer]) -> Field:
    """MessagePack integers (the shortest form) of int64 or uint64 values."""
    a = np.asarray(values)
    if a.dtype.kind == "u" and a.dtype.itemsize == 8:
        beyond = a > np.iinfo(np.int64).max
        out = integers(np.where(beyond, 0, a).astype(np.int64))
        if beyond.any():
            out.data[beyond, 0] = 0xCF
            out.data[beyond, 1:] = a[beyond].astype(">u8").view(np.uint8).reshape(-1, 8)
            out.length[beyond] = 9
        return out
    v = a.astype(np.int64)
    n = len(v)
    data = np.zeros((n, 9), dtype=np.uint8)
    length = np.ones(n, dtype=np.int64)
    fix = (v >= -32) & (v < 128)
    data[fix, 0] = v[fix].astype(np.uint8)  # positive fixint, or the two's complement byte
    big_endian = v.astype(">i8").view(np.uint8).reshape(n, 8)
    for low, high, header, size in _INT_FORMS:
        form = (v >= low) & (v <= high)
        if form.any():
            data[form, 0] = header
            data[form, 1 : 1 + size] = big_endian[form, 8 - size :]
            length[form] = 1 + size
    return Field(data, length)


def floats(values: NDArray[np.floating]) -> Field:
    """MessagePack float 64 of each value."""
    v = np.asarray(values, dtype=np.float64)
    data = np.empty((len(v), 9), dtype=np.uint8)
    data[:, 0] = 0xCB
    data[:, 1:] = v.astype(">f8").view(np.uint8).reshape(len(v), 8)
    return Field(data, np.full(len(v), 9, dtype=np.int64))


def optional(field: Field, present: NDArray[np.bool_]) -> Field:
    """``field`` where ``present``, nil (None) elsewhere."""
    data, length = field.data.copy(), field.length.copy()
    data[~present, 0], length[~present] = 0xC0, 1
    return Field(data, length)


def array_headers(counts: NDArray[np.integer]) -> Field:
    """The header of an array of each count (fixarray, array 16 or array 32)."""
    c = np.asarray(counts, dtype=np.int64)
    if len(c) and (c.min() < 0 or c.max() > 0xFFFF_FFFF):
        raise ValueError("an array's length must lie in [0, 2**32)")
    data = np.zeros((len(c), 5), dtype=np.uint8)
    length = np.ones(len(c), dtype=np.int64)
    fix = c < 16
    data[fix, 0] = (0x90 | c[fix]).astype(np.uint8)
    be = c.astype(">u4").view(np.uint8).reshape(len(c), 4)
    mid = ~fix & (c <= 0xFFFF)
    data[mid, 0], data[mid, 1:3], length[mid] = 0xDC, be[mid, 2:], 3
    large = c > 0xFFFF
    data[large, 0], data[large, 1:5], length[large] = 0xDD, be[large], 5
    return Field(data, length)


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


def join(fields: list[Field]) -> Packed:
    """The records whose fields are ``fields``, in that order."""
    data = np.concatenate([f.data for f in fields], axis=1)
    keep = np.concatenate([np.arange(f.data.shape[1]) < f.length[:, None] for f in fields], axis=1)
    sizes: I64 = np.stack([f.length for f in fields]).sum(axis=0)
    return Packed(data[keep], _offsets(sizes))


def splice(parts: list[Packed]) -> Packed:
    """Record i of the result is record i of each part, one after the other (the parts have the
    same number of records)."""
    sizes = [np.diff(p.offsets) for p in parts]
    total: I64 = np.stack(sizes).sum(axis=0)
    offsets = _offsets(total)
    out = np.empty(int(offsets[-1]), dtype=np.uint8)
    start = offsets[:-1].copy()
    for part, size in zip(parts, sizes, strict=True):
        # byte k of a part's record i goes to start[i] + (k - part.offsets[i])
        out[np.repeat(start - part.offsets[:-1], size) + np.arange(len(part.data))] = part.data
        start += size
    return Packed(out, offsets)


def group(packed: Packed, counts: NDArray[np.integer]) -> Packed:
    """Consecutive records taken ``counts[i]`` at a time as record i (an array's elements)."""
    ends = np.cumsum(np.asarray(counts, dtype=np.int64))
    if len(ends) and ends[-1] != len(packed):
        raise ValueError(f"the counts add up to {ends[-1]}, not the {len(packed)} records")
    return Packed(packed.data, np.concatenate(([0], packed.offsets[ends])).astype(np.int64))


def take(packed: Packed, order: NDArray[np.integer]) -> Packed:
    """The records ``order[0]``, ``order[1]``, … of ``packed``."""
    idx = np.asarray(order, dtype=np.int64)
    sizes = np.diff(packed.offsets)[idx]
    offsets = _offsets(sizes)
    source = np.repeat(packed.offsets[:-1][idx] - offsets[:-1], sizes) + np.arange(int(offsets[-1]))
    return Packed(packed.data[source], offsets)


def concat(parts: list[Packed]) -> Packed:
    """The records of every part, one part after the other."""
    if not parts:
        return Packed(np.empty(0, dtype=np.uint8), np.zeros(1, dtype=np.int64))
    at = np.cumsum([0] + [len(p.data) for p in parts[:-1]])
    offsets = np.concatenate(
        [parts[0].offsets[:1]] + [p.offsets[1:] + a for p, a in zip(parts, at, strict=True)]
    )
    return Packed(np.concatenate([p.data for p in parts]), offsets.astype(np.int64))


def _offsets(sizes: I64) -> I64:
    out = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=out[1:])
    return out


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
