"""A small validator-like loop over a real simulation, persisted after every step, for crash tests.

    python tests/persistence_driver.py STORE_DIR --steps N [--window L] [--seed S] [--checkpoint-every K]

Each step: deterministic miner orders (from the step index and the current book) → ``sim.step`` →
inventory values and traded totals → :meth:`ScoreState.observe` → :meth:`ValidatorStore.save`.
At a fixed step uid 2's hotkey changes (a deregistration): its account is reset in the simulation
and its scoring state forgotten. Started again on the same store it resumes from the last commit.

Every ``--checkpoint-every`` steps (default 1) a commit comes with a simulation checkpoint; the
commits in between journal the step's instructions, and a restart replays the journal after the
last checkpoint (``StoredState.restore_simulation``).

Output (stdout, flushed per line): ``replaying N`` (journaled steps about to be replayed, on a
restart), ``resume K`` (the committed step it starts after), then ``committed K`` after each commit
returns, then ``done``. The array ``extra/observed`` counts how
often each step index was observed in the committed state.

``--crash-after-checkpoint K`` kills the process with SIGKILL right after step K's checkpoint file
is written and before its database commit (the window the commit protocol must survive).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys

import numpy as np

from taos.config import loads, to_core
from taos.scoring import inventory_value
from taos.simulator import InstructionKind, Side, Simulation, Stp, TimeInForce, instruction_array
from taos.validator.history import ScoreParams, ScoreState
from taos.validator.persisted import state_of, within
from taos.validator.store import JournalEntry, ValidatorStore, simulation_identity

NS_PER_S = 1_000_000_000
INTERVAL_NS = 5 * NS_PER_S
DEREGISTERED_UID = 2
DEREGISTER_STEP = 25
IDLE_UID = 3  # never trades: its activity stays 0

CONFIG = """
[simulation]
books = 2
seed = {seed}
threads = 1
duration_s = 86400.0
publish_interval_s = 5.0

[miners]
slots = 4
wealth = 100000.0

[[population]]
model = "initialization"
count = 20
base = 50.0
quote = 15000.0
[population.params]
orders = 4
tau_s = 300.0

