"""The validator's persistent state: an embedded SQLite database plus simulation checkpoint files.

Layout of a store directory::

    validator.sqlite3        SQLite, WAL journal, synchronous=FULL
    checkpoints/step-000000123.ckpt
    lock                     held (flock) while a process has the store open

Database tables:

- ``schema_version`` — one row; a store of schema 1 to 5 is migrated, newer or unknown ones are
  refused;
- ``meta`` — one row: simulation identity (config hash, seed), step index, simulation time, the
  last checkpoint file (path relative to the store directory), its sha256 and its step;
- ``journal`` — the instructions of every step after that checkpoint (and of the next step, once
  accepted), as engine records whose ``ts_ns`` is when each reaches its book (schema 3 and before
  stored the delay from the step start: such rows have ``delays`` = 1 and are converted when read):
  the simulation is deterministic, so the checkpoint replayed through the journal is the state of
  the last commit;
- ``arrays`` and ``array_chunks`` — named numpy arrays with their dtype, shape and chunk width:
  the validator's state as its parts declare it (:mod:`taos.validator.persisted`: e.g.
  ``scheme/history/values``, ``positions/direction``, ``last_target_ns``). An array of two or
  more dimensions is stored in chunks of ``chunk``
  consecutive indices of its last axis (``a[..., i * chunk:(i + 1) * chunk]``): as many as make
  about ``CHUNK_BYTES`` (16 KiB), at least one (for the value history one chunk per ring column, for
  a ``(miners, books)`` array a few books per chunk); smaller arrays as one chunk (index -1). Each
  chunk is the raw bytes, compressed as a zstd frame (a zlib stream before; both are read; never
  pickle). A commit writes only the chunks whose
  bytes changed since the previous commit, so a step costs one history column, not the whole
  window, and a few chunks per array that changes everywhere, not one per index (schema 2 had one
  chunk per index: width 1);
- ``hotkeys`` — the hotkey of every uid, to detect deregistrations after a restart;
- ``volume_rows`` — each step's nonzero traded volumes (flat cell indices ``miner * books + book``
  as int32 and volumes as int64, each a zstd frame) until they leave the 24 h volume horizon
  (:class:`StoredVolumeLog`; the scoring state's exact 24 h sums take them off then);
- ``simulations`` — one row per simulation the validator ran or runs (its index, config hash, seed,
  wall start and end, first and last step, and for an ended one a summary of every miner's results
  as zstd-compressed JSON): the ``keep`` latest ones (:meth:`ValidatorStore.commit`), older rows are
  deleted as new simulations start (:class:`SimulationRecord`).

Commit protocol (:meth:`ValidatorStore.commit`; :meth:`ValidatorStore.save` with a checkpoint):

1. now and then, the simulation checkpoint is written to a new file named by its step, atomically
   (temporary file, fsync, rename, fsync of the folder; :func:`taos.simulator.save_checkpoint`);
2. all state, the journal entries of the steps since the last commit, or the new checkpoint's path
   and sha256 (the journal is then emptied), are written in one SQLite transaction;
3. after a checkpoint, checkpoint files other than the last two committed ones are deleted.

A crash before step 2 completes leaves the database as it was, pointing at the previous checkpoint
file, which still exists, and its journal; a crash after it leaves at most some old files, removed
by the next checkpoint. :meth:`ValidatorStore.load` returns the last committed state after checking
that its checkpoint file exists and has the recorded sha256 and that the journal is complete.
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
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import zstandard

from taos.protocol.compression import compress

if TYPE_CHECKING:
    from taos.simulator import Simulation, SimulationConfig

SCHEMA_VERSION = 6
WAL_LIMIT_BYTES = 16 * 2**20
"""The SQLite WAL file is cut back to this size when SQLite checkpoints it (every ~4 MB written)."""
KEEP_SIMULATIONS = 30
"""Rows of past simulations the store keeps by default (a month of one-day simulations)."""
MAX_SUMMARY_BYTES = 16 * 2**20
CHUNK_BYTES = 16 * 1024
DB_NAME = "validator.sqlite3"
CHECKPOINT_DIR = "checkpoints"
LOCK_NAME = "lock"
KEEP_CHECKPOINTS = 2
CHECKPOINT_NAME = re.compile(r"^step-(\d+)\.ckpt$")

_SIMULATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS simulations (
    simulation INTEGER PRIMARY KEY,
    config_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    started_unix REAL NOT NULL,
    first_step INTEGER NOT NULL,
    ended_unix REAL,
    last_step INTEGER,
    summary BLOB
);
"""
_SCHEMA = (
    """
CREATE TABLE schema_version (version INTEGER NOT NULL);
CREATE TABLE meta (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    config_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    step_index INTEGER NOT NULL,
    time_ns INTEGER NOT NULL,
    checkpoint_path TEXT NOT NULL,
    checkpoint_sha256 TEXT NOT NULL,
    saved_at_unix REAL NOT NULL,
    checkpoint_step INTEGER NOT NULL
);
CREATE TABLE arrays (
    name TEXT PRIMARY KEY, dtype TEXT NOT NULL, shape TEXT NOT NULL, chunk INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE array_chunks (
    name TEXT NOT NULL REFERENCES arrays (name),
    idx INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (name, idx)
);
CREATE TABLE hotkeys (uid INTEGER PRIMARY KEY, hotkey TEXT NOT NULL);
CREATE TABLE journal (
    step_index INTEGER PRIMARY KEY,
    until_ns INTEGER NOT NULL,
    records BLOB NOT NULL,
    delays INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE volume_rows (
    step_index INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, cells BLOB NOT NULL, volumes BLOB NOT NULL
);
CREATE INDEX volume_rows_time ON volume_rows (time_ns);
"""
    + _SIMULATIONS_TABLE
)

