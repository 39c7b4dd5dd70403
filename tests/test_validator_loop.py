"""The validator loop end to end in one process: a small market, example agents queried through
the in-process transport (states and replies still go through the wire encoding), a local chain
file, scores, weights, deregistration and a resume from the store."""

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from markets import loop_market

from taos.agents import Agent, create_agent, load_agent_class
from taos.chain import LocalChain
from taos.config import loads
from taos.protocol import (
    AccountReset,
    BookEvents,
    InstructionKind,
    MarketState,
    OrderAccepted,
    OrderRejected,
    PlaceLimit,
    Side,
)
from taos.validator.loop import run
from taos.validator.persisted import state_of
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

ROOT = Path(__file__).resolve().parents[1]
CONFIG = loop_market(slots=4)


class Recorder(Agent):
    """Keeps every notice and places one bad and one good order per state on book 0."""

    def __init__(self, uid: int, params: dict | None = None) -> None:
        super().__init__(uid, params)
        self.states: list[MarketState] = []

    def on_state(self, state: MarketState) -> list:
        self.states.append(state)
        bid = state.books[0].best_bid
        if bid is None:
            return []
        return [
            PlaceLimit(0, Side.BUY, bid - 1.0, 0.01, client_order_id=len(self.states)),
            PlaceLimit(5, Side.BUY, bid, 0.01),  # book 5 does not exist
        ]


def write_chain(path: Path, hotkeys: list[str]) -> None:
    neurons = [
        {"hotkey": h, "validator_permit": i == 0, "stake": 1000.0 if i == 0 else 0.0}
        for i, h in enumerate(hotkeys)
    ]
    path.write_text(json.dumps({"neurons": neurons}))


def make(tmp_path: Path, store=None):  # type: ignore[no-untyped-def]
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = loads(CONFIG)
    write_chain(tmp_path / "chain.json", ["validator", "m1", "m2", "m3"])
    chain = LocalChain.from_file(tmp_path / "chain.json", "validator")
    taker = create_agent(load_agent_class(ROOT / "agents", "RandomTakerAgent"), 2, {"probability": 0.8})
    agents = {1: Recorder(1), 2: taker}
    v = Validator(
        config, chain, InProcessTransport(agents), ValidatorSettings(weights_interval_s=0.0), store=store
    )
    return v, agents, chain


def test_loop_queries_miners_after_grace_and_applies_their_orders(tmp_path: Path) -> None:
    v, agents, chain = make(tmp_path)
    v.sync_chain()
    steps = asyncio.run(run(v, max_steps=30))
    assert steps == 30 and v.sim.time_ns == 150 * 1_000_000_000
    rec = agents[1]
    assert isinstance(rec, Recorder)
    # no states during the 60 s grace period: 30 steps of 5 s, queried from t = 60 s on
    assert [s.timestamp_ns for s in rec.states][:2] == [60 * 10**9, 65 * 10**9]
    assert len(rec.states) == 19
    notices = [n for s in rec.states for n in s.notices]
    accepted = [n for n in notices if isinstance(n, OrderAccepted)]
    refused = [n for n in notices if isinstance(n, OrderRejected)]
    assert len(accepted) >= 15 and all(n.book == 0 for n in accepted)
    assert len(refused) >= 15 and all("does not exist" in n.detail for n in refused)
    # the good orders rest in the book under the miner's id, with the delay the latency model gave
    assert {n.client_order_id for n in accepted} <= set(range(1, 20))
    assert rec.states[-1].accounts[0].orders  # its resting bids are shown to it
    # only its own account is in its state
    assert [a.book for a in rec.states[-1].accounts] == [0, 1]
    # the taker traded: volume and scores moved, weights were set on the local chain
    assert v.traded_totals(v.step())[2].sum() > 0
    assert chain.weight_calls and chain.weight_calls[-1].uids == (0, 1, 2, 3)
    assert np.isfinite(v.scores.scores()).all()


