"""The example agents ImbalanceAgent and SimpleRegressorAgent: their decisions on hand-built states,
their parameters, the regressor's missing-sklearn message, and one run of each in a small market
through the validator loop."""

import asyncio
import random
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from markets import loop_market
from protocol_samples import SECOND, simulation

from taos.agents import Agent, AgentLoadError, create_agent, load_agent_class
from taos.chain import LocalChain, Neuron
from taos.config import loads
from taos.protocol import (
    PROTOCOL_VERSION,
    Account,
    Balance,
    BookEvents,
    BookState,
    Cancel,
    Level,
    MarketState,
    OpenOrder,
    OrderAccepted,
    OrderFilled,
    OrderPlaced,
    PlaceLimit,
    ReplyRejected,
    Side,
    TimeInForce,
    Trade,
    check_instruction,
)
from taos.validator.loop import run
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "agents"
T0 = 60 * SECOND


@pytest.fixture(scope="module")
def imbalance_cls() -> type[Agent]:
    return load_agent_class(EXAMPLES, "ImbalanceAgent")


@pytest.fixture(scope="module")
def regressor_cls() -> type[Agent]:
    return load_agent_class(EXAMPLES, "SimpleRegressorAgent")


def side_levels(mid_ticks: int, side: Side, quantities: list[float]) -> list[Level]:
    """Levels one tick apart from one tick off ``mid_ticks`` (tick 0.01), best first."""
    step = -1 if side == Side.BUY else 1
    return [Level((mid_ticks + step * (1 + i)) / 100, q) for i, q in enumerate(quantities)]


def make_book(
    index: int, bids: list[float], asks: list[float], mid_ticks: int = 30_000, events: tuple = ()
) -> BookState:
    return BookState.build(
        index, side_levels(mid_ticks, Side.BUY, bids), side_levels(mid_ticks, Side.SELL, asks), events
    )


def account(book: int, base: float = 100.0, quote: float = 30_000.0, orders: tuple = ()) -> Account:
    return Account(book, Balance(base, 0.0), Balance(quote, 0.0), orders)


def market(books: list[BookState], t_ns: int = T0, accounts: list[Account] | None = None) -> MarketState:
    if accounts is None:
        accounts = [account(b.book) for b in books]
    return MarketState(PROTOCOL_VERSION, t_ns, simulation(len(books)), tuple(books), tuple(accounts), ())


def all_valid(out: list, s: MarketState) -> None:
    for i in out:
        assert check_instruction(i, s.simulation, now_ns=s.timestamp_ns) is None, i


# --- ImbalanceAgent ---------------------------------------------------------------------------------

# Top 5 levels: bids 2.0 each, asks 1.0 each -> (10 - 5) / 15 = 1/3 > 0.3; the deeper levels lean
# the other way and are not counted.
HEAVY_BIDS = ([2.0] * 5 + [1.0] * 16, [1.0] * 5 + [50.0] * 16)
BALANCED = ([1.2] * 5, [1.0] * 5)  # (6 - 5) / 11 = 0.09


def test_imbalance_buys_above_the_threshold_with_an_ioc_at_the_best_ask(imbalance_cls) -> None:
    s = market([make_book(0, *HEAVY_BIDS), make_book(1, *BALANCED)])
    out = create_agent(imbalance_cls, 1, {}).handle(s)
    assert out == [PlaceLimit(0, Side.BUY, 300.01, 0.1, TimeInForce.IOC)]
    all_valid(out, s)


def test_imbalance_sells_below_minus_the_threshold_at_the_best_bid(imbalance_cls) -> None:
    asks, bids = HEAVY_BIDS
    s = market([make_book(0, *BALANCED), make_book(1, bids, asks)])
    out = create_agent(imbalance_cls, 1, {"quantity": 0.25}).handle(s)
    assert out == [PlaceLimit(1, Side.SELL, 299.99, 0.25, TimeInForce.IOC)]
    all_valid(out, s)


def test_imbalance_within_the_threshold_does_nothing(imbalance_cls) -> None:
    agent = create_agent(imbalance_cls, 1, {})
    assert agent.handle(market([make_book(0, *BALANCED), make_book(1, *reversed(BALANCED))])) == []
    # 1/3 is within a threshold of 0.4
    assert (
        create_agent(imbalance_cls, 1, {"threshold": 0.4}).handle(market([make_book(0, *HEAVY_BIDS)])) == []
    )


