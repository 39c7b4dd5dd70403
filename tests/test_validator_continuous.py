"""A validator runs simulation after simulation (SPEC §8): each new simulation gets the next seed of
a deterministic sequence, the scores, histories, ledgers, eliminations and challenges carry across
the boundary (no return spans it), the store keeps a bounded history of past simulations, and a
kill -9 during the rollover resumes exactly."""

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from continuous_driver import STEPS_PER_SIMULATION, make

import taos
from taos.validator.loop import run
from taos.validator.positions import PositionTracker
from taos.validator.rules import RulesSettings
from taos.validator.schemes.ptn.ledger import LedgerTracker
from taos.validator.schemes.ptn.portfolio import PortfolioValues
from taos.validator.secret import simulation_seed
from taos.validator.store import StoredState, ValidatorStore
from taos.validator.validator import ValidatorSettings

DRIVER = Path(__file__).with_name("continuous_driver.py")
ENV = {"PYTHONPATH": str(Path(taos.__file__).resolve().parents[1])}
# sim 0: steps 1-20, the boundary 21; sim 1: 22-41, boundary 42; sim 2: 43-62, boundary 63; sim 3
BOUNDARIES = (21, 42, 63)


def run_until(v, step: int, on_step=None) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()

    def step_done(result: object) -> None:
        if on_step is not None:
            on_step(result)
        if v.step_index >= step:
            stop.set()

    v.sync_chain()
    asyncio.run(run(v, stop=stop, on_step=step_done))


def test_the_next_simulation_starts_with_the_next_seed_and_the_scores_carry_over(tmp_path: Path) -> None:
    v = make(tmp_path / "state", store=False)
    first_seed = v.config.simulation.seed
    seen: list[tuple[int, int, int]] = []  # (step, simulation, sim time)
    scores: dict[int, np.ndarray] = {}
    open_positions: dict[int, int] = {}
    ids = {uid: set() for uid in (1, 2)}
    for uid, agent in v.transport.agents.items():
        handle = agent.handle

        def recording(state, uid=uid, handle=handle):  # type: ignore[no-untyped-def]
            ids[uid].add(state.simulation.simulation_id)
            return handle(state)

        agent.handle = recording

    def on_step(result) -> None:  # type: ignore[no-untyped-def]
        seen.append((v.step_index, v.simulation_index, int(result.time_ns)))
        scores[v.step_index] = v.scores.scores().copy()
        open_positions[v.step_index] = int(v.positions.open_counts().sum())

    run_until(v, 50, on_step)
    assert v.simulation_index == 2 and v.step_index == 50
    # each simulation ran its 20 steps from sim time 0; the boundaries have steps of their own
    by_sim = {k: [s for s, kk, _ in seen if kk == k] for k in (0, 1, 2)}
    assert by_sim[0] == list(range(1, 21)) and by_sim[1] == list(range(22, 42))
    assert by_sim[2] == list(range(43, 51))
    assert [t for s, _, t in seen if s in (1, 22, 43)] == [5 * 10**9] * 3
    # the seeds follow the sequence; the miners see a new opaque id in each simulation
    assert v.config.simulation.seed == simulation_seed(first_seed, 2) != simulation_seed(first_seed, 1)
    assert len({first_seed, simulation_seed(first_seed, 1), simulation_seed(first_seed, 2)}) == 3
    assert len(ids[1]) == len(ids[2]) == 3
    # the EMA scores carry over: the first observation of a simulation moves them by at most
    # alpha (0.1) of the way to its step score, never back to 0
    for before, after in ((20, 22 + 2), (41, 43 + 2)):  # grace: 10 s = 2 steps without scores
        assert (scores[before][1:] > 0.01).all()
        assert (scores[after][1:] >= 0.9 * scores[before][1:] - 1e-12).all()
    # no return spans a boundary: the history holds a NaN column for it (its step is -1)
    # (observed from the first step after the 10 s grace period of each simulation)
    expected = [*range(3, 21), -1, *range(24, 42), -1, *range(45, 51)]
    steps = v.scores.window_steps()
    assert steps[-len(expected) :].tolist() == expected
    assert np.isnan(v.scores.window_values()[:, :, -len(expected) :][:, :, np.array(expected) == -1]).all()
    # positions end with their simulation
    assert max(open_positions[s] for s in by_sim[0]) > 0
    # summaries of the ended simulations
    assert [r.simulation for r in v.past_simulations] == [0, 1]
    r0 = v.past_simulations[0]
    assert (r0.first_step, r0.last_step, r0.seed) == (1, 20, first_seed)
    assert [m["uid"] for m in r0.summary["miners"]] == [1, 2]
    assert all(m["volume"] > 0 and np.isfinite(m["pnl"]) for m in r0.summary["miners"])
    assert r0.summary["miners"][0]["score"] == pytest.approx(scores[20][1])


