"""A validator process (python -m taos.validator, signed HTTP on loopback) against a subnet of
hostile miners: garbage, huge, slow, silent, 1 byte/s, redirecting, failing, compressed and
extreme replies, and 200,000 instructions. It keeps stepping, its steps stay within the query
timeout, its memory stays flat, it never echoes a peer, and each miner is told what went wrong."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from bittensor.sp_core import Keypair
from markets import populations
from peers import SECRET, HostileMiners
from wallets import make_wallet

import taos

ENV = {**os.environ, "PYTHONPATH": str(Path(taos.__file__).resolve().parents[1])}
KINDS = {
    "garbage": "decode_error",
    "huge": "oversized",
    "lying_length": "oversized",
    "endless": "oversized",
    "error500": "http_error",
    "redirect": "http_error",
    "redirect_loop": "http_error",
    "gzip_bomb": "http_error",
    "bad_http": "http_error",
    "refused": "refused",
    "drip": "timeout",
    "stall": "timeout",
    "silent": "timeout",
}
STEPS = 8  # steps to watch (each waits the whole timeout for the stalling miners)
TIMEOUT_S = 1.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def value(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_validator_process_keeps_stepping_against_a_hostile_subnet(tmp_path: Path) -> None:
    names = ["honest", "extreme", *KINDS]
    with HostileMiners(names, stall_s=30.0) as miners:
        wallet = make_wallet(tmp_path / "wallets", "validator")
        neurons = [{"hotkey": wallet.hotkey.ss58_address, "validator_permit": True, "stake": 1000}]
        neurons += [
            {"hotkey": Keypair.create_from_uri(f"//{n}").ss58_address, "endpoint": miners.endpoint(n)}
            for n in names
        ]
        chain = tmp_path / "chain.json"
        chain.write_text(json.dumps({"neurons": neurons}))
        config = tmp_path / "sim.toml"
        config.write_text(
            f"[simulation]\nbooks = 2\nseed = 9\nduration_s = 86400.0\npublish_interval_s = 5.0\n"
            f"grace_period_s = 0.0\n[miners]\nslots = {len(neurons)}\n" + populations(20, 30, 2)
        )
        port = free_port()
        log = tmp_path / "validator.log"
        argv = [
            sys.executable, "-m", "taos.validator", "--chain", f"local:{chain}",
            "--wallet.name", "validator", "--wallet.hotkey", "hot", "--wallet.path", str(tmp_path / "wallets"),
            "--config", str(config), "--state", str(tmp_path / "state"), "--prometheus-port", str(port),
            "--timeout", str(TIMEOUT_S), "--weights-interval", "1000000", "--log-level", "INFO", "--pace", "0",
        ]  # fmt: skip
        with open(log, "w") as err:
            proc = subprocess.Popen(argv, env=ENV, stderr=err)
        try:
            samples: list[tuple[float, float]] = [(0.0, 0.0)]  # (steps, RSS MiB)
            deadline = time.monotonic() + 90
            while samples[-1][0] < STEPS and time.monotonic() < deadline:
                assert proc.poll() is None, log.read_text()
                with contextlib.suppress(OSError):  # not serving yet
                    samples.append((value(metrics(port), "taos_validator_step_index"), rss_mib(proc.pid)))
                time.sleep(0.5)
            final = metrics(port)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stderr = log.read_text()
    assert "Traceback" not in stderr and SECRET.decode() not in stderr

    # it kept stepping: each step waits for the slowest miners (the timeout), and no longer
    steps = value(final, "taos_validator_step_index")
    assert steps >= STEPS, (steps, stderr)
    total = value(final, "taos_validator_step_duration_seconds_count")
    typical = value(final, 'taos_validator_step_duration_seconds_bucket{le="2.5"}')
    longest = value(final, 'taos_validator_step_duration_seconds_bucket{le="5.0"}')
    assert total >= steps - 1 and longest == total  # every step took at most 5 s (timeout 1 s)
    assert typical >= total / 2  # and most at most 2.5 s (liveness margins for a loaded machine)

    # its memory stayed flat once running (a gzip bomb or a huge reply would show here)
    running = [rss for n, rss in samples[1:] if n >= 2]
    assert running and max(running) - min(running) < 64, running

    # every miner was told what went wrong, by kind; nothing reached the internal address
    assert miners.internal_hits == 0
    for name, kind in KINDS.items():
        if name == "refused":
            continue  # nothing listens there to be told
        seen = miners.seen[name]
        assert seen.states >= 3 and seen.undecodable == 0, (name, seen)
        assert seen.rejections and all(d.startswith(f"{kind}: ") for d in seen.rejections), (name, seen)
        assert not any("internal-secret" in d for d in seen.rejections)
    assert miners.seen["honest"].rejections == [] and miners.seen["extreme"].rejections == []
    for kind in set(KINDS.values()):
        assert value(final, f'taos_validator_query_failures_total{{kind="{kind}"}}') > 0, kind
    assert value(final, 'taos_validator_queries_total{outcome="ok"}') >= 2 * (steps - 1)
