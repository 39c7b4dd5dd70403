"""Does a miner under attack still answer an honest validator? A real miner process (``python -m
taos.miner``, a local chain file, real bittensor wallets, descriptor limit 1024) is queried by an
honest validator's signed requests (the validator's own client, 3 s timeout, --queries of them 0.2 s
apart) in three situations, one after the other:

- quiet: nothing else happens;
- idle sockets: --sockets connections (1,024 by default: as many as the miner may open files) are
  open and send nothing;
- GIL: another validator's agent holds the GIL in one C call for 30 s (a native call that never
  returns), started just before the honest queries.

Prints, for each, how many honest queries were answered within the timeout and their median and
largest response time. ``--miner-path DIR`` runs the miner from another checkout (its ``taos``
package; the honest validator's client is this checkout's) to compare two versions.

    python benchmarks/hostile_miner.py [--queries 20] [--sockets 1024] [--miner-path DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import bittensor as bt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the tests' sample state and wallet helpers

from processes import terminate  # noqa: E402
from protocol_samples import state  # noqa: E402
from wallets import make_wallet  # noqa: E402

from taos.protocol import encode_state  # noqa: E402
from taos.validator.client import Target, query  # noqa: E402

TIMEOUT_S = 3.0
GIL_HOLD_S = 30.0
AGENT = '''
import ctypes, ctypes.util
from taos.agents import Agent
from taos.protocol import Cancel

class Bench(Agent):
    """Replies one Cancel; holds the GIL in one C call for validator ``hold_gil_for``."""
    def on_state(self, state):
        if self.params.get("hold_gil_for") == self.validator:
            ctypes.PyDLL(ctypes.util.find_library("c")).usleep(int(float(self.params["hold_s"]) * 1e6))
        return [Cancel(0, 1)]
'''


def start_miner(
    tmp: Path, wallets: dict[str, bt.Wallet], miner_path: Path
) -> tuple[subprocess.Popen, Target]:
    chain = tmp / "chain.json"
    neurons = [
        {"hotkey": wallets[n].hotkey.ss58_address, "validator_permit": True, "stake": 1000}
        for n in ("honest", "gil")
    ]
    neurons.append({"hotkey": wallets["miner"].hotkey.ss58_address})
    chain.write_text(json.dumps({"neurons": neurons}))
    (tmp / "agents").mkdir()
    (tmp / "agents" / "Bench.py").write_text(AGENT)
    command = [
        sys.executable, "-m", "taos.miner", "--agent.path", str(tmp / "agents"), "--agent.name", "Bench",
        "--agent.params", f"hold_gil_for={wallets['gil'].hotkey.ss58_address}", f"hold_s={GIL_HOLD_S}",
        "--agent.timeout", "1.0", "--chain", f"local:{chain}", "--wallet.name", "miner",
        "--wallet.hotkey", "hot", "--wallet.path", str(tmp / "wallets"), "--host", "127.0.0.1",
        "--port", "0", "--log-level", "ERROR",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(miner_path)}
    proc = subprocess.Popen(command, env=env, cwd=tmp, stderr=(tmp / "miner.log").open("wb"))
    _, hard = resource.prlimit(proc.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (1024, hard))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        endpoint = json.loads(chain.read_text())["neurons"][2].get("endpoint")
        if endpoint:
            return proc, Target(endpoint, wallets["miner"].hotkey.ss58_address)
        time.sleep(0.1)
    raise SystemExit("the miner did not start:\n" + (tmp / "miner.log").read_text())


async def honest(wallet: bt.Wallet, target: Target, body: bytes, count: int) -> list[float | None]:
    """Response times of ``count`` queries 0.2 s apart (None: not answered within the timeout)."""
    times: list[float | None] = []
    async with aiohttp.ClientSession() as session:
        for i in range(count):
            if i:
                await asyncio.sleep(0.2)
            r = await query(session, wallet, target, body, timeout_s=TIMEOUT_S)
            times.append(r.elapsed_s if r.ok and r.status == 200 else None)
    return times


async def with_idle_sockets(count: int, port: int, run) -> tuple[int, list[float | None]]:
    conns = []
    for _ in range(count):
        with contextlib.suppress(asyncio.TimeoutError, OSError):
            conns.append(await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2))
    try:
        await asyncio.sleep(0.2)
        return len(conns), await run()
    finally:
        for _, w in conns:
            w.close()


async def with_gil_holder(wallet: bt.Wallet, target: Target, body: bytes, run) -> list[float | None]:
    async with aiohttp.ClientSession() as session:
        holder = asyncio.ensure_future(query(session, wallet, target, body, timeout_s=GIL_HOLD_S + 5))
        await asyncio.sleep(0.3)  # the holder's state reaches its agent first
        try:
            return await run()
        finally:
            holder.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await holder


def line(name: str, times: list[float | None]) -> str:
    ok = [t for t in times if t is not None]
    figures = f"median {statistics.median(ok) * 1e3:7.1f} ms, max {max(ok) * 1e3:7.1f} ms" if ok else "-"
    return f"  {name:<34} answered {len(ok):>3}/{len(times):<3} {figures}"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--queries", type=int, default=20)
    p.add_argument("--sockets", type=int, default=1024)
    p.add_argument("--miner-path", type=Path, default=ROOT, help="the checkout whose miner runs")
    a = p.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, a.sockets + 512)), hard))
    body = encode_state(state())
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        wallets = {n: make_wallet(tmp / "wallets", n) for n in ("honest", "gil", "miner")}
        proc, target = start_miner(tmp, wallets, a.miner_path.resolve())
        try:
            asyncio.run(honest(wallets["honest"], target, body, 1))  # the agent is built
            run = lambda: honest(wallets["honest"], target, body, a.queries)  # noqa: E731
            print(
                f"honest validator's queries to one miner ({a.miner_path.resolve().name}), {TIMEOUT_S:g} s timeout:"
            )
            print(line("quiet", asyncio.run(run())))
            opened, times = asyncio.run(
                with_idle_sockets(a.sockets, int(target.endpoint.rsplit(":", 1)[1]), run)
            )
            print(line(f"{opened} idle sockets open", times))
            times = asyncio.run(with_gil_holder(wallets["gil"], target, body, run))
            print(line(f"another agent holds the GIL {GIL_HOLD_S:g} s", times))
        finally:
            terminate(proc)


if __name__ == "__main__":
    main()
