"""taos.validator.store.ValidatorStore: round trip, WAL, commit protocol, refusal of bad stores."""

import io
import sqlite3
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from taos.simulator import (
    InstructionKind,
    PopulationConfig,
    Side,
    Simulation,
    SimulationConfig,
    Stp,
    TimeInForce,
    instruction_array,
)
from taos.validator import store as store_module
from taos.validator.history import ScoreParams, ScoreState
from taos.validator.persisted import state_of, within
from taos.validator.store import (
    DB_NAME,
    SCHEMA_VERSION,
    CheckpointRef,
    JournalEntry,
    SimulationIdentity,
    SimulationRecord,
    StoredState,
    StoredVolumeLog,
    StoreError,
    ValidatorStore,
    _array_from_chunks,
    _compress,
    _decompress,
    chunk_width,
    config_hash,
)

S = 1_000_000_000
IDENTITY = SimulationIdentity("c0ffee", 7)
HISTORY = "scheme/history"  # where the validator keeps its ScoreState's arrays


def stored_arrays(state: ScoreState, **extra: np.ndarray) -> dict[str, np.ndarray]:
    """The arrays a validator would commit for ``state``, and ``extra`` ones."""
    return {**{f"{HISTORY}/{k}": a for k, a in state_of(state).items()}, **extra}


def score_state_of(loaded: StoredState) -> ScoreState:
    miners, books = loaded.arrays[f"{HISTORY}/values"].shape[:2]
    return ScoreState.restored(within(loaded.arrays, HISTORY), miners, books)


def extra_of(loaded: StoredState) -> dict[str, np.ndarray]:
    return {k: a for k, a in loaded.arrays.items() if not k.startswith(HISTORY + "/")}


def old_names(db: sqlite3.Connection) -> None:
    """Renames the arrays as schemas 1 to 3 named them (score/..., score/returns_..., extra/...)."""
    for table in ("arrays", "array_chunks"):
        for (name,) in db.execute(f"SELECT DISTINCT name FROM {table}").fetchall():
            if name.startswith(f"{HISTORY}/returns/"):
                old = "score/returns_" + name.removeprefix(f"{HISTORY}/returns/")
            elif name.startswith(f"{HISTORY}/"):
                old = "score/" + name.removeprefix(f"{HISTORY}/")
            else:
                old = "extra/" + name
            db.execute(f"UPDATE {table} SET name = ? WHERE name = ?", (old, name))


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

    def advance(self, records: np.ndarray | None = None) -> bytes:
        """One step (with ``records``, engine instructions); returns the step's events as bytes."""
        self.step += 1
        r = self.sim.step(self.step * 5 * S, records)
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
            arrays=stored_arrays(self.state, **extra),
            hotkeys={0: "hk-a", 1: "hk-b", 2: "hk-c"},
        )


def checkpoint_files(d: Path) -> list[str]:
    return sorted(p.name for p in (d / "checkpoints").iterdir())


