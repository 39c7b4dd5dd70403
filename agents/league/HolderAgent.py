"""League reference: buys ``fraction`` more base than it starts with on every book once, then holds
(its return is the market's drift on that inventory, not trading skill).

Parameters: ``fraction=0.5 chunk=2.0`` (base per step while buying)."""

from league_common import LeagueAgent


class HolderAgent(LeagueAgent):
    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.fraction = self.param("fraction", 0.5)
        self.chunk = self.param("chunk", 2.0)
        self.reject_unknown_params()

    def on_state(self, state):
        out = []
        for book, account in self.books(state):
            out += self.toward(book, account, self.neutral(book.book) * (1 + self.fraction), self.chunk)
        return out
