"""Engine through the Python bindings versus the same replay in C++.

Replays the seeded benchmark stream (the generator of bench_exchange.cpp) through
taos.simulator.Exchange in batches, reading the events of every batch as a numpy
array, and through the same exchange loop entirely in C++, in one run. Prints ns
per instruction and instructions per second for both and their ratio. The two
paths run alternately --repeat times each; the best and the median run are shown.

    python benchmarks/bench_bindings.py [--count N] [--seed S] [--batch B] [--repeat R]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

from taos._simulator import testing
from taos.simulator import random_instruction_stream


def replay_python(stream, agents: int, batch: int) -> tuple[float, int, int]:
    ex = testing.bench_exchange()
    testing.open_bench_accounts(ex, agents)
    events = trades = 0
    t0 = time.perf_counter()
    for i in range(0, len(stream), batch):
        ex.submit_batch(stream[i : i + batch])
        ev = ex.take_events()
        events += len(ev)
        trades += int((ev["kind"] == 3).sum())
    return time.perf_counter() - t0, events, trades


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--agents", type=int, default=100)
    ap.add_argument("--batch", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    for name in ("count", "agents", "batch", "repeat"):
        if getattr(args, name) <= 0:
            ap.error(f"--{name} must be positive")

    stream = random_instruction_stream(args.seed, args.count, agents=args.agents)
    print(
        f"stream: {len(stream)} instructions (seed {args.seed}, {args.agents} agents, one book), "
        f"batches of {args.batch}; {platform.python_implementation()} {platform.python_version()}"
    )
    cpp, py = [], []
    for _ in range(args.repeat):
        seconds, cpp_events, cpp_trades = testing.replay_in_cpp(stream, args.agents, args.batch)
        cpp.append(seconds)
        seconds, py_events, py_trades = replay_python(stream, args.agents, args.batch)
        py.append(seconds)
    if (cpp_events, cpp_trades) != (py_events, py_trades):
        raise SystemExit(f"the two paths disagree: {(cpp_events, cpp_trades)} vs {(py_events, py_trades)}")
    n = len(stream)
    print(
        f"{'path':<10} {'best ns/instr':>14} {'median ns/instr':>16} {'best instr/s':>14} {'events':>12} {'trades':>10}"
    )
    for name, runs, events, trades in (
        ("c++", cpp, cpp_events, cpp_trades),
        ("bindings", py, py_events, py_trades),
    ):
        best, med = min(runs), statistics.median(runs)
        print(
            f"{name:<10} {best * 1e9 / n:>14.1f} {med * 1e9 / n:>16.1f} {n / best:>14.0f} {events:>12} {trades:>10}"
        )
    print(
        f"bindings/c++ throughput ratio: {min(cpp) / min(py):.3f} (best runs), "
        f"{statistics.median(cpp) / statistics.median(py):.3f} (median runs); {args.repeat} runs each"
    )


if __name__ == "__main__":
    main()
