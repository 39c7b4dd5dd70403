"""Conversion between the engine (integer ticks, lots and quote units; numpy records) and the
wire protocol (decimals; msgspec models). Conversion only: no decisions are made here.

- ``book_states``: a step's books and events → the shared part of every miner's state;
- ``miner_notices``: a miner's events of a step → its notices;
- ``miner_account``: a miner's account on a book after a step → an ``Account`` model;
  ``BookAccounts``: the same for every miner of a book at once (whole columns);
- ``to_records``: validated protocol instructions → engine instruction records.

Client order ids: the engine carries 0 for "none"; the protocol uses None. They are echoed on
accepted and rejected notices (the engine's events carry them there); fills and cancellations
name the order by its id.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from taos.protocol import (
    Account,
    AccountReset,
    Balance,
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
    notional_to_units,
    order_dtype,
    price_to_ticks,
    quantity_to_lots,
)
from taos.protocol.limits import MAX_ACCOUNT_ORDERS, MAX_EVENTS_PER_BOOK, MAX_LEVEL_ORDERS


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
_ORDER_DTYPE = order_dtype()


def _side(levels: np.ndarray, orders: np.ndarray, u: Units) -> tuple[bytes, bytes]:
    """One side's (levels, orders) records (``taos.protocol.levels``), from whole columns; at most
    ``MAX_LEVEL_ORDERS`` orders per level (the first in time priority)."""
    if len(orders) > MAX_LEVEL_ORDERS:
        level = orders["level"]  # grouped by level, in priority order within each
        starts = np.searchsorted(level, level, side="left")
        orders = orders[np.arange(len(orders)) - starts < MAX_LEVEL_ORDERS]
    out = np.empty(len(levels), dtype=_LEVEL_DTYPE)
    out["price"] = np.round(levels["price_ticks"] * u.tick_size, 12)
    out["quantity"] = np.round(levels["qty_lots"] * u.lot_size, 12)
    detail = np.zeros(len(orders), dtype=_ORDER_DTYPE)
    detail["order_id"] = orders["order_id"]
    detail["quantity"] = np.round(orders["qty_lots"] * u.lot_size, 12)
    detail["level"] = orders["level"]
    return out.tobytes(), detail.tobytes()


_EVENT_DTYPE = event_dtype()
_PUBLIC = np.array([EventKind.ORDER_PLACED, EventKind.TRADE, EventKind.ORDER_CANCELLED])


def _packed_public_events(ev: np.ndarray, u: Units) -> np.ndarray:
    """The public events of ``ev`` as records (``taos.protocol.events``), from whole columns.
    Prices and quantities are rounded to their steps as ``Units`` does; rejections and resets are
    left out, and no agent id travels."""
    ev = ev[np.isin(ev["kind"], _PUBLIC)]
    out = np.zeros(len(ev), dtype=_EVENT_DTYPE)
    kind = ev["kind"]
    trade, removed = kind == EventKind.TRADE, kind == EventKind.ORDER_CANCELLED
    no_price = removed | (
        (kind == EventKind.ORDER_PLACED) & (ev["price_ticks"] == 0)
    )  # removals, market orders
    out["seq"] = ev["seq"]
    out["ts_ns"] = ev["ts_ns"]
    out["order_id"] = ev["order_id"]
    out["other_order_id"] = np.where(trade, ev["other_order_id"], 0)
    out["price"] = np.where(no_price, np.nan, np.round(ev["price_ticks"] * u.tick_size, 12))
    out["quantity"] = np.round(ev["qty_lots"] * u.lot_size, 12)
    out["remaining"] = np.where(removed, np.round(ev["remaining_lots"] * u.lot_size, 12), 0.0)
    out["kind"] = kind
    out["side"] = ev["side"]
    out["reason"] = np.where(removed, ev["reason"], 0)
    return out


def public_event_records(ev: np.ndarray, u: Units) -> bytes:
    """The public events of one book's engine events, packed."""
    return _packed_public_events(ev, u).tobytes()


