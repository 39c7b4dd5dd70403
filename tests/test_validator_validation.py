"""Validation of miners' replies (taos.validator.validation)."""

from __future__ import annotations

import dataclasses
import math

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from protocol_samples import SECOND, simulation

from taos.protocol import (
    MAX_INSTRUCTIONS,
    PROTOCOL_VERSION,
    Cancel,
    Currency,
    Direction,
    Instruction,
    MarketState,
    OrderRejected,
    PlaceLimit,
    PlaceMarket,
    ProtocolError,
    RejectReason,
    Reply,
    ReplyRejected,
    Side,
    Stp,
    TargetPosition,
    TimeInForce,
    decode_state,
    encode_reply,
    encode_state,
    max_reply_bytes,
)
from taos.validator.validation import (
    AcceptedInstruction,
    RejectRule,
    ValidationContext,
    ValidationResult,
    validate_instructions,
    validate_reply,
)

NOW = 1_000 * SECOND
UID = 7
SIM = simulation(books=3)


def context(**changes: object) -> ValidationContext:
    base = ValidationContext.for_simulation(SIM, NOW)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def limit(book: int = 0, **fields: object) -> PlaceLimit:
    values: dict[str, object] = {"side": Side.BUY, "price": 300.0, "quantity": 0.5}
    values.update(fields)
    return PlaceLimit(book=book, **values)  # type: ignore[arg-type]


def market(book: int = 0, **fields: object) -> PlaceMarket:
    values: dict[str, object] = {"side": Side.SELL, "quantity": 0.25}
    values.update(fields)
    return PlaceMarket(book=book, **values)  # type: ignore[arg-type]


def validate(*instructions: Instruction, ctx: ValidationContext | None = None) -> ValidationResult:
    return validate_reply(UID, encode_reply(instructions), ctx or context())


def only_rejection(result: ValidationResult) -> OrderRejected:
    assert result.accepted == ()
    assert len(result.rejected) == 1
    assert len(result.notices) == 1
    notice = result.notices[0]
    assert isinstance(notice, OrderRejected)
    return notice


# --- the context ------------------------------------------------------------------------------


def test_context_for_simulation_takes_the_cap_and_the_publish_interval() -> None:
    ctx = ValidationContext.for_simulation(SIM, NOW, volume_capped_books=frozenset({1}))
    assert ctx.max_instructions_per_book == 20 == SIM.max_instructions_per_book
    assert ctx.max_extra_delay_ns == 5 * SECOND == SIM.publish_interval_ns
    assert ctx.volume_capped_books == frozenset({1})
    assert ctx.strict is False
    # the trading rules are off unless given
    assert ctx.max_open == 0 and ctx.position_interval_ns == 0
    assert ctx.closed_books == frozenset() == ctx.no_mid_books
    assert dict(ctx.last_target_ns) == {} == dict(ctx.position_sides)
    ruled = ValidationContext.for_simulation(SIM, NOW, max_open=200, closed_books=frozenset({2}))
    assert ruled.max_open == 200 and ruled.closed_books == frozenset({2})


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"now_ns": -1}, ValueError),
        ({"max_instructions_per_book": -1}, ValueError),
        ({"max_extra_delay_ns": 1.5}, ValueError),
        ({"max_reply_bytes": True}, ValueError),
        ({"max_open": -1}, ValueError),
        ({"open_count": 1.5}, ValueError),
        ({"position_interval_ns": -60}, ValueError),
        ({"volume_capped_books": {1}}, TypeError),
        ({"closed_books": [1]}, TypeError),
        ({"no_mid_books": {1}}, TypeError),
        ({"last_target_ns": [(0, 1)]}, TypeError),
        ({"position_sides": None}, TypeError),
    ],
)
def test_context_refuses_bad_values(changes: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error):
        context(**changes)


def test_context_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        context().now_ns = 0  # type: ignore[misc]


# --- good instructions ------------------------------------------------------------------------


