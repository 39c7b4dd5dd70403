"""Validation of a miner's reply (SPEC §8).

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
3. ``leverage``: a ``TargetPosition``'s leverage at most ``max_leverage``.
4. ``volume_cap``: on a book where the miner's 24 h traded volume reached the
   cap, only ``Cancel`` is allowed.
5. ``per_book_cap``: of the instructions that pass rules 1 to 4, the first
   ``max_instructions_per_book`` (20) of each book in reply order are kept and
   the rest rejected. An instruction rejected by rules 1 to 4 does not take a slot.
   Once a book has its 20, every later instruction for it is rejected by this
   rule straight away, without the other checks (nothing more can be kept there,
   and a reply of 200,000 instructions then costs little to validate).

``RejectReason`` is numbered once and shared with the engine, so the rules the
validator adds (2 to 5) have no member of their own: their notice carries
``RejectReason.INVALID_INSTRUCTION`` and a ``detail`` that starts with the rule's
name (``"per_book_cap: ..."``), which a miner can match on. The validator itself
sees the rule as ``Rejection.rule`` (a ``RejectRule``), e.g. for metrics.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from enum import Enum

from taos.protocol import (
    DEFAULT_MAX_BYTES,
    MAX_INSTRUCTIONS,
    PROTOCOL_VERSION,
    Cancel,
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
)

DEFAULT_MAX_LEVERAGE = 1.0
"""Largest ``TargetPosition`` leverage accepted unless configured otherwise."""
_UINT64_MAX = 2**64 - 1


class RejectRule(str, Enum):
    """Which validation rule refused an instruction (validator side only, not on the wire)."""

    CHECK = "check"
    EXTRA_DELAY = "extra_delay"
    LEVERAGE = "leverage"
    VOLUME_CAP = "volume_cap"
    PER_BOOK_CAP = "per_book_cap"


_DETAIL_PREFIX = {rule: "" if rule is RejectRule.CHECK else f"{rule.value}: " for rule in RejectRule}
"""What a rejection notice's detail starts with: the rule's name, except for the checks of rule 1."""


@dataclass(frozen=True)
class ValidationContext:
    """What validation needs to know about one miner at one step.

    ``now_ns`` is the simulated time of the state the reply answers;
    ``volume_capped_books`` the books on which this miner's 24 h traded volume
    reached the cap. ``for_simulation`` fills the per-book cap and the maximum
    extra delay from the simulation info (the values the miner is told).
    """

    simulation: SimulationInfo
    now_ns: int
    max_instructions_per_book: int
    max_extra_delay_ns: int
    volume_capped_books: frozenset[int] = frozenset()
    max_leverage: float = DEFAULT_MAX_LEVERAGE
    max_reply_bytes: int = DEFAULT_MAX_BYTES
    strict: bool = False

    def __post_init__(self) -> None:
        for name in ("now_ns", "max_instructions_per_book", "max_extra_delay_ns", "max_reply_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
        if not isinstance(self.volume_capped_books, frozenset):
            raise TypeError(
                f"volume_capped_books must be a frozenset, got {type(self.volume_capped_books).__name__}"
            )
        if not (isinstance(self.max_leverage, int | float) and math.isfinite(self.max_leverage)) or (
            self.max_leverage <= 0
        ):
            raise ValueError(f"max_leverage must be a finite number > 0, got {self.max_leverage!r}")

    @classmethod
    def for_simulation(
        cls,
        simulation: SimulationInfo,
        now_ns: int,
        *,
        volume_capped_books: frozenset[int] = frozenset(),
        max_leverage: float = DEFAULT_MAX_LEVERAGE,
        max_reply_bytes: int = DEFAULT_MAX_BYTES,
        strict: bool = False,
    ) -> ValidationContext:
        """The context with the per-book cap of ``simulation.max_instructions_per_book``
        and a maximum extra delay of one publish interval."""
        return cls(
            simulation=simulation,
            now_ns=now_ns,
            max_instructions_per_book=simulation.max_instructions_per_book,
            max_extra_delay_ns=simulation.publish_interval_ns,
            volume_capped_books=volume_capped_books,
            max_leverage=max_leverage,
            max_reply_bytes=max_reply_bytes,
            strict=strict,
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
    reply = _as_reply(body_or_error, context)
    if isinstance(reply, str):
        return ValidationResult(accepted=(), notices=(ReplyRejected(ts_ns=context.now_ns, detail=reply),))
    return validate_instructions(uid, reply.instructions, context)


def validate_instructions(
    uid: int, instructions: tuple[Instruction, ...], context: ValidationContext
) -> ValidationResult:
    """Judges each instruction of a decoded reply on its own (rules 1 to 5 of the module doc)."""
    accepted: list[AcceptedInstruction] = []
    rejected: list[Rejection] = []
    kept_per_book: dict[int, int] = {}
    cap = context.max_instructions_per_book
    for index, instruction in enumerate(instructions):
        book = getattr(instruction, "book", None)
        if isinstance(book, int) and book in kept_per_book and kept_per_book[book] >= cap:
            # the book is full: nothing more is kept on it, so the other rules need not run
            refusal: tuple[RejectRule, RejectReason, str] | None = _over_cap(book, cap)
        else:
            refusal = _refusal(instruction, context)
        if refusal is None:
            if kept_per_book.get(instruction.book, 0) >= cap:  # only with a cap of 0
                refusal = _over_cap(instruction.book, cap)
            else:
                kept_per_book[instruction.book] = kept_per_book.get(instruction.book, 0) + 1
                accepted.append(AcceptedInstruction(uid, index, instruction))
                continue
        rule, reason, message = refusal
        rejected.append(Rejection(uid, index, instruction, rule, reason, message))
    notices = tuple(_notice(r, context.now_ns) for r in rejected)
    return ValidationResult(accepted=tuple(accepted), notices=notices, rejected=tuple(rejected))


@functools.lru_cache(maxsize=4096)
def _over_cap(book: int, cap: int) -> tuple[RejectRule, RejectReason, str]:
    return (
        RejectRule.PER_BOOK_CAP,
        RejectReason.INVALID_INSTRUCTION,
        f"over the cap of {cap} instructions for book {book} per step",
    )


def _as_reply(
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
        if len(reply.instructions) > MAX_INSTRUCTIONS:
            return f"reply: {len(reply.instructions)} instructions, over the limit of {MAX_INSTRUCTIONS}"
        return reply
    try:
        body = bytes(body_or_error) if isinstance(body_or_error, bytearray | memoryview) else body_or_error
        return decode_reply(body, max_bytes=context.max_reply_bytes)
    except ProtocolError as e:
        return str(e)


def _error_detail(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, ProtocolError) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _refusal(
    instruction: Instruction, context: ValidationContext
) -> tuple[RejectRule, RejectReason, str] | None:
    """Why rules 1 to 4 refuse ``instruction``, or None."""
    problem = check_instruction(instruction, context.simulation, now_ns=context.now_ns, strict=context.strict)
    if problem is not None:
        return RejectRule.CHECK, problem.reason, problem.message
    if instruction.delay_ns > context.max_extra_delay_ns:
        return (
            RejectRule.EXTRA_DELAY,
            RejectReason.INVALID_INSTRUCTION,
            f"delay_ns {instruction.delay_ns} is over the maximum extra delay of "
            f"{context.max_extra_delay_ns} ns",
        )
    if isinstance(instruction, TargetPosition) and instruction.leverage > context.max_leverage:
        return (
            RejectRule.LEVERAGE,
            RejectReason.INVALID_INSTRUCTION,
            f"leverage {instruction.leverage!r} is over the maximum of {context.max_leverage!r}",
        )
    if instruction.book in context.volume_capped_books and not isinstance(instruction, Cancel):
        return (
            RejectRule.VOLUME_CAP,
            RejectReason.INVALID_INSTRUCTION,
            f"the 24 h traded volume on book {instruction.book} reached the cap: only cancels are allowed",
        )
    return None


def _id_or_none(value: object) -> int | None:
    """An id to echo in a notice, if it is one that encodes as an unsigned 64-bit integer."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _UINT64_MAX:
        return value
    return None


def _notice(rejection: Rejection, now_ns: int) -> OrderRejected:
    instruction = rejection.instruction
    book = getattr(instruction, "book", None)
    detail = _DETAIL_PREFIX[rejection.rule] + rejection.message
    return OrderRejected(
        book=book if isinstance(book, int) and not isinstance(book, bool) else -1,
        ts_ns=now_ns,
        reason=rejection.reason,
        client_order_id=_id_or_none(getattr(instruction, "client_order_id", None))
        if isinstance(instruction, PlaceLimit | PlaceMarket)
        else None,
        order_id=_id_or_none(instruction.order_id) if isinstance(instruction, Cancel) else None,
        detail=detail,
    )