# Schema 1 had no journal: every commit came with its own checkpoint.
_MIGRATE_1_TO_2 = """
ALTER TABLE meta ADD COLUMN checkpoint_step INTEGER NOT NULL DEFAULT -1;
UPDATE meta SET checkpoint_step = step_index;
CREATE TABLE journal (step_index INTEGER PRIMARY KEY, until_ns INTEGER NOT NULL, records BLOB NOT NULL);
UPDATE schema_version SET version = 2;
"""
# Schema 2 stored one chunk per index of the last axis: width 1, which schema 3 still reads.
_MIGRATE_2_TO_3 = """
ALTER TABLE arrays ADD COLUMN chunk INTEGER NOT NULL DEFAULT 1;
UPDATE schema_version SET version = 3;
"""
# Up to schema 3 a journal entry's records held in ts_ns their delay from the step start; since
# schema 4 the time they reach their book. The entries written before are marked and converted
# when read (JournalEntry.delays). Schema 4 also names the arrays by the validator's parts
# (taos.validator.persisted): score/x became scheme/history/x (the rolling sums score/returns_x
# scheme/history/returns/x), extra/policy/x scheme/policy/x, and extra/x x.
_RENAMES = (
    ("score/returns_", "scheme/history/returns/"),
    ("score/", "scheme/history/"),
    ("extra/policy/", "scheme/policy/"),
    ("extra/", ""),
)
_MIGRATE_3_TO_4 = (
    """
ALTER TABLE journal ADD COLUMN delays INTEGER NOT NULL DEFAULT 0;
UPDATE journal SET delays = 1;
"""
    + "".join(
        f"UPDATE {table} SET name = '{new}' || substr(name, {len(old) + 1}) "
        f"WHERE substr(name, 1, {len(old)}) = '{old}';\n"
        for old, new in _RENAMES
        for table in ("arrays", "array_chunks")
    )
    + "UPDATE schema_version SET version = 4;\n"
)
# Schema 5 keeps each step's volumes until they leave the 24 h horizon (StoredVolumeLog).
_MIGRATE_4_TO_5 = """
CREATE TABLE IF NOT EXISTS volume_rows (
    step_index INTEGER PRIMARY KEY, time_ns INTEGER NOT NULL, cells BLOB NOT NULL, volumes BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS volume_rows_time ON volume_rows (time_ns);
UPDATE schema_version SET version = 5;
"""
# Schema 6 keeps a bounded history of the simulations run one after the other (SimulationRecord).
_MIGRATE_5_TO_6 = _SIMULATIONS_TABLE + "UPDATE schema_version SET version = 6;\n"