def test_imbalance_counts_depth_levels(imbalance_cls) -> None:
    # top level: bid 1, ask 4 (-0.6); top 5: bids 1 + 4*4 = 17, asks 4 + 4*1 = 8 -> 9/25 = 0.36
    book = make_book(0, [1.0, 4.0, 4.0, 4.0, 4.0], [4.0, 1.0, 1.0, 1.0, 1.0])
    agent = create_agent(imbalance_cls, 1, {})
    assert agent.imbalance(book) == pytest.approx(0.36)
    assert [i.side for i in agent.handle(market([book]))] == [Side.BUY]
    top = create_agent(imbalance_cls, 1, {"depth_levels": 1})
    assert top.imbalance(book) == pytest.approx(-0.6)
    assert [i.side for i in top.handle(market([book]))] == [Side.SELL]
    assert agent.imbalance(BookState(0)) is None  # an empty book has no imbalance


def test_imbalance_cooldown_is_per_book_in_simulated_time(imbalance_cls) -> None:
    agent = create_agent(imbalance_cls, 1, {})
    heavy, calm = make_book(0, *HEAVY_BIDS), make_book(1, *BALANCED)
    heavy1 = make_book(1, *HEAVY_BIDS)
    assert [i.book for i in agent.handle(market([heavy, calm], T0))] == [0]
    # book 0 rests for 30 s; book 1 becomes imbalanced and trades at once
    assert [i.book for i in agent.handle(market([heavy, heavy1], T0 + 5 * SECOND))] == [1]
    assert agent.handle(market([heavy, heavy1], T0 + 30 * SECOND - 1)) == []
    assert [i.book for i in agent.handle(market([heavy, heavy1], T0 + 30 * SECOND))] == [0]
    assert [i.book for i in agent.handle(market([heavy, heavy1], T0 + 35 * SECOND))] == [1]
    # no cooldown: an order every state
    eager = create_agent(imbalance_cls, 1, {"cooldown_s": 0})
    for k in range(3):
        assert len(eager.handle(market([heavy], T0 + k * SECOND))) == 1


def test_imbalance_a_new_simulation_clears_the_cooldown(imbalance_cls) -> None:
    agent = create_agent(imbalance_cls, 1, {})
    heavy = make_book(0, *HEAVY_BIDS)
    assert agent.handle(market([heavy], T0))
    assert agent.handle(market([heavy], T0 + SECOND)) == []
    # a state of a simulation with two books is a new simulation: its clock starts again
    assert [i.book for i in agent.handle(market([heavy, make_book(1, *HEAVY_BIDS)], SECOND))] == [0, 1]


def test_imbalance_orders_only_what_the_free_balance_pays_for(imbalance_cls) -> None:
    agent = create_agent(imbalance_cls, 1, {"cooldown_s": 0})
    heavy = make_book(0, *HEAVY_BIDS)
    # 15 quote at 300.01 with the highest taker fee 0.5 %: 15 / (300.01 * 1.005) = 0.04975 -> 0.0497
    out = agent.handle(market([heavy], accounts=[account(0, quote=15.0)]))
    assert out == [PlaceLimit(0, Side.BUY, 300.01, 0.0497, TimeInForce.IOC)]
    assert agent.handle(market([heavy], T0 + SECOND, accounts=[account(0, quote=0.01)])) == []
    asks, bids = HEAVY_BIDS
    heavy_asks = make_book(0, bids, asks)
    out = agent.handle(market([heavy_asks], T0 + 2 * SECOND, accounts=[account(0, base=0.05)]))
    assert out == [PlaceLimit(0, Side.SELL, 299.99, 0.05, TimeInForce.IOC)]
    assert agent.handle(market([heavy_asks], T0 + 3 * SECOND, accounts=[account(0, base=0.0)])) == []


def test_imbalance_skips_books_it_cannot_trade(imbalance_cls) -> None:
    no_asks = BookState.build(0, side_levels(30_000, Side.BUY, [5.0] * 5))
    s = market([no_asks, make_book(1, *HEAVY_BIDS)], accounts=[account(0)])  # no account on book 1
    assert create_agent(imbalance_cls, 1, {}).handle(s) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"depth": 5}, "unknown parameter\\(s\\): depth"),
        ({"depth_levels": 0}, "depth_levels must be in \\[1, 21\\], got 0"),
        ({"depth_levels": 22}, "depth_levels must be in \\[1, 21\\], got 22"),
        ({"depth_levels": 2.5}, "parameter depth_levels must be int"),
        ({"threshold": 1.0}, "threshold must be in \\[0, 1\\), got 1.0"),
        ({"threshold": -0.1}, "threshold must be in \\[0, 1\\)"),
        ({"threshold": "high"}, "parameter threshold must be float"),
        ({"quantity": 0}, "quantity must be a finite number > 0, got 0.0"),
        ({"cooldown_s": -1}, "cooldown_s must be a finite number >= 0, got -1.0"),
        ({"cooldown_s": float("inf")}, "cooldown_s must be a finite number >= 0"),
    ],
)
def test_imbalance_refuses_bad_parameters(imbalance_cls, params: dict, message: str) -> None:
    with pytest.raises(AgentLoadError, match=message):
        create_agent(imbalance_cls, 1, params)


