"""taos.validator.store.ValidatorStore: round trip, WAL, commit protocol, refusal of bad stores."""

import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from taos.simulator import PopulationConfig, Simulation, SimulationConfig
from taos.validator.history import ScoreParams, ScoreState
from taos.validator.store import (
    DB_NAME,
    SimulationIdentity,
    StoreError,
    ValidatorStore,
    config_hash,
)

S = 1_000_000_000
IDENTITY = SimulationIdentity("c0ffee", 7)


def core_config(seed: int = 7) -> SimulationConfig:
    c = SimulationConfig()
    c.books = 2
    c.seed = seed
    c.threads = 1
    c.miner_slots = 3
    c.miner_base_lots = 10_000
    c.miner_quote = 300_000_000
    c.populations = [
        PopulationConfig("initialization", 10, 20_000, 600_000_000, [("orders", 4), ("tau_s", 300)]),
        PopulationConfig(
            "random_trader", 20, 20_000, 600_000_000, [("mean_wakeup_s", 2.0)], 1_000_000, 20_000_000
        ),
    ]
    return c


class Run:
    """A simulation and its scoring state, stepped together."""

    def __init__(self) -> None:
        self.config = core_config()
        self.sim = Simulation(self.config)
        self.state = ScoreState(ScoreParams.from_core(self.config, window=8), 3, 2)
        self.step = 0

    def advance(self) -> bytes:
        """One step; returns the step's events as bytes."""
        self.step += 1
        r = self.sim.step(self.step * 5 * S)
        values = np.stack([a["quote_free"] + 30_000 * a["base_free"] for a in r.accounts], axis=1)
        totals = np.stack([a["traded_quote"] for a in r.accounts], axis=1)
        self.state.observe(self.step, r.time_ns, values.astype(np.float64), totals)
        return bytes(r.events.tobytes())

    def save(self, store: ValidatorStore, **extra: np.ndarray) -> None:
        store.save(
            self.sim,
            identity=IDENTITY,
            step_index=self.step,
            time_ns=self.sim.time_ns,
            score_state=self.state,
            hotkeys={0: "hk-a", 1: "hk-b", 2: "hk-c"},
            extra=extra,
        )


def checkpoint_files(d: Path) -> list[str]:
    return sorted(p.name for p in (d / "checkpoints").iterdir())


def same_state(a: ScoreState, b: ScoreState) -> bool:
    fa, fb = a.to_arrays(), b.to_arrays()
    return fa.keys() == fb.keys() and all(fa[k].tobytes() == fb[k].tobytes() for k in fa)


def test_an_empty_store_loads_none_and_uses_wal_with_full_sync(tmp_path: Path) -> None:
    with ValidatorStore(tmp_path) as store:
        assert store.load() is None
        assert store.journal_mode == "wal"
        assert store.synchronous == 2  # FULL
        assert store.last_committed_step() is None
    db = sqlite3.connect(tmp_path / DB_NAME)
    try:  # WAL is a property of the database file, seen by any connection
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    finally:
        db.close()


def test_round_trip_resumes_exactly(tmp_path: Path) -> None:
    run = Run()
    observed = np.arange(5, dtype=np.int64)
    with ValidatorStore(tmp_path) as store:
        for _ in range(3):
            run.advance()
            run.save(store, observed=observed, names=np.array(["a", "bc"]))
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
    assert loaded is not None
    assert (loaded.step_index, loaded.time_ns) == (3, 15 * S)
    assert loaded.identity == IDENTITY
    assert loaded.hotkeys == {0: "hk-a", 1: "hk-b", 2: "hk-c"}
    assert loaded.extra["observed"].tolist() == [0, 1, 2, 3, 4]
    assert loaded.extra["names"].tolist() == ["a", "bc"]
    assert same_state(loaded.score_state, run.state)
    assert loaded.checkpoint_bytes == run.sim.save_state()
    assert loaded.checkpoint.path.name == "step-000000003.ckpt"
    # The restored simulation and state continue exactly like the originals.
    resumed = Run()
    resumed.sim, resumed.state, resumed.step = loaded.restore_simulation(run.config), loaded.score_state, 3
    for _ in range(4):
        assert run.advance() == resumed.advance()
    assert same_state(run.state, resumed.state)