def same_state(a: ScoreState, b: ScoreState) -> bool:
    fa, fb = state_of(a), state_of(b)
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
        assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
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
    assert extra_of(loaded)["observed"].tolist() == [0, 1, 2, 3, 4]
    assert extra_of(loaded)["names"].tolist() == ["a", "bc"]
    assert same_state(score_state_of(loaded), run.state)
    assert loaded.checkpoint_bytes == run.sim.save_state()
    assert loaded.checkpoint.path.name == "step-000000003.ckpt"
    # The restored simulation and state continue exactly like the originals.
    resumed = Run()
    resumed.sim, resumed.state, resumed.step = (
        loaded.restore_simulation(run.config),
        score_state_of(loaded),
        3,
    )
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
    set_version(tmp_path, SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1}, written by a newer version"):
        ValidatorStore(tmp_path)
    set_version(tmp_path, 0)
    with pytest.raises(StoreError, match="unknown schema version 0"):
        ValidatorStore(tmp_path)
    set_version(tmp_path, SCHEMA_VERSION)
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
        kw = {
            "identity": IDENTITY,
            "time_ns": 10 * S,
            "arrays": stored_arrays(run.state),
            "hotkeys": {0: "x"},
        }
        with pytest.raises(StoreError, match="step 2 is not after the last committed step 2"):
            store.write_checkpoint(run.sim, 2)
        run.advance()
        ref = store.write_checkpoint(run.sim, 3)
        with pytest.raises(StoreError, match="checkpoint is for step 3, not step 4"):
            store.commit(ref, step_index=4, **kw)  # type: ignore[arg-type]
        with pytest.raises(StoreError, match="dtype object"):
            store.commit(ref, step_index=3, **{**kw, "arrays": {"bad": np.array([{}], dtype=object)}})  # type: ignore[arg-type]
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
            "UPDATE array_chunks SET data = x'934e554d50592067617262616765' WHERE name = 'scheme/history/score'",
            r"'scheme/history/score' is unreadable \(chunk -1\)",
        ),
        (  # a zstd frame header, then garbage
            "UPDATE array_chunks SET data = x'28b52ffd2010ffffffff' WHERE name = 'scheme/history/score'",
            r"'scheme/history/score' is unreadable \(chunk -1\): not a zstd frame or zlib stream",
        ),
        (
            "DELETE FROM array_chunks WHERE name = 'scheme/history/score'",
            "'scheme/history/score' must have exactly one chunk",
        ),
        (
            "DELETE FROM array_chunks WHERE name = 'scheme/history/values' AND idx = 0",
            "'scheme/history/values' has chunks",
        ),
        (
            "UPDATE arrays SET chunk = 1 WHERE name = 'scheme/history/values'",
            "'scheme/history/values' has chunks",
        ),
        ("UPDATE arrays SET chunk = 0 WHERE name = 'scheme/history/values'", "malformed chunk width 0"),
        (
            "UPDATE arrays SET shape = '[9]' WHERE name = 'scheme/history/score'",
            "'scheme/history/score' does not match its recorded",
        ),
        ("UPDATE arrays SET dtype = 'not a dtype' WHERE name = 'scheme/history/score'", "malformed dtype"),
        (
            "DELETE FROM arrays WHERE name = 'scheme/history/activity'",
            r"chunks without an array: \['scheme/history/activity'\]",
        ),
    ],
)
def test_a_malformed_stored_array_is_refused(tmp_path: Path, damage: str, message: str) -> None:
    run = Run()
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store)
        store.db.execute(damage)
        with pytest.raises(StoreError, match=message):
            store.load()


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (_compress(bytes(800)), r"unreadable \(chunk -1\): a zstd frame of 800 bytes, not 0 to 24"),
        (zlib.compress(bytes(800)), r"unreadable \(chunk -1\): a zlib stream of more than 24 bytes"),
        (zlib.compress(bytes(24))[:-3], r"unreadable \(chunk -1\): a zlib stream cut short"),
    ],
)
def test_a_chunk_that_would_decompress_beyond_its_array_is_refused(
    tmp_path: Path, blob: bytes, message: str
) -> None:
    """A damaged chunk is never decompressed beyond the size its array records (here 3 float64)."""
    run = Run()
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store, small=np.zeros(3))
        store.db.execute("UPDATE array_chunks SET data = ? WHERE name = 'small'", (blob,))
        with pytest.raises(StoreError, match=f"'small' is {message}"):
            store.load()


def test_the_store_keeps_arrays_under_any_name(tmp_path: Path) -> None:
    """The store does not interpret names: what the parts of a validator keep is theirs to check
    (``taos.validator.persisted.load_state``)."""
    run = Run()
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store, **{"other/x": np.arange(3)})
        loaded = store.load()
    assert loaded is not None and loaded.arrays["other/x"].tolist() == [0, 1, 2]
    with (
        ValidatorStore(tmp_path) as store,
        pytest.raises(StoreError, match="names must be non-empty strings"),
    ):
        store.save(
            run.sim, identity=IDENTITY, step_index=2, time_ns=10 * S, arrays={"": np.zeros(1)}, hotkeys={}
        )


def stored_chunks(db: sqlite3.Connection, name: str) -> dict[int, bytes]:
    """The stored chunks of array ``name``, by index."""
    rows = db.execute("SELECT idx, data FROM array_chunks WHERE name = ?", (name,))
    return {int(i): bytes(d) for i, d in rows}


