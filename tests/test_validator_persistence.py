"""kill -9 at random moments: the validator state resumes where it was and loses no score history.

The driver (tests/persistence_driver.py) steps a real simulation, scores it and commits
everything after each step: a simulation checkpoint every few steps and the steps' instructions in a
journal in between. It is killed with SIGKILL several times (also while it replays the journal),
restarted, and finally run to the end; its final state must equal that of an uninterrupted run
with a checkpoint at every step and the same seed.
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from persistence_driver import (
    CONFIG,
    DEREGISTER_STEP,
    DEREGISTERED_UID,
    IDLE_UID,
    miner_orders,
)

import taos
from taos.validator.history import ScoreState
from taos.validator.persisted import within
from taos.validator.store import StoredState, ValidatorStore

STEPS = 300
WINDOW = 40  # small, so the history ring wraps several times


def env() -> dict[str, str]:
    e = dict(os.environ)
    # the package under test, as the test process imports it (the installed one under run_tests.sh)
    package_root = str(Path(taos.__file__).resolve().parents[1])
    e["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, e.get("PYTHONPATH", "")) if p)
    return e


def command(store: Path, steps: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(Path(__file__).with_name("persistence_driver.py")),
        str(store),
        "--steps",
        str(steps),
        "--window",
        str(WINDOW),
        *extra,
    ]


def run_to_end(store: Path, steps: int) -> list[str]:
    out = subprocess.run(
        command(store, steps), env=env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.split()
    assert lines[-1] == "done"
    return out.stdout.splitlines()


def parse(lines: list[str]) -> tuple[int, int | None]:
    """The step a run resumed after, and the last step it reported committed."""
    lines = [x for x in lines if not x.startswith("replaying ")]
    assert lines and lines[0].startswith("resume "), lines
    resumed = int(lines[0].split()[1])
    committed = [int(x.split()[1]) for x in lines if x.startswith("committed ")]
    assert committed == list(range(resumed + 1, resumed + 1 + len(committed)))
    return resumed, committed[-1] if committed else None


def load(store: Path) -> StoredState:
    with ValidatorStore(store) as s:
        state = s.load()
    assert state is not None
    return state


def score_state(state: StoredState) -> ScoreState:
    """The score state the driver committed (as ``score/…``)."""
    miners, books = state.arrays["score/values"].shape[:2]
    return ScoreState.restored(within(state.arrays, "score"), miners, books)


def assert_same_final_state(a: StoredState, b: StoredState, steps: int) -> None:
    assert a.step_index == b.step_index == steps
    assert a.time_ns == b.time_ns
    assert a.identity == b.identity
    assert a.hotkeys == b.hotkeys
    fa, fb = a.arrays, b.arrays  # the score state and the observed steps
    assert fa.keys() == fb.keys() and "observed" in fa and "score/values" in fa
    for k in fa:
        assert fa[k].tobytes() == fb[k].tobytes(), k
    # The simulations: the engine's state bytes hold struct padding, so equal states need not be
    # equal bytes; they must behave the same from here on.
    from taos.config import loads, to_core

    core = to_core(loads(CONFIG.format(seed=1)))
    sa, sb = a.restore_simulation(core), b.restore_simulation(core)
    for step in range(steps + 1, steps + 6):
        ra = sa.step(step * 5_000_000_000, miner_orders(sa, step, 4, []))
        rb = sb.step(step * 5_000_000_000, miner_orders(sb, step, 4, []))
        assert ra.events.tobytes() == rb.events.tobytes()
        assert len(ra.events) > 0
        for x, y in zip(ra.accounts, rb.accounts, strict=True):
            assert x.tobytes() == y.tobytes()


def assert_history_complete(state: StoredState, steps: int) -> None:
    observed = state.arrays["observed"]
    assert observed[0] == 0 and (observed[1:] == 1).all(), np.flatnonzero(observed[1:] != 1) + 1
    st = score_state(state)
    assert st.observations == steps and st.last_step == steps
    assert st.window_steps().tolist() == list(range(steps - WINDOW + 1, steps + 1))
    # Every observation has a value, except uid 2's before its deregistration (forgotten then).
    finite = np.isfinite(st.window_values())
    others = [uid for uid in range(st.miners) if uid != DEREGISTERED_UID]
    assert finite[others].all()
    after = np.array(st.window_steps()) >= DEREGISTER_STEP
    assert (finite[DEREGISTERED_UID] == after).all()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> StoredState:
    store = tmp_path_factory.mktemp("reference")
    run_to_end(store, STEPS)
    state = load(store)
    assert_history_complete(state, STEPS)
    # The run exercised what the state has to carry: trading, an idle miner, a deregistration.
    st = score_state(state)
    assert (st.volume_24h()[[0, 1]] > 0).all() and (st.volume_24h()[IDLE_UID] == 0).all()
    assert st.scores()[IDLE_UID] == 0.0 and (st.scores()[[0, 1]] > 0).all()
    assert state.hotkeys[DEREGISTERED_UID].endswith("-b")
    return state


def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path, reference: StoredState) -> None:
    """Checkpoints every 7 steps, the journal in between; every other run is killed as soon as it
    starts replaying the journal, the others right after committing a step drawn at random a few
    steps after their resume (not a checkpoint's)."""
    rng = random.Random(20261122)
    replays: list[int] = []
    store = tmp_path / "store"
    resumes: list[int] = []
    last_committed = 0
    kills = 0
    for attempt in range(12):
        if kills == 5:
            break
        log = tmp_path / f"run{attempt}.log"
        with open(log, "w") as out:
            proc = subprocess.Popen(
                command(store, STEPS, "--checkpoint-every", "7"),
                env=env(),
                stdout=out,
                stderr=subprocess.PIPE,
            )
            deadline = time.monotonic() + 60
            during_replay = attempt % 2 == 1
            wanted = "replaying" if during_replay else "resume"
            while wanted not in log.read_text() and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.001)
            if not during_replay:
                # a random moment after the resume, between two checkpoints: just after the commit
                # of a step drawn a few steps ahead, never a checkpoint's (so the next start has a
                # journal to replay whatever the speed of the machine)
                text = log.read_text()
                start = int(text.split("resume ", 1)[1].split()[0]) if "resume " in text else 0
                target = start + rng.randint(1, 12)
                target += target % 7 == 0
                while (
                    f"committed {target}\n" not in log.read_text()
                    and proc.poll() is None
                    and time.monotonic() < deadline
                ):
                    time.sleep(0.0005)
            alive = proc.poll() is None
            if alive:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            assert proc.stderr is not None
            err = proc.stderr.read().decode()
            proc.stderr.close()
        lines = log.read_text().splitlines()
        replays += [int(x.split()[1]) for x in lines if x.startswith("replaying ")]
        if not any(x.startswith("resume ") for x in lines):
            assert alive  # killed before it resumed (during the replay): nothing to check
            kills += 1
            continue
        resumed, committed = parse(lines)
        # Resumed after at least every step a previous run reported committed: nothing went back.
        assert resumed >= last_committed, (resumed, last_committed)
        assert not resumes or resumed >= resumes[-1]
        resumes.append(resumed)
        if alive:
            kills += 1
            assert proc.returncode == -signal.SIGKILL
        else:
            assert proc.returncode == 0, err
            assert lines[-1] == "done"
        if committed is not None:
            last_committed = committed
        if last_committed == STEPS:
            break
    assert kills >= 3, f"only {kills} runs were killed mid-run; resumes {resumes}"
    assert len(resumes) >= 3, f"too few runs resumed: {resumes}"
    assert len(set(resumes)) >= 3, f"runs made no progress between kills: {resumes}"
    final = run_to_end(store, STEPS)
    assert parse(final)[0] >= last_committed
    state = load(store)
    assert_history_complete(state, STEPS)
    assert_same_final_state(state, reference, STEPS)
    assert len(list((store / "checkpoints").iterdir())) <= 2
    assert any(n > 0 for n in replays), f"no restart replayed a journal: {replays}"


