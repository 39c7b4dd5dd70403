"""Conversion between the engine (integer ticks, lots and quote units; numpy records) and the
wire protocol (decimals; msgspec models). Conversion only: no decisions are made here.

- ``book_states``: a step's books and events → the shared part of every miner's state;
- ``miner_notices``: a miner's events of a step → its notices;
- ``miner_account``: a miner's account on a book after a step → an ``Account`` model;
  ``miner_accounts``: every miner's accounts on every book at once, encoded for the wire from
  whole columns (``taos.validator.packing``), without a model per account;
- ``to_records``: validated protocol instructions → engine instruction records.

Client order ids: the engine carries 0 for "none"; the protocol uses None. They are echoed on
accepted and rejected notices (the engine's events carry them there); fills and cancellations
name the order by its id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

if TYPE_CHECKING:
    from taos.simulator import BookLevels

from taos.protocol import (
    Account,
    AccountReset,
    Balance,
    BookEvents,
    BookState,
    Cancel,
    CancelReason,
    Currency,
    EventKind,
    Instruction,
    InstructionKind,
    Notice,
    OpenOrder,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    PlaceLimit,
    PlaceMarket,
    RejectReason,
    Side,
    TimeInForce,
    event_dtype,
    from_steps,
    level_dtype,
    order_dtype,
)
from taos.protocol.checks import GRID_TOLERANCE
from taos.protocol.events import PUBLIC_ID_SHIFT
from taos.protocol.limits import MAX_ACCOUNT_ORDERS, MAX_EVENTS_PER_BOOK, MAX_LEVEL_ORDERS
from taos.simulator import EVENT_DTYPE, LEVEL_DTYPE, ORDER_DTYPE
from taos.validator.packing import (
    AccountColumns,
    Field,
    Packed,
    array_header,
    concat,
    constant,
    floats,
    integers,
    join,
    optional,
    pack_accounts,
    take,
)


@dataclass(frozen=True)
class Units:
    """The market's steps: decimals = integer x step."""

    tick_size: float
    lot_size: float

    @property
    def quote_units(self) -> int:
        """Engine quote units per unit of quote currency (1 / (tick x lot), a whole number)."""
        return round(1.0 / (self.tick_size * self.lot_size))

    def price(self, ticks: int) -> float:
        return from_steps(int(ticks), self.tick_size)

    def qty(self, lots: int) -> float:
        return from_steps(int(lots), self.lot_size)

    def quote(self, units: int) -> float:
        return int(units) / self.quote_units


_LEVEL_DTYPE = level_dtype()
_ENGINE_LEVEL, _ENGINE_ORDER = np.dtype(LEVEL_DTYPE), np.dtype(ORDER_DTYPE)
_ORDER_DTYPE = order_dtype()


def joined_records(arrays: Sequence[np.ndarray], dtype: np.dtype[Any]) -> np.ndarray:
    """The records of ``arrays`` (each of ``dtype``, or converted to it) one after the other, as one
    array. They are joined as bytes: numpy's concatenate of structured arrays would drop the
    records' padding, and is slow."""
    if not arrays:
        return np.zeros(0, dtype=dtype)
    return np.concatenate([np.ascontiguousarray(a, dtype=dtype).view(np.uint8) for a in arrays]).view(dtype)


def run_ranks(keys: np.ndarray) -> np.ndarray:
    """Each element's place (0, 1, …) in its run of equal consecutive ``keys``."""
    at = np.arange(len(keys))
    first = np.ones(len(keys), dtype=np.bool_)
    first[1:] = keys[1:] != keys[:-1]
    return at - np.maximum.accumulate(np.where(first, at, 0))


def _joined(arrays: list[np.ndarray], dtype: np.dtype[Any]) -> tuple[np.ndarray, np.ndarray]:
    """``joined_records`` of ``arrays`` and the offsets of each array's first record (then the
    total)."""
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    return joined_records(arrays, dtype), offsets


