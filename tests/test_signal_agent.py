"""SignalAgent: two instances (two validators) driven by hand-built states through the signal
lifecycle on real files; the miner's pool and the in-process transport name the served validator."""

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from protocol_samples import state
from signal_helpers import T0, Clock, files, put_signal

from taos.agents import Agent, AgentLoadError, create_agent, load_agent_class
from taos.local.runner import AgentSpec, build_config, build_market
from taos.miner.pool import AgentFile, AgentPool
from taos.protocol import (
    Direction,
    OrderRejected,
    RejectReason,
    ReplyRejected,
    TargetAccepted,
    TargetPosition,
    encode_state,
)
from taos.signals import SignalStore, shared_store
from taos.validator.transport import InProcessTransport

AGENTS = Path(__file__).resolve().parents[1] / "agents"
MINER_AGENTS = Path(__file__).resolve().parent / "miner_agents"
SignalAgent = load_agent_class(AGENTS, "SignalAgent")
V1, V2 = "5Validator-one", "5Validator-two"
SETTINGS = {"ack_timeout_s": 300.0, "validator_window_s": 120.0, "resend_after_s": 60.0}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[SignalStore]:
    s = shared_store(tmp_path, clock=clock, **SETTINGS)  # the agents below get this one
    yield s
    s.close()


def agent_for(tmp_path: Path, validator: str | None) -> Agent:
    agent = create_agent(SignalAgent, 7, {"signals_dir": str(tmp_path), **SETTINGS})
    agent.validator = validator
    return agent


def accepted(signal, leverage: float = 1.0, quantity: float = 0.0) -> TargetAccepted:
    return TargetAccepted(
        signal.book_id, 1, Direction[signal.order_type], leverage, quantity, signal.client_order_id
    )


def test_two_validators_drive_signals_to_processed_and_failed(
    tmp_path: Path, clock: Clock, store: SignalStore
) -> None:
    long = put_signal(tmp_path, 0, "LONG", 2.0, at=T0)
    short = put_signal(tmp_path, 1, "SHORT", 1.5, at=T0 + 1)
    flat = put_signal(tmp_path, 1, "FLAT", 0.0, at=T0 + 2)
    nowhere = put_signal(tmp_path, 5, "LONG", 1.0, at=T0 + 3)  # the simulation has books 0 and 1
    a1, a2 = agent_for(tmp_path, V1), agent_for(tmp_path, V2)
    assert a1.store is a2.store is store

    expected = [
        TargetPosition(0, Direction.LONG, 2.0, client_order_id=long.client_order_id),
        TargetPosition(1, Direction.SHORT, 1.5, client_order_id=short.client_order_id),
        TargetPosition(1, Direction.FLAT, 1.0, client_order_id=flat.client_order_id),
    ]
    assert a1.handle(state()) == expected
    assert files(tmp_path, "failed_signals")[nowhere.uuid]["reason"] == (
        f"rejected by {V1}: UNKNOWN_BOOK (book 5 does not exist (the simulation has 2 books))"
    )
    clock.t += 1
    assert a2.handle(state()) == expected
    assert a1.handle(state()) == []  # nothing new, nothing due

    clock.t += 1
    rejected = OrderRejected(
        1,
        1,
        RejectReason.INVALID_INSTRUCTION,
        client_order_id=short.client_order_id,
        detail="leverage 1.5 > 1",
    )
    assert a1.handle(state(notices=(accepted(long, 2.0, 0.4), rejected, accepted(flat)))) == []
    assert files(tmp_path, "failed_signals")[short.uuid]["reason"] == (
        f"rejected by {V1}: INVALID_INSTRUCTION (leverage 1.5 > 1)"
    )
    assert store.pending() == [long.uuid, flat.uuid]  # V2 has not acknowledged yet

    clock.t += 1
    assert a2.handle(state(notices=(accepted(long, 2.0, 0.1), accepted(flat)))) == []
    processed = files(tmp_path, "processed_signals")
    assert sorted(processed) == sorted([long.uuid, flat.uuid])
    assert processed[long.uuid]["validators"][V1]["acknowledged"] == {
        "at": T0 + 2,
        "ts_ns": 1,
        "leverage": 2.0,
        "quantity": 0.4,
    }
    assert files(tmp_path, "received_signals") == {}


