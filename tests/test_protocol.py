"""taos.protocol: round trips, the shared-part encoding, the one error type, instruction checks,
and a fuzzed decoder."""

import math

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from protocol_samples import SECOND, all_notices, book, simulation, state

from taos.protocol import (
    MAX_INSTRUCTIONS,
    PROTOCOL_VERSION,
    RECORD_SIZE,
    BookEvents,
    Cancel,
    Currency,
    Direction,
    MarketState,
    PlaceLimit,
    PlaceMarket,
    ProtocolError,
    RejectReason,
    Reply,
    SharedState,
    Side,
    StateDecoder,
    StateRequest,
    Stp,
    TargetPosition,
    TimeInForce,
    check_instruction,
    decode_reply,
    decode_state,
    encode_reply,
    encode_shared,
    encode_state,
    encode_state_for,
    from_steps,
    on_grid,
    price_to_ticks,
    quantity_to_lots,
)
from taos.protocol.codec import _StateWire

# --- round trips ------------------------------------------------------------------------------------


def test_state_round_trip_with_every_notice_kind() -> None:
    s = state(notices=all_notices())
    decoded = decode_state(encode_state(s))
    assert decoded == s
    assert [type(n).__name__ for n in decoded.notices] == [type(n).__name__ for n in all_notices()]
    assert decoded.books[0].best_bid == 299.99 and decoded.books[0].best_ask == 300.01
    assert decoded.books[0].mid == pytest.approx(300.0)
    assert len(decoded.books[0].bids[0].orders) == 2 and decoded.books[0].bids[5].orders == ()
    assert decoded.accounts[0].quote.total == 30_000.0


def test_reply_round_trip_keeps_every_instruction_and_its_defaults() -> None:
    instructions = (
        PlaceLimit(0, Side.BUY, 299.99, 0.5),
        PlaceLimit(1, Side.SELL, 300.5, 1.0, TimeInForce.GTT, 90 * SECOND, True, Stp.CANCEL_BOTH, 9, 1000),
        PlaceMarket(0, Side.SELL, 100.0, Currency.QUOTE, client_order_id=3),
        Cancel(1, 42),
        Cancel(1, 43, quantity=0.25, delay_ns=5),
        TargetPosition(0, Direction.SHORT, 1.5),
        TargetPosition(1, Direction.FLAT),
    )
    reply = decode_reply(encode_reply(instructions))
    assert reply == Reply(PROTOCOL_VERSION, instructions)
    assert reply.instructions[0].time_in_force is TimeInForce.GTC
    assert reply.instructions[0].stp is Stp.CANCEL_OLDEST


def test_a_reply_asks_for_the_book_events_it_wants() -> None:
    """``Reply.book_events``: every L3 event by default, or the trades only, or none; any decoder
    (capped or not) gives it back, and an unknown value refuses the reply whole."""
    assert decode_reply(encode_reply(())).book_events is BookEvents.ALL
    for wanted in BookEvents:
        body = encode_reply((Cancel(0, 1),), wanted)
        for reply in (decode_reply(body), decode_reply(body, max_instructions=5)):
            assert reply == Reply(PROTOCOL_VERSION, (Cancel(0, 1),), wanted)
    absent = msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION, "instructions": []})
    assert decode_reply(absent, max_instructions=5).book_events is BookEvents.ALL
    bad = msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION, "book_events": 7})
    for kw in ({}, {"max_instructions": 5}):
        with pytest.raises(ProtocolError, match=r"Invalid enum value 7 - at `\$.book_events`"):
            decode_reply(bad, **kw)
    with pytest.raises(ValueError):
        encode_reply((), 7)  # type: ignore[arg-type]


def test_wire_tags_are_fixed_integers() -> None:
    raw = msgspec.msgpack.decode(
        encode_reply([PlaceLimit(0, Side.BUY, 1.0, 1.0), PlaceMarket(0, Side.BUY, 1.0), Cancel(0, 1)])
    )
    assert [i["kind"] for i in raw["instructions"]] == [1, 2, 3]
    assert raw["instructions"][0] == {"kind": 1, "book": 0, "side": 1, "price": 1.0, "quantity": 1.0}
    raw = msgspec.msgpack.decode(encode_reply([TargetPosition(0, Direction.LONG, 2.0)]))
    assert raw["instructions"][0] == {"kind": 5, "book": 0, "direction": 1, "leverage": 2.0}
    s = msgspec.msgpack.decode(encode_state(state(notices=all_notices())))
    assert [n[0] for n in s["notices"]] == [6, 1, 2, 3, 4, 5, 8, 9, 7]  # arrays, tag first
    assert s["books"][0]["event_records"][56::RECORD_SIZE] == bytes([1, 1, 3, 4])  # EventKind values
    assert s["protocol_version"] == PROTOCOL_VERSION


