"""Where a validator step goes: the real loop (``taos.validator.loop``'s hops, called one by one and
timed) with example agents in process, on the default market, for every combination of --miners and
--books. Each combination runs in its own process (its peak RSS is its own).

Per hop, the median and p90 over the timed steps (after --warmup steps), in ms:

- step: the C++ simulation step (``Simulation.step`` alone; not the validator's work);
- market: the rest of the validator's step, its own work: reading the step's accounts and books
  into the market snapshot and observing the positions;
- requests: building each miner's state (books, accounts, orders, notices) and encoding it;
- query: the in-process transport's own bookkeeping; what it does for the miners is reported apart
  and is not the validator's work: "miners" (decoding each state, encoding each reply: a remote
  miner does it on its own machine) and "agents" (the agents' own time, ``Agent.handle``);
- accept: decoding, validating and delaying the replies;
- score, sync, persist (the checkpoint and the SQLite commit: a real store in a temporary folder),
  observe;
- work: everything but the step, the miners' codec and the agents: the figure of the validator's
  own cost; "work+miners" adds the miners' codec back (what this one process spent on the wire).

Checkpoints are periodic (``--checkpoint-steps``, the validator's default unless given), so the
medians show the journaled commits; the mean of persist and the mean bytes written per step (the
process's ``write()`` bytes during persist: checkpoint files, SQLite's WAL and its checkpoints) are
printed after the table, the checkpoints amortized over the steps.

The miners are the example agents RandomMakerAgent, RandomTakerAgent and ImbalanceAgent in turn,
with their default parameters; the grace period is skipped so that every step queries them.

    python benchmarks/validator.py [--miners 16,64,256] [--books 20] [--steps 30] [--warmup 5]
                                   [--checkpoint-steps N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HOPS = (
    "step",
    "market",
    "requests",
    "query",
    "miners",
    "agents",
    "accept",
    "score",
    "sync",
    "persist",
    "observe",
    "work",
    "work+miners",
)
MINER_SIDE = ("miners", "agents")
AGENTS = ("RandomMakerAgent", "RandomTakerAgent", "ImbalanceAgent")


def written_bytes() -> int:
    """Bytes this process has passed to write() so far (Linux ``/proc/self/io``)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    raise RuntimeError("no wchar in /proc/self/io")


class EngineClock:
    """The validator's simulation with its ``step`` timed (``step_s``, summed); every other
    attribute is the simulation's own."""

    def __init__(self, sim: Any) -> None:
        self._sim, self.step_s = sim, 0.0

    def step(self, *args: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self._sim.step(*args)
        finally:
            self.step_s += time.perf_counter() - t0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sim, name)


