"""Crafted checkpoints: a checkpoint whose body was altered and whose checksum was recomputed is
refused with CheckpointError naming the problem, or restores a simulation that keeps the engine's
invariants and steps on. The market, the mutations and the invariants are in checkpoint_fuzz.py."""

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from checkpoint_fuzz import (
    SETUP_STEPS,
    STEP_NS,
    Checkpoint,
    invariant_problems,
    make_checkpoint,
    market_config,
    miner_instructions,
    restored_outcome,
    tries,
)

from taos.simulator import CheckpointError, Simulation, SimulationConfig

TRIES = 250


@pytest.fixture(scope="module")
def checkpoint() -> tuple[SimulationConfig, bytes]:
    return make_checkpoint()


def test_untouched_checkpoints_restore_at_every_step() -> None:
    config = market_config()
    sim = Simulation(config)
    for step in range(SETUP_STEPS):
        restored = Simulation.restore(config, sim.save_state())
        assert invariant_problems(restored, config) == []
        assert restored.save_state() == sim.save_state()
        sim.step((step + 1) * STEP_NS, miner_instructions(sim, step))


def test_mutated_checkpoints_are_refused_or_run_cleanly(checkpoint: tuple[SimulationConfig, bytes]) -> None:
    config, state = checkpoint
    outcomes: dict[str, int] = {}
    broken = []
    for i, (mutated, what) in enumerate(tries(Checkpoint.parse(state), TRIES, seed=7)):
        outcome, detail = restored_outcome(config, mutated)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        if outcome == "broken":
            broken.append(f"try {i} ({what}): {detail}")
    assert broken == []
    # Both kinds occur: the mutations reach the state, and not every change is refused.
    assert outcomes["refused"] > TRIES // 4 and outcomes["ok"] > TRIES // 10, outcomes


def _rewritten(state: bytes, old: bytes, new: bytes) -> bytes:
    """The checkpoint with the one occurrence of `old` in its body replaced by `new` (same length)."""
    cp = Checkpoint.parse(state)
    assert cp.body.count(old) == 1
    at = cp.body.index(old)
    return cp.with_body(cp.body[:at] + new + cp.body[at + len(new) :], at)


def test_order_of_an_unknown_agent_is_named(checkpoint: tuple[SimulationConfig, bytes]) -> None:
    config, state = checkpoint
    sim = Simulation.restore(config, state)
    order = sim.open_orders(0, 1)[0]
    # A resting order is saved as id, price, quantity, then its agent.
    key = struct.pack("<Qqq", int(order["order_id"]), int(order["price_ticks"]), int(order["qty_lots"]))
    crafted = _rewritten(state, key + struct.pack("<I", 1), key + struct.pack("<I", 9001))
    with pytest.raises(CheckpointError) as e:
        Simulation.restore(config, crafted)
    assert str(e.value) == (
        f"checkpoint: book 0: order {int(order['order_id'])} at price {int(order['price_ticks'])} "
        "belongs to unknown agent 9001"
    )


def test_negative_balance_is_named(checkpoint: tuple[SimulationConfig, bytes]) -> None:
    config, state = checkpoint
    sim = Simulation.restore(config, state)
    acc = sim.account(1, 2)
    assert acc is not None
    # An account's balances are saved as base free, base reserved, quote free, quote reserved.
    old = struct.pack(
        "<qqqq", acc["base_free"], acc["base_reserved"], acc["quote_free"], acc["quote_reserved"]
    )
    total = acc["quote_free"] + acc["quote_reserved"]
    new = struct.pack("<qqqq", acc["base_free"], acc["base_reserved"], -1, total + 1)  # the total is kept
    with pytest.raises(
        CheckpointError, match=r"^checkpoint: book 1: agent 2: quote free balance -1 is negative$"
    ):
        Simulation.restore(config, _rewritten(state, old, new))


_RESTORE_WITH_MEMORY_LIMIT = """
import resource, sys
from checkpoint_fuzz import market_config
from taos.simulator import Simulation
pages = int(open("/proc/self/statm").read().split()[0])
limit = pages * resource.getpagesize() + (1 << 30)  # what the process has mapped, plus 1 GiB
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
state = open(sys.argv[1], "rb").read()
try:
    Simulation.restore(market_config(), state)
    print("accepted")
except Exception as e:
    print(type(e).__name__, e)
"""


def test_account_count_beyond_the_body_is_refused_before_allocating(tmp_path: Path) -> None:
    """A crafted count of 2^24 accounts (about 2.6 GB of accounts) in a checkpoint of a few dozen
    kilobytes is refused from the bytes left, within 1 GiB of memory."""
    config = market_config()
    state = Simulation(config).save_state()
    agents = config.miner_slots + sum(p.count for p in config.populations)
    # Before the start, book 0's structures are empty (zeros and a sequence of 1): the first
    # occurrence of the account count is the count itself.
    count = struct.pack("<Q", agents)
    cp = Checkpoint.parse(state)
    at = cp.body.index(count)
    crafted = cp.with_body(cp.body[:at] + struct.pack("<Q", 1 << 24) + cp.body[at + 8 :], at)
    path = tmp_path / "crafted.ckpt"
    path.write_bytes(crafted)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    out = subprocess.run(
        [sys.executable, "-c", _RESTORE_WITH_MEMORY_LIMIT, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert out.stdout.strip() == "CheckpointError checkpoint is truncated or corrupt", out.stderr[-2000:]
