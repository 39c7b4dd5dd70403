"""Targets and positions through the whole validator loop: an in-process agent sends
TargetPositions under preset ptn's rules; its inventory ends where the formula says and the
validator records its positions. Then the same run is interrupted and resumed from the store: the
positions and the rules' state survive the restart."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest
from markets import loop_market

from taos.agents import Agent
from taos.chain import LocalChain
from taos.config import loads
from taos.protocol import Direction, MarketState, OrderFilled, OrderRejected, TargetAccepted
from taos.validator.latency import LatencyModel
from taos.validator.loop import run
from taos.validator.persisted import state_of
from taos.validator.rules import RulesSettings
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

S = 1_000_000_000
LOT = 0.0001
CONFIG = loop_market(slots=3, seed=11, duration_s=3600.0, grace_period_s=10.0, miners="wealth = 1000.0")

# sim time of the state → (direction, leverage, client order id) the agent sends for book 0
PLAN = {
    10: (Direction.LONG, 0.4, 1),  # opens a long
    15: (Direction.LONG, 0.6, 2),  # refused: 5 s after the last position change
    70: (Direction.SHORT, 0.4, 3),  # a flip: only closes the long
    75: (Direction.FLAT, 1.0, 5),  # refused: 5 s after the close
    130: (Direction.SHORT, 0.3, 4),  # opens a short
}


class TargetAgent(Agent):
    """Sends the targets of PLAN and writes down, for each, the target the formula gives from the
    state it answers: neutral + d x leverage x (quote + mid x base) / mid on book 0."""

    def __init__(self, uid: int, params: dict | None = None) -> None:
        super().__init__(uid, params)
        self.states: list[MarketState] = []
        self.expected: dict[int, float] = {}  # client order id → target base
        self.accepted: dict[int, TargetAccepted] = {}
        self.refused: dict[int, OrderRejected] = {}
        self.filled: dict[int, float] = {}  # order id → base filled

    def on_target_accepted(self, notice: TargetAccepted) -> None:
        assert notice.client_order_id is not None
        self.accepted[notice.client_order_id] = notice

    def on_order_rejected(self, notice: OrderRejected) -> None:
        if notice.client_order_id is not None:
            self.refused[notice.client_order_id] = notice

    def on_trade(self, notice: OrderFilled) -> None:
        self.filled[notice.order_id] = self.filled.get(notice.order_id, 0.0) + notice.quantity

    def on_state(self, state: MarketState) -> list:
        self.states.append(state)
        plan = PLAN.get(state.timestamp_ns // S)
        if plan is None:
            return []
        direction, leverage, cid = plan
        account, book = state.accounts[0], state.books[0]
        assert book.mid is not None and self.simulation is not None
        base, equity = account.base.total, account.quote.total + book.mid * account.base.total
        neutral = self.simulation.capital[0].base
        if direction == Direction.FLAT or (direction == Direction.SHORT and base - neutral > LOT):
            self.expected[cid] = neutral  # FLAT, or a flip turned into a close
        else:
            sign = 1 if direction == Direction.LONG else -1
            self.expected[cid] = neutral + sign * min(leverage, 1.0) * equity / book.mid
        return [self.target(0, direction, leverage, client_order_id=cid)]

    def base_at(self, time_s: int) -> float:
        return next(s.accounts[0].base.total for s in self.states if s.timestamp_ns == time_s * S)

    def equity_at(self, time_s: int) -> float:
        state = next(s for s in self.states if s.timestamp_ns == time_s * S)
        assert state.books[0].mid is not None
        return state.accounts[0].quote.total + state.books[0].mid * state.accounts[0].base.total


class FixedLatency(LatencyModel):
    """Every reply 10 ms (wall response times would make two runs differ)."""

    name = "fixed"

    def delay_ns(self, response_time_s: float) -> int | None:
        return 10_000_000


def make(tmp_path: Path, store: object = None) -> tuple[Validator, TargetAgent]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    chain_file = tmp_path / "chain.json"
    chain_file.write_text(
        json.dumps({"neurons": [{"hotkey": "v", "validator_permit": True}, {"hotkey": "m1"}]})
    )
    agent = TargetAgent(1)
    settings = ValidatorSettings(weights_interval_s=1e9, rules=RulesSettings.preset("ptn"))
    v = Validator(
        loads(CONFIG),
        LocalChain.from_file(chain_file, "v"),
        InProcessTransport({1: agent}),
        settings,
        latency=FixedLatency(),
        store=store,
        clock=lambda: 0.0,  # wall clock of the rate limit: 32 replies, far under 120 per minute
    )
    v.sync_chain()
    return v, agent


def test_an_agent_sending_targets_ends_with_the_formulas_inventory_and_recorded_positions(
    tmp_path: Path,
) -> None:
    v, agent = make(tmp_path)
    assert asyncio.run(run(v, max_steps=32)) == 32  # to t = 160 s
    neutral = v.info.capital[0].base
    assert neutral == pytest.approx(v.neutral_lots * LOT)

    # every accepted target's market order filled in full at the next step (sized in base: the
    # price it paid moves the quote, never the base), so each target is reached to within one lot
    # (the order is rounded down to the lot): 0 <= |target - base| < 1 lot
    assert set(agent.accepted) == {1, 3, 4}
    for cid, after in ((1, 15), (3, 75), (4, 135)):
        notice = agent.accepted[cid]
        before = after - 5
        assert agent.base_at(after) == pytest.approx(agent.base_at(before) + notice.quantity, abs=1e-9)
        assert abs(agent.base_at(after) - agent.expected[cid]) < LOT + 1e-9
        assert notice.quantity != 0 and abs(notice.quantity) == pytest.approx(
            abs(agent.expected[cid] - agent.base_at(before)), abs=LOT
        )
    assert (agent.accepted[1].direction, agent.accepted[1].leverage) == (Direction.LONG, 0.4)
    assert agent.accepted[1].quantity > 0
    assert agent.accepted[3].direction == Direction.FLAT and agent.accepted[3].quantity < 0  # no flip
    assert agent.base_at(75) == pytest.approx(neutral, abs=LOT)
    assert agent.accepted[4].direction == Direction.SHORT and agent.accepted[4].quantity < 0
    assert sum(agent.filled.values()) == pytest.approx(sum(abs(n.quantity) for n in agent.accepted.values()))

    # the rules refused the targets sent 5 s after a change (one position change per minute)
    assert set(agent.refused) == {2, 5}
    assert all(n.detail.startswith("position_interval: ") for n in agent.refused.values())

    # positions: a long from 15 s (the first step that ended with the bought base) to 75 s, then a
    # short from 135 s, still open; returns = equity at close / equity at open - 1
    long, short = v.positions.positions(1)
    assert (long.book, long.direction, long.open_ns, long.close_ns) == (0, 1, 15 * S, 75 * S)
    assert long.open_equity == pytest.approx(agent.equity_at(15), rel=1e-12)
    assert long.close_equity == pytest.approx(agent.equity_at(75), rel=1e-12)
    assert long.return_ == pytest.approx(agent.equity_at(75) / agent.equity_at(15) - 1, rel=1e-9)
    assert (short.direction, short.open_ns, short.is_open) == (-1, 135 * S, True)
    assert v.positions.closed_count(1) == 1 and v.positions.open_count(1) == 1
    assert v.positions.hours_in_positions(1, 160 * S) == pytest.approx((60 + 25) / 3600)
    assert v.last_target_ns[1].tolist()[0] == 130 * S


def same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)


@pytest.mark.parametrize("stop_after", [14, 27])
def test_positions_and_position_change_times_survive_a_restart(tmp_path: Path, stop_after: int) -> None:
    from taos.validator.store import ValidatorStore

    reference, _ = make(tmp_path / "a")
    asyncio.run(run(reference, max_steps=32))

    store = ValidatorStore(tmp_path / "b" / "state")
    first, _ = make(tmp_path / "b", store)
    asyncio.run(run(first, max_steps=stop_after))
    saved_positions, saved_last = state_of(first.positions), first.last_target_ns.copy()
    store.close()

    store = ValidatorStore(tmp_path / "b" / "state")
    second, agent = make(tmp_path / "b", store)  # a new process: a new agent, the validator resumes
    assert second.step_index == stop_after
    assert same(state_of(second.positions), saved_positions)
    assert (second.last_target_ns == saved_last).all()
    asyncio.run(run(second, max_steps=32 - stop_after))
    store.close()
    # the resumed run is the uninterrupted one: same positions, same position-change times
    assert same(state_of(second.positions), state_of(reference.positions))
    assert (second.last_target_ns == reference.last_target_ns).all()
    if stop_after == 14:  # stopped right after the close at 70 s: the FLAT at 75 s is still too soon
        assert agent.refused[5].detail.startswith("position_interval: the last position change on book 0")


def test_a_store_with_broken_positions_is_refused(tmp_path: Path) -> None:
    from taos.validator.store import StoreError, ValidatorStore

    store = ValidatorStore(tmp_path / "state")
    v, _ = make(tmp_path, store)
    asyncio.run(run(v, max_steps=3))
    v.positions._direction[1, 0] = 3  # not a direction, committed (with a checkpoint) as it is
    v.step_index += 1
    v._checkpoint_step = None
    v.persist()
    store.close()
    message = r"the stored state: positions: direction must be 1, -1 or 0"
    with ValidatorStore(tmp_path / "state") as again, pytest.raises(StoreError, match=message):
        make(tmp_path, again)