# --- SimpleRegressorAgent ---------------------------------------------------------------------------


def tilted_book(index: int, mid_ticks: int, imbalance: float, events: tuple = ()) -> BookState:
    """Five levels each side, 1 + imbalance on each bid and 1 - imbalance on each ask, so the
    depth imbalance of the top level and of the top five is ``imbalance``; spread 2 ticks."""
    return make_book(index, [1 + imbalance] * 5, [1 - imbalance] * 5, mid_ticks, events)


def train(agent: Agent, slope: float, states: int = 40, seed: int = 1) -> tuple[list[int], int]:
    """Feeds ``states`` states of two books whose next relative mid move is ``slope x imbalance``;
    returns the mids (ticks) and the time of the next state."""
    rng = random.Random(seed)
    mids = [30_000, 30_000]
    for k in range(states):
        imbalances = [rng.uniform(-0.8, 0.8) for _ in mids]
        books = [tilted_book(i, m, x) for i, (m, x) in enumerate(zip(mids, imbalances, strict=True))]
        agent.handle(market(books, T0 + 5 * k * SECOND))
        mids = [round(m * (1 + slope * x)) for m, x in zip(mids, imbalances, strict=True)]
    return mids, T0 + 5 * states * SECOND


@pytest.mark.parametrize("model", ["PassiveAggressiveRegressor", "SGDRegressor"])
@pytest.mark.parametrize("slope", [0.004, -0.004])
def test_regressor_learns_a_planted_relationship_and_trades_it(
    regressor_cls, model: str, slope: float
) -> None:
    agent = create_agent(regressor_cls, 3, {"model": model})
    mids, t = train(agent, slope)
    assert agent.samples == 78  # two books, 39 moves each
    # an imbalance of +0.75 predicts a move of slope x 0.75 = +-0.3 % (threshold 0.25 %)
    s = market([tilted_book(0, mids[0], 0.75), tilted_book(1, mids[1], -0.75)], t)
    out = agent.handle(s)
    all_valid(out, s)
    up, down = (Side.BUY, Side.SELL) if slope > 0 else (Side.SELL, Side.BUY)
    assert [(i.book, i.side) for i in out] == [(0, up), (1, down)]
    for i, mid in zip(out, mids, strict=True):
        assert isinstance(i, PlaceLimit) and i.time_in_force is TimeInForce.GTT and i.post_only
        assert i.expiry_ns == t + 200 * SECOND
        # passive: the best price of its own side
        assert i.price == ((mid - 1) / 100 if i.side == Side.BUY else (mid + 1) / 100)
        assert 0.1 <= i.quantity <= 1.0
    # the learned slope: a prediction close to the planted move, and nothing for a flat book
    prediction = agent.model.predict(agent.scaler.transform(agent.features(s.books[0], s.books[0].mid)[None]))
    assert prediction[0] / 1e4 == pytest.approx(slope * 0.75, rel=0.35)
    flat = market([tilted_book(0, mids[0], 0.0), tilted_book(1, mids[1], 0.0)], t + 5 * SECOND)
    assert agent.handle(flat) == []


def test_regressor_waits_for_min_samples(regressor_cls) -> None:
    agent = create_agent(regressor_cls, 3, {"min_samples": 100})
    mids, t = train(agent, 0.004)
    assert agent.handle(market([tilted_book(0, mids[0], 0.8), tilted_book(1, mids[1], -0.8)], t)) == []