class StoredVolumeLog:
    """The step volumes of the 24 h horizon kept in a store's ``volume_rows`` table instead of
    memory (the methods of ``taos.validator.history.VolumeLog``): rows appended since the last
    commit wait in memory and are written by the next :meth:`ValidatorStore.commit`, with the
    deletion of the rows that left the horizon, in the same transaction as the state that took
    them off its sums."""

    def __init__(self, store: ValidatorStore) -> None:
        self._store = store
        self._pending: list[Any] = []
        self._forget = -1  # the rows of this step and before are gone (deleted at the next commit)
        self._clear = False  # every stored row is gone (a simulation boundary)

    def append(self, row: Any) -> None:
        self._pending.append(row)

    def rows_through(self, after_step: int, time_ns: int) -> list[Any]:
        from taos.validator.history import VolumeRow

        out: list[Any] = []
        if not self._clear:
            for step, t, cells, volumes in self._store.db.execute(
                "SELECT step_index, time_ns, cells, volumes FROM volume_rows"
                " WHERE step_index > ? AND time_ns <= ? ORDER BY time_ns, step_index",  # by the time index
                (max(int(after_step), self._forget), min(int(time_ns), 2**63 - 1)),
            ):
                c = np.frombuffer(_decompress(cells), dtype=np.int32).copy()
                v = np.frombuffer(_decompress(volumes), dtype=np.int64).copy()
                if len(c) != len(v):
                    raise StoreError(f"volume row of step {step}: {len(c)} cells but {len(v)} volumes")
                out.append(VolumeRow(int(step), int(t), c, v))
        out += [r for r in self._pending if r.step > after_step and r.time_ns <= time_ns]
        return sorted(out, key=lambda r: r.step)  # (time and step grow together in a simulation)

    def forget_through(self, step: int) -> None:
        self._forget = max(self._forget, int(step))
        self._pending = [r for r in self._pending if r.step > step]

    def clear(self) -> None:
        self._clear, self._pending, self._forget = True, [], -1

    def changes(self) -> tuple[list[tuple[int, int, bytes, bytes]], int, bool]:
        """What the next commit writes: the new rows, the last step whose rows are deleted (-1:
        none), whether every stored row is deleted first."""
        rows = [
            (
                int(r.step),
                int(r.time_ns),
                _compress(r.cells.astype("<i4").tobytes()),
                _compress(r.volumes.astype("<i8").tobytes()),
            )
            for r in self._pending
        ]
        return rows, self._forget, self._clear

    def committed(self) -> None:
        self._pending, self._clear = [], False


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
class SimulationRecord:
    """One simulation in the store's history (table ``simulations``): its index (0 for the first
    one this store ran), identity, wall start (Unix seconds) and first step; once it ended, its wall
    end, last step and ``summary`` (JSON: what each miner did in it)."""

    simulation: int
    config_hash: str
    seed: int
    started_unix: float
    first_step: int
    ended_unix: float | None = None
    last_step: int | None = None
    summary: dict[str, Any] | None = None


@dataclass(frozen=True)
class CheckpointRef:
    """A checkpoint file written for a step (absolute path) and the sha256 of its bytes."""

    step_index: int
    path: Path
    sha256: str


@dataclass(frozen=True)
class JournalEntry:
    """One step as the simulation ran it: the instructions it was given (engine records,
    ``taos.simulator.instruction_array``) and the time it ran to. The simulation is deterministic,
    so the last checkpoint and the journal of the steps after it give back the state of the last
    commit (:meth:`StoredState.restore_simulation`)."""

    step_index: int
    until_ns: int
    records: np.ndarray
    delays: bool = False
    """The records hold in ``ts_ns`` their delay from the step start (an entry written by schema 3
    or before), not the time they reach their book."""

    def arriving(self, start_ns: int) -> JournalEntry:
        """This entry with arrival times in ``ts_ns``, for a step that starts at ``start_ns``."""
        if not self.delays:
            return self
        records = self.records.copy()
        # as the engine read them: a negative delay is none, one beyond the clock never arrives
        never = np.iinfo(np.int64).max
        records["ts_ns"] = start_ns + np.minimum(np.maximum(records["ts_ns"], 0), never - start_ns)
        return JournalEntry(self.step_index, self.until_ns, records)


@dataclass
class StoredState:
    """Everything :meth:`ValidatorStore.load` returns to resume exactly where the last commit was."""

    identity: SimulationIdentity
    step_index: int
    time_ns: int
    arrays: dict[str, np.ndarray]  # the validator's state (taos.validator.persisted.state_of)
    hotkeys: dict[int, str]
    checkpoint: CheckpointRef
    checkpoint_bytes: bytes
    journal: list[JournalEntry] = field(default_factory=list)  # the steps after the checkpoint
    pending: JournalEntry | None = None  # the next step's instructions, when the commit gave them

    def restore_simulation(
        self, config: SimulationConfig, restore: Callable[[Any, bytes], Any] | None = None
    ) -> Any:
        """The simulation at ``step_index``: restored from the verified checkpoint bytes (``config``
        must be the one the checkpoint was written with; the engine refuses another), then stepped
        through the journal. ``restore(config, bytes)`` builds it (default ``Simulation.restore``)."""
        from taos.simulator import Simulation

        sim = (restore or Simulation.restore)(config, self.checkpoint_bytes)
        for entry in self.journal:
            # the views are not needed: the smallest depths
            sim.step(entry.until_ns, entry.arriving(int(sim.time_ns)).records, 1, 0)
        if int(sim.time_ns) != self.time_ns:
            raise StoreError(
                f"the checkpoint of step {self.checkpoint.step_index} and the journal end at sim time "
                f"{int(sim.time_ns)} ns, not at the committed {self.time_ns} ns"
            )
        return sim


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


