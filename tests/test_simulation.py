"""taos.simulator.Simulation: stepping, delays, determinism, the GIL, bad configs."""

import numpy as np
import pytest
from gil import python_ran_during

from taos.simulator import (
    ACCOUNT_DTYPE,
    ORDER_DTYPE,
    EventKind,
    InstructionKind,
    PopulationConfig,
    Side,
    Simulation,
    SimulationConfig,
    Stp,
    TimeInForce,
    agent_models,
    instruction_array,
    notices,
)

S = 1_000_000_000  # ns per second


def small_config(books: int = 3, threads: int = 1, seed: int = 7) -> SimulationConfig:
    c = SimulationConfig()
    c.books = books
    c.seed = seed
    c.threads = threads
    c.miner_slots = 4
    c.miner_base_lots = 10_000
    c.miner_quote = 300_000_000
    c.populations = [
        PopulationConfig("initialization", 20, 20_000, 600_000_000, [("orders", 4), ("tau_s", 300)]),
        PopulationConfig(
            "random_trader", 50, 20_000, 600_000_000, [("mean_wakeup_s", 2.0)], 1_000_000, 20_000_000
        ),
    ]
    return c


def miner_limit(agent: int, book: int, side: Side, price: int, qty: int, at_ns: int) -> np.ndarray:
    """A miner's limit order reaching its book at ``at_ns``."""
    r = instruction_array(1)
    r["kind"] = InstructionKind.PLACE_LIMIT
    r["book"] = book
    r["agent"] = agent
    r["side"] = side
    r["price_ticks"] = price
    r["qty_lots"] = qty
    r["tif"] = TimeInForce.GTC
    r["stp"] = Stp.CANCEL_OLDEST
    r["ts_ns"] = at_ns
    r["client_order_id"] = 42
    return r


def test_background_market_builds_books() -> None:
    sim = Simulation(small_config())
    ev = sim.step(60 * S).events
    assert sim.time_ns == 60 * S
    assert len(ev) > 1_000
    assert set(np.unique(ev["book"])) == {0, 1, 2}
    for book in range(3):
        bid, ask = sim.best(book)
        assert 0 < bid < ask
        lv = sim.levels(book, depth=5, detail_depth=1)
        assert len(lv.bids) == 5 and len(lv.asks) == 5
    assert {"random_trader", "initialization"} <= set(agent_models())


def test_miner_instruction_arrives_at_its_time_and_notices_find_it() -> None:
    sim = Simulation(small_config())
    sim.step(10 * S)
    result = sim.step(15 * S, miner_limit(2, 1, Side.BUY, 1_000, 1, sim.time_ns + 1_500_000_000))
    mine = notices(result.events, 2)
    assert mine.tobytes() == result.notices(2).tobytes()
    assert len(mine) == 1
    assert mine[0]["kind"] == EventKind.ORDER_PLACED
    assert mine[0]["ts_ns"] == 11_500_000_000
    assert mine[0]["client_order_id"] == 42
    assert sim.account(1, 2)["quote_reserved"] == 1_000
    assert list(sim.open_orders(1, 2)["price_ticks"]) == [1_000]


def test_one_and_two_threads_give_identical_bytes() -> None:
    def run(threads: int) -> bytes:
        sim = Simulation(small_config(books=4, threads=threads))
        out = []
        for t in range(1, 13):
            result = sim.step(
                t * 5 * S, miner_limit(1, t % 4, Side.SELL, 30_050, 3, sim.time_ns + 100_000_000)
            )
            out.append(result.events.tobytes())
        return b"".join(out)

    one = run(1)
    assert len(one) > 100_000
    assert one == run(2)


def test_step_releases_the_gil() -> None:
    sim = Simulation(small_config(books=4, threads=2))
    assert python_ran_during(lambda: sim.step(600 * S))


def test_time_never_goes_back() -> None:
    sim = Simulation(small_config(books=1))
    sim.step(5 * S)
    with pytest.raises(ValueError, match="before the simulation time"):
        sim.step(4 * S)


