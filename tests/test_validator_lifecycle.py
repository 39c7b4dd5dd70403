"""python -m taos.validator as an operator meets it: SIGTERM/SIGINT stop it within 5 s in every
state (also when no miner is queried, and while a miner stalls), and every start-up problem is one
line on stderr and exit code 1, never a traceback."""

from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from markets import populations
from wallets import make_wallet

import taos

sys.path.insert(0, str(Path(__file__).parent / "hostile"))
from peers import HostileMiners

ENV = {**os.environ, "PYTHONPATH": str(Path(taos.__file__).resolve().parents[1])}
CONFIG = """
[simulation]
books = 2
seed = {seed}
duration_s = 86400.0
publish_interval_s = 5.0
grace_period_s = {grace}
[miners]
slots = 4
""" + populations(20, 20, 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def setup(tmp_path: Path) -> dict:
    wallets = tmp_path / "wallets"
    validator = make_wallet(wallets, "validator")
    return {"tmp": tmp_path, "validator": validator, "wallets": wallets}


def chain_file(setup: dict, miners: list[dict]) -> Path:
    path = setup["tmp"] / "chain.json"
    neurons = [{"hotkey": setup["validator"].hotkey.ss58_address, "validator_permit": True, "stake": 1000}]
    path.write_text(json.dumps({"neurons": neurons + miners}))
    return path


def config_file(setup: dict, *, grace: float = 0.0, seed: int = 3) -> Path:
    path = setup["tmp"] / f"sim-{grace:g}-{seed}.toml"
    path.write_text(CONFIG.format(grace=grace, seed=seed))
    return path


def args(
    setup: dict, chain: Path, config: Path, *extra: str, port: int = 0, state: str = "state"
) -> list[str]:
    return [
        sys.executable, "-m", "taos.validator",
        "--chain", f"local:{chain}",
        "--wallet.name", "validator", "--wallet.hotkey", "hot", "--wallet.path", str(setup["wallets"]),
        "--config", str(config), "--state", str(setup["tmp"] / state), "--prometheus-port", str(port),
        "--weights-interval", "1000000", "--log-level", "INFO", "--pace", "0", *extra,
    ]  # fmt: skip


def step_index(port: int) -> float:
    """The validator's last completed step, read from its Prometheus endpoint (-1: not up yet)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return -1.0
    for line in text.splitlines():
        if line.startswith("taos_validator_step_index "):
            return float(line.split()[1])
    return -1.0


def start(argv: list[str], log: Path) -> subprocess.Popen:
    """The validator process, its stderr into ``log``."""
    with open(log, "w") as f:
        return subprocess.Popen(argv, env=ENV, stderr=f, text=True)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def wait_for_steps(proc: subprocess.Popen, port: int, steps: int, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.returncode
        if step_index(port) >= steps:
            return
        time.sleep(0.2)
    raise AssertionError(f"the validator did not reach step {steps} within {timeout_s} s")


def committed_step(state: Path) -> int:
    """The last step committed to the store, read without taking the store's lock."""
    db = sqlite3.connect(f"file:{state / 'validator.sqlite3'}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT step_index FROM meta").fetchone()[0])
    finally:
        db.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("situation", ["grace_period", "no_miner", "stalling_miner", "paced"])
def test_a_signal_stops_the_validator_within_5_s_in_every_state(
    setup: dict, situation: str, sig: int
) -> None:
    with HostileMiners(["stall"], stall_s=60.0) as miners:
        stalling = [{"hotkey": "5stall", "endpoint": miners.endpoint("stall")}]
        chain = chain_file(setup, stalling if situation == "stalling_miner" else [])
        config = config_file(setup, grace=86_400.0 if situation == "grace_period" else 0.0)
        port = free_port()
        # the stalling miner holds every query for the whole timeout of 30 s
        log = setup["tmp"] / "stderr"
        # paced: a step of 5 s of sim time every 50 s of wall time, stopped while it waits
        pace = ("--pace", "0.1") if situation == "paced" else ()
        proc = start(args(setup, chain, config, "--timeout", "30", *pace, port=port), log)
        try:
            if situation == "stalling_miner":
                deadline = time.monotonic() + 60
                while miners.seen["stall"].states == 0 and time.monotonic() < deadline:
                    assert proc.poll() is None
                    time.sleep(0.1)
                assert miners.seen["stall"].states == 1  # the query of step 1 is in flight
            else:
                wait_for_steps(proc, port, 1 if situation == "paced" else 3)
            sent = time.monotonic()
            proc.send_signal(sig)
            code = proc.wait(timeout=10)
            took = time.monotonic() - sent
        finally:
            stop(proc)
        stderr = log.read_text()
        assert code == 0, stderr
        assert took < 5.0, took
        assert "Traceback" not in stderr
        assert committed_step(setup["tmp"] / "state") >= (
            1 if situation in ("stalling_miner", "paced") else 3
        )


