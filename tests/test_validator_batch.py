"""Validation on columns (``taos.validator.batch``) against the instruction-by-instruction path:
for every reply it judges, the same records (fields, delays, order), refusals and notices as
``validate_instructions`` followed by ``to_records``; and ordinary replies are judged there (else
the fast path would never be taken)."""

from __future__ import annotations

from typing import Any

import msgspec
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from instruction_strategies import INSTRUCTION, NOW

from taos.protocol import (
    PROTOCOL_VERSION,
    Cancel,
    PlaceLimit,
    PlaceMarket,
    ProtocolError,
    Side,
    SimulationInfo,
    TargetPosition,
    TimeInForce,
    decode_reply,
    encode_reply,
)
from taos.protocol.instructions import MAX_INSTRUCTIONS
from taos.simulator import reply_columns
from taos.validator.batch import Admitted, _object_columns, validate_batch
from taos.validator.convert import Units, to_records
from taos.validator.latency import instruction_delay_ns
from taos.validator.validation import RejectRule, ValidationContext, validate_instructions

SIM = SimulationInfo("b", 3, 0.01, 0.0001, 86_400 * 10**9, 5 * 10**9, (), ())
UNITS = Units(SIM.tick_size, SIM.lot_size)

ORDINARY = st.one_of(
    st.builds(
        lambda book, side, ticks, lots, delay: {
            "kind": 1,
            "book": book,
            "side": side,
            "price": ticks / 100,
            "quantity": lots / 10_000,
            "delay_ns": delay,
        },
        st.integers(0, 2),
        st.sampled_from([1, 2]),
        st.integers(1, 100_000),
        st.integers(1, 10**6),
        st.sampled_from([0, 0, 7, 10**9]),
    ),
    st.builds(
        lambda book, side, lots: {"kind": 2, "book": book, "side": side, "quantity": lots / 10_000},
        st.integers(0, 2),
        st.sampled_from([1, 2]),
        st.integers(1, 10**6),
    ),
    st.builds(
        lambda book, oid: {"kind": 3, "book": book, "order_id": oid}, st.integers(0, 2), st.integers(1, 99)
    ),
)
# mostly ordinary instructions (the replies the columns judge), now and then any the wire carries
REPLY = st.one_of(
    st.lists(ORDINARY, max_size=16), st.lists(st.one_of(*[ORDINARY] * 12, INSTRUCTION), max_size=12)
)
NONE_OR_ONE_BOOK = st.one_of(
    st.just(frozenset()), st.just(frozenset()), st.frozensets(st.integers(0, 2), max_size=1)
)
CONTEXT = st.fixed_dictionaries(
    {
        "strict": st.booleans(),
        "cap": st.integers(1, 3),
        "capped": NONE_OR_ONE_BOOK,
        "closed": NONE_OR_ONE_BOOK,
        "max_open": st.sampled_from([0, 0, 0, 3]),
        "delay": st.integers(0, 4 * 10**9),
    }
)


def decoded(raws: list[dict[str, Any]]) -> tuple[Any, ...] | None:
    body = msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION, "instructions": raws})
    try:
        return decode_reply(body).instructions
    except ProtocolError:
        return None  # the wire refuses it before any check


def context(c: dict[str, Any]) -> ValidationContext:
    return ValidationContext(
        simulation=SIM,
        now_ns=NOW,
        max_instructions_per_book=c["cap"],
        max_extra_delay_ns=SIM.publish_interval_ns,
        volume_capped_books=c["capped"],
        strict=c["strict"],
        closed_books=c["closed"],
        max_open=c["max_open"],
    )


def one_by_one(a: Admitted) -> tuple[np.ndarray, Any]:
    result = validate_instructions(a.uid, a.instructions, a.context)
    items = [
        (
            x.instruction,
            a.context.now_ns
            + a.delay_ns
            + instruction_delay_ns(0, x.instruction, max_extra_delay_ns=SIM.publish_interval_ns),
        )
        for x in result.accepted
    ]
    return to_records(a.uid, items, UNITS), result


@settings(max_examples=600, deadline=None)
@given(miners=st.lists(st.tuples(REPLY, CONTEXT), min_size=1, max_size=5))
def test_the_columns_judge_as_the_instruction_by_instruction_path(miners: list[Any]) -> None:
    admitted = []
    for uid, (raws, c) in enumerate(miners, start=1):
        instructions = decoded(raws)
        if instructions is not None:
            admitted.append(Admitted(uid, instructions, context(c), c["delay"]))
    fast = validate_batch(admitted, UNITS)
    for a in admitted:
        if a.uid not in fast:
            continue
        assert a.context.max_open == 0
        assert not any(isinstance(i, TargetPosition) for i in a.instructions)
        records, reference = one_by_one(a)
        judged = fast[a.uid]
        assert judged.records.tobytes() == records.tobytes(), (a, judged.records, records)
        assert judged.rejected == reference.rejected
        assert judged.notices == reference.notices
        assert all(r.rule is RejectRule.PER_BOOK_CAP for r in judged.rejected)


