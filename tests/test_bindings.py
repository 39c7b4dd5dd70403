"""taos.simulator: the exchange through the bindings."""

import pickle

import numpy as np
import pytest
from gil import python_ran_during

from taos.simulator import (
    EVENT_DTYPE,
    INSTRUCTION_DTYPE,
    LEVEL_DTYPE,
    ORDER_DTYPE,
    AgentClass,
    BookLevels,
    CancelReason,
    Currency,
    EventKind,
    Exchange,
    FeeTier,
    InstructionKind,
    RejectReason,
    Side,
    Stp,
    TimeInForce,
    default_miner_fee_tiers,
    instruction_array,
    random_instruction_stream,
    rate_to_ppb,
)


@pytest.fixture
def ex() -> Exchange:
    e = Exchange(books=2, agent_classes=[AgentClass("miner"), AgentClass("background", may_self_trade=True)])
    for book in range(2):
        for agent in (1, 2, 3):
            e.open_account(book, agent, 0, 1_000, 10_000_000)
    return e


def kinds(events: np.ndarray) -> list[EventKind]:
    return [EventKind(k) for k in events["kind"]]


def test_record_layouts() -> None:
    assert INSTRUCTION_DTYPE.itemsize == 72
    assert EVENT_DTYPE.itemsize == 104
    for field in ("kind", "book", "agent", "side", "price_ticks", "qty_lots", "tif", "stp", "order_id"):
        assert field in INSTRUCTION_DTYPE.names
    for field in ("seq", "ts_ns", "kind", "order_id", "other_order_id", "maker_fee", "taker_fee", "reason"):
        assert field in EVENT_DTYPE.names


def test_single_instructions_and_events(ex: Exchange) -> None:
    ex.submit_limit(0, 1, Side.SELL, 100, 5, client_order_id=11, ts_ns=10)
    ex.submit_limit(0, 2, Side.BUY, 101, 3, client_order_id=12, ts_ns=20)
    ev = ex.take_events()
    assert ev.dtype == EVENT_DTYPE
    assert kinds(ev) == [EventKind.ORDER_PLACED, EventKind.ORDER_PLACED, EventKind.TRADE]
    assert list(ev["seq"]) == [1, 2, 3]
    assert list(ev["client_order_id"][:2]) == [11, 12]
    trade = ev[2]
    assert (trade["price_ticks"], trade["qty_lots"], trade["agent"], trade["other_agent"]) == (100, 3, 2, 1)
    assert trade["other_order_id"] == ev[0]["order_id"]
    assert ex.take_events().size == 0  # events are handed out once


def test_batch_matches_single_calls(ex: Exchange) -> None:
    batch = instruction_array(3)
    batch["kind"] = InstructionKind.PLACE_LIMIT
    batch["book"] = 1
    batch["agent"] = [1, 2, 3]
    batch["side"] = [Side.SELL, Side.SELL, Side.BUY]
    batch["price_ticks"] = [100, 99, 100]
    batch["qty_lots"] = [2, 2, 3]
    batch["tif"] = TimeInForce.GTC
    batch["stp"] = Stp.CANCEL_OLDEST
    batch["ts_ns"] = [1, 2, 3]
    ex.submit_batch(batch)
    ev = ex.take_events()
    trades = ev[ev["kind"] == EventKind.TRADE]
    assert list(trades["price_ticks"]) == [99, 100]
    assert list(trades["qty_lots"]) == [2, 1]
    assert set(ev["book"]) == {1}


def test_batch_rejects_wrong_arrays(ex: Exchange) -> None:
    with pytest.raises(TypeError, match="INSTRUCTION_DTYPE"):
        ex.submit_batch(np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="one-dimensional"):
        ex.submit_batch(np.zeros((2, 2), dtype=INSTRUCTION_DTYPE))
    with pytest.raises(ValueError, match="C-contiguous"):
        ex.submit_batch(np.zeros(6, dtype=INSTRUCTION_DTYPE)[::2])
    with pytest.raises(TypeError, match="INSTRUCTION_DTYPE"):  # other fields
        ex.submit_batch(np.zeros(2, dtype=[("ts_ns", "<i8"), ("kind", "u1")]))