def _sides(books: Sequence[BookLevels], u: Units) -> list[tuple[tuple[bytes, bytes], tuple[bytes, bytes]]]:
    """Every book's ((bid levels, bid orders), (ask levels, ask orders)) records
    (``taos.protocol.levels``), converted as whole columns for all books at once; at most
    ``MAX_LEVEL_ORDERS`` orders per level (the first in time priority)."""
    levels, level_at = _joined([x for s in books for x in (s.bids, s.asks)], _ENGINE_LEVEL)
    orders, order_at = _joined([x for s in books for x in (s.bid_orders, s.ask_orders)], _ENGINE_ORDER)
    side = np.repeat(np.arange(len(order_at) - 1, dtype=np.int64), np.diff(order_at))
    # each side's orders come grouped by level: keep the first MAX_LEVEL_ORDERS of each group
    group = side * (int(orders["level"].max(initial=0)) + 1) + orders["level"]
    keep = run_ranks(group) < MAX_LEVEL_ORDERS
    kept_at = np.concatenate(([0], np.cumsum(np.bincount(side[keep], minlength=len(order_at) - 1))))
    out = np.empty(len(levels), dtype=_LEVEL_DTYPE)
    out["price"] = np.round(levels["price_ticks"] * u.tick_size, 12)
    out["quantity"] = np.round(levels["qty_lots"] * u.lot_size, 12)
    detail = np.zeros(int(np.count_nonzero(keep)), dtype=_ORDER_DTYPE)
    detail["order_id"] = orders["order_id"][keep] >> PUBLIC_ID_SHIFT  # public ids (taos.protocol.events)
    detail["quantity"] = np.round(orders["qty_lots"][keep] * u.lot_size, 12)
    detail["level"] = orders["level"][keep]
    level_bytes, order_bytes = out.tobytes(), detail.tobytes()
    lw, ow = _LEVEL_DTYPE.itemsize, _ORDER_DTYPE.itemsize
    sides = [
        (
            level_bytes[lw * level_at[i] : lw * level_at[i + 1]],
            order_bytes[ow * kept_at[i] : ow * kept_at[i + 1]],
        )
        for i in range(len(level_at) - 1)
    ]
    return [(sides[2 * b], sides[2 * b + 1]) for b in range(len(books))]


_EVENT_DTYPE = event_dtype()
_PUBLIC = np.array([EventKind.ORDER_PLACED, EventKind.TRADE, EventKind.ORDER_CANCELLED])


def _kind_table(kinds: Iterable[int]) -> np.ndarray:
    """A lookup table over every uint8 kind: True for ``kinds``."""
    table = np.zeros(256, dtype=np.bool_)
    table[list(kinds)] = True
    return table


def _packed_public_events(ev: np.ndarray, u: Units, kinds: np.ndarray = _PUBLIC) -> np.ndarray:
    """The public events of ``ev`` as records (``taos.protocol.events``), from whole columns; only
    those of ``kinds`` (a subset of the public kinds). Prices and quantities are rounded to their
    steps as ``Units`` does; rejections and resets are left out, and no agent id travels."""
    at = np.flatnonzero(_kind_table(np.intersect1d(kinds, _PUBLIC))[ev["kind"]])
    out = np.zeros(len(at), dtype=_EVENT_DTYPE)
    kind = ev["kind"][at]
    trade, removed = kind == EventKind.TRADE, kind == EventKind.ORDER_CANCELLED
    ticks = ev["price_ticks"][at]
    no_price = removed | ((kind == EventKind.ORDER_PLACED) & (ticks == 0))  # removals, market orders
    out["seq"] = ev["seq"][at]
    out["ts_ns"] = ev["ts_ns"][at]
    out["order_id"] = ev["order_id"][at] >> PUBLIC_ID_SHIFT  # public ids (taos.protocol.events)
    out["other_order_id"] = np.where(trade, ev["other_order_id"][at] >> PUBLIC_ID_SHIFT, 0)
    out["price"] = np.where(no_price, np.nan, np.round(ticks * u.tick_size, 12))
    out["quantity"] = np.round(ev["qty_lots"][at] * u.lot_size, 12)
    out["remaining"] = np.where(removed, np.round(ev["remaining_lots"][at] * u.lot_size, 12), 0.0)
    out["kind"] = kind
    out["side"] = ev["side"][at]
    out["reason"] = np.where(removed, ev["reason"][at], 0)
    return out


def public_event_records(ev: np.ndarray, u: Units) -> bytes:
    """The public events of one book's engine events, packed."""
    return _packed_public_events(ev, u).tobytes()


_EVENT_KINDS = {
    BookEvents.ALL: _PUBLIC,
    BookEvents.TRADES: np.array([EventKind.TRADE]),
    BookEvents.NONE: np.array([], dtype=_PUBLIC.dtype),
}
"""The public events a state lists for each ``BookEvents`` a miner may ask for."""


def book_states(
    books: Sequence[BookLevels], events: np.ndarray, u: Units, book_events: BookEvents = BookEvents.ALL
) -> tuple[BookState, ...]:
    """The shared part of a step's state: every book's levels (as ``StepResult.books``) and its
    public events (anonymous: no agent ids; rejections and resets are left out), those that
    ``book_events`` asks for. A book lists its newest ``MAX_EVENTS_PER_BOOK`` of them and counts
    the older ones it leaves out."""
    return book_state_variants(books, events, u, (book_events,))[book_events]


