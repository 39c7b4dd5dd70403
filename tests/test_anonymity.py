"""Anonymity of the public event stream (docs/validator.md, "What the public stream tells").

An observer sees every book's public events (placements, trades, removals: no agent id). These
tests measure, on a seeded run of the real validator loop with three quoting miners and the default
background populations, how much of a miner's activity the observer can group by timestamp or by
order id, against a control that shows the measure finds the links the validator used to leave:

- timestamps: no two of a miner's orders share one, and none sits at a whole millisecond after its
  step (the latency model's grid, e.g. its 10 ms floor); without the arrival jitter both hold for
  nearly all of them;
- ids: the public ids are the orders' numbers in their book's stream (consecutive in the order the
  placements come), so they say nothing the order of the events does not; the exchange ids' slot
  bits linked a cancelled order to its replacement;
- a reset miner's orders leave one by one over the next step, not as one burst of reset
  cancellations.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from taos.agents import Agent
from taos.agents.loader import create_agent, load_agent_class
from taos.chain import LocalChain
from taos.config import from_dict, parse_toml, read_config_text
from taos.local.data import data_dir
from taos.protocol import BookEvents, CancelReason, EventKind, MarketState, public_order_id
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

MINERS = (1, 2, 3)
OBSERVER = 4
SLOT_MASK = (1 << 24) - 1
STEPS = 60


class Observer(Agent):
    """Keeps the public events of book 0 it is sent, and sends nothing."""

    book_events = BookEvents.ALL

    def __init__(self, uid: int, params: dict | None = None) -> None:
        super().__init__(uid, params)
        self.events: list[np.ndarray] = []

    def on_state(self, state: MarketState) -> list:
        self.events.append(state.books[0].event_array.copy())
        return []


@dataclass
class Run:
    v: Validator
    engine: np.ndarray  # book 0's engine events (with agent ids), every step
    public: np.ndarray  # book 0's public events as the observer received them
    step_start: np.ndarray  # per engine event: the start of the step it happened in


def validator(tmp_path: Path, **params: float) -> tuple[Validator, Observer]:
    """The default market on one book for 10 minutes; three quoting miners (``params``: the
    RandomMakerAgent's, by default at most 6 open orders each) and an observer."""
    text = read_config_text(data_dir("configs") / "default.toml")
    data = parse_toml(text, "default.toml")
    data["simulation"].update(books=1, duration_s=600.0, grace_period_s=0.0, seed=11)
    data.setdefault("miners", {})["slots"] = 5
    config = from_dict(data, "default.toml")
    maker = load_agent_class(data_dir("agents"), "RandomMakerAgent")
    agents: dict[int, Agent] = {u: create_agent(maker, u, {"max_open_orders": 6, **params}) for u in MINERS}
    observer = Observer(OBSERVER)
    agents[OBSERVER] = observer
    chain_file = tmp_path / "chain.json"
    write_chain(chain_file, ["validator", "m1", "m2", "m3", "observer"])
    chain = LocalChain.from_file(chain_file, "validator")
    v = Validator(config, chain, InProcessTransport(agents), ValidatorSettings(weights_interval_s=1e9))
    v.sync_chain()
    return v, observer


def write_chain(path: Path, hotkeys: list[str]) -> None:
    neurons = [{"hotkey": h, "validator_permit": i == 0} for i, h in enumerate(hotkeys)]
    path.write_text(json.dumps({"neurons": neurons}))


def drive(v: Validator, observer: Observer, steps: int) -> Run:
    engine, starts = [], []
    for _ in range(steps):
        start = v.sim.time_ns
        result = v.step()
        ev = result.events[result.events["book"] == 0]
        engine.append(ev)
        starts.append(np.full(len(ev), start, dtype=np.int64))
        v.accept(asyncio.run(v.query(v.requests(result))))
    return Run(v, np.concatenate(engine), np.concatenate(observer.events), np.concatenate(starts))


def run(tmp_path: Path, *, jitter: bool) -> Run:
    v, observer = validator(tmp_path)
    if not jitter:
        v.jitter_ns = (0, 0)
    return drive(v, observer, STEPS)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Run]:
    return {j: run(tmp_path_factory.mktemp(f"jitter-{j}"), jitter=j) for j in (True, False)}


def placed(r: Run) -> np.ndarray:
    """The miners' placements among the engine events."""
    ev = r.engine
    return (ev["kind"] == EventKind.ORDER_PLACED) & np.isin(ev["agent"], MINERS)


def shared_timestamp_share(r: Run) -> float:
    """Of the miners' orders, the share that arrived at the same instant as another order of the
    same miner (an observer groups those as one miner's)."""
    ev = r.engine[placed(r)]
    linked = 0
    for uid in MINERS:
        ts = ev["ts_ns"][ev["agent"] == uid]
        _, counts = np.unique(ts, return_counts=True)
        linked += int(counts[counts > 1].sum())
    return linked / len(ev)


def grid_share(r: Run) -> float:
    """Of the miners' orders, the share that arrived a whole number of milliseconds after the
    start of their step."""
    mask = placed(r)
    offset = r.engine["ts_ns"][mask] - r.step_start[mask]
    return float(np.mean(offset % 1_000_000 == 0))


