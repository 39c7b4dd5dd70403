"""League reference: the informed trader. It knows the fundamental price ``horizon_s`` ahead, with a
relative noise of ``noise`` (a research instrument: the league runner hands it the path through
``oracle``; no such thing exists on the subnet, where it does nothing). Its edge on a book is the
forecast's distance from the mid, ``forecast / mid - 1``. What it does with it depends on the
fees, as a skilled trader's would:

- **Low fees** (the first tier's maker rate at most ``max_maker_fee``): it makes the market like the
  market maker, ``quantity`` base at the touch with post-only orders replaced each step, but around
  a target inventory of ``size`` x its starting base above or below neutral in proportion to the
  edge (the whole of it from an edge of ``full_edge`` on). It bids while it holds less than the
  target plus ``band`` x its starting base and offers while it holds more than the target minus
  that; beyond ``take_edge`` it also takes the touch toward the target.
- **High fees**: no spread pays a maker fee of that size. It holds ``eco_size`` x its starting base
  above or below neutral in the forecast's direction and trades only the volume the score asks of
  an active miner, ``min_volume`` x its wealth on the book in the last hour (read from its
  account's rolling volume), quoting at the touch with post-only orders toward that position (or a
  base on either side once there), at most ``chunk`` base a step: a maker's fee, not a taker's.

Parameters: ``horizon_s=300.0 noise=0.0001 full_edge=0.001 size=0.3 band=0.0 quantity=1.0
take_edge=0.0015 max_maker_fee=0.001 eco_size=0.1 min_volume=0.06 chunk=20.0 seed=0``. The noise and
edges are scaled to the default market, whose mid follows the fundamental within a few ticks and
moves about 7 bp in 5 minutes at the mean news intensity; with ``band=0`` it quotes only the side
toward its target, so it does not make a two-sided market against better-placed quotes."""

import random

from league_common import LeagueAgent

from taos.protocol import Side


class InformedAgent(LeagueAgent):
    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.horizon_ns = round(self.param("horizon_s", 300.0) * 1e9)
        self.noise = self.param("noise", 0.0001)
        self.full_edge = self.param("full_edge", 0.001)
        self.size = self.param("size", 0.3)
        self.band = self.param("band", 0.0)
        self.quantity = self.param("quantity", 1.0)
        self.take_edge = self.param("take_edge", 0.0015)
        self.max_maker_fee = self.param("max_maker_fee", 0.001)
        self.eco_size = self.param("eco_size", 0.1)
        self.min_volume = self.param("min_volume", 0.06)
        self.chunk = self.param("chunk", 20.0)
        self.rng = random.Random(self.param("seed", 0) or uid)
        self.reject_unknown_params()
        self.oracle = None  # (book, time_ns) -> the fundamental price then; set by the league runner

    def on_state(self, state):
        if self.oracle is None:
            return []
        cheap = self.simulation.fee_tiers[0].maker <= self.max_maker_fee
        out = []
        for book, account in self.books(state):
            forecast = self.oracle(book.book, state.timestamp_ns + self.horizon_ns)
            forecast *= 1 + self.noise * self.rng.gauss(0.0, 1.0)
            edge = forecast / book.mid - 1
            if cheap:
                out += self.make(book, account, edge)
            else:
                out += self.economy(state.timestamp_ns, book, account, edge)
        return out

    def make(self, book, account, edge):
        neutral = self.neutral(book.book)
        out = [self.cancel(book.book, o.order_id) for o in account.orders]
        target = neutral * (1 + self.size * max(-1.0, min(1.0, edge / self.full_edge)))
        held = account.base.total
        if abs(edge) > self.take_edge:
            out += self.toward(book, account, target, self.quantity)
        for side, price, wanted in (
            (Side.BUY, book.best_bid, held < target + self.band * neutral),
            (Side.SELL, book.best_ask, held > target - self.band * neutral),
        ):
            quantity = self.affordable(account, side, price, self.quantity) if wanted else 0
            if quantity > 0:
                out.append(
                    self.limit(book.book, side, self.snap_price(price, side), quantity, post_only=True)
                )
        return out

    def economy(self, now, book, account, edge):
        need = self.volume_needed(now, book, account)
        neutral = self.neutral(book.book)
        out = [self.cancel(book.book, o.order_id) for o in account.orders]
        if need <= 0:
            return out
        gap = neutral * (1 + self.eco_size * (1 if edge > 0 else -1)) - account.base.total
        if abs(gap) >= 10 * self.simulation.lot_size:
            quotes = [(Side.BUY if gap > 0 else Side.SELL, min(abs(gap), need / book.mid))]
        else:  # at the position: a base either way keeps the volume up
            quotes = [(side, min(1.0, need / book.mid)) for side in (Side.BUY, Side.SELL)]
        for side, wanted in quotes:  # at the touch, post-only: the maker fee, not the taker's
            price = book.best_bid if side == Side.BUY else book.best_ask
            quantity = self.affordable(account, side, price, min(wanted, self.chunk))
            if quantity > 0:
                out.append(
                    self.limit(book.book, side, self.snap_price(price, side), quantity, post_only=True)
                )
        return out
