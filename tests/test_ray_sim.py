"""RaySimulation: one simulation's books spread over Ray actors give what the local Simulation gives
for the same config, seed and instructions."""

from collections.abc import Iterator

import numpy as np
import pytest
from markets import populations

from taos.config import loads, to_core
from taos.simulator import (
    BookLevels,
    CheckpointError,
    InstructionKind,
    Side,
    Simulation,
    SimulationConfig,
    Stp,
    TimeInForce,
    instruction_array,
)

ray = pytest.importorskip("ray")

from taos.local.ray_sim import (  # noqa: E402
    RaySimulation,
    config_from_dict,
    config_to_dict,
    split_books,
)

S = 1_000_000_000

CONFIG = """
[simulation]
books = 4
seed = 7
threads = 1
duration_s = 600.0
publish_interval_s = 5.0
grace_period_s = 60.0

[miners]
slots = 2

[fees]
background = [[0, 0.0, 0.0]]
""" + populations(initialization=20, stylized=30, makers=2)


def core() -> SimulationConfig:
    return to_core(loads(CONFIG))


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False)
    yield
    ray.shutdown()


def instructions(step: int, books: int) -> np.ndarray:
    """Miner 0 and 1 orders on every book (miner 1's cross the book), a cancel, an order for an unknown book and (at step 3) a
    reset of miner 1."""
    rows = []
    for b in range(books):
        for agent, side, price in ((0, Side.BUY, 29_950 - step), (1, Side.SELL, 29_900 + step)):
            rows.append(
                dict(kind=InstructionKind.PLACE_LIMIT, book=b, agent=agent, side=side, price_ticks=price)
            )
        rows.append(dict(kind=InstructionKind.CANCEL, book=b, agent=0, order_id=1 + step, side=Side.BUY))
    rows.append(
        dict(kind=InstructionKind.PLACE_LIMIT, book=books + 3, agent=0, side=Side.BUY, price_ticks=29_000)
    )
    if step == 3:
        rows.append(dict(kind=InstructionKind.RESET_AGENT, book=0, agent=1))
    arr = instruction_array(len(rows))
    for i, r in enumerate(rows):
        arr[i]["tif"] = TimeInForce.GTC
        arr[i]["stp"] = Stp.CANCEL_OLDEST
        arr[i]["qty_lots"] = 100
        arr[i]["ts_ns"] = (step - 1) * 5 * S + 10_000_000 * (i % 7)  # step `step` starts there
        for k, v in r.items():
            arr[i][k] = v
    return arr


def run_local(steps: int) -> tuple[list[np.ndarray], list[object], Simulation]:
    sim = Simulation(core())
    events, books = [], []
    for k in range(1, steps + 1):
        r = sim.step(k * 5 * S, instructions(k, 4))
        events.append(r.events)
        books.append((r.books, r.accounts, r.notices(0), r.notices(1), indexed_notices(r)))
    return events, books, sim


def run_sharded(sim: RaySimulation, steps: int, first: int = 1) -> tuple[list[np.ndarray], list[object]]:
    events, books = [], []
    for k in range(first, first + steps):
        r = sim.step(k * 5 * S, instructions(k, 4))
        events.append(r.events)
        books.append((r.books, r.accounts, r.notices(0), r.notices(1), indexed_notices(r)))
    return events, books


def indexed_notices(r: object) -> list[np.ndarray]:
    """Every miner's notices through the step's ``notice_index``; they are ``notices(m)``."""
    offsets, indices = r.notice_index()  # type: ignore[attr-defined]
    out = [r.events[indices[offsets[m] : offsets[m + 1]]] for m in range(r.miner_slots)]  # type: ignore[attr-defined]
    assert all(same(n, r.notices(m)) for m, n in enumerate(out))  # type: ignore[attr-defined]
    return out


def same(a: object, b: object) -> bool:
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and a.tobytes() == b.tobytes()
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, BookLevels):
        return isinstance(b, BookLevels) and all(
            same(getattr(a, k), getattr(b, k)) for k in ("bids", "asks", "bid_orders", "ask_orders")
        )
    if isinstance(a, (list, tuple)):
        return (
            isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(same(x, y) for x, y in zip(a, b, strict=True))
        )
    return a == b


def test_books_are_split_into_contiguous_ranges() -> None:
    assert split_books(4, 2) == [(0, 2), (2, 2)]
    assert split_books(5, 3) == [(0, 2), (2, 2), (4, 1)]
    assert split_books(3, 1) == [(0, 3)]
    with pytest.raises(ValueError, match="shards must be <= the number of books"):
        split_books(2, 3)
    with pytest.raises(ValueError, match="shards must be >= 1"):
        split_books(2, 0)


def test_core_config_survives_the_trip_to_an_actor() -> None:
    c = core()
    again = config_from_dict(config_to_dict(c))
    assert config_to_dict(again) == config_to_dict(c)
    # the proof that nothing was lost: the same events
    a, b = Simulation(c), Simulation(again)
    assert a.step(30 * S).events.tobytes() == b.step(30 * S).events.tobytes()


def test_one_shard_gives_the_local_simulation() -> None:
    local_events, local_rest, local = run_local(6)
    with RaySimulation(core(), shards=1) as sim:
        events, rest = run_sharded(sim, 6)
        assert sim.time_ns == local.time_ns == 30 * S
        assert sim.best(3) == local.best(3)
        assert same(sim.open_orders(2, 0), local.open_orders(2, 0))
    assert sum(e.size for e in events) > 500  # a real stream (578 in these 30 s), not an empty one
    assert same(events, local_events)
    assert same(rest, local_rest)