def test_a_dropped_reply_is_sent_again_with_the_same_ids(tmp_path: Path, store: SignalStore) -> None:
    s = put_signal(tmp_path, 0, "SHORT", 1.0)
    agent = agent_for(tmp_path, V1)
    first = agent.handle(state())
    assert first == [TargetPosition(0, Direction.SHORT, 1.0, client_order_id=s.client_order_id)]
    dropped = (ReplyRejected(2, "reply came too late"),)
    assert agent.handle(state(notices=dropped)) == first  # the reply that carried it was dropped
    assert agent.handle(state()) == []
    assert agent.handle(state(notices=dropped)) == []  # the dropped reply was empty


def test_notices_of_other_orders_are_ignored(tmp_path: Path, store: SignalStore) -> None:
    s = put_signal(tmp_path, 0)
    agent = agent_for(tmp_path, V1)
    agent.handle(state())
    other = OrderRejected(0, 1, RejectReason.NO_LIQUIDITY, client_order_id=s.client_order_id + 1)
    no_id = TargetAccepted(0, 1, Direction.LONG, 1.0, 0.0)
    assert agent.handle(state(notices=(other, no_id))) == []
    assert store.pending() == [s.uuid]


def test_an_agent_without_a_validator_refuses_to_trade(tmp_path: Path, store: SignalStore) -> None:
    with pytest.raises(RuntimeError, match=r"Agent\.validator is not set"):
        agent_for(tmp_path, None).handle(state())


def test_unknown_parameters_and_other_settings_stop_the_agent(tmp_path: Path, store: SignalStore) -> None:
    with pytest.raises(AgentLoadError, match=r"unknown parameter\(s\): ack_timeout"):
        create_agent(SignalAgent, 7, {"signals_dir": str(tmp_path), "ack_timeout": 5})
    with pytest.raises(AgentLoadError, match="already open with other settings"):
        create_agent(SignalAgent, 7, {"signals_dir": str(tmp_path), **SETTINGS, "ack_timeout_s": 5.0})


@pytest.mark.parametrize("name", ["Counting", "SharedCounting"])
def test_the_miner_pool_names_each_agents_validator(name: str, caplog: pytest.LogCaptureFixture) -> None:
    """Each validator's agent (in its worker process; one process for all with ``shared_process``,
    as SignalAgent has) is told its validator; the instance built at start serves the first."""
    pool = AgentPool(AgentFile(str(MINER_AGENTS), name, {}), 1, timeout_s=5.0)
    pids: dict[str, object] = {}

    async def scenario() -> None:
        await pool.start()
        pids["first"] = pool.pids
        await pool.run(V1, encode_state(state()))
        await pool.run(V2, encode_state(state()))
        pids["v1"], pids["v2"] = pool.pid_of(V1), pool.pid_of(V2)
        await pool.close()

    with caplog.at_level(logging.INFO, logger="taos.miner"):
        asyncio.run(scenario())
    messages = [r.getMessage() for r in caplog.records]
    v1, v2 = pids["v1"], pids["v2"]
    assert [v1] == pids["first"]
    assert f"Counting in pid {v1} serves validator {V1}" in messages
    assert f"Counting in pid {v2} serves validator {V2}" in messages
    if name == "SharedCounting":
        assert v1 == v2 and messages.count(f"Counting built in pid {v1}") == 2
    else:
        assert v1 != v2 and messages.count(f"Counting built in pid {v1}") == 1


def test_in_process_agents_are_named_local_unless_told() -> None:
    class Echo(Agent):
        def on_state(self, state):
            return []

    named, unnamed = Echo(1), Echo(2)
    named.validator = "5Named"
    InProcessTransport({1: named, 2: unnamed})
    assert (named.validator, unnamed.validator) == ("5Named", "local")
    other = Echo(3)
    InProcessTransport({3: other}, validator="5Own")
    assert other.validator == "5Own"


def test_the_research_mode_names_its_validator(tmp_path: Path) -> None:
    config, _ = build_config(None, books=1, duration_s=60.0, seed=1, threads=1)
    spec = AgentSpec(AGENTS, "SignalAgent", {"signals_dir": str(tmp_path)})
    market = build_market(config, [spec], "inprocess")
    try:
        transport = market.validator.transport
        assert isinstance(transport, InProcessTransport)
        assert transport.agents[1].validator == "validator"  # the hotkey of its LocalChain
    finally:
        market.close()
        transport.agents[1].store.close()