def test_good_instructions_of_every_kind_are_accepted_in_order() -> None:
    instructions = (
        limit(0, client_order_id=1),
        limit(1, side=Side.SELL, time_in_force=TimeInForce.GTT, expiry_ns=NOW + 1, post_only=True),
        limit(2, time_in_force=TimeInForce.IOC),
        market(0, currency=Currency.QUOTE, quantity=150.0),
        Cancel(book=1, order_id=42, quantity=0.1),
        Cancel(book=2, order_id=43),
        TargetPosition(book=0, direction=Direction.SHORT, leverage=0.5),
        TargetPosition(book=1, direction=Direction.FLAT),
    )
    result = validate(*instructions)
    assert result.accepted == tuple(AcceptedInstruction(UID, i, x) for i, x in enumerate(instructions))
    assert result.notices == ()
    assert result.rejected == ()
    assert not result.reply_rejected


def test_an_empty_reply_gives_nothing() -> None:
    result = validate()
    assert result == ValidationResult(accepted=(), notices=(), rejected=())


def test_a_decoded_reply_and_its_bytes_give_the_same_result() -> None:
    instructions = (limit(0), limit(5), Cancel(book=0, order_id=1))
    ctx = context()
    from_bytes = validate_reply(UID, encode_reply(instructions), ctx)
    from_reply = validate_reply(UID, Reply(PROTOCOL_VERSION, instructions), ctx)
    from_bytearray = validate_reply(UID, bytearray(encode_reply(instructions)), ctx)
    assert from_bytes == from_reply == from_bytearray
    assert [a.index for a in from_bytes.accepted] == [0, 2]


# --- rule 1: check_instruction ------------------------------------------------------------------

BAD_BY_CHECK = [
    (limit(3), RejectReason.UNKNOWN_BOOK, "book 3 does not exist"),
    (limit(-1), RejectReason.UNKNOWN_BOOK, "book must be an integer >= 0"),
    (Cancel(book=9, order_id=1), RejectReason.UNKNOWN_BOOK, "book 9 does not exist"),
    (TargetPosition(book=3, direction=Direction.LONG), RejectReason.UNKNOWN_BOOK, "does not exist"),
    (limit(price=0.0), RejectReason.INVALID_PRICE, "price must be > 0"),
    (limit(price=-300.0), RejectReason.INVALID_PRICE, "price must be > 0"),
    (limit(price=math.inf), RejectReason.INVALID_PRICE, "price must be > 0"),
    (limit(price=0.004), RejectReason.INVALID_PRICE, "less than one step"),
    (limit(quantity=0.0), RejectReason.INVALID_QUANTITY, "quantity must be > 0"),
    (limit(quantity=0.00004), RejectReason.INVALID_QUANTITY, "less than one step"),
    (market(quantity=-1.0), RejectReason.INVALID_QUANTITY, "quantity must be > 0"),
    (
        market(currency=Currency.QUOTE, quantity=0.0000004),
        RejectReason.INVALID_QUANTITY,
        "less than one step",
    ),
    (limit(time_in_force=TimeInForce.GTT), RejectReason.INVALID_EXPIRY, "needs expiry_ns"),
    (limit(time_in_force=TimeInForce.GTT, expiry_ns=NOW), RejectReason.INVALID_EXPIRY, "not after now"),
    (limit(time_in_force=TimeInForce.GTT, expiry_ns=NOW - 1), RejectReason.INVALID_EXPIRY, "not after now"),
    (limit(expiry_ns=NOW + SECOND), RejectReason.INVALID_EXPIRY, "only for GTT"),
    (limit(time_in_force=TimeInForce.IOC, post_only=True), RejectReason.POST_ONLY_NOT_ALLOWED, "IOC"),
    (limit(time_in_force=TimeInForce.FOK, post_only=True), RejectReason.POST_ONLY_NOT_ALLOWED, "FOK"),
    (limit(stp=Stp.NONE), RejectReason.INVALID_STP, "stp NONE"),
    (market(stp=Stp.NONE), RejectReason.INVALID_STP, "stp NONE"),
    (
        market(currency=Currency.QUOTE, quantity=100.0, stp=Stp.DECREMENT_AND_CANCEL),
        RejectReason.INVALID_STP,
        "decrement-and-cancel",
    ),
    (Cancel(book=0, order_id=0), RejectReason.UNKNOWN_ORDER, "order_id"),
    (Cancel(book=0, order_id=5, quantity=-0.1), RejectReason.INVALID_QUANTITY, "quantity must be > 0"),
    (TargetPosition(book=0, direction=Direction.LONG, leverage=0.0), RejectReason.INVALID_INSTRUCTION, "> 0"),
    (
        TargetPosition(book=0, direction=Direction.LONG, leverage=math.nan),
        RejectReason.INVALID_INSTRUCTION,
        "> 0",
    ),
    (limit(delay_ns=-1), RejectReason.INVALID_INSTRUCTION, "delay_ns must be >= 0"),
]


