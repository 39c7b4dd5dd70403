"""Quotes one bid and one ask a few ticks around the mid on every book, at random.

Parameters: ``min_quantity`` and ``max_quantity`` (base), ``max_offset_ticks`` (the
farthest quote from the mid), ``expiry_period`` (seconds a quote rests before the
exchange cancels it), ``max_open_orders`` (per book; the oldest are cancelled
beyond it). The random stream is seeded by the uid.
"""

import random

from taos.agents import Agent
from taos.protocol import Account, BookEvents, Instruction, MarketState, Side, TimeInForce


class RandomMakerAgent(Agent):
    book_events = BookEvents.NONE  # it reads the levels only: its states carry no events

    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.min_quantity = self.param("min_quantity", 0.1)
        self.max_quantity = self.param("max_quantity", 1.0)
        self.max_offset_ticks = self.param("max_offset_ticks", 10)
        self.expiry_period = self.param("expiry_period", 60.0)
        self.max_open_orders = self.param("max_open_orders", 10)
        self.reject_unknown_params()
        if not 0 < self.min_quantity <= self.max_quantity:
            raise ValueError("need 0 < min_quantity <= max_quantity")
        if self.max_offset_ticks < 1 or self.expiry_period <= 0 or self.max_open_orders < 2:
            raise ValueError("need max_offset_ticks >= 1, expiry_period > 0, max_open_orders >= 2")
        self.rng = random.Random(uid)

    def on_state(self, state: MarketState) -> list[Instruction]:
        sim = state.simulation
        accounts = {a.book: a for a in state.accounts}
        expiry_ns = state.timestamp_ns + int(self.expiry_period * 1e9)
        out: list[Instruction] = []
        for book in state.books:
            account = accounts.get(book.book)
            reference = book.mid or book.best_bid or book.best_ask
            if account is None or reference is None:
                continue
            # Make room: cancel the oldest orders beyond the limit (two new quotes follow).
            orders = sorted(account.orders, key=lambda o: o.order_id)
            for order in orders[: max(0, len(orders) + 2 - self.max_open_orders)]:
                out.append(self.cancel(book.book, order.order_id))
            mid_ticks = round(reference / sim.tick_size)
            for side in (Side.BUY, Side.SELL):
                offset = self.rng.randint(1, self.max_offset_ticks)
                ticks = mid_ticks - offset if side == Side.BUY else mid_ticks + offset
                if ticks < 1:
                    continue
                price = self.snap_price(ticks * sim.tick_size, side)
                quantity = self.snap_quantity(self.rng.uniform(self.min_quantity, self.max_quantity))
                if quantity > 0 and self._affordable(account, side, price, quantity):
                    out.append(
                        self.limit(
                            book.book,
                            side,
                            price,
                            quantity,
                            time_in_force=TimeInForce.GTT,
                            expiry_ns=expiry_ns,
                        )
                    )
        return out

    def _affordable(self, account: Account, side: Side, price: float, quantity: float) -> bool:
        if side == Side.SELL:
            return account.base.free >= quantity
        worst_fee = max((max(t.maker, t.taker) for t in self.simulation.fee_tiers), default=0.0)
        return account.quote.free >= price * quantity * (1 + max(worst_fee, 0.0))
