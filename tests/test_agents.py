"""taos.agents: the Agent lifecycle and notice dispatch, the instruction helpers, parameters,
and the example agents against hand-built states."""

import subprocess
import sys
from pathlib import Path

import pytest
from protocol_samples import SECOND, all_notices, state

from taos.agents import Agent, create_agent, helpers, load_agent_class
from taos.protocol import (
    Cancel,
    Currency,
    Direction,
    MarketState,
    OrderAccepted,
    PlaceLimit,
    PlaceMarket,
    Side,
    Stp,
    TargetPosition,
    TimeInForce,
    check_instruction,
)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "agents"


class Recorder(Agent):
    def __init__(self, uid, params=None):
        super().__init__(uid, params)
        self.calls: list[str] = []

    def on_start(self, simulation):
        self.calls.append(f"start:{simulation.simulation_id}")

    def on_state(self, state: MarketState):
        self.calls.append("state")
        return [self.cancel(0, 42)]

    def on_order_accepted(self, notice):
        self.calls.append("accepted")

    def on_order_rejected(self, notice):
        self.calls.append("rejected")

    def on_trade(self, notice):
        self.calls.append("trade")

    def on_order_cancelled(self, notice):
        self.calls.append("cancelled")

    def on_reset(self, notice):
        self.calls.append("reset")

    def on_simulation_start(self, notice):
        self.calls.append("sim-start")

    def on_simulation_end(self, notice):
        self.calls.append("sim-end")

    def on_reply_rejected(self, notice):
        self.calls.append("reply-rejected")

    def on_target_accepted(self, notice):
        self.calls.append(f"target-accepted:{notice.client_order_id}")


def test_handle_runs_on_start_then_each_notice_hook_in_order_then_on_state() -> None:
    agent = Recorder(3)
    out = agent.handle(state(notices=all_notices()))
    assert out == [Cancel(0, 42)]
    assert agent.calls == [
        "start:test-sim",
        "sim-start",
        "accepted",
        "rejected",
        "trade",
        "cancelled",
        "reset",
        "reply-rejected",
        "target-accepted:9",
        "sim-end",
        "state",
    ]
    assert agent.now_ns == 60 * SECOND and agent.simulation is not None


def test_on_start_runs_again_only_for_a_new_simulation() -> None:
    agent = Recorder(3)
    agent.handle(state())
    agent.handle(state(timestamp_ns=65 * SECOND))
    assert agent.calls.count("start:test-sim") == 1
    agent.handle(state(books=3))
    assert agent.calls.count("start:test-sim") == 2


def test_hooks_do_nothing_by_default() -> None:
    class Minimal(Agent):
        def on_state(self, state):
            return ()

    agent = Minimal(0)
    assert agent.handle(state(notices=all_notices())) == []
    agent.on_end()


def test_dispatch_refuses_what_is_not_a_notice() -> None:
    with pytest.raises(TypeError, match="not a notice"):
        Recorder(0).dispatch(PlaceMarket(0, Side.BUY, 1.0))  # type: ignore[arg-type]


def test_an_agent_without_on_state_cannot_be_built() -> None:
    class NoState(Agent):
        pass

    with pytest.raises(TypeError):
        NoState(0)  # type: ignore[abstract]


# --- helpers ----------------------------------------------------------------------------------------


def started(uid: int = 1) -> Recorder:
    agent = Recorder(uid)
    agent.handle(state())
    return agent