@pytest.mark.parametrize(("instruction", "reason", "text"), BAD_BY_CHECK)
def test_a_bad_instruction_is_rejected_with_the_checks_reason(
    instruction: Instruction, reason: RejectReason, text: str
) -> None:
    result = validate(instruction)
    notice = only_rejection(result)
    assert notice.reason == reason
    assert text in notice.detail
    assert not notice.detail.startswith("check:")  # the check's own message
    assert result.rejected[0].rule is RejectRule.CHECK
    assert result.rejected[0].reason == reason
    assert result.rejected[0].index == 0
    assert result.rejected[0].uid == UID


@pytest.mark.parametrize(("instruction", "reason", "text"), BAD_BY_CHECK)
def test_one_bad_instruction_does_not_cost_the_others(
    instruction: Instruction, reason: RejectReason, text: str
) -> None:
    good_before, good_after = limit(1, client_order_id=10), Cancel(book=2, order_id=11)
    result = validate(good_before, instruction, good_after)
    assert [(a.index, a.instruction) for a in result.accepted] == [(0, good_before), (2, good_after)]
    assert [r.index for r in result.rejected] == [1]
    assert [n.reason for n in result.notices if isinstance(n, OrderRejected)] == [reason]


def test_off_grid_values_are_rounded_unless_strict() -> None:
    off_grid = limit(price=300.005, quantity=0.50005)
    assert [a.instruction for a in validate(off_grid).accepted] == [off_grid]
    notice = only_rejection(validate(off_grid, ctx=context(strict=True)))
    assert notice.reason == RejectReason.INVALID_PRICE
    assert "not a multiple of 0.01" in notice.detail


def test_a_value_within_the_grid_tolerance_is_on_the_grid_even_when_strict() -> None:
    assert len(validate(limit(price=299.99), ctx=context(strict=True)).accepted) == 1


# --- rule 2: extra delay ------------------------------------------------------------------------


def test_extra_delay_up_to_the_publish_interval_is_accepted() -> None:
    for delay in (0, 1, 5 * SECOND):
        assert len(validate(limit(delay_ns=delay)).accepted) == 1


def test_extra_delay_over_the_maximum_is_rejected() -> None:
    result = validate(Cancel(book=1, order_id=3, delay_ns=5 * SECOND + 1))
    notice = only_rejection(result)
    assert notice.reason == RejectReason.INVALID_INSTRUCTION
    assert notice.detail.startswith("extra_delay: delay_ns 5000000001 is over the maximum")
    assert notice.order_id == 3
    assert notice.book == 1
    assert result.rejected[0].rule is RejectRule.EXTRA_DELAY


def test_the_maximum_extra_delay_comes_from_the_context() -> None:
    ctx = context(max_extra_delay_ns=100)
    assert len(validate(limit(delay_ns=100), ctx=ctx).accepted) == 1
    assert validate(limit(delay_ns=101), ctx=ctx).rejected[0].rule is RejectRule.EXTRA_DELAY


# --- leverage: clamped when the target is executed, never refused here -------------------------


def test_any_positive_leverage_passes_validation() -> None:
    for leverage in (0.5, 1.0, 1.5, 100.0):
        target = TargetPosition(book=0, direction=Direction.LONG, leverage=leverage)
        assert validate(target).accepted == (AcceptedInstruction(UID, 0, target),)


def test_a_refused_target_echoes_its_client_order_id() -> None:
    target = TargetPosition(book=7, direction=Direction.LONG, client_order_id=99)
    notice = only_rejection(validate(target))
    assert notice.reason == RejectReason.UNKNOWN_BOOK
    assert notice.client_order_id == 99 and notice.order_id is None