def with_population(c: SimulationConfig, i: int, **fields: object) -> SimulationConfig:
    """The config with fields of population i replaced (pybind11 hands out copies of
    vector members, so the list is rebuilt and assigned back)."""
    pops = list(c.populations)
    for name, value in fields.items():
        setattr(pops[i], name, value)
    c.populations = pops
    return c


@pytest.mark.parametrize(
    ("population", "fields", "message"),
    [
        (1, {"params": [("wakeup", 1.0)]}, "random_trader: unknown parameter 'wakeup'"),
        (0, {"model": "martian"}, "unknown agent model 'martian'"),
        (1, {"params": [("cancel_prob", 2.0)]}, r"random_trader\.cancel_prob must be in"),
        (1, {"params": [("min_lots", 50.0), ("max_lots", 5.0)]}, "min_lots must be <= max_lots"),
        (0, {"latency_max_ns": 0}, "latency"),
        (0, {"quote": -1}, "balances must be >= 0"),
    ],
)
def test_bad_populations_name_the_problem(population: int, fields: dict, message: str) -> None:
    c = with_population(small_config(books=1), population, **fields)
    with pytest.raises(ValueError, match=message):
        Simulation(c)


def test_bad_market_settings_name_the_problem() -> None:
    c = small_config(books=1)
    c.books = 0
    with pytest.raises(ValueError, match="books"):
        Simulation(c)
    c = small_config(books=1)
    f = c.fundamental
    f.update_s = 0.0
    c.fundamental = f
    with pytest.raises(ValueError, match=r"fundamental\.update_s"):
        Simulation(c)


def test_checkpoint_file_round_trip_continues_exactly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from taos.simulator import load_checkpoint, save_checkpoint

    def steps(sim: Simulation, start: int, end: int) -> bytes:
        out = []
        for t in range(start, end):
            result = sim.step(
                (t + 1) * 5 * S, miner_limit(3, t % 3, Side.BUY, 29_900 + t, 2, sim.time_ns + 200_000_000)
            )
            out.append(result.events.tobytes())
        return b"".join(out)

    reference = steps(Simulation(small_config()), 0, 20)
    first = Simulation(small_config())
    head = steps(first, 0, 8)
    path = tmp_path / "sim.ckpt"
    save_checkpoint(first, path)
    assert not list(tmp_path.glob(".*.tmp"))
    restored = load_checkpoint(small_config(threads=2), path)
    assert restored.time_ns == 40 * S
    assert head + steps(restored, 8, 20) == reference