def test_a_miner_may_send_integers_where_decimals_are_expected() -> None:
    body = msgspec.msgpack.encode(
        {
            "protocol_version": PROTOCOL_VERSION,
            "instructions": [{"kind": 1, "book": 0, "side": 2, "price": 300, "quantity": 1}],
        }
    )
    assert decode_reply(body).instructions == (PlaceLimit(0, Side.SELL, 300.0, 1.0),)


# --- shared-part encoding ---------------------------------------------------------------------------


def test_shared_books_spliced_per_miner_equal_a_direct_encoding() -> None:
    books = tuple(book(b) for b in range(3))
    shared = encode_shared(7 * SECOND, books)
    for miner, notices in enumerate([(), all_notices(), all_notices()[:2]]):
        sim = simulation(3)
        full = MarketState(PROTOCOL_VERSION, 7 * SECOND, sim, books, state(books=3).accounts, notices)
        body = encode_state_for(shared, sim, full.accounts, notices)
        assert body == encode_state(full), miner
        assert decode_state(body) == full


def test_the_wire_struct_mirrors_market_state_field_by_field() -> None:
    assert _StateWire.__struct_fields__ == MarketState.__struct_fields__


# --- the one error type -----------------------------------------------------------------------------


def _error(body: bytes, **kw: int) -> str:
    with pytest.raises(ProtocolError) as e:
        decode_state(body, **kw)
    return str(e.value)


def test_wrong_version_is_named() -> None:
    body = msgspec.msgpack.encode({"protocol_version": 99, "timestamp_ns": 1})
    assert "protocol_version 99 is not supported" in _error(body)
    good_shape = msgspec.msgpack.decode(encode_state(state()))
    good_shape["protocol_version"] = 1
    assert "protocol_version 1 is not supported" in _error(msgspec.msgpack.encode(good_shape))
    with pytest.raises(ProtocolError, match="protocol_version 0 is not supported"):
        decode_reply(msgspec.msgpack.encode({"protocol_version": 0, "instructions": []}))


def test_missing_version_is_named() -> None:
    assert "no protocol_version" in _error(msgspec.msgpack.encode({"timestamp_ns": 1}))


def test_oversized_body_is_refused_before_decoding() -> None:
    body = encode_state(state())
    assert "over the limit of 100" in _error(body, max_bytes=100)
    assert decode_state(body, max_bytes=len(body)) == state()
    with pytest.raises(ProtocolError, match="over the limit"):
        decode_reply(b"\x80" * (16 * 1024 * 1024 + 1))


def test_malformed_bodies_say_what_is_wrong() -> None:
    assert "empty" in _error(b"")
    assert "malformed" in _error(b"\xc1")
    assert "truncated" in _error(encode_state(state())[:-1])
    bad = msgspec.msgpack.decode(encode_state(state()))
    bad["books"][0]["bid_levels"] = "cheap"
    assert "$.books[0].bid_levels" in _error(msgspec.msgpack.encode(bad))
    with pytest.raises(ProtocolError, match=r"\$\.instructions\[0\]\.kind"):
        decode_reply(
            msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION, "instructions": [{"kind": 4}]})
        )
    with pytest.raises(ProtocolError, match="must be bytes"):
        decode_reply("text")  # type: ignore[arg-type]


def test_no_code_runs_from_a_pickle_payload() -> None:
    import pickle

    body = pickle.dumps(Reply(PROTOCOL_VERSION, ()).__class__)
    with pytest.raises(ProtocolError):
        decode_reply(body)


def test_reply_instruction_limit_is_hard() -> None:
    many = [Cancel(0, 1)] * MAX_INSTRUCTIONS
    assert len(decode_reply(encode_reply(many), max_bytes=64 * 1024 * 1024).instructions) == MAX_INSTRUCTIONS
    with pytest.raises(ProtocolError, match="at most 200000"):
        encode_reply([*many, Cancel(0, 1)])
    body = msgspec.msgpack.encode(
        {"protocol_version": PROTOCOL_VERSION, "instructions": [*many, Cancel(0, 1)]}
    )
    with pytest.raises(ProtocolError, match="length <= 200000"):
        decode_reply(body, max_bytes=64 * 1024 * 1024)