def test_ordinary_replies_are_judged_on_columns() -> None:
    replies = [
        (PlaceLimit(0, Side.BUY, 299.99, 0.5), PlaceLimit(1, Side.SELL, 300.01, 1.25, client_order_id=4)),
        (PlaceMarket(2, Side.SELL, 0.1), Cancel(0, 17), Cancel(1, 18, 0.5)),
        (),
        tuple(PlaceLimit(0, Side.BUY, 299.0 - i / 100, 0.1) for i in range(25)),  # over the cap of 20
        (PlaceLimit(0, Side.BUY, 299.99, 0.5, time_in_force=TimeInForce.GTT, expiry_ns=NOW + 1, delay_ns=9),),
    ]
    admitted = []
    for uid, instructions in enumerate(replies, start=3):
        body = encode_reply(instructions)
        ctx = ValidationContext.for_simulation(SIM, NOW)
        admitted.append(Admitted(uid, decode_reply(body).instructions, ctx, 1_000 * uid))
    fast = validate_batch(admitted, UNITS)
    assert sorted(fast) == [3, 4, 5, 6, 7]
    for a in admitted:
        records, reference = one_by_one(a)
        assert fast[a.uid].records.tobytes() == records.tobytes()
        assert fast[a.uid].notices == reference.notices
    assert len(fast[6].records) == 20 and len(fast[6].rejected) == 5
    assert list(fast[3].records["ts_ns"]) == [NOW + 3_000, NOW + 3_000]  # when each reaches its book
    assert list(fast[7].records["ts_ns"]) == [NOW + 7_009]
    assert fast[5].records.size == 0


def test_what_the_columns_leave_to_the_one_by_one_path() -> None:
    ctx = ValidationContext.for_simulation(SIM, NOW)
    good = (PlaceLimit(0, Side.BUY, 299.99, 0.5),)
    replies = {
        1: good,
        2: (*good, TargetPosition(0, 1)),  # the rules of targets
        3: (*good, PlaceLimit(5, Side.BUY, 299.99, 0.5)),  # an unknown book: its reason is needed
        4: (*good, PlaceLimit(0, Side.BUY, 299.99, 0.5, delay_ns=10**10)),  # over the extra delay
        5: (*good, Cancel(0, 2**64 - 1), PlaceLimit(0, Side.BUY, 2.0**70, 0.5)),  # beyond the price range
        8: (*good, Cancel(0, 3, float("nan"))),  # a NaN quantity is not "no quantity"
    }
    admitted = [Admitted(uid, i, ctx, 0) for uid, i in replies.items()]
    admitted.append(Admitted(6, good, ValidationContext.for_simulation(SIM, NOW, max_open=5), 0))
    admitted.append(
        Admitted(7, good, ValidationContext.for_simulation(SIM, NOW, volume_capped_books=frozenset({0})), 0)
    )
    assert sorted(validate_batch(admitted, UNITS)) == [1]
    assert validate_batch([], UNITS) == {}


def read_as_msgspec(body: bytes, cap: int = MAX_INSTRUCTIONS) -> Any:
    """What ``reply_columns`` reads of ``body`` is what msgspec decodes: the same book events and
    the same columns as the decoded objects give (``_object_columns``). Returns the columns, or
    None when the reader leaves the body to msgspec."""
    read = reply_columns(body, PROTOCOL_VERSION, cap)
    try:
        reply = decode_reply(body, max_instructions=cap)
    except ProtocolError:
        reply = None
    if read is None:
        return None
    assert reply is not None, body  # the reader never takes what msgspec refuses
    assert read[0] == reply.book_events
    columns = _object_columns(list(reply.instructions))
    assert columns is not None and read[1].tobytes() == columns.tobytes(), (body, reply)
    return read[1]


