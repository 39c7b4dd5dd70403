"""python -m taos.miner stops within 5 s of SIGTERM or SIGINT in every state: idle, in the middle of
a request, while an agent blocks, while an agent holds the GIL in a C call; its worker processes
are gone with it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import bittensor as bt
import pytest
from protocol_samples import state
from wallets import validator_and_miner

import taos
from taos.protocol import STATE_PATH, decode_reply, encode_state
from taos.validator.client import Target, query

AGENTS = Path(__file__).resolve().parent / "miner_agents"
ENV = {**os.environ, "PYTHONPATH": str(Path(taos.__file__).resolve().parents[1])}
BODY = encode_state(state())
STOP_WITHIN_S = 5.0


def start_miner(setup: dict, *params: str) -> tuple[subprocess.Popen[bytes], Target]:
    command = [
        sys.executable, "-m", "taos.miner", "--agent.path", str(AGENTS), "--agent.name", "Counting",
        *(["--agent.params", *params] if params else []), "--agent.timeout", "1", "--agent.kill-after", "120",
        "--chain", f"local:{setup['chain']}", "--wallet.name", "miner", "--wallet.hotkey", "hot",
        "--wallet.path", str(setup["wallets"]), "--host", "127.0.0.1", "--port", "0", "--log-level", "WARNING",
    ]  # fmt: skip
    proc = subprocess.Popen(command, env=ENV, stderr=subprocess.PIPE)
    setup["procs"].append(proc)
    endpoint = None
    deadline = time.monotonic() + 60
    while endpoint is None and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        endpoint = json.loads(setup["chain"].read_text())["neurons"][1].get("endpoint")
    assert endpoint is not None, proc.stderr.read().decode() if proc.poll() is not None else "no endpoint"  # type: ignore[union-attr]
    return proc, Target(endpoint, setup["miner"].hotkey.ss58_address)


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found.update(int(c) for c in (task / "children").read_text().split())
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def ask(setup: dict, target: Target) -> tuple:
    async def one() -> tuple:
        async with aiohttp.ClientSession() as session:
            r = await query(session, setup["validator"], target, BODY, timeout_s=5)
            assert r.ok, r.error
            return decode_reply(r.body).instructions

    return asyncio.run(one())


def stop_and_time(proc: subprocess.Popen[bytes], sig: int) -> float:
    workers = children(proc.pid)
    start = time.monotonic()
    proc.send_signal(sig)
    try:
        code = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    elapsed = time.monotonic() - start
    err = proc.stderr.read().decode()  # type: ignore[union-attr]
    assert code == 0, err
    assert "Traceback" not in err, err
    deadline = time.monotonic() + 2
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if alive(w)]
    return elapsed


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[dict]:
    setup = validator_and_miner(tmp_path)
    setup["procs"] = []
    yield setup
    for proc in setup["procs"]:  # a test that failed before stopping its miner
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_idle_miner_stops_within_5_s(setup: dict, sig: int) -> None:
    proc, target = start_miner(setup)
    assert ask(setup, target)  # it served a validator: a worker with an agent
    assert len(children(proc.pid)) == 2  # the validator's worker and the spare
    assert stop_and_time(proc, sig) < STOP_WITHIN_S


def test_a_miner_in_the_middle_of_a_request_stops_within_5_s(setup: dict) -> None:
    proc, target = start_miner(setup)
    headers = bt.http_auth.sign(
        setup["validator"], method="POST", path=STATE_PATH, body=BODY, receiver_ss58=target.hotkey
    )
    host, port = target.endpoint.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        head = [f"POST {STATE_PATH} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(BODY)}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + BODY[: len(BODY) // 2])  # the rest never comes
        time.sleep(0.3)
        assert stop_and_time(proc, signal.SIGTERM) < STOP_WITHIN_S


@pytest.mark.parametrize(
    ("mode", "sig"),
    [("block_for", signal.SIGTERM), ("hold_gil_for", signal.SIGTERM), ("hold_gil_for", signal.SIGINT)],
)
def test_a_miner_whose_agent_is_stuck_stops_within_5_s(setup: dict, mode: str, sig: int) -> None:
    proc, target = start_miner(setup, f"{mode}={setup['validator'].hotkey.ss58_address}", "hold_s=120")
    assert ask(setup, target) == ()  # the budget passed: the empty reply; the agent is still stuck
    assert stop_and_time(proc, sig) < STOP_WITHIN_S