def test_a_huge_declared_array_length_fails_fast() -> None:
    # map{protocol_version: 1, instructions: array32 of 2^32-1 items} with no items following
    body = b"\x82\xb0protocol_version\x01\xacinstructions\xdd\xff\xff\xff\xff"
    with pytest.raises(ProtocolError, match="length <= 200000"):
        decode_reply(body)
    fields = msgspec.msgpack.decode(encode_state(state()))
    fields["notices"] = []
    body = msgspec.msgpack.encode(fields)
    assert body.endswith(b"\xa7notices\x90")
    with pytest.raises(ProtocolError, match="truncated"):
        decode_state(body[:-1] + b"\xdd\xff\xff\xff\xff")


# --- fuzzing: only ProtocolError, never another exception --------------------------------------------

VALID_BODIES = [
    encode_state(state(notices=all_notices())),
    encode_reply(
        [
            PlaceLimit(0, Side.BUY, 299.99, 0.5, TimeInForce.GTT, 10, client_order_id=2**64 - 1),
            PlaceMarket(1, Side.SELL, 2.0, Currency.QUOTE),
            Cancel(0, 3, 0.5),
            TargetPosition(0, Direction.LONG, 3.0),
        ]
    ),
]


def _decodes_or_protocol_error(body: bytes) -> None:
    for decode in (decode_state, decode_reply):
        try:
            result = decode(body)
        except ProtocolError as e:
            assert str(e)
        else:
            assert result.protocol_version == PROTOCOL_VERSION


@given(st.binary(max_size=512))
def test_fuzz_random_bytes(body: bytes) -> None:
    _decodes_or_protocol_error(body)


def test_every_truncation_of_a_valid_body_is_a_protocol_error() -> None:
    for body in VALID_BODIES:
        for cut in range(len(body)):
            with pytest.raises(ProtocolError):
                decode_state(body[:cut]) if body is VALID_BODIES[0] else decode_reply(body[:cut])