def test_batch_accepts_concatenated_records(ex: Exchange) -> None:
    # numpy drops the padding of a structured dtype when it concatenates; the fields are the same
    one = instruction_array(1)
    one["kind"], one["book"], one["agent"], one["side"] = InstructionKind.PLACE_LIMIT, 1, 1, Side.SELL
    one["price_ticks"], one["qty_lots"], one["tif"], one["stp"] = 100, 2, TimeInForce.GTC, Stp.CANCEL_OLDEST
    both = np.concatenate([one, one])
    assert both.dtype != INSTRUCTION_DTYPE and both.dtype.names == INSTRUCTION_DTYPE.names
    ex.submit_batch(both)
    placed = ex.take_events()
    assert list(placed["kind"]) == [EventKind.ORDER_PLACED] * 2


def test_zeroed_records_are_rejected_not_applied(ex: Exchange) -> None:
    ex.submit_batch(instruction_array(4))
    ev = ex.take_events()
    assert len(ev) == 4
    assert set(ev["kind"]) == {EventKind.ORDER_REJECTED}
    assert set(ev["reason"]) == {RejectReason.INVALID_INSTRUCTION}


def test_levels_with_order_detail(ex: Exchange) -> None:
    for price in (95, 96, 97):
        ex.submit_limit(0, 1, Side.BUY, price, 1)
        ex.submit_limit(0, 2, Side.BUY, price, 2)
    ex.submit_limit(0, 3, Side.SELL, 110, 4)
    lv = ex.levels(0, depth=2, detail_depth=1)
    assert list(lv.bids["price_ticks"]) == [97, 96]
    assert list(lv.bids["qty_lots"]) == [3, 3]
    assert list(lv.bids["count"]) == [2, 2]
    assert list(lv.bid_orders["qty_lots"]) == [1, 2]  # queue order at the best bid
    assert set(lv.bid_orders["level"]) == {0}
    assert list(lv.asks["price_ticks"]) == [110]
    assert ex.best(0) == (97, 110)
    assert ex.best(1) == (0, 0)
    with pytest.raises(IndexError):
        ex.levels(5)


def test_book_levels_are_a_typed_read_only_view_that_pickles(ex: Exchange) -> None:
    """A book's view is a ``BookLevels`` with four typed record arrays, not a dict: a misspelt
    field is an AttributeError, the fields cannot be replaced, and it pickles (Ray carries it)."""
    ex.submit_limit(0, 1, Side.BUY, 97, 1)
    ex.submit_limit(0, 3, Side.SELL, 110, 4)
    lv = ex.levels(0, depth=2, detail_depth=1)
    assert isinstance(lv, BookLevels) and repr(lv) == "BookLevels(1 bids, 1 asks, 2 orders)"
    assert lv.bids.dtype == lv.asks.dtype == LEVEL_DTYPE
    assert lv.bid_orders.dtype == lv.ask_orders.dtype == ORDER_DTYPE
    with pytest.raises(AttributeError):
        lv.bid  # type: ignore[attr-defined]  # noqa: B018
    with pytest.raises(AttributeError):
        lv.bids = lv.asks  # type: ignore[misc]
    with pytest.raises(TypeError):
        lv["bids"]  # type: ignore[index]
    back = pickle.loads(pickle.dumps(lv))
    assert all(
        getattr(back, k).tobytes() == getattr(lv, k).tobytes()
        for k in ("bids", "asks", "bid_orders", "ask_orders")
    )
    bad = BookLevels.__new__(BookLevels)
    with pytest.raises(ValueError, match="bid_orders must be a 1-d array of"):
        bad.__setstate__((lv.bids, lv.asks, lv.bids, lv.ask_orders))
    with pytest.raises(ValueError, match="must hold 4 arrays"):
        bad.__setstate__((lv.bids,))  # type: ignore[arg-type]
    made = BookLevels(bids=lv.bids, asks=lv.asks, bid_orders=lv.bid_orders, ask_orders=lv.ask_orders)
    assert made.asks.tobytes() == lv.asks.tobytes()
    with pytest.raises(ValueError, match="asks must be a 1-d array of"):
        BookLevels(lv.bids, np.zeros(2), lv.bid_orders, lv.ask_orders)


def test_accounts_and_open_orders(ex: Exchange) -> None:
    ex.submit_limit(0, 1, Side.BUY, 100, 10)
    a = ex.account(0, 1)
    assert a is not None
    assert (a["quote_reserved"], a["quote_free"], a["quote_total"]) == (1_000, 9_999_000, 10_000_000)
    assert a["open_orders"] == 1
    assert ex.account(0, 99) is None
    assert ex.account(9, 1) is None
    oo = ex.open_orders(0, 1)
    assert list(oo["price_ticks"]) == [100]
    assert list(oo["side"]) == [Side.BUY]
    table = ex.accounts(0)
    assert list(table["agent"]) == [1, 2, 3]


