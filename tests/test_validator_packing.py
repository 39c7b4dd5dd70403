"""taos.validator.packing writes, from numpy columns, the bytes msgspec writes for the same objects
(through the engine module's ``pack_records``)."""

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taos.protocol import Account, Balance, OpenOrder, Side
from taos.simulator import pack_records
from taos.validator.packing import (
    AccountColumns,
    FieldKind,
    array_header,
    array_headers,
    concat,
    constant,
    floats,
    group,
    integers,
    join,
    optional,
    pack_accounts,
    splice,
    take,
)

INT64 = (-(2**63), 2**63 - 1)
EDGES = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2**32 - 1, 2**32, 2**63 - 1]
EDGES += [-1, -32, -33, -128, -129, -32_768, -32_769, -(2**31), -(2**31) - 1, -(2**63)]


def test_integers_take_msgspecs_shortest_form_at_every_boundary() -> None:
    values = np.array(EDGES, dtype=np.int64)
    packed = join([integers(values)])
    assert [packed.span(i, i + 1) for i in range(len(values))] == [msgspec.msgpack.encode(v) for v in EDGES]


@given(st.lists(st.integers(*INT64), max_size=50), st.lists(st.floats(width=64), max_size=50))
def test_integers_and_floats_are_msgspecs(ints: list[int], fls: list[float]) -> None:
    assert join([integers(np.array(ints, dtype=np.int64))]).data.tobytes() == b"".join(
        msgspec.msgpack.encode(v) for v in ints
    )
    assert join([floats(np.array(fls, dtype=np.float64))]).data.tobytes() == b"".join(
        msgspec.msgpack.encode(v) for v in fls
    )


@given(st.lists(st.integers(0, 2**64 - 1), max_size=50))
def test_unsigned_64_bit_integers_are_msgspecs(values: list[int]) -> None:
    assert join([integers(np.array(values, dtype=np.uint64))]).data.tobytes() == b"".join(
        msgspec.msgpack.encode(v) for v in values
    )


def test_array_headers_of_every_size() -> None:
    sizes = [0, 1, 15, 16, 65_535, 65_536, 70_000]
    headers = array_headers(np.array(sizes))
    for i, n in enumerate(sizes):
        assert array_header(n) == msgspec.msgpack.encode([None] * n)[: len(array_header(n))]
        assert join([headers]).span(i, i + 1) == array_header(n)
    with pytest.raises(ValueError, match="length"):
        array_headers(np.array([-1]))
    with pytest.raises(ValueError, match="length"):
        array_header(2**32)


@given(st.lists(st.tuples(st.integers(*INT64), st.booleans(), st.floats(width=64)), max_size=30))
def test_optional_values_are_nil_where_absent(rows: list[tuple[int, bool, float]]) -> None:
    ints = np.array([r[0] for r in rows], dtype=np.int64)
    present = np.array([r[1] for r in rows], dtype=np.bool_)
    fls = np.array([r[2] for r in rows], dtype=np.float64)
    packed = join(
        [constant(b"\x92", len(rows)), optional(integers(ints), present), optional(floats(fls), ~present)]
    )
    for i, (v, here, f) in enumerate(rows):
        assert packed.span(i, i + 1) == msgspec.msgpack.encode([v if here else None, None if here else f])


def test_spliced_and_taken_records_are_their_bytes_rearranged() -> None:
    a = join([constant(b"\x91", 3), integers(np.array([1, 300, -5]))])
    b = join([floats(np.array([0.5, 1.5, -2.0]))])
    assert [a.span(i, i + 1) for i in range(3)] == [msgspec.msgpack.encode([v]) for v in (1, 300, -5)]
    both = splice([a, b])
    assert [both.span(i, i + 1) for i in range(3)] == [
        a.span(i, i + 1) + msgspec.msgpack.encode(f) for i, f in enumerate((0.5, 1.5, -2.0))
    ]
    picked = take(concat([a, b]), np.array([5, 0, 0]))
    assert picked.span(0, 3) == msgspec.msgpack.encode(-2.0) + 2 * msgspec.msgpack.encode([1])
    with pytest.raises(ValueError, match="different numbers of records"):
        splice([a, join([integers(np.arange(2))])])


