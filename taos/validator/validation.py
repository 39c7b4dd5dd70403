"""Validation of a miner's reply (SPEC §8, and the per-instruction rules of §10.2).

Pure functions: the input (bytes or a decoded ``Reply``, and a frozen
``ValidationContext``) is never changed; the result is new tuples of accepted
instructions, rejections and the notices that tell the miner why.

A reply that cannot be used at all (not decodable, too large, another protocol
version, or an error instead of a body, such as a timeout) is dropped whole:
no instructions and one ``ReplyRejected`` notice with the reason. Otherwise
each instruction is judged on its own, and a bad one never costs the others.
The rules, in the order they are applied to each instruction:

1. ``check``: ``taos.protocol.check_instruction`` against the simulation info:
   known book, positive values on the tick/lot grid (off-grid values are rounded
   as docs/protocol.md describes unless the context is ``strict``), a GTT expiry
   after now, expiry only with GTT, IOC/FOK not post-only, ``stp`` NONE refused,
   leverage > 0, ``delay_ns`` >= 0. The notice carries the check's ``RejectReason``.
2. ``extra_delay``: ``delay_ns`` at most ``max_extra_delay_ns`` (the publish interval).
3. ``volume_cap``: on a book where the miner's 24 h traded volume reached the
   cap, only ``Cancel`` is allowed.
4. ``session``: on a book outside its trading session (``closed_books``), only
   ``Cancel`` is allowed; reason ``MARKET_CLOSED``.
5. ``no_mid``: a ``TargetPosition`` on a book without a mid price (one side
   empty) cannot be sized; reason ``NO_LIQUIDITY``.
6. ``position_interval``: a ``TargetPosition`` less than ``position_interval_ns``
   after the last accepted one on its book (``last_target_ns``).
7. ``target_repeated``: a second ``TargetPosition`` for a book in one reply
   (the first acceptable one is kept).
8. ``max_open``: a placement (``PlaceLimit``, ``PlaceMarket``, or a
   ``TargetPosition`` that would open a position) once ``open_count`` plus the
   placements accepted earlier in the reply reached ``max_open``.
9. ``per_book_cap``: of the instructions that pass rules 1 to 8, the first
   ``max_instructions_per_book`` (20) of each book in reply order are kept and
   the rest rejected. An instruction rejected by rules 1 to 8 does not take a slot.
   Once a book has its 20, every later instruction for it is rejected by this
   rule straight away, without the other checks (nothing more can be kept there,
   and a reply of 200,000 instructions then costs little to validate).

Rules 4 to 8 are off with the context's defaults (preset ``taos``).

``RejectReason`` is numbered once and shared with the engine, so most rules the
validator adds have no member of their own: their notice carries
``RejectReason.INVALID_INSTRUCTION`` (``MARKET_CLOSED`` and ``NO_LIQUIDITY`` for
rules 4 and 5) and a ``detail`` that starts with the rule's name
(``"per_book_cap: ..."``), which a miner can match on. The validator itself
sees the rule as ``Rejection.rule`` (a ``RejectRule``), e.g. for metrics.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from taos.protocol import (
    DEFAULT_MAX_BYTES,
    MAX_INSTRUCTIONS,
    PROTOCOL_VERSION,
    Cancel,
    Direction,
    Instruction,
    Notice,
    OrderRejected,
    PlaceLimit,
    PlaceMarket,
    ProtocolError,
    RejectReason,
    Reply,
    ReplyRejected,
    SimulationInfo,
    TargetPosition,
    check_instruction,
    decode_reply,
    limits,
)
from taos.protocol.checks import quick_check

_UINT64_MAX = 2**64 - 1


class RejectRule(str, Enum):
    """Which validation rule refused an instruction (validator side only, not on the wire)."""

    CHECK = "check"
    EXTRA_DELAY = "extra_delay"
    VOLUME_CAP = "volume_cap"
    SESSION = "session"
    NO_MID = "no_mid"
    POSITION_INTERVAL = "position_interval"
    TARGET_REPEATED = "target_repeated"
    MAX_OPEN = "max_open"
    PER_BOOK_CAP = "per_book_cap"
    RATE_LIMIT = "rate_limit"  # a whole reply ignored (the validator applies it, per hotkey)


_DETAIL_PREFIX = {rule: "" if rule is RejectRule.CHECK else f"{rule.value}: " for rule in RejectRule}
"""What a rejection notice's detail starts with: the rule's name, except for the checks of rule 1."""


@dataclass(frozen=True)
class ValidationContext:
    """What validation needs to know about one miner at one step.

    ``now_ns`` is the simulated time of the state the reply answers;
    ``volume_capped_books`` the books on which this miner's 24 h traded volume
    reached the cap. ``for_simulation`` fills the per-book cap and the maximum
    extra delay from the simulation info (the values the miner is told).

    The rules of SPEC §10.2 (off by default): ``closed_books`` are outside their
    trading session now; ``no_mid_books`` have no mid price; ``last_target_ns``
    maps a book to the time of this miner's last accepted ``TargetPosition``
    there (books without one may be left out), and ``position_interval_ns`` is
    the least time between two (0 = off); ``open_count`` is the miner's open
    orders plus open positions, ``max_open`` their limit (0 = off);
    ``position_sides`` maps a book to +1/-1 where the miner holds a position
    (books without one may be left out): a target there opens nothing.
    """

    simulation: SimulationInfo
    now_ns: int
    max_instructions_per_book: int
    max_extra_delay_ns: int
    volume_capped_books: frozenset[int] = frozenset()
    max_reply_bytes: int = DEFAULT_MAX_BYTES
    max_instructions: int = MAX_INSTRUCTIONS
    strict: bool = False
    closed_books: frozenset[int] = frozenset()
    no_mid_books: frozenset[int] = frozenset()
    position_interval_ns: int = 0
    last_target_ns: Mapping[int, int] = field(default_factory=dict)
    max_open: int = 0
    open_count: int = 0
    position_sides: Mapping[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in (
            "now_ns", "max_instructions_per_book", "max_extra_delay_ns", "max_reply_bytes",
            "max_instructions", "position_interval_ns", "max_open", "open_count",
        ):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        for name in ("volume_capped_books", "closed_books", "no_mid_books"):
            value = getattr(self, name)
            if not isinstance(value, frozenset):
                raise TypeError(f"{name} must be a frozenset, got {type(value).__name__}")
        for name in ("last_target_ns", "position_sides"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise TypeError(f"{name} must be a mapping of book to int, got {type(value).__name__}")

    @classmethod
    def for_simulation(
        cls,
        simulation: SimulationInfo,
        now_ns: int,
        *,
        volume_capped_books: frozenset[int] = frozenset(),
        max_reply_bytes: int | None = None,
        strict: bool = False,
        **rules: object,
    ) -> ValidationContext:
        """The context with the per-book cap of ``simulation.max_instructions_per_book``,
        a maximum extra delay of one publish interval, and the largest reply the market allows
        (``taos.protocol.limits``: at most books x the per-book cap instructions, and the bytes
        they take at most, unless ``max_reply_bytes`` is given); ``rules`` are the rule fields
        (``closed_books=...``, ``max_open=...``, ...)."""
        per_book = simulation.max_instructions_per_book
        return cls(
            simulation=simulation,
            now_ns=now_ns,
            max_instructions_per_book=per_book,
            max_extra_delay_ns=simulation.publish_interval_ns,
            volume_capped_books=volume_capped_books,
            max_reply_bytes=max_reply_bytes
            if max_reply_bytes is not None
            else limits.max_reply_bytes(simulation.books, per_book),
            max_instructions=limits.max_reply_instructions(simulation.books, per_book),
            strict=strict,
            **rules,  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class AcceptedInstruction:
    """An instruction that passed validation; ``index`` is its position in the reply."""

    uid: int
    index: int
    instruction: Instruction


@dataclass(frozen=True)
class Rejection:
    """An instruction refused by ``rule``; ``reason`` and ``message`` are what the
    miner's ``OrderRejected`` notice says (the notice's detail is ``message``)."""

    uid: int
    index: int
    instruction: Instruction
    rule: RejectRule
    reason: RejectReason
    message: str


@dataclass(frozen=True)
class ValidationResult:
    """``accepted`` and ``rejected`` in reply order; ``notices`` go into the miner's
    next state: one ``OrderRejected`` per rejection, or one ``ReplyRejected`` when
    the reply was dropped whole."""

    accepted: tuple[AcceptedInstruction, ...]
    notices: tuple[Notice, ...]
    rejected: tuple[Rejection, ...] = ()

    @property
    def reply_rejected(self) -> bool:
        """Whether the reply was dropped whole."""
        return any(isinstance(n, ReplyRejected) for n in self.notices)


def validate_reply(
    uid: int,
    body_or_error: bytes | bytearray | memoryview | Reply | BaseException,
    context: ValidationContext,
) -> ValidationResult:
    """Validates one miner's reply.

    ``body_or_error`` is the raw body, an already decoded ``Reply``, or the
    exception that stands for a failed query (a ``ProtocolError``, or e.g. a
    ``TimeoutError`` for a reply the latency model found late); an exception
    drops the reply whole, with its message as the notice's detail.
    """
    reply = as_reply(body_or_error, context)
    if isinstance(reply, str):
        return ValidationResult(accepted=(), notices=(ReplyRejected(ts_ns=context.now_ns, detail=reply),))
    return validate_instructions(uid, reply.instructions, context)


def validate_instructions(
    uid: int, instructions: Sequence[Instruction], context: ValidationContext
) -> ValidationResult:
    """Judges each instruction of a decoded reply on its own (rules 1 to 9 of the module doc)."""
    accepted: list[AcceptedInstruction] = []
    rejected: list[Rejection] = []
    kept_per_book: dict[int, int] = {}
    targets: dict[int, int] = {}  # book → index of the target accepted for it in this reply
    open_count = context.open_count
    cap = context.max_instructions_per_book
    for index, instruction in enumerate(instructions):
        book = getattr(instruction, "book", None)
        opens = False
        if isinstance(book, int) and book in kept_per_book and kept_per_book[book] >= cap:
            # the book is full: nothing more is kept on it, so the other rules need not run
            refusal: tuple[RejectRule, RejectReason, str] | None = over_cap(book, cap)
        else:
            refusal = _refusal(instruction, context)
            if refusal is None and isinstance(instruction, TargetPosition) and instruction.book in targets:
                refusal = (
                    RejectRule.TARGET_REPEATED,
                    RejectReason.INVALID_INSTRUCTION,
                    f"a target_position for book {instruction.book} was already accepted in this reply "
                    f"(instruction {targets[instruction.book]}); one per book and reply",
                )
            opens = refusal is None and context.max_open > 0 and _opens(instruction, context)
            if opens and open_count >= context.max_open:
                refusal = (
                    RejectRule.MAX_OPEN,
                    RejectReason.INVALID_INSTRUCTION,
                    f"{open_count} open orders and positions (with this reply's placements), the most "
                    f"allowed is {context.max_open}: no further placements",
                )
        if refusal is None:
            if kept_per_book.get(instruction.book, 0) >= cap:  # only with a cap of 0
                refusal = over_cap(instruction.book, cap)
            else:
                kept_per_book[instruction.book] = kept_per_book.get(instruction.book, 0) + 1
                accepted.append(AcceptedInstruction(uid, index, instruction))
                if isinstance(instruction, TargetPosition):
                    targets[instruction.book] = index
                if opens:
                    open_count += 1
                continue
        rule, reason, message = refusal
        rejected.append(Rejection(uid, index, instruction, rule, reason, message))
    notices = tuple(notice_of(r, context.now_ns) for r in rejected)
    return ValidationResult(accepted=tuple(accepted), notices=notices, rejected=tuple(rejected))


@functools.lru_cache(maxsize=4096)
def over_cap(book: int, cap: int) -> tuple[RejectRule, RejectReason, str]:
    return (
        RejectRule.PER_BOOK_CAP,
        RejectReason.INVALID_INSTRUCTION,
        f"over the cap of {cap} instructions for book {book} per step",
    )


def as_reply(
    body_or_error: bytes | bytearray | memoryview | Reply | BaseException, context: ValidationContext
) -> Reply | str:
    """The decoded reply, or why it is dropped whole."""
    if isinstance(body_or_error, BaseException):
        return _error_detail(body_or_error)
    if isinstance(body_or_error, Reply):
        reply = body_or_error
        if reply.protocol_version != PROTOCOL_VERSION:
            return (
                f"reply: protocol_version {reply.protocol_version!r} is not supported "
                f"(this side speaks {PROTOCOL_VERSION})"
            )
        if not isinstance(reply.instructions, tuple):
            return f"reply: instructions must be a tuple, got {type(reply.instructions).__name__}"
        if len(reply.instructions) > context.max_instructions:
            return (
                f"reply: {len(reply.instructions)} instructions, more than {context.max_instructions}, "
                "the most that can be kept (books x max_instructions_per_book)"
            )
        return reply
    try:
        body = bytes(body_or_error) if isinstance(body_or_error, bytearray | memoryview) else body_or_error
        return decode_reply(
            body, max_bytes=context.max_reply_bytes, max_instructions=context.max_instructions
        )
    except ProtocolError as e:
        return str(e)


def _error_detail(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, ProtocolError) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _opens(instruction: Instruction, context: ValidationContext) -> bool:
    """Whether ``instruction`` counts as a placement for ``max_open``: every limit or market
    order, and a target that is not FLAT on a book where the miner holds no position."""
    if isinstance(instruction, PlaceLimit | PlaceMarket):
        return True
    if isinstance(instruction, TargetPosition):
        return instruction.direction != Direction.FLAT and not context.position_sides.get(instruction.book, 0)
    return False


def _time_of_day(time_ns: int) -> str:
    seconds = (time_ns // 1_000_000_000) % 86_400
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _refusal(
    instruction: Instruction, context: ValidationContext
) -> tuple[RejectRule, RejectReason, str] | None:
    """Why rules 1 to 6 refuse ``instruction``, or None."""
    sim, now, strict = context.simulation, context.now_ns, context.strict
    if sim is None or not quick_check(instruction, sim, now_ns=now, strict=strict):  # the full check
        problem = check_instruction(instruction, sim, now_ns=now, strict=strict)
        if problem is not None:
            return RejectRule.CHECK, problem.reason, problem.message
    if instruction.delay_ns > context.max_extra_delay_ns:
        return (
            RejectRule.EXTRA_DELAY,
            RejectReason.INVALID_INSTRUCTION,
            f"delay_ns {instruction.delay_ns} is over the maximum extra delay of "
            f"{context.max_extra_delay_ns} ns",
        )
    if isinstance(instruction, Cancel):
        return None
    book = instruction.book
    if book in context.volume_capped_books:
        return (
            RejectRule.VOLUME_CAP,
            RejectReason.INVALID_INSTRUCTION,
            f"the 24 h traded volume on book {book} reached the cap: only cancels are allowed",
        )
    if book in context.closed_books:
        return (
            RejectRule.SESSION,
            RejectReason.MARKET_CLOSED,
            f"book {book} is outside its trading session at {_time_of_day(context.now_ns)} of the "
            "simulated day: only cancels are allowed",
        )
    if not isinstance(instruction, TargetPosition):
        return None
    if book in context.no_mid_books:
        return (
            RejectRule.NO_MID,
            RejectReason.NO_LIQUIDITY,
            f"book {book} has no mid price (a side of the book is empty): the target cannot be sized",
        )
    last = context.last_target_ns.get(book)
    interval = context.position_interval_ns
    if interval and last is not None and context.now_ns - last < interval:
        return (
            RejectRule.POSITION_INTERVAL,
            RejectReason.INVALID_INSTRUCTION,
            f"the last position change on book {book} was {(context.now_ns - last) / 1e9:g} s ago; "
            f"at most one per {interval / 1e9:g} s of simulated time",
        )
    return None


def _id_or_none(value: object) -> int | None:
    """An id to echo in a notice, if it is one that encodes as an unsigned 64-bit integer."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _UINT64_MAX:
        return value
    return None


def notice_of(rejection: Rejection, now_ns: int) -> OrderRejected:
    instruction = rejection.instruction
    book = getattr(instruction, "book", None)
    detail = _DETAIL_PREFIX[rejection.rule] + rejection.message
    return OrderRejected(
        book=book if isinstance(book, int) and not isinstance(book, bool) else -1,
        ts_ns=now_ns,
        reason=rejection.reason,
        client_order_id=_id_or_none(getattr(instruction, "client_order_id", None))
        if isinstance(instruction, PlaceLimit | PlaceMarket | TargetPosition)
        else None,
        order_id=_id_or_none(instruction.order_id) if isinstance(instruction, Cancel) else None,
        detail=detail,
    )
