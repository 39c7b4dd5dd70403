"""Preset ptn in the validator loop: a real simulation, in-process agents, a local chain file.

One agent loses money on purpose and is eliminated by a drawdown (weight 0, orders cancelled in the
engine, no more states); one passes its challenge; one fails it. Re-registering the eliminated
uid starts afresh. A validator stopped and resumed from its store ends in the same state as one
that ran through."""

import asyncio
import dataclasses
import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
from markets import loop_market

from taos.agents import Agent
from taos.chain import LocalChain
from taos.config import loads
from taos.protocol import AccountReset, Currency, MarketState, PlaceLimit, PlaceMarket, Side
from taos.scoring import ChallengeThresholds
from taos.simulator import InstructionKind
from taos.validator.latency import LatencyModel
from taos.validator.loop import run
from taos.validator.persisted import state_of
from taos.validator.policy import ScoringSettings
from taos.validator.schemes import PtnScheme, TaosScheme
from taos.validator.schemes.ptn import Policies, Reason, Status
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings


def policies(v: Validator) -> Policies:
    """The preset ptn trackers of a validator's scoring scheme."""
    assert isinstance(v.scheme, PtnScheme)
    return v.scheme.policies


S = 1_000_000_000
CONFIG = loop_market(slots=4)
WALL = 1_700_000_000.0  # the wall clock of these runs (a constant: runs must be reproducible)

# Preset ptn with limits that a few minutes of simulated trading can reach: eliminated 1 % below
# the maximum or 0.5 % below the day's; a 5-minute challenge that needs 3 minutes in positions.
SCORING = dataclasses.replace(
    ScoringSettings.preset("ptn"),
    max_drawdown=0.01,
    max_daily_drawdown=0.005,
    challenge_period_s=300.0,
    challenge_thresholds=ChallengeThresholds(-1.0, -100.0, 0, 0.05),
    checkpoint_period_s=60.0,
    decay_window_s=180.0,
    min_volume=0.0,  # the holder bought once: ranked although it no longer trades (tested apart)
)
DUMPER, IDLE, HOLDER = 1, 2, 3


