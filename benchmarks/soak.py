"""Soak: the validator as an operator runs it, simulation after simulation, with real miner
processes over signed HTTP; is what it holds flat?

It starts --miners miner processes (``python -m taos.miner``, the example agents RandomMakerAgent,
RandomTakerAgent and ImbalanceAgent in turn, each with its own wallet, on loopback) and one
validator process (``python -m taos.validator``, unpaced, json logs, a local chain file, its own
state folder), which runs --simulations simulations back to back (the default market with
--books books and --duration of simulated time each). Twice a second it samples the validator's
resident memory (RSS, /proc) and the size of its state folder; each step's wall time comes from
the validator's own ``step`` log lines.

Per simulation it prints the steps, the step time (p50, p90, p99, max), the RSS (its median after
the first quarter of the simulation, the steady state, and its peak) and the state folder (the same
two); then whether they are flat over the simulations after the first (which fills the caches and
the allocator's pools): the means over the last half of those simulations against the first half,
RSS median at most --rss-tolerance (5 %) higher, state-folder median at most 10 % (it moves with
the size of the checkpoints, which follows the books), step-time median at most 25 %. The
machine's own drift moves the step times: run it on a quiet machine.

    python benchmarks/soak.py [--miners 8] [--simulations 4] [--books 4] [--duration 3600]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AGENTS = ("RandomMakerAgent", "RandomTakerAgent", "ImbalanceAgent")


def wallet(root: Path, name: str):  # type: ignore[no-untyped-def]
    import bittensor as bt

    w = bt.Wallet(name=name, hotkey="hot", path=str(root))
    w.create_new_coldkey(use_password=False, overwrite=True, suppress=True)
    w.create_new_hotkey(use_password=False, overwrite=True, suppress=True)
    return w


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def folder_bytes(folder: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):  # a checkpoint replaced or deleted meanwhile
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def config_text(books: int, duration_s: float) -> str:
    """The default market with ``books`` books and simulations of ``duration_s`` (its grace period
    a tenth of that at most), as TOML: the default config's [simulation] keys replaced."""
    text = (ROOT / "configs" / "default.toml").read_text()
    grace = min(600.0, duration_s / 10)
    for key, value in (("books", books), ("duration_s", float(duration_s)), ("grace_period_s", grace)):
        text, n = re.subn(rf"(?m)^{key} = [^#\n]*", f"{key} = {value!r}", text, count=1)
        if n != 1:
            raise SystemExit(f"configs/default.toml has no {key} line")
    return text


def start_miners(root: Path, count: int, books: int) -> tuple[list[subprocess.Popen], Path, Path]:
    wallets = root / "wallets"
    validator = wallet(wallets, "validator")
    neurons = [{"hotkey": validator.hotkey.ss58_address, "validator_permit": True, "stake": 1000.0}]
    for i in range(count):
        neurons.append({"hotkey": wallet(wallets, f"miner-{i}").hotkey.ss58_address})
    chain = root / "chain.json"
    chain.write_text(json.dumps({"neurons": neurons}))
    procs = []
    for i in range(count):
        command = [
            sys.executable, "-m", "taos.miner", "--agent.path", str(ROOT / "agents"),
            "--agent.name", AGENTS[i % len(AGENTS)], "--chain", f"local:{chain}",
            "--wallet.name", f"miner-{i}", "--wallet.hotkey", "hot", "--wallet.path", str(wallets),
            "--host", "127.0.0.1", "--port", "0", "--log-level", "WARNING", "--max-books", str(books),
        ]  # fmt: skip
        procs.append(subprocess.Popen(command, cwd=root, stderr=(root / f"miner-{i}.log").open("wb")))
    deadline = time.monotonic() + 60 + 3 * count
    while not all(n.get("endpoint") for n in json.loads(chain.read_text())["neurons"][1:]):
        if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
            raise SystemExit("the miners did not start; see " + str(root / "miner-*.log"))
        time.sleep(0.2)
    return procs, chain, wallets