def slot_links(ids_of_removed: np.ndarray, ids_of_placed: np.ndarray, r: Run) -> tuple[int, int]:
    """The observer's slot heuristic: each miner's cancelled order is linked to the next placement
    whose id has the same low 24 bits. (pairs linked correctly to the same miner, cancels)."""
    ev = r.engine
    cancel_rows = np.flatnonzero(
        (ev["kind"] == EventKind.ORDER_CANCELLED)
        & (ev["reason"] == CancelReason.REQUESTED)
        & np.isin(ev["agent"], MINERS)
    )
    place_rows = np.flatnonzero(ev["kind"] == EventKind.ORDER_PLACED)
    correct = 0
    for i in cancel_rows:
        later = place_rows[place_rows > i]
        same = later[(ids_of_placed[later] & SLOT_MASK) == (ids_of_removed[i] & SLOT_MASK)]
        if len(same) and ev["agent"][same[0]] == ev["agent"][i]:
            correct += 1
    return correct, len(cancel_rows)


def public_ids(r: Run) -> np.ndarray:
    """The public id of each engine event's order, as the observer received it (matched by the
    event's sequence number; every engine event of a public kind reached the observer)."""
    by_seq = dict(zip(r.public["seq"].tolist(), r.public["order_id"].tolist(), strict=True))
    return np.array([by_seq.get(int(s), 0) for s in r.engine["seq"]], dtype=np.uint64)


def test_the_observer_receives_every_public_event(runs: dict[bool, Run]) -> None:
    r = runs[True]
    public = np.isin(r.engine["kind"], [EventKind.ORDER_PLACED, EventKind.TRADE, EventKind.ORDER_CANCELLED])
    assert r.public["seq"].tolist() == r.engine["seq"][public].tolist()
    assert placed(r).sum() > 200  # the miners quoted all along


def test_a_miners_orders_do_not_share_a_timestamp(runs: dict[bool, Run]) -> None:
    with_jitter, without = shared_timestamp_share(runs[True]), shared_timestamp_share(runs[False])
    assert without > 0.9  # every reply's orders at one instant: grouped by timestamp
    assert with_jitter == 0.0


def test_a_miners_orders_are_not_on_the_latency_grid(runs: dict[bool, Run]) -> None:
    assert grid_share(runs[False]) > 0.9  # replies in process: all at the 10 ms floor
    assert grid_share(runs[True]) < 0.01  # as often as a uniform time would be


def test_the_arrival_jitter_stays_in_the_background_agents_latency_range(runs: dict[bool, Run]) -> None:
    low, high = runs[True].v.jitter_ns
    assert (low, high) == (500_000, 50_000_000)  # the default populations' latencies: 0.5 to 50 ms
    mask = placed(runs[True])
    offset = runs[True].engine["ts_ns"][mask] - runs[True].step_start[mask]
    floor = 10_000_000  # the latency model's delay of a fast reply
    assert offset.min() >= floor + low and offset.max() <= floor + high
    assert np.percentile(offset, 90) - np.percentile(offset, 10) > (high - low) / 2  # spread over it


def test_public_ids_number_the_orders_in_the_order_they_arrive(runs: dict[bool, Run]) -> None:
    r = runs[True]
    placements = r.public["order_id"][r.public["kind"] == EventKind.ORDER_PLACED]
    assert (np.diff(placements.astype(np.int64)) == 1).all()
    engine_ids = r.engine["order_id"][r.engine["kind"] == EventKind.ORDER_PLACED]
    assert [public_order_id(int(i)) for i in engine_ids] == placements.tolist()


def test_the_slot_heuristic_links_nothing_through_public_ids(runs: dict[bool, Run]) -> None:
    before = runs[False]  # the stream as it was: no jitter, exchange ids
    exchange = before.engine["order_id"]
    linked, cancels = slot_links(exchange, exchange, before)
    assert cancels > 50 and linked / cancels > 0.9  # a replacement reuses its cancelled order's slot
    for r in runs.values():
        public = public_ids(r)
        assert slot_links(public, public, r)[0] == 0


def test_a_reset_is_no_burst_of_one_agents_cancellations(tmp_path: Path) -> None:
    v, observer = validator(tmp_path, max_offset_ticks=300, max_open_orders=12, expiry_period=600.0)
    drive(v, observer, 20)
    orders = v.sim.open_orders(0, 1)
    assert len(orders) >= 4
    write_chain(tmp_path / "chain.json", ["validator", "new-m1", "m2", "m3", "observer"])
    v.sync_chain()  # uid 1 has a new hotkey: reset
    start = v.sim.time_ns
    r = drive(v, observer, 1)
    ev = r.engine
    gone = (ev["kind"] == EventKind.ORDER_CANCELLED) & np.isin(ev["order_id"], orders["order_id"])
    assert gone.sum() == len(orders)
    assert not (ev["reason"] == CancelReason.RESET).any()  # ordinary cancellations…
    ts = ev["ts_ns"][gone]
    assert len(np.unique(ts)) == len(ts) and ts.min() >= start  # …one at a time, over the step
    rows = np.flatnonzero(gone)
    assert np.mean(np.diff(rows) == 1) <= 0.2  # other agents' events come between them
    assert v.sim.account(0, 1)["open_orders"] == 0
