"""taos.validator.convert: engine records and events ↔ protocol models, on a real simulation."""

from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from taos.config import load, to_core
from taos.protocol import (
    Account,
    BookEvents,
    Cancel,
    CancelReason,
    Currency,
    Instruction,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    OrderRemoved,
    PlaceLimit,
    PlaceMarket,
    RejectReason,
    Side,
    TargetPosition,
    TimeInForce,
    Trade,
    decode_state,
    encode_shared,
    encode_state_for,
    notional_to_units,
    pack_events,
    price_to_ticks,
    public_order_id,
    quantity_to_lots,
)
from taos.protocol.instructions import Direction
from taos.protocol.limits import MAX_ACCOUNT_ORDERS, MAX_EVENTS_PER_BOOK
from taos.simulator import EventKind, Simulation
from taos.validator.convert import (
    MinerAccountData,
    MinerEvents,
    Units,
    all_miner_notices,
    book_state_variants,
    book_states,
    miner_account,
    miner_accounts,
    miner_notices,
    pack_miner_notices,
    to_records,
)

ROOT = Path(__file__).resolve().parents[1]
S = 1_000_000_000
U = Units(0.01, 0.0001)


@pytest.fixture()
def sim() -> Simulation:
    cfg = load(ROOT / "configs" / "small.toml")
    core = to_core(cfg)
    core.books = 2
    s = Simulation(core)
    s.step(60 * S)
    return s


def arriving(sim: Simulation, uid: int, instructions: list[tuple[Any, int]]) -> np.ndarray:
    """``to_records`` of instructions given with their delays from the simulation's time."""
    return to_records(uid, [(ins, sim.time_ns + delay) for ins, delay in instructions], U)


def test_units() -> None:
    assert U.quote_units == 1_000_000
    assert U.price(29_999) == 299.99
    assert U.qty(12_345) == 1.2345
    assert U.quote(2_500_000) == 2.5


def test_book_state_variants_list_the_events_each_kind_of_miner_asked_for(sim: Simulation) -> None:
    """``BookEvents.ALL``: the public events; ``TRADES``: the trades among them, in the same order;
    ``NONE``: none. The levels are the same in every variant."""
    r = sim.step(65 * S, depth=21, detail_depth=5)
    variants = book_state_variants(r.books, r.events, U, list(BookEvents))
    assert variants[BookEvents.ALL] == book_states(r.books, r.events, U)
    for b, book in enumerate(variants[BookEvents.ALL]):
        trades = variants[BookEvents.TRADES][b]
        none = variants[BookEvents.NONE][b]
        for other in (trades, none):
            assert (other.bid_levels, other.ask_orders) == (book.bid_levels, book.ask_orders)
        every = book.event_array
        rows = np.frombuffer(book.event_records, dtype=np.uint8).reshape(len(every), -1)
        assert trades.event_records == rows[every["kind"] == EventKind.TRADE].tobytes()
        assert len(trades.event_array) > 0 and len(trades.event_array) < len(every)
        assert none.event_records == b"" and none.events_dropped == 0
    assert book_states(r.books, r.events, U, BookEvents.NONE) == variants[BookEvents.NONE]


def test_books_carry_levels_orders_and_anonymous_events(sim: Simulation) -> None:
    r = sim.step(65 * S, depth=21, detail_depth=5)
    books = book_states(r.books, r.events, U)
    assert [b.book for b in books] == [0, 1]
    for b, state in zip(r.books, books, strict=True):
        assert len(state.bids) == len(b.bids) > 0
        assert state.bids[0].price == U.price(b.bids["price_ticks"][0])
        assert state.asks[0].quantity == U.qty(b.asks["qty_lots"][0])
        # orders of a detailed level add up to its quantity; deeper levels list none
        assert sum(o.quantity for o in state.bids[0].orders) == pytest.approx(state.bids[0].quantity)
        assert state.bids[5].orders == ()
    public = [e for s in books for e in s.events]
    kinds = {type(e) for e in public}
    assert kinds <= {OrderPlaced, Trade, OrderRemoved} and Trade in kinds
    n_public = int(
        np.isin(r.events["kind"], [EventKind.ORDER_PLACED, EventKind.TRADE, EventKind.ORDER_CANCELLED]).sum()
    )
    assert len(public) == n_public
    # the encoded shared part decodes back to the same books
    shared = encode_shared(r.time_ns, books)
    from taos.protocol import SimulationInfo

    info = SimulationInfo("x", 2, 0.01, 0.0001, 3600 * S, 5 * S, (), ())
    assert decode_state(encode_state_for(shared, info)).books == books