class Sampler(threading.Thread):
    """Samples the validator's RSS and state folder twice a second, tagged by the simulation the
    validator's log says is running."""

    def __init__(self, pid: int, state: Path, log: Path) -> None:
        super().__init__(daemon=True)
        self.pid, self.state, self.log = pid, state, log
        self.samples: list[tuple[int, int, int]] = []  # (simulation, rss, folder bytes)
        self.simulation = 0
        self.done = threading.Event()

    def run(self) -> None:
        with self.log.open() as f:
            while not self.done.is_set():
                for line in f.readlines():
                    if '"simulation_started"' in line or "starts (config" in line:
                        self.simulation += 1
                self.samples.append((self.simulation, rss_bytes(self.pid), folder_bytes(self.state)))
                self.done.wait(0.5)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--miners", type=int, default=8)
    p.add_argument("--simulations", type=int, default=4)
    p.add_argument("--books", type=int, default=4)
    p.add_argument("--duration", type=float, default=3600.0, help="simulated seconds per simulation")
    p.add_argument("--rss-tolerance", type=float, default=0.05)
    a = p.parse_args()
    if a.simulations < 3:
        raise SystemExit("--simulations must be at least 3")
    with tempfile.TemporaryDirectory(prefix="taos-soak-") as tmp:
        root = Path(tmp)
        config = root / "soak.toml"
        config.write_text(config_text(a.books, a.duration))
        print(
            f"soak: {a.miners} miner processes over signed HTTP, {a.simulations} simulations of the default "
            f"market ({a.books} books, {a.duration:g} s each), unpaced",
            flush=True,
        )
        miners, chain, wallets = start_miners(root, a.miners, a.books)
        state, log = root / "state", root / "validator.log"
        command = [
            sys.executable, "-m", "taos.validator", "--chain", f"local:{chain}",
            "--wallet.name", "validator", "--wallet.hotkey", "hot", "--wallet.path", str(wallets),
            "--config", str(config), "--state", str(state), "--prometheus-port", "0",
            "--weights-interval", "60", "--pace", "0", "--simulations", str(a.simulations),
            "--log-format", "json", "--log-level", "INFO",
        ]  # fmt: skip
        started = time.monotonic()
        log.touch()
        try:
            with log.open("wb") as err:
                validator = subprocess.Popen(command, cwd=root, stderr=err)
            sampler = Sampler(validator.pid, state, log)
            sampler.start()
            code = validator.wait()
            sampler.done.set()
            sampler.join()
        finally:
            for m in miners:
                m.send_signal(signal.SIGTERM)
            for m in miners:
                m.wait(timeout=30)
        wall = time.monotonic() - started
        if code != 0:
            raise SystemExit(f"the validator exited with {code}:\n" + log.read_text()[-3000:])
        report(log, sampler.samples, a, wall)


def report(log: Path, samples: list[tuple[int, int, int]], a: argparse.Namespace, wall: float) -> None:
    steps: dict[int, list[float]] = {}
    simulation = 0
    answered = queried = 0
    for line in log.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if "starts (config" in event.get("message", ""):
            simulation += 1
        if event.get("event") == "step":
            steps.setdefault(simulation, []).append(float(event["wall_ms"]))
            queried += int(event.get("queried", 0))
            answered += int(event.get("answered", 0))
    print(
        f"{'simulation':>10} {'steps':>6} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'RSS median MiB':>15} {'RSS peak':>9} {'state median MiB':>17} {'state peak':>11}"
    )
    rows = []
    for k in range(a.simulations):
        times = steps.get(k, [])
        mine = [s for s in samples if s[0] == k]
        if not mine or not times:
            raise SystemExit(f"no samples or steps for simulation {k}")
        steady = mine[len(mine) // 4 :]  # after the first quarter of the simulation
        row = {
            "steps": len(times),
            "p50": statistics.median(times),
            "p90": percentile(times, 0.9),
            "p99": percentile(times, 0.99),
            "max": max(times),
            "rss": statistics.median(s[1] for s in steady) / 2**20,
            "rss_peak": max(s[1] for s in mine) / 2**20,
            "state": statistics.median(s[2] for s in steady) / 2**20,
            "state_peak": max(s[2] for s in mine) / 2**20,
        }
        rows.append(row)
        print(
            f"{k:>10} {row['steps']:>6} {row['p50']:>7.1f} {row['p90']:>7.1f} {row['p99']:>7.1f} "
            f"{row['max']:>7.1f} {row['rss']:>15.1f} {row['rss_peak']:>9.1f} {row['state']:>17.1f} "
            f"{row['state_peak']:>11.1f}"
        )
    later = rows[1:]  # the first simulation fills the caches and the allocator's pools
    half = len(later) // 2
    first, last = later[:half], later[half:]

    def growth(key: str) -> float:
        """The mean of ``key`` over the last half of the simulations after the first, against its
        mean over the first half: a trend, not the noise of one simulation."""
        return statistics.fmean(r[key] for r in last) / statistics.fmean(r[key] for r in first) - 1

    span = f"simulations {1 + half}..{a.simulations - 1} against 1..{half}"
    checks = {
        f"RSS median: {growth('rss'):+.1%}, {span} (no more than +{a.rss_tolerance:.0%})": (
            growth("rss") <= a.rss_tolerance
        ),
        f"state folder median: {growth('state'):+.1%}, {span} (no more than +10%)": growth("state") <= 0.10,
        f"step time p50: {growth('p50'):+.1%}, {span} (no more than +25%)": growth("p50") <= 0.25,
    }
    print(f"replies: {answered} of {queried} queries answered; wall {wall:.0f} s")
    for text, ok in checks.items():
        print(f"{'flat' if ok else 'NOT FLAT'}: {text}")
    print("verdict:", "flat" if all(checks.values()) else "NOT flat")


if __name__ == "__main__":
    main()