def test_the_boundary_empties_the_volume_cap_and_closes_positions(tmp_path: Path) -> None:
    v = make(tmp_path / "state", store=False)
    run_until(v, STEPS_PER_SIMULATION)
    assert v.finished and v.scores.volume_24h().sum() > 0
    closed = v.positions.closed_count(1) + v.positions.closed_count(2)
    opened = int(v.positions.open_counts().sum())
    v.next_simulation()
    assert v.step_index == STEPS_PER_SIMULATION + 1 and v.simulation_index == 1
    # the volume cap counts the running simulation's volume; the Sharpe window (its values and
    # their volumes) spans the boundary
    window = v.scores.window_volume().copy()
    assert v.scores.volume_24h().sum() == 0 and window.sum() > 0
    assert v.positions.open_counts().sum() == 0
    assert v.positions.closed_count(1) + v.positions.closed_count(2) == closed + opened
    assert v.sim.time_ns == 0 and len(v.pending) == 0
    # the validator time goes on: the new simulation starts where the old one ended
    assert v.epoch_ns == 100 * 10**9 == v.clock_ns


def test_validators_with_the_same_config_run_the_same_sequence(tmp_path: Path) -> None:
    a = make(tmp_path / "a", store=False)
    b = make(tmp_path / "b", store=False)
    assert [a.config_of(k) for k in range(4)] == [b.config_of(k) for k in range(4)]
    # another first seed (another config or secret): another sequence
    assert simulation_seed(6, 1) != simulation_seed(a.base_config.simulation.seed, 1)
    with pytest.raises(ValueError, match="simulation must be an integer >= 0"):
        simulation_seed(5, -1)


def test_one_simulation_by_default_and_bad_counts_are_refused(tmp_path: Path) -> None:
    v = make(tmp_path / "state", store=False, simulations=1)
    run_until(v, 10_000)  # stops by itself at the end
    assert v.finished and v.step_index == STEPS_PER_SIMULATION and v.simulation_index == 0
    for bad in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="simulations must be an integer >= 1 or None"):
            ValidatorSettings(simulations=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="keep_simulations must be an integer >= 1"):
        ValidatorSettings(keep_simulations=0)


def test_the_store_keeps_a_bounded_history_of_simulations(tmp_path: Path) -> None:
    v = make(tmp_path / "state", keep_simulations=2)
    run_until(v, 70)
    assert v.simulation_index == 3
    records = v.store.simulations()
    # the running simulation and the 2 latest ended ones
    assert [r.simulation for r in records] == [1, 2, 3]
    assert [(r.first_step, r.last_step) for r in records] == [(21, 41), (42, 62), (63, None)]
    assert all(r.ended_unix is not None and r.summary is not None for r in records[:2])
    assert records[2].seed == v.config.simulation.seed
    v.store.close()
    # a restart goes on with the same simulation and seed, and knows the past ones
    again = make(tmp_path / "state", keep_simulations=2)
    assert (again.step_index, again.simulation_index) == (70, 3)
    assert again.config == v.config and again.epoch_ns == 3 * 100 * 10**9
    assert [r.simulation for r in again.past_simulations] == [1, 2]
    again.store.close()


def driver(state: Path, until: int, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DRIVER), str(state), "--until", str(until), *flags],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def load(state: Path) -> tuple[StoredState, list]:  # type: ignore[type-arg]
    with ValidatorStore(state) as store:
        saved = store.load()
        records = store.simulations()
    assert saved is not None
    return saved, records


@pytest.mark.parametrize("kill_at", ["checkpoint", "commit"])
def test_kill_9_during_the_rollover_resumes_exactly(tmp_path: Path, kill_at: str) -> None:
    reference = tmp_path / "reference"
    assert driver(reference, 50).returncode == 0
    state = tmp_path / "killed"
    killed = driver(state, 50, "--kill-at", kill_at)
    assert killed.returncode == -9, killed.stderr
    saved, records = load(state)
    if kill_at == "checkpoint":  # the commit never happened: the end of simulation 0
        assert (saved.step_index, saved.time_ns, saved.arrays["epoch"].tolist()) == (20, 100 * 10**9, [0, 0])
        assert [r.simulation for r in records] == [0] and records[0].ended_unix is None
    else:  # simulation 1 has started, from its checkpoint
        assert saved.step_index == BOUNDARIES[0] and saved.time_ns == 0
        assert saved.arrays["epoch"].tolist() == [1, 100 * 10**9]
        assert [r.simulation for r in records] == [0, 1] and records[0].last_step == 20
    resumed = driver(state, 50)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.split()[:2] == ["resumed", str(saved.step_index)]
    a, ra = load(reference)
    b, rb = load(state)
    assert (b.step_index, b.identity) == (a.step_index, a.identity)
    assert b.checkpoint_bytes == a.checkpoint_bytes
    assert a.arrays.keys() == b.arrays.keys()
    for name in a.arrays:
        assert np.array_equal(a.arrays[name], b.arrays[name], equal_nan=a.arrays[name].dtype.kind == "f"), (
            name
        )
    strip = [(r.simulation, r.seed, r.first_step, r.last_step, r.summary) for r in ra]
    assert [(r.simulation, r.seed, r.first_step, r.last_step, r.summary) for r in rb] == strip