def test_the_engine_packer_refuses_what_it_cannot_read() -> None:
    """``pack_records`` is called by this module only, but it checks what it reads rather than read
    out of bounds."""
    data = np.arange(4, dtype=np.uint8)
    with pytest.raises(ValueError, match="outside its bytes"):
        pack_records(1, [(FieldKind.SPANS, data, np.array([2]), np.array([5]))])
    with pytest.raises(ValueError, match="outside its bytes"):
        pack_records(1, [(FieldKind.SPANS, data, np.array([3]), np.array([2]))])
    with pytest.raises(ValueError, match="1-d array of 3 values"):
        pack_records(3, [(FieldKind.INTEGER, np.arange(2))])
    with pytest.raises(ValueError, match="1-d array of 2 values"):
        pack_records(
            2, [(FieldKind.FLOAT, np.zeros(2)), (FieldKind.INTEGER, np.arange(2), np.ones(3, dtype=bool))]
        )
    with pytest.raises(ValueError, match="length must lie"):
        pack_records(1, [(FieldKind.ARRAY_HEADER, np.array([-1]))])
    with pytest.raises(ValueError, match="unknown field kind 9"):
        pack_records(1, [(9, np.arange(1))])
    with pytest.raises(ValueError, match="a tuple"):
        pack_records(1, [[FieldKind.INTEGER, np.arange(1)]])
    with pytest.raises(ValueError, match="only numbers may be optional"):
        optional(constant(b"x", 1), np.ones(1, dtype=bool))
    assert pack_records(0, [])[0].tobytes() == b""


def test_grouping_needs_counts_that_add_up() -> None:
    packed = join([integers(np.arange(5))])
    assert group(packed, np.array([2, 0, 3])).span(0, 1) == bytes([0, 1])
    with pytest.raises(ValueError, match="add up to 4, not the 5"):
        group(packed, np.array([2, 2]))


finite = st.floats(allow_nan=False, allow_infinity=False, width=64)
order = st.tuples(st.integers(0, 2**63 - 1), st.sampled_from(list(Side)), finite, finite)
account = st.tuples(
    st.integers(0, 2_000),
    finite,
    finite,
    finite,
    finite,
    st.lists(order, max_size=20),
    st.integers(0, 10),
    finite,
    st.integers(0, 2**40),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(account, max_size=12))
def test_accounts_are_the_bytes_of_account_objects(accounts: list[tuple]) -> None:  # type: ignore[type-arg]
    objects = [
        Account(
            book,
            Balance(bf, br),
            Balance(qf, qr),
            tuple(OpenOrder(*o) for o in orders),
            tier,
            volume,
            dropped,
        )
        for book, bf, br, qf, qr, orders, tier, volume, dropped in accounts
    ]
    orders = [o for a in objects for o in a.orders]

    def column(values: list, dtype: type) -> np.ndarray:  # type: ignore[type-arg]
        return np.array(values, dtype=dtype)

    columns = AccountColumns(
        book=column([a.book for a in objects], np.int64),
        base_free=column([a.base.free for a in objects], np.float64),
        base_reserved=column([a.base.reserved for a in objects], np.float64),
        quote_free=column([a.quote.free for a in objects], np.float64),
        quote_reserved=column([a.quote.reserved for a in objects], np.float64),
        fee_tier=column([a.fee_tier for a in objects], np.int64),
        volume=column([a.volume for a in objects], np.float64),
        orders_dropped=column([a.orders_dropped for a in objects], np.int64),
        order_count=column([len(a.orders) for a in objects], np.int64),
        order_id=column([o.order_id for o in orders], np.int64),
        side=column([int(o.side) for o in orders], np.int64),
        price=column([o.price for o in orders], np.float64),
        quantity=column([o.quantity for o in orders], np.float64),
    )
    packed = pack_accounts(columns)
    assert len(packed) == len(objects)
    for i, a in enumerate(objects):
        assert packed.span(i, i + 1) == msgspec.msgpack.encode(a)
    whole = array_header(len(objects)) + packed.span(0, len(objects))
    assert whole == msgspec.msgpack.encode(tuple(objects))
    assert msgspec.msgpack.decode(whole, type=tuple[Account, ...]) == tuple(objects)