NPY_MAGIC = b"\x93NUMPY"


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def _compress(data: bytes) -> bytes:
    """A zstd frame of ``data`` at level 1, the wire's (``taos.protocol.compression.compress``):
    three times as fast as zlib at level 1, which the store wrote before, and smaller (most of a
    chunk is NaN, zeros or repeats)."""
    return compress(data)


MAX_BLOB_BYTES = 1 << 31
"""The most bytes a stored blob may decompress to (a damaged frame header could ask for any size)."""


def _decompress(blob: bytes, limit: int = MAX_BLOB_BYTES) -> bytes:
    """The bytes of a ``_compress`` blob, or of a zlib stream (what the store wrote before), at
    most ``limit`` of them.

    Raises:
        ValueError: neither, damaged, or larger than ``limit``.
    """
    try:
        if bytes(blob[:4]) == ZSTD_MAGIC:
            size = zstandard.frame_content_size(blob)
            if not 0 <= size <= limit:
                raise ValueError(f"a zstd frame of {size} bytes, not 0 to {limit}")
            return zstandard.ZstdDecompressor().decompress(blob)
        out = zlib.decompressobj()
        data = out.decompress(blob, limit + 1)
        if len(data) > limit:
            raise ValueError(f"a zlib stream of more than {limit} bytes")
        if not out.eof:
            raise ValueError("a zlib stream cut short")
        return data
    except (zstandard.ZstdError, zlib.error, TypeError) as e:
        raise ValueError(f"not a zstd frame or zlib stream ({e})") from e


def _npy(a: np.ndarray) -> bytes:
    """A chunk's stored bytes: the array's raw bytes (C order; its dtype and shape are in the
    ``arrays`` table), compressed (``_compress``)."""
    return _compress(a.tobytes(order="C"))  # a slice of a larger array is gathered once


def _unnpy(blob: bytes, dtype: np.dtype, shape: tuple[int, ...]) -> np.ndarray | None:
    """The array of an ``_npy`` blob (None when its size is not that of ``dtype`` and ``shape``);
    schema 1 stored each chunk as uncompressed ``.npy`` bytes."""
    if blob.startswith(NPY_MAGIC):
        arr = np.load(io.BytesIO(blob), allow_pickle=False)
        if not isinstance(arr, np.ndarray):
            raise ValueError("not a single array")
        return arr
    data = _decompress(blob, dtype.itemsize * int(np.prod(shape, dtype=np.int64)))
    if len(data) != dtype.itemsize * int(np.prod(shape, dtype=np.int64)):
        return None
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


def _chunked(a: np.ndarray) -> bool:
    return a.ndim >= 2