def test_a_validator_that_cannot_end_its_step_exits_at_the_deadline(setup: dict) -> None:
    """A chain read that hangs (the local chain file replaced by a named pipe that nobody writes:
    its read blocks in the kernel, as a call to an unreachable node could): the step cannot end,
    and the deadline ends the process within 5 s of the signal, keeping the last saved step."""
    chain = chain_file(setup, [])
    port = free_port()
    log = setup["tmp"] / "stderr"
    proc = start(args(setup, chain, config_file(setup), port=port), log)
    try:
        wait_for_steps(proc, port, 2)
        pipe = chain.with_name("pipe")
        os.mkfifo(pipe)
        os.replace(pipe, chain)  # the next read of the chain blocks
        time.sleep(0.5)
        stuck = step_index(port)
        time.sleep(1.0)
        assert step_index(port) == stuck  # no step ends any more
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=10)
        took = time.monotonic() - sent
    finally:
        stop(proc)
    stderr = log.read_text()
    assert took < 5.0 and code == 1, (took, code, stderr)
    assert "exiting now with the last saved step" in stderr and "Traceback" not in stderr
    assert committed_step(setup["tmp"] / "state") >= stuck - 1


def run_once(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=False, env=ENV, capture_output=True, text=True, timeout=120)


def assert_one_line(out: subprocess.CompletedProcess, message: str) -> None:
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 1, out.stderr
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("taos.validator: error:") and message in lines[0], lines[0]


def test_start_up_problems_are_one_line(setup: dict) -> None:
    chain = chain_file(setup, [])
    config = config_file(setup)
    base = args(setup, chain, config, "--max-steps", "3", "--log-level", "WARNING")
    done = run_once(base)
    assert done.returncode == 0, done.stderr
    state = setup["tmp"] / "state"

    # the state of another simulation (another seed)
    other = args(setup, chain, config_file(setup, seed=4), "--max-steps", "1")
    assert_one_line(run_once(other), "the stored state belongs to another simulation")

    # the state folder in use by another process
    port = free_port()
    running = start(args(setup, chain, config, port=port), setup["tmp"] / "running.stderr")
    try:
        wait_for_steps(running, port, 4)
        assert_one_line(run_once(base), "is in use by another process")
        # the Prometheus port in use (by the running validator)
        assert_one_line(
            run_once(args(setup, chain, config, port=port, state="state2")), "cannot serve metrics on"
        )
    finally:
        running.send_signal(signal.SIGTERM)
        assert running.wait(timeout=10) == 0
        stop(running)

    # a checkpoint altered on disk, then missing
    (checkpoint,) = sorted((state / "checkpoints").iterdir())[-1:]
    checkpoint.write_bytes(checkpoint.read_bytes()[:-10] + b"0123456789")
    assert_one_line(run_once(base), "checkpoint")
    for f in (state / "checkpoints").iterdir():
        f.unlink()
    assert_one_line(run_once(base), "checkpoint")

    # a database that is not one
    (state / "validator.sqlite3").write_bytes(b"this is not a database" * 100)
    for suffix in ("-wal", "-shm"):
        (state / f"validator.sqlite3{suffix}").unlink(missing_ok=True)
    assert_one_line(run_once(base), "not a usable SQLite database")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--wallet.name", "nobody"], "cannot read the hotkey of wallet 'nobody'"),
        (["--pagerduty-key", "not a key"], "routing key"),
        (["--timeout", "1e300"], "--timeout must be in (0, 60] seconds"),
        (["--timeout", "nan"], "--timeout must be in (0, 60] seconds"),
        (["--weights-interval", "-1"], "--weights-interval must be a finite number"),
        (["--weights-interval", "inf"], "--weights-interval must be a finite number"),
        (["--checkpoint-steps", "0"], "--checkpoint-steps must be >= 1"),
        (["--checkpoint-interval", "nan"], "--checkpoint-interval must be a finite number"),
        (["--netuid", "-3"], "--netuid must be in [0, 65535]"),
    ],
)
def test_bad_flags_and_missing_files_are_one_line(setup: dict, extra: list[str], message: str) -> None:
    argv = args(
        setup, chain_file(setup, []), config_file(setup), "--max-steps", "1", "--log-level", "WARNING"
    )
    assert_one_line(run_once([*argv, *extra]), message)
