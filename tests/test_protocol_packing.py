"""taos.protocol.packing writes, from numpy columns, the bytes msgspec writes for the same objects."""

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taos.protocol import Account, Balance, OpenOrder, Side
from taos.protocol.packing import (
    AccountColumns,
    array_header,
    array_headers,
    floats,
    group,
    integers,
    join,
    pack_accounts,
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
        assert headers.data[i, : headers.length[i]].tobytes() == array_header(n)
    with pytest.raises(ValueError, match="length"):
        array_headers(np.array([-1]))
    with pytest.raises(ValueError, match="length"):
        array_header(2**32)


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