# --- rule 3: volume cap -------------------------------------------------------------------------


def test_on_a_volume_capped_book_only_cancels_pass() -> None:
    ctx = context(volume_capped_books=frozenset({1}))
    instructions = (
        limit(1, client_order_id=1),
        market(1, client_order_id=2),
        TargetPosition(book=1, direction=Direction.FLAT),
        Cancel(book=1, order_id=99),
        Cancel(book=1, order_id=98, quantity=0.1),
        limit(0, client_order_id=3),  # another book is not capped
        market(2, client_order_id=4),
    )
    result = validate(*instructions, ctx=ctx)
    assert [a.index for a in result.accepted] == [3, 4, 5, 6]
    assert [r.index for r in result.rejected] == [0, 1, 2]
    assert all(r.rule is RejectRule.VOLUME_CAP for r in result.rejected)
    notices = [n for n in result.notices if isinstance(n, OrderRejected)]
    assert [n.client_order_id for n in notices] == [1, 2, None]
    assert all(n.book == 1 and n.reason == RejectReason.INVALID_INSTRUCTION for n in notices)
    assert all(n.detail.startswith("volume_cap: the 24 h traded volume on book 1") for n in notices)


def test_without_capped_books_the_same_instructions_pass() -> None:
    assert len(validate(limit(1), market(1), TargetPosition(book=1, direction=Direction.LONG)).accepted) == 3


# --- rule 9: per-book cap -----------------------------------------------------------------------


def test_25_on_one_book_and_3_on_another_keep_exactly_20_and_3() -> None:
    book0 = [limit(0, client_order_id=i) for i in range(25)]
    book1 = [limit(1, client_order_id=100 + i) for i in range(3)]
    instructions = book0[:10] + book1[:1] + book0[10:22] + book1[1:] + book0[22:]  # interleaved
    result = validate(*instructions)
    kept = [a.instruction for a in result.accepted]
    assert [x for x in kept if x.book == 0] == book0[:20]
    assert [x for x in kept if x.book == 1] == book1
    assert len(result.accepted) == 23
    assert [a.index for a in result.accepted] == sorted(a.index for a in result.accepted)
    assert [r.instruction for r in result.rejected] == book0[20:]
    assert all(r.rule is RejectRule.PER_BOOK_CAP for r in result.rejected)
    notices = [n for n in result.notices if isinstance(n, OrderRejected)]
    assert [n.client_order_id for n in notices] == [20, 21, 22, 23, 24]
    assert all(
        n.detail == "per_book_cap: over the cap of 20 instructions for book 0 per step" for n in notices
    )


def test_exactly_the_cap_is_kept() -> None:
    assert len(validate(*[Cancel(book=2, order_id=i + 1) for i in range(20)]).accepted) == 20
    result = validate(*[Cancel(book=2, order_id=i + 1) for i in range(21)])
    assert len(result.accepted) == 20
    assert [r.instruction.order_id for r in result.rejected] == [21]  # type: ignore[union-attr]


def test_every_kind_counts_towards_the_cap() -> None:
    ctx = context(max_instructions_per_book=3)
    instructions = (
        limit(0),
        market(0),
        Cancel(book=0, order_id=1),
        TargetPosition(book=0, direction=Direction.LONG),
    )
    result = validate(*instructions, ctx=ctx)
    assert [a.index for a in result.accepted] == [0, 1, 2]
    assert result.rejected[0].rule is RejectRule.PER_BOOK_CAP


def test_rejected_instructions_take_no_slot() -> None:
    bad = [limit(0, price=-1.0), limit(0, delay_ns=10 * SECOND), limit(0, stp=Stp.NONE)]
    good = [limit(0, client_order_id=i) for i in range(22)]
    result = validate(*bad, *good)
    assert [a.instruction for a in result.accepted] == good[:20]
    assert [r.rule for r in result.rejected] == [
        RejectRule.CHECK,
        RejectRule.EXTRA_DELAY,
        RejectRule.CHECK,
        RejectRule.PER_BOOK_CAP,
        RejectRule.PER_BOOK_CAP,
    ]