def test_cancel_ownership_and_reasons(ex: Exchange) -> None:
    ex.submit_limit(0, 1, Side.SELL, 100, 5)
    oid = int(ex.take_events()[0]["order_id"])
    ex.cancel(0, 2, oid)
    ex.cancel(0, 1, oid, qty_lots=2)
    ex.cancel(0, 1, oid + 12345)
    ev = ex.take_events()
    assert kinds(ev) == [EventKind.CANCEL_REJECTED, EventKind.ORDER_CANCELLED, EventKind.CANCEL_REJECTED]
    assert RejectReason(ev[0]["reason"]) == RejectReason.NOT_OWNER
    assert CancelReason(ev[1]["reason"]) == CancelReason.REQUESTED
    assert ev[1]["remaining_lots"] == 3
    assert RejectReason(ev[2]["reason"]) == RejectReason.UNKNOWN_ORDER


def test_market_in_quote_and_out_of_range_enum_values(ex: Exchange) -> None:
    ex.submit_limit(0, 1, Side.SELL, 100, 5)
    ex.submit_market(0, 2, Side.BUY, notional_quote=250, currency=Currency.QUOTE)
    ex.submit_market(0, 2, Side.BUY, qty_lots=1, currency=999)
    ex.submit_limit(0, 2, -4, 100, 1)
    ev = ex.take_events()
    trades = ev[ev["kind"] == EventKind.TRADE]
    assert list(trades["qty_lots"]) == [2]
    rejected = ev[ev["kind"] == EventKind.ORDER_REJECTED]
    assert [RejectReason(r) for r in rejected["reason"]] == [
        RejectReason.INVALID_CURRENCY,
        RejectReason.INVALID_SIDE,
    ]


def test_reset_and_gtt(ex: Exchange) -> None:
    ex.submit_limit(0, 1, Side.BUY, 100, 5, tif=TimeInForce.GTT, expiry_ns=1_000, ts_ns=10)
    ex.submit_limit(1, 1, Side.SELL, 200, 5, ts_ns=10)
    ex.advance_to(1_000)
    ev = ex.take_events()
    cancelled = ev[ev["kind"] == EventKind.ORDER_CANCELLED]
    assert len(cancelled) == 1
    assert CancelReason(cancelled[0]["reason"]) == CancelReason.EXPIRED
    assert cancelled[0]["ts_ns"] == 1_000
    assert ex.reset_agent(1, ts_ns=2_000) == 2
    ev = ex.take_events()
    assert EventKind.ACCOUNT_RESET in kinds(ev)
    assert ex.account(1, 1)["base_reserved"] == 0
    assert ex.reset_agent(42) == 0


def test_fee_tiers_from_python() -> None:
    tiers = default_miner_fee_tiers(1_000_000)
    assert [t.maker_ppb for t in tiers][:2] == [5_000_000, 2_500_000]
    assert rate_to_ppb(0.0005) == 500_000
    with pytest.raises(ValueError):
        rate_to_ppb(1.0)
    with pytest.raises(ValueError, match="first tier"):
        AgentClass("bad", [FeeTier(5, 0, 0)])
    with pytest.raises(ValueError, match="books"):
        Exchange(books=0, agent_classes=[AgentClass("miner")])
    e = Exchange(books=1, agent_classes=[AgentClass("m", tiers)])
    with pytest.raises(ValueError, match="unknown agent class"):
        e.open_account(0, 1, 3, 0, 0)
    with pytest.raises(ValueError, match="already has an account"):
        e.open_account(0, 1, 0, 0, 0)
        e.open_account(0, 1, 0, 0, 0)


def test_random_stream_is_seeded() -> None:
    a = random_instruction_stream(3, 2_000)
    b = random_instruction_stream(3, 2_000)
    assert a.dtype == INSTRUCTION_DTYPE
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != random_instruction_stream(4, 2_000).tobytes()


def test_batch_releases_the_gil() -> None:
    e = Exchange(books=1, agent_classes=[AgentClass("miner")])
    for agent in range(100):
        e.open_account(0, agent, 0, 10**12, 10**15)
    stream = random_instruction_stream(1, 1_000_000)
    assert python_ran_during(lambda: e.submit_batch(stream))
    assert e.take_events().size > 1_000_000