[[population]]
model = "random_trader"
count = 40
base = 50.0
quote = 15000.0
[population.params]
mean_wakeup_s = 2.0
"""


def hotkey(uid: int, step: int) -> str:
    """The hotkey registered on ``uid`` at ``step`` (uid 2 changes owner at DEREGISTER_STEP)."""
    if uid == DEREGISTERED_UID and step >= DEREGISTER_STEP:
        return f"hotkey-{uid}-b"
    return f"hotkey-{uid}"


def miner_orders(sim: Simulation, step: int, miners: int, reset: list[int]) -> np.ndarray:
    """The miners' instructions for a step: a function of the step index and the books only, so a
    resumed run sends exactly what an uninterrupted one sends."""
    rng = np.random.default_rng([7, step])
    rows: list[dict[str, int]] = [{"kind": InstructionKind.RESET_AGENT, "agent": uid} for uid in reset]
    for book in range(sim.num_books):
        bid, ask = sim.best(book)
        for uid in range(miners):
            if uid == IDLE_UID or bid <= 0 or ask <= 0 or rng.random() < 0.3:
                continue
            buy = bool(rng.random() < 0.5)
            cross = bool(rng.random() < 0.4)
            offset = int(rng.integers(0, 5))
            if cross:  # marketable, immediate-or-cancel
                price = ask + offset if buy else bid - offset
            else:
                price = bid - offset if buy else ask + offset
            rows.append(
                {
                    "kind": InstructionKind.PLACE_LIMIT,
                    "book": book,
                    "agent": uid,
                    "side": Side.BUY if buy else Side.SELL,
                    "price_ticks": price,
                    "qty_lots": int(rng.integers(1, 6)),
                    "tif": TimeInForce.IOC if cross else TimeInForce.GTC,
                    "stp": Stp.CANCEL_OLDEST,
                    "ts_ns": sim.time_ns + int(rng.integers(10_000_000, 500_000_000)),
                    "client_order_id": step,
                }
            )
    out = instruction_array(len(rows))
    for i, row in enumerate(rows):
        for name, value in row.items():
            out[i][name] = value
    return out


def observe(sim_result: object, miners: int, books: int) -> tuple[np.ndarray, np.ndarray]:
    """Inventory values at the midquote and cumulative traded totals, ``(miners, books)``."""
    values = np.empty((miners, books))
    totals = np.empty((miners, books), dtype=np.int64)
    for b in range(books):
        acc = sim_result.accounts[b]  # type: ignore[attr-defined]
        book = sim_result.books[b]  # type: ignore[attr-defined]
        levels = [np.stack([s["price_ticks"], s["qty_lots"]], axis=1) for s in (book.bids, book.asks)]
        quote = acc["quote_free"] + acc["quote_reserved"]
        base = acc["base_free"] + acc["base_reserved"]
        values[:, b] = inventory_value(quote, base, levels[0], levels[1])
        totals[:, b] = acc["traded_quote"]
    return values, totals


def run(
    store_dir: str, steps: int, window: int, seed: int, crash_after_checkpoint: int | None, every: int
) -> None:
    config = loads(CONFIG.format(seed=seed))
    core = to_core(config)
    identity = simulation_identity(config)
    miners, books = core.miner_slots, core.books
    with ValidatorStore(store_dir) as store:
        stored = store.load()
        if stored is None:
            sim = Simulation(core)
            state = ScoreState(ScoreParams.from_core(core, window=window), miners, books)
            step = 0
            hotkeys = {uid: hotkey(uid, 0) for uid in range(miners)}
            observed = np.zeros(steps + 1, dtype=np.int64)
        else:
            if stored.identity != identity:
                raise SystemExit(f"the store holds another simulation ({stored.identity})")
            print(f"replaying {len(stored.journal)}", flush=True)
            sim = stored.restore_simulation(core)
            step, hotkeys = stored.step_index, stored.hotkeys
            state = ScoreState.restored(within(stored.arrays, "score"), miners, books)
            observed = stored.arrays["observed"]
            if observed.shape != (steps + 1,):
                raise SystemExit(f"the store was run for {observed.shape[0] - 1} steps, not {steps}")
        print(f"resume {step}", flush=True)
        while step < steps:
            step += 1
            changed = [uid for uid in range(miners) if hotkey(uid, step) != hotkeys[uid]]
            records = miner_orders(sim, step, miners, changed)
            result = sim.step(step * INTERVAL_NS, records)
            for uid in changed:
                hotkeys[uid] = hotkey(uid, step)
                state.reset_uid(uid)
            values, totals = observe(result, miners, books)
            state.observe(step, result.time_ns, values, totals)
            observed[step] += 1
            due = step % every == 0 or store.last_committed_step() is None
            ref = store.write_checkpoint(sim, step) if due else None
            if crash_after_checkpoint == step:
                os.kill(os.getpid(), signal.SIGKILL)
            store.commit(
                ref,
                journal=[JournalEntry(step, step * INTERVAL_NS, records)],
                identity=identity,
                step_index=step,
                time_ns=result.time_ns,
                arrays={
                    **{f"score/{k}": a for k, a in state_of(state, copy=False).items()},
                    "observed": observed,
                },
                hotkeys=hotkeys,
            )
            print(f"committed {step}", flush=True)
    print("done", flush=True)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("store")
    p.add_argument("--steps", type=int, required=True)
    p.add_argument("--window", type=int, default=720)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--crash-after-checkpoint", type=int, default=None)
    p.add_argument("--checkpoint-every", type=int, default=1)
    a = p.parse_args(argv)
    run(a.store, a.steps, a.window, a.seed, a.crash_after_checkpoint, a.checkpoint_every)


if __name__ == "__main__":
    main(sys.argv[1:])
