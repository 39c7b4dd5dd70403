"""The validator's persistent state: an embedded SQLite database plus simulation checkpoint files.

Layout of a store directory::

    validator.sqlite3        SQLite, WAL journal, synchronous=FULL
    checkpoints/step-000000123.ckpt
    lock                     held (flock) while a process has the store open

Database tables:

- ``schema_version`` — one row; a store written by another schema version is refused;
- ``meta`` — one row: simulation identity (config hash, seed), step index, simulation time, the
  checkpoint file (path relative to the store directory) and its sha256;
- ``arrays`` and ``array_chunks`` — named numpy arrays with their dtype and shape: the
  :class:`~taos.validator.history.ScoreState` (``score/…``) and any further state the validator keeps
  (``extra/…``). An array of two or more dimensions is stored as one chunk per index of its last
  axis (``a[..., i]``; for the value history one chunk per ring column), smaller ones as one chunk
  (index -1); each chunk is ``.npy`` bytes (``np.save``, never pickle). A commit writes only the
  chunks whose bytes changed since the previous commit, so a step costs one history column, not
  the whole window;
- ``hotkeys`` — the hotkey of every uid, to detect deregistrations after a restart.

Commit protocol (:meth:`ValidatorStore.save`):

1. the simulation checkpoint is written to a new file named by its step, atomically (temporary
   file, fsync, rename, fsync of the folder; :func:`taos.simulator.save_checkpoint`);
2. all state and the checkpoint's path and sha256 are written in one SQLite transaction;
3. checkpoint files other than the last two committed ones are deleted.

A crash before step 2 completes leaves the database as it was, pointing at the previous checkpoint
file, which still exists; a crash after it leaves at most some old files, removed by the next commit.
:meth:`ValidatorStore.load` returns the last committed state after checking that its checkpoint file
exists and has the recorded sha256.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import io
import json
import os
import re
import sqlite3
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from taos.validator.history import ScoreState

if TYPE_CHECKING:
    from taos.simulator import Simulation, SimulationConfig

SCHEMA_VERSION = 1
DB_NAME = "validator.sqlite3"
CHECKPOINT_DIR = "checkpoints"
LOCK_NAME = "lock"
KEEP_CHECKPOINTS = 2
CHECKPOINT_NAME = re.compile(r"^step-(\d+)\.ckpt$")
SCORE_PREFIX = "score/"
EXTRA_PREFIX = "extra/"

_SCHEMA = """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    step_index INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    checkpoint_path TEXT NOT NULL,
    checkpoint_sha256 TEXT NOT NULL,
    saved_at_unix REAL NOT NULL
);
CREATE TABLE arrays (name TEXT PRIMARY KEY, dtype TEXT NOT NULL, shape TEXT NOT NULL);
CREATE TABLE array_chunks (
    name TEXT NOT NULL REFERENCES arrays (name),
    idx INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (name, idx)
);
CREATE TABLE hotkeys (uid INTEGER PRIMARY KEY, hotkey TEXT NOT NULL);
"""


class StoreError(Exception):
    """The validator store cannot be used as it is; the message says what is wrong and where."""


@dataclass(frozen=True)
class SimulationIdentity:
    """Which simulation a state belongs to: a hash of its configuration and its seed."""

    config_hash: str
    seed: int


def config_hash(config: Any) -> str:
    """sha256 (hex) of a dataclass configuration (e.g. :class:`taos.config.Config`), from its fields
    as canonical JSON."""
    if not dataclasses.is_dataclass(config) or isinstance(config, type):
        raise TypeError("config_hash expects a dataclass instance")
    text = json.dumps(dataclasses.asdict(config), sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def simulation_identity(config: Any) -> SimulationIdentity:
    """The identity of a :class:`taos.config.Config`: its hash and ``simulation.seed``."""
    return SimulationIdentity(config_hash(config), int(config.simulation.seed))


@dataclass(frozen=True)
class CheckpointRef:
    """A checkpoint file written for a step (absolute path) and the sha256 of its bytes."""

    step_index: int
    path: Path
    sha256: str


@dataclass
class StoredState:
    """Everything :meth:`ValidatorStore.load` returns to resume exactly where the last commit was."""

    identity: SimulationIdentity
    step_index: int
    time_ns: int
    score_state: ScoreState
    hotkeys: dict[int, str]
    checkpoint: CheckpointRef
    checkpoint_bytes: bytes
    extra: dict[str, np.ndarray] = field(default_factory=dict)

    def restore_simulation(self, config: SimulationConfig) -> Simulation:
        """The simulation restored from the verified checkpoint bytes (``config`` must be the one
        the checkpoint was written with; the engine refuses another)."""
        from taos.simulator import Simulation

        return Simulation.restore(config, self.checkpoint_bytes)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def _chunked(a: np.ndarray) -> bool:
    return a.ndim >= 2


def _changed_chunks(new: np.ndarray, old: np.ndarray | None) -> list[int]:
    """Indices along the last axis whose bytes differ (NaN compares by its bits); all of them when
    there is nothing comparable."""
    n = new.shape[-1]
    if old is None or old.dtype != new.dtype or old.shape != new.shape:
        return list(range(n))
    if n == 0 or new.size == 0:
        return []
    item = new.dtype.itemsize
    xn = np.ascontiguousarray(new).reshape(-1, n)
    xo = np.ascontiguousarray(old).reshape(-1, n)
    if item in (1, 2, 4, 8):  # compare the bits as unsigned integers of the same size
        differs = (xn.view(f"u{item}") != xo.view(f"u{item}")).any(axis=0)
    else:
        bn, bo = xn.view(np.uint8).reshape(-1, n, item), xo.view(np.uint8).reshape(-1, n, item)
        differs = (bn != bo).any(axis=(0, 2))
    return [int(i) for i in np.flatnonzero(differs)]


def _check_storable(name: str, a: np.ndarray) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.hasobject or arr.dtype.names is not None:
        raise StoreError(
            f"array {name!r} has dtype {arr.dtype}; only plain numeric, bool or string arrays are stored"
        )
    return arr


def _array_from_chunks(name: str, dtype: str, shape_text: str, chunks: dict[int, bytes]) -> np.ndarray:
    try:
        shape = tuple(int(x) for x in json.loads(shape_text))
        dt = np.dtype(dtype)
    except (ValueError, TypeError) as e:
        raise StoreError(
            f"stored array {name!r} has a malformed dtype {dtype!r} or shape {shape_text!r}"
        ) from e

    def part(idx: int, want: tuple[int, ...]) -> np.ndarray:
        try:
            arr = np.load(io.BytesIO(chunks[idx]), allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise StoreError(f"stored array {name!r} is unreadable (chunk {idx}): {e}") from e
        if not isinstance(arr, np.ndarray) or arr.dtype != dt or arr.shape != want:
            raise StoreError(
                f"stored array {name!r} does not match its recorded dtype {dtype} and shape {shape_text}"
            )
        return arr

    if len(shape) < 2:
        if set(chunks) != {-1}:
            raise StoreError(f"stored array {name!r} must have exactly one chunk")
        return part(-1, shape)
    n = shape[-1]
    if set(chunks) != set(range(n)):
        raise StoreError(f"stored array {name!r} has chunks {sorted(chunks)[:8]}..., expected 0..{n - 1}")
    out = np.empty(shape, dtype=dt)
    for i in range(n):
        out[..., i] = part(i, shape[:-1])
    return out


class ValidatorStore:
    """The validator's state on disk; see the module docstring for layout and commit protocol.

    One process at a time: opening takes an exclusive lock on the directory (released when the
    process ends, also by a crash). Use as a context manager or call :meth:`close`.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.checkpoint_dir = self.directory / CHECKPOINT_DIR
        self.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.directory / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise StoreError(f"validator store {self.directory} is in use by another process") from None
        self._db: sqlite3.Connection | None = None
        # The arrays as last committed (or loaded), to write only what changed.
        self._committed: dict[str, np.ndarray] = {}
        try:
            self._db = sqlite3.connect(self.directory / DB_NAME, isolation_level=None)
            self._open_schema()
        except BaseException:
            self.close()
            raise

    # --- opening ---------------------------------------------------------------------------------

    def _open_schema(self) -> None:
        db = self.db
        try:
            mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            db.execute("PRAGMA synchronous=FULL")
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as e:
            raise StoreError(f"{self.directory / DB_NAME} is not a usable SQLite database: {e}") from e
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.directory / DB_NAME}: WAL journal mode is not available (got {mode})")
        if not tables:
            with self._transaction():
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            return
        if "schema_version" not in tables:
            raise StoreError(f"{self.directory / DB_NAME} is not a validator store (no schema_version table)")
        rows = db.execute("SELECT version FROM schema_version").fetchall()
        if len(rows) != 1 or not isinstance(rows[0][0], int):
            raise StoreError(f"{self.directory / DB_NAME}: schema_version must hold exactly one integer")
        version = rows[0][0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.directory / DB_NAME} has schema version {version}, written by a newer version "
                f"of taos; this version reads schema {SCHEMA_VERSION} only"
            )
        if version != SCHEMA_VERSION:
            raise StoreError(
                f"{self.directory / DB_NAME} has unknown schema version {version}; "
                f"this version reads schema {SCHEMA_VERSION} only"
            )

    @property
    def db(self) -> sqlite3.Connection:
        if self._db is None:
            raise StoreError("the validator store is closed")
        return self._db

    @property
    def journal_mode(self) -> str:
        return str(self.db.execute("PRAGMA journal_mode").fetchone()[0])

    @property
    def synchronous(self) -> int:
        """SQLite's synchronous level (2 = FULL)."""
        return int(self.db.execute("PRAGMA synchronous").fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the lock
            self._lock_fd = -1

    def __enter__(self) -> ValidatorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def last_committed_step(self) -> int | None:
        """Step index of the last commit, or None for an empty store."""
        row = self.db.execute("SELECT step_index FROM meta WHERE id = 1").fetchone()
        return None if row is None else int(row[0])

    # --- saving ----------------------------------------------------------------------------------

    def checkpoint_path(self, step_index: int) -> Path:
        return self.checkpoint_dir / f"step-{step_index:09d}.ckpt"

    def write_checkpoint(self, sim: Simulation, step_index: int) -> CheckpointRef:
        """Phase 1 of a commit: writes the simulation's checkpoint for ``step_index`` to its own
        file, atomically and durably. Nothing refers to it until :meth:`commit`."""
        from taos.simulator import save_checkpoint

        if isinstance(step_index, bool) or not isinstance(step_index, int) or step_index < 0:
            raise ValueError(f"step_index must be an integer >= 0, got {step_index!r}")
        last = self.last_committed_step()
        if last is not None and step_index <= last:
            raise StoreError(f"step {step_index} is not after the last committed step {last}")
        path = self.checkpoint_path(step_index)
        save_checkpoint(sim, path)
        return CheckpointRef(step_index, path, sha256_file(path))

    def commit(
        self,
        checkpoint: CheckpointRef,
        *,
        identity: SimulationIdentity,
        step_index: int,
        time_ns: int,
        score_state: ScoreState,
        hotkeys: Mapping[int, str],
        extra: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Phase 2 of a commit: writes all state and the checkpoint reference in one transaction,
        then deletes checkpoint files other than this one and the previously committed one.

        Raises:
            StoreError: the step is not after the last committed one, the checkpoint is for another
            step or is not in this store, or the state cannot be stored. Nothing is written then.
        """
        if isinstance(step_index, bool) or not isinstance(step_index, int) or step_index < 0:
            raise ValueError(f"step_index must be an integer >= 0, got {step_index!r}")
        if isinstance(time_ns, bool) or not isinstance(time_ns, int) or time_ns < 0:
            raise ValueError(f"time_ns must be an integer >= 0, got {time_ns!r}")
        if checkpoint.step_index != step_index:
            raise StoreError(f"checkpoint is for step {checkpoint.step_index}, not step {step_index}")
        path = Path(checkpoint.path)
        if path.parent.resolve() != self.checkpoint_dir.resolve():
            raise StoreError(f"checkpoint {path} is not in this store's {self.checkpoint_dir}")
        arrays: dict[str, np.ndarray] = {}
        for name, arr in score_state.to_arrays().items():
            arrays[SCORE_PREFIX + name] = _check_storable(name, arr)
        for name, arr in (extra or {}).items():
            if not isinstance(name, str) or not name:
                raise StoreError(f"extra array names must be non-empty strings, got {name!r}")
            arrays[EXTRA_PREFIX + name] = _check_storable(name, arr).copy()  # the caller may change it
        keys: list[tuple[int, str]] = []
        for uid, hotkey in hotkeys.items():
            if isinstance(uid, bool) or not isinstance(uid, (int, np.integer)) or uid < 0:
                raise StoreError(f"hotkey uids must be integers >= 0, got {uid!r}")
            if not isinstance(hotkey, str):
                raise StoreError(f"hotkey of uid {uid} must be a string, got {hotkey!r}")
            keys.append((int(uid), hotkey))
        db = self.db
        with self._transaction():
            previous = db.execute("SELECT step_index FROM meta WHERE id = 1").fetchone()
            if previous is not None and step_index <= previous[0]:
                raise StoreError(f"step {step_index} is not after the last committed step {previous[0]}")
            db.execute(
                "INSERT OR REPLACE INTO meta (id, config_hash, seed, step_index, time_ns, checkpoint_path,"
                " checkpoint_sha256, saved_at_unix) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
                (
                    identity.config_hash,
                    int(identity.seed),
                    step_index,
                    time_ns,
                    f"{CHECKPOINT_DIR}/{path.name}",
                    checkpoint.sha256,
                    time.time(),
                ),
            )
            self._write_arrays(arrays)
            db.execute("DELETE FROM hotkeys")
            db.executemany("INSERT INTO hotkeys (uid, hotkey) VALUES (?, ?)", keys)
        self._committed = arrays  # copies: to_arrays() copies, extra arrays were copied above
        self._remove_old_checkpoints(step_index, None if previous is None else previous[0])

    def _write_arrays(self, arrays: Mapping[str, np.ndarray]) -> None:
        """Inside a transaction: makes the stored arrays equal to ``arrays``, writing only the
        chunks that differ from the last commit (all of them for a new or reshaped array)."""
        db = self.db
        for gone in set(self._committed) - set(arrays):
            db.execute("DELETE FROM array_chunks WHERE name = ?", (gone,))
            db.execute("DELETE FROM arrays WHERE name = ?", (gone,))
        # Arrays this process has not committed (e.g. written before a restart without load()).
        known = set(self._committed)
        for (name,) in db.execute("SELECT name FROM arrays").fetchall():
            if name not in known:
                db.execute("DELETE FROM array_chunks WHERE name = ?", (name,))
                db.execute("DELETE FROM arrays WHERE name = ?", (name,))
        for name, a in arrays.items():
            old = self._committed.get(name)
            shape = json.dumps(list(a.shape))
            if old is None or old.dtype != a.dtype or old.shape != a.shape:
                db.execute("DELETE FROM array_chunks WHERE name = ?", (name,))
                db.execute(
                    "INSERT OR REPLACE INTO arrays (name, dtype, shape) VALUES (?, ?, ?)",
                    (name, a.dtype.str, shape),
                )
                old = None
            if _chunked(a):
                rows = [(name, i, _npy(a[..., i])) for i in _changed_chunks(a, old)]
            elif old is None or old.tobytes() != a.tobytes():
                rows = [(name, -1, _npy(a))]
            else:
                rows = []
            db.executemany("INSERT OR REPLACE INTO array_chunks (name, idx, data) VALUES (?, ?, ?)", rows)

    def save(
        self,
        sim: Simulation,
        *,
        identity: SimulationIdentity,
        step_index: int,
        time_ns: int,
        score_state: ScoreState,
        hotkeys: Mapping[int, str],
        extra: Mapping[str, np.ndarray] | None = None,
    ) -> CheckpointRef:
        """A whole commit: :meth:`write_checkpoint`, then :meth:`commit`."""
        ref = self.write_checkpoint(sim, step_index)
        self.commit(
            ref,
            identity=identity,
            step_index=step_index,
            time_ns=time_ns,
            score_state=score_state,
            hotkeys=hotkeys,
            extra=extra,
        )
        return ref

    def _remove_old_checkpoints(self, current: int, previous: int | None) -> None:
        keep = {current} if previous is None else {current, previous}
        for p in self.checkpoint_dir.iterdir():
            m = CHECKPOINT_NAME.match(p.name)
            stale_tmp = p.name.startswith(".step-") and p.name.endswith(".tmp")
            if (m and int(m.group(1)) not in keep) or stale_tmp:
                p.unlink(missing_ok=True)

    # --- loading ---------------------------------------------------------------------------------

    def load(self) -> StoredState | None:
        """The last committed state, or None for a new, empty store.

        Raises:
            StoreError: the checkpoint file the database refers to is missing, unreadable or does
            not have the recorded sha256, or the stored arrays are malformed.
        """
        db = self.db
        row = db.execute(
            "SELECT config_hash, seed, step_index, time_ns, checkpoint_path, checkpoint_sha256"
            " FROM meta WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        chash, seed, step_index, time_ns, rel_path, sha = row
        path = self.directory / rel_path
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(
                f"checkpoint file {path} of committed step {step_index} is missing; the store cannot be "
                "resumed without it"
            ) from None
        except OSError as e:
            raise StoreError(
                f"checkpoint file {path} of committed step {step_index} is unreadable: {e}"
            ) from e
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            raise StoreError(
                f"checkpoint file {path} of committed step {step_index} is corrupt: sha256 {actual} "
                f"does not match the recorded {sha}"
            )
        chunks: dict[str, dict[int, bytes]] = {}
        for name, idx, blob in db.execute("SELECT name, idx, data FROM array_chunks"):
            chunks.setdefault(name, {})[int(idx)] = bytes(blob)
        stored: dict[str, np.ndarray] = {}
        for name, dtype, shape in db.execute("SELECT name, dtype, shape FROM arrays"):
            stored[name] = _array_from_chunks(name, dtype, shape, chunks.pop(name, {}))
        if chunks:
            raise StoreError(f"stored chunks without an array: {sorted(chunks)}")
        score: dict[str, np.ndarray] = {}
        extra: dict[str, np.ndarray] = {}
        for name, arr in stored.items():
            if name.startswith(SCORE_PREFIX):
                score[name[len(SCORE_PREFIX) :]] = arr
            elif name.startswith(EXTRA_PREFIX):
                extra[name[len(EXTRA_PREFIX) :]] = arr
            else:
                raise StoreError(f"unknown stored array {name!r}")
        try:
            score_state = ScoreState.from_arrays(score)
        except ValueError as e:
            raise StoreError(f"stored score state is malformed: {e}") from e
        hotkeys = {int(u): str(h) for u, h in db.execute("SELECT uid, hotkey FROM hotkeys ORDER BY uid")}
        self._committed = {name: a.copy() for name, a in stored.items()}
        return StoredState(
            identity=SimulationIdentity(str(chash), int(seed)),
            step_index=int(step_index),
            time_ns=int(time_ns),
            score_state=score_state,
            hotkeys=hotkeys,
            checkpoint=CheckpointRef(int(step_index), path, str(sha)),
            checkpoint_bytes=data,
            extra=extra,
        )