@given(
    which=st.sampled_from(range(len(VALID_BODIES))),
    edits=st.lists(
        st.tuples(
            st.sampled_from(["flip", "set", "insert", "delete"]), st.integers(0, 10**6), st.integers(0, 255)
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_fuzz_mutations_of_valid_bodies(which: int, edits: list[tuple[str, int, int]]) -> None:
    body = bytearray(VALID_BODIES[which])
    for op, pos, value in edits:
        i = pos % (len(body) + 1)
        if op == "insert":
            body.insert(i, value)
        elif body and op == "delete":
            del body[i % len(body)]
        elif body:
            body[i % len(body)] = value if op == "set" else body[i % len(body)] ^ (1 << (value % 8))
    _decodes_or_protocol_error(bytes(body))


MSGPACK_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats() | st.text() | st.binary(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=30,
)


@given(MSGPACK_VALUES)
def test_fuzz_arbitrary_messagepack_values(value: object) -> None:
    _decodes_or_protocol_error(msgspec.msgpack.encode(value))
    _decodes_or_protocol_error(
        msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION, "instructions": [value]})
    )


# --- instruction checks -----------------------------------------------------------------------------

SIM = simulation()


@pytest.mark.parametrize(
    ("instruction", "reason", "fragment"),
    [
        (PlaceLimit(0, Side.BUY, 300.0, 1.0, TimeInForce.GTT), RejectReason.INVALID_EXPIRY, "needs expiry"),
        (PlaceLimit(0, Side.BUY, 300.0, 1.0, expiry_ns=5), RejectReason.INVALID_EXPIRY, "only for GTT"),
        (
            PlaceLimit(0, Side.BUY, 300.0, 1.0, TimeInForce.IOC, post_only=True),
            RejectReason.POST_ONLY_NOT_ALLOWED,
            "IOC",
        ),
        (
            PlaceLimit(0, Side.BUY, 300.0, 1.0, TimeInForce.FOK, post_only=True),
            RejectReason.POST_ONLY_NOT_ALLOWED,
            "FOK",
        ),
        (PlaceLimit(0, Side.BUY, 300.0, 0.0), RejectReason.INVALID_QUANTITY, "> 0"),
        (PlaceLimit(0, Side.BUY, -1.0, 1.0), RejectReason.INVALID_PRICE, "> 0"),
        (PlaceLimit(0, Side.BUY, math.nan, 1.0), RejectReason.INVALID_PRICE, "> 0"),
        (PlaceLimit(0, Side.BUY, math.inf, 1.0), RejectReason.INVALID_PRICE, "> 0"),
        (PlaceLimit(0, Side.BUY, 300.001, 1.0), RejectReason.INVALID_PRICE, "not a multiple of 0.01"),
        (PlaceLimit(0, Side.BUY, 300.0, 0.00015), RejectReason.INVALID_QUANTITY, "not a multiple of 0.0001"),
        (PlaceLimit(0, Side.BUY, 300.0, 1.0, stp=Stp.NONE), RejectReason.INVALID_STP, "NONE"),
        (PlaceLimit(2, Side.BUY, 300.0, 1.0), RejectReason.UNKNOWN_BOOK, "does not exist"),
        (PlaceLimit(-1, Side.BUY, 300.0, 1.0), RejectReason.UNKNOWN_BOOK, ">= 0"),
        (PlaceLimit(0, Side.BUY, 300.0, 1.0, delay_ns=-1), RejectReason.INVALID_INSTRUCTION, "delay_ns"),
        (
            PlaceLimit(0, Side.BUY, 300.0, 1.0, client_order_id=2**64),
            RejectReason.INVALID_INSTRUCTION,
            "client_order_id",
        ),
        (PlaceLimit(0, Side.BUY, 1e11, 1.0), RejectReason.INVALID_PRICE, "too large"),
        (PlaceMarket(0, Side.BUY, -2.0), RejectReason.INVALID_QUANTITY, "> 0"),
        (PlaceMarket(0, Side.BUY, 0.00001), RejectReason.INVALID_QUANTITY, "multiple of 0.0001"),
        (
            PlaceMarket(0, Side.BUY, 0.0000001, Currency.QUOTE),
            RejectReason.INVALID_QUANTITY,
            "multiple of 1e-06",
        ),
        (
            PlaceMarket(0, Side.BUY, 5.0, Currency.QUOTE, Stp.DECREMENT_AND_CANCEL),
            RejectReason.INVALID_STP,
            "base",
        ),
        (Cancel(0, 0), RejectReason.UNKNOWN_ORDER, "order_id"),
        (Cancel(0, 5, quantity=0.0), RejectReason.INVALID_QUANTITY, "> 0 or None"),
        (Cancel(0, 5, quantity=0.00001), RejectReason.INVALID_QUANTITY, "multiple"),
        (TargetPosition(0, Direction.LONG, 0.0), RejectReason.INVALID_INSTRUCTION, "leverage"),
        (TargetPosition(0, Direction.LONG, -2.0), RejectReason.INVALID_INSTRUCTION, "leverage"),
        (
            TargetPosition(0, Direction.LONG, 1.0, client_order_id=-1),
            RejectReason.INVALID_INSTRUCTION,
            "client_order_id",
        ),
    ],
)
def test_check_instruction_finds_the_problem(
    instruction: object, reason: RejectReason, fragment: str
) -> None:
    problem = check_instruction(instruction, SIM)  # type: ignore[arg-type]
    assert problem is not None
    assert problem.reason == reason
    assert fragment in problem.message


@pytest.mark.parametrize(
    "instruction",
    [
        PlaceLimit(0, Side.BUY, 299.99, 0.0001),
        PlaceLimit(
            1, Side.SELL, 300.07, 12.3456, TimeInForce.GTT, 61 * SECOND, True, Stp.CANCEL_NEWEST, 2**64 - 1
        ),
        PlaceLimit(0, Side.BUY, 0.01, 1.0, TimeInForce.IOC),
        PlaceMarket(0, Side.BUY, 0.3),
        PlaceMarket(1, Side.SELL, 1234.567891, Currency.QUOTE),
        Cancel(0, 5),
        Cancel(0, 5, 0.5),
        TargetPosition(1, Direction.FLAT, 1.0),
        TargetPosition(1, Direction.SHORT, 0.5),
    ],
)
def test_check_instruction_accepts_good_instructions(instruction: object) -> None:
    assert check_instruction(instruction, SIM, now_ns=60 * SECOND) is None  # type: ignore[arg-type]


def test_expiry_must_be_in_the_future_when_now_is_known() -> None:
    o = PlaceLimit(0, Side.BUY, 300.0, 1.0, TimeInForce.GTT, 60 * SECOND)
    assert check_instruction(o, SIM) is None
    problem = check_instruction(o, SIM, now_ns=60 * SECOND)
    assert problem is not None and problem.reason == RejectReason.INVALID_EXPIRY


def test_without_simulation_only_the_market_free_checks_are_made() -> None:
    assert check_instruction(PlaceLimit(99, Side.BUY, 300.001, 1.0)) is None
    assert check_instruction(PlaceLimit(0, Side.BUY, 300.0, 1.0, TimeInForce.GTT)) is not None


def test_lenient_checks_round_and_refuse_only_zero() -> None:
    assert check_instruction(PlaceLimit(0, Side.BUY, 300.001, 0.00015), SIM, strict=False) is None
    problem = check_instruction(PlaceLimit(0, Side.BUY, 300.0, 0.00005), SIM, strict=False)
    assert problem is not None and problem.reason == RejectReason.INVALID_QUANTITY
    problem = check_instruction(PlaceLimit(0, Side.BUY, 0.005, 1.0), SIM, strict=False)
    assert problem is not None and problem.reason == RejectReason.INVALID_PRICE
    assert check_instruction(PlaceLimit(0, Side.SELL, 0.005, 1.0), SIM, strict=False) is None  # rounds up


def test_not_an_instruction() -> None:
    problem = check_instruction("buy", SIM)  # type: ignore[arg-type]
    assert problem is not None and problem.reason == RejectReason.INVALID_INSTRUCTION


# --- rounding ---------------------------------------------------------------------------------------


def test_rounding_never_worsens_the_order() -> None:
    assert price_to_ticks(299.99, 0.01, Side.BUY) == 29_999  # 299.99 / 0.01 = 29998.999...
    assert price_to_ticks(299.99, 0.01, Side.SELL) == 29_999
    assert price_to_ticks(299.995, 0.01, Side.BUY) == 29_999
    assert price_to_ticks(299.995, 0.01, Side.SELL) == 30_000
    assert quantity_to_lots(0.00019, 0.0001) == 1
    assert quantity_to_lots(0.3, 0.0001) == 3_000
    assert from_steps(29_999, 0.01) == 299.99
    assert on_grid(0.3, 0.1) and not on_grid(0.35, 0.1) and not on_grid(math.nan, 0.1)


@given(st.integers(1, 10**10), st.sampled_from([0.01, 0.0001, 0.5, 1e-6, 0.05]))
def test_every_grid_point_converts_back_exactly(n: int, step: float) -> None:
    value = from_steps(n, step)
    assert on_grid(value, step)
    assert price_to_ticks(value, step, Side.BUY) == n == price_to_ticks(value, step, Side.SELL)
    assert quantity_to_lots(value, step) == n


# --- round trips of generated messages ----------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=True, width=64)
ids = st.integers(0, 2**64 - 1)
small = st.integers(-(2**63), 2**63 - 1)
INSTRUCTIONS = st.one_of(
    st.builds(
        PlaceLimit,
        small,
        st.sampled_from(Side),
        finite,
        finite,
        st.sampled_from(TimeInForce),
        st.none() | small,
        st.booleans(),
        st.sampled_from(Stp),
        st.none() | ids,
        small,
    ),
    st.builds(
        PlaceMarket, small, st.sampled_from(Side), finite, st.sampled_from(Currency), st.sampled_from(Stp)
    ),
    st.builds(Cancel, small, ids, st.none() | finite, small),
    st.builds(TargetPosition, small, st.sampled_from(Direction), finite, small),
)


@given(st.lists(INSTRUCTIONS, max_size=20))
def test_generated_replies_round_trip(instructions: list) -> None:
    assert decode_reply(encode_reply(instructions)) == Reply(PROTOCOL_VERSION, tuple(instructions))


@given(st.integers(0, 2**62), st.lists(st.sampled_from(all_notices()), max_size=10))
def test_generated_states_round_trip_and_splice(timestamp_ns: int, notices: list) -> None:
    s = state(timestamp_ns=timestamp_ns, notices=tuple(notices))
    body = encode_state_for(encode_shared(timestamp_ns, s.books), s.simulation, s.accounts, s.notices)
    assert body == encode_state(s)
    assert decode_state(body) == s


def test_state_decoder_equals_decode_state_and_reuses_identical_books() -> None:
    """One step's states share their books byte for byte: the decoder decodes them once and gives
    what decode_state gives for every body, including after the books change."""
    shared = encode_shared(60 * SECOND, state().books)
    info = simulation(2)
    own = [
        encode_state_for(shared, info, state().accounts, ()),
        encode_state_for(shared, info, state().accounts[:1], all_notices()),
        encode_state_for(shared, info),
    ]
    other = encode_state(state(timestamp_ns=65 * SECOND, books=3))
    decoder = StateDecoder()
    for body in [*own, other, own[0]]:
        assert decoder.decode(body) == decode_state(body)
    first, second = decoder.decode(own[0]), decoder.decode(own[1])
    assert first.books is second.books  # the second state's books were not decoded again


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\xc1",
        msgspec.msgpack.encode({"protocol_version": 1, "timestamp_ns": 1}),
        msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION}),
    ],
)
def test_state_decoder_refuses_what_decode_state_refuses(body: bytes) -> None:
    decoder = StateDecoder()
    decoder.decode(encode_state(state()))
    with pytest.raises(ProtocolError) as expected:
        decode_state(body)
    with pytest.raises(ProtocolError) as got:
        decoder.decode(body)
    assert str(got.value) == str(expected.value)