def test_miner_instructions_round_trip_into_notices(sim: Simulation) -> None:
    bid, ask = sim.best(0)
    uid = 3
    instructions = [
        (PlaceLimit(0, Side.BUY, U.price(bid - 200), 0.5, client_order_id=7), 1_000_000),
        (
            PlaceLimit(
                0, Side.BUY, U.price(ask + 50), 0.01, time_in_force=TimeInForce.IOC, client_order_id=8
            ),
            2_000_000,
        ),
        (PlaceMarket(1, Side.SELL, 10.0, currency=Currency.QUOTE), 3_000_000),
        (PlaceLimit(0, Side.SELL, 0.01, 1000.0, client_order_id=9), 4_000_000),  # more than it holds
    ]
    r = sim.step(70 * S, arriving(sim, uid, instructions))
    notes = miner_notices(uid, r.notices(uid), U)
    accepted = [n for n in notes if isinstance(n, OrderAccepted)]
    assert [(n.client_order_id, n.price) for n in accepted[:2]] == [
        (7, U.price(bid - 200)),
        (8, U.price(ask + 50)),
    ]
    assert accepted[0].quantity == 0.5 and accepted[0].time_in_force == TimeInForce.GTC
    market = [n for n in accepted if n.book == 1]
    assert market and market[0].price is None and market[0].quantity == 10.0
    fills = [n for n in notes if isinstance(n, OrderFilled)]
    assert any(f.order_id == accepted[1].order_id and not f.maker for f in fills)
    rejected = [n for n in notes if isinstance(n, OrderRejected)]
    assert [(n.client_order_id, n.reason) for n in rejected] == [(9, RejectReason.INSUFFICIENT_BASE)]
    # the resting bid shows in the account; cancelling it gives a cancellation notice
    acc = r.accounts[0][uid]
    account = miner_account(0, acc, sim.open_orders(0, uid), 0, 0, U)
    assert [o.price for o in account.orders] == [U.price(bid - 200)]
    # the reservation covers the fee at the highest miner rate (0.5 %)
    assert account.quote.reserved == pytest.approx(U.price(bid - 200) * 0.5 * 1.005)
    r2 = sim.step(75 * S, arriving(sim, uid, [(Cancel(0, accepted[0].order_id), 0)]))
    notes2 = miner_notices(uid, r2.notices(uid), U)
    assert notes2 == [
        OrderCancelled(0, notes2[0].ts_ns, accepted[0].order_id, 0.5, 0.0, CancelReason.REQUESTED)
    ]


def test_miner_accounts_encode_every_miners_accounts_as_miner_account_does(sim: Simulation) -> None:
    """``miner_accounts`` (whole columns, packed without models) gives each miner the bytes of the
    ``miner_account`` objects of its books, also past ``MAX_ACCOUNT_ORDERS`` open orders."""
    slots = sim.first_background_agent
    bid, ask = sim.best(0)
    orders = [
        (PlaceLimit(0, Side.BUY, U.price(bid - 100 - i), 0.01), 1_000) for i in range(MAX_ACCOUNT_ORDERS + 3)
    ]
    records = [arriving(sim, 1, orders)]
    records.append(arriving(sim, 2, [(PlaceLimit(1, Side.SELL, U.price(ask + 7), 0.25), 0)]))
    records.append(arriving(sim, 2, [(PlaceMarket(0, Side.BUY, 5.0, currency=Currency.QUOTE), 0)]))
    r = sim.step(70 * S, np.concatenate(records))
    data = MinerAccountData.of(sim, slots)
    uids = [3, 0, 1, 2, *range(4, slots)]  # any order of uids
    packed = miner_accounts(uids, data, U)
    assert list(packed) == uids
    compared = 0
    for uid in uids:
        ones = []
        for b in range(2):
            engine = sim.account(b, uid)
            ones.append(
                miner_account(
                    b,
                    r.accounts[b][uid],
                    sim.open_orders(b, uid),
                    engine["fee_tier"],
                    engine["window_volume"],
                    U,
                )
            )
            compared += len(ones[-1].orders) + ones[-1].orders_dropped
        assert bytes(packed[uid]) == msgspec.msgpack.encode(tuple(ones))
    decoded = msgspec.msgpack.decode(bytes(packed[1]), type=tuple[Account, ...])
    assert decoded[0].orders_dropped == 3 and len(decoded[0].orders) == MAX_ACCOUNT_ORDERS
    assert decoded[1].orders_dropped == 0
    assert compared >= MAX_ACCOUNT_ORDERS + 4
    assert miner_accounts([], data, U) == {}
    with pytest.raises(ValueError, match=r"uids must lie in \[0, "):
        miner_accounts([slots], data, U)


