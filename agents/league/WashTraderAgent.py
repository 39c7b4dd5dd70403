"""League reference: one of two colluding wash traders. Each trades as RandomAgent does and, on top,
the pair trades ``wash`` base with each other on every book at every step: the ``partner`` with the
lower uid rests a limit order inside the spread, the other takes it in the same step 1 ms later,
the sides alternating so that neither's inventory drifts. The volume is real to the validator; the
fees are too.

Parameters: as RandomAgent, plus ``partner`` (uid, required) and ``wash=1.0``."""

from RandomAgent import RandomAgent

from taos.protocol import Side, TimeInForce


class WashTraderAgent(RandomAgent):
    def __init__(self, uid, params=None):
        rest = dict(params or {})  # RandomAgent's parameters, once these two are taken out
        partner, wash = rest.pop("partner", None), rest.pop("wash", 1.0)
        super().__init__(uid, rest)
        if not isinstance(partner, int) or partner == uid:
            raise ValueError("partner must be the other wash trader's uid")
        self.partner, self.wash = partner, float(wash)
        self.steps = 0

    def on_state(self, state):
        out = self.decide(state)
        self.steps += 1
        maker = self.uid < self.partner
        tick = self.simulation.tick_size
        for book, _account in self.books(state):
            if book.best_ask - book.best_bid < 2 * tick - 1e-12:
                continue  # no price strictly inside the spread
            price = round((book.best_bid + book.best_ask) / 2 / tick) * tick
            sell = (self.steps % 2 == 0) == maker  # the maker sells on even steps, buys on odd ones
            side = Side.SELL if sell else Side.BUY
            quantity = self.snap_quantity(self.wash)
            if maker:
                out.append(
                    self.limit(
                        book.book,
                        side,
                        price,
                        quantity,
                        time_in_force=TimeInForce.GTT,
                        expiry_ns=state.timestamp_ns + 1_000_000_000,
                    )
                )
            else:
                out.append(
                    self.limit(
                        book.book, side, price, quantity, time_in_force=TimeInForce.IOC, delay_ns=100_000_000
                    )
                )
        return out
