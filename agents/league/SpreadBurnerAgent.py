"""League reference: crosses the spread both ways on every book at every step (buys at the ask,
sells at the bid), ``quantity`` base each way plus what brings its inventory back to neutral (a
partial fill leaves none behind): all volume and no position, every trade a loss of the spread and
two fees.

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
            off = account.base.total - self.neutral(book.book)
            out += self.take(book, account, Side.BUY, self.quantity + max(0.0, -off))
            out += self.take(book, account, Side.SELL, self.quantity + max(0.0, off))
        return out
