"""What the league's reference agents share: trading at the touch toward a base inventory.

The reference agents (``taos league``, docs/scoring.md) are research instruments with known skill:
each is a few lines of strategy on top of :class:`LeagueAgent`, whose helpers read a book's touch
and the agent's own account and send IOC limit orders at the best opposite price (the cost is
known when the order is sent; what does not fill is cancelled).
"""

from taos.agents import Agent
from taos.protocol import Account, BookEvents, BookState, Instruction, MarketState, Side, TimeInForce

HOUR_NS = 3_600_000_000_000


class LeagueAgent(Agent):
    book_events = BookEvents.NONE  # they read the levels only

    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.fee = 0.005  # the highest taker fee rate, kept in hand when buying (set at the start)
        self.volumes = {}  # book -> [(time_ns, the account's rolling volume then)], the last hour

    def on_start(self, simulation):
        self.fee = max([0.0, *(t.taker for t in simulation.fee_tiers)])

    def neutral(self, book: int) -> float:
        """The starting base inventory on ``book``."""
        return self.simulation.capital[book].base

    def volume_needed(self, now: int, book: BookState, account: Account) -> float:
        """The volume (quote) still missing on ``book`` over the last hour for the book to count in
        the score: ``self.min_volume`` (a parameter of the agents that call this) x the starting
        wealth there, less what the account traded since an hour ago (its rolling volume, recorded
        at each call)."""
        marks = self.volumes.setdefault(book.book, [])
        marks.append((now, account.volume))
        while len(marks) > 1 and marks[1][0] <= now - HOUR_NS:
            marks.pop(0)
        wealth = self.simulation.capital[book.book].quote + self.neutral(book.book) * book.mid
        return max(0.0, self.min_volume * wealth - (account.volume - marks[0][1]))

    def books(self, state: MarketState):
        """(book state, own account) of every book where both sides have a price."""
        accounts = {a.book: a for a in state.accounts}
        for book in state.books:
            account = accounts.get(book.book)
            if account is not None and book.best_bid is not None and book.best_ask is not None:
                yield book, account

    def affordable(self, account: Account, side: Side, price: float, quantity: float) -> float:
        """At most ``quantity`` base, what the free balance pays for (a buy keeps the fee in hand),
        on the lot."""
        if side == Side.BUY:
            quantity = min(quantity, account.quote.free / (price * (1 + self.fee)))
        else:
            quantity = min(quantity, account.base.free)
        return self.snap_quantity(max(0.0, quantity))

    def take(self, book: BookState, account: Account, side: Side, quantity: float) -> list[Instruction]:
        """An IOC order for up to ``quantity`` base at the touch, what the free balance pays for."""
        price = book.best_ask if side == Side.BUY else book.best_bid
        quantity = self.affordable(account, side, price, quantity)
        if quantity <= 0:
            return []
        price = self.snap_price(price, side)
        return [self.limit(book.book, side, price, quantity, time_in_force=TimeInForce.IOC)]

    def toward(self, book: BookState, account: Account, target: float, most: float) -> list[Instruction]:
        """At most ``most`` base at the touch toward a base inventory of ``target``."""
        gap = target - account.base.total
        if abs(gap) < self.simulation.lot_size:
            return []
        return self.take(book, account, Side.BUY if gap > 0 else Side.SELL, min(abs(gap), most))