def killed_after_checkpoint(store: Path, steps: int, *flags: str) -> tuple[int, int | None]:
    """Runs the driver with ``flags`` (a ``--crash-after-checkpoint``): it must die by SIGKILL;
    returns the step it resumed after and the last one it reported committed."""
    out = subprocess.run(
        command(store, steps, *flags), env=env(), capture_output=True, text=True, timeout=300, check=False
    )
    assert out.returncode == -signal.SIGKILL, out.stderr
    return parse(out.stdout.splitlines())


def test_sigkill_between_checkpoint_file_and_commit(tmp_path: Path) -> None:
    steps = 40
    ref = tmp_path / "reference"
    run_to_end(ref, steps)
    store = tmp_path / "store"
    assert killed_after_checkpoint(store, steps, "--crash-after-checkpoint", "17") == (0, 16)
    # Step 17's checkpoint file exists but the database still refers to step 16's.
    assert (store / "checkpoints" / "step-000000017.ckpt").exists()
    assert load(store).step_index == 16
    resumed, _ = parse(run_to_end(store, steps))
    assert resumed == 16
    state = load(store)
    assert_history_complete(state, steps)
    assert_same_final_state(state, load(ref), steps)


def test_sigkill_between_checkpoint_file_and_commit_with_a_journal(tmp_path: Path) -> None:
    """Checkpoints every 5 steps: killed after step 15's checkpoint file, before its commit, the
    store resumes from step 10's checkpoint and the journal of steps 11-14."""
    steps = 50
    ref = tmp_path / "reference"
    run_to_end(ref, steps)
    store = tmp_path / "store"
    flags = ("--checkpoint-every", "5", "--crash-after-checkpoint", "15")
    assert killed_after_checkpoint(store, steps, *flags) == (0, 14)
    stored = load(store)
    assert (stored.step_index, stored.checkpoint.step_index) == (14, 10)
    assert [e.step_index for e in stored.journal] == [11, 12, 13, 14]
    assert (store / "checkpoints" / "step-000000015.ckpt").exists()
    lines = run_to_end(store, steps)
    assert lines[0] == "replaying 4"
    assert parse(lines)[0] == 14
    state = load(store)
    assert state.checkpoint.step_index == 50 and state.journal == []
    assert_history_complete(state, steps)
    assert_same_final_state(state, load(ref), steps)