def test_once_a_book_is_full_later_instructions_are_over_the_cap_whatever_else_is_wrong() -> None:
    ctx = context(max_instructions_per_book=2)
    result = validate(
        limit(0, price=-1.0),  # bad, takes no slot
        limit(0),
        limit(0),
        limit(0, price=-1.0),  # the book is full now
        limit(7),  # another, unknown, book: its own reason
        ctx=ctx,
    )
    assert [a.index for a in result.accepted] == [1, 2]
    assert [(r.index, r.rule, r.reason) for r in result.rejected] == [
        (0, RejectRule.CHECK, RejectReason.INVALID_PRICE),
        (3, RejectRule.PER_BOOK_CAP, RejectReason.INVALID_INSTRUCTION),
        (4, RejectRule.CHECK, RejectReason.UNKNOWN_BOOK),
    ]


def test_a_built_instruction_with_an_unhashable_book_is_rejected_alone() -> None:
    odd = PlaceLimit(book=[0], side=Side.BUY, price=300.0, quantity=0.5)  # type: ignore[arg-type]
    reply = Reply(PROTOCOL_VERSION, (limit(0), odd, limit(0)))
    result = validate_reply(UID, reply, context(max_instructions_per_book=1))
    assert [a.index for a in result.accepted] == [0]
    assert [(r.index, r.reason) for r in result.rejected] == [
        (1, RejectReason.UNKNOWN_BOOK),
        (2, RejectReason.INVALID_INSTRUCTION),
    ]
    notice = result.notices[0]
    assert isinstance(notice, OrderRejected) and notice.book == -1


def test_volume_capped_rejections_take_no_slot() -> None:
    ctx = context(volume_capped_books=frozenset({0}), max_instructions_per_book=2)
    result = validate(limit(0), Cancel(book=0, order_id=1), limit(0), Cancel(book=0, order_id=2), ctx=ctx)
    assert [a.index for a in result.accepted] == [1, 3]


def test_a_cap_of_zero_rejects_everything() -> None:
    result = validate(limit(0), Cancel(book=1, order_id=1), ctx=context(max_instructions_per_book=0))
    assert result.accepted == ()
    assert [r.rule for r in result.rejected] == [RejectRule.PER_BOOK_CAP] * 2


# --- a mix --------------------------------------------------------------------------------------


def test_a_mix_rejects_only_the_bad_ones_in_order() -> None:
    instructions = (
        limit(0, client_order_id=1),
        limit(0, client_order_id=2, price=0.0),  # bad
        Cancel(book=1, order_id=5),
        market(7, client_order_id=3),  # bad: unknown book
        TargetPosition(book=2, direction=Direction.LONG, leverage=2.0),  # good: clamped later
        market(2, client_order_id=4),
        Cancel(book=0, order_id=6, delay_ns=6 * SECOND),  # bad: extra delay
        limit(1, client_order_id=5, time_in_force=TimeInForce.GTT, expiry_ns=NOW + SECOND),
    )
    result = validate(*instructions)
    assert [a.index for a in result.accepted] == [0, 2, 4, 5, 7]
    assert [a.instruction for a in result.accepted] == [instructions[i] for i in (0, 2, 4, 5, 7)]
    assert [r.index for r in result.rejected] == [1, 3, 6]
    assert result.notices == (
        OrderRejected(0, NOW, RejectReason.INVALID_PRICE, 2, None, "price must be > 0, got 0.0"),
        OrderRejected(7, NOW, RejectReason.UNKNOWN_BOOK, 3, None, "book 7 does not exist (3 books)"),
        OrderRejected(
            0,
            NOW,
            RejectReason.INVALID_INSTRUCTION,
            None,
            6,
            "extra_delay: delay_ns 6000000000 is over the maximum extra delay of 5000000000 ns",
        ),
    )


def test_rejection_notices_reach_the_miner_intact() -> None:
    result = validate(limit(5, client_order_id=2**64 - 1), Cancel(book=0, order_id=0), *[limit(1)] * 21)
    state = MarketState(PROTOCOL_VERSION, NOW, SIM, (), (), result.notices)
    assert decode_state(encode_state(state)).notices == result.notices
    assert len(result.notices) == 3