def chunk_width(a: np.ndarray) -> int:
    """Indices of the last axis per stored chunk: as many as make about ``CHUNK_BYTES``."""
    per_index = a.dtype.itemsize * int(np.prod(a.shape[:-1], dtype=np.int64))
    return max(1, CHUNK_BYTES // max(1, per_index))


def _changed_chunks(new: np.ndarray, old: np.ndarray | None, width: int = 1) -> list[int]:
    """Chunks of ``width`` indices along the last axis whose bytes differ (NaN compares by its
    bits); all of them when there is nothing comparable."""
    n = new.shape[-1]
    if old is None or old.dtype != new.dtype or old.shape != new.shape:
        return list(range(-(-n // width)))
    return sorted({i // width for i in _changed_indices(new, old)})


def _changed_indices(new: np.ndarray, old: np.ndarray) -> list[int]:
    """Indices along the last axis whose bytes differ (NaN compares by its bits)."""
    n = new.shape[-1]
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


def _written_indices(indices: np.ndarray | None, n: int) -> np.ndarray | None:
    """The indices a caller says alone changed along a last axis of ``n``; None (compare the whole
    array) for anything that is not a 1-d integer array within range."""
    if indices is None:
        return None
    a = np.asarray(indices)
    if a.ndim != 1 or a.dtype.kind not in "iu" or (len(a) and (a.min() < 0 or a.max() >= n)):
        return None
    return a.astype(np.int64)


def _check_storable(name: str, a: np.ndarray) -> np.ndarray:
    arr = np.asarray(a)
    if arr.dtype.hasobject or arr.dtype.names is not None:
        raise StoreError(
            f"array {name!r} has dtype {arr.dtype}; only plain numeric, bool or string arrays are stored"
        )
    return arr


def _journal_row(entry: JournalEntry) -> tuple[int, int, bytes]:
    from taos.simulator import instruction_array

    step, until = entry.step_index, entry.until_ns
    for name, value in (("step_index", step), ("until_ns", until)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise StoreError(f"journal entry {name} must be an integer >= 0, got {value!r}")
    records = entry.records
    if (
        not isinstance(records, np.ndarray)
        or records.dtype != instruction_array(0).dtype
        or records.ndim != 1
    ):
        raise StoreError(f"journal entry of step {step}: records must be a 1-d array of engine instructions")
    return int(step), int(until), _compress(np.ascontiguousarray(records).tobytes())


def _ended_row(r: SimulationRecord) -> tuple[Any, ...]:
    """The ``simulations`` row of an ended simulation (its summary as compressed JSON)."""
    if r.ended_unix is None or r.last_step is None:
        raise ValueError(f"simulation {r.simulation} has not ended: no end time or last step")
    text = json.dumps(r.summary, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    if len(text) > MAX_SUMMARY_BYTES:
        raise StoreError(
            f"the summary of simulation {r.simulation} has {len(text)} bytes, more than {MAX_SUMMARY_BYTES}"
        )
    return (
        r.simulation,
        r.config_hash,
        int(r.seed),
        r.started_unix,
        r.first_step,
        r.ended_unix,
        r.last_step,
        _compress(text),
    )


def _span(steps: list[int]) -> str:
    if not steps:
        return "none"
    contiguous = steps == list(range(steps[0], steps[-1] + 1))
    return f"{steps[0]}..{steps[-1]}" if contiguous else f"{len(steps)} steps not in order ({steps[:6]}...)"


def _array_from_chunks(
    name: str, dtype: str, shape_text: str, chunks: dict[int, bytes], width: int = 1
) -> np.ndarray:
    try:
        shape = tuple(int(x) for x in json.loads(shape_text))
        dt = np.dtype(dtype)
    except (ValueError, TypeError) as e:
        raise StoreError(
            f"stored array {name!r} has a malformed dtype {dtype!r} or shape {shape_text!r}"
        ) from e

    def part(idx: int, want: tuple[int, ...]) -> np.ndarray:
        try:
            arr = _unnpy(chunks[idx], dt, want)
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
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise StoreError(f"stored array {name!r} has a malformed chunk width {width!r}")
    count = -(-n // width)
    if set(chunks) != set(range(count)):
        raise StoreError(f"stored array {name!r} has chunks {sorted(chunks)[:8]}..., expected 0..{count - 1}")
    out = np.empty(shape, dtype=dt)
    for i in range(count):
        if width == 1:  # a[..., i] (as schemas 1 and 2 stored every array)
            out[..., i] = part(i, shape[:-1])
        else:
            end = min(n, (i + 1) * width)
            out[..., i * width : end] = part(i, (*shape[:-1], end - i * width))
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
        self._hotkeys: list[tuple[int, str]] | None = None  # as the last commit of this process wrote them
        self._widths: dict[str, int] = {}  # the chunk width of every stored array
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
            # the WAL file is truncated back to this size after each checkpoint of it (a large first
            # commit would otherwise keep its size on disk for good)
            db.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")
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
        if version in (1, 2, 3, 4, 5):
            migrations = (_MIGRATE_1_TO_2, _MIGRATE_2_TO_3, _MIGRATE_3_TO_4, _MIGRATE_4_TO_5, _MIGRATE_5_TO_6)
            with self._transaction():
                for script in migrations[version - 1 :]:
                    for statement in script.split(";"):
                        if statement.strip():
                            db.execute(statement)
            return
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
        checkpoint: CheckpointRef | None,
        *,
        identity: SimulationIdentity,
        step_index: int,
        time_ns: int,
        arrays: Mapping[str, np.ndarray],
        hotkeys: Mapping[int, str],
        journal: Sequence[JournalEntry] = (),
        pending: JournalEntry | None = None,
        written: Mapping[str, np.ndarray] | None = None,
        volume_log: StoredVolumeLog | None = None,
        simulation: int = 0,
        ended: SimulationRecord | None = None,
        keep_simulations: int = KEEP_SIMULATIONS,
    ) -> None:
        """Phase 2 of a commit: writes all state in one transaction, then deletes checkpoint files
        other than this one and the previously committed one.

        ``written`` may tell, for some arrays, the only indices of their last axis that changed
        since the last commit (``taos.validator.persisted.written_of``): those chunks alone are
        written, without comparing the whole array. Other arrays are compared chunk by chunk.

        With a ``checkpoint`` (written by :meth:`write_checkpoint` for ``step_index``) the
        simulation's state is that file and the journal is emptied. Without one, the last
        committed checkpoint stays and ``journal`` must hold every step after the last commit up to
        ``step_index``, in order: the simulation is that checkpoint stepped through the journal.
        ``pending`` is the next step's instructions (step ``step_index + 1``, accepted but not run
        yet; :attr:`StoredState.pending`). It is stored as that step's journal entry, so when the
        next commit journals the step it is not written again. ``volume_log``'s changes (new step
        volumes, those that left the horizon) are written too; it is told once they are.

        ``simulation`` is the index of the simulation the state belongs to: its row of the history
        is added by its first commit. ``ended`` is the record of the simulation that ended just
        before (the commit that starts the next one): it is written in the same transaction, and
        the history keeps the ``keep_simulations`` latest ended simulations besides the running one.

        Raises:
            StoreError: the step is not after the last committed one, the checkpoint is for another
            step or is not in this store, the journal does not continue the last commit, or the
            state cannot be stored. Nothing is written then.
        """
        if isinstance(step_index, bool) or not isinstance(step_index, int) or step_index < 0:
            raise ValueError(f"step_index must be an integer >= 0, got {step_index!r}")
        if isinstance(time_ns, bool) or not isinstance(time_ns, int) or time_ns < 0:
            raise ValueError(f"time_ns must be an integer >= 0, got {time_ns!r}")
        for name, n, low in (("simulation", simulation, 0), ("keep_simulations", keep_simulations, 1)):
            if isinstance(n, bool) or not isinstance(n, int) or n < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {n!r}")
        ended_row = None if ended is None else _ended_row(ended)
        if checkpoint is not None:
            if checkpoint.step_index != step_index:
                raise StoreError(f"checkpoint is for step {checkpoint.step_index}, not step {step_index}")
            path = Path(checkpoint.path)
            if path.parent.resolve() != self.checkpoint_dir.resolve():
                raise StoreError(f"checkpoint {path} is not in this store's {self.checkpoint_dir}")
        rows = [_journal_row(e) for e in journal] if checkpoint is None else []
        if pending is not None and pending.step_index != step_index + 1:
            raise StoreError(
                f"the pending instructions are for step {pending.step_index}, not {step_index + 1}"
            )
        pending_row = _journal_row(pending) if pending is not None else None
        checked: dict[str, np.ndarray] = {}
        for name, arr in arrays.items():
            if not isinstance(name, str) or not name:
                raise StoreError(f"array names must be non-empty strings, got {name!r}")
            checked[name] = _check_storable(name, arr)
        keys: list[tuple[int, str]] = []
        for uid, hotkey in hotkeys.items():
            if isinstance(uid, bool) or not isinstance(uid, (int, np.integer)) or uid < 0:
                raise StoreError(f"hotkey uids must be integers >= 0, got {uid!r}")
            if not isinstance(hotkey, str):
                raise StoreError(f"hotkey of uid {uid} must be a string, got {hotkey!r}")
            keys.append((int(uid), hotkey))
        db = self.db
        with self._forget_on_failure(), self._transaction():  # a failed COMMIT forgets too
            previous = db.execute(
                "SELECT step_index, checkpoint_path, checkpoint_sha256, checkpoint_step FROM meta WHERE id = 1"
            ).fetchone()
            if previous is not None and step_index <= previous[0]:
                raise StoreError(f"step {step_index} is not after the last committed step {previous[0]}")
            if checkpoint is None:
                if previous is None:
                    raise StoreError("the first commit of a store needs a checkpoint")
                steps = [r[0] for r in rows]
                if steps != list(range(previous[0] + 1, step_index + 1)):
                    raise StoreError(
                        f"the journal must hold steps {previous[0] + 1}..{step_index} (every step after the "
                        f"last commit), got {_span(steps)}"
                    )
                checkpoint_path, sha, checkpoint_step = previous[1], previous[2], previous[3]
                # the step after the last commit may be stored already, as that commit's pending
                # instructions; it is written again only if the step ran with others (e.g. a reset)
                stored = db.execute(
                    "SELECT until_ns, records FROM journal WHERE step_index = ?", (previous[0] + 1,)
                ).fetchone()
                same = stored is not None and tuple(stored) == rows[0][1:]
                db.executemany(
                    "INSERT OR REPLACE INTO journal (step_index, until_ns, records) VALUES (?, ?, ?)",
                    rows[1:] if same else rows,
                )
            else:
                checkpoint_path = f"{CHECKPOINT_DIR}/{Path(checkpoint.path).name}"
                sha, checkpoint_step = checkpoint.sha256, step_index
                db.execute("DELETE FROM journal")
            if pending_row is not None:
                db.execute(
                    "INSERT INTO journal (step_index, until_ns, records) VALUES (?, ?, ?)", pending_row
                )
            db.execute(
                "INSERT OR REPLACE INTO meta (id, config_hash, seed, step_index, time_ns, checkpoint_path,"
                " checkpoint_sha256, saved_at_unix, checkpoint_step) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    identity.config_hash,
                    int(identity.seed),
                    step_index,
                    time_ns,
                    checkpoint_path,
                    sha,
                    time.time(),
                    checkpoint_step,
                ),
            )
            self._write_arrays(checked, written or {})
            if ended_row is not None:
                db.execute(
                    "INSERT INTO simulations (simulation, config_hash, seed, started_unix, first_step, ended_unix,"
                    " last_step, summary) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (simulation) DO UPDATE SET"
                    " ended_unix = excluded.ended_unix, last_step = excluded.last_step, summary = excluded.summary",
                    ended_row,
                )
                db.execute("DELETE FROM simulations WHERE simulation < ?", (simulation - keep_simulations,))
            db.execute(
                "INSERT OR IGNORE INTO simulations (simulation, config_hash, seed, started_unix, first_step)"
                " VALUES (?, ?, ?, ?, ?)",
                (simulation, identity.config_hash, int(identity.seed), time.time(), step_index),
            )
            if volume_log is not None:
                volume_rows, forget, clear = volume_log.changes()
                if clear:
                    db.execute("DELETE FROM volume_rows")
                if forget >= 0:
                    db.execute("DELETE FROM volume_rows WHERE step_index <= ?", (forget,))
                db.executemany(
                    "INSERT OR REPLACE INTO volume_rows (step_index, time_ns, cells, volumes) VALUES (?, ?, ?, ?)",
                    volume_rows,
                )
            if keys != self._hotkeys:  # a registration changed (or the first commit of this process)
                db.execute("DELETE FROM hotkeys")
                db.executemany("INSERT INTO hotkeys (uid, hotkey) VALUES (?, ?)", keys)
                self._hotkeys = keys
        if volume_log is not None:
            volume_log.committed()
        if checkpoint is not None:
            self._remove_old_checkpoints(step_index, None if previous is None else previous[3])

    @contextmanager
    def _forget_on_failure(self) -> Iterator[None]:
        """The copies of the committed arrays and hotkeys are updated while the transaction is
        written: if it fails, even at its COMMIT, they are dropped, and the next commit writes
        every array and the hotkeys again."""
        try:
            yield
        except BaseException:
            self._committed = {}
            self._hotkeys = None
            raise

    def _write_arrays(self, arrays: Mapping[str, np.ndarray], written: Mapping[str, np.ndarray]) -> None:
        """Inside a transaction: makes the stored arrays equal to ``arrays``, writing only the
        chunks that differ from the last commit (all of them for a new or reshaped array), and
        brings the store's own copies of the committed arrays up to date (the arrays passed in may
        be the caller's live state: they are read, never kept)."""
        db = self.db
        for gone in set(self._committed) - set(arrays):
            db.execute("DELETE FROM array_chunks WHERE name = ?", (gone,))
            db.execute("DELETE FROM arrays WHERE name = ?", (gone,))
            del self._committed[gone]
        # Arrays this process has not committed (e.g. written before a restart without load()).
        known = set(self._committed)
        for (name,) in db.execute("SELECT name FROM arrays").fetchall():
            if name not in known:
                db.execute("DELETE FROM array_chunks WHERE name = ?", (name,))
                db.execute("DELETE FROM arrays WHERE name = ?", (name,))
        for name, a in arrays.items():
            old = self._committed.get(name)
            shape = json.dumps(list(a.shape))
            width = chunk_width(a) if _chunked(a) else 1
            if old is None or old.dtype != a.dtype or old.shape != a.shape or self._widths.get(name) != width:
                db.execute("DELETE FROM array_chunks WHERE name = ?", (name,))
                db.execute(
                    "INSERT OR REPLACE INTO arrays (name, dtype, shape, chunk) VALUES (?, ?, ?, ?)",
                    (name, a.dtype.str, shape, width),
                )
                self._widths[name] = width
                old = None
            if _chunked(a):
                hint = _written_indices(written.get(name), a.shape[-1]) if old is not None else None
                changed = (
                    _changed_chunks(a, old, width) if hint is None else sorted(set((hint // width).tolist()))
                )
                rows = [(name, i, _npy(a[..., i * width : (i + 1) * width])) for i in changed]
                if old is None:
                    self._committed[name] = a.copy()
                else:
                    for i in changed:
                        old[..., i * width : (i + 1) * width] = a[..., i * width : (i + 1) * width]
            elif old is None or old.tobytes() != a.tobytes():
                rows = [(name, -1, _npy(a))]
                self._committed[name] = a.copy()
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
        arrays: Mapping[str, np.ndarray],
        hotkeys: Mapping[int, str],
        volume_log: StoredVolumeLog | None = None,
    ) -> CheckpointRef:
        """A whole commit: :meth:`write_checkpoint`, then :meth:`commit`."""
        ref = self.write_checkpoint(sim, step_index)
        self.commit(
            ref,
            identity=identity,
            step_index=step_index,
            time_ns=time_ns,
            arrays=arrays,
            hotkeys=hotkeys,
            volume_log=volume_log,
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
            "SELECT config_hash, seed, step_index, time_ns, checkpoint_path, checkpoint_sha256, checkpoint_step"
            " FROM meta WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        chash, seed, step_index, time_ns, rel_path, sha, checkpoint_step = row
        journal = self._load_journal(int(checkpoint_step), int(step_index))
        pending = journal.pop() if journal and journal[-1].step_index == step_index + 1 else None
        if pending is not None:  # it starts at the committed time
            pending = pending.arriving(int(time_ns))
        path = self.directory / rel_path
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise StoreError(
                f"checkpoint file {path} of committed step {checkpoint_step} is missing; the store cannot be "
                "resumed without it"
            ) from None
        except OSError as e:
            raise StoreError(
                f"checkpoint file {path} of committed step {checkpoint_step} is unreadable: {e}"
            ) from e
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            raise StoreError(
                f"checkpoint file {path} of committed step {checkpoint_step} is corrupt: sha256 {actual} "
                f"does not match the recorded {sha}"
            )
        chunks: dict[str, dict[int, bytes]] = {}
        for name, idx, blob in db.execute("SELECT name, idx, data FROM array_chunks"):
            chunks.setdefault(name, {})[int(idx)] = bytes(blob)
        stored: dict[str, np.ndarray] = {}
        self._widths = {}
        for name, dtype, shape, width in db.execute("SELECT name, dtype, shape, chunk FROM arrays"):
            stored[name] = _array_from_chunks(name, dtype, shape, chunks.pop(name, {}), width)
            self._widths[name] = width
        if chunks:
            raise StoreError(f"stored chunks without an array: {sorted(chunks)}")
        hotkeys = {int(u): str(h) for u, h in db.execute("SELECT uid, hotkey FROM hotkeys ORDER BY uid")}
        self._committed = {name: a.copy() for name, a in stored.items()}
        return StoredState(
            identity=SimulationIdentity(str(chash), int(seed)),
            step_index=int(step_index),
            time_ns=int(time_ns),
            arrays={name: a.copy() for name, a in stored.items()},
            hotkeys=hotkeys,
            checkpoint=CheckpointRef(int(checkpoint_step), path, str(sha)),
            checkpoint_bytes=data,
            journal=journal,
            pending=pending,
        )

    def simulations(self) -> list[SimulationRecord]:
        """The simulations in the store's history, oldest first (the running one last, not ended).

        Raises:
            StoreError: a stored summary does not decode."""
        out = []
        rows = self.db.execute(
            "SELECT simulation, config_hash, seed, started_unix, first_step, ended_unix, last_step, summary"
            " FROM simulations ORDER BY simulation"
        ).fetchall()
        for k, chash, seed, started, first, ended, last, blob in rows:
            summary = None
            if blob is not None:
                try:
                    summary = json.loads(_decompress(bytes(blob), MAX_SUMMARY_BYTES))
                except (ValueError, UnicodeDecodeError) as e:
                    raise StoreError(f"the summary of simulation {k} is malformed: {e}") from None
            out.append(
                SimulationRecord(
                    int(k),
                    str(chash),
                    int(seed),
                    float(started),
                    int(first),
                    None if ended is None else float(ended),
                    None if last is None else int(last),
                    summary,
                )
            )
        return out

    def _load_journal(self, checkpoint_step: int, step_index: int) -> list[JournalEntry]:
        """The journal of steps ``checkpoint_step + 1 .. step_index``, checked to be complete, and
        the pending step ``step_index + 1`` when it is stored."""
        from taos.simulator import instruction_array

        dtype = instruction_array(0).dtype
        out: list[JournalEntry] = []
        rows = self.db.execute(
            "SELECT step_index, until_ns, records, delays FROM journal WHERE step_index > ? ORDER BY step_index",
            (checkpoint_step,),
        ).fetchall()
        steps = [int(r[0]) for r in rows]
        if steps[-1:] == [step_index + 1]:
            steps = steps[:-1]
        if steps != list(range(checkpoint_step + 1, step_index + 1)):
            raise StoreError(
                f"the journal after the checkpoint of step {checkpoint_step} must hold steps "
                f"{checkpoint_step + 1}..{step_index}, it holds {_span(steps)}"
            )
        for step, until, compressed, delays in rows:
            try:
                blob = _decompress(compressed)
            except ValueError:
                blob = None
            if blob is None or len(blob) % dtype.itemsize:
                raise StoreError(f"the journal entry of step {step} is malformed")
            records = instruction_array(len(blob) // dtype.itemsize)
            records[:] = np.frombuffer(blob, dtype=dtype)
            out.append(JournalEntry(int(step), int(until), records, bool(delays)))
        return out