def book_state_variants(
    books: Sequence[BookLevels], events: np.ndarray, u: Units, wanted: Iterable[BookEvents]
) -> dict[BookEvents, tuple[BookState, ...]]:
    """``book_states`` for each of ``wanted``: the levels converted and the events packed once
    (all books at once, only the kinds some variant lists, then cut per book in each book's
    order)."""
    variants = [BookEvents(w) for w in wanted]
    sides = _sides(books, u)
    listed = np.unique(np.concatenate([_EVENT_KINDS[w] for w in variants])) if variants else _PUBLIC[:0]
    packed = _packed_public_events(events, u, listed)
    kind = packed["kind"]
    # whole records as byte rows: indexing a structured array would leave its padding uninitialised
    rows = packed.view(np.uint8).reshape(len(packed), _EVENT_DTYPE.itemsize)
    book = events["book"][_kind_table(listed)[events["kind"]]]
    if len(book) > 1 and bool(np.any(book[1:] < book[:-1])):
        order = np.argsort(book, kind="stable")
        book, rows, kind = book[order], rows[order], kind[order]
    out: dict[BookEvents, tuple[BookState, ...]] = {}
    for w in variants:
        keep = _kind_table(_EVENT_KINDS[w])[kind]
        records, owner = (rows, book) if keep.all() else (rows[keep], book[keep])
        bounds = np.searchsorted(owner, np.arange(len(books) + 1)).tolist()
        states = []
        for b, ((bid_levels, bid_orders), (ask_levels, ask_orders)) in enumerate(sides):
            first, end = bounds[b], bounds[b + 1]
            dropped = max(0, end - first - MAX_EVENTS_PER_BOOK)
            states.append(
                BookState(
                    b,
                    bid_levels,
                    ask_levels,
                    bid_orders,
                    ask_orders,
                    records[first + dropped : end].tobytes(),
                    events_dropped=dropped,
                )
            )
        out[w] = tuple(states)
    return out


def miner_notices(uid: int, events: np.ndarray, u: Units) -> list[Notice]:
    """A miner's notices from its events of a step (``StepResult.notices(uid)``): acceptances,
    rejections (of placements and of cancels), fills as taker and maker, cancellations, resets."""
    return all_miner_notices({uid: events}, u)[uid]


def _members(enum: type) -> dict[int, Any]:
    return {int(m): m for m in enum}  # type: ignore[attr-defined]


_SIDE_OF, _TIF_OF = _members(Side), _members(TimeInForce)
_REJECT_OF, _CANCEL_OF = _members(RejectReason), _members(CancelReason)


