"""Fair ordering (taos.validator.ordering): instructions that reach a book at the same time run in
an order drawn per step from the simulation's seed, never in uid order, each miner's own in the
order it sent them."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from markets import loop_market

from taos.agents import Agent
from taos.chain import LocalChain
from taos.config import loads
from taos.protocol import EventKind, MarketState, PlaceLimit, Side
from taos.simulator import instruction_array
from taos.validator.ordering import fair_order, miner_order
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings


def records(agents: list[int]) -> np.ndarray:
    r = instruction_array(len(agents))
    r["agent"] = agents
    r["order_id"] = np.arange(len(agents))  # each record's place in the input
    return r


def test_the_order_is_a_permutation_drawn_from_the_seed_and_the_step() -> None:
    a = miner_order(7, 3, 50)
    assert sorted(a.tolist()) == list(range(50))
    assert np.array_equal(a, miner_order(7, 3, 50))  # every validator with this seed draws it
    assert not np.array_equal(a, miner_order(7, 4, 50))  # another step, another order
    assert not np.array_equal(a, miner_order(8, 3, 50))  # another seed, another order
    assert miner_order(-1, 0, 3).tolist() == miner_order((1 << 64) - 1, 0, 3).tolist()
    assert miner_order(1, 0, 0).tolist() == []
    for bad in ({"step_index": -1}, {"slots": -2}, {"step_index": 1.5}, {"slots": True}):
        with pytest.raises(ValueError):
            miner_order(**{"seed": 1, "step_index": 0, "slots": 3, **bad})  # type: ignore[arg-type]


def test_each_miner_keeps_its_own_order_and_ordering_twice_changes_nothing() -> None:
    agents = [1, 2, 1, 3, 2, 1, 0, 3]
    out = fair_order(records(agents), 11, 5, 4)
    assert sorted(out["order_id"].tolist()) == list(range(len(agents)))
    for uid in set(agents):
        mine = out["order_id"][out["agent"] == uid].tolist()
        assert mine == sorted(mine)  # a miner's cancel stays before the order that replaces it
    place = miner_order(11, 5, 4)
    assert (np.diff(place[out["agent"]]) >= 0).all()  # grouped in the step's order of the miners
    assert np.array_equal(fair_order(out, 11, 5, 4), out)  # stored ordered, run ordered: the same
    assert len(fair_order(records([]), 1, 1, 4)) == 0 and fair_order(records([2]), 1, 1, 4)["agent"][0] == 2
    outside = fair_order(records([9, 1, 0]), 1, 1, 2)  # an agent past the slots goes last
    assert outside["agent"][-1] == 9


def test_no_miner_comes_first_more_often_than_chance() -> None:
    """Over 4,000 steps of 4 miners each one is first in about a quarter of them (binomial: a
    standard deviation of 27 around 1,000; the bounds are 3.7 of them)."""
    firsts = Counter(int(fair_order(records([0, 1, 2, 3]), 5, step, 4)["agent"][0]) for step in range(4000))
    assert set(firsts) == {0, 1, 2, 3}
    assert all(900 <= n <= 1100 for n in firsts.values()), firsts


class SameBid(Agent):
    """Places one limit bid a tick under the best bid on book 0 at each state: two of them send the
    same instruction at the same time."""

    def on_state(self, state: MarketState) -> list:
        bid = state.books[0].best_bid
        if bid is None:
            return []
        return [PlaceLimit(0, Side.BUY, round(bid - state.simulation.tick_size, 2), 0.01)]


def test_two_identical_miners_reach_the_book_first_in_turn_not_by_uid(tmp_path: Path) -> None:
    """The engine's own events: at each step the two miners' orders arrive at the same time; which
    one it places first is the step's draw, so the lower uid is first in about half of the steps
    (with uid order it was first in all of them)."""
    chain_file = tmp_path / "chain.json"
    neurons = [{"hotkey": h, "validator_permit": i == 0} for i, h in enumerate(["v", "m1", "m2"])]
    chain_file.write_text(json.dumps({"neurons": neurons}))
    config = loads(loop_market(slots=3, grace_period_s=0.0, duration_s=400.0))
    transport = InProcessTransport({1: SameBid(1), 2: SameBid(2)})
    v = Validator(
        config, LocalChain.from_file(chain_file, "v"), transport, ValidatorSettings(weights_interval_s=1e9)
    )
    v.jitter_ns = (0, 0)  # no arrival jitter: the two orders tie, and the fair order decides
    v.sync_chain()
    firsts = []
    for _ in range(80):
        result = v.step()
        ev = result.events
        mine = ev[(ev["kind"] == EventKind.ORDER_PLACED) & np.isin(ev["agent"], [1, 2]) & (ev["book"] == 0)]
        if len(mine) == 2:
            assert mine["ts_ns"][0] == mine["ts_ns"][1]  # a tie: the same arrival time
            firsts.append(int(mine["agent"][np.argmin(mine["seq"])]))
        v.accept(asyncio.run(v.query(v.requests(result))))
    assert len(firsts) >= 70
    share = firsts.count(1) / len(firsts)
    assert 0.3 <= share <= 0.7, (share, len(firsts))