def test_commits_write_only_the_chunks_that_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With one index per chunk (the arrays here are tiny: they would fit in one chunk), a commit
    rewrites the new ring column only."""
    monkeypatch.setattr(store_module, "CHUNK_BYTES", 1)
    run = Run()  # window 8
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store)
        db = store.db
        before = stored_chunks(db, f"{HISTORY}/values")
        assert sorted(before) == list(range(8))
        run.advance()
        changes_before = db.total_changes
        run.save(store)
        after = stored_chunks(db, f"{HISTORY}/values")
        assert [i for i in range(8) if before[i] != after[i]] == [1]  # the new ring column only
        assert db.total_changes - changes_before < 40  # a few chunks, not every column of every array
        run.state.reset_uid(1)  # touches every column of uid 1's history
        run.advance()
        run.save(store)
        now = stored_chunks(db, f"{HISTORY}/values")  # uid 1 had values in columns 0 and 1; column 2 is new
        assert [i for i in range(8) if now[i] != after[i]] == [0, 1, 2]
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
        assert loaded is not None and same_state(score_state_of(loaded), run.state)
        run.advance()
        run.save(store)
        assert same_state(score_state_of(store.load()), run.state)  # type: ignore[union-attr]


def test_a_commit_reads_only_the_columns_said_to_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``written`` names the only indices of an array's last axis that changed since the last
    commit: the store writes their chunks without comparing the whole array (it relies on the
    caller: ``ScoreState.written`` lists every column it writes, tests/test_validator_history.py).
    A hint it cannot use (beyond the axis, negative, not integers, not 1-d) makes it compare the
    whole array."""
    monkeypatch.setattr(store_module, "CHUNK_BYTES", 1)
    run = Run()
    ring = np.zeros((2, 3, 8))

    def commit(store: ValidatorStore, written: dict[str, np.ndarray] | None = None) -> np.ndarray:
        run.advance()
        store.commit(
            store.write_checkpoint(run.sim, run.step),
            identity=IDENTITY,
            step_index=run.step,
            time_ns=run.sim.time_ns,
            arrays=stored_arrays(run.state, ring=ring),
            hotkeys={0: "hk-a"},
            written=written,
        )
        loaded = store.load()  # read from the database
        assert loaded is not None
        return loaded.arrays["ring"]

    with ValidatorStore(tmp_path) as store:
        commit(store)
        ring[..., 5], ring[..., 2] = 1.0, 2.0
        stored = commit(store, {"ring": np.array([5])})
        assert (stored[..., 5] == 1.0).all() and (stored[..., 2] == 0.0).all()  # 2 was not said to change
        for i, bad in enumerate((np.array([8]), np.array([-1]), np.array([0.5]), np.array([[2]]))):
            ring[..., 2] = 10.0 + i
            assert np.array_equal(commit(store, {"ring": bad}), ring), bad  # compared: every change
        ring[..., 7] = 3.0
        assert np.array_equal(commit(store, {"other": np.array([0])}), ring)  # not listed: compared