def all_miner_notices(events: Mapping[int, np.ndarray], u: Units) -> dict[int, list[Notice]]:
    """``miner_notices`` of several miners at once (``uid → StepResult.notices(uid)``): the prices,
    quantities and fees of all their events are converted as whole columns, once."""
    uids = list(events)
    if not uids:
        return {}
    lengths = [len(events[uid]) for uid in uids]
    out: dict[int, list[Notice]] = {uid: [] for uid in uids}
    if not sum(lengths):
        return out
    ev = np.empty(sum(lengths), dtype=events[uids[0]].dtype)  # (concatenate is slow for records)
    at = 0
    for uid, n in zip(uids, lengths, strict=True):
        ev[at : at + n] = events[uid]
        at += n
    kind = ev["kind"].tolist()
    book, ts = ev["book"].tolist(), ev["ts_ns"].tolist()
    oid, other_oid, coid = (
        ev["order_id"].tolist(),
        ev["other_order_id"].tolist(),
        ev["client_order_id"].tolist(),
    )
    agent, other_agent = ev["agent"].tolist(), ev["other_agent"].tolist()
    side, tif, reason = ev["side"].tolist(), ev["tif"].tolist(), ev["reason"].tolist()
    ticks, lots = ev["price_ticks"].tolist(), ev["qty_lots"].tolist()
    price = np.round(ev["price_ticks"] * u.tick_size, 12).tolist()
    qty = np.round(ev["qty_lots"] * u.lot_size, 12).tolist()
    remaining = np.round(ev["remaining_lots"] * u.lot_size, 12).tolist()
    units = u.quote_units
    notional = (ev["notional_quote"] / units).tolist()
    taker_fee, maker_fee = (ev["taker_fee"] / units).tolist(), (ev["maker_fee"] / units).tolist()
    placed_kind, trade_kind, cancelled_kind = (
        EventKind.ORDER_PLACED,
        EventKind.TRADE,
        EventKind.ORDER_CANCELLED,
    )
    rejected_kinds = (EventKind.ORDER_REJECTED, EventKind.CANCEL_REJECTED)
    lot = u.lot_size
    first = 0
    for uid, n in zip(uids, lengths, strict=True):
        notices = out[uid]
        placed: dict[tuple[int, int], int] = {}  # (book, order id) → lots left, for taker fills
        for i in range(first, first + n):
            k, b = kind[i], book[i]
            if k == placed_kind:
                is_market = ticks[i] == 0
                placed[(b, oid[i])] = lots[i]
                notices.append(
                    OrderAccepted(
                        book=b,
                        ts_ns=ts[i],
                        order_id=oid[i],
                        side=_SIDE_OF[side[i]],
                        price=None if is_market else price[i],
                        quantity=notional[i] if is_market and lots[i] == 0 else qty[i],
                        client_order_id=coid[i] or None,
                        time_in_force=None if is_market else _TIF_OF[tif[i]],
                    )
                )
            elif k in rejected_kinds:
                notices.append(
                    OrderRejected(
                        book=b,
                        ts_ns=ts[i],
                        reason=_REJECT_OF[reason[i]],
                        client_order_id=coid[i] or None,
                        order_id=oid[i] if k == EventKind.CANCEL_REJECTED else None,
                    )
                )
            elif k == trade_kind:
                if agent[i] == uid:  # the taker's fill
                    key = (b, oid[i])
                    left = max(0, placed.get(key, lots[i]) - lots[i])
                    placed[key] = left
                    notices.append(
                        OrderFilled(
                            b,
                            ts[i],
                            oid[i],
                            _SIDE_OF[side[i]],
                            price[i],
                            qty[i],
                            taker_fee[i],
                            False,
                            from_steps(left, lot),
                        )
                    )
                if other_agent[i] == uid:  # the maker's fill (both, for a self-trade)
                    maker_side = Side.SELL if side[i] == Side.BUY else Side.BUY
                    notices.append(
                        OrderFilled(
                            b,
                            ts[i],
                            other_oid[i],
                            maker_side,
                            price[i],
                            qty[i],
                            maker_fee[i],
                            True,
                            remaining[i],
                        )
                    )
            elif k == cancelled_kind:
                notices.append(OrderCancelled(b, ts[i], oid[i], qty[i], remaining[i], _CANCEL_OF[reason[i]]))
            elif k == EventKind.ACCOUNT_RESET:
                notices.append(AccountReset(b, ts[i]))
        first += n
    return out


@dataclass(frozen=True, eq=False)
class PackedNotices:
    """The engine's notices of several miners, encoded (``taos.validator.packing``): uid's notices
    are records ``first[uid]`` to ``end[uid] - 1`` of ``packed``, the bytes of ``miner_notices``'
    objects. ``rejections`` counts the rejection notices by reason (``RejectReason`` names)."""

    packed: Packed
    first: dict[int, int]
    end: dict[int, int]
    rejections: dict[str, int]

    def count(self, uid: int) -> int:
        return self.end[uid] - self.first[uid]

    def span(self, uid: int, limit: int | None = None) -> bytes:
        """uid's notices, at most the first ``limit``."""
        first, end = self.first[uid], self.end[uid]
        if limit is not None:
            end = min(end, first + max(0, limit))
        at = self._at
        return self._bytes[at[first] : at[end]]

    @cached_property
    def _bytes(self) -> bytes:
        return self.packed.data.tobytes()  # once: slicing bytes is cheaper than a view per miner

    @cached_property
    def _at(self) -> list[int]:
        return self.packed.offsets.tolist()  # type: ignore[no-any-return]


def _tagged(tag: int, fields: int, n: int) -> Field:
    """The start of a notice: its array header (the tag and ``fields`` fields) and its tag."""
    return constant(bytes([0x90 | (fields + 1), tag]), n)


