"""Sends a market order of random side and size to each book with a given probability.

Parameters: ``min_quantity`` and ``max_quantity`` (base), ``probability`` (per book
and state). The random stream is seeded by the uid.
"""

import random

from taos.agents import Agent
from taos.protocol import BookEvents, Instruction, MarketState, Side


class RandomTakerAgent(Agent):
    book_events = BookEvents.NONE  # it reads the levels only: its states carry no events

    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.min_quantity = self.param("min_quantity", 0.1)
        self.max_quantity = self.param("max_quantity", 1.0)
        self.probability = self.param("probability", 0.5)
        self.reject_unknown_params()
        if not 0 < self.min_quantity <= self.max_quantity:
            raise ValueError("need 0 < min_quantity <= max_quantity")
        if not 0 <= self.probability <= 1:
            raise ValueError("probability must be in [0, 1]")
        self.rng = random.Random(uid)

    def on_state(self, state: MarketState) -> list[Instruction]:
        accounts = {a.book: a for a in state.accounts}
        out: list[Instruction] = []
        for book in state.books:
            account = accounts.get(book.book)
            if account is None or self.rng.random() >= self.probability:
                continue
            side = self.rng.choice((Side.BUY, Side.SELL))
            quantity = self.snap_quantity(self.rng.uniform(self.min_quantity, self.max_quantity))
            if side == Side.BUY:
                # Pay at most the free quote for the quantity at the best ask plus 1 % for fees and slippage.
                ok = book.best_ask is not None and account.quote.free >= quantity * book.best_ask * 1.01
            else:
                ok = book.best_bid is not None and account.base.free >= quantity
            if ok and quantity > 0:
                out.append(self.market(book.book, side, quantity))
        return out