def test_a_new_hotkey_resets_the_uid(tmp_path: Path) -> None:
    v, agents, _ = make(tmp_path)
    v.sync_chain()
    asyncio.run(run(v, max_steps=20))
    before = v.sim.account(0, 1)
    assert before["open_orders"] > 0
    write_chain(tmp_path / "chain.json", ["validator", "new-m1", "m2", "m3"])
    v.sync_chain()
    asyncio.run(run(v, max_steps=2))
    after = v.sim.account(0, 1)
    assert after["open_orders"] <= 2  # reset, then at most the new miner's first orders
    rec = agents[1]
    assert isinstance(rec, Recorder)
    assert any(isinstance(n, AccountReset) for s in rec.states[-2:] for n in s.notices)
    assert v.scores.scores()[1] == 0.0


def test_a_reset_drops_the_old_miners_pending_instructions(tmp_path: Path) -> None:
    v, _, _ = make(tmp_path)
    v.sync_chain()
    asyncio.run(run(v, max_steps=20))
    assert (v.pending["agent"] == 1).any()  # its last reply's order waits for the next step
    others = v.pending[v.pending["agent"] != 1].copy()
    open_ids = sorted(int(i) for b in range(v.books) for i in v.sim.open_orders(b, 1)["order_id"])
    assert open_ids
    now = v.sim.time_ns
    v.reset_uid(1)
    mine = v.pending[v.pending["agent"] == 1]
    # its open orders are cancelled one by one at times spread over the next step, then it is reset
    assert mine["kind"].tolist() == [InstructionKind.CANCEL] * len(open_ids) + [InstructionKind.RESET_AGENT]
    assert sorted(mine["order_id"][:-1].tolist()) == open_ids
    end = now + v.publish_ns
    assert (np.diff(mine["ts_ns"]) >= 0).all() and now <= mine["ts_ns"][0] and mine["ts_ns"][-1] == end - 1
    assert len(set(mine["ts_ns"][:-1].tolist())) == len(open_ids)  # no two at one instant
    assert v.pending[v.pending["agent"] != 1].tobytes() == others.tobytes()


def test_an_agent_that_raises_gets_a_reply_rejected_notice_and_the_loop_goes_on(tmp_path: Path) -> None:
    v, _, _ = make(tmp_path)

    class Broken(Agent):
        def on_state(self, state: MarketState) -> list:
            self.seen = [*getattr(self, "seen", []), state]
            raise RuntimeError("boom")

    broken = Broken(3)
    assert isinstance(v.transport, InProcessTransport)
    v.transport.agents[3] = broken
    v.sync_chain()
    asyncio.run(run(v, max_steps=16))
    details = [n.detail for s in broken.seen for n in s.notices if type(n).__name__ == "ReplyRejected"]
    assert details and "boom" in details[0]


@pytest.mark.parametrize("kill_after", [17, 23])
def test_resume_from_the_store_continues_the_same_run(tmp_path: Path, kill_after: int) -> None:
    from taos.validator.store import ValidatorStore

    ref, _, _ = make(tmp_path / "a")
    ref.sync_chain()
    asyncio.run(run(ref, max_steps=30))

    (tmp_path / "b").mkdir()
    store = ValidatorStore(tmp_path / "b" / "state")
    first, _, _ = make(tmp_path / "b", store=store)
    first.sync_chain()
    asyncio.run(run(first, max_steps=kill_after))
    store.close()
    # resumed from step 1's checkpoint and the journal of the steps after it: the same simulation
    # and scores as the validator that stopped (compared by behaviour: a step further)
    probe = ValidatorStore(tmp_path / "b" / "state")
    stored = probe.load()
    assert stored is not None and stored.checkpoint.step_index == 1
    assert [e.step_index for e in stored.journal] == list(range(2, kill_after + 1))
    third, _, _ = make(tmp_path / "b", store=probe)
    a, b = state_of(first.scores), state_of(third.scores)
    assert all(a[k].tobytes() == b[k].tobytes() for k in a)
    ra, rb = (v.sim.step(v.sim.time_ns + 5 * 10**9) for v in (first, third))
    assert ra.events.tobytes() == rb.events.tobytes() and len(ra.events) > 0
    assert all(x.tobytes() == y.tobytes() for x, y in zip(ra.accounts, rb.accounts, strict=True))
    probe.close()
    # a new process: the same agents start afresh, the validator resumes from the store
    store2 = ValidatorStore(tmp_path / "b" / "state")
    second, _, _ = make(tmp_path / "b", store=store2)
    assert second.step_index == kill_after
    second.sync_chain()
    asyncio.run(run(second, max_steps=30 - kill_after))
    assert second.sim.time_ns == ref.sim.time_ns
    # the background market is deterministic and the history was kept
    assert second.scores.observations == ref.scores.observations
    store2.close()


