"""The size limits of the wire (taos/protocol/limits.py): the largest state and reply that respect
the count limits, with every value at its widest encoding, fit the byte bounds; and the validator's
conversion keeps every state within the count limits."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from taos.protocol import (
    PROTOCOL_VERSION,
    Account,
    Balance,
    BookState,
    Capital,
    FeeTier,
    MarketState,
    OpenOrder,
    OrderRejected,
    PlaceLimit,
    RejectReason,
    Reply,
    Side,
    SimulationInfo,
    Stp,
    TimeInForce,
    encode_reply,
    encode_state,
    max_reply_bytes,
    max_reply_instructions,
    max_state_bytes,
)
from taos.protocol.events import RECORD_SIZE
from taos.protocol.levels import LEVEL_SIZE, ORDER_SIZE
from taos.protocol.limits import (
    MAX_ACCOUNT_ORDERS,
    MAX_BOOKS,
    MAX_DETAIL_CHARS,
    MAX_EVENTS_PER_BOOK,
    MAX_FEE_TIERS,
    MAX_ID_CHARS,
    MAX_LEVEL_ORDERS,
    MAX_NOTICES,
)
from taos.protocol.state import DETAILED_LEVELS, LEVELS

U64 = 2**64 - 1
WIDE = "\U0001f600"  # four bytes in UTF-8


def widest_state(books: int) -> MarketState:
    info = SimulationInfo(
        simulation_id=WIDE * MAX_ID_CHARS,
        books=U64,
        tick_size=1e-300,
        lot_size=1e-300,
        duration_ns=U64,
        publish_interval_ns=U64,
        capital=(Capital(1e308, 1e308),) * books,
        fee_tiers=(FeeTier(1e308, 0.5, 0.5),) * MAX_FEE_TIERS,
        fee_window_ns=U64,
        max_instructions_per_book=U64,
    )
    book = BookState(
        U64,
        bytes(LEVELS * LEVEL_SIZE),
        bytes(LEVELS * LEVEL_SIZE),
        bytes(DETAILED_LEVELS * MAX_LEVEL_ORDERS * ORDER_SIZE),
        bytes(DETAILED_LEVELS * MAX_LEVEL_ORDERS * ORDER_SIZE),
        bytes(MAX_EVENTS_PER_BOOK * RECORD_SIZE),
        events_dropped=U64,
    )
    order = OpenOrder(U64, Side.SELL, 1e308, 1e308, TimeInForce.GTT, U64, 2**63 - 1)
    account = Account(
        U64,
        Balance(1e308, 1e308),
        Balance(1e308, 1e308),
        (order,) * MAX_ACCOUNT_ORDERS,
        U64,
        1e308,
        orders_dropped=U64,
    )
    notice = OrderRejected(-(2**63), U64, RejectReason.INVALID_INSTRUCTION, U64, U64, WIDE * MAX_DETAIL_CHARS)
    return MarketState(
        PROTOCOL_VERSION, U64, info, (book,) * books, (account,) * books, (notice,) * MAX_NOTICES
    )


@pytest.mark.parametrize("books", [1, 2, 5])
def test_the_widest_state_of_a_market_fits_its_bound(books: int) -> None:
    size = len(encode_state(widest_state(books)))
    assert size <= max_state_bytes(books)
    assert size > 0.9 * max_state_bytes(books)  # and the bound is not loose


@pytest.mark.parametrize(("books", "per_book"), [(1, 20), (3, 20), (2, 7)])
def test_the_widest_reply_of_a_market_fits_its_bound(books: int, per_book: int) -> None:
    widest = PlaceLimit(
        U64, Side.SELL, 1e308, 1e308, TimeInForce.GTT, 2**63 - 1, True, Stp.CANCEL_BOTH, U64, 2**63 - 1
    )
    n = max_reply_instructions(books, per_book)
    assert n == books * per_book
    size = len(encode_reply([widest] * n))
    assert size <= max_reply_bytes(books, per_book)
    assert size > 0.5 * max_reply_bytes(books, per_book)


def test_the_bounds_refuse_impossible_markets() -> None:
    for books in (0, -1, MAX_BOOKS + 1, True, 2.0):
        with pytest.raises(ValueError, match="books must be an integer"):
            max_state_bytes(books)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="per_book must be an integer"):
        max_reply_bytes(1, -1)
    assert max_state_bytes(20) < 16 * 2**20  # the default market's states fit in less than before


def test_a_reply_of_the_widest_instructions_decodes_within_its_bounds() -> None:
    from taos.protocol import decode_reply

    body = msgspec.msgpack.encode(Reply(PROTOCOL_VERSION, (PlaceLimit(0, Side.BUY, 1.0, 1.0),) * 40))
    reply = decode_reply(body, max_bytes=max_reply_bytes(2), max_instructions=max_reply_instructions(2))
    assert len(reply.instructions) == 40


# --- the validator keeps its states within the count limits ------------------------------------------


def test_a_book_lists_its_newest_events_and_counts_the_others() -> None:
    from taos.simulator import EVENT_DTYPE, BookLevels, EventKind
    from taos.validator.convert import Units, book_states

    n = MAX_EVENTS_PER_BOOK + 123
    events = np.zeros(n + 5, dtype=EVENT_DTYPE)
    events["kind"] = EventKind.ORDER_PLACED
    events["seq"] = np.arange(n + 5)
    events["book"][:n] = 0
    events["book"][n:] = 1
    empty = BookLevels(_levels(0), _levels(0), _orders([]), _orders([]))
    first, second = book_states([empty, empty], events, Units(0.01, 0.0001))
    assert first.events_dropped == 123 and second.events_dropped == 0
    assert first.event_array["seq"].tolist() == list(range(123, n))  # the newest, in order
    assert second.event_array["seq"].tolist() == list(range(n, n + 5))


def test_a_level_lists_its_first_orders() -> None:
    from taos.simulator import BookLevels
    from taos.validator.convert import Units, book_states

    levels = [150, 3, MAX_LEVEL_ORDERS + 1]  # orders per level
    orders = _orders([lvl for lvl, count in enumerate(levels) for _ in range(count)])
    orders["order_id"] = np.arange(1, len(orders) + 1) << 24  # exchange ids of public ids 1, 2, …
    book = BookLevels(_levels(3), _levels(0), orders, _orders([]))
    (state,) = book_states([book], np.zeros(0, dtype=_event_dtype()), Units(0.01, 0.0001))
    listed = state.bid_order_array
    assert np.bincount(listed["level"]).tolist() == [MAX_LEVEL_ORDERS, 3, MAX_LEVEL_ORDERS]
    assert listed["order_id"][:MAX_LEVEL_ORDERS].tolist() == list(range(1, MAX_LEVEL_ORDERS + 1))
    assert listed["order_id"][MAX_LEVEL_ORDERS].tolist() == 151  # the first of level 1


def test_an_account_lists_its_oldest_orders_and_counts_the_others() -> None:
    from taos.simulator import ACCOUNT_DTYPE, ORDER_DTYPE
    from taos.validator.convert import Units, miner_account

    open_orders = np.zeros(MAX_ACCOUNT_ORDERS + 40, dtype=ORDER_DTYPE)
    open_orders["order_id"] = np.arange(len(open_orders), 0, -1)  # newest first
    open_orders["side"] = Side.BUY
    open_orders["price_ticks"] = 100
    open_orders["qty_lots"] = 1
    account = miner_account(0, np.zeros(1, dtype=ACCOUNT_DTYPE)[0], open_orders, 0, 0, Units(0.01, 0.0001))
    assert account.orders_dropped == 40 and len(account.orders) == MAX_ACCOUNT_ORDERS
    assert [o.order_id for o in account.orders] == list(range(1, MAX_ACCOUNT_ORDERS + 1))


def test_a_state_lists_at_most_the_notices_and_detail_the_limits_allow() -> None:
    import msgspec

    from taos.protocol import Notice
    from taos.simulator import EVENT_DTYPE, EventKind
    from taos.validator.convert import Units, pack_miner_notices
    from taos.validator.validator import capped_notices

    events = np.zeros(3, dtype=EVENT_DTYPE)  # the engine's own: after the validator's
    events["kind"], events["agent"], events["reason"] = (
        EventKind.ORDER_REJECTED,
        1,
        RejectReason.INSUFFICIENT_BASE,
    )
    engine = pack_miner_notices({1: events}, Units(0.01, 0.0001))
    long = OrderRejected(0, 5, RejectReason.INVALID_PRICE, detail="x" * 5_000)

    def decoded(own: list[OrderRejected]) -> tuple[Notice, ...]:
        raw = capped_notices(list(own), engine, 1, 5)
        return msgspec.msgpack.decode(bytes(raw), type=tuple[Notice, ...])  # type: ignore[arg-type]

    notices = decoded([long] * (MAX_NOTICES + 10))
    assert len(notices) == MAX_NOTICES
    assert all(len(n.detail) <= MAX_DETAIL_CHARS for n in notices if isinstance(n, OrderRejected))
    assert notices[-1].detail == "notices: 14 more left out"  # type: ignore[union-attr]
    # the engine's notices fill what the validator's leave, then one says how many were left out
    notices = decoded([long] * (MAX_NOTICES - 2))
    assert len(notices) == MAX_NOTICES and notices[-1].detail == "notices: 2 more left out"  # type: ignore[union-attr]
    assert notices[-2].reason == RejectReason.INSUFFICIENT_BASE  # type: ignore[union-attr]
    notices = decoded([long] * (MAX_NOTICES - 3))  # all fit: none left out
    assert len(notices) == MAX_NOTICES
    assert [n.reason for n in notices[-3:]] == [RejectReason.INSUFFICIENT_BASE] * 3  # type: ignore[union-attr]


def _levels(n: int) -> np.ndarray:
    from taos.simulator import LEVEL_DTYPE

    out = np.zeros(n, dtype=LEVEL_DTYPE)
    out["price_ticks"] = np.arange(30_000, 30_000 - n, -1)
    out["qty_lots"] = 1
    return out


def _orders(levels: list[int]) -> np.ndarray:
    from taos.simulator import ORDER_DTYPE

    out = np.zeros(len(levels), dtype=ORDER_DTYPE)
    out["level"] = levels
    out["qty_lots"] = 1
    return out


def _event_dtype() -> np.dtype:
    from taos.simulator import EVENT_DTYPE

    return np.dtype(EVENT_DTYPE)