def test_only_the_last_two_checkpoints_are_kept(tmp_path: Path) -> None:
    run = Run()
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store)
        assert checkpoint_files(tmp_path) == ["step-000000001.ckpt"]
        (tmp_path / "checkpoints" / ".step-000000009.ckpt.123.tmp").write_bytes(b"partial")
        for _ in range(3):
            run.advance()
            run.save(store)
        assert checkpoint_files(tmp_path) == ["step-000000003.ckpt", "step-000000004.ckpt"]


def test_a_crash_between_checkpoint_and_commit_keeps_the_previous_state(tmp_path: Path) -> None:
    run = Run()
    with ValidatorStore(tmp_path) as store:
        for _ in range(2):
            run.advance()
            run.save(store)
        committed = run.sim.save_state()
        run.advance()
        store.write_checkpoint(run.sim, 3)  # then "crash": no commit
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
        assert loaded is not None and loaded.step_index == 2
        assert loaded.checkpoint_bytes == committed
        assert "step-000000003.ckpt" in checkpoint_files(tmp_path)
        # Resuming redoes step 3; its checkpoint file is written again and committed.
        run.save(store)
        assert store.load().step_index == 3  # type: ignore[union-attr]
        assert checkpoint_files(tmp_path) == ["step-000000002.ckpt", "step-000000003.ckpt"]


def test_a_missing_checkpoint_is_refused(tmp_path: Path) -> None:
    run = Run()
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store)
    (tmp_path / "checkpoints" / "step-000000001.ckpt").unlink()
    with (
        ValidatorStore(tmp_path) as store,
        pytest.raises(StoreError, match=r"step-000000001\.ckpt of committed step 1 is missing"),
    ):
        store.load()


def test_a_corrupt_checkpoint_is_refused(tmp_path: Path) -> None:
    run = Run()
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store)
    path = tmp_path / "checkpoints" / "step-000000001.ckpt"
    data = bytearray(path.read_bytes())
    data[100] ^= 0x01
    path.write_bytes(bytes(data))
    with ValidatorStore(tmp_path) as store, pytest.raises(StoreError, match="is corrupt: sha256"):
        store.load()


def set_version(d: Path, version: int) -> None:
    db = sqlite3.connect(d / DB_NAME)
    with db:
        db.execute("UPDATE schema_version SET version = ?", (version,))
    db.close()


def test_other_schema_versions_are_refused(tmp_path: Path) -> None:
    ValidatorStore(tmp_path).close()
    set_version(tmp_path, 2)
    with pytest.raises(StoreError, match="schema version 2, written by a newer version"):
        ValidatorStore(tmp_path)
    set_version(tmp_path, 0)
    with pytest.raises(StoreError, match="unknown schema version 0"):
        ValidatorStore(tmp_path)
    set_version(tmp_path, 1)
    ValidatorStore(tmp_path).close()  # the lock was released after each refusal