def test_notices_of_several_miners_converted_at_once_are_each_miners_own(sim: Simulation) -> None:
    bid, ask = sim.best(0)
    records = [
        arriving(sim, uid, [(PlaceLimit(0, side, U.price(price), 0.02), 1_000 * uid)])
        for uid, side, price in ((1, Side.BUY, ask + 3), (2, Side.SELL, bid - 3), (3, Side.BUY, bid - 50))
    ]
    records.append(arriving(sim, 4, [(Cancel(0, 123456789), 0)]))  # a cancel of an unknown order
    r = sim.step(70 * S, np.concatenate(records))
    events = {uid: r.notices(uid) for uid in (4, 1, 2, 3, 0)}
    together = all_miner_notices(events, U)
    assert list(together) == [4, 1, 2, 3, 0]
    for uid, evs in events.items():
        assert together[uid] == miner_notices(uid, evs, U)
    assert any(isinstance(n, OrderFilled) for n in together[1]) and together[0] == []
    assert [type(n) for n in together[4]] == [OrderRejected] and together[4][0].order_id == 123456789
    assert all_miner_notices({}, U) == {} and all_miner_notices({5: r.notices(5)}, U) == {5: []}


def assert_packed_notices_are_the_objects(events: dict[int, np.ndarray]) -> int:
    """``pack_miner_notices`` gives each uid the bytes of ``all_miner_notices``' objects, and
    counts the rejections by reason; returns the number of notices compared."""
    objects = all_miner_notices(events, U)
    packed = pack_miner_notices(events, U)
    reasons: dict[str, int] = {}
    for uid, notices in objects.items():
        assert packed.count(uid) == len(notices)
        assert packed.span(uid) == b"".join(msgspec.msgpack.encode(n) for n in notices)
        assert packed.span(uid, 2) == b"".join(msgspec.msgpack.encode(n) for n in notices[:2])
        for n in notices:
            if isinstance(n, OrderRejected):
                reasons[n.reason.name] = reasons.get(n.reason.name, 0) + 1
    assert packed.rejections == reasons
    return sum(map(len, objects.values()))