def test_a_non_instruction_in_a_built_reply_is_rejected_alone() -> None:
    reply = Reply(PROTOCOL_VERSION, ("place", limit(0)))  # type: ignore[arg-type]
    result = validate_reply(UID, reply, context())
    assert [a.index for a in result.accepted] == [1]
    notice = result.notices[0]
    assert isinstance(notice, OrderRejected)
    assert notice.reason == RejectReason.INVALID_INSTRUCTION
    assert notice.book == -1  # no book to name
    assert "not an instruction: str" in notice.detail
    state = MarketState(PROTOCOL_VERSION, NOW, SIM, (), (), result.notices)
    assert decode_state(encode_state(state)).notices == result.notices


def test_out_of_range_ids_are_not_echoed() -> None:
    result = validate_reply(UID, Reply(PROTOCOL_VERSION, (limit(0, client_order_id=-5),)), context())
    notice = only_rejection(result)
    assert notice.client_order_id is None
    assert "client_order_id" in notice.detail


# --- replies dropped whole ----------------------------------------------------------------------


def dropped(result: ValidationResult) -> str:
    assert result.accepted == ()
    assert result.rejected == ()
    assert result.reply_rejected
    assert len(result.notices) == 1
    notice = result.notices[0]
    assert isinstance(notice, ReplyRejected)
    assert notice.ts_ns == NOW
    return notice.detail


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b"", "reply: body is empty"),
        (b"\xc1", "reply: malformed"),
        (b"not msgpack at all", "reply: malformed"),
        (encode_reply([limit(0)])[:-3], "reply: malformed"),
        (
            msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION, "instructions": "x"}),
            "reply: malformed",
        ),
        (
            msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION, "instructions": [{"kind": 99}]}),
            "reply: malformed",
        ),
        (msgspec.msgpack.encode({"instructions": []}), "no protocol_version field"),
        (msgspec.msgpack.encode({"protocol_version": 4, "instructions": []}), "protocol_version 4"),
        (msgspec.msgpack.encode({"protocol_version": 4, "orders": [1, 2]}), "protocol_version 4"),
    ],
)
def test_an_undecodable_body_is_dropped_with_the_reason(body: bytes, text: str) -> None:
    assert text in dropped(validate_reply(UID, body, context()))


def test_an_oversized_body_is_dropped() -> None:
    body = encode_reply([limit(0)] * 10)
    ctx = context(max_reply_bytes=len(body) - 1)
    detail = dropped(validate_reply(UID, body, ctx))
    assert detail == f"reply: body is {len(body)} bytes, over the limit of {len(body) - 1}"
    assert len(validate_reply(UID, body, context(max_reply_bytes=len(body))).accepted) == 10


def test_a_reply_is_bounded_by_what_can_be_kept_before_it_is_decoded() -> None:
    # 3 books x 20 per book: 60 instructions can be kept, so no more are ever decoded
    ctx = context()
    assert ctx.max_instructions == SIM.books * SIM.max_instructions_per_book == 60
    assert ctx.max_reply_bytes == max_reply_bytes(SIM.books, SIM.max_instructions_per_book)

    def body(n: int) -> bytes:
        return msgspec.msgpack.encode(
            {
                "protocol_version": PROTOCOL_VERSION,
                "instructions": [{"kind": 3, "book": 0, "order_id": 1}] * n,
            }
        )

    full = validate_reply(UID, body(60), ctx)
    assert (len(full.accepted), len(full.rejected)) == (20, 40)  # the per-book cap of book 0
    assert "more than 60 instructions" in dropped(validate_reply(UID, body(61), ctx))
    # a longer reply is refused by its size before anything is decoded
    huge = body(MAX_INSTRUCTIONS + 1)
    assert len(huge) > ctx.max_reply_bytes
    assert f"over the limit of {ctx.max_reply_bytes}" in dropped(validate_reply(UID, huge, ctx))


