"""Conversion between the engine (integer ticks, lots and quote units; numpy records) and the
wire protocol (decimals; msgspec models). Conversion only: no decisions are made here.

- ``book_states``: a step's books and events → the shared part of every miner's state;
- ``miner_notices``: a miner's events of a step → its notices;
- ``miner_accounts``: a miner's accounts after a step → ``Account`` models;
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
    Level,
    LevelOrder,
    Notice,
    OpenOrder,
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
    TimeInForce,
    Trade,
    from_steps,
    price_to_ticks,
    quantity_to_lots,
)
from taos.protocol.state import BookEvent


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


def _levels(levels: np.ndarray, orders: np.ndarray, u: Units) -> tuple[Level, ...]:
    by_level: dict[int, list[LevelOrder]] = {}
    order_qty = np.round(orders["qty_lots"] * u.lot_size, 12).tolist()
    for level, oid, q in zip(orders["level"].tolist(), orders["order_id"].tolist(), order_qty, strict=True):
        by_level.setdefault(level, []).append(LevelOrder(oid, q))
    prices = np.round(levels["price_ticks"] * u.tick_size, 12).tolist()
    qtys = np.round(levels["qty_lots"] * u.lot_size, 12).tolist()
    return tuple(
        Level(p, q, tuple(by_level.get(i, ()))) for i, (p, q) in enumerate(zip(prices, qtys, strict=True))
    )


def _public_events(ev: np.ndarray, u: Units) -> tuple[BookEvent, ...]:
    """The public events of one book, built from whole columns (numpy scalars are slow one by one).
    Prices and quantities are rounded to their steps as ``Units`` does."""
    keep = np.isin(ev["kind"], (EventKind.ORDER_PLACED, EventKind.TRADE, EventKind.ORDER_CANCELLED))
    ev = ev[keep]
    price = np.round(ev["price_ticks"] * u.tick_size, 12).tolist()
    qty = np.round(ev["qty_lots"] * u.lot_size, 12).tolist()
    left = np.round(ev["remaining_lots"] * u.lot_size, 12).tolist()
    cols = zip(
        ev["kind"].tolist(), ev["seq"].tolist(), ev["ts_ns"].tolist(), ev["order_id"].tolist(),
        ev["other_order_id"].tolist(), ev["side"].tolist(), ev["price_ticks"].tolist(), ev["reason"].tolist(),
        price, qty, left, strict=True,
    )  # fmt: skip
    sides = {int(s): s for s in Side}
    reasons = {int(r): r for r in CancelReason}
    out: list[BookEvent] = []
    for kind, seq, ts, oid, other, side, ticks, reason, p, q, rem in cols:
        if kind == EventKind.ORDER_PLACED:
            out.append(OrderPlaced(seq, ts, oid, sides[side], p if ticks else None, q))
        elif kind == EventKind.TRADE:
            out.append(Trade(seq, ts, oid, other, sides[side], p, q))
        else:
            out.append(OrderRemoved(seq, ts, oid, sides[side], q, rem, reasons[reason]))
    return tuple(out)


def book_states(books: Sequence[dict], events: np.ndarray, u: Units) -> tuple[BookState, ...]:
    """The shared part of a step's state: every book's levels (as ``StepResult.books``) and its
    public events (anonymous: no agent ids; rejections and resets are left out)."""
    out = []
    for b, book in enumerate(books):
        public = _public_events(events[events["book"] == b], u)
        out.append(
            BookState(
                book=b,
                bids=_levels(book["bids"], book["bid_orders"], u),
                asks=_levels(book["asks"], book["ask_orders"], u),
                events=public,
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
    for e in events:
        kind, book, ts = int(e["kind"]), int(e["book"]), int(e["ts_ns"])
        if kind == EventKind.ORDER_PLACED:
            is_market = e["price_ticks"] == 0
            placed[(book, int(e["order_id"]))] = int(e["qty_lots"])
            out.append(
                OrderAccepted(
                    book=book,
                    ts_ns=ts,
                    order_id=int(e["order_id"]),
                    side=Side(int(e["side"])),
                    price=None if is_market else u.price(e["price_ticks"]),
                    quantity=u.quote(e["notional_quote"])
                    if is_market and e["qty_lots"] == 0
                    else u.qty(e["qty_lots"]),
                    client_order_id=_client_id(e["client_order_id"]),
                    time_in_force=None if is_market else TimeInForce(int(e["tif"])),
                )
            )
        elif kind in (EventKind.ORDER_REJECTED, EventKind.CANCEL_REJECTED):
            out.append(
                OrderRejected(
                    book=book,
                    ts_ns=ts,
                    reason=RejectReason(int(e["reason"])),
                    client_order_id=_client_id(e["client_order_id"]),
                    order_id=int(e["order_id"]) if kind == EventKind.CANCEL_REJECTED else None,
                )
            )
        elif kind == EventKind.TRADE:
            lots = int(e["qty_lots"])
            if int(e["agent"]) == uid:  # the taker's fill
                key = (book, int(e["order_id"]))
                left = max(0, placed.get(key, lots) - lots)
                placed[key] = left
                out.append(
                    OrderFilled(
                        book,
                        ts,
                        int(e["order_id"]),
                        Side(int(e["side"])),
                        u.price(e["price_ticks"]),
                        u.qty(lots),
                        u.quote(e["taker_fee"]),
                        False,
                        u.qty(left),
                    )
                )
            if int(e["other_agent"]) == uid:  # the maker's fill (both, for a self-trade)
                maker_side = Side.SELL if int(e["side"]) == Side.BUY else Side.BUY
                out.append(
                    OrderFilled(
                        book,
                        ts,
                        int(e["other_order_id"]),
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
                    int(e["order_id"]),
                    u.qty(e["qty_lots"]),
                    u.qty(e["remaining_lots"]),
                    CancelReason(int(e["reason"])),
                )
            )
        elif kind == EventKind.ACCOUNT_RESET:
            out.append(AccountReset(book, ts))
    return out


def miner_account(
    book: int, record: np.void, open_orders: np.ndarray, fee_tier: int, volume_units: int, u: Units
) -> Account:
    """One miner's account on a book from its ACCOUNT_DTYPE record and ORDER_DTYPE open orders."""
    orders = tuple(
        OpenOrder(int(o["order_id"]), Side(int(o["side"])), u.price(o["price_ticks"]), u.qty(o["qty_lots"]))
        for o in open_orders
    )
    return Account(
        book=book,
        base=Balance(u.qty(record["base_free"]), u.qty(record["base_reserved"])),
        quote=Balance(u.quote(record["quote_free"]), u.quote(record["quote_reserved"])),
        orders=orders,
        fee_tier=int(fee_tier),
        volume=u.quote(volume_units),
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
                    r["notional_quote"] = int(ins.quantity * u.quote_units)
                r["stp"] = ins.stp
                r["client_order_id"] = ins.client_order_id or 0
            case Cancel():
                r["kind"] = InstructionKind.CANCEL
                r["order_id"] = ins.order_id
                r["qty_lots"] = 0 if ins.quantity is None else quantity_to_lots(ins.quantity, u.lot_size)
            case _:
                raise TypeError(f"{type(ins).__name__} is not an engine instruction")
    return out
