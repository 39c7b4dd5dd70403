"""python -m taos.validator as a process: start-up failures, a full run against a real miner
process over signed HTTP on loopback, and kill -9 at random moments with an exact resume."""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from markets import populations
from wallets import make_wallet

import taos
from taos.config import load, to_core
from taos.validator.secret import SECRET_ENV, SECRET_FILE, secret_seed, simulation_seed, with_secret_seed
from taos.validator.store import DB_NAME, ValidatorStore

ROOT = Path(__file__).resolve().parents[1]
SECRET = "a-secret-the-tests-share"  # validators that share it run the same simulations
ENV = {
    **os.environ,
    "PYTHONPATH": str(Path(taos.__file__).resolve().parents[1]),
    "TAOS_SIMULATION_SECRET": SECRET,
}
CONFIG = """
[simulation]
books = 2
seed = 3
duration_s = {duration}
publish_interval_s = 5.0
grace_period_s = 10.0
[miners]
slots = 4
""" + populations(40, 80, 3)


@pytest.fixture
def setup(tmp_path: Path) -> dict:
    wallets = tmp_path / "wallets"
    validator, miner = make_wallet(wallets, "validator"), make_wallet(wallets, "miner")
    chain = tmp_path / "chain.json"
    neurons = [
        {"hotkey": validator.hotkey.ss58_address, "validator_permit": True, "stake": 1000},
        {"hotkey": miner.hotkey.ss58_address},
    ]
    chain.write_text(json.dumps({"neurons": neurons}))
    return {"tmp": tmp_path, "validator": validator, "miner": miner, "chain": chain, "wallets": wallets}


def config_file(setup: dict, duration: float) -> Path:
    path = setup["tmp"] / f"sim-{duration:g}.toml"
    path.write_text(CONFIG.format(duration=duration))
    return path


def validator_args(setup: dict, config: Path, state: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "taos.validator",
        "--chain", f"local:{setup['chain']}",
        "--wallet.name", "validator", "--wallet.hotkey", "hot", "--wallet.path", str(setup["wallets"]),
        "--config", str(config), "--state", str(state), "--prometheus-port", "0",
        "--weights-interval", "0", "--log-level", "WARNING", "--pace", "0", "--simulations", "1",
        *extra,
    ]  # fmt: skip


