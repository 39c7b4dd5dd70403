"""A short market demo of the exchange engine: several books, seeded order flow
from 100 agents per book, and a summary of what happened on each book.

    python -m taos.demo [--books N] [--instructions N] [--seed S]

Until the local research runner (`taos local`) lands, this is the project's
runnable demo; it drives the same exchange engine the simulation uses.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from taos.simulator import (
    AgentClass,
    EventKind,
    Exchange,
    default_miner_fee_tiers,
    random_instruction_stream,
)

TICK = 0.01  # quote per tick
LOT = 0.0001  # base per lot
QUOTE_UNITS = round(1 / (TICK * LOT))  # quote units per unit of quote currency


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m taos.demo", description=__doc__.splitlines()[0])
    ap.add_argument("--books", type=int, default=4)
    ap.add_argument("--instructions", type=int, default=250_000, help="per book")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    if not 1 <= args.books <= 1_000:
        ap.error("--books must be in [1, 1000]")
    if not 1 <= args.instructions <= 50_000_000:
        ap.error("--instructions must be in [1, 50000000]")

    ex = Exchange(books=args.books, agent_classes=[AgentClass("miner", default_miner_fee_tiers(QUOTE_UNITS))])
    agents = 100
    for book in range(args.books):
        for agent in range(agents):
            ex.open_account(book, agent, 0, 10**12, 10**15)
    streams = [
        random_instruction_stream(args.seed + b, args.instructions, agents, book=b) for b in range(args.books)
    ]

    t0 = time.perf_counter()
    events = []
    for stream in streams:
        for i in range(0, len(stream), 10_000):
            ex.submit_batch(stream[i : i + 10_000])
            events.append(ex.take_events())
    elapsed = time.perf_counter() - t0
    ev = np.concatenate(events)

    print(
        f"τaos exchange demo: {args.books} books x {args.instructions:,} instructions, {agents} agents per book"
    )
    header = f"{'book':>4} {'events':>10} {'trades':>9} {'volume':>14} {'fees':>10} {'bid':>9} {'ask':>9} {'resting':>8}"
    print(header)
    for book in range(args.books):
        mine = ev[ev["book"] == book]
        trades = mine[mine["kind"] == EventKind.TRADE]
        volume = trades["notional_quote"].sum() / QUOTE_UNITS
        bid, ask = ex.best(book)
        resting = int(ex.accounts(book)["open_orders"].sum())
        print(
            f"{book:>4} {len(mine):>10,} {len(trades):>9,} {volume:>14,.2f} "
            f"{ex.fees_collected(book) / QUOTE_UNITS:>10,.2f} {bid * TICK:>9.2f} {ask * TICK:>9.2f} {resting:>8,}"
        )
    total = args.books * args.instructions
    print(
        f"{total:,} instructions in {elapsed:.2f} s: {total / elapsed:,.0f} instructions/s through the bindings"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