@dataclass(frozen=True)
class MinerEvents:
    """Several miners' events one after the other: ``uids[i]``'s are the next ``lengths[i]`` rows
    of ``events`` (EVENT_DTYPE)."""

    events: np.ndarray
    uids: list[int]
    lengths: np.ndarray

    @classmethod
    def of(cls, events: Mapping[int, np.ndarray]) -> MinerEvents:
        """From each uid's events (``StepResult.notices(uid)``)."""
        uids = list(events)
        lengths = np.array([len(events[uid]) for uid in uids], dtype=np.int64)
        out = np.empty(int(lengths.sum()), dtype=events[uids[0]].dtype if uids else EVENT_DTYPE)
        at = 0
        for uid, n in zip(uids, lengths.tolist(), strict=True):  # (concatenate is slow for records)
            out[at : at + n] = events[uid]
            at += n
        return cls(out, uids, lengths)

    @classmethod
    def of_step(cls, result: Any, uids: Sequence[int]) -> MinerEvents:
        """The notices of ``uids`` in a step (``StepResult.notice_index``): as ``of`` would take
        them from ``StepResult.notices``, gathered at once."""
        offsets, indices = result.notice_index()
        want = np.asarray(uids, dtype=np.int64)
        starts, ends = offsets[want].astype(np.int64), offsets[want + 1].astype(np.int64)
        lengths = ends - starts
        first = np.cumsum(lengths) - lengths
        rows = indices[np.repeat(starts - first, lengths) + np.arange(int(lengths.sum()))]
        return cls(result.events[rows], [int(x) for x in want], lengths)

    def from_time(self, start_ns: Mapping[int, int]) -> MinerEvents:
        """Without the events of each uid of ``start_ns`` before its time there (a reset miner's
        notices start with its reset)."""
        owner = np.repeat(np.asarray(self.uids, dtype=np.int64), self.lengths)
        keep = np.ones(len(self.events), dtype=np.bool_)
        for uid, t in start_ns.items():
            keep &= (owner != uid) | (self.events["ts_ns"] >= t)
        if keep.all():
            return self
        lengths = np.bincount(
            np.repeat(np.arange(len(self.uids)), self.lengths)[keep], minlength=len(self.uids)
        )
        return MinerEvents(self.events[keep], self.uids, lengths.astype(np.int64))