def test_state_decoder_checks_new_books_and_its_size_cap() -> None:
    s = state()
    bad = msgspec.structs.replace(s, books=(msgspec.structs.replace(s.books[0], event_records=b"x"),))
    decoder = StateDecoder(max_bytes=10_000_000)
    decoder.decode(encode_state(s))
    with pytest.raises(ProtocolError, match=r"64-byte event records - at `\$.books\[0\].event_records`"):
        decoder.decode(encode_state(bad))
    assert decoder.decode(encode_state(s)) == s  # the bad books were not remembered
    small = StateDecoder(max_bytes=100)
    with pytest.raises(ProtocolError, match="over the limit of 100"):
        small.decode(encode_state(s))


def test_a_state_request_gives_the_full_body_or_its_own_part_for_a_shared_reader() -> None:
    """StateRequest.body() is what a remote miner receives; decode_parts of the shared part and own()
    gives the same state, decoding the books once per shared object."""
    s = state(notices=all_notices())
    shared = encode_shared(s.timestamp_ns, s.books)
    requests = [
        StateRequest(shared, s.simulation, s.accounts, s.notices),
        StateRequest(shared, simulation(2)),
        StateRequest(shared, s.simulation, s.accounts[:1], ()),
    ]
    assert requests[0].body() == encode_state(s)
    decoder = StateDecoder()
    decoded = [decoder.decode_parts(r.shared, r.own()) for r in requests]
    assert decoded == [decode_state(r.body()) for r in requests]
    assert decoded[0].books is decoded[1].books is decoded[2].books  # decoded once
    other = encode_shared(s.timestamp_ns, state(books=3).books)
    assert decoder.decode_parts(other, requests[1].own()).books == state(books=3).books
    # the shared parts of one step (one per kind of book events asked for) are each decoded once
    assert decoder.decode_parts(shared, requests[1].own()).books is decoded[0].books


