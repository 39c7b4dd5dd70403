"""The golden run: a small seeded simulation whose event stream is pinned by a hash.

    python tests/golden/regenerate.py          # prints the hash of the current code
    python tests/golden/regenerate.py --write  # writes it to tests/golden/event_stream.sha256

The hash is of the raw event records (EVENT_DTYPE) of 10 simulated minutes in steps of 5 s,
with one miner order per step. It is the same for any thread count.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "golden.toml"
HASH_FILE = HERE / "event_stream.sha256"
STEP_NS = 5_000_000_000
STEPS = 120


def event_stream_hash(threads: int | None = None) -> tuple[str, int]:
    """(sha256 hex digest, number of events) of the golden run."""
    from taos.config import load, to_core
    from taos.simulator import InstructionKind, Side, Simulation, Stp, TimeInForce, instruction_array

    core = to_core(load(CONFIG))
    if threads is not None:
        core.threads = threads
    sim = Simulation(core)
    digest = hashlib.sha256()
    events = 0
    for step in range(STEPS):
        order = instruction_array(1)
        order["kind"] = InstructionKind.PLACE_LIMIT
        order["book"] = step % 3
        order["agent"] = step % 2
        order["side"] = Side.BUY if step % 2 else Side.SELL
        order["price_ticks"] = 29_980 if step % 2 else 30_020
        order["qty_lots"] = 100
        order["tif"] = TimeInForce.GTC
        order["stp"] = Stp.CANCEL_OLDEST
        order["ts_ns"] = step * STEP_NS + 250_000_000  # 250 ms after the step start
        ev = sim.step((step + 1) * STEP_NS, order).events
        events += len(ev)
        digest.update(np.ascontiguousarray(ev).tobytes())
    return digest.hexdigest(), events


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--write", action="store_true", help=f"write the hash to {HASH_FILE.name}")
    args = ap.parse_args()
    digest, events = event_stream_hash()
    print(f"{digest}  ({events} events)")
    if args.write:
        HASH_FILE.write_text(digest + "\n")
        print(f"written to {HASH_FILE}")


if __name__ == "__main__":
    main()