def pack_miner_notices(events: Mapping[int, np.ndarray] | MinerEvents, u: Units) -> PackedNotices:
    """``all_miner_notices`` encoded for the wire from whole columns, without a model per notice
    (the same bytes as msgspec writes for those objects)."""
    if not isinstance(events, MinerEvents):
        events = MinerEvents.of(events)
    ev, uids, lengths = events.events, events.uids, events.lengths
    if not len(uids) or not lengths.sum():
        empty = concat([])
        return PackedNotices(empty, dict.fromkeys(uids, 0), dict.fromkeys(uids, 0), {})
    owner = np.repeat(np.asarray(uids, dtype=np.int64), lengths)
    kind = ev["kind"]
    lot, units = u.lot_size, u.quote_units
    price = np.round(ev["price_ticks"] * u.tick_size, 12)
    qty = np.round(ev["qty_lots"] * lot, 12)
    remaining = np.round(ev["remaining_lots"] * lot, 12)
    book, ts = ev["book"].astype(np.int64), ev["ts_ns"].astype(np.int64)
    coid, oid = ev["client_order_id"], ev["order_id"]  # uint64, as the wire has them

    def rows(mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask)

    placed = rows(kind == EventKind.ORDER_PLACED)
    rejected = rows((kind == EventKind.ORDER_REJECTED) | (kind == EventKind.CANCEL_REJECTED))
    trade = kind == EventKind.TRADE
    taker = rows(trade & (ev["agent"] == owner))
    maker = rows(trade & (ev["other_agent"] == owner))
    cancelled = rows(kind == EventKind.ORDER_CANCELLED)
    reset = rows(kind == EventKind.ACCOUNT_RESET)

    parts, keys = [], []  # a notice's place: its event's row, the maker's fill after the taker's

    def add(at: np.ndarray, tag: int, fields: list[Field], second: bool = False) -> None:
        """The notices of events ``at``: tag, book, time, then ``fields``."""
        head = [_tagged(tag, len(fields) + 2, len(at)), integers(book[at]), integers(ts[at])]
        parts.append(join(head + fields))
        keys.append(2 * at + int(second))

    def fill(
        at: np.ndarray, maker: bool, order_id: np.ndarray, side: np.ndarray, fee: np.ndarray, left: np.ndarray
    ) -> None:
        """Fills of the taker's orders, or of the makers' (placed after the taker's of the same
        trade)."""
        n = len(at)
        fields = [
            integers(order_id[at]),
            integers(side),
            floats(price[at]),
            floats(qty[at]),
            floats(fee[at] / units),
        ]
        fields += [constant(b"\xc3" if maker else b"\xc2", n), floats(left), constant(b"\xc0", n)]
        add(at, 3, fields, second=maker)  # then maker: True/False, remaining, client order id: None

    i = placed
    market = ev["price_ticks"][i] == 0
    notional = np.where(market & (ev["qty_lots"][i] == 0), ev["notional_quote"][i] / units, qty[i])
    add(
        i,
        1,
        [
            integers(oid[i]),
            integers(ev["side"][i]),
            optional(floats(price[i]), ~market),
            floats(notional),
            optional(integers(coid[i]), coid[i] != 0),
            optional(integers(ev["tif"][i]), ~market),
        ],
    )
    i = rejected
    cancel = kind[i] == EventKind.CANCEL_REJECTED
    add(
        i,
        2,
        [
            integers(ev["reason"][i]),
            optional(integers(coid[i]), coid[i] != 0),
            optional(integers(oid[i]), cancel),
            constant(b"\xa0", len(i)),  # detail: ""
        ],
    )
    left = np.round(_taker_left(owner, ev, placed, taker) * lot, 12)
    fill(taker, False, oid, ev["side"][taker], ev["taker_fee"], left)
    opposite = np.where(ev["side"][maker] == Side.BUY, int(Side.SELL), int(Side.BUY))
    fill(maker, True, ev["other_order_id"], opposite, ev["maker_fee"], remaining[maker])
    i = cancelled
    add(
        i,
        4,
        [
            integers(oid[i]),
            floats(qty[i]),
            floats(remaining[i]),
            integers(ev["reason"][i]),
            constant(b"\xc0", len(i)),
        ],
    )
    add(reset, 5, [])
    key = np.concatenate(keys)
    order = np.argsort(key, kind="stable")
    packed = take(concat(parts), order)
    # the notices are in event order, and the events uid by uid: each uid's notices are one run
    per_event = np.zeros(len(ev) + 1, dtype=np.int64)
    np.add.at(per_event, key // 2 + 1, 1)
    ends = np.cumsum(per_event)[np.cumsum(lengths)]
    starts = np.concatenate(([0], ends[:-1]))
    reasons = np.bincount(ev["reason"][rejected].astype(np.int64), minlength=max(RejectReason) + 1)
    return PackedNotices(
        packed,
        dict(zip(uids, starts.tolist(), strict=True)),
        dict(zip(uids, ends.tolist(), strict=True)),
        {_REJECT_OF[r].name: int(c) for r, c in enumerate(reasons.tolist()) if c and r in _REJECT_OF},
    )


def _taker_left(owner: np.ndarray, ev: np.ndarray, placed: np.ndarray, taker: np.ndarray) -> np.ndarray:
    """Lots left of the taker's order after each of its fills (``taker`` rows), as
    ``all_miner_notices`` counts them: from the lots of the order's latest placement in the step
    (an order id may be placed again once its order is gone), less the fills since; 0 without a
    placement in the step."""
    rows = np.concatenate((placed, taker))
    is_placed = np.arange(len(rows)) < len(placed)
    order = np.lexsort((rows, ev["order_id"][rows], ev["book"][rows], owner[rows]))
    rows, is_placed = rows[order], is_placed[order]
    key = np.stack((owner[rows], ev["book"][rows], ev["order_id"][rows]))
    new_key = np.ones(len(rows), dtype=np.bool_)
    new_key[1:] = (key[:, 1:] != key[:, :-1]).any(axis=0)
    starts = new_key | is_placed  # a segment: from a placement (or the key's first row) on
    segment = np.cumsum(starts) - 1
    lots = ev["qty_lots"][rows].astype(np.int64)
    fills = np.where(is_placed, 0, lots)
    total = np.cumsum(fills)
    first = np.flatnonzero(starts)
    since = total - (total[first] - fills[first])[segment]
    start_lots = np.where(is_placed[first], lots[first], -1)[segment]
    left = np.where(start_lots >= 0, np.maximum(0, start_lots - since), 0)
    out = np.empty(len(taker), dtype=np.int64)
    out[order[~is_placed] - len(placed)] = left[~is_placed]
    return out


def miner_account(
    book: int, record: np.void, open_orders: np.ndarray, fee_tier: int, volume_units: int, u: Units
) -> Account:
    """One miner's account on a book from its ACCOUNT_DTYPE record and ORDER_DTYPE open orders; at
    most ``MAX_ACCOUNT_ORDERS`` orders are listed (the oldest: the lowest order ids)."""
    dropped = max(0, len(open_orders) - MAX_ACCOUNT_ORDERS)
    if dropped:
        open_orders = np.sort(open_orders, order="order_id")[:MAX_ACCOUNT_ORDERS]
    orders = tuple(
        OpenOrder(oid, Side(side), u.price(price), u.qty(qty))
        for oid, side, price, qty in zip(
            open_orders["order_id"].tolist(),
            open_orders["side"].tolist(),
            open_orders["price_ticks"].tolist(),
            open_orders["qty_lots"].tolist(),
            strict=True,
        )
    )
    return Account(
        book=book,
        base=Balance(u.qty(record["base_free"]), u.qty(record["base_reserved"])),
        quote=Balance(u.quote(record["quote_free"]), u.quote(record["quote_reserved"])),
        orders=orders,
        fee_tier=int(fee_tier),
        volume=u.quote(volume_units),
        orders_dropped=dropped,
    )


@dataclass(frozen=True)
class MinerAccountData:
    """Every miner slot's accounts on every book after a step, as ``Simulation.miner_accounts``
    gives them in one call: the ACCOUNT_DTYPE ``records``, ``tiers`` (the fee tier, -1 without an
    account) and window ``volumes``, each ``(books, slots)``; and the open orders of the slots,
    grouped by book, then slot (``order_books``, ``owners``, ORDER_DTYPE ``orders``)."""

    records: np.ndarray
    tiers: np.ndarray
    volumes: np.ndarray
    order_books: np.ndarray
    owners: np.ndarray
    orders: np.ndarray

    @classmethod
    def of(cls, sim: Any, slots: int) -> MinerAccountData:
        return cls(*sim.miner_accounts(slots))


ACCOUNT_FIELDS = ("base_free", "base_reserved", "quote_free", "quote_reserved")  # engine integers


def account_columns(uids: Sequence[int], data: MinerAccountData, u: Units) -> AccountColumns:
    """The accounts of ``uids`` on every book, uid-major (uid 0's books 0…B-1, then uid 1's, …),
    as wire columns (``taos.validator.packing``): each is ``miner_account`` of that miner and book,
    converted as whole columns once for all miners and books. An account lists at most
    ``MAX_ACCOUNT_ORDERS`` orders (the oldest: the lowest order ids), as ``miner_account`` does.

    Raises:
        ValueError: a uid that is no slot, or without an account on a book.
    """
    want = np.asarray(uids, dtype=np.int64)
    nb, slots = data.tiers.shape
    n = len(want)
    if n and (want.min() < 0 or want.max() >= slots):
        raise ValueError(f"uids must lie in [0, {slots})")
    tiers = data.tiers[:, want]
    missing = np.argwhere(tiers < 0)
    if len(missing):
        b, i = (int(x) for x in missing[0])
        raise ValueError(f"book {b}: no account for uid {int(want[i])}")
    acc = {f: data.records[f][:, want].T.ravel() for f in ACCOUNT_FIELDS}  # uid-major
    # the orders of (uid, book): a run of the orders, which are grouped by book, then slot
    key = data.order_books.astype(np.int64) * slots + data.owners.astype(np.int64)
    per_cell = np.bincount(key, minlength=nb * slots)
    starts = np.cumsum(per_cell) - per_cell
    wanted = np.arange(nb, dtype=np.int64)[None, :] * slots + want[:, None]
    first, count = starts[wanted], per_cell[wanted]
    orders = data.orders
    count_flat, first_flat = count.ravel(), first.ravel()
    listed = np.minimum(count_flat, MAX_ACCOUNT_ORDERS)
    starts_out = np.concatenate(([0], np.cumsum(listed)[:-1])) if len(listed) else listed
    pick = np.repeat(first_flat - starts_out, listed) + np.arange(int(listed.sum()))
    for g in np.flatnonzero(count_flat > MAX_ACCOUNT_ORDERS):  # rare: the oldest orders
        rows = first_flat[g] + np.arange(count_flat[g])
        oldest = rows[np.argsort(orders["order_id"][rows], kind="stable")[:MAX_ACCOUNT_ORDERS]]
        pick[starts_out[g] : starts_out[g] + MAX_ACCOUNT_ORDERS] = oldest
    order_id, side, price_ticks, qty_lots = (
        orders[f][pick] for f in ("order_id", "side", "price_ticks", "qty_lots")
    )
    lot, quote_units = u.lot_size, u.quote_units
    return AccountColumns(
        book=np.tile(np.arange(nb, dtype=np.int64), n),
        base_free=np.round(acc["base_free"] * lot, 12),
        base_reserved=np.round(acc["base_reserved"] * lot, 12),
        quote_free=acc["quote_free"] / quote_units,
        quote_reserved=acc["quote_reserved"] / quote_units,
        fee_tier=tiers.T.ravel().astype(np.int64),
        volume=data.volumes[:, want].T.ravel() / quote_units,
        orders_dropped=count_flat - listed,
        order_count=listed,
        order_id=order_id.astype(np.int64),
        side=side.astype(np.int64),
        price=np.round(price_ticks * u.tick_size, 12),
        quantity=np.round(qty_lots * lot, 12),
    )


def miner_accounts(uids: Sequence[int], data: MinerAccountData, u: Units) -> dict[int, msgspec.Raw]:
    """Each uid's accounts on every book, encoded as the wire's ``tuple[Account, ...]`` (the bytes
    msgspec writes for the ``miner_account`` objects; ``taos.validator.packing``)."""
    packed = pack_accounts(account_columns(uids, data, u))
    nb = data.tiers.shape[0]
    header = array_header(nb)
    return {uid: msgspec.Raw(header + packed.span(i * nb, (i + 1) * nb)) for i, uid in enumerate(uids)}


_RECORD_FIELDS = (
    "kind",
    "book",
    "ts_ns",
    "side",
    "tif",
    "expiry_ns",
    "post_only",
    "stp",
    "currency",
    "order_id",
    "client_order_id",
)
_NO_VALUE = float("nan")


def steps_of(values: Sequence[float] | np.ndarray, step: float, up: np.ndarray | None = None) -> np.ndarray:
    """``round_down`` (``round_up`` where ``up``) of whole columns: the number of steps of each
    value, a value within the grid tolerance of a step counting as on it; 0 where NaN (no value).
    The same float operations as the scalar functions, so the same integers."""
    v = np.asarray(values, dtype=np.float64)
    present = ~np.isnan(v)
    q = np.where(present, v, 0.0) / step
    n = np.rint(q)
    near = np.abs(q - n) <= np.maximum(GRID_TOLERANCE, np.abs(n) * 1e-12)
    off = np.floor(q) if up is None else np.where(up, np.ceil(q), np.floor(q))
    return np.where(present, np.where(near, n, off), 0.0).astype(np.int64)


def to_records(uid: int, instructions: Iterable[tuple[Instruction, int]], u: Units) -> np.ndarray:
    """Engine records for a miner's accepted instructions, each with the simulated time at which it
    reaches its book (``ts_ns``, in ns). Prices are rounded toward the passive side and quantities down (the protocol's
    rounding rules; validation has refused what would round to zero). ``TargetPosition`` is not an
    engine instruction and must have been turned into a market order before. The fields are
    gathered per instruction; the conversions to ticks, lots and quote units are made for whole
    columns at once."""
    from taos.simulator import instruction_array

    rows: list[tuple[int, ...]] = []
    prices: list[float] = []
    quantities: list[float] = []
    notionals: list[float] = []
    nan = _NO_VALUE
    for ins, at_ns in instructions:
        match ins:
            case PlaceLimit():
                rows.append(
                    (
                        InstructionKind.PLACE_LIMIT,
                        ins.book,
                        at_ns,
                        ins.side,
                        ins.time_in_force,
                        ins.expiry_ns or 0,
                        ins.post_only,
                        ins.stp,
                        0,
                        0,
                        ins.client_order_id or 0,
                    )
                )
                prices.append(ins.price)
                quantities.append(ins.quantity)
                notionals.append(nan)
            case PlaceMarket():
                base = ins.currency == Currency.BASE
                rows.append(
                    (
                        InstructionKind.PLACE_MARKET,
                        ins.book,
                        at_ns,
                        ins.side,
                        0,
                        0,
                        False,
                        ins.stp,
                        ins.currency,
                        0,
                        ins.client_order_id or 0,
                    )
                )
                prices.append(nan)
                quantities.append(ins.quantity if base else nan)
                notionals.append(nan if base else ins.quantity)
            case Cancel():
                rows.append((InstructionKind.CANCEL, ins.book, at_ns, 0, 0, 0, False, 0, 0, ins.order_id, 0))
                prices.append(nan)
                quantities.append(nan if ins.quantity is None else ins.quantity)
                notionals.append(nan)
            case _:
                raise TypeError(f"{type(ins).__name__} is not an engine instruction")
    out = instruction_array(len(rows))
    if rows:
        out["agent"] = uid
        for name, column in zip(_RECORD_FIELDS, zip(*rows, strict=True), strict=True):
            out[name] = column
        sell = out["side"] == Side.SELL
        out["price_ticks"] = steps_of(prices, u.tick_size, up=sell)  # buys round down, sells up
        out["qty_lots"] = steps_of(quantities, u.lot_size)
        out["notional_quote"] = steps_of(notionals, u.tick_size * u.lot_size)
    return out