def test_two_actors_over_four_books_give_the_local_event_streams() -> None:
    local_events, local_rest, local = run_local(6)
    with RaySimulation(core(), shards=2) as sim:
        assert sim.ranges == [(0, 2), (2, 2)]
        events, rest = run_sharded(sim, 6)
        for b in range(4):
            assert sim.best(b) == local.best(b)
            assert sim.fundamental_ticks(b) == local.fundamental_ticks(b)
            assert sim.signal_price(b) == local.signal_price(b)
            assert sim.account(b, 1) == local.account(b, 1)
            assert same(sim.open_orders(b, 0), local.open_orders(b, 0))
            for mine, theirs in zip(sim.miner_orders(b, 4), local.miner_orders(b, 4), strict=True):
                assert same(mine, theirs)
            for mine, theirs in zip(sim.miner_fees(b, 4), local.miner_fees(b, 4), strict=True):
                assert same(mine, theirs)
        for mine, theirs in zip(sim.miner_accounts(4), local.miner_accounts(4), strict=True):
            assert same(mine, theirs)
    for mine, theirs in zip(events, local_events, strict=True):
        for b in range(5):  # book 4..: the refused orders for an unknown book
            assert same(mine[mine["book"] == b], theirs[theirs["book"] == b]), f"book {b}"
        assert same(mine, theirs)  # merged in book order
    assert same(rest, local_rest)


def test_sharded_checkpoint_resumes_like_the_uninterrupted_run() -> None:
    with RaySimulation(core(), shards=2) as sim:
        run_sharded(sim, 3)
        state = sim.save_state()
        tail, _ = run_sharded(sim, 3, first=4)
    with RaySimulation.restore(core(), state) as resumed:
        assert resumed.time_ns == 15 * S
        again, _ = run_sharded(resumed, 3, first=4)
    assert same(again, tail)


def test_bad_sharded_checkpoint_is_refused() -> None:
    with pytest.raises(CheckpointError, match="not a sharded"):
        RaySimulation.restore(core(), b"TAOSCKPT" + bytes(40))
    with RaySimulation(core(), shards=1) as sim:
        state = sim.save_state()
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        RaySimulation.restore(core(), state[:-3])
    other = core()
    other.books = 5
    with pytest.raises(CheckpointError, match="different number of books"):
        RaySimulation.restore(other, state)


def test_instructions_must_be_instruction_records() -> None:
    with RaySimulation(core(), shards=1) as sim, pytest.raises(TypeError, match="INSTRUCTION_DTYPE"):
        sim.step(5 * S, np.zeros(3))


def test_notices_reject_a_non_miner() -> None:
    with RaySimulation(core(), shards=1) as sim:
        r = sim.step(5 * S)
        with pytest.raises(IndexError, match="miner 2 is not a miner slot"):
            r.notices(2)
        with pytest.raises(IndexError, match="unknown book 4"):
            sim.best(4)


def test_instructions_go_to_the_actor_owning_their_book() -> None:
    # routing alone, without actors: books 0-1 on shard 0, 2-4 on shard 1 (as split_books(5, 2)
    # would give 3 + 2; set by hand here)
    sim = RaySimulation.__new__(RaySimulation)
    sim.ranges = [(0, 2), (2, 3)]
    sim.num_books = 5
    sim._actors = [None, None]
    arr = instruction_array(6)
    arr["kind"] = InstructionKind.PLACE_LIMIT
    arr["book"] = [0, 3, 1, 9, 4, 2]
    arr["agent"] = [10, 11, 12, 13, 14, 15]
    arr[2]["kind"] = InstructionKind.RESET_AGENT
    first, second = sim._route(arr)
    assert first is not None and second is not None
    assert list(first["agent"]) == [10, 12]  # book 0, and the reset (every shard)
    assert list(first["book"]) == [0, 1]
    assert list(second["agent"]) == [11, 12, 13, 14, 15]  # in the given order; book 9 (unknown) last shard
    assert list(second["book"]) == [1, 1, 9, 2, 0]  # local ids; the reset and the unknown book unchanged
    assert sim._route(None) == [None, None]


def test_the_validator_loop_runs_unchanged_on_ray(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The same validator, agents and seed on a local Simulation and on RaySimulation (2 actors):
    the same miner notices reach the agent and the same scores come out."""
    import asyncio

    from taos.agents import Agent
    from taos.chain import LocalChain, Neuron
    from taos.protocol import MarketState, PlaceLimit
    from taos.protocol import Side as WireSide
    from taos.validator.loop import run
    from taos.validator.transport import InProcessTransport
    from taos.validator.validator import Validator, ValidatorSettings

    class Bidder(Agent):
        def __init__(self, uid: int) -> None:
            super().__init__(uid)
            self.notices: list = []

        def on_state(self, state: MarketState) -> list:
            self.notices.extend(state.notices)
            return [PlaceLimit(b.book, WireSide.BUY, b.best_bid, 0.01) for b in state.books if b.best_bid]

    def validator(simulation, restore):  # type: ignore[no-untyped-def]
        agent = Bidder(1)
        chain = LocalChain("v", [Neuron(0, "v", True, 1.0, None), Neuron(1, "m", False, 0.0, None)])
        v = Validator(
            loads(CONFIG), chain, InProcessTransport({1: agent}), ValidatorSettings(weights_interval_s=1e9),
            simulation=simulation, restore=restore,
        )  # fmt: skip
        v.sync_chain()
        asyncio.run(run(v, max_steps=24))
        return v, agent

    local, a = validator(None, None)
    sharded, b = validator(lambda c: RaySimulation(c, 2), RaySimulation.restore)
    try:
        assert len(a.notices) > 20 and a.notices == b.notices
        assert np.array_equal(local.scores.scores(), sharded.scores.scores())
        assert np.array_equal(local.scores.window_values(), sharded.scores.window_values(), equal_nan=True)
    finally:
        sharded.sim.close()