def test_packed_notices_of_an_engine_step_are_the_notice_objects(sim: Simulation) -> None:
    """Placements (limit and market, by quote), fills as taker and maker, a self-trade,
    cancellations, refused placements and cancels, across several miners."""
    bid, ask = sim.best(0)
    records = [
        arriving(
            sim, 1, [(PlaceLimit(0, Side.BUY, U.price(ask + 3), 0.02, client_order_id=2**64 - 1), 1_000)]
        ),
        arriving(sim, 2, [(PlaceLimit(0, Side.SELL, U.price(bid - 3), 0.02), 2_000)]),
        arriving(sim, 3, [(PlaceLimit(0, Side.BUY, U.price(bid - 50), 0.02), 3_000)]),
        arriving(sim, 3, [(PlaceLimit(0, Side.SELL, U.price(bid - 50), 0.01), 4_000)]),  # self-trade
        arriving(sim, 4, [(Cancel(0, 123456789), 0)]),
        arriving(sim, 5, [(PlaceMarket(1, Side.BUY, 5.0, currency=Currency.QUOTE), 0)]),
        arriving(sim, 5, [(PlaceLimit(1, Side.SELL, 0.01, 1000.0, client_order_id=9), 10)]),
    ]
    r = sim.step(70 * S, np.concatenate(records))
    compared = assert_packed_notices_are_the_objects({uid: r.notices(uid) for uid in (5, 4, 3, 2, 1, 0)})
    cancels = [
        (Cancel(0, n.order_id), 0)
        for n in all_miner_notices({3: r.notices(3)}, U)[3]
        if isinstance(n, OrderAccepted)
    ]
    r2 = sim.step(75 * S, arriving(sim, 3, cancels))
    compared += assert_packed_notices_are_the_objects({3: r2.notices(3), 1: r2.notices(1)})
    assert compared >= 12
    empty = pack_miner_notices({}, U)
    assert empty.first == {} and pack_miner_notices({7: r.notices(7)}, U).count(7) == 0
    for step, uids in ((r, [5, 4, 3, 2, 1, 0, 7]), (r2, [3, 1]), (r2, []), (r, [2])):
        # the step's notice index gathers the same events as StepResult.notices, uid by uid
        whole, each = MinerEvents.of_step(step, uids), MinerEvents.of({u: step.notices(u) for u in uids})
        assert whole.uids == each.uids and whole.lengths.tolist() == each.lengths.tolist()
        assert whole.events.dtype == each.events.dtype and whole.events.tobytes() == each.events.tobytes()
        a, b = pack_miner_notices(whole, U), pack_miner_notices(each, U)
        assert [a.span(u) for u in uids] == [b.span(u) for u in uids] and a.rejections == b.rejections
    assert MinerEvents.of_step(r, [5, 3]).lengths.sum() > 0


kinds = st.sampled_from([1, 2, 3, 3, 3, 4, 5, 6])
event = st.fixed_dictionaries(
    {
        "kind": kinds,
        "book": st.integers(0, 1),
        "order_id": st.integers(1, 4),  # few ids: placed again, filled again
        "other_order_id": st.integers(1, 4),
        "client_order_id": st.sampled_from([0, 1, 2**63, 2**64 - 1]),
        "price_ticks": st.sampled_from([0, 1, 30_000]),
        "qty_lots": st.integers(0, 5),
        "remaining_lots": st.integers(0, 5),
        "notional_quote": st.integers(0, 10**9),
        "maker_fee": st.integers(-(10**6), 10**6),
        "taker_fee": st.integers(0, 10**6),
        "agent": st.integers(0, 2),
        "other_agent": st.integers(0, 2),
        "side": st.sampled_from([1, 2]),
        "reason": st.integers(0, 6),
        "tif": st.integers(1, 4),
        "ts_ns": st.integers(0, 2**62),
    }
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(event, max_size=25), min_size=1, max_size=3))
def test_packed_notices_are_the_objects_for_any_events(miners: list[list[dict[str, int]]]) -> None:
    """Any mix of events (ids placed again within a step, fills before and after a placement,
    trades with the miner on either side or both, market orders by quote, 64-bit client ids)."""
    from taos.simulator import EVENT_DTYPE

    events = {}
    for uid, rows in enumerate(miners):
        a = np.zeros(len(rows), dtype=EVENT_DTYPE)
        for i, row in enumerate(rows):
            for name, value in row.items():
                a[i][name] = value
            if a[i]["kind"] != EventKind.TRADE:
                a[i]["agent"] = uid
        events[uid] = a
    assert_packed_notices_are_the_objects(events)