@settings(max_examples=400, deadline=None)
@given(
    raws=st.lists(st.one_of(ORDINARY, ORDINARY, INSTRUCTION), max_size=10),
    events=st.sampled_from([0, 1, 2]),
    damage=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=3),
    cut=st.integers(0, 10**6),
)
def test_reply_columns_read_what_msgspec_decodes(
    raws: list[dict[str, Any]], events: int, damage: list[tuple[int, int]], cut: int
) -> None:
    """Any body (the raw dicts in their own key order, the form msgspec writes, and damaged copies
    of both: flipped bytes, cut short): the reader either leaves it to msgspec or reads what
    msgspec decodes. The form msgspec writes of limit orders, market orders and cancels whose
    values fit their columns is always read."""
    raw = msgspec.msgpack.encode(
        {"protocol_version": PROTOCOL_VERSION, "instructions": raws, "book_events": events}
    )
    bodies = [raw]
    try:
        reply = decode_reply(raw)
    except ProtocolError:
        reply = None
    if reply is not None:
        canonical = encode_reply(reply.instructions, reply.book_events)
        bodies.append(canonical)
        plain = not any(isinstance(i, TargetPosition) for i in reply.instructions)
        if plain and _object_columns(list(reply.instructions)) is not None:
            assert read_as_msgspec(canonical) is not None
        if len(reply.instructions) > 1:
            assert read_as_msgspec(canonical, cap=len(reply.instructions) - 1) is None  # over the cap
    for body in list(bodies):
        damaged = bytearray(body)
        for at, xor in damage:
            damaged[at % len(damaged)] ^= xor
        bodies += [bytes(damaged), body[: cut % (len(body) + 1)], body + b"\x00"]
    for body in bodies:
        read_as_msgspec(body)


def test_reply_columns_take_only_the_form_msgspec_writes() -> None:
    """Bodies msgspec decodes that the reader leaves to it (another key order, an unknown key, an
    integer for a float, a target), and those it reads although msgspec would not write them so
    (float 32, an explicit default or None, a key as str 8)."""
    limit = {"kind": 1, "book": 0, "side": 1, "price": 1.5, "quantity": 0.25}

    def body(*instructions: dict[str, Any], **top: Any) -> bytes:
        return msgspec.msgpack.encode(
            {"protocol_version": PROTOCOL_VERSION, "instructions": list(instructions), **top}
        )

    read = read_as_msgspec(body(limit, {"kind": 3, "book": 2, "order_id": 9}, book_events=1))
    assert read is not None and read["kind"].tolist() == [1, 3] and read["no_quantity"].tolist() == [0, 1]
    left = [
        body({**limit, "price": 2}),  # an integer price: msgspec converts it
        body({"book": 0, **limit}),  # the tag not first
        body({**limit, "colour": "red"}),  # a key msgspec ignores
        body({"kind": 1, "price": 1.5, "book": 0, "side": 1, "quantity": 0.25}),  # out of order
        body({"kind": 5, "book": 0, "direction": 1}),  # a target
        msgspec.msgpack.encode({"instructions": [limit], "protocol_version": PROTOCOL_VERSION}),
        body(limit) + b"\xc0",  # trailing bytes
        body(limit, book_events=3),  # not a BookEvents: msgspec refuses it too
        body({**limit, "side": 3}),  # not a Side: msgspec refuses it
        body({**limit, "time_in_force": 0}),
        body({**limit, "stp": 5}),
        body({"kind": 2, "book": 0, "side": 1, "quantity": 1.0, "currency": 3}),
        body({**limit, "post_only": 1}),  # an integer for a bool
        body({**limit, "book": 2**63}),  # msgspec decodes these; their columns cannot hold them
        body({**limit, "client_order_id": -5}),
        body({"kind": 3, "book": 0, "order_id": -1}),
        body({**limit, "delay_ns": 2**64 - 1}),
        body({"kind": 1, "book": 0, "side": 1, "price": 1.5}),  # no quantity
        body({"kind": 3, "book": 0}),  # no order id
    ]
    for b in left:
        assert reply_columns(b, PROTOCOL_VERSION, MAX_INSTRUCTIONS) is None, b
        read_as_msgspec(b)
    assert reply_columns(body(limit), PROTOCOL_VERSION + 1, MAX_INSTRUCTIONS) is None
    # a list header that claims 2**32 - 1 instructions: nothing is reserved for them before they are read
    claims = (
        msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION, "instructions": []})[:-1]
        + b"\xdd\xff\xff\xff\xff"
    )
    assert reply_columns(claims, PROTOCOL_VERSION, 2**32 - 1) is None
    f32 = body(limit).replace(msgspec.msgpack.encode(0.25), b"\xca" + np.float32(0.25).byteswap().tobytes())
    explicit = body({**limit, "time_in_force": 1, "expiry_ns": None, "client_order_id": None, "delay_ns": 0})
    str8 = body(limit).replace(b"\xa8quantity", b"\xd9\x08quantity")
    for b in (f32, explicit, str8):
        assert read_as_msgspec(b) is not None, b
