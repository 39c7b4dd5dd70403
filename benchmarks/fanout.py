"""The validator's fan-out over the wire: real miner processes (``python -m taos.miner``, one per
agent, on loopback, a local chain file, real wallets) queried with signed HTTP requests by the
validator's own loop on the default market (grace period skipped). Per step, after --warmup steps:

- bytes per miner: the request body the validator sends each miner (its state, zstd-compressed
  for the miners that take it, i.e. all of these after their first answer; the uncompressed size
  is shown next to it), and the reply;
- query: the wall time of ``Validator.query`` for all miners (signing, sending, the agents'
  answers, reading the replies), median and p90.

The agents are the example agents RandomMakerAgent, RandomTakerAgent and ImbalanceAgent in turn;
they read the levels only and ask for no book events (``Reply.book_events``). ``--book-events all``
sends every miner every event all the same (the states as they were before miners could choose).
Starting the miner processes takes a while (each loads the SDK): about a second per miner here.

    python benchmarks/fanout.py [--miners 16,64] [--books 20] [--steps 10] [--warmup 3] [--book-events agents|all]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AGENTS = ("RandomMakerAgent", "RandomTakerAgent", "ImbalanceAgent")


def one(
    config_path: Path, miners: int, books: int, steps: int, warmup: int, every_event: bool
) -> dict[str, float]:
    from taos.config import from_dict, parse_toml, read_config_text
    from taos.local.data import data_dir
    from taos.local.runner import AgentSpec, build_market

    data = parse_toml(read_config_text(config_path), str(config_path))
    data["simulation"].update(books=books, grace_period_s=0.0)
    data.setdefault("miners", {})["slots"] = max(miners + 1, data.get("miners", {}).get("slots", 0))
    config = from_dict(data, str(config_path))
    folder = data_dir("agents")
    counts = [miners // 3 + (1 if i < miners % 3 else 0) for i in range(3)]
    specs = [AgentSpec(folder, name, {}, n) for name, n in zip(AGENTS, counts, strict=True) if n]
    started = time.perf_counter()
    market = build_market(config, specs, "http", timeout_s=10.0)
    setup_s = time.perf_counter() - started
    v = market.validator
    query_ms: list[float] = []
    sent: list[float] = []
    identity: list[float] = []
    received: list[float] = []
    answered: list[int] = []

    async def steps_over_http() -> None:  # one event loop: the transport's session lives in it
        try:
            v.sync_chain()
            for i in range(warmup + steps):
                result = v.step()
                requests = v.requests(result)
                zstd = set(getattr(v.transport, "zstd", ()))  # the miners that get zstd bodies this step
                t0 = time.perf_counter()
                answers = await v.query(requests)
                elapsed = time.perf_counter() - t0
                v.accept(answers)
                if every_event:  # whatever the agents asked for
                    v.book_events[:] = 0
                v.score(result)
                if i >= warmup:
                    query_ms.append(1e3 * elapsed)
                    bodies = [r.body("zstd" if u in zstd else "identity") for u, r in requests.items()]
                    sent.append(sum(map(len, bodies)) / max(1, len(bodies)))
                    identity.append(sum(len(r.body()) for r in requests.values()) / max(1, len(requests)))
                    received.append(sum(len(a.body or b"") for a in answers.values()) / max(1, len(answers)))
                    answered.append(sum(1 for a in answers.values() if a.body))
        finally:
            await v.transport.close()

    try:
        asyncio.run(steps_over_http())
    finally:
        market.close()
    ordered = sorted(query_ms)
    return {
        "setup_s": setup_s,
        "query_median_ms": statistics.median(ordered),
        "query_p90_ms": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
        "state_kb": statistics.fmean(sent) / 1e3,
        "identity_kb": statistics.fmean(identity) / 1e3,
        "reply_kb": statistics.fmean(received) / 1e3,
        "answered": min(answered),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=ROOT / "configs" / "default.toml")
    p.add_argument("--miners", default="16,64")
    p.add_argument("--books", type=int, default=20)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--book-events", choices=("agents", "all"), default="agents")
    a = p.parse_args()
    print(
        f"fan-out over signed HTTP on loopback, {a.config.name}, {a.books} books, {a.steps} steps after {a.warmup}, "
        f"book events: {a.book_events}"
    )
    print(
        f"{'miners':>7} {'query median':>13} {'query p90':>10} {'state/miner':>12} {'(identity)':>11} "
        f"{'reply/miner':>12} {'answered':>9}"
    )
    for m in (int(x) for x in a.miners.split(",")):
        r = one(a.config, m, a.books, a.steps, a.warmup, a.book_events == "all")
        print(
            f"{m:>7} {r['query_median_ms']:>10.0f} ms {r['query_p90_ms']:>7.0f} ms {r['state_kb']:>9.0f} KB "
            f"{r['identity_kb']:>8.0f} KB "
            f"{r['reply_kb']:>9.1f} KB {int(r['answered']):>5}/{m}   (miners started in {r['setup_s']:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
