"""League reference: a market maker with inventory control. On every book it keeps one bid and one
ask of ``quantity`` base at the touch (replaced each step), and quotes only the side that brings its
inventory back once it is more than ``band`` x its starting base away from neutral.

Parameters: ``quantity=0.5 band=0.2``."""

from league_common import LeagueAgent

from taos.protocol import Side


class MarketMakerAgent(LeagueAgent):
    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.quantity = self.param("quantity", 0.5)
        self.band = self.param("band", 0.2)
        self.reject_unknown_params()

    def on_state(self, state):
        out = []
        for book, account in self.books(state):
            out += [self.cancel(book.book, o.order_id) for o in account.orders]
            neutral = self.neutral(book.book)
            off = (account.base.total - neutral) / neutral
            sides = []
            if off < self.band:
                sides.append((Side.BUY, book.best_bid))
            if off > -self.band:
                sides.append((Side.SELL, book.best_ask))
            for side, price in sides:
                quantity = self.affordable(account, side, price, self.quantity)
                if quantity > 0:
                    out.append(
                        self.limit(book.book, side, self.snap_price(price, side), quantity, post_only=True)
                    )
        return out
