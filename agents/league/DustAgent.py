"""League reference: the least trading that keeps an activity factor alive: one lot per book every
``every_s`` seconds, bought and sold back in turn (its inventory stays the starting one).

Parameters: ``every_s=600.0``."""

from league_common import LeagueAgent

from taos.protocol import Side


class DustAgent(LeagueAgent):
    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.every_ns = round(self.param("every_s", 600.0) * 1e9)
        self.reject_unknown_params()
        self.last_ns = None

    def on_state(self, state):
        if self.last_ns is not None and state.timestamp_ns - self.last_ns < self.every_ns:
            return []
        self.last_ns = state.timestamp_ns
        out = []
        for book, account in self.books(state):
            side = Side.BUY if account.base.total <= self.neutral(book.book) else Side.SELL
            out += self.take(book, account, side, self.simulation.lot_size)
        return out