def test_regressor_features(regressor_cls) -> None:
    agent = create_agent(regressor_cls, 3, {})
    first = make_book(0, [3.0, 1.0, 1.0, 1.0, 1.0, 9.0], [1.0, 2.0, 2.0, 2.0, 2.0], mid_ticks=30_000)
    agent.handle(market([first]))
    events = (
        OrderPlaced(1, 1, 7, Side.BUY, 300.0, 5.0),  # not a trade
        Trade(2, 2, 8, 9, Side.BUY, 300.03, 0.3),
        Trade(3, 3, 10, 11, Side.SELL, 300.02, 0.1),
    )
    # mid 300.00 -> 300.03: a return of 1 bp
    second = BookState.build(
        0,
        [Level(300.02, 3.0), *side_levels(30_002, Side.BUY, [1.0, 1.0, 1.0, 1.0])],
        side_levels(30_003, Side.SELL, [1.0, 2.0, 2.0, 2.0, 2.0]),
        events,
    )
    x = agent.features(second, second.mid)
    assert x[0] == pytest.approx(0.5)  # (3 - 1) / 4
    assert x[1] == pytest.approx((7 - 9) / 16)
    assert x[2] == pytest.approx(2.0)  # 300.04 - 300.02 in ticks
    assert x[3] == pytest.approx(1.0)  # 300.03 / 300.00 - 1 in bp
    assert x[4] == 0.0  # no return before the first state
    assert x[5] == pytest.approx(0.5)  # (0.3 - 0.1) / 0.4
    agent.handle(market([second], T0 + 5 * SECOND))
    third = make_book(0, [1.0], [1.0], mid_ticks=30_003)
    assert agent.features(third, third.mid)[3:] == pytest.approx([0.0, 1.0, 0.0])


def started_regressor(regressor_cls, params: dict | None = None) -> Agent:
    agent = create_agent(regressor_cls, 3, params or {})
    agent.handle(market([make_book(0, [1.0], [1.0])]))  # learns nothing yet; the simulation is known
    return agent


def test_regressor_sizes_by_the_prediction_within_the_free_balance(regressor_cls) -> None:
    agent = started_regressor(regressor_cls)
    book = make_book(0, [1.0], [1.0])
    # 1.5 x the threshold -> half way from min to max: 0.1 + 0.5 x 0.9 = 0.55
    (order,) = agent.order(book, account(0), 0.00375, T0)
    assert (order.side, order.price, order.quantity) == (Side.BUY, 299.99, 0.55)
    # 2 x the threshold and beyond -> max_quantity; a negative prediction sells at the best ask
    (order,) = agent.order(book, account(0), -0.01, T0)
    assert (order.side, order.price, order.quantity) == (Side.SELL, 300.01, 1.0)
    # 60 quote at 299.99 with the highest fee 0.5 %: 60 / (299.99 * 1.005) = 0.19901 -> 0.199
    (order,) = agent.order(book, account(0, quote=60.0), 0.01, T0)
    assert order.quantity == 0.199
    # what the balance pays for is below min_quantity: no order
    assert agent.order(book, account(0, quote=20.0), 0.01, T0) == []
    assert agent.order(book, account(0, base=0.05), -0.01, T0) == []


def test_regressor_keeps_one_order_per_book(regressor_cls) -> None:
    agent = started_regressor(regressor_cls)
    book = make_book(0, [1.0], [1.0])
    resting = OpenOrder(5, Side.BUY, 299.99, 0.3, TimeInForce.GTT, expiry_ns=T0 + SECOND)
    assert agent.order(book, account(0, orders=(resting,)), 0.01, T0) == []  # already there
    stale = OpenOrder(6, Side.SELL, 300.05, 0.3, TimeInForce.GTT, expiry_ns=T0 + SECOND)
    out = agent.order(book, account(0, orders=(stale,)), 0.01, T0)
    assert out[0] == Cancel(0, 6) and isinstance(out[1], PlaceLimit) and out[1].side == Side.BUY


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"model": "LinearRegression"}, "model must be one of PassiveAggressiveRegressor, SGDRegressor, got"),
        ({"min_quantity": 2.0}, "min_quantity <= max_quantity"),
        ({"max_quantity": float("inf")}, "min_quantity <= max_quantity"),
        ({"expiry_period": 0}, "expiry_period must be a finite number > 0, got 0.0"),
        ({"signal_threshold": 0.0}, "signal_threshold must be a finite number > 0"),
        ({"min_samples": 0}, "min_samples must be >= 1, got 0"),
        ({"model": 3}, "parameter model must be str"),
        ({"signal": 0.1}, "unknown parameter\\(s\\): signal"),
    ],
)
def test_regressor_refuses_bad_parameters(regressor_cls, params: dict, message: str) -> None:
    with pytest.raises(AgentLoadError, match=message):
        create_agent(regressor_cls, 1, params)