def test_decode_parts_refuses_bad_parts_and_states_over_the_cap() -> None:
    s = state()
    shared = encode_shared(s.timestamp_ns, s.books)
    own = StateRequest(shared, s.simulation, s.accounts).own()
    with pytest.raises(ProtocolError, match="over the limit of 1000"):
        StateDecoder(max_bytes=1000).decode_parts(shared, own)
    decoder = StateDecoder()
    with pytest.raises(ProtocolError, match="market state: body is empty"):
        decoder.decode_parts(shared, b"")
    with pytest.raises(ProtocolError, match="protocol_version 1 is not supported"):
        decoder.decode_parts(shared, msgspec.msgpack.encode({"protocol_version": 1, "timestamp_ns": 0}))
    bad_books = encode_shared(0, (msgspec.structs.replace(s.books[0], event_records=b"x"),))
    with pytest.raises(ProtocolError, match=r"64-byte event records - at `\$.books\[0\].event_records`"):
        decoder.decode_parts(bad_books, own)
    with pytest.raises(ProtocolError, match="malformed books"):
        decoder.decode_parts(SharedState(0, msgspec.Raw(b"\xc1")), own)
    # a reader in the packing process may skip the record checks (not the decoding)
    unchecked = StateDecoder().decode_parts(bad_books, own, check_books=False)
    assert unchecked.books[0].event_records == b"x"
    with pytest.raises(ProtocolError, match="malformed books"):
        StateDecoder().decode_parts(SharedState(0, msgspec.Raw(b"\xc1")), own, check_books=False)