class _FailingCommit:
    """A connection whose next COMMIT fails (a full disk, say), then works again."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.fail = True

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "COMMIT" and self.fail:
            self.fail = False
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.db, name)


def test_a_commit_whose_transaction_fails_writes_everything_at_the_next(tmp_path: Path) -> None:
    """The store keeps copies of what it committed to write only what changed; a transaction that
    fails at its COMMIT (rolled back) must not leave them claiming the new arrays and hotkeys, or
    the next commit would skip them and the stored state would stay the old one."""
    run = Run()
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store)
        run.advance()
        real = store.db
        store._db = _FailingCommit(real)  # type: ignore[assignment]
        hotkeys = {0: "hk-a", 1: "hk-new", 2: "hk-c"}
        kw = {"identity": IDENTITY, "time_ns": run.sim.time_ns, "arrays": stored_arrays(run.state)}
        ref = store.write_checkpoint(run.sim, 2)
        with pytest.raises(sqlite3.OperationalError, match="disk is full"):
            store.commit(ref, step_index=2, hotkeys=hotkeys, **kw)  # type: ignore[arg-type]
        store._db = real
        assert store.last_committed_step() == 1
        store.commit(ref, step_index=2, hotkeys=hotkeys, **kw)  # type: ignore[arg-type]
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
        assert loaded is not None and loaded.step_index == 2 and loaded.hotkeys == hotkeys
        assert same_state(score_state_of(loaded), run.state)


def test_a_chunk_holds_several_indices_and_only_the_changed_chunks_are_written(tmp_path: Path) -> None:
    """An array whose index along the last axis is small is stored a few indices per chunk
    (``chunk_width``); changing one index rewrites its chunk only, and the array reads back."""
    run = Run()
    big = np.zeros((512, 40))  # 4 KiB per index: 4 indices per 16 KiB chunk, 10 chunks
    assert chunk_width(big) == 4
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store, big=big)
        before = stored_chunks(store.db, "big")
        assert sorted(before) == list(range(10))
        big[7, 13] = 1.0  # index 13: chunk 3
        big[0, 39] = 2.0  # index 39: chunk 9
        run.advance()
        run.save(store, big=big)
        after = stored_chunks(store.db, "big")
        assert [i for i in range(10) if before[i] != after[i]] == [3, 9]
        loaded = store.load()
    assert loaded is not None and extra_of(loaded)["big"].tobytes() == big.tobytes()


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
    assert loaded is not None and set(extra_of(loaded)) == {"new"}
    assert same_state(score_state_of(loaded), second.state)
    assert score_state_of(loaded).params.window == 5


@dataclass(frozen=True)
class _Cfg:
    seed: int
    name: str


def test_config_hash_is_stable_and_sees_every_field() -> None:
    assert config_hash(_Cfg(1, "a")) == config_hash(_Cfg(1, "a"))
    assert len({config_hash(_Cfg(1, "a")), config_hash(_Cfg(2, "a")), config_hash(_Cfg(1, "b"))}) == 3
    with pytest.raises(TypeError, match="dataclass"):
        config_hash({"seed": 1})


def crossing_orders(sim: Simulation, step: int) -> np.ndarray:
    """Two marketable limit orders of miner 0 and 1 per book: the journal has something to replay."""
    out = instruction_array(2 * sim.num_books)
    for i, (book, uid) in enumerate((b, u) for b in range(sim.num_books) for u in (0, 1)):
        bid, ask = sim.best(book)
        buy = (step + uid) % 2 == 0
        out[i]["kind"] = InstructionKind.PLACE_LIMIT
        out[i]["book"], out[i]["agent"] = book, uid
        out[i]["side"] = Side.BUY if buy else Side.SELL
        out[i]["price_ticks"] = (ask if buy else bid) if bid > 0 and ask > 0 else 30_000
        out[i]["qty_lots"] = 1 + step % 3
        out[i]["tif"] = TimeInForce.GTC
        out[i]["stp"] = Stp.CANCEL_OLDEST
        out[i]["ts_ns"] = sim.time_ns + 10_000_000 * (1 + uid)  # 10 or 20 ms after the step start
    return out


def journaled(run: Run, store: ValidatorStore, *, checkpoint: bool) -> None:
    """One step of ``run`` committed with a checkpoint or as a journal entry."""
    records = crossing_orders(run.sim, run.step + 1)
    run.advance(records)
    ref = store.write_checkpoint(run.sim, run.step) if checkpoint else None
    store.commit(
        ref,
        identity=IDENTITY,
        step_index=run.step,
        time_ns=run.sim.time_ns,
        arrays=stored_arrays(run.state),
        hotkeys={0: "hk-a"},
        journal=[JournalEntry(run.step, run.step * 5 * S, records)],
    )


def test_journaled_commits_resume_from_the_checkpoint_and_a_replay(tmp_path: Path) -> None:
    run = Run()
    with ValidatorStore(tmp_path) as store:
        for step in range(1, 10):
            journaled(run, store, checkpoint=step in (1, 4))
        assert checkpoint_files(tmp_path) == ["step-000000001.ckpt", "step-000000004.ckpt"]
        rows = store.db.execute("SELECT step_index FROM journal ORDER BY step_index").fetchall()
        assert [r[0] for r in rows] == [5, 6, 7, 8, 9]  # emptied by step 4's checkpoint
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
    assert loaded is not None
    assert (loaded.step_index, loaded.time_ns, loaded.checkpoint.step_index) == (9, 45 * S, 4)
    assert [e.step_index for e in loaded.journal] == [5, 6, 7, 8, 9]
    assert same_state(score_state_of(loaded), run.state)
    resumed = Run()
    resumed.sim, resumed.state, resumed.step = (
        loaded.restore_simulation(run.config),
        score_state_of(loaded),
        9,
    )
    # the replayed simulation is the uninterrupted one: same accounts now, same events from here on
    for a, b in zip(run.sim.step(45 * S).accounts, resumed.sim.step(45 * S).accounts, strict=True):
        assert a.tobytes() == b.tobytes()
    traded = 0
    for _ in range(4):
        records = crossing_orders(run.sim, run.step + 1)
        assert run.advance(records) == resumed.advance(records.copy())
        traded += int(sum(a["traded_quote"].sum() for a in run.sim.step(run.step * 5 * S).accounts))
    assert traded > 0  # the miners' orders traded: the replay had real instructions to apply
    assert same_state(run.state, resumed.state)


def test_a_journal_that_does_not_continue_the_last_commit_is_refused(tmp_path: Path) -> None:
    run = Run()
    with ValidatorStore(tmp_path) as store:
        records = crossing_orders(run.sim, 1)
        run.advance(records)
        common = dict(identity=IDENTITY, time_ns=run.sim.time_ns, arrays=stored_arrays(run.state), hotkeys={})
        entry = JournalEntry(1, 5 * S, records)
        with pytest.raises(StoreError, match="the first commit of a store needs a checkpoint"):
            store.commit(None, step_index=1, journal=[entry], **common)
        assert store.last_committed_step() is None
        store.commit(store.write_checkpoint(run.sim, 1), step_index=1, **common)
        bad = {
            "steps 2..3 .*got 3..3": [JournalEntry(3, 15 * S, records)],
            "steps 2..3 .*got none": [],
            "steps 2..3 .*not in order": [JournalEntry(3, 15 * S, records), JournalEntry(2, 10 * S, records)],
            "records must be a 1-d array of engine instructions": [
                JournalEntry(2, 10 * S, np.zeros(3)),
                JournalEntry(3, 15 * S, records),
            ],
            "until_ns must be an integer >= 0": [
                JournalEntry(2, -1, records),
                JournalEntry(3, 15 * S, records),
            ],
        }
        for message, journal in bad.items():
            with pytest.raises(StoreError, match=message):
                store.commit(None, step_index=3, journal=journal, **common)
            assert store.last_committed_step() == 1
            assert store.db.execute("SELECT COUNT(*) FROM journal").fetchone()[0] == 0


def test_a_store_whose_journal_lost_a_step_is_refused(tmp_path: Path) -> None:
    run = Run()
    with ValidatorStore(tmp_path) as store:
        for step in range(1, 5):
            journaled(run, store, checkpoint=step == 1)
        store.db.execute("DELETE FROM journal WHERE step_index = 3")
        with pytest.raises(StoreError, match=r"must hold steps 2..4, it holds 2 steps not in order"):
            store.load()
        good = store.db.execute("SELECT records FROM journal WHERE step_index = 2").fetchone()[0]
        store.db.execute("UPDATE journal SET records = ? WHERE step_index = 2", (good[:-3],))  # cut short
        store.db.execute("DELETE FROM journal WHERE step_index = 4")
        store.db.execute("UPDATE meta SET step_index = 2")
        with pytest.raises(StoreError, match="the journal entry of step 2 is malformed"):
            store.load()


def test_a_schema_1_store_is_migrated_and_resumes(tmp_path: Path) -> None:
    run = Run()
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store, observed=np.arange(3))
    db = sqlite3.connect(tmp_path / DB_NAME)
    with db:  # back to schema 1: no journal, no checkpoint_step, chunks as plain .npy bytes
        one_chunk_per_index(db, as_npy=True)
        db.execute("DROP TABLE journal")
        db.execute("ALTER TABLE meta DROP COLUMN checkpoint_step")
        old_names(db)
        db.execute("UPDATE schema_version SET version = 1")
    db.close()
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
        assert loaded is not None
        assert (loaded.step_index, loaded.checkpoint.step_index, loaded.journal) == (1, 1, [])
        assert extra_of(loaded)["observed"].tolist() == [0, 1, 2]
        journaled(run, store, checkpoint=False)  # and it takes journaled commits
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
    assert loaded is not None and [e.step_index for e in loaded.journal] == [2]
    assert loaded.restore_simulation(run.config).time_ns == run.sim.time_ns


def one_chunk_per_index(db: sqlite3.Connection, *, as_npy: bool) -> None:
    """Rewrites the stored arrays as schemas 1 and 2 stored them: one chunk per index of the last
    axis, as ``.npy`` bytes (schema 1) or zlib-compressed raw bytes (schema 2), without the chunk
    width column."""

    def blob(part: np.ndarray) -> bytes:
        if not as_npy:
            return zlib.compress(np.ascontiguousarray(part).tobytes(), 1)
        buf = io.BytesIO()
        np.save(buf, part, allow_pickle=False)
        return buf.getvalue()

    chunks: dict[str, dict[int, bytes]] = {}
    for name, idx, data in db.execute("SELECT name, idx, data FROM array_chunks").fetchall():
        chunks.setdefault(name, {})[idx] = bytes(data)
    db.execute("DELETE FROM array_chunks")
    for name, dtype, shape, width in db.execute("SELECT name, dtype, shape, chunk FROM arrays").fetchall():
        a = _array_from_chunks(name, dtype, shape, chunks[name], width)
        rows = (
            [(name, -1, blob(a))] if a.ndim < 2 else [(name, i, blob(a[..., i])) for i in range(a.shape[-1])]
        )
        db.executemany("INSERT INTO array_chunks (name, idx, data) VALUES (?, ?, ?)", rows)
    db.execute("ALTER TABLE arrays DROP COLUMN chunk")


def test_a_schema_2_store_is_migrated_and_its_arrays_rewritten_in_wider_chunks(tmp_path: Path) -> None:
    """Schema 2 stored one chunk per index of the last axis; schema 3 reads them as chunks of width
    1 and the next commit rewrites each array in chunks of its width (``chunk_width``)."""
    run = Run()
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store, observed=np.arange(3))
    db = sqlite3.connect(tmp_path / DB_NAME)
    with db:
        before = db.execute("SELECT COUNT(*) FROM array_chunks").fetchone()[0]
        one_chunk_per_index(db, as_npy=False)
        db.execute("ALTER TABLE journal DROP COLUMN delays")
        old_names(db)
        db.execute("UPDATE schema_version SET version = 2")
        per_index = db.execute("SELECT COUNT(*) FROM array_chunks").fetchone()[0]
    db.close()
    assert per_index > before  # the arrays did take several indices per chunk
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
        assert loaded is not None and extra_of(loaded)["observed"].tolist() == [0, 1, 2]
        assert state_of(score_state_of(loaded)).keys() == state_of(run.state).keys()
        assert all(
            a.tobytes() == b.tobytes()
            for a, b in zip(
                state_of(score_state_of(loaded)).values(), state_of(run.state).values(), strict=True
            )
        )
        journaled(run, store, checkpoint=False)
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert db.execute("SELECT COUNT(*) FROM array_chunks").fetchone()[0] < per_index  # rewritten wide
    assert {w for (w,) in db.execute("SELECT chunk FROM arrays")} != {1}
    db.close()
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
    assert loaded is not None and loaded.restore_simulation(run.config).time_ns == run.sim.time_ns


def test_the_pending_instructions_are_the_next_steps_journal_entry(tmp_path: Path) -> None:
    """A commit stores the next step's accepted instructions as its journal entry; the next commit
    keeps it when the step ran with them and replaces it when the step ran with others."""
    run = Run()
    with ValidatorStore(tmp_path) as store:
        common = dict(identity=IDENTITY, arrays=stored_arrays(run.state), hotkeys={})
        first = crossing_orders(run.sim, 1)
        run.advance(first)
        planned = crossing_orders(run.sim, 2)
        ref = store.write_checkpoint(run.sim, 1)
        store.commit(
            ref, step_index=1, time_ns=run.sim.time_ns, pending=JournalEntry(2, 10 * S, planned), **common
        )
        loaded = store.load()
        assert loaded is not None and loaded.journal == [] and loaded.pending is not None
        assert loaded.pending.step_index == 2 and loaded.pending.records.tolist() == planned.tolist()
        with pytest.raises(StoreError, match="pending instructions are for step 5, not 3"):
            store.commit(None, step_index=2, time_ns=10 * S, pending=JournalEntry(5, 0, planned), **common)
        # step 2 ran with other instructions than the planned ones (say a reset came first)
        ran = planned[:1].copy()
        run.advance(ran)
        store.commit(
            None, step_index=2, time_ns=run.sim.time_ns, journal=[JournalEntry(2, 10 * S, ran)], **common
        )
        loaded = store.load()
    assert loaded is not None and loaded.pending is None
    assert [e.records.tolist() for e in loaded.journal] == [ran.tolist()]  # fields: padding is not kept
    assert loaded.restore_simulation(run.config).time_ns == run.sim.time_ns
    replayed = loaded.restore_simulation(run.config).step(15 * S)
    assert all(
        a.tobytes() == b.tobytes()
        for a, b in zip(replayed.accounts, run.sim.step(15 * S).accounts, strict=True)
    )


def test_a_schema_3_journal_of_delays_is_replayed_as_arrival_times(tmp_path: Path) -> None:
    """Schema 3 journaled each instruction with its delay from the step start in ``ts_ns``;
    schema 4 with the time it reaches its book. A schema 3 store's journal and pending step are
    read as delays: the replay is the uninterrupted run, and so is the step after it."""
    run = Run()
    with ValidatorStore(tmp_path) as store:
        for step in range(1, 4):
            journaled(run, store, checkpoint=step == 1)
        records = crossing_orders(run.sim, 4)
        run.advance(records)
        planned = crossing_orders(run.sim, 5)
        store.commit(
            None,
            identity=IDENTITY,
            step_index=4,
            time_ns=run.sim.time_ns,
            arrays=stored_arrays(run.state),
            hotkeys={0: "hk-a"},
            journal=[JournalEntry(4, 20 * S, records)],
            pending=JournalEntry(5, 25 * S, planned),
        )
    db = sqlite3.connect(tmp_path / DB_NAME)
    with db:  # back to schema 3: the records hold their delays, no delays column, zlib
        starts = {}
        for step, blob in db.execute("SELECT step_index, records FROM journal").fetchall():
            records = np.frombuffer(_decompress(blob), dtype=instruction_array(0).dtype).copy()
            starts[step] = (step - 1) * 5 * S
            assert (records["ts_ns"] >= starts[step]).all()
            records["ts_ns"] -= starts[step]
            db.execute(
                "UPDATE journal SET records = ? WHERE step_index = ?",
                (zlib.compress(records.tobytes(), 1), step),
            )
        db.execute("ALTER TABLE journal DROP COLUMN delays")
        old_names(db)
        db.execute("UPDATE schema_version SET version = 3")
    db.close()
    assert sorted(starts) == [2, 3, 4, 5]
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
    assert loaded is not None and [e.delays for e in loaded.journal] == [True, True, True]
    assert loaded.pending is not None and not loaded.pending.delays
    assert loaded.pending.records.tolist() == planned.tolist()  # arrival times again
    resumed = loaded.restore_simulation(run.config)
    for a, b in zip(resumed.step(20 * S).accounts, run.sim.step(20 * S).accounts, strict=True):
        assert a.tobytes() == b.tobytes()
    assert bytes(resumed.step(25 * S, loaded.pending.records).events.tobytes()) == run.advance(planned)
    assert sum(int(a["traded_quote"].sum()) for a in run.sim.step(25 * S).accounts) > 0
    db = sqlite3.connect(tmp_path / DB_NAME)
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    names = {n for (n,) in db.execute("SELECT name FROM arrays UNION SELECT name FROM array_chunks")}
    assert names == set(stored_arrays(run.state))  # renamed: score/x is now scheme/history/x
    assert db.execute("SELECT step_index, delays FROM journal ORDER BY step_index").fetchall() == [
        (2, 1),
        (3, 1),
        (4, 1),
        (5, 1),
    ]
    db.close()


def test_a_schema_3_delay_beyond_the_clock_never_arrives() -> None:
    records = instruction_array(3)
    records["ts_ns"] = [-5, 7, np.iinfo(np.int64).max - 3]
    entry = JournalEntry(2, 10 * S, records, delays=True)
    assert entry.arriving(5 * S).records["ts_ns"].tolist() == [5 * S, 5 * S + 7, np.iinfo(np.int64).max]
    assert records["ts_ns"].tolist()[0] == -5  # the stored entry is left as it was
    assert JournalEntry(2, 10 * S, records).arriving(5 * S).records is records


# --- the step volumes of the 24 h horizon (StoredVolumeLog) -------------------------------------


def test_the_24h_volumes_wait_in_the_store_and_leave_it_with_the_horizon(tmp_path: Path) -> None:
    """A score state whose step volumes are kept in the store (horizon 30 s, a step every 7 s):
    its 24 h volumes equal those of the same state keeping them in memory, through commits, a
    restart from the store and a simulation boundary; the table holds the rows of the horizon
    only (those that left are deleted in the commit that took them off the sums), and the state's
    own arrays hold none."""
    p = ScoreParams(
        starting_wealth=100.0, window=4, interval_ns=7 * S, bucket_ns=10 * S, volume_horizon_ns=30 * S
    )
    rng = np.random.default_rng(4)
    sim = Simulation(core_config())
    memory = ScoreState(p, 3, 2)
    kept = ScoreState(p, 3, 2)
    totals = np.zeros((3, 2), dtype=np.int64)
    store = ValidatorStore(tmp_path)
    kept.use_log(StoredVolumeLog(store))

    def rows_in_store() -> list[tuple[int, int]]:
        return [
            tuple(r)
            for r in store.db.execute("SELECT step_index, time_ns FROM volume_rows ORDER BY step_index")
        ]

    t = 0
    for step in range(1, 40):
        t += 7 * S
        totals += rng.integers(0, 30, size=(3, 2))
        for st in (memory, kept):
            st.observe(step, t, np.ones((3, 2)), totals)
        if step == 20:  # a restart: the state comes back from the store's arrays, the rows stay
            store.close()
            store = ValidatorStore(tmp_path)
            loaded = store.load()
            assert loaded is not None
            kept = score_state_of(loaded)
            kept.use_log(StoredVolumeLog(store))
            # the observation of step 20 was not committed: it is made again
            kept.observe(step, t, np.ones((3, 2)), totals)
        if step == 30:
            for st in (memory, kept):
                st.mark_boundary()
            totals[...] = 0
            t = 0
        assert kept.volume_24h().tolist() == memory.volume_24h().tolist()
        assert kept.volume_24h(t + 12 * S).tolist() == memory.volume_24h(t + 12 * S).tolist()
        sim.step(step * S)
        store.save(
            sim,
            identity=IDENTITY,
            step_index=step,
            time_ns=int(sim.time_ns),
            arrays=stored_arrays(kept),
            hotkeys={},
            volume_log=kept.log,
        )
        in_memory = [(r.step, r.time_ns) for r in memory.log.rows_through(-1, 2**62)]
        assert rows_in_store() == in_memory and all(t_ > t - 30 * S for _, t_ in in_memory)
        assert len(in_memory) == (0 if step == 30 else min(5, step if step < 30 else step - 30))
        assert all(
            len(a) == 0 for k, a in state_of(kept).items() if k.startswith("log_") and k != "log_taken"
        )
    assert kept.volume_24h().sum() > 0
    store.close()


def store_of_schema(tmp_path: Path, version: int, *dropped: str) -> Run:
    """A store with one committed step, then taken back to schema ``version``: the tables it did
    not have yet (``dropped``) are gone. Returns the run that wrote it."""
    run = Run()
    with ValidatorStore(tmp_path) as store:
        run.advance()
        run.save(store)
    db = sqlite3.connect(tmp_path / DB_NAME)
    with db:
        for table in dropped:
            db.execute(f"DROP TABLE {table}")
        db.execute("UPDATE schema_version SET version = ?", (version,))
    db.close()
    return run


def test_a_schema_4_store_gets_the_volume_rows_table_and_resumes(tmp_path: Path) -> None:
    store_of_schema(tmp_path, 4, "volume_rows", "simulations")
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
        assert loaded is not None and loaded.step_index == 1
        assert (
            store.db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)] == [(6,)]
        )
        assert store.db.execute("SELECT count(*) FROM volume_rows").fetchone() == (0,)


def test_a_schema_5_store_gets_the_simulations_table_and_resumes(tmp_path: Path) -> None:
    run = store_of_schema(tmp_path, 5, "simulations")
    with ValidatorStore(tmp_path) as store:
        loaded = store.load()
        assert loaded is not None and loaded.step_index == 1
        assert store.db.execute("SELECT version FROM schema_version").fetchall() == [(6,)]
        assert store.simulations() == []
        run.advance()
        run.save(store)  # the running simulation's row comes with the next commit
        (record,) = store.simulations()
        assert (record.simulation, record.seed, record.first_step, record.ended_unix) == (
            0,
            IDENTITY.seed,
            2,
            None,
        )


def test_the_history_of_simulations_is_bounded_and_written_with_the_commit(tmp_path: Path) -> None:
    run = Run()
    with ValidatorStore(tmp_path) as store:

        def commit(checkpoint: CheckpointRef | None, **history: Any) -> None:
            store.commit(
                checkpoint,
                identity=IDENTITY,
                step_index=run.step,
                time_ns=run.sim.time_ns,
                arrays=stored_arrays(run.state),
                hotkeys={},
                **history,
            )

        for k in range(5):
            run.advance()
            ended = None
            if k:
                ended = SimulationRecord(
                    k - 1, "hash", k - 1, 1.0, k, 2.0 + k, run.step - 1, {"miners": [{"uid": 1, "pnl": -0.5}]}
                )
            commit(store.write_checkpoint(run.sim, run.step), simulation=k, ended=ended, keep_simulations=2)
        records = store.simulations()
        assert [r.simulation for r in records] == [2, 3, 4]
        assert [(r.ended_unix, r.last_step) for r in records] == [(5.0, 3), (6.0, 4), (None, None)]
        assert records[0].summary == {"miners": [{"uid": 1, "pnl": -0.5}]}
        # a summary that cannot be stored leaves the store as it was
        run.advance()
        with pytest.raises(ValueError, match="Out of range float values"):
            commit(
                None,
                simulation=5,
                ended=SimulationRecord(4, "hash", 4, 1.0, 5, 7.0, 5, {"pnl": float("nan")}),
            )
        with pytest.raises(ValueError, match="has not ended"):
            commit(None, simulation=5, ended=SimulationRecord(4, "hash", 4, 1.0, 5))
        with pytest.raises(ValueError, match="keep_simulations must be an integer >= 1"):
            commit(None, keep_simulations=0)
        assert [r.simulation for r in store.simulations()] == [2, 3, 4]
        assert store.last_committed_step() == run.step - 1