def test_records_convert_whole_columns_exactly_as_the_scalar_rounding() -> None:
    """``to_records`` converts prices, quantities and notionals a column at a time; each value
    gets the integer that ``price_to_ticks``, ``quantity_to_lots`` and ``notional_to_units`` give
    it, on the grid, within the tolerance of a step and between steps."""
    rng = np.random.default_rng(11)
    noise = [0.0, 1e-9, -1e-9, 3e-7, -3e-7, 0.3, 0.5, 0.7, -0.2, 2e-6]
    items: list[tuple[Instruction, int]] = []
    for i in range(3_000):
        price = (int(rng.integers(1, 10**9)) + float(rng.choice(noise))) * U.tick_size
        qty = (int(rng.integers(1, 10**7)) + float(rng.choice(noise))) * U.lot_size
        side = Side.BUY if i % 2 else Side.SELL
        match i % 4:
            case 0 | 1:
                items.append((PlaceLimit(i % 3, side, price, qty, client_order_id=i or None), i))
            case 2:
                currency = Currency.BASE if i % 8 == 2 else Currency.QUOTE
                items.append(
                    (PlaceMarket(1, side, qty if currency == Currency.BASE else price, currency=currency), i)
                )
            case _:
                items.append((Cancel(2, i + 1, None if i % 8 == 3 else qty), i))
    out = to_records(5, items, U)
    for record, (ins, delay) in zip(out.tolist(), items, strict=True):
        row = dict(zip(out.dtype.names, record, strict=True))
        ticks = price_to_ticks(ins.price, U.tick_size, ins.side) if isinstance(ins, PlaceLimit) else 0
        lots, units = 0, 0
        if isinstance(ins, PlaceLimit | Cancel) and ins.quantity is not None:
            lots = quantity_to_lots(ins.quantity, U.lot_size)
        if isinstance(ins, PlaceMarket):
            if ins.currency == Currency.BASE:
                lots = quantity_to_lots(ins.quantity, U.lot_size)
            else:
                units = notional_to_units(ins.quantity, U.tick_size, U.lot_size)
        assert (row["price_ticks"], row["qty_lots"], row["notional_quote"]) == (ticks, lots, units), ins
        assert (row["agent"], row["book"], row["ts_ns"]) == (5, ins.book, delay)
    assert len(set(out["price_ticks"].tolist())) > 1_000


def test_target_position_is_not_an_engine_instruction() -> None:
    with pytest.raises(TypeError, match="TargetPosition is not an engine instruction"):
        to_records(0, [(TargetPosition(0, Direction.LONG, 1.0), 0)], U)


def _event_by_row(row: np.void) -> object:
    """One engine event as a protocol object, row by row: an independent spelling of the column-wise
    packing (market orders have no price; removals keep what is left; orders by their public id)."""
    kind, side = int(row["kind"]), Side(int(row["side"]))
    oid, other = public_order_id(int(row["order_id"])), public_order_id(int(row["other_order_id"]))
    if kind == EventKind.ORDER_PLACED:
        price = U.price(row["price_ticks"]) if row["price_ticks"] else None
        return OrderPlaced(int(row["seq"]), int(row["ts_ns"]), oid, side, price, U.qty(row["qty_lots"]))
    if kind == EventKind.TRADE:
        return Trade(
            int(row["seq"]), int(row["ts_ns"]), oid, other, side,
            U.price(row["price_ticks"]), U.qty(row["qty_lots"]),
        )  # fmt: skip
    return OrderRemoved(
        int(row["seq"]), int(row["ts_ns"]), oid, side, U.qty(row["qty_lots"]),
        U.qty(row["remaining_lots"]), CancelReason(int(row["reason"])),
    )  # fmt: skip


def test_packed_events_equal_the_events_built_one_by_one(sim: Simulation) -> None:
    r = sim.step(180 * S)
    public = {int(EventKind.ORDER_PLACED), int(EventKind.TRADE), int(EventKind.ORDER_CANCELLED)}
    for b, state in enumerate(book_states(r.books, r.events, U)):
        rows = [row for row in r.events[r.events["book"] == b] if int(row["kind"]) in public]
        # a book lists its newest events, at most MAX_EVENTS_PER_BOOK, and counts the others
        dropped = max(0, len(rows) - MAX_EVENTS_PER_BOOK)
        assert state.events_dropped == dropped
        expected = tuple(_event_by_row(row) for row in rows[dropped:])
        assert {type(e) for e in expected} == {OrderPlaced, Trade, OrderRemoved}
        assert any(e.price is None for e in expected if isinstance(e, OrderPlaced))  # market orders arrived
        assert state.events == expected
        assert state.event_records == pack_events(expected)
        arr = state.event_array
        assert len(arr) == len(expected) and arr["seq"].tolist() == [e.seq for e in expected]
