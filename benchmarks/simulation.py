"""Simulation speed: a config with no miners, for a given simulated duration, by book count
and thread count. Prints simulated seconds per wall second, book-seconds per wall second,
events per wall second, events per book per simulated second, and peak memory.

    python benchmarks/simulation.py [--config configs/small.toml] [--duration 600]
                                    [--books 1,4,20,100] [--threads 1,2] [--facts]

With --facts, each case also samples every book's mid price once a simulated minute after the
grace period and prints the stylized facts of SPEC §5 averaged over the books (excess kurtosis of
1-minute log returns, autocorrelation of |r| and of r at lags 1..10) and the share of minutes in
which a book was one-sided.

Each (books, threads) case runs in a fresh process, so peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

S = 1_000_000_000


def run_case(config: str, books: int, threads: int, duration_s: float, facts: bool = False) -> dict:
    import numpy as np

    from taos.analysis import autocorrelation, excess_kurtosis, log_returns
    from taos.config import load, to_core
    from taos.simulator import Simulation

    cfg = load(config)
    core = to_core(cfg)
    core.books = books
    core.threads = threads
    core.miner_slots = 0
    sim = Simulation(core)
    step = cfg.simulation.publish_interval_s
    events = 0
    t = 0.0
    mids: list[list[float]] = [[] for _ in range(books)]
    one_sided = samples = 0
    next_sample = max(60.0, cfg.simulation.grace_period_s)
    start = time.perf_counter()
    while t < duration_s:
        t = min(duration_s, t + step)
        events += len(sim.step(round(t * S)).events)
        if facts and t >= next_sample:
            next_sample += 60.0
            for b in range(books):
                bid, ask = sim.best(b)
                samples += 1
                if bid > 0 and ask > bid:
                    mids[b].append((bid + ask) / 2)
                else:
                    one_sided += 1
    wall = time.perf_counter() - start
    extra: dict = {}
    if facts:
        rs = [log_returns(np.array(m)) for m in mids if len(m) > 12]
        extra = {
            "kurtosis": float(np.mean([excess_kurtosis(r) for r in rs])),
            "acf_abs": [
                round(float(x), 3) for x in np.mean([autocorrelation(np.abs(r), 10) for r in rs], axis=0)
            ],
            "acf_raw": [round(float(x), 3) for x in np.mean([autocorrelation(r, 10) for r in rs], axis=0)],
            "one_sided_share": one_sided / max(1, samples),
            "ret_std": float(np.mean([np.std(r) for r in rs])),
        }
    return extra | {
        "books": books,
        "threads": threads,
        "sim_s_per_wall_s": duration_s / wall,
        "book_s_per_wall_s": books * duration_s / wall,
        "events_per_wall_s": events / wall,
        "events_per_book_sim_s": events / books / duration_s,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "wall_s": wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="configs/small.toml")
    ap.add_argument("--duration", type=float, default=600.0, help="simulated seconds")
    ap.add_argument("--books", default="1,4,20,100")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--facts", action="store_true", help="also print the stylized facts of each case")
    ap.add_argument("--case", help=argparse.SUPPRESS)  # books,threads: run one case in this process
    args = ap.parse_args()
    if args.duration <= 0:
        ap.error("--duration must be positive")
    if args.case:
        books, threads = (int(x) for x in args.case.split(","))
        print(json.dumps(run_case(args.config, books, threads, args.duration, args.facts)))
        return
    try:
        book_list = [int(x) for x in args.books.split(",")]
        thread_list = [int(x) for x in args.threads.split(",")]
    except ValueError:
        ap.error("--books and --threads take comma-separated integers")
    print(f"config {args.config}, {args.duration:g} simulated s, no miners")
    print(
        f"{'books':>6} {'threads':>7} {'sim s/s':>9} {'book-s/s':>10} {'events/s':>12} {'ev/book/s':>10} {'peak MiB':>9}"
    )
    for books in book_list:
        for threads in thread_list:
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--config",
                    args.config,
                    "--duration",
                    str(args.duration),
                    "--case",
                    f"{books},{threads}",
                    *(["--facts"] if args.facts else []),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(out.stdout)
            print(
                f"{r['books']:>6} {r['threads']:>7} {r['sim_s_per_wall_s']:>9.0f} {r['book_s_per_wall_s']:>10.0f} "
                f"{r['events_per_wall_s']:>12.0f} {r['events_per_book_sim_s']:>10.1f} {r['peak_mib']:>9.0f}"
            )
            if args.facts:
                print(
                    f"{'':>15}1-min returns: s.d. {r['ret_std']:.2e}, excess kurtosis {r['kurtosis']:.2f}, "
                    f"one-sided minutes {100 * r['one_sided_share']:.2f} %\n"
                    f"{'':>15}acf |r| lags 1-10: {' '.join(f'{x:+.2f}' for x in r['acf_abs'])}\n"
                    f"{'':>15}acf  r  lags 1-10: {' '.join(f'{x:+.2f}' for x in r['acf_raw'])}"
                )


if __name__ == "__main__":
    main()
