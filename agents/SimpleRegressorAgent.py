"""Online regression of the next mid move on order-book features (scikit-learn).

Every state, for each book with a bid and an ask, the agent computes features: the depth
imbalance of the top level and of the top 5 levels, the spread in ticks, the last two mid
returns and the signed trade flow since the last state ((buy - sell) / (buy + sell) of the
trades' base volume, by aggressor). The target is the book's next relative mid change. The
books share one model: each state it learns (``partial_fit``) from the previous state's features
and the move that followed, on every book at once, then predicts the next move of each book.
Features are standardised online (``StandardScaler.partial_fit``); the model learns the move in
basis points (1e-4), so the defaults of the regressors' step sizes and margins fit it.

When ``|prediction| > signal_threshold`` (a relative move) and at least ``min_samples`` moves
were learned, the agent keeps one passive order on the book: a post-only GTT limit order
(``expiry_period`` seconds) at the best price of the predicted side (buy at the best bid, sell
at the best ask), of a quantity from ``min_quantity`` at the threshold to ``max_quantity`` at
twice the threshold, capped by the free balance (no order when that is below ``min_quantity``).
Its other orders on the book are cancelled; an order already resting there is left alone.

Parameters: ``min_quantity=0.1 max_quantity=1.0 expiry_period=200.0
model=PassiveAggressiveRegressor signal_threshold=0.0025 min_samples=20``.
``model`` is ``PassiveAggressiveRegressor`` or ``SGDRegressor``.
"""

import math
import re

import numpy as np

try:
    import sklearn
    from sklearn.linear_model import SGDRegressor
    from sklearn.preprocessing import StandardScaler
except ImportError as e:
    raise ImportError(f"SimpleRegressorAgent needs scikit-learn: pip install scikit-learn ({e})") from e

from taos.agents import Agent
from taos.protocol import (
    Account,
    BookEvents,
    BookState,
    EventKind,
    Instruction,
    MarketState,
    Side,
    SimulationInfo,
    TimeInForce,
)

BPS = 1e4  # the model's unit: basis points of the mid


def passive_aggressive(seed: int):
    """PA-I regression. scikit-learn 1.8 deprecated ``PassiveAggressiveRegressor`` (removed in 1.10)
    for this ``SGDRegressor``, which computes the same updates."""
    if tuple(int(x) for x in re.findall(r"\d+", sklearn.__version__)[:2]) >= (1, 8):
        return SGDRegressor(
            loss="epsilon_insensitive", penalty=None, learning_rate="pa1", eta0=1.0, random_state=seed
        )
    from sklearn.linear_model import PassiveAggressiveRegressor

    return PassiveAggressiveRegressor(random_state=seed)


MODELS = {
    "PassiveAggressiveRegressor": passive_aggressive,
    # squared loss; a larger first step than the default 0.01 learns in tens of states, not hundreds
    "SGDRegressor": lambda seed: SGDRegressor(eta0=0.05, random_state=seed),
}


