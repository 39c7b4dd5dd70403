"""taos.protocol.events and taos.protocol.levels: a book's public events and levels as packed records."""

import math
import re
import struct

import msgspec
import pytest
from protocol_samples import book, state

from taos.protocol import (
    LEVEL_SIZE,
    ORDER_SIZE,
    RECORD_SIZE,
    BookState,
    CancelReason,
    Level,
    LevelOrder,
    OrderPlaced,
    OrderRemoved,
    ProtocolError,
    Side,
    Trade,
    decode_state,
    encode_state,
    event_dtype,
    level_dtype,
    order_dtype,
    pack_events,
    pack_side,
    unpack_events,
    unpack_side,
)
from taos.protocol.events import check_records
from taos.protocol.levels import check_side

EVENTS = (
    OrderPlaced(1, 10, 77, Side.BUY, 299.99, 0.5),
    OrderPlaced(2, 11, 78, Side.SELL, None, 0.25),
    Trade(3, 11, 78, 55, Side.SELL, 299.99, 0.25),
    OrderRemoved(4, 12, 79, Side.BUY, 0.5, 0.125, CancelReason.EXPIRED),
)


def test_records_have_the_documented_layout() -> None:
    data = pack_events(EVENTS)
    assert len(data) == 4 * RECORD_SIZE == 256
    # the trade, read field by field at the documented offsets
    t = data[2 * RECORD_SIZE : 3 * RECORD_SIZE]
    assert struct.unpack_from("<QqQQ", t, 0) == (3, 11, 78, 55)
    assert struct.unpack_from("<ddd", t, 32) == (299.99, 0.25, 0.0)
    assert tuple(t[56:59]) == (3, 2, 0) and t[59:] == bytes(5)
    # a market order's arrival and a removal carry NaN as price
    assert math.isnan(struct.unpack_from("<d", data, RECORD_SIZE + 32)[0])
    assert struct.unpack_from("<ddd", data, 3 * RECORD_SIZE + 32)[1:] == (0.5, 0.125)
    assert tuple(data[3 * RECORD_SIZE + 56 : 3 * RECORD_SIZE + 59]) == (4, 1, int(CancelReason.EXPIRED))


def test_objects_survive_packing_and_the_array_view_agrees() -> None:
    data = pack_events(EVENTS)
    assert unpack_events(data) == EVENTS
    arr = BookState(0, event_records=data).event_array
    assert arr.dtype == event_dtype() and arr.dtype.itemsize == RECORD_SIZE
    assert arr["seq"].tolist() == [1, 2, 3, 4]
    assert arr["kind"].tolist() == [1, 1, 3, 4]
    assert arr["order_id"].tolist() == [77, 78, 78, 79]
    assert arr["other_order_id"].tolist() == [0, 0, 55, 0]
    assert arr["quantity"].tolist() == [0.5, 0.25, 0.25, 0.5]
    assert arr["remaining"].tolist() == [0.0, 0.0, 0.0, 0.125]
    assert arr["price"][0] == 299.99 and math.isnan(arr["price"][1])
    assert unpack_events(b"") == () and len(BookState(0).event_array) == 0


def test_pack_refuses_what_is_not_a_book_event() -> None:
    with pytest.raises(TypeError, match="not a book event: str"):
        pack_events(["trade"])  # type: ignore[list-item]


def _with_byte(data: bytes, offset: int, value: int) -> bytes:
    out = bytearray(data)
    out[offset] = value
    return bytes(out)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d[:-1], "255 bytes is not a whole number of 64-byte event records"),
        (lambda d: _with_byte(d, 56, 2), "unknown event kind 2"),  # rejections are not public
        (lambda d: _with_byte(d, RECORD_SIZE + 57, 0), "unknown event side 0"),
        (lambda d: _with_byte(d, 3 * RECORD_SIZE + 58, 99), "unknown cancel reason 99"),
    ],
)
def test_bad_records_are_named_on_decode(mutate, message: str) -> None:
    bad = mutate(pack_events(EVENTS))
    assert check_records(bad) == message
    with pytest.raises(ValueError, match=message):
        unpack_events(bad)
    s = state()
    tampered = msgspec.structs.replace(
        s, books=(s.books[0], msgspec.structs.replace(book(1), event_records=bad))
    )
    with pytest.raises(ProtocolError, match=rf"malformed: {message} - at `\$.books\[1\].event_records`"):
        decode_state(encode_state(tampered))


def test_good_records_decode() -> None:
    s = state()
    assert decode_state(encode_state(s)) == s
    assert check_records(pack_events(EVENTS)) is None


# --- levels ---------------------------------------------------------------------------------------

LEVELS = (
    Level(299.99, 1.5, (LevelOrder(7, 1.0), LevelOrder(9, 0.5))),
    Level(299.98, 2.0, (LevelOrder(3, 2.0),)),
    Level(299.9, 4.0),
)


def test_level_records_have_the_documented_layout() -> None:
    levels, orders = pack_side(LEVELS)
    assert len(levels) == 3 * LEVEL_SIZE == 48 and len(orders) == 3 * ORDER_SIZE == 72
    assert struct.unpack_from("<dd", levels, LEVEL_SIZE) == (299.98, 2.0)
    assert struct.unpack_from("<QdI", orders, 2 * ORDER_SIZE) == (3, 2.0, 1)
    assert orders[ORDER_SIZE - 4 : ORDER_SIZE] == bytes(4)


def test_levels_survive_packing_and_the_arrays_agree() -> None:
    b = BookState.build(0, bids=LEVELS, asks=LEVELS[2:], events=EVENTS)
    assert b.bids == LEVELS and b.asks == LEVELS[2:] and b.events == EVENTS
    assert b.best_bid == 299.99 and b.best_ask == 299.9 and b.mid == pytest.approx(299.945)
    assert b.bid_array.dtype == level_dtype()
    assert b.bid_array["price"].tolist() == [299.99, 299.98, 299.9]
    assert b.bid_order_array.dtype == order_dtype()
    assert b.bid_order_array["order_id"].tolist() == [7, 9, 3]
    assert b.bid_order_array["level"].tolist() == [0, 0, 1]
    assert len(b.ask_order_array) == 0 and len(b.ask_array) == 1
    empty = BookState(1)
    assert empty.bids == () and empty.best_bid is None and empty.mid is None


@pytest.mark.parametrize(
    ("levels", "orders", "message"),
    [
        (b"\0" * 17, b"", "17 bytes is not a whole number of 16-byte level records"),
        (b"\0" * 16, b"\0" * 23, "23 bytes is not a whole number of 24-byte order records"),
        (b"\0" * 16, struct.pack("<QdI4x", 1, 1.0, 1), "an order of level 1 on a side of 1 levels"),
        (
            b"\0" * 32,
            struct.pack("<QdI4x", 1, 1.0, 1) + struct.pack("<QdI4x", 2, 1.0, 0),
            "orders are not grouped by level (level 0 after level 1)",
        ),
    ],
)
def test_bad_level_records_are_named_on_decode(levels: bytes, orders: bytes, message: str) -> None:
    assert check_side(levels, orders) == message
    with pytest.raises(ValueError, match=re.escape(message)):
        unpack_side(levels, orders)
    s = state()
    tampered = msgspec.structs.replace(
        s, books=(msgspec.structs.replace(book(0), ask_levels=levels, ask_orders=orders), s.books[1])
    )
    with pytest.raises(
        ProtocolError, match=rf"malformed: {re.escape(message)} - at `\$.books\[0\].ask_levels`"
    ):
        decode_state(encode_state(tampered))