def test_helpers_build_the_instructions() -> None:
    a = started()
    assert a.limit(0, Side.BUY, 299.99, 0.5) == PlaceLimit(0, Side.BUY, 299.99, 0.5)
    gtt = a.limit(1, 2, 300.01, 1, time_in_force=TimeInForce.GTT, expiry_ns=61 * SECOND, post_only=True)
    assert gtt.side is Side.SELL and gtt.quantity == 1.0 and isinstance(gtt.quantity, float)
    assert a.market(0, Side.SELL, 100.0, currency=Currency.QUOTE) == PlaceMarket(
        0, Side.SELL, 100.0, Currency.QUOTE
    )
    assert a.cancel(1, 7, 0.25) == Cancel(1, 7, 0.25)
    assert a.target(0, Direction.SHORT, 2.0) == TargetPosition(0, Direction.SHORT, 2.0)
    assert a.target(1, Direction.LONG, client_order_id=4) == TargetPosition(
        1, Direction.LONG, client_order_id=4
    )
    assert a.snap_price(300.016, Side.BUY) == 300.01 and a.snap_price(300.011, Side.SELL) == 300.02
    assert a.snap_quantity(0.12345) == 0.1234


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda a: a.limit(0, Side.BUY, 300.0, 1.0, time_in_force=TimeInForce.GTT),
            "GTT order needs expiry_ns",
        ),
        (lambda a: a.limit(0, Side.BUY, 300.0, 1.0, expiry_ns=70 * SECOND), "only for GTT"),
        (
            lambda a: a.limit(0, Side.BUY, 300.0, 1.0, time_in_force=TimeInForce.GTT, expiry_ns=SECOND),
            "not after now",
        ),
        (
            lambda a: a.limit(0, Side.BUY, 300.0, 1.0, time_in_force=TimeInForce.IOC, post_only=True),
            "post-only",
        ),
        (
            lambda a: a.limit(0, Side.BUY, 300.0, 1.0, time_in_force=TimeInForce.FOK, post_only=True),
            "post-only",
        ),
        (lambda a: a.limit(0, Side.BUY, 300.0, -1.0), "quantity must be > 0"),
        (lambda a: a.limit(0, Side.BUY, 0.0, 1.0), "price must be > 0"),
        (lambda a: a.limit(0, Side.BUY, 300.005, 1.0), "not a multiple of 0.01"),
        (lambda a: a.limit(0, Side.BUY, 300.0, 0.00001), "not a multiple of 0.0001"),
        (lambda a: a.limit(5, Side.BUY, 300.0, 1.0), "book 5 does not exist"),
        (lambda a: a.limit(0, 3, 300.0, 1.0), "side must be one of"),
        (lambda a: a.limit(0, Side.BUY, "300", 1.0), "price must be a number"),
        (lambda a: a.limit(0, Side.BUY, 300.0, 1.0, stp=Stp.NONE), "stp NONE"),
        (lambda a: a.market(0, Side.BUY, 0), "quantity must be > 0"),
        (lambda a: a.market(0, Side.BUY, 1.0, currency=9), "currency must be one of"),
        (lambda a: a.cancel(0, 0), "order_id"),
        (lambda a: a.cancel(0, 1.5), "order_id must be an integer"),
        (lambda a: a.cancel(0, 7, -1.0), "quantity must be > 0"),
        (lambda a: a.target(0, Direction.LONG, 0.0), "leverage must be > 0"),
        (lambda a: a.target(0, Direction.LONG, -1), "leverage must be > 0"),
        (lambda a: a.target(0, "up", 1.0), "direction must be one of"),
    ],
)
def test_helpers_refuse_bad_combinations(build, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build(started())


def test_helpers_without_a_simulation_skip_only_the_market_checks() -> None:
    assert helpers.limit(9, Side.BUY, 300.005, 1.0) == PlaceLimit(9, Side.BUY, 300.005, 1.0)
    with pytest.raises(ValueError, match="needs expiry"):
        helpers.limit(0, Side.BUY, 300.0, 1.0, time_in_force=TimeInForce.GTT)
    with pytest.raises(ValueError, match="simulation is not known"):
        Recorder(0).snap_price(300.0, Side.BUY)


# --- parameters -------------------------------------------------------------------------------------


def test_param_types_follow_the_default() -> None:
    a = Recorder(0, {"n": 3, "x": 2, "flag": True, "name": "abc"})
    assert a.param("n", 1) == 3
    assert a.param("x", 0.5) == 2.0 and isinstance(a.param("x", 0.5), float)
    assert a.param("flag", False) is True
    assert a.param("name", "z") == "abc"
    assert a.param("absent", 7) == 7
    a.reject_unknown_params()
    with pytest.raises(ValueError, match="parameter n must be str"):
        a.param("n", "text")
    with pytest.raises(ValueError, match="parameter flag must be int"):
        a.param("flag", 1)
    with pytest.raises(ValueError, match="parameter name must be float"):
        a.param("name", 1.0)


def test_unknown_params_are_named() -> None:
    a = Recorder(0, {"alpha": 1, "beta": 2})
    a.param("alpha", 0)
    with pytest.raises(ValueError, match="unknown parameter\\(s\\): beta"):
        a.reject_unknown_params()


# --- the example agents -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def maker_cls() -> type[Agent]:
    return load_agent_class(EXAMPLES, "RandomMakerAgent")


@pytest.fixture(scope="module")
def taker_cls() -> type[Agent]:
    return load_agent_class(EXAMPLES, "RandomTakerAgent")


def _all_valid(instructions, s: MarketState) -> None:
    for i in instructions:
        assert check_instruction(i, s.simulation, now_ns=s.timestamp_ns) is None, i


def test_random_maker_quotes_both_sides_around_the_mid(maker_cls) -> None:
    s = state()
    out = create_agent(maker_cls, 5, {}).handle(s)
    _all_valid(out, s)
    limits = [i for i in out if isinstance(i, PlaceLimit)]
    assert {(i.book, i.side) for i in limits} == {
        (0, Side.BUY),
        (0, Side.SELL),
        (1, Side.BUY),
        (1, Side.SELL),
    }
    for i in limits:
        assert i.time_in_force is TimeInForce.GTT and i.expiry_ns == s.timestamp_ns + 60 * SECOND
        assert 0.1 <= i.quantity <= 1.0
        assert (i.price < 300.0) if i.side == Side.BUY else (i.price > 300.0)
        assert abs(i.price - 300.0) <= 0.1 + 1e-9


def test_random_maker_is_seeded_by_uid(maker_cls) -> None:
    s = state()
    assert create_agent(maker_cls, 5, {}).handle(s) == create_agent(maker_cls, 5, {}).handle(s)
    assert create_agent(maker_cls, 5, {}).handle(s) != create_agent(maker_cls, 6, {}).handle(s)


def test_random_maker_cancels_its_oldest_orders_beyond_the_limit(maker_cls) -> None:
    s = state()  # one open order (id 42) per book
    out = create_agent(maker_cls, 5, {"max_open_orders": 2}).handle(s)
    assert [i for i in out if isinstance(i, Cancel)] == [Cancel(0, 42), Cancel(1, 42)]


def test_random_maker_skips_books_without_a_price_or_account(maker_cls) -> None:
    import msgspec

    from taos.protocol import BookState

    # book 0 has no levels, book 1 no account
    s = msgspec.structs.replace(
        state(), books=(BookState(0), state().books[1]), accounts=state().accounts[:1]
    )
    assert create_agent(maker_cls, 5, {}).handle(s) == []


def test_random_taker_sends_market_orders_it_can_pay_for(taker_cls) -> None:
    s = state()
    agent = create_agent(taker_cls, 8, {"probability": 1.0, "min_quantity": 0.5, "max_quantity": 0.5})
    out = agent.handle(s)
    _all_valid(out, s)
    assert [(i.book, i.quantity) for i in out] == [(0, 0.5), (1, 0.5)]
    assert all(isinstance(i, PlaceMarket) for i in out)
    assert create_agent(taker_cls, 8, {"probability": 0.0}).handle(s) == []


def test_random_taker_is_seeded_by_uid(taker_cls) -> None:
    runs = {
        uid: [create_agent(taker_cls, uid, {}).handle(state(timestamp_ns=t * SECOND)) for t in range(60, 70)]
        for uid in (1, 2)
    }
    assert runs[1] == [
        create_agent(taker_cls, 1, {}).handle(state(timestamp_ns=t * SECOND)) for t in range(60, 70)
    ]
    assert runs[1] != runs[2]


def test_example_agents_refuse_bad_parameters(maker_cls, taker_cls) -> None:
    from taos.agents import AgentLoadError

    with pytest.raises(AgentLoadError, match="unknown parameter"):
        create_agent(maker_cls, 0, {"min_qty": 1.0})
    with pytest.raises(AgentLoadError, match="min_quantity <= max_quantity"):
        create_agent(taker_cls, 0, {"min_quantity": 2.0})
    with pytest.raises(AgentLoadError, match="probability must be float"):
        create_agent(taker_cls, 0, {"probability": "often"})


def test_an_accepted_notice_reaches_the_maker(maker_cls) -> None:
    notice = OrderAccepted(0, 1, 99, Side.BUY, 299.9, 0.5)
    out = create_agent(maker_cls, 5, {}).handle(state(notices=(notice,)))
    assert out  # the hook's default does nothing and on_state still quotes


def test_agents_import_without_bittensor_or_the_extension() -> None:
    code = (
        "import sys\n"
        "sys.modules['taos._simulator'] = None\n"
        "sys.modules['bittensor'] = None\n"
        "sys.modules['aiohttp'] = None\n"
        "import taos.agents\n"
        "print(taos.agents.Agent.__name__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Agent"