def one(config_path: Path, miners: int, books: int, steps: int, warmup: int, every: int | None) -> dict:
    from taos.agents.loader import create_agent, load_agent_class
    from taos.chain import LocalChain, Neuron
    from taos.config import from_dict, parse_toml, read_config_text
    from taos.local.data import data_dir
    from taos.validator.store import ValidatorStore
    from taos.validator.transport import InProcessTransport
    from taos.validator.validator import Validator, ValidatorSettings

    data = parse_toml(read_config_text(config_path), str(config_path))
    data["simulation"].update(books=books, grace_period_s=0.0)
    data.setdefault("miners", {})["slots"] = max(miners + 1, data.get("miners", {}).get("slots", 0))
    config = from_dict(data, str(config_path))
    folder = data_dir("agents")
    classes = [load_agent_class(folder, name) for name in AGENTS]
    agents = {uid: create_agent(classes[(uid - 1) % len(classes)], uid, {}) for uid in range(1, miners + 1)}
    neurons = [Neuron(0, "validator", True, 1.0, None)]
    neurons += [Neuron(u, f"agent-{u}", False, 0.0, None) for u in agents]
    chain = LocalChain("validator", neurons)
    transport = InProcessTransport(agents, validator=chain.hotkey)
    with tempfile.TemporaryDirectory(prefix="taos-bench-") as tmp:
        store = ValidatorStore(Path(tmp) / "state")
        settings = ValidatorSettings(weights_interval_s=60.0)
        if every is not None:
            settings = ValidatorSettings(weights_interval_s=60.0, checkpoint_steps=every)
        v = Validator(config, chain, transport, settings, store=store)
        v.sync_chain()
        engine = EngineClock(v.sim)
        v.sim = engine  # type: ignore[assignment]
        rows: list[dict[str, float]] = []

        def clock(row: dict[str, float], hop: str, call):  # type: ignore[no-untyped-def]
            t0 = time.perf_counter()
            out = call()
            row[hop] = 1e3 * (time.perf_counter() - t0)
            return out

        for i in range(warmup + steps):
            row: dict[str, float] = {}
            started = time.perf_counter()
            agent_s, codec_s = transport.agent_s, transport.codec_s
            engine_s = engine.step_s
            result = clock(row, "market", v.step)
            row["step"] = 1e3 * (engine.step_s - engine_s)
            row["market"] -= row["step"]
            requests = clock(row, "requests", lambda: v.requests(result))  # noqa: B023
            answers = clock(row, "query", lambda: asyncio.run(v.query(requests)))  # noqa: B023
            row["agents"] = 1e3 * (transport.agent_s - agent_s)
            row["miners"] = 1e3 * (transport.codec_s - codec_s)
            row["query"] -= row["agents"] + row["miners"]
            clock(row, "accept", lambda: v.accept(answers))  # noqa: B023
            clock(row, "score", lambda: v.score(result))  # noqa: B023
            clock(row, "sync", v.sync_chain)
            written = written_bytes()
            clock(row, "persist", v.persist)
            row["disk_kb"] = (written_bytes() - written) / 1e3
            clock(row, "observe", lambda: v.observe(result, time.perf_counter() - started))  # noqa: B023
            row["work"] = sum(row[h] for h in HOPS[:-2] if h != "step" and h not in MINER_SIDE)
            row["work+miners"] = row["work"] + row["miners"]
            if i >= warmup:
                rows.append(row)
        store.close()
    figures = {}
    for hop in HOPS:
        values = sorted(r[hop] for r in rows)
        figures[hop] = (statistics.median(values), values[min(len(values) - 1, int(0.9 * len(values)))])
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    means = {k: statistics.fmean(r[k] for r in rows) for k in ("persist", "disk_kb", "work")}
    return {
        "miners": miners,
        "books": books,
        "steps": len(rows),
        "hops": figures,
        "means": means,
        "checkpoint_steps": v.settings.checkpoint_steps,
        "peak_rss_mib": peak_mib,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--config", type=Path, default=Path(__file__).resolve().parents[1] / "configs" / "default.toml"
    )
    p.add_argument("--miners", default="16,64,256")
    p.add_argument("--books", default="20")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--checkpoint-steps", type=int, default=None)
    p.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    miners = [int(x) for x in a.miners.split(",")]
    books = [int(x) for x in a.books.split(",")]
    if a.one:
        print(json.dumps(one(a.config, miners[0], books[0], a.steps, a.warmup, a.checkpoint_steps)))
        return
    print(f"validator step, ms (median / p90 over {a.steps} steps after {a.warmup}), {a.config.name}")
    print(f"{'miners x books':>15} " + " ".join(f"{h:>15}" for h in HOPS) + f" {'peak RSS':>9}")
    means = []
    for b in books:
        for m in miners:
            command = [sys.executable, __file__, "--one", "--config", str(a.config), "--miners", str(m)]
            command += ["--books", str(b), "--steps", str(a.steps), "--warmup", str(a.warmup)]
            if a.checkpoint_steps is not None:
                command += ["--checkpoint-steps", str(a.checkpoint_steps)]
            out = subprocess.run(command, check=False, capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit(out.stderr)
            r = json.loads(out.stdout.splitlines()[-1])
            cells = " ".join(f"{r['hops'][h][0]:7.1f}/{r['hops'][h][1]:<7.1f}" for h in HOPS)
            print(f"{f'{m} x {b}':>15} {cells} {r['peak_rss_mib']:7.0f} MiB", flush=True)
            means.append(r)
    print("means over the timed steps (checkpoints amortized):")
    for r in means:
        x, label = r["means"], f"{r['miners']} x {r['books']}"
        print(
            f"{label:>15} work {x['work']:7.1f} ms, persist {x['persist']:6.1f} ms, "
            f"written {x['disk_kb']:8.1f} KB per step (checkpoint every {r['checkpoint_steps']} steps)"
        )


if __name__ == "__main__":
    main()