def test_metrics_follow_the_loop(tmp_path: Path) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from taos.validator.metrics import ValidatorMetrics

    v, _, _ = make(tmp_path)
    v.metrics = ValidatorMetrics(process_metrics=False)
    v.sync_chain()
    asyncio.run(run(v, max_steps=20))
    v.sync_chain(force_weights=True)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(v.metrics.render().decode())
        for s in f.samples
    }
    assert samples[("taos_validator_step_index", ())] == 20
    assert samples[("taos_validator_step_duration_seconds_count", ())] == 20
    # the recorder's order for book 5 is refused by the validator's check: reason UNKNOWN_BOOK
    assert samples[("taos_validator_rejections_total", (("reason", "UNKNOWN_BOOK"),))] >= 9
    assert samples[("taos_validator_query_latency_seconds_count", ())] >= 18  # 9 states x 2 miners
    assert ("taos_validator_miner_score", (("uid", "2"),)) in samples


def test_weights_cover_the_registered_uids_only(tmp_path: Path) -> None:
    v, _, chain = make(tmp_path)
    write_chain(tmp_path / "chain.json", ["validator", "m1"])  # two of the four slots registered
    v.sync_chain()
    asyncio.run(run(v, max_steps=16))
    v.sync_chain(force_weights=True)
    last = chain.weight_calls[-1]
    assert last.uids == (0, 1) and len(last.weights) == 2 and all(w >= 0 for w in last.weights)


def test_the_miners_are_told_the_fee_window_of_the_config() -> None:
    text = loop_market() + "\n[fees]\nwindow_buckets = 3\nbucket_s = 600.0\n"
    v = Validator(loads(text), LocalChain("v"), InProcessTransport({}), ValidatorSettings())
    assert v.info.fee_window_ns == 3 * 600 * 10**9


class Levels(Recorder):
    """A Recorder that reads the levels only: it asks for no book events."""

    book_events = BookEvents.NONE


def test_each_miner_gets_the_book_events_it_asked_for(tmp_path: Path) -> None:
    """A reply's ``book_events`` shapes the miner's next states (the first state of a miner
    carries every event: nothing was asked yet); the preference is persisted and forgotten when a
    new hotkey takes the uid."""
    from taos.validator.store import ValidatorStore

    store = ValidatorStore(tmp_path / "state")
    v, agents, _ = make(tmp_path, store)
    agents[3] = Levels(3)
    v.transport.agents[3] = agents[3]  # type: ignore[attr-defined]
    v.sync_chain()
    asyncio.run(run(v, max_steps=20))
    every, levels = agents[1].states, agents[3].states  # type: ignore[attr-defined]
    assert len(every) == len(levels) >= 5
    assert all(sum(len(b.event_records) for b in s.books) > 0 for s in every)
    assert sum(len(b.event_records) for b in levels[0].books) > 0  # before its first reply
    assert all(b.event_records == b"" and b.events_dropped == 0 for s in levels[1:] for b in s.books)
    assert [s.books[0].bid_levels for s in levels] == [s.books[0].bid_levels for s in every]
    # uid 0 (the validator) never replies; uid 2 is the example RandomTakerAgent, which reads no events
    assert v.book_events.tolist() == [BookEvents.ALL, BookEvents.ALL, BookEvents.NONE, BookEvents.NONE]
    assert state_of(v)["book_events"].tolist() == v.book_events.tolist()
    store.close()
    with ValidatorStore(tmp_path / "state") as again:
        resumed, _, _ = make(tmp_path, again)
    assert resumed.book_events.tolist() == v.book_events.tolist()
    resumed.reset_uid(3)
    assert resumed.book_events[3] == BookEvents.ALL