def test_a_built_reply_of_another_version_or_too_long_is_dropped() -> None:
    assert "protocol_version 4 is not supported" in dropped(validate_reply(UID, Reply(4, ()), context()))
    too_long = Reply(PROTOCOL_VERSION, (Cancel(book=0, order_id=1),) * 61)
    assert "61 instructions, more than 60" in dropped(validate_reply(UID, too_long, context()))
    as_list = Reply(PROTOCOL_VERSION, [limit(0)])  # type: ignore[arg-type]
    assert "must be a tuple" in dropped(validate_reply(UID, as_list, context()))


@pytest.mark.parametrize(
    ("error", "detail"),
    [
        (ProtocolError("reply: body is empty"), "reply: body is empty"),
        (TimeoutError("reply after the timeout of 3.0 s"), "TimeoutError: reply after the timeout of 3.0 s"),
        (TimeoutError(), "TimeoutError"),
        (ConnectionRefusedError("refused"), "ConnectionRefusedError: refused"),
    ],
)
def test_an_error_instead_of_a_body_drops_the_reply(error: BaseException, detail: str) -> None:
    assert dropped(validate_reply(UID, error, context())) == detail


def test_a_non_bytes_body_is_dropped() -> None:
    assert "body must be bytes" in dropped(validate_reply(UID, "text", context()))  # type: ignore[arg-type]


# --- properties ---------------------------------------------------------------------------------