def test_regressor_without_sklearn_says_how_to_install_it() -> None:
    code = (
        "import sys\n"
        "sys.modules['sklearn'] = None\n"
        "from pathlib import Path\n"
        "from taos.agents import AgentLoadError, load_agent_class\n"
        "try:\n"
        f"    load_agent_class(Path({str(EXAMPLES)!r}), 'SimpleRegressorAgent')\n"
        "except AgentLoadError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert (
        "failed to import: ImportError: SimpleRegressorAgent needs scikit-learn: pip install scikit-learn"
        in (out.stdout)
    )


def test_passive_aggressive_model_on_every_scikit_learn(regressor_cls, monkeypatch) -> None:
    import sklearn
    from sklearn import linear_model

    module = sys.modules[regressor_cls.__module__]
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6)), rng.normal(size=40) * 10
    new = module.passive_aggressive(1)
    assert isinstance(new, linear_model.SGDRegressor) and new.learning_rate == "pa1"
    if not hasattr(linear_model, "PassiveAggressiveRegressor"):
        return  # removed (scikit-learn 1.10): only the SGDRegressor form exists
    monkeypatch.setattr(sklearn, "__version__", "1.7.2")
    with warnings.catch_warnings():  # deprecated since 1.8, still present before 1.10
        warnings.simplefilter("ignore", FutureWarning)
        old = module.passive_aggressive(1)
        assert type(old).__name__ == "PassiveAggressiveRegressor"
        for rows in range(0, 40, 4):
            old.partial_fit(x[rows : rows + 4], y[rows : rows + 4])
    for rows in range(0, 40, 4):
        new.partial_fit(x[rows : rows + 4], y[rows : rows + 4])
    assert new.coef_ == pytest.approx(old.coef_) and new.intercept_ == pytest.approx(old.intercept_)


# --- in a market ------------------------------------------------------------------------------------

CONFIG = loop_market(slots=3)


def recording(cls: type[Agent]) -> type[Agent]:
    class Recording(cls):  # type: ignore[valid-type, misc]
        def __init__(self, uid, params=None):
            super().__init__(uid, params)
            self.notices: list = []
            self.sent = 0

        def handle(self, state):
            self.notices.extend(state.notices)
            out = super().handle(state)
            self.sent += len(out)
            return out

    return Recording


def test_both_agents_trade_in_a_market_through_the_validator_loop(imbalance_cls, regressor_cls) -> None:
    agents = {
        1: create_agent(recording(imbalance_cls), 1, {"cooldown_s": 10.0}),
        # 5 s moves in this market are a few basis points: a low threshold, so that it trades
        2: create_agent(recording(regressor_cls), 2, {"signal_threshold": 0.00005, "min_samples": 10}),
    }
    neurons = [Neuron(0, "validator", True, 1.0, None)] + [
        Neuron(u, f"a{u}", False, 0.0, None) for u in agents
    ]
    chain = LocalChain("validator", neurons)
    v = Validator(
        loads(CONFIG), chain, InProcessTransport(agents), ValidatorSettings(weights_interval_s=60.0)
    )
    v.sync_chain()
    assert asyncio.run(run(v, max_steps=80)) == 80
    for agent in agents.values():
        kinds = {type(n) for n in agent.notices}
        assert ReplyRejected not in kinds  # every reply decoded and nothing raised
        accepted = [n for n in agent.notices if isinstance(n, OrderAccepted)]
        assert agent.sent > 0 and len(accepted) > 0
        assert any(isinstance(n, OrderFilled) for n in agent.notices)
    imbalance_orders = [n for n in agents[1].notices if isinstance(n, OrderAccepted)]
    assert {n.time_in_force for n in imbalance_orders} == {TimeInForce.IOC}
    regressor_orders = [n for n in agents[2].notices if isinstance(n, OrderAccepted)]
    assert {n.time_in_force for n in regressor_orders} == {TimeInForce.GTT}


def test_each_example_agent_asks_for_the_book_events_it_reads() -> None:
    """The agents that read the levels only ask for no events; the regressor reads the trades."""
    wanted = {name: load_agent_class(EXAMPLES, name).book_events for name in (
        "RandomMakerAgent", "RandomTakerAgent", "ImbalanceAgent", "SignalAgent", "SimpleRegressorAgent"
    )}  # fmt: skip
    assert wanted == {
        "RandomMakerAgent": BookEvents.NONE,
        "RandomTakerAgent": BookEvents.NONE,
        "ImbalanceAgent": BookEvents.NONE,
        "SignalAgent": BookEvents.NONE,
        "SimpleRegressorAgent": BookEvents.TRADES,
    }
