"""The run folder of a local market (SPEC §13): what a local run writes while it runs.

    <out>/config.toml              the configuration, as given
    <out>/events/book-<b>.parquet  every L3 event of book b
    <out>/l2.parquet               the top levels of every book after every step
    <out>/trades.parquet           every trade
    <out>/prices.parquet           best bid/ask, mid, fundamental, signal and depth per book and step
    <out>/agents.parquet           each agent's inventory value and traded volume per book and step
    <out>/scores.parquet           each agent's score after every step
    <out>/summary.json             written last, by close(): the run and one entry per agent

Rows are buffered and written as Parquet row groups of ``row_group_rows`` rows, so memory stays
bounded however long the run is; ``close()`` (also after Ctrl-C) finishes every file. A folder
without ``summary.json`` was never closed and its Parquet files have no footer:
``taos.analysis.load_run`` refuses it.

Units: prices in quote currency per base unit, quantities in base units, values, volumes and fees in
quote currency, times in nanoseconds of simulated time. ``docs/research.md`` lists every column.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from taos.analysis.layout import (
    AGENTS_FILE,
    CONFIG_FILE,
    FORMAT,
    L2_FILE,
    PRICES_FILE,
    SCORES_FILE,
    SUMMARY_FILE,
    TABLE_FILES,
    TRADES_FILE,
    event_file,
)
from taos.analysis.realism import WARMUP_S, Recorder, realism
from taos.scoring import sharpe
from taos.simulator import EVENT_DTYPE, EventKind, Side

if TYPE_CHECKING:
    from rich.console import Console

    from taos.analysis.run import Run

S = 1_000_000_000

_ARROW = {"u1": pa.uint8(), "u4": pa.uint32(), "u8": pa.uint64(), "i8": pa.int64()}


def _event_schema() -> pa.Schema:
    fields = [pa.field(name, _ARROW[EVENT_DTYPE[name].str[1:]]) for name in EVENT_DTYPE.names or ()]
    return pa.schema(
        [
            *fields,
            pa.field("kind_name", pa.string()),
            pa.field("side_name", pa.string()),
            pa.field("price", pa.float64()),
            pa.field("quantity", pa.float64()),
        ]
    )


EVENT_SCHEMA = _event_schema()
L2_SCHEMA = pa.schema(
    [
        ("time_ns", pa.int64()),
        ("book", pa.int32()),
        ("side", pa.string()),
        ("level", pa.int32()),
        ("price", pa.float64()),
        ("quantity", pa.float64()),
        ("orders", pa.int32()),
    ]
)
TRADE_SCHEMA = pa.schema(
    [
        ("time_ns", pa.int64()),
        ("book", pa.int32()),
        ("seq", pa.uint64()),
        ("price", pa.float64()),
        ("quantity", pa.float64()),
        ("notional", pa.float64()),
        ("side", pa.string()),
        ("taker_agent", pa.int64()),
        ("maker_agent", pa.int64()),
        ("taker_order_id", pa.uint64()),
        ("maker_order_id", pa.uint64()),
        ("taker_fee", pa.float64()),
        ("maker_fee", pa.float64()),
    ]
)
PRICE_SCHEMA = pa.schema(
    [
        ("time_ns", pa.int64()),
        ("book", pa.int32()),
        ("best_bid", pa.float64()),
        ("best_ask", pa.float64()),
        ("mid", pa.float64()),
        ("fundamental", pa.float64()),
        ("signal", pa.float64()),
        ("bid_depth", pa.float64()),
        ("ask_depth", pa.float64()),
    ]
)
AGENT_SCHEMA = pa.schema(
    [
        ("time_ns", pa.int64()),
        ("step", pa.int64()),
        ("uid", pa.int32()),
        ("name", pa.string()),
        ("book", pa.int32()),
        ("inventory_value", pa.float64()),
        ("traded_volume", pa.float64()),
    ]
)
SCORE_SCHEMA = pa.schema(
    [
        ("time_ns", pa.int64()),
        ("step", pa.int64()),
        ("uid", pa.int32()),
        ("name", pa.string()),
        ("score", pa.float64()),
    ]
)

FILES: dict[str, pa.Schema] = {
    L2_FILE: L2_SCHEMA,
    TRADES_FILE: TRADE_SCHEMA,
    PRICES_FILE: PRICE_SCHEMA,
    AGENTS_FILE: AGENT_SCHEMA,
    SCORES_FILE: SCORE_SCHEMA,
}
"""The Parquet files of a run folder besides ``events/book-<b>.parquet``, with their schemas."""


def _names(members: Mapping[str, Any]) -> np.ndarray:
    """A 256-entry lookup table code → lower-case name (None for codes without a name)."""
    table = np.full(256, None, dtype=object)
    for name, member in members.items():
        table[int(member)] = name.lower()
    return table


KIND_NAMES = _names(EventKind.__members__)
SIDE_NAMES = _names(Side.__members__)


class _ParquetTable:
    """One Parquet file written in row groups: columns are buffered until ``row_group_rows``."""

    def __init__(self, path: Path, schema: pa.Schema, row_group_rows: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.schema = schema
        self.row_group_rows = row_group_rows
        self.writer = pq.ParquetWriter(path, schema, compression="zstd")
        self.chunks: list[dict[str, np.ndarray]] = []
        self.buffered = 0
        self.rows = 0

    def add(self, columns: dict[str, np.ndarray]) -> None:
        n = len(columns[self.schema.names[0]])
        if n == 0:
            return
        self.chunks.append(columns)
        self.buffered += n
        if self.buffered >= self.row_group_rows:
            self.flush()

    def flush(self) -> None:
        if not self.buffered:
            return
        arrays = [
            pa.array(np.concatenate([c[f.name] for c in self.chunks]), type=f.type) for f in self.schema
        ]
        self.writer.write_table(
            pa.Table.from_arrays(arrays, schema=self.schema), row_group_size=self.buffered
        )
        self.rows += self.buffered
        self.chunks = []
        self.buffered = 0

    def close(self) -> None:
        self.flush()
        self.writer.close()


class RunWriter:
    """Writes a run folder step by step: ``record(result, validator)`` after every scored step,
    ``close(summary)`` at the end (also after an interruption, so that every file is readable).
    Memory: at most ``row_group_rows`` buffered rows per file, plus one float per agent and step
    (the portfolio values the summary's Sharpe ratios need; 35 MB for 256 agents over 24 h).

    Args:
        out_dir: the run folder; created if missing. Files of an earlier run in it are replaced.
        config_text: the TOML configuration, saved as ``config.toml``.
        books: the number of books.
        agent_names: uid → name of the agents to record (inventory, volume, score, summary).
        tick_size, lot_size: the market's steps, to turn ticks, lots and quote units into decimals.
        depth: levels per side recorded in ``l2.parquet`` and summed into the depth columns of
            ``prices.parquet``; None records every level the step result holds.
        row_group_rows: rows buffered per file before they are written as a row group.
        miner_base: one miner's starting base per book; with it, ``summary.json`` holds the
            market's realism facts under ``realism`` (``taos.analysis.realism``), else null.
        warmup_s: the facts are measured from this simulated second on.
    """

    def __init__(
        self,
        out_dir: str | Path,
        config_text: str,
        books: int,
        agent_names: Mapping[int, str],
        tick_size: float,
        lot_size: float,
        *,
        depth: int | None = None,
        row_group_rows: int = 100_000,
        miner_base: float | None = None,
        warmup_s: float = WARMUP_S,
    ) -> None:
        if books < 1:
            raise ValueError(f"books must be >= 1, got {books}")
        if not (tick_size > 0 and lot_size > 0):
            raise ValueError(f"tick_size and lot_size must be > 0, got {tick_size}, {lot_size}")
        if depth is not None and depth < 1:
            raise ValueError(f"depth must be >= 1 or None, got {depth}")
        if row_group_rows < 1:
            raise ValueError(f"row_group_rows must be >= 1, got {row_group_rows}")
        self.out_dir = Path(out_dir)
        self.books = books
        self.uids = np.array(sorted(int(u) for u in agent_names), dtype=np.int64)
        self.names = np.array([agent_names[int(u)] for u in self.uids], dtype=object)
        self.tick_size = float(tick_size)
        self.lot_size = float(lot_size)
        self.quote_units = round(1.0 / (self.tick_size * self.lot_size))
        self.depth = depth
        self.miner_base = miner_base
        self.warmup_s = warmup_s
        self._realism = Recorder(books, self.lot_size, warmup_s)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / SUMMARY_FILE).unlink(missing_ok=True)  # the folder is a run again once closed
        (self.out_dir / CONFIG_FILE).write_text(config_text, encoding="utf-8")
        self._events = [
            _ParquetTable(self.out_dir / event_file(b), EVENT_SCHEMA, row_group_rows) for b in range(books)
        ]
        self._tables = {
            name: _ParquetTable(self.out_dir / name, schema, row_group_rows) for name, schema in FILES.items()
        }
        self._started = time.perf_counter()
        self._identity: dict[str, Any] = {}
        self._steps = 0
        self._first_step: int | None = None
        self._last_step: int | None = None
        self._first_time_ns: int | None = None
        self._last_time_ns: int | None = None
        self._event_count = 0
        self._trade_count = 0
        n = len(self.uids)
        self._first_values = np.full((n, books), np.nan)
        self._last_values = np.full((n, books), np.nan)
        self._volume = np.zeros(n)
        self._score = np.full(n, np.nan)
        self._portfolio: list[np.ndarray] = []  # per step: value summed over books (NaN if one is missing)
        self._summary: dict[str, Any] | None = None

    # --- conversions ---------------------------------------------------------------------------------

    def _price(self, ticks: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(ticks, dtype=np.float64) * self.tick_size, 12)

    def _qty(self, lots: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(lots, dtype=np.float64) * self.lot_size, 12)

    def _quote(self, units: np.ndarray) -> np.ndarray:
        return np.asarray(units, dtype=np.float64) / self.quote_units

    # --- recording -----------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._summary is not None

    def record(self, result: Any, validator: Any) -> None:
        """Records one step: its events, the books' top levels, prices, and the agents' inventory
        values, volumes and scores. Call it once per step, after the validator scored the step."""
        if self.closed:
            raise RuntimeError("the run writer is closed")
        if not self._identity:
            self._identity = _identity(validator)
        t = int(result.time_ns)
        step = int(validator.step_index)
        events = result.events
        # Every row of the step is built first and handed to the files afterwards, so an
        # interruption while building leaves no partial step behind.
        rows: list[tuple[_ParquetTable, dict[str, np.ndarray]]] = []
        for b in range(self.books):
            rows.append((self._events[b], self._event_columns(events[events["book"] == b])))
        trades = events[events["kind"] == int(EventKind.TRADE)]
        trades = trades[np.lexsort((trades["seq"], trades["book"], trades["ts_ns"]))]
        rows.append((self._tables[TRADES_FILE], self._trade_columns(trades)))
        l2, prices = self._book_columns(t, result, validator)
        rows.append((self._tables[L2_FILE], l2))
        rows.append((self._tables[PRICES_FILE], prices))

        values = (
            np.asarray(validator.inventory_values(result), dtype=np.float64)[self.uids] / self.quote_units
        )
        volume = self._quote(np.asarray(validator.traded_totals(result))[self.uids])
        score = np.asarray(validator.miner_scores(), dtype=np.float64)[self.uids]
        n, books = len(self.uids), self.books
        rows.append(
            (
                self._tables[AGENTS_FILE],
                {
                    "time_ns": np.full(n * books, t, dtype=np.int64),
                    "step": np.full(n * books, step, dtype=np.int64),
                    "uid": np.repeat(self.uids, books).astype(np.int32),
                    "name": np.repeat(self.names, books),
                    "book": np.tile(np.arange(books, dtype=np.int32), n),
                    "inventory_value": values.reshape(-1),
                    "traded_volume": volume.reshape(-1),
                },
            )
        )
        rows.append(
            (
                self._tables[SCORES_FILE],
                {
                    "time_ns": np.full(n, t, dtype=np.int64),
                    "step": np.full(n, step, dtype=np.int64),
                    "uid": self.uids.astype(np.int32),
                    "name": self.names,
                    "score": score,
                },
            )
        )
        for table, columns in rows:
            table.add(columns)

        ok = np.isfinite(values)
        self._first_values = np.where(np.isnan(self._first_values) & ok, values, self._first_values)
        self._last_values = np.where(ok, values, self._last_values)
        self._volume = volume.sum(axis=1)
        self._score = score
        self._portfolio.append(values.sum(axis=1))
        self._steps += 1
        self._event_count += len(events)
        self._trade_count += len(trades)
        if self._first_step is None:
            self._first_step, self._first_time_ns = step, t
        self._last_step, self._last_time_ns = step, t

    def _event_columns(self, ev: np.ndarray) -> dict[str, np.ndarray]:
        cols = {name: np.ascontiguousarray(ev[name]) for name in EVENT_DTYPE.names or ()}
        cols["kind_name"] = KIND_NAMES[ev["kind"]]
        cols["side_name"] = SIDE_NAMES[ev["side"]]
        cols["price"] = self._price(ev["price_ticks"])
        cols["quantity"] = self._qty(ev["qty_lots"])
        return cols

    def _trade_columns(self, tr: np.ndarray) -> dict[str, np.ndarray]:
        return {
            "time_ns": tr["ts_ns"].astype(np.int64),
            "book": tr["book"].astype(np.int32),
            "seq": tr["seq"].astype(np.uint64),
            "price": self._price(tr["price_ticks"]),
            "quantity": self._qty(tr["qty_lots"]),
            "notional": self._quote(tr["notional_quote"]),
            "side": SIDE_NAMES[tr["side"]],
            "taker_agent": tr["agent"].astype(np.int64),
            "maker_agent": tr["other_agent"].astype(np.int64),
            "taker_order_id": tr["order_id"].astype(np.uint64),
            "maker_order_id": tr["other_order_id"].astype(np.uint64),
            "taker_fee": self._quote(tr["taker_fee"]),
            "maker_fee": self._quote(tr["maker_fee"]),
        }

    def _book_columns(
        self, t: int, result: Any, validator: Any
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        parts: dict[str, list[np.ndarray]] = {name: [] for name in L2_SCHEMA.names}
        best = np.full((2, self.books), np.nan)
        depth = np.zeros((2, self.books))
        for b in range(self.books):
            book = result.books[b]
            for s, side in enumerate(("bid", "ask")):
                levels = (book.bids if side == "bid" else book.asks)[: self.depth]
                k = len(levels)
                qty = self._qty(levels["qty_lots"])
                parts["time_ns"].append(np.full(k, t, dtype=np.int64))
                parts["book"].append(np.full(k, b, dtype=np.int32))
                parts["side"].append(np.full(k, side, dtype=object))
                parts["level"].append(np.arange(k, dtype=np.int32))
                parts["price"].append(self._price(levels["price_ticks"]))
                parts["quantity"].append(qty)
                parts["orders"].append(levels["count"].astype(np.int32))
                if k:
                    best[s, b] = self._price(levels["price_ticks"][:1])[0]
                depth[s, b] = float(qty.sum())
        l2 = {name: np.concatenate(p) for name, p in parts.items()}
        sim = validator.sim
        fundamental = np.array([sim.fundamental_ticks(b) for b in range(self.books)])
        for b in range(self.books):
            self._realism.add(t, b, result.books[b].bids, result.books[b].asks, float(fundamental[b]))
        prices = {
            "time_ns": np.full(self.books, t, dtype=np.int64),
            "book": np.arange(self.books, dtype=np.int32),
            "best_bid": best[0],
            "best_ask": best[1],
            "mid": (best[0] + best[1]) / 2,
            "fundamental": self._price(fundamental),
            "signal": self._price(np.array([sim.signal_price(b) for b in range(self.books)])),
            "bid_depth": depth[0],
            "ask_depth": depth[1],
        }
        return l2, prices

    # --- the end -------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Writes every buffered row as a row group now (the files stay open)."""
        for table in (*self._events, *self._tables.values()):
            table.flush()

    def close(self, summary: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Finishes every Parquet file and writes ``summary.json``: the run's identity and extent and
        one entry per agent (PnL, Sharpe, volume, score, rank). Entries of ``summary`` (e.g.
        ``{"interrupted": True}``) are added to it and take precedence. Returns what was written;
        closing again returns the same without writing."""
        if self._summary is not None:
            return self._summary
        for table in (*self._events, *self._tables.values()):
            table.close()
        out = self._build_summary()
        out.update(summary or {})
        out = _json_safe(out)
        tmp = self.out_dir / ".summary.json.tmp"
        tmp.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.out_dir / SUMMARY_FILE)
        self._summary = out
        return out

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close({"interrupted": True} if exc_type is not None else None)

    def _build_summary(self) -> dict[str, Any]:
        end_ns = self._identity.get("end_ns")
        pnl = np.where(
            np.isfinite(self._first_values) & np.isfinite(self._last_values),
            self._last_values - self._first_values,
            0.0,
        ).sum(axis=1)
        series = np.array(self._portfolio).reshape(len(self._portfolio), len(self.uids))
        agents: list[dict[str, Any]] = []
        for i, uid in enumerate(self.uids):
            first, last = self._first_values[i], self._last_values[i]
            agents.append(
                {
                    "uid": int(uid),
                    "name": str(self.names[i]),
                    "pnl": float(pnl[i]),
                    "sharpe": sharpe(series[:, i]),
                    "volume": float(self._volume[i]),
                    "score": float(self._score[i]),
                    "initial_value": float(first.sum()) if np.isfinite(first).all() else None,
                    "final_value": float(last.sum()) if np.isfinite(last).all() else None,
                }
            )
        ranked = sorted(
            agents,
            key=lambda a: (
                -a["score"] if math.isfinite(a["score"]) else math.inf,
                -a["pnl"],
                a["uid"],
            ),
        )
        for rank, a in enumerate(ranked, start=1):
            a["rank"] = rank
        files = {event_file(b): t.rows for b, t in enumerate(self._events)}
        files.update({name: t.rows for name, t in self._tables.items()})
        last = self._last_time_ns
        return {
            "format": FORMAT,
            "config_hash": self._identity.get("config_hash"),
            "seed": self._identity.get("seed"),
            "books": self.books,
            "tick_size": self.tick_size,
            "lot_size": self.lot_size,
            "steps": self._steps,
            "first_step": self._first_step,
            "last_step": self._last_step,
            "start_time_ns": self._first_time_ns,
            "end_time_ns": last,
            "duration_s": (last or 0) / S,
            "configured_duration_s": end_ns / S if end_ns is not None else None,
            "complete": bool(end_ns is not None and last is not None and last >= end_ns),
            "wall_time_s": time.perf_counter() - self._started,
            "events": self._event_count,
            "trades": self._trade_count,
            "rows": files,
            "agents": ranked,
            "realism": self._realism_summary(),
        }

    def _realism_summary(self) -> dict[str, Any] | None:
        """The market's realism facts and their targets (taos.analysis.realism), or None without a
        miner_base or steps."""
        if self.miner_base is None or self._steps == 0:
            return None
        rep = realism(
            self._realism.series(),
            miner_base=self.miner_base,
            warmup_s=self.warmup_s,
            depth_profile=self._realism.depth_profile(),
        )
        return rep.as_dict()


def run_folder_name(config: Any) -> str:
    """The default name of a run's folder, ``<config-hash>-<seed>`` (the hash shortened to 12 hex
    digits), for a :class:`taos.config.Config`."""
    from taos.validator.store import simulation_identity

    ident = simulation_identity(config)
    return f"{ident.config_hash[:12]}-{ident.seed}"


def claim_run_folder(out: Path | None, default: Path, overwrite: bool = False) -> Path:
    """The folder a new run writes into, created (empty) here; a run never overwrites another
    unless asked to.

    - ``out`` None: ``default`` (``runs/<config-hash>-<seed>``), or if that exists the first free
      of ``default-2``, ``default-3``… (claimed with an atomic ``mkdir``: two runs started at
      once get two folders).
    - ``out`` given: used if missing or empty; a folder with files in it is refused.
    - ``overwrite``: the run folder ``out`` (or ``default``) is emptied of the earlier run's files
      (``config.toml``, ``summary.json``, the Parquet tables, ``events/``, ``plots/``; other files
      stay) and reused. Only a run folder is emptied: a folder with files but neither
      ``config.toml`` nor ``summary.json`` is refused.

    Raises:
        LocalError: the folder is taken, not a folder, or cannot be created (one line)."""
    from taos.local.runner import LocalError

    if out is None and not overwrite:
        n = 1
        folder = default
        while True:
            try:
                folder.parent.mkdir(parents=True, exist_ok=True)
                folder.mkdir()
                return folder
            except FileExistsError:
                n += 1
                folder = default.with_name(f"{default.name}-{n}")
            except OSError as e:
                raise LocalError(f"cannot create the run folder {folder}: {e.strerror or e}") from None
    folder = default if out is None else out
    flag = "--out" if out is not None else "the run folder"
    if folder.exists() and not folder.is_dir():
        raise LocalError(f"{flag} {folder} is a file, not a folder")
    if folder.is_dir() and any(folder.iterdir()):
        if not overwrite:
            raise LocalError(
                f"--out {folder} is not empty: name a new folder, or add --overwrite to replace the run in it"
            )
        if not ((folder / CONFIG_FILE).is_file() or (folder / SUMMARY_FILE).is_file()):
            raise LocalError(
                f"{flag} {folder} is not empty and not a run folder (no {CONFIG_FILE}, no {SUMMARY_FILE}): "
                "--overwrite empties only a run folder"
            )
        _clear_run(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise LocalError(f"cannot create the run folder {folder}: {e.strerror or e}") from None
    return folder


def _clear_run(folder: Path) -> None:
    """Removes the files a run writes from ``folder``; other files stay."""
    import shutil

    for name in (CONFIG_FILE, SUMMARY_FILE, *TABLE_FILES):
        (folder / name).unlink(missing_ok=True)
    for sub in (Path(event_file(0)).parent.name, "plots"):
        if (folder / sub).is_dir():
            shutil.rmtree(folder / sub)


def _identity(validator: Any) -> dict[str, Any]:
    """The simulation's identity (config hash and seed) and its end, from the validator."""
    from taos.validator.store import simulation_identity

    ident = simulation_identity(validator.config)
    return {"config_hash": ident.config_hash, "seed": ident.seed, "end_ns": int(validator.end_ns)}


def _json_safe(value: Any) -> Any:
    """NaN and ±inf → None (JSON has no such numbers); numpy scalars → Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --- the terminal table --------------------------------------------------------------------------

SUMMARY_COLUMNS = ("rank", "agent", "uid", "pnl", "sharpe", "volume", "score")


def summary_rows(run: Run | Mapping[str, Any]) -> list[dict[str, Any]]:
    """One row per agent, best first: rank, agent (name), uid, pnl, sharpe, volume, score — from a
    loaded run or a summary dict (what ``RunWriter.close`` returns)."""
    summary = run if isinstance(run, Mapping) else run.summary
    agents = summary.get("agents")
    if not isinstance(agents, list):
        raise ValueError("the summary has no agents list")
    return [
        {
            "rank": a["rank"],
            "agent": a["name"],
            "uid": a["uid"],
            "pnl": a["pnl"],
            "sharpe": a["sharpe"],
            "volume": a["volume"],
            "score": a["score"],
        }
        for a in sorted(agents, key=lambda a: a["rank"])
    ]


def _number(v: Any, fmt: str) -> str:
    return "n/a" if v is None else format(v, fmt)


def print_summary(
    rows: Sequence[Mapping[str, Any]], console: Console | None = None, *, title: str = "Agents"
) -> None:
    """Prints ``summary_rows`` as a table with rich."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for name in SUMMARY_COLUMNS:
        table.add_column(name, justify="left" if name == "agent" else "right")
    for r in rows:
        table.add_row(
            str(r["rank"]),
            str(r["agent"]),
            str(r["uid"]),
            _number(r["pnl"], ",.2f"),
            _number(r["sharpe"], ".3f"),
            _number(r["volume"], ",.2f"),
            _number(r["score"], ".4f"),
        )
    (console or Console()).print(table)