def book_states(books: Sequence[dict], events: np.ndarray, u: Units) -> tuple[BookState, ...]:
    """The shared part of a step's state: every book's levels (as ``StepResult.books``) and its
    public events (anonymous: no agent ids; rejections and resets are left out). The events of all
    books are packed at once, then cut per book (in each book's order); a book lists its newest
    ``MAX_EVENTS_PER_BOOK`` events and counts the older ones it leaves out."""
    book = events["book"][np.isin(events["kind"], _PUBLIC)]
    packed = _packed_public_events(events, u)
    if len(book) > 1 and bool(np.any(book[1:] < book[:-1])):
        order = np.argsort(book, kind="stable")
        book, packed = book[order], packed[order]
    bounds = np.searchsorted(book, np.arange(len(books) + 1)).tolist()
    out = []
    for b, state in enumerate(books):
        bid_levels, bid_orders = _side(state["bids"], state["bid_orders"], u)
        ask_levels, ask_orders = _side(state["asks"], state["ask_orders"], u)
        first, end = bounds[b], bounds[b + 1]
        dropped = max(0, end - first - MAX_EVENTS_PER_BOOK)
        out.append(
            BookState(
                b,
                bid_levels,
                ask_levels,
                bid_orders,
                ask_orders,
                packed[first + dropped : end].tobytes(),
                events_dropped=dropped,
            )
        )
    return tuple(out)


def _client_id(value: int) -> int | None:
    return int(value) or None


def miner_notices(uid: int, events: np.ndarray, u: Units) -> list[Notice]:
    """A miner's notices from its events of a step (``StepResult.notices(uid)``): acceptances,
    rejections (of placements and of cancels), fills as taker and maker, cancellations, resets."""
    out: list[Notice] = []
    placed: dict[tuple[int, int], int] = {}  # (book, order id) → lots left, for taker fills
    names = events.dtype.names or ()
    for row in events.tolist():  # plain tuples: numpy scalars are slow one field at a time
        e = dict(zip(names, row, strict=True))
        kind, book, ts = e["kind"], e["book"], e["ts_ns"]
        if kind == EventKind.ORDER_PLACED:
            is_market = e["price_ticks"] == 0
            placed[(book, e["order_id"])] = e["qty_lots"]
            out.append(
                OrderAccepted(
                    book=book,
                    ts_ns=ts,
                    order_id=e["order_id"],
                    side=Side(e["side"]),
                    price=None if is_market else u.price(e["price_ticks"]),
                    quantity=u.quote(e["notional_quote"])
                    if is_market and e["qty_lots"] == 0
                    else u.qty(e["qty_lots"]),
                    client_order_id=_client_id(e["client_order_id"]),
                    time_in_force=None if is_market else TimeInForce(e["tif"]),
                )
            )
        elif kind in (EventKind.ORDER_REJECTED, EventKind.CANCEL_REJECTED):
            out.append(
                OrderRejected(
                    book=book,
                    ts_ns=ts,
                    reason=RejectReason(e["reason"]),
                    client_order_id=_client_id(e["client_order_id"]),
                    order_id=e["order_id"] if kind == EventKind.CANCEL_REJECTED else None,
                )
            )
        elif kind == EventKind.TRADE:
            lots = e["qty_lots"]
            if e["agent"] == uid:  # the taker's fill
                key = (book, e["order_id"])
                left = max(0, placed.get(key, lots) - lots)
                placed[key] = left
                out.append(
                    OrderFilled(
                        book,
                        ts,
                        e["order_id"],
                        Side(e["side"]),
                        u.price(e["price_ticks"]),
                        u.qty(lots),
                        u.quote(e["taker_fee"]),
                        False,
                        u.qty(left),
                    )
                )
            if e["other_agent"] == uid:  # the maker's fill (both, for a self-trade)
                maker_side = Side.SELL if e["side"] == Side.BUY else Side.BUY
                out.append(
                    OrderFilled(
                        book,
                        ts,
                        e["other_order_id"],
                        maker_side,
                        u.price(e["price_ticks"]),
                        u.qty(lots),
                        u.quote(e["maker_fee"]),
                        True,
                        u.qty(e["remaining_lots"]),
                    )
                )
        elif kind == EventKind.ORDER_CANCELLED:
            out.append(
                OrderCancelled(
                    book,
                    ts,
                    e["order_id"],
                    u.qty(e["qty_lots"]),
                    u.qty(e["remaining_lots"]),
                    CancelReason(e["reason"]),
                )
            )
        elif kind == EventKind.ACCOUNT_RESET:
            out.append(AccountReset(book, ts))
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


_SIDES = {int(side): side for side in Side}