class SimpleRegressorAgent(Agent):
    book_events = BookEvents.TRADES  # its order-flow feature reads the trades only

    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.min_quantity = self.param("min_quantity", 0.1)
        self.max_quantity = self.param("max_quantity", 1.0)
        self.expiry_period = self.param("expiry_period", 200.0)
        self.model_name = self.param("model", "PassiveAggressiveRegressor")
        self.signal_threshold = self.param("signal_threshold", 0.0025)
        self.min_samples = self.param("min_samples", 20)
        self.reject_unknown_params()
        if not 0 < self.min_quantity <= self.max_quantity < math.inf:
            raise ValueError("need 0 < min_quantity <= max_quantity (finite)")
        if not 0 < self.expiry_period < math.inf:
            raise ValueError(f"expiry_period must be a finite number > 0, got {self.expiry_period}")
        if not 0 < self.signal_threshold < math.inf:
            raise ValueError(f"signal_threshold must be a finite number > 0, got {self.signal_threshold}")
        if self.min_samples < 1:
            raise ValueError(f"min_samples must be >= 1, got {self.min_samples}")
        if self.model_name not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, got {self.model_name!r}")
        self.model = MODELS[self.model_name](uid)
        self.scaler = StandardScaler()
        self.samples = 0  # moves learned
        self.last: dict[int, tuple[float, np.ndarray]] = {}  # book -> (mid, features) at the last state
        self.tick_size = 0.01
        self.fee = 0.0  # the highest fee rate, kept in hand when buying

    def on_start(self, simulation: SimulationInfo) -> None:
        self.last.clear()  # the model is kept: a new simulation has the same kind of market
        self.tick_size = simulation.tick_size
        self.fee = max([0.0, *(max(t.maker, t.taker) for t in simulation.fee_tiers)])

    def features(self, book: BookState, mid: float) -> np.ndarray:
        bids, asks = book.bid_array, book.ask_array
        bid1, ask1 = bids["quantity"][0], asks["quantity"][0]
        bid5, ask5 = bids["quantity"][:5].sum(), asks["quantity"][:5].sum()
        events = book.event_array
        trades = events[events["kind"] == EventKind.TRADE]  # a trade's side is the aggressor's
        buy = trades["quantity"][trades["side"] == Side.BUY].sum()
        sell = trades["quantity"][trades["side"] == Side.SELL].sum()
        previous = self.last.get(book.book)
        ret1 = (mid / previous[0] - 1) * BPS if previous else 0.0
        ret2 = previous[1][3] if previous else 0.0  # the previous state's ret1
        return np.array(
            [
                (bid1 - ask1) / (bid1 + ask1),
                (bid5 - ask5) / (bid5 + ask5),
                (asks["price"][0] - bids["price"][0]) / self.tick_size,
                ret1,
                ret2,
                (buy - sell) / (buy + sell) if buy + sell > 0 else 0.0,
            ]
        )

    def on_state(self, state: MarketState) -> list[Instruction]:
        # Learn the moves since the last state, then predict the next ones.
        rows, learn_x, learn_y = {}, [], []
        for book in state.books:
            mid = book.mid
            if mid is None:  # one side is empty: no mid, no move to learn
                self.last.pop(book.book, None)
                continue
            x = self.features(book, mid)
            if book.book in self.last:
                previous_mid, previous_x = self.last[book.book]
                learn_x.append(previous_x)
                learn_y.append((mid / previous_mid - 1) * BPS)
            self.last[book.book] = (mid, x)
            rows[book.book] = x
        if not rows:
            return []
        now_x = np.array(list(rows.values()))
        self.scaler.partial_fit(now_x)
        if learn_x:
            self.model.partial_fit(self.scaler.transform(np.array(learn_x)), np.array(learn_y))
            self.samples += len(learn_x)
        if self.samples < self.min_samples:
            return []
        predictions = self.model.predict(self.scaler.transform(now_x)) / BPS
        accounts = {a.book: a for a in state.accounts}
        books = {b.book: b for b in state.books}
        out: list[Instruction] = []
        for index, prediction in zip(rows, predictions, strict=True):
            account = accounts.get(index)
            if account is not None and abs(prediction) > self.signal_threshold:
                out.extend(self.order(books[index], account, float(prediction), state.timestamp_ns))
        return out

    def order(self, book: BookState, account: Account, prediction: float, now_ns: int) -> list[Instruction]:
        """One passive order on the predicted side; the agent's other orders on the book cancelled."""
        side = Side.BUY if prediction > 0 else Side.SELL
        best = book.best_bid if side == Side.BUY else book.best_ask
        if best is None:
            return []
        price = self.snap_price(best, side)
        if any(o.side == side and o.price == price for o in account.orders):
            return []  # already quoting there
        strength = min(1.0, max(0.0, abs(prediction) / self.signal_threshold - 1))
        wanted = self.min_quantity + strength * (self.max_quantity - self.min_quantity)
        quantity = self.snap_quantity(min(wanted, self.affordable(account, side, price)))
        if quantity < self.min_quantity:
            return []
        out: list[Instruction] = [self.cancel(book.book, o.order_id) for o in account.orders]
        expiry_ns = now_ns + round(self.expiry_period * 1e9)
        out.append(
            self.limit(
                book.book,
                side,
                price,
                quantity,
                time_in_force=TimeInForce.GTT,
                expiry_ns=expiry_ns,
                post_only=True,
            )
        )
        return out

    def affordable(self, account: Account, side: Side, price: float) -> float:
        """The base quantity the free balance pays for at ``price``, keeping the highest fee."""
        if side == Side.SELL:
            return account.base.free
        return account.quote.free / (price * (1 + self.fee))