class Dumper(Agent):
    """Loses money on purpose: on book 0 it sells all its base at market in one state and buys
    back with 95 % of its quote in the next (paying spread, impact and taker fees each time); on
    book 1 it keeps up to three bids resting far below the market. Its replies depend on the state
    only, so a restarted run sees the same ones."""

    def __init__(self, uid: int, params: dict | None = None) -> None:
        super().__init__(uid, params)
        self.states: list[MarketState] = []

    def on_state(self, state: MarketState) -> list:
        self.states.append(state)
        out: list = []
        acc0, acc1 = state.accounts[0], state.accounts[1]
        if (state.timestamp_ns // (5 * S)) % 2 == 0:
            qty = math.floor(acc0.base.free * 1e4) / 1e4
            if qty > 0:
                out.append(PlaceMarket(0, Side.SELL, qty))
        else:
            notional = math.floor(acc0.quote.free * 0.95 * 100) / 100
            if notional > 1:
                out.append(PlaceMarket(0, Side.BUY, notional, currency=Currency.QUOTE))
        bid = state.books[1].best_bid
        if bid is not None and len(acc1.orders) < 3:
            out.append(PlaceLimit(1, Side.BUY, round(bid * 0.8, 2), 0.01))
        return out


class Idle(Agent):
    def __init__(self, uid: int, params: dict | None = None) -> None:
        super().__init__(uid, params)
        self.states: list[MarketState] = []

    def on_state(self, state: MarketState) -> list:
        self.states.append(state)
        return []


class HolderPositions:
    """The position tracker's view for these runs: uid 3 holds one position from time 0 on."""

    def closed_count(self, uid: int) -> int:
        return 0

    def hours_in_positions(self, uid: int, now_ns: int) -> float:
        return now_ns / (3_600 * S) if uid == HOLDER else 0.0


class FixedLatency(LatencyModel):
    """10 ms for every reply, whatever its response time (reproducible runs)."""

    name = "fixed"

    def delay_ns(self, response_time_s: float) -> int | None:
        return 10_000_000


def write_chain(path: Path, hotkeys: list[str]) -> None:
    neurons = [
        {"hotkey": h, "validator_permit": i == 0, "stake": 1000.0 if i == 0 else 0.0}
        for i, h in enumerate(hotkeys)
    ]
    path.write_text(json.dumps({"neurons": neurons}))


def make(tmp_path: Path, store=None, scoring: ScoringSettings = SCORING):  # type: ignore[no-untyped-def]
    tmp_path.mkdir(parents=True, exist_ok=True)
    chain_file = tmp_path / "chain.json"
    if not chain_file.exists():
        write_chain(chain_file, ["validator", "m1", "m2", "m3"])
    chain = LocalChain.from_file(chain_file, "validator")
    agents = {DUMPER: Dumper(DUMPER), IDLE: Idle(IDLE), HOLDER: Idle(HOLDER)}
    v = Validator(
        loads(CONFIG),
        chain,
        InProcessTransport(agents),
        ValidatorSettings(weights_interval_s=0.0, scoring=scoring),
        latency=FixedLatency(),
        store=store,
        positions=HolderPositions(),
        wall_clock=lambda: WALL,
    )
    return v, agents, chain


def run_steps(v: Validator, steps: int, on_step=None) -> None:  # type: ignore[no-untyped-def]
    asyncio.run(run(v, max_steps=steps, on_step=on_step))


def test_ptn_eliminates_a_losing_agent_cancels_its_orders_and_gives_it_weight_0(tmp_path: Path) -> None:
    v, agents, chain = make(tmp_path)
    v.sync_chain()
    assert isinstance(v.scheme, PtnScheme)
    assert policies(v).challenge.status().tolist() == [
        Status.NONE,
        Status.ACTIVE,
        Status.ACTIVE,
        Status.ACTIVE,
    ]
    seen: dict[str, object] = {}

    def on_step(result) -> None:  # type: ignore[no-untyped-def]
        assert isinstance(v.scheme, PtnScheme)
        if policies(v).eliminations.is_eliminated(DUMPER) and "step" not in seen:
            seen["step"] = v.step_index
            seen["open"] = [int(v.sim.account(b, DUMPER)["open_orders"]) for b in range(2)]
            cancels = v.pending[v.pending["agent"] == DUMPER]
            seen["cancels"] = sorted(int(x) for x in cancels["order_id"])
            seen["kinds"] = set(cancels["kind"].tolist())
            seen["orders"] = sorted(int(x) for x in v.sim.open_orders(1, DUMPER)["order_id"])
            seen["states"] = len(agents[DUMPER].states)
            seen["weights"] = chain.weight_calls[-1]

    run_steps(v, 40, on_step)  # to 200 s of sim time
    record = policies(v).eliminations.record(DUMPER)
    assert record is not None, "the dumper was not eliminated"
    assert record.reason in (Reason.DAILY_DRAWDOWN, Reason.DRAWDOWN)
    limit = SCORING.max_daily_drawdown if record.reason == Reason.DAILY_DRAWDOWN else SCORING.max_drawdown
    assert record.reference - record.value > limit * record.reference
    assert record.wall_time_s == WALL and 60 * S < record.sim_time_ns <= 200 * S
    # nobody else was eliminated by a drawdown
    assert policies(v).eliminations.records() == [record]
    # at the elimination: its resting bids on book 1 get one Cancel each for the next step, and its
    # instructions accepted in that turn are dropped
    assert seen["open"][1] >= 1  # type: ignore[index]
    assert seen["cancels"] == seen["orders"] and seen["kinds"] == {int(InstructionKind.CANCEL)}
    # the cancels ran in the engine: no open order left anywhere
    assert [v.sim.account(b, DUMPER)["open_orders"] for b in range(2)] == [0, 0]
    assert all(len(v.sim.open_orders(b, DUMPER)) == 0 for b in range(2))
    # not queried any more
    assert len(agents[DUMPER].states) == seen["states"]
    assert DUMPER not in v.serving()
    # weight 0 on the chain from the elimination on: the idle agent and the holder are in their
    # challenge (0.5 each: nobody has passed yet, so they share everything)
    elim_call = seen["weights"]
    assert elim_call.uids == (0, 1, 2, 3) and elim_call.weights == pytest.approx((0.0, 0.0, 0.5, 0.5))  # type: ignore[attr-defined]
    # the holder has been in a position for 0.05 h at 180 s: passed; now it competes alone and the
    # idle agent in its challenge gets the fixed weight
    assert policies(v).challenge.status_of(HOLDER) == Status.PASSED
    assert policies(v).challenge.status_of(IDLE) == Status.ACTIVE
    last = chain.weight_calls[-1]
    assert last.weights == pytest.approx((0.0, 0.0, 0.001, 0.999))
    assert v.miner_scores().tolist() == [0.0, 0.0, 0.0, 1.0]


def test_challenge_failed_and_re_registration(tmp_path: Path) -> None:
    v, agents, chain = make(tmp_path)
    v.sync_chain()
    run_steps(v, 62)  # to 310 s: the idle agent's 300 s challenge is over
    assert isinstance(v.scheme, PtnScheme)
    failed = policies(v).eliminations.record(IDLE)
    assert failed is not None and failed.reason == Reason.CHALLENGE_FAILED
    assert failed.sim_time_ns == 300 * S and failed.reason.text == "challenge failed"
    assert policies(v).challenge.status_of(IDLE) == Status.FAILED
    assert chain.weight_calls[-1].weights == pytest.approx((0.0, 0.0, 0.0, 1.0))
    # uid 1 (eliminated by its drawdown) is registered anew with another hotkey
    assert policies(v).eliminations.is_eliminated(DUMPER)
    states_before = len(agents[DUMPER].states)
    write_chain(tmp_path / "chain.json", ["validator", "m1-new", "m2", "m3"])
    v.sync_chain()
    assert not policies(v).eliminations.is_eliminated(DUMPER)
    assert policies(v).challenge.status_of(DUMPER) == Status.ACTIVE
    assert state_of(policies(v).challenge)["start_sim_ns"][DUMPER] == 310 * S
    assert DUMPER in v.serving()
    run_steps(v, 2)
    dumper = agents[DUMPER]
    assert isinstance(dumper, Dumper)
    assert len(dumper.states) == states_before + 2  # queried again
    assert any(isinstance(n, AccountReset) for s in dumper.states[-2:] for n in s.notices)
    # a fresh account: its starting value is the reset account's, its maximum starts there
    start = policies(v).challenge.start_value()[DUMPER]
    assert math.isfinite(start) and start == pytest.approx(2e11, rel=0.01)
    assert chain.weight_calls[-1].weights[DUMPER] == pytest.approx(0.001)


def test_preset_taos_is_unchanged_by_the_policies(tmp_path: Path) -> None:
    v, _, chain = make(tmp_path, scoring=ScoringSettings())
    v.sync_chain()
    run_steps(v, 30)
    assert isinstance(v.scheme, TaosScheme)
    assert not any(k.startswith("scheme/policy/") for k in state_of(v))
    # weights proportional to the EMA scores, the dumper included
    scores = v.scores.scores()[[0, 1, 2, 3]]
    assert chain.weight_calls[-1].weights == pytest.approx(tuple(scores / scores.sum()))


@pytest.mark.parametrize("stop_after", [14, 25])
def test_resume_from_the_store_restores_the_policies_exactly(tmp_path: Path, stop_after: int) -> None:
    from taos.validator.store import ValidatorStore

    steps = 64
    ref, _, ref_chain = make(tmp_path / "a")
    ref.sync_chain()
    run_steps(ref, steps)

    store = ValidatorStore(tmp_path / "b" / "state")
    first, _, _ = make(tmp_path / "b", store=store)
    first.sync_chain()
    run_steps(first, stop_after)
    assert isinstance(first.scheme, PtnScheme)
    saved = state_of(policies(first))
    store.close()
    # a new process: fresh agents, the validator resumes from the store
    store2 = ValidatorStore(tmp_path / "b" / "state")
    second, _, chain = make(tmp_path / "b", store=store2)
    assert second.step_index == stop_after and isinstance(second.scheme, PtnScheme)
    restored = state_of(policies(second))
    assert restored.keys() == saved.keys()
    for k in saved:
        assert restored[k].tobytes() == saved[k].tobytes(), k
    second.sync_chain()
    run_steps(second, steps - stop_after)
    store2.close()
    assert second.sim.time_ns == ref.sim.time_ns
    assert isinstance(ref.scheme, PtnScheme)
    a, b = state_of(policies(ref)), state_of(policies(second))
    for k in a:
        assert a[k].tobytes() == b[k].tobytes(), k
    sa, sb = state_of(ref.scores), state_of(second.scores)
    for k in sa:  # the step volumes of the horizon: in memory (ref), in the store (second)
        if not k.startswith("log_") or k == "log_taken":
            assert sa[k].tobytes() == sb[k].tobytes(), k
    assert ref_chain.weight_calls[-1].weights == chain.weight_calls[-1].weights
    # the run went through every kind of state: an elimination, a pass, a failed challenge
    reasons = {r.uid: r.reason for r in policies(ref).eliminations.records()}
    assert reasons[IDLE] == Reason.CHALLENGE_FAILED and reasons[DUMPER] != Reason.NONE
    assert policies(ref).challenge.status_of(HOLDER) == Status.PASSED
    assert np.count_nonzero(state_of(policies(ref).ledger)["checkpoint"] >= 0) == policies(ref).ledger.slots


def test_a_stored_policy_state_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    from taos.validator.store import StoreError, ValidatorStore

    store = ValidatorStore(tmp_path / "state")
    v, _, _ = make(tmp_path, store=store)
    v.sync_chain()
    run_steps(v, 14)
    state = store.load()
    assert state is not None
    arrays = dict(state.arrays)
    arrays["scheme/policy/elimination/reason"] = np.zeros(7, dtype=np.int8)
    v.step_index += 1
    ref = store.write_checkpoint(v.sim, v.step_index)
    store.commit(
        ref,
        identity=state.identity,
        step_index=v.step_index,
        time_ns=v.sim.time_ns,
        arrays=arrays,
        hotkeys=state.hotkeys,
    )
    store.close()
    with (
        ValidatorStore(tmp_path / "state") as store2,
        pytest.raises(
            StoreError, match=r"array scheme/policy/elimination/reason must be int8\[4\], got int8\[7\]"
        ),
    ):
        make(tmp_path, store=store2)


def test_a_store_changes_scoring_scheme_keeping_the_history(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A ptn run resumed with preset taos leaves the policies' arrays out (a warning names them)
    and keeps the history; resumed with ptn again, the policies start new."""
    from taos.validator.store import ValidatorStore

    with ValidatorStore(tmp_path / "state") as store:
        first, _, _ = make(tmp_path, store=store)
        first.sync_chain()
        run_steps(first, 10)
        history = state_of(first.scheme.history)
    with ValidatorStore(tmp_path / "state") as store:
        second, _, _ = make(tmp_path, store=store, scoring=ScoringSettings())
        assert isinstance(second.scheme, TaosScheme) and second.step_index == 10
        assert "scheme/policy/challenge/status" in caplog.text and "are left out" in caplog.text
        assert all(a.tobytes() == history[k].tobytes() for k, a in state_of(second.scheme.history).items())
        second.sync_chain()
        run_steps(second, 2)
    caplog.clear()
    caplog.set_level(logging.INFO, logger="taos.validator")
    with ValidatorStore(tmp_path / "state") as store:
        third, _, _ = make(tmp_path, store=store)
        assert third.step_index == 12 and "no stored elimination, challenge or ledger state" in caplog.text
        assert policies(third).challenge.status().tolist() == [Status.NONE] * 4