BOOKS = SIM.books
books = st.integers(min_value=-1, max_value=BOOKS)  # one unknown on each side
prices = st.one_of(
    st.integers(min_value=-2, max_value=40_000).map(lambda t: t / 100),
    st.floats(min_value=-1.0, max_value=1e6),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
quantities = st.one_of(
    st.integers(min_value=-2, max_value=100_000).map(lambda n: n / 10_000),
    st.floats(min_value=-1.0, max_value=1e4),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)
delays = st.one_of(st.just(0), st.integers(min_value=-1, max_value=6 * SECOND))
client_ids = st.one_of(st.none(), st.integers(min_value=0, max_value=2**64 - 1))

place_limits = st.builds(
    PlaceLimit,
    book=books,
    side=st.sampled_from(Side),
    price=prices,
    quantity=quantities,
    time_in_force=st.sampled_from(TimeInForce),
    expiry_ns=st.one_of(st.none(), st.integers(min_value=NOW - SECOND, max_value=NOW + SECOND)),
    post_only=st.booleans(),
    stp=st.sampled_from(Stp),
    client_order_id=client_ids,
    delay_ns=delays,
)
place_markets = st.builds(
    PlaceMarket,
    book=books,
    side=st.sampled_from(Side),
    quantity=quantities,
    currency=st.sampled_from(Currency),
    stp=st.sampled_from(Stp),
    client_order_id=client_ids,
    delay_ns=delays,
)
cancels = st.builds(
    Cancel,
    book=books,
    order_id=st.integers(min_value=0, max_value=2**64 - 1),
    quantity=st.one_of(st.none(), quantities),
    delay_ns=delays,
)
targets = st.builds(
    TargetPosition,
    book=books,
    direction=st.sampled_from(Direction),
    leverage=st.one_of(st.floats(min_value=-1.0, max_value=3.0), st.just(math.nan)),
    delay_ns=delays,
)
instruction_lists = st.lists(
    st.one_of(place_limits, place_markets, cancels, targets, st.builds(limit, book=books)),
    max_size=80,
)
book_sets = st.sets(st.integers(min_value=0, max_value=BOOKS - 1)).map(frozenset)
contexts = st.builds(
    lambda cap, capped, strict, closed, no_mid, max_open, open_count, recent, sides: context(
        max_instructions_per_book=cap,
        volume_capped_books=capped,
        strict=strict,
        closed_books=closed,
        no_mid_books=no_mid,
        max_open=max_open,
        open_count=open_count,
        position_interval_ns=60 * SECOND,
        last_target_ns={b: NOW - 30 * SECOND for b in recent},
        position_sides={b: 1 for b in sides},
    ),
    st.integers(min_value=0, max_value=25),
    book_sets,
    st.booleans(),
    book_sets,
    book_sets,
    st.integers(min_value=0, max_value=8),
    st.integers(min_value=0, max_value=8),
    book_sets,
    book_sets,
)


@given(instruction_lists, contexts)
def test_every_instruction_is_accepted_or_rejected_once(
    instructions: list[Instruction], ctx: ValidationContext
) -> None:
    result = validate_reply(UID, encode_reply(instructions), ctx)
    assert len(result.accepted) + len(result.rejected) == len(instructions)
    assert len(result.notices) == len(result.rejected)
    assert not result.reply_rejected
    indices = sorted([a.index for a in result.accepted] + [r.index for r in result.rejected])
    assert indices == list(range(len(instructions)))
    assert [a.instruction for a in result.accepted] == [instructions[a.index] for a in result.accepted]
    assert repr([r.instruction for r in result.rejected]) == repr(
        [instructions[r.index] for r in result.rejected]
    )
    assert [a.index for a in result.accepted] == sorted(a.index for a in result.accepted)
    assert [r.index for r in result.rejected] == sorted(r.index for r in result.rejected)


@given(instruction_lists, contexts)
def test_at_most_the_cap_per_book_and_only_cancels_on_capped_books(
    instructions: list[Instruction], ctx: ValidationContext
) -> None:
    result = validate_reply(UID, encode_reply(instructions), ctx)
    for book in range(BOOKS):
        on_book = [a.instruction for a in result.accepted if a.instruction.book == book]
        assert len(on_book) <= ctx.max_instructions_per_book
        if book in ctx.volume_capped_books:
            assert all(isinstance(x, Cancel) for x in on_book)
    assert all(0 <= a.instruction.book < BOOKS for a in result.accepted)
    assert all(0 <= a.instruction.delay_ns <= ctx.max_extra_delay_ns for a in result.accepted)
    # the trading rules: nothing but cancels on closed books, no target without a mid, after a
    # recent change or twice per book, and at most max_open - open_count placements
    for a in result.accepted:
        x = a.instruction
        if x.book in ctx.closed_books:
            assert isinstance(x, Cancel)
        if isinstance(x, TargetPosition):
            assert x.book not in ctx.no_mid_books and x.book not in ctx.last_target_ns
    targets = [a.instruction.book for a in result.accepted if isinstance(a.instruction, TargetPosition)]
    assert len(targets) == len(set(targets))
    if ctx.max_open:
        placements = [
            a
            for a in result.accepted
            if isinstance(a.instruction, PlaceLimit | PlaceMarket)
            or (
                isinstance(a.instruction, TargetPosition)
                and a.instruction.direction != Direction.FLAT
                and a.instruction.book not in ctx.position_sides
            )
        ]
        assert len(placements) <= max(0, ctx.max_open - ctx.open_count)
    # the cap only bites when the book had more acceptable instructions than the cap
    for r in result.rejected:
        if r.rule is RejectRule.PER_BOOK_CAP:
            earlier = [a for a in result.accepted if a.instruction.book == r.instruction.book]
            assert len(earlier) == ctx.max_instructions_per_book
            assert all(a.index < r.index for a in earlier)


@given(instruction_lists, contexts)
def test_validation_is_deterministic_and_leaves_its_inputs_alone(
    instructions: list[Instruction], ctx: ValidationContext
) -> None:
    body = bytearray(encode_reply(instructions))
    body_before = bytes(body)
    reply = Reply(PROTOCOL_VERSION, tuple(instructions))
    reply_before = msgspec.msgpack.encode(reply)
    ctx_before = dataclasses.replace(ctx)
    first = validate_reply(UID, body, ctx)
    second = validate_reply(UID, body, ctx)
    from_reply = validate_reply(UID, reply, ctx)
    # repr, not ==: a NaN price is not equal to itself
    assert repr(first) == repr(second) == repr(from_reply)
    assert bytes(body) == body_before
    assert msgspec.msgpack.encode(reply) == reply_before
    assert ctx == ctx_before
    assert isinstance(first.accepted, tuple) and isinstance(first.notices, tuple)


@given(instruction_lists)
def test_validate_instructions_agrees_with_validate_reply(instructions: list[Instruction]) -> None:
    ctx = context()
    direct = validate_instructions(UID, tuple(instructions), ctx)
    assert repr(direct) == repr(validate_reply(UID, encode_reply(instructions), ctx))
