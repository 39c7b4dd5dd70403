"""League reference: a random trader: on each book, with probability ``probability`` a step, an IOC
order of ``quantity`` base at the touch on a random side, staying within ``band`` x its starting
base of it.

Parameters: ``probability=0.2 quantity=0.5 band=0.5 seed=0`` (0: from the uid)."""

import random

from league_common import LeagueAgent

from taos.protocol import Side


class RandomAgent(LeagueAgent):
    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.probability = self.param("probability", 0.2)
        self.quantity = self.param("quantity", 0.5)
        self.band = self.param("band", 0.5)
        self.rng = random.Random(self.param("seed", 0) or uid)
        self.reject_unknown_params()

    def decide(self, state):
        out = []
        for book, account in self.books(state):
            if self.rng.random() >= self.probability:
                continue
            side = self.rng.choice((Side.BUY, Side.SELL))
            neutral = self.neutral(book.book)
            if abs(account.base.total - neutral) > self.band * neutral:  # back toward neutral
                side = Side.SELL if account.base.total > neutral else Side.BUY
            out += self.take(book, account, side, self.quantity)
        return out

    def on_state(self, state):
        return self.decide(state)