class BookAccounts:
    """Every miner's account on one book after a step, converted for the wire once for all of them
    (whole columns, as the books are): ``account(uid)`` is ``miner_account`` of that miner.

    ``records`` are the book's ACCOUNT_DTYPE records (``StepResult.accounts[book]``), ``owners``
    and ``orders`` the book's miner orders grouped by agent (``Simulation.miner_orders``), ``tiers``
    and ``volumes`` the fee tier and window volume of every slot (``Simulation.miner_fees``)."""

    def __init__(
        self,
        book: int,
        records: np.ndarray,
        owners: np.ndarray,
        orders: np.ndarray,
        tiers: np.ndarray,
        volumes: np.ndarray,
        u: Units,
    ) -> None:
        slots = len(tiers)
        self.book = book
        self._records = records
        self._row = np.full(slots, -1, dtype=np.int64)  # slot → row of ``records``
        mine = records["agent"] < slots
        self._row[records["agent"][mine]] = np.flatnonzero(mine)
        self._orders = orders
        self._starts = np.searchsorted(owners, np.arange(slots + 1)).tolist()
        self._units = u
        lot, quote_units = u.lot_size, u.quote_units
        self._base_free = np.round(records["base_free"] * lot, 12).tolist()
        self._base_reserved = np.round(records["base_reserved"] * lot, 12).tolist()
        self._quote_free = (records["quote_free"] / quote_units).tolist()
        self._quote_reserved = (records["quote_reserved"] / quote_units).tolist()
        self._tiers = tiers.tolist()
        self._volumes = (volumes / quote_units).tolist()
        self._volume_units = volumes
        self._order_ids = orders["order_id"].tolist()
        self._sides = [_SIDES[s] for s in orders["side"].tolist()]
        self._prices = np.round(orders["price_ticks"] * u.tick_size, 12).tolist()
        self._qtys = np.round(orders["qty_lots"] * lot, 12).tolist()

    def account(self, uid: int) -> Account:
        first, end = self._starts[uid], self._starts[uid + 1]
        row = int(self._row[uid])
        if end - first > MAX_ACCOUNT_ORDERS:  # rare: the oldest orders, as miner_account lists them
            return miner_account(
                self.book,
                self._records[row],
                self._orders[first:end],
                self._tiers[uid],
                int(self._volume_units[uid]),
                self._units,
            )
        return Account(
            self.book,
            Balance(self._base_free[row], self._base_reserved[row]),
            Balance(self._quote_free[row], self._quote_reserved[row]),
            tuple(
                map(
                    OpenOrder,
                    self._order_ids[first:end],
                    self._sides[first:end],
                    self._prices[first:end],
                    self._qtys[first:end],
                )
            ),
            self._tiers[uid],
            self._volumes[uid],
        )


def to_records(uid: int, instructions: Iterable[tuple[Instruction, int]], u: Units) -> np.ndarray:
    """Engine records for a miner's accepted instructions, each with its delay in ns from the step
    start (``ts_ns``). Prices are rounded toward the passive side and quantities down (the protocol's
    rounding rules; validation has refused what would round to zero). ``TargetPosition`` is not an
    engine instruction and must have been turned into a market order before."""
    from taos.simulator import instruction_array

    items = list(instructions)
    out = instruction_array(len(items))
    for r, (ins, delay_ns) in zip(out, items, strict=True):
        r["agent"] = uid
        r["book"] = ins.book
        r["ts_ns"] = delay_ns
        match ins:
            case PlaceLimit():
                r["kind"] = InstructionKind.PLACE_LIMIT
                r["side"] = ins.side
                r["price_ticks"] = price_to_ticks(ins.price, u.tick_size, ins.side)
                r["qty_lots"] = quantity_to_lots(ins.quantity, u.lot_size)
                r["tif"] = ins.time_in_force
                r["expiry_ns"] = ins.expiry_ns or 0
                r["post_only"] = ins.post_only
                r["stp"] = ins.stp
                r["client_order_id"] = ins.client_order_id or 0
            case PlaceMarket():
                r["kind"] = InstructionKind.PLACE_MARKET
                r["side"] = ins.side
                r["currency"] = ins.currency
                if ins.currency == Currency.BASE:
                    r["qty_lots"] = quantity_to_lots(ins.quantity, u.lot_size)
                else:
                    r["notional_quote"] = notional_to_units(ins.quantity, u.tick_size, u.lot_size)
                r["stp"] = ins.stp
                r["client_order_id"] = ins.client_order_id or 0
            case Cancel():
                r["kind"] = InstructionKind.CANCEL
                r["order_id"] = ins.order_id
                r["qty_lots"] = 0 if ins.quantity is None else quantity_to_lots(ins.quantity, u.lot_size)
            case _:
                raise TypeError(f"{type(ins).__name__} is not an engine instruction")
    return out
