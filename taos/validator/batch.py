"""Validation of many replies at once: the common case, on whole columns.

Most replies of a step hold only instructions that every check accepts (limit orders on the grid,
market orders sized in base, cancels) and no rule of SPEC §10.2 is on. For those the per-instruction
work of ``taos.validator.validation`` (checks, then ``to_records``) is the validator's largest cost
at hundreds of miners, so ``validate_batch`` does it for every reply of a step on numpy columns:

1. the fields of every instruction are gathered into one column per field: a reply in the form
   msgspec writes is read straight into columns by the engine module (``reply_columns``, see
   ``read_reply_columns``; its instruction objects are decoded only if a refusal needs them), the
   others' decoded objects one pass per kind;
2. a mask says which instructions rules 1 to 4 of ``taos.validator.validation`` surely accept
   (the same tests as ``taos.protocol.checks.quick_check``, on columns);
3. a reply all of whose instructions are in the mask, with no ``TargetPosition`` and no
   ``max_open`` rule, is judged here: rules 5 to 8 cannot refuse anything in it, so only the
   per-book cap (rule 9) remains, and the first ``max_instructions_per_book`` instructions of each
   book are kept; its engine records are built from the columns (``to_records``' conversions);
4. every other reply is left to ``validate_instructions`` (the result has no entry for its
   uid), which gives the reasons and messages of each refusal.

The outcome is the same as ``validate_instructions`` followed by ``to_records`` for each reply:
the same accepted instructions in the same order, the same refusals and notices;
``tests/test_validator_batch.py`` compares the two on generated replies.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import overload

import numpy as np

from taos.protocol import (
    Cancel,
    Currency,
    Instruction,
    InstructionKind,
    Notice,
    PlaceLimit,
    PlaceMarket,
    Side,
    Stp,
    TimeInForce,
)
from taos.protocol.checks import GRID_TOLERANCE, MAX_PRICE_TICKS, MAX_QTY_LOTS
from taos.protocol.codec import PROTOCOL_VERSION, decode_reply
from taos.protocol.instructions import MAX_INSTRUCTIONS, BookEvents
from taos.simulator import REPLY_INSTRUCTION_DTYPE, reply_columns
from taos.validator.convert import Units, joined_records, run_ranks
from taos.validator.validation import Rejection, ValidationContext, notice_of, over_cap


class ColumnInstructions(Sequence[Instruction]):
    """A reply's instructions read as columns (``columns``: REPLY_INSTRUCTION_DTYPE records, one
    per instruction). They are a sequence of the instruction objects too, decoded from ``body`` by
    msgspec the first time one is asked for (a refusal names its instruction)."""

    def __init__(self, columns: np.ndarray, body: bytes, max_bytes: int, max_instructions: int) -> None:
        self.columns = columns
        self._body, self._max_bytes, self._max_instructions = body, max_bytes, max_instructions

    @functools.cached_property
    def decoded(self) -> tuple[Instruction, ...]:
        reply = decode_reply(self._body, max_bytes=self._max_bytes, max_instructions=self._max_instructions)
        if len(reply.instructions) != len(self.columns):  # never: the two read the same bytes
            raise ValueError("the reply's columns and its decoded instructions differ in number")
        return reply.instructions

    def __len__(self) -> int:
        return len(self.columns)

    @overload
    def __getitem__(self, i: int) -> Instruction: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[Instruction]: ...
    def __getitem__(self, i: int | slice) -> Instruction | Sequence[Instruction]:
        return self.decoded[i]

    def __iter__(self) -> Iterator[Instruction]:
        return iter(self.decoded)


def read_reply_columns(
    body: object, context: ValidationContext
) -> tuple[BookEvents, ColumnInstructions] | None:
    """A reply body read straight into columns (``book_events`` and its instructions), when it is
    bytes in the form msgspec writes, within the context's limits, and holds only limit orders,
    market orders and cancels with values their columns hold; None otherwise (then
    ``as_reply`` decodes it, or says why it is refused: the outcome is the same either way)."""
    if not isinstance(body, bytes) or not 0 < len(body) <= context.max_reply_bytes:
        return None
    cap = min(context.max_instructions, MAX_INSTRUCTIONS)
    read = reply_columns(body, PROTOCOL_VERSION, cap)
    if read is None:
        return None
    events, columns = read
    return BookEvents(events), ColumnInstructions(columns, body, context.max_reply_bytes, cap)


@dataclass(frozen=True)
class Admitted:
    """A decoded reply to validate: its miner, instructions, context and the latency model's
    delay for it (ns from the step start)."""

    uid: int
    instructions: Sequence[Instruction]
    context: ValidationContext
    delay_ns: int


@dataclass(frozen=True)
class FastResult:
    """A reply judged on columns: the engine records of its accepted instructions (``ts_ns``: when
    each reaches its book), its refusals (all by the per-book cap) and their notices."""

    records: np.ndarray
    rejected: tuple[Rejection, ...]
    notices: tuple[Notice, ...]


_KIND = {
    PlaceLimit: InstructionKind.PLACE_LIMIT,
    PlaceMarket: InstructionKind.PLACE_MARKET,
    Cancel: InstructionKind.CANCEL,
}


def validate_batch(replies: Sequence[Admitted], units: Units) -> dict[int, FastResult]:
    """Judges on columns every reply that only the per-book cap can refuse anything of (see the
    module doc): the result of each by uid; the replies without one need
    ``validate_instructions``. The replies must be in the order their records are to be applied
    and come from ``decode_reply`` (msgspec has checked every field's type)."""
    candidates = [r for r in replies if _may_be_fast(r)]
    columns = _gather(candidates) if candidates else None
    if candidates and columns is None:  # a value numpy cannot hold (an integer beyond 64 bits)
        candidates = [r for r in candidates if _gather([r]) is not None]
        columns = _gather(candidates) if candidates else None
    if columns is None:
        return {}
    counts = np.array([len(r.instructions) for r in candidates], dtype=np.int64)
    of, contexts = _contexts(candidates)
    unsure = np.bincount(
        columns.miner[~_surely_valid(columns, of, contexts, units)], minlength=len(candidates)
    )
    fast = unsure == 0
    rows = np.flatnonzero(fast[columns.miner])
    kept = _within_cap(columns, rows, of, contexts)
    uid = np.array([r.uid for r in candidates], dtype=np.int64)
    # an instruction reaches its book at the state's time + the latency model's delay + its own delay
    start = np.array([r.context.now_ns + r.delay_ns for r in candidates], dtype=np.int64)
    records = _records(columns, rows[kept], units)
    owner = columns.miner[rows[kept]]
    records["agent"] = uid[owner]
    records["ts_ns"] = start[owner] + columns.delay_ns[rows[kept]]
    n_kept = np.bincount(owner, minlength=len(candidates))
    first_row = np.concatenate(([0], np.cumsum(counts)))
    out: dict[int, FastResult] = {}
    position = 0
    for i in np.flatnonzero(fast):
        r = candidates[i]
        n = int(n_kept[i])
        rejected: tuple[Rejection, ...] = ()
        if n < counts[i]:
            at = first_row[i]
            ours = rows[(rows >= at) & (rows < at + counts[i])]
            cap = r.context.max_instructions_per_book
            rejected = tuple(
                Rejection(r.uid, int(j - at), r.instructions[j - at], *over_cap(int(columns.book[j]), cap))
                for j in ours[~kept[np.searchsorted(rows, ours)]]
            )
        out[r.uid] = FastResult(
            records[position : position + n],
            rejected,
            tuple(notice_of(x, r.context.now_ns) for x in rejected),
        )
        position += n
    return out


def _may_be_fast(r: Admitted) -> bool:
    ctx = r.context
    return ctx.max_open == 0 and ctx.max_instructions_per_book > 0


@dataclass(frozen=True)
class _Columns:
    """One row per instruction of the candidates, in order; fields that a kind lacks are 0."""

    miner: np.ndarray  # index into the candidates
    kind: np.ndarray  # InstructionKind; 0 for an instruction this module does not judge
    book: np.ndarray
    delay_ns: np.ndarray
    side: np.ndarray
    price: np.ndarray  # NaN where none
    quantity: np.ndarray  # NaN where none
    no_quantity: np.ndarray  # a cancel without a quantity (a NaN quantity is one, and invalid)
    tif: np.ndarray
    expiry_ns: np.ndarray
    has_expiry: np.ndarray
    post_only: np.ndarray
    stp: np.ndarray
    currency: np.ndarray
    order_id: np.ndarray
    client_order_id: np.ndarray


def _gather(replies: Sequence[Admitted]) -> _Columns | None:
    """The columns of every instruction of ``replies``: read from the body already
    (``ColumnInstructions``), or from the decoded objects; None when a value of an object does
    not fit its column (the values msgspec decodes do, apart from integers beyond the
    int64/uint64 ranges)."""
    objects = _object_columns(
        [i for r in replies if not isinstance(r.instructions, ColumnInstructions) for i in r.instructions]
    )
    if objects is None:
        return None
    parts, at = [], 0
    for r in replies:
        if isinstance(r.instructions, ColumnInstructions):
            parts.append(r.instructions.columns)
        else:
            parts.append(objects[at : at + len(r.instructions)])
            at += len(r.instructions)
    rows = joined_records(parts, REPLY_INSTRUCTION_DTYPE)
    miner = np.repeat(np.arange(len(replies)), [len(r.instructions) for r in replies])
    return _Columns(
        miner, rows["kind"], rows["book"], rows["delay_ns"], rows["side"], rows["price"], rows["quantity"],
        rows["no_quantity"].astype(np.bool_), rows["tif"], rows["expiry_ns"], rows["has_expiry"].astype(np.bool_),
        rows["post_only"].astype(np.bool_), rows["stp"], rows["currency"], rows["order_id"], rows["client_order_id"],
    )  # fmt: skip


def _object_columns(instructions: list[Instruction]) -> np.ndarray | None:
    """REPLY_INSTRUCTION_DTYPE records of decoded instructions, one pass per field and kind (as
    ``reply_columns`` reads them from a body); None when a value does not fit its column."""
    n = len(instructions)
    out = np.zeros(n, dtype=REPLY_INSTRUCTION_DTYPE)
    kind = np.array([_KIND.get(type(i), 0) for i in instructions], dtype=np.uint8)
    out["kind"] = kind
    out["price"] = out["quantity"] = np.nan
    try:
        out["book"] = [getattr(i, "book", -1) for i in instructions]
        out["delay_ns"] = [getattr(i, "delay_ns", -1) for i in instructions]
        limit, market = kind == InstructionKind.PLACE_LIMIT, kind == InstructionKind.PLACE_MARKET
        at = np.flatnonzero(limit | market)
        if len(at):  # the fields both kinds of order have
            orders: list[PlaceLimit | PlaceMarket] = [instructions[j] for j in at]  # type: ignore[misc]
            out["side"][at] = [o.side for o in orders]
            out["quantity"][at] = [o.quantity for o in orders]
            out["stp"][at] = [o.stp for o in orders]
            out["client_order_id"][at] = [o.client_order_id or 0 for o in orders]
        at = np.flatnonzero(limit)
        if len(at):
            limits: list[PlaceLimit] = [instructions[j] for j in at]  # type: ignore[misc]
            out["price"][at] = [o.price for o in limits]
            out["tif"][at] = [o.time_in_force for o in limits]
            out["expiry_ns"][at] = [o.expiry_ns or 0 for o in limits]
            out["has_expiry"][at] = [o.expiry_ns is not None for o in limits]
            out["post_only"][at] = [o.post_only for o in limits]
        at = np.flatnonzero(market)
        if len(at):
            out["currency"][at] = [instructions[j].currency for j in at]  # type: ignore[union-attr]
        at = np.flatnonzero(kind == InstructionKind.CANCEL)
        if len(at):
            cancels: list[Cancel] = [instructions[j] for j in at]  # type: ignore[misc]
            out["order_id"][at] = [o.order_id for o in cancels]
            out["quantity"][at] = [np.nan if o.quantity is None else o.quantity for o in cancels]
            out["no_quantity"][at] = [o.quantity is None for o in cancels]
    except (OverflowError, TypeError, ValueError):
        return None
    return out


def _steps_ok(
    value: np.ndarray, step: float, limit: int, strict: np.ndarray, up: np.ndarray | bool
) -> np.ndarray:
    """``quick_check``'s ``_quick_steps`` on a column: a value > 0 whose number of steps (rounded
    toward ``up``, a value within the grid tolerance of a step counting as on it) is in [1, limit];
    on the grid where ``strict``."""
    with np.errstate(invalid="ignore", over="ignore"):
        positive = value > 0
        q = np.where(positive, value, 1.0) / step
        finite = q < limit + 1
        q = np.where(finite, q, 1.0)
        n = np.rint(q)
        near = np.abs(q - n) <= np.maximum(GRID_TOLERANCE, np.abs(n) * 1e-12)
        off = np.where(up, np.ceil(q), np.floor(q))
        n = np.where(near, n, off)
        ok = positive & finite & (n >= 1) & (n <= limit)
    return ok & (near | ~strict)


def _surely_valid(c: _Columns, of: np.ndarray, contexts: list[ValidationContext], units: Units) -> np.ndarray:
    """Instructions that rules 1 to 4 of ``taos.validator.validation`` accept: the checks (as
    ``quick_check``), the extra delay, the volume cap and the session. ``of`` and ``contexts``:
    ``_contexts`` of the replies."""
    sim = contexts[0].simulation
    if any(x.simulation != sim for x in contexts):
        raise ValueError("validate_batch: the replies answer different simulations")
    books = sim.books
    ctx = of[c.miner]  # each instruction's context
    now = np.array([x.now_ns for x in contexts], dtype=np.int64)[ctx]
    strict = np.array([x.strict for x in contexts], dtype=np.bool_)[ctx]
    max_delay = np.array([x.max_extra_delay_ns for x in contexts], dtype=np.int64)[ctx]
    # the books where only cancels pass (volume cap, closed session), per context
    blocked = np.zeros((len(contexts), books), dtype=np.bool_)
    for i, x in enumerate(contexts):
        for b in (*x.volume_capped_books, *x.closed_books):
            if 0 <= b < books:
                blocked[i, b] = True
    limit, market, cancel = (
        c.kind == k
        for k in (InstructionKind.PLACE_LIMIT, InstructionKind.PLACE_MARKET, InstructionKind.CANCEL)
    )
    known_book = (c.book >= 0) & (c.book < books)
    ok = known_book & (c.delay_ns >= 0) & (c.delay_ns <= max_delay)
    ok &= cancel | ~blocked[ctx, np.where(known_book, c.book, 0)]
    gtt = c.tif == TimeInForce.GTT
    expiry_ok = np.where(gtt, c.has_expiry & (c.expiry_ns > 0) & (c.expiry_ns > now), ~c.has_expiry)
    ioc_fok = (c.tif == TimeInForce.IOC) | (c.tif == TimeInForce.FOK)
    sell = c.side != Side.BUY
    price_ok = _steps_ok(c.price, units.tick_size, MAX_PRICE_TICKS, strict, sell)
    qty_ok = _steps_ok(c.quantity, units.lot_size, MAX_QTY_LOTS, strict, False)
    limit_ok = expiry_ok & (c.stp != Stp.NONE) & ~(c.post_only & ioc_fok) & price_ok & qty_ok
    market_ok = (c.currency == Currency.BASE) & (c.stp != Stp.NONE) & qty_ok
    cancel_ok = (c.order_id > 0) & (c.no_quantity | qty_ok)
    return ok & ((limit & limit_ok) | (market & market_ok) | (cancel & cancel_ok))


def _contexts(replies: Sequence[Admitted]) -> tuple[np.ndarray, list[ValidationContext]]:
    """The distinct contexts of ``replies`` (miners in the same situation share one) and the index
    of each reply's among them."""
    seen: dict[int, int] = {}
    contexts: list[ValidationContext] = []
    of = []
    for r in replies:
        i = seen.setdefault(id(r.context), len(contexts))
        if i == len(contexts):
            contexts.append(r.context)
        of.append(i)
    return np.array(of, dtype=np.int64), contexts


def _within_cap(
    c: _Columns, rows: np.ndarray, of: np.ndarray, contexts: list[ValidationContext]
) -> np.ndarray:
    """Which of ``rows`` (every instruction of the fast replies, in order) the per-book cap keeps:
    the first ``max_instructions_per_book`` of each miner's book."""
    if not len(rows):
        return np.zeros(0, dtype=np.bool_)
    books = contexts[0].simulation.books
    cap = np.array([x.max_instructions_per_book for x in contexts], dtype=np.int64)[of]
    key = c.miner[rows] * books + c.book[rows]
    order = np.argsort(key, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = run_ranks(key[order])
    return rank < cap[c.miner[rows]]


def _records(c: _Columns, rows: np.ndarray, units: Units) -> np.ndarray:
    """Engine records of the instructions at ``rows`` (``to_records``' conversions); ``ts_ns`` and
    ``agent`` are 0 (the caller sets both)."""
    from taos.simulator import instruction_array
    from taos.validator.convert import steps_of

    out = instruction_array(len(rows))
    if not len(rows):
        return out
    kind = c.kind[rows]
    out["kind"] = kind
    out["book"] = c.book[rows]
    out["side"] = c.side[rows]
    out["tif"] = c.tif[rows]
    out["expiry_ns"] = c.expiry_ns[rows]
    out["post_only"] = c.post_only[rows]
    out["stp"] = c.stp[rows]
    out["currency"] = c.currency[rows]
    out["order_id"] = c.order_id[rows]
    out["client_order_id"] = c.client_order_id[rows]
    sell = out["side"] == Side.SELL
    out["price_ticks"] = steps_of(c.price[rows], units.tick_size, up=sell)
    out["qty_lots"] = steps_of(c.quantity[rows], units.lot_size)
    return out