def test_bad_checkpoint_files_are_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from taos.simulator import CheckpointError, load_checkpoint, save_checkpoint

    sim = Simulation(small_config())
    sim.step(10 * S)
    path = tmp_path / "sim.ckpt"
    save_checkpoint(sim, path)
    with pytest.raises(CheckpointError, match="different configuration"):
        load_checkpoint(small_config(seed=99), path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        load_checkpoint(small_config(), path)
    path.write_bytes(b"{}")
    with pytest.raises(CheckpointError, match="not a"):
        load_checkpoint(small_config(), path)
    assert issubclass(CheckpointError, ValueError)
    with pytest.raises(OSError):
        load_checkpoint(small_config(), tmp_path / "missing.ckpt")


def test_step_result_has_books_miner_accounts_and_notices() -> None:
    cfg = small_config()
    sim = Simulation(cfg)
    sim.step(30 * S)
    # Miner 1 rests a bid far from the market; miner 2 sells into the best bid at once.
    orders = instruction_array(3)
    orders[0] = miner_limit(1, 0, Side.BUY, 29_000, 7, sim.time_ns + 100_000_000)[0]
    orders[1] = miner_limit(2, 0, Side.SELL, 1, 3, sim.time_ns + 200_000_000)[0]
    orders[2] = miner_limit(3, 2, Side.BUY, 0, 1, sim.time_ns + 300_000_000)[0]  # price 0: rejected
    r = sim.step(35 * S, orders, depth=3, detail_depth=1)
    assert r.time_ns == 35 * S
    assert r.miner_slots == cfg.miner_slots
    assert len(r.books) == 3
    for book in r.books:
        assert len(book.bids) == 3 and len(book.asks) == 3
        assert book.bids["price_ticks"][0] < book.asks["price_ticks"][0]
        assert set(book.bid_orders["level"]) == {0}
    assert [len(a) for a in r.accounts] == [cfg.miner_slots] * 3
    acc = r.accounts[0]
    assert acc["agent"].tolist() == list(range(cfg.miner_slots))
    assert acc[1]["quote_reserved"] == 29_000 * 7 and acc[1]["open_orders"] == 1

    kinds = lambda ev: [EventKind(k) for k in ev["kind"]]  # noqa: E731
    assert kinds(r.notices(1)) == [EventKind.ORDER_PLACED]
    two = r.notices(2)
    assert kinds(two)[0] == EventKind.ORDER_PLACED and EventKind.TRADE in kinds(two)
    assert kinds(r.notices(3)) == [EventKind.ORDER_REJECTED]
    assert len(r.notices(0)) == 0
    # Every miner notice is in the step's events, and nothing else is addressed to miners.
    n_miner_events = sum(len(r.notices(m)) for m in range(cfg.miner_slots))
    assert n_miner_events == len(notices_of_all_miners(r.events, cfg.miner_slots))
    with pytest.raises(IndexError, match="not a miner slot"):
        r.notices(cfg.miner_slots)
    assert len(sim.take_events()) == 0  # the step handed its events over


def notices_of_all_miners(events: np.ndarray, slots: int) -> list[int]:
    out = []
    for m in range(slots):
        mine = events["agent"] == m
        maker = (events["kind"] == EventKind.TRADE) & (events["other_agent"] == m) & (events["agent"] != m)
        out.extend(np.flatnonzero(mine | maker))
    return out


def test_miner_fees_give_every_agents_tier_and_window_volume_in_one_call() -> None:
    """``miner_fees(book, n)``: for agents 0..n-1, the fee tier and window volume that
    ``account(book, agent)`` gives one at a time; -1 and 0 for an agent without an account."""
    sim = Simulation(small_config())
    sim.step(10 * S)
    _, ask = sim.best(0)
    orders = [miner_limit(agent, 0, Side.BUY, ask + 5, 2 + agent, sim.time_ns + 1_000) for agent in (1, 2)]
    sim.step(15 * S, np.concatenate(orders))
    total = 0
    for book in range(3):
        for n in (0, 4, 30):
            tiers, volumes = sim.miner_fees(book, n)
            assert tiers.dtype == np.int32 and volumes.dtype == np.int64 and len(tiers) == len(volumes) == n
            for agent in range(n):
                account = sim.account(book, agent)
                assert account is not None
                assert (int(tiers[agent]), int(volumes[agent])) == (
                    account["fee_tier"],
                    account["window_volume"],
                )
            total += int(volumes.sum())
        agents = 1
        while sim.account(book, agents) is not None:
            agents += 1
        tiers, volumes = sim.miner_fees(book, agents + 3)
        assert tiers[agents:].tolist() == [-1] * 3 and volumes[agents:].tolist() == [0] * 3
    assert total > 0  # the miners' buys traded
    assert sim.miner_fees(0, 4)[1][1] > 0
    with pytest.raises(IndexError, match="unknown book 3"):
        sim.miner_fees(3, 4)


def test_miner_accounts_give_every_books_accounts_fees_and_orders_in_one_call() -> None:
    """``miner_accounts(n)``: for every book and agents 0..n-1, the account records, fee tiers and
    window volumes (zero, -1 and 0 without an account) and the open orders of ``miner_orders``,
    grouped by book, then agent, in one call."""
    sim = Simulation(small_config())
    sim.step(10 * S)
    _, ask = sim.best(0)
    orders = [miner_limit(agent, 0, Side.BUY, ask + 5, 2 + agent, sim.time_ns + 1_000) for agent in (1, 2)]
    orders += [
        miner_limit(agent, 1, Side.BUY, ask - 50 - agent, 3, sim.time_ns + 2_000) for agent in (0, 2, 2)
    ]
    sim.step(15 * S, np.concatenate(orders))
    agents = 1
    while sim.account(0, agents) is not None:
        agents += 1
    listed = 0
    for n in (0, 1, 4, agents + 3):
        records, tiers, volumes, books, owners, open_orders = sim.miner_accounts(n)
        for threads in (1, 2, 3, 9):  # a run of books per thread, joined in book order: the same
            assert all(
                a.tobytes() == b.tobytes()
                for a, b in zip(
                    sim.miner_accounts(n, threads),
                    (records, tiers, volumes, books, owners, open_orders),
                    strict=True,
                )
            )
        assert records.shape == tiers.shape == volumes.shape == (3, n)
        assert records.dtype == ACCOUNT_DTYPE and open_orders.dtype == ORDER_DTYPE
        at = 0
        for b in range(3):
            by_book = sim.accounts(b)
            mine = {int(r["agent"]): r for r in by_book[by_book["agent"] < n]}
            for agent in range(n):
                if agent in mine:
                    assert records[b, agent].tobytes() == mine[agent].tobytes()
                else:
                    assert (
                        records[b, agent].tobytes() == bytes(ACCOUNT_DTYPE.itemsize) and tiers[b, agent] == -1
                    )
            fee_tiers, window = sim.miner_fees(b, n)
            assert tiers[b].tolist() == fee_tiers.tolist() and volumes[b].tolist() == window.tolist()
            owner, found = sim.miner_orders(b, n)
            assert books[at : at + len(found)].tolist() == [b] * len(found)
            assert owners[at : at + len(found)].tolist() == owner.tolist()
            assert open_orders[at : at + len(found)].tobytes() == found.tobytes()
            at += len(found)
        assert at == len(open_orders) == len(books) == len(owners)
        listed += at
    assert listed >= 3 and (tiers[:, agents:] == -1).all()  # the last three have no account


def test_miner_orders_lists_each_miners_open_orders_from_one_scan() -> None:
    """``miner_orders(book, n)``: the open orders of agents 0..n-1 (the miners when n is the slot
    count), grouped by agent in increasing order, each group exactly ``open_orders(book, agent)``;
    agents at or beyond ``n`` are left out."""
    sim = Simulation(small_config())
    sim.step(10 * S)
    orders = [
        miner_limit(agent, book, side, price, 1 + agent, sim.time_ns + 1_000)
        for agent in (0, 1, 3)
        for book in (0, 1)
        for side, price in ((Side.BUY, 1_000 + agent), (Side.SELL, 10_000_000 - agent), (Side.BUY, 900))
    ]
    sim.step(15 * S, np.concatenate(orders))
    for book in range(3):
        for n in (0, 1, 3, 4, 30):
            owners, records = sim.miner_orders(book, n)
            assert len(owners) == len(records)
            assert np.all(np.diff(owners.astype(np.int64)) >= 0)
            assert set(owners.tolist()) <= set(range(n))
            for agent in range(n):
                mine = records[owners == agent]  # (a copy: its padding bytes are not the engine's)
                assert mine.tolist() == sim.open_orders(book, agent).tolist()
                if agent < 4:  # the miner slots
                    assert len(mine) == (3 if agent in (0, 1, 3) and book < 2 else 0)
        assert len(sim.miner_orders(book, 30)[0]) > len(sim.miner_orders(book, 4)[0])  # background too
    with pytest.raises(IndexError, match="unknown book 3"):
        sim.miner_orders(3, 4)