def test_portfolio_values_are_chained_across_a_boundary() -> None:
    p = PortfolioValues(2, 2)
    assert p.update([[100.0, 100.0], [50.0, 60.0]]).tolist() == [200.0, 110.0]
    assert p.update([[110.0, 100.0], [50.0, 50.0]]).tolist() == [210.0, 100.0]
    p.boundary()
    # the new simulation starts every account anew (200 and 110 again): the chain goes on from
    # 210 and 100, and one book never valued yet keeps miner 1's value unknown until it is
    first = p.update([[100.0, 100.0], [55.0, np.nan]])
    assert first[0] == pytest.approx(210.0) and np.isnan(first[1])
    second = p.update([[120.0, 100.0], [55.0, 55.0]])
    assert second[0] == pytest.approx(210.0 * 220.0 / 200.0) and second[1] == pytest.approx(100.0)
    third = p.update([[120.0, 100.0], [66.0, 55.0]])
    assert third[1] == pytest.approx(100.0 * 121.0 / 110.0)
    # the ledger books no change at the boundary
    ledger = LedgerTracker(2, period_ns=10**12)
    values = PortfolioValues(2, 1)
    for t, v in enumerate([[100.0], [105.0]]):
        ledger.observe(t, values.update([v, v]), np.zeros(2), np.ones(2, bool))
    values.boundary()
    ledger.observe(2, values.update([[100.0], [100.0]]), np.zeros(2), np.ones(2, bool))
    booked = ledger.ledger(0)
    assert booked.gains.sum() == pytest.approx(np.log(105.0 / 100.0)) and booked.losses.sum() == 0


def test_positions_close_at_the_last_values_when_a_simulation_ends() -> None:
    t = PositionTracker(2, 2, 1.0)
    neutral = 10.0
    t.observe(5, np.array([[12.0, 10.0], [10.0, 7.0]]), neutral, np.full((2, 2), 100.0))
    t.observe(10, np.array([[12.0, 10.0], [10.0, 7.0]]), neutral, np.array([[110.0, 100.0], [100.0, np.nan]]))
    assert t.open_counts().tolist() == [1, 1]
    assert t.close_all(np.array([[110.0, 100.0], [100.0, np.nan]])) == 2
    assert t.open_counts().tolist() == [0, 0]
    (long,) = t.positions(0)
    (short,) = t.positions(1)
    assert (long.close_ns, long.return_) == (10, pytest.approx(0.1))
    assert (short.close_ns, short.return_) == (10, 0.0)  # no value at the end: no return
    assert t.hours_in_positions(0, 10**15) == pytest.approx(5 / 3.6e12)
    assert t.close_all(np.full((2, 2), 1.0)) == 0


def test_the_state_folder_stays_within_its_bounds_over_simulations(tmp_path: Path) -> None:
    """The retention rules that bound the state folder, checked after every commit of 4
    simulations: at most 2 checkpoint files, a journal of at most checkpoint_steps entries,
    volume rows of the running simulation only, keep_simulations + 1 rows of history, the WAL cut
    back to its limit; in memory, the past summaries and the per-hotkey rate counts are bounded."""
    from taos.validator.store import WAL_LIMIT_BYTES

    state = tmp_path / "state"
    v = make(state, keep_simulations=2, checkpoint_steps=7, rules=RulesSettings(rate_limit=1_000))
    seen = {"journal": 0, "rows": 0, "history": 0, "wal": 0}

    def check(result: object) -> None:
        db = v.store.db
        assert len(list((state / "checkpoints").iterdir())) <= 2
        journal = db.execute("SELECT count(*) FROM journal").fetchone()[0]
        assert journal <= 7  # the 6 steps after the last checkpoint and the next step's instructions
        rows = db.execute("SELECT count(*), min(step_index) FROM volume_rows").fetchone()
        assert rows[0] <= STEPS_PER_SIMULATION and (rows[1] is None or rows[1] > v._first_step)
        history = db.execute("SELECT count(*) FROM simulations").fetchone()[0]
        assert history <= 2 + 1 and len(v.past_simulations) <= 2
        wal = state / "validator.sqlite3-wal"
        size = wal.stat().st_size if wal.exists() else 0
        assert (
            size <= WAL_LIMIT_BYTES + 8 * 2**20
        )  # the limit, plus at most what is written between checkpoints
        for key, value in (("journal", journal), ("rows", rows[0]), ("history", history), ("wal", size)):
            seen[key] = max(seen[key], value)

    run_until(v, 80, check)  # simulation 3 (steps 64-83)
    assert v.simulation_index == 3
    assert seen["journal"] == 7 and seen["rows"] > 0 and seen["history"] == 3  # the bounds are reached
    # a new hotkey on a uid: what was kept for the old one goes
    assert "m1" in v.rate._seen
    chain_file = state.parent / f"{state.name}-chain.json"
    data = json.loads(chain_file.read_text())
    data["neurons"][1]["hotkey"] = "m1-new"
    chain_file.write_text(json.dumps(data))
    v.sync_chain()
    assert "m1" not in v.rate._seen
    v.store.close()
