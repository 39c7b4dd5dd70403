"""League reference: crosses the spread both ways on every book at every step (buys at the ask,
sells at the bid): all volume, every trade a loss of the spread and two fees.

Parameters: ``quantity=0.5``."""

from league_common import LeagueAgent

from taos.protocol import Side


class SpreadBurnerAgent(LeagueAgent):
    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.quantity = self.param("quantity", 0.5)
        self.reject_unknown_params()

    def on_state(self, state):
        out = []
        for book, account in self.books(state):
            out += self.take(book, account, Side.BUY, self.quantity)
            out += self.take(book, account, Side.SELL, self.quantity)
        return out
