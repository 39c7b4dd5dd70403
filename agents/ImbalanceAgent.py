"""Trades in the direction of the order-book imbalance.

Per book, imbalance = (bid depth - ask depth) / (bid depth + ask depth) over the top
``depth_levels`` levels. Above ``threshold`` the agent buys, below ``-threshold`` it sells:
``quantity`` (base) or less, what its free balance pays for, as an IOC limit order at the best
opposite price. IOC at the touch fills at most what that level holds and never pays more than
that price, so the cost is known when the order is sent; what does not fill is cancelled.
After an order a book is left alone for ``cooldown_s`` seconds of simulated time.

Parameters: ``depth_levels=5 threshold=0.3 quantity=0.1 cooldown_s=30.0``.
"""

import math

from taos.agents import Agent
from taos.protocol import (
    Account,
    BookEvents,
    BookState,
    Instruction,
    MarketState,
    Side,
    SimulationInfo,
    TimeInForce,
)

LEVELS = 21  # the levels a state carries per side


class ImbalanceAgent(Agent):
    book_events = BookEvents.NONE  # it reads the levels only: its states carry no events

    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.depth_levels = self.param("depth_levels", 5)
        self.threshold = self.param("threshold", 0.3)
        self.quantity = self.param("quantity", 0.1)
        self.cooldown_s = self.param("cooldown_s", 30.0)
        self.reject_unknown_params()
        if not 1 <= self.depth_levels <= LEVELS:
            raise ValueError(f"depth_levels must be in [1, {LEVELS}], got {self.depth_levels}")
        if not 0 <= self.threshold < 1:
            raise ValueError(f"threshold must be in [0, 1), got {self.threshold}")
        if not (self.quantity > 0 and math.isfinite(self.quantity)):
            raise ValueError(f"quantity must be a finite number > 0, got {self.quantity}")
        if not (self.cooldown_s >= 0 and math.isfinite(self.cooldown_s)):
            raise ValueError(f"cooldown_s must be a finite number >= 0, got {self.cooldown_s}")
        self.last_order_ns: dict[int, int] = {}  # book -> time of the agent's last order there
        self.fee = 0.0  # the highest taker fee rate, kept in hand when buying

    def on_start(self, simulation: SimulationInfo) -> None:
        self.last_order_ns.clear()  # a new simulation starts its clock again
        self.fee = max([0.0, *(t.taker for t in simulation.fee_tiers)])

    def imbalance(self, book: BookState) -> float | None:
        """Depth imbalance of the top ``depth_levels`` levels in [-1, 1]; None for an empty book."""
        bid = float(book.bid_array["quantity"][: self.depth_levels].sum())
        ask = float(book.ask_array["quantity"][: self.depth_levels].sum())
        return (bid - ask) / (bid + ask) if bid + ask > 0 else None

    def on_state(self, state: MarketState) -> list[Instruction]:
        accounts = {a.book: a for a in state.accounts}
        cooldown_ns = round(self.cooldown_s * 1e9)
        out: list[Instruction] = []
        for book in state.books:
            account = accounts.get(book.book)
            last = self.last_order_ns.get(book.book)
            if account is None or (last is not None and state.timestamp_ns - last < cooldown_ns):
                continue
            imbalance = self.imbalance(book)
            if imbalance is None or abs(imbalance) <= self.threshold:
                continue
            side = Side.BUY if imbalance > 0 else Side.SELL
            price = book.best_ask if side == Side.BUY else book.best_bid
            if price is None:  # nothing to trade against
                continue
            price = self.snap_price(price, side)
            quantity = self.snap_quantity(min(self.quantity, self.affordable(account, side, price)))
            if quantity <= 0:
                continue
            out.append(self.limit(book.book, side, price, quantity, time_in_force=TimeInForce.IOC))
            self.last_order_ns[book.book] = state.timestamp_ns
        return out

    def affordable(self, account: Account, side: Side, price: float) -> float:
        """The base quantity the free balance pays for at ``price``, keeping the highest taker fee."""
        if side == Side.SELL:
            return account.base.free
        return account.quote.free / (price * (1 + self.fee))