def test_foreign_databases_are_refused(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    db = sqlite3.connect(other / DB_NAME)
    with db:
        db.execute("CREATE TABLE t (x)")
    db.close()
    with pytest.raises(StoreError, match="not a validator store"):
        ValidatorStore(other)
    garbage = tmp_path / "garbage"
    garbage.mkdir()
    (garbage / DB_NAME).write_bytes(b"this is not a database at all, not even close" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        ValidatorStore(garbage)


def test_a_store_is_used_by_one_process_at_a_time(tmp_path: Path) -> None:
    store = ValidatorStore(tmp_path)
    with pytest.raises(StoreError, match="in use by another process"):
        ValidatorStore(tmp_path)
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.load()
    ValidatorStore(tmp_path).close()


def test_bad_commits_are_refused_and_write_nothing(tmp_path: Path) -> None:
    run = Run()
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.advance()
        run.save(store)
        kw = {"identity": IDENTITY, "time_ns": 10 * S, "score_state": run.state, "hotkeys": {0: "x"}}
        with pytest.raises(StoreError, match="step 2 is not after the last committed step 2"):
            store.write_checkpoint(run.sim, 2)
        run.advance()
        ref = store.write_checkpoint(run.sim, 3)
        with pytest.raises(StoreError, match="checkpoint is for step 3, not step 4"):
            store.commit(ref, step_index=4, **kw)  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="dtype object"):
            store.commit(ref, step_index=3, extra={"bad": np.array([{}], dtype=object)}, **kw)  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="hotkey of uid 0 must be a string"):
            store.commit(ref, step_index=3, **{**kw, "hotkeys": {0: 5}})  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="time_ns"):
            store.commit(ref, step_index=3, **{**kw, "time_ns": -1})  # type: ignore[arg-type]
        loaded = store.load()
        assert loaded is not None and loaded.step_index == 2 and loaded.hotkeys[0] == "hk-a"
        store.commit(ref, step_index=3, **kw)  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="step 3 is not after the last committed step 3"):
            store.commit(ref, step_index=3, **kw)  # type: ignore[arg-type]
        assert store.load().hotkeys == {0: "x"}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            "UPDATE array_chunks SET data = x'934e554d50592067617262616765' WHERE name = 'score/score'",
            r"'score/score' is unreadable \(chunk -1\)",
        ),
        ("DELETE FROM array_chunks WHERE name = 'score/score'", "'score/score' must have exactly one chunk"),
        ("DELETE FROM array_chunks WHERE name = 'score/values' AND idx = 3", "'score/values' has chunks"),
        (
            "UPDATE arrays SET shape = '[9]' WHERE name = 'score/score'",
            "'score/score' does not match its recorded",
        ),
        ("UPDATE arrays SET dtype = 'not a dtype' WHERE name = 'score/score'", "malformed dtype"),
        (
            "DELETE FROM arrays WHERE name = 'score/activity'",
            r"chunks without an array: \['score/activity'\]",
        ),
        ("UPDATE arrays SET name = 'other/x' WHERE name = 'score/score'", "unknown stored array 'other/x'"),
    ],
)
def test_a_malformed_stored_array_is_refused(tmp_path: Path, damage: str, message: str) -> None:
    run = Run()
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store)
        if "SET name" in damage:
            store.db.execute("UPDATE array_chunks SET name = 'other/x' WHERE name = 'score/score'")
        store.db.execute(damage)
        with pytest.raises(StoreError, match=message):
            store.load()


def test_commits_write_only_the_chunks_that_changed(tmp_path: Path) -> None:
    run = Run()  # window 8
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store)
        db = store.db

        def values_chunks() -> dict[int, bytes]:
            rows = db.execute("SELECT idx, data FROM array_chunks WHERE name = 'score/values'")
            return {int(i): bytes(d) for i, d in rows}

        before = values_chunks()
        assert sorted(before) == list(range(8))
        run.advance()
        changes_before = db.total_changes
        run.save(store)
        after = values_chunks()
        assert [i for i in range(8) if before[i] != after[i]] == [1]  # the new ring column only
        assert db.total_changes - changes_before < 40  # a few chunks, not every column of every array
        run.state.reset_uid(1)  # touches every column of uid 1's history
        run.advance()
        run.save(store)
        now = values_chunks()  # uid 1 had values in columns 0 and 1; column 2 is new
        assert [i for i in range(8) if now[i] != after[i]] == [0, 1, 2]
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
        assert loaded is not None and same_state(loaded.score_state, run.state)
        run.advance()
        run.save(store)
        assert same_state(store.load().score_state, run.state)  # type: ignore[union-attr]


def test_a_commit_without_load_replaces_what_another_process_left(tmp_path: Path) -> None:
    first = Run()
    with ValidatorStore(tmp_path) as store:
        first.advance()
        first.save(store, old=np.zeros(3))
    second = Run()
    second.state = ScoreState(ScoreParams.from_core(second.config, window=5), 3, 2)
    second.step = 1
    with ValidatorStore(tmp_path) as store:
        second.advance()
        second.save(store, new=np.ones((2, 2)))
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
    assert loaded is not None and set(loaded.extra) == {"new"}
    assert same_state(loaded.score_state, second.state)
    assert loaded.score_state.params.window == 5


@dataclass(frozen=True)
class _Cfg:
    seed: int
    name: str


def test_config_hash_is_stable_and_sees_every_field() -> None:
    assert config_hash(_Cfg(1, "a")) == config_hash(_Cfg(1, "a"))
    assert len({config_hash(_Cfg(1, "a")), config_hash(_Cfg(2, "a")), config_hash(_Cfg(1, "b"))}) == 3
    with pytest.raises(TypeError, match="dataclass"):
        config_hash({"seed": 1})
