"""Checkpoint speed: the size of a market's checkpoint and the wall time of save_state and of
Simulation.restore (which checks every invariant of the restored state), best of --repeat.

    python benchmarks/checkpoint.py [--config configs/default.toml] [--steps 120] [--repeat 5]

The market runs --steps publish intervals first, with every miner slot sending a seeded stream of
instructions to every book (so that miners' accounts, orders and queued instructions exist).
"""

from __future__ import annotations

import argparse
import json
import time

S = 1_000_000_000


def main() -> None:
    import numpy as np

    from taos.config import load, to_core
    from taos.simulator import Simulation, random_instruction_stream

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="configs/default.toml")
    p.add_argument("--steps", type=int, default=120)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()

    cfg = load(a.config)
    core = to_core(cfg)
    sim = Simulation(core)
    step_ns = round(cfg.simulation.publish_interval_s * S)
    rng = np.random.default_rng(1)
    for k in range(a.steps):
        parts = []
        for book in range(core.books):
            bid, ask = sim.best(book)
            mid = (bid + ask) // 2 if bid and ask else 30_000
            stream = random_instruction_stream(
                k * 1_000 + book, 20, max(1, core.miner_slots), book, max(100, mid)
            )
            stream["ts_ns"] = k * step_ns + rng.integers(0, 2 * step_ns, len(stream))
            parts.append(stream)
        sim.step((k + 1) * step_ns, np.concatenate(parts))

    def best(f) -> float:  # type: ignore[no-untyped-def]
        times = []
        for _ in range(a.repeat):
            start = time.perf_counter()
            f()
            times.append(time.perf_counter() - start)
        return min(times)

    state = sim.save_state()
    save_s = best(sim.save_state)
    restore_s = best(lambda: Simulation.restore(core, state))
    print(
        json.dumps(
            {
                "config": a.config,
                "books": core.books,
                "steps": a.steps,
                "checkpoint_bytes": len(state),
                "save_ms": round(save_s * 1e3, 2),
                "restore_ms": round(restore_s * 1e3, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
