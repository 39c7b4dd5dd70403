"""League reference: a market maker with inventory control. On every book it keeps one bid and one
ask of ``quantity`` base at the touch (replaced each step), and quotes only the side that brings its
inventory back once it is more than ``band`` x its starting base away from neutral.

How much it quotes depends on the fees, as a skilled market maker's quotes would: when the maker fee
(the first tier's) is above ``max_maker_fee`` no spread of a liquid book pays it, so it quotes only
while its volume on the book over the last hour is below ``min_volume`` x its starting wealth there
(what a book needs to count), and no more than that.

Parameters: ``quantity=0.5 band=0.2 max_maker_fee=0.001 min_volume=0.06``."""

from league_common import LeagueAgent

from taos.protocol import Side


class MarketMakerAgent(LeagueAgent):
    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.quantity = self.param("quantity", 0.5)
        self.band = self.param("band", 0.2)
        self.max_maker_fee = self.param("max_maker_fee", 0.001)
        self.min_volume = self.param("min_volume", 0.06)
        self.reject_unknown_params()

    def on_state(self, state):
        maker = self.simulation.fee_tiers[0].maker if self.simulation.fee_tiers else 0.0
        out = []
        for book, account in self.books(state):
            out += [self.cancel(book.book, o.order_id) for o in account.orders]
            most = self.quantity
            if maker > self.max_maker_fee:
                most = min(most, self.volume_needed(state.timestamp_ns, book, account) / book.mid)
            neutral = self.neutral(book.book)
            off = (account.base.total - neutral) / neutral
            sides = []
            if off < self.band:
                sides.append((Side.BUY, book.best_bid))
            if off > -self.band:
                sides.append((Side.SELL, book.best_ask))
            for side, price in sides:
                quantity = self.affordable(account, side, price, most)
                if quantity > 0:
                    out.append(
                        self.limit(book.book, side, self.snap_price(price, side), quantity, post_only=True)
                    )
        return out