def run_to_end(setup: dict, config: Path, state: Path, *extra: str, env: dict | None = None) -> None:
    """Runs a validator process until its (first) simulation ends; it must exit 0."""
    out = subprocess.run(
        validator_args(setup, config, state, *extra),
        check=False,
        env=ENV if env is None else env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda a: [*a[: a.index("--config") + 1], "missing.toml", *a[a.index("--config") + 2 :]],
            "cannot read",
        ),
        (lambda a: [*a, "--timeout", "0"], "--timeout must be in (0, 60] seconds"),
        (lambda a: [*a, "--scoring.preset", "sn8"], "--scoring.preset must be one of taos, ptn, sn79"),
        (
            lambda a: [*a, "--scoring.preset", "ptn", "--scoring.max-drawdown", "1.5"],
            "--scoring.max-drawdown: max_drawdown must lie in (0, 1)",
        ),
        (lambda a: [*a, "--rules.preset", "sn8"], "--rules.preset must be one of taos, ptn"),
        (lambda a: [*a, "--rules.max-open", "-1"], "--rules.max-open must be an integer >= 0"),
        (lambda a: [*a, "--rules.rate-window", "0"], "--rules.rate-window must be a finite number > 0"),
        (
            lambda a: [*a, "--rules.sessions", "[{books = 9, open = 0, close = 60}]"],
            "--rules.sessions: sessions[0] names book 9, but there are 2 books",
        ),
        (lambda a: [*a, "--rules.sessions", "[{open = '25:00', close = 60}]"], "outside the day"),
    ],
)
def test_start_failures_print_one_line_and_exit_1(setup: dict, change, message) -> None:  # type: ignore[no-untyped-def]
    args = change(validator_args(setup, config_file(setup, 60), setup["tmp"] / "state"))
    out = subprocess.run(args, check=False, env=ENV, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("taos.validator: error:") and message in lines[0]


def test_an_unregistered_validator_does_not_start(setup: dict) -> None:
    stranger = make_wallet(setup["wallets"], "stranger")
    args = validator_args(setup, config_file(setup, 60), setup["tmp"] / "state")
    args[args.index("--wallet.name") + 1] = "stranger"
    out = subprocess.run(args, check=False, env=ENV, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    assert f"hotkey {stranger.hotkey.ss58_address} is not registered" in out.stderr


def test_a_validator_process_scores_a_miner_process_over_signed_http(setup: dict) -> None:
    miner = subprocess.Popen(
        [
            sys.executable, "-m", "taos.miner",
            "--agent.path", str(ROOT / "agents"), "--agent.name", "RandomMakerAgent",
            "--chain", f"local:{setup['chain']}",
            "--wallet.name", "miner", "--wallet.hotkey", "hot", "--wallet.path", str(setup["wallets"]),
            "--host", "127.0.0.1", "--port", "0", "--log-level", "WARNING",
        ],
        env=ENV, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and miner.poll() is None:
            if json.loads(setup["chain"].read_text())["neurons"][1].get("endpoint"):
                break
            time.sleep(0.1)
        assert json.loads(setup["chain"].read_text())["neurons"][1].get("endpoint")
        state = setup["tmp"] / "state"
        config = config_file(setup, 120)
        run_to_end(setup, config, state)
    finally:
        miner.send_signal(signal.SIGTERM)
        assert miner.wait(timeout=30) == 0
        miner.stderr.close()
    with ValidatorStore(state) as store:
        saved = store.load()
    assert saved is not None and saved.step_index == 24 and saved.time_ns == 120 * 10**9
    assert saved.identity.seed == secret_seed(3, SECRET)  # never the config's seed as it is
    sim = saved.restore_simulation(to_core(with_secret_seed(load(config), SECRET)))
    # the miner's maker orders reached the books under its uid (1)
    assert any(
        sim.account(b, 1)["open_orders"] > 0 or sim.account(b, 1)["traded_quote"] > 0 for b in range(2)
    )
    assert saved.hotkeys[1] == setup["miner"].hotkey.ss58_address


def test_each_validator_runs_a_secret_seed_of_its_own(setup: dict) -> None:
    """Without a shared secret, a validator draws one at its first start and keeps it in its state
    folder: its seed is neither the config's nor another validator's, and a restart resumes it."""
    config = config_file(setup, 30)
    alone = {k: v for k, v in ENV.items() if k != SECRET_ENV}
    seeds = []
    for name in ("a", "b"):
        state = setup["tmp"] / name
        out = subprocess.run(
            validator_args(setup, config, state, "--max-steps", "2"),
            check=False,
            env=alone,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert out.returncode == 0, out.stderr
        secret = state / SECRET_FILE
        assert secret.stat().st_mode & 0o777 == 0o600
        with ValidatorStore(state) as store:
            saved = store.load()
        assert saved is not None
        assert saved.identity.seed == secret_seed(3, secret.read_text().strip())
        seeds.append(saved.identity.seed)
    assert len({3, *seeds}) == 3
    run_to_end(setup, config, setup["tmp"] / "a", env=alone)  # resumes its own simulation (else refused)
    with ValidatorStore(setup["tmp"] / "a") as store:
        saved = store.load()
    assert saved is not None and saved.identity.seed == seeds[0] and saved.step_index == 6


def committed_step(state: Path) -> int:
    """The last committed step of a running validator's store, read without its lock."""
    db = sqlite3.connect(f"file:{state / DB_NAME}?mode=ro", uri=True)
    try:
        row = db.execute("SELECT step_index FROM meta").fetchone()
    finally:
        db.close()
    return -1 if row is None else int(row[0])


def test_the_validator_process_runs_simulation_after_simulation(setup: dict) -> None:
    """At the end of a simulation the next one starts with the next seed of the sequence; a
    restart goes on with it. (--simulations N stops after N of them; without it, never.)"""
    config = config_file(setup, 30)
    state = setup["tmp"] / "state"
    out = subprocess.run(
        validator_args(setup, config, state, "--simulations", "3", "--log-level", "INFO"),
        check=False,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    # the start says who, where and from where
    assert f"(uid 0) on local:{setup['chain']} netuid 79: simulation 0 from step 0, 2 books" in out.stderr
    assert out.stderr.count("ended at step") == 2
    assert "simulation 0 ended at step 6; simulation 1 starts" in out.stderr
    first = secret_seed(3, SECRET)
    with ValidatorStore(state) as store:
        saved = store.load()
        records = store.simulations()
    assert saved is not None and saved.step_index == 20 and saved.time_ns == 30 * 10**9
    assert saved.identity.seed == simulation_seed(first, 2)
    assert [(r.simulation, r.seed, r.last_step) for r in records] == [
        (0, first, 6),
        (1, simulation_seed(first, 1), 13),
        (2, simulation_seed(first, 2), None),
    ]
    assert [m["uid"] for m in records[0].summary["miners"]] == [1]
    # with --simulations 0 (the default) it never ends by itself: simulation 3 starts, and a signal
    # stops it
    log = setup["tmp"] / "validator.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen(
            validator_args(setup, config, state, "--log-level", "INFO", "--simulations", "0"),
            env=ENV,
            stderr=stderr,
        )
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and committed_step(state) < 23:
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    err = log.read_text()
    assert proc.returncode == 0, err
    assert "simulation 2 from step 20" in err and "simulation 2 ended at step 20; simulation 3 starts" in err
    with ValidatorStore(state) as store:
        assert [r.simulation for r in store.simulations()][:4] == [0, 1, 2, 3]


def test_fresh_keeps_the_old_state_aside_and_starts_a_new_simulation(setup: dict) -> None:
    config = config_file(setup, 30)
    state = setup["tmp"] / "state"
    alone = {k: v for k, v in ENV.items() if k != SECRET_ENV}  # each start draws its own secret

    def start(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            validator_args(setup, config, state, "--max-steps", "2", *extra),
            check=False,
            env=alone,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert start().returncode == 0
    first_secret = (state / SECRET_FILE).read_text()
    out = start("--fresh", "--log-level", "INFO")
    assert out.returncode == 0, out.stderr
    (kept,) = [p for p in setup["tmp"].iterdir() if p.name.startswith("state.")]
    assert f"--fresh: the old state folder is kept as {kept}" in out.stderr
    assert (kept / SECRET_FILE).read_text() == first_secret
    with ValidatorStore(kept) as old, ValidatorStore(state) as new:
        a, b = old.load(), new.load()
    assert a is not None and b is not None and a.step_index == b.step_index == 2
    assert a.identity.seed != b.identity.seed  # a new simulation, with a new secret
    with ValidatorStore(state):  # a running validator holds the folder: --fresh leaves it alone
        out = start("--fresh")
    assert out.returncode == 1 and out.stderr.strip().endswith(
        f"--fresh: the state folder {state} is in use by another process"
    )
    assert [p.name for p in setup["tmp"].iterdir() if p.name.startswith("state.")] == [kept.name]


def test_scoring_flags_reach_the_validator_process(setup: dict) -> None:
    # preset ptn with a 60 s challenge: the registered miner (not serving, no positions) cannot pass
    # and is eliminated at 60 s; the validator's own uid is not policed
    state = setup["tmp"] / "state"
    args = validator_args(setup, config_file(setup, 90), state)
    args += [
        "--scoring.preset",
        "ptn",
        "--scoring.challenge-period",
        "60s",
        "--scoring.challenge-weight",
        "0.01",
    ]
    out = subprocess.run(args, check=False, env=ENV, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    with ValidatorStore(state) as store:
        saved = store.load()
    assert saved is not None and saved.time_ns == 90 * 10**9
    reasons = saved.arrays["scheme/policy/elimination/reason"]
    assert reasons.tolist()[:2] == [0, 3]  # uid 1: challenge failed
    assert saved.arrays["scheme/policy/elimination/sim_time_ns"][1] == 60 * 10**9
    assert saved.arrays["scheme/policy/challenge/status"].tolist()[:2] == [0, 3]
    assert "challenge failed" in out.stderr


PTN_FLAGS = (
    "--scoring.preset", "ptn", "--scoring.challenge-period", "300s",
    "--scoring.checkpoint-period", "60s", "--scoring.decay-window", "180s",
)  # fmt: skip
WALL_TIMES = {
    "scheme/policy/challenge/start_wall_s",
    "scheme/policy/challenge/end_wall_s",
    "scheme/policy/elimination/wall_time_s",
}


@pytest.mark.parametrize("flags", [(), PTN_FLAGS], ids=["taos", "ptn"])
def test_kill_9_at_random_moments_then_resume_exactly(setup: dict, flags: tuple[str, ...]) -> None:
    config = config_file(setup, 600)
    reference = setup["tmp"] / "reference"
    run_to_end(setup, config, reference, *flags)

    state = setup["tmp"] / "killed"
    rng = random.Random(11)
    seen_steps = []
    for _ in range(4):
        proc = subprocess.Popen(
            validator_args(setup, config, state, *flags), env=ENV, stderr=subprocess.DEVNULL
        )
        time.sleep(rng.uniform(1.0, 3.0))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with ValidatorStore(state) as store:
            saved = store.load()
        seen_steps.append(0 if saved is None else saved.step_index)
    assert seen_steps == sorted(seen_steps)  # never goes back
    run_to_end(setup, config, state, *flags)
    with ValidatorStore(reference) as a, ValidatorStore(state) as b:
        ra, rb = a.load(), b.load()
    assert ra is not None and rb is not None
    assert (rb.step_index, rb.time_ns) == (ra.step_index, ra.time_ns) == (120, 600 * 10**9)
    assert rb.checkpoint_bytes == ra.checkpoint_bytes  # the same simulation state, byte for byte
    # every array, the policies' (preset ptn) too: equal but for the wall-clock times, which are
    # only recorded
    assert ra.arrays.keys() == rb.arrays.keys()
    policy = sorted(k for k in ra.arrays if k.startswith("scheme/policy/"))
    assert bool(policy) == bool(flags)
    for name in ra.arrays:
        x, y = ra.arrays[name], rb.arrays[name]
        if name in WALL_TIMES:
            assert np.array_equal(np.isfinite(x), np.isfinite(y)), name
        else:
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f"), name
    if flags:  # the miner's challenge ran out at 300 s (no positions): eliminated
        assert ra.arrays["scheme/policy/elimination/reason"].tolist()[:2] == [0, 3]
        assert ra.arrays["scheme/policy/elimination/sim_time_ns"][1] == 300 * 10**9
