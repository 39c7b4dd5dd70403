"""Reading a run folder (written by ``taos.local.output.RunWriter``) back into pandas or polars.

``load_run(path)`` checks that the folder is a finished run (a ``summary.json`` of the known format,
every Parquet file complete, the row counts the summary names) and returns a :class:`Run`: one
DataFrame per file, read when first used; the L3 events, the largest files, are read per book on demand with
``Run.events(book)``. ``Run.polars(table)`` gives any table as a polars DataFrame instead.
``run_stylized_facts`` computes the stylized facts (SPEC §5) of each book's mid
sampled at a fixed interval. ``docs/research.md`` describes every file and column.

The Parquet files can as well be read directly by any Parquet reader (polars, DuckDB, pyarrow).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
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
from taos.analysis.stylized import StylizedFacts, stylized_facts

S = 1_000_000_000


class RunFolderError(ValueError):
    """The folder is not a finished run folder; the message says what is missing or broken."""


class Run:
    """A loaded run folder. Units as written: decimals in quote/base currency, times in ns.

    The tables are read from their Parquet files when first asked for and kept: reading a run to
    plot its prices and scores does not load its trades or L2 (the largest files), so the memory
    used follows what is read, not the length of the run."""

    def __init__(self, path: Path, config_text: str, summary: dict[str, Any], *, l2: bool = True) -> None:
        self.path = path
        self.config_text = config_text
        self.summary = summary
        self._with_l2 = l2

    @functools.cached_property
    def prices(self) -> pd.DataFrame:
        """time_ns, book, best_bid, best_ask, mid, fundamental, signal, bid_depth, ask_depth"""
        return _read(self.path / PRICES_FILE)

    @functools.cached_property
    def l2(self) -> pd.DataFrame:
        """time_ns, book, side, level, price, quantity, orders (empty when loaded with l2=False)"""
        if not self._with_l2:
            return pq.read_schema(self.path / L2_FILE).empty_table().to_pandas()
        return _read(self.path / L2_FILE)

    @functools.cached_property
    def trades(self) -> pd.DataFrame:
        """time_ns, book, seq, price, quantity, notional, side, taker/maker agent, ..."""
        return _read(self.path / TRADES_FILE)

    @functools.cached_property
    def agents(self) -> pd.DataFrame:
        """time_ns, step, uid, name, book, inventory_value, traded_volume"""
        return _read(self.path / AGENTS_FILE)

    @functools.cached_property
    def scores(self) -> pd.DataFrame:
        """time_ns, step, uid, name, score"""
        return _read(self.path / SCORES_FILE)

    @property
    def books(self) -> int:
        return int(self.summary["books"])

    @property
    def agent_names(self) -> dict[int, str]:
        """uid → name of the recorded agents."""
        return {int(a["uid"]): str(a["name"]) for a in self.summary["agents"]}

    def events(self, book: int | None = None) -> pd.DataFrame:
        """The L3 events of ``book`` (every column of the engine's event record, plus kind_name,
        side_name, price and quantity), or of all books one after the other."""
        books = range(self.books) if book is None else [book]
        if book is not None and not 0 <= book < self.books:
            raise ValueError(f"book {book} is not in this run (books 0..{self.books - 1})")
        frames = [_read(self.path / event_file(b)) for b in books]
        filled = [f for f in frames if len(f)]
        if len(filled) <= 1:
            return filled[0] if filled else frames[0]
        return pd.concat(filled, ignore_index=True)

    def polars(self, table: str, book: int | None = None) -> Any:
        """A table of the run as a **polars** DataFrame, read straight from its Parquet file:
        ``"prices"``, ``"l2"``, ``"trades"``, ``"agents"``, ``"scores"``, or ``"events"`` (of
        ``book``, or of all books one after the other). The files were checked by ``load_run``.

        Raises:
            ValueError: an unknown table, or a book not in the run.
            ModuleNotFoundError: polars is not installed (``pip install polars``).
        """
        try:
            import polars as pl
        except ModuleNotFoundError as e:
            raise ModuleNotFoundError("Run.polars needs the polars extra: pip install 'taos[polars]'") from e
        files = {"prices": PRICES_FILE, "l2": L2_FILE, "trades": TRADES_FILE, "agents": AGENTS_FILE}
        files["scores"] = SCORES_FILE
        if table == "events":
            if book is not None and not 0 <= book < self.books:
                raise ValueError(f"book {book} is not in this run (books 0..{self.books - 1})")
            books = range(self.books) if book is None else [book]
            return pl.concat([pl.read_parquet(self.path / event_file(b)) for b in books], how="vertical")
        if table not in files:
            raise ValueError(f"unknown table {table!r}; one of {', '.join([*files, 'events'])}")
        if book is not None:
            raise ValueError("book selects the events of one book; it is not a filter of the other tables")
        return pl.read_parquet(self.path / files[table])

    def portfolio(self) -> pd.DataFrame:
        """Each agent's portfolio value (inventory value summed over books; NaN while a book has no
        mid) per step: index time_ns, one column per uid."""
        values = self.agents.groupby(["time_ns", "uid"])["inventory_value"].sum(min_count=self.books)
        return values.unstack("uid").sort_index()


def _read(path: Path) -> pd.DataFrame:
    try:
        return pq.read_table(path).to_pandas()
    except (pa.ArrowException, OSError) as e:
        raise RunFolderError(f"{path}: not a readable Parquet file ({e})") from e


def _rows(path: Path) -> int:
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (pa.ArrowException, OSError) as e:
        raise RunFolderError(
            f"{path}: not a readable Parquet file ({e}); was the run killed before it was closed?"
        ) from e


def load_run(path: str | Path, *, l2: bool = True) -> Run:
    """Loads a finished run folder. ``l2=False`` skips the (large) L2 file: ``Run.l2`` is empty then.

    Raises:
        RunFolderError: the folder does not exist, is not a run folder (no ``config.toml`` or
            ``summary.json``, another format), or a file is missing, truncated or has other row
            counts than its summary names (the run was not closed, or files were changed since).
    """
    root = Path(path)
    if not root.is_dir():
        raise RunFolderError(f"{root}: no such run folder")
    config, summary_path = root / CONFIG_FILE, root / SUMMARY_FILE
    if not config.is_file() and not summary_path.is_file():
        raise RunFolderError(f"{root}: not a run folder (no {CONFIG_FILE} and no {SUMMARY_FILE})")
    if not summary_path.is_file():
        raise RunFolderError(
            f"{root}: the run was not finished (no {SUMMARY_FILE}); its writer was never closed, so its "
            "Parquet files may be incomplete"
        )
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise RunFolderError(f"{summary_path}: not a readable summary ({e})") from e
    if not isinstance(summary, dict) or summary.get("format") != FORMAT:
        found = summary.get("format") if isinstance(summary, dict) else None
        raise RunFolderError(f"{summary_path}: not a run summary of format {FORMAT!r} (found {found!r})")
    if not config.is_file():
        raise RunFolderError(f"{root}: {CONFIG_FILE} is missing")
    books = summary.get("books")
    if not isinstance(books, int) or books < 1 or not isinstance(summary.get("agents"), list):
        raise RunFolderError(f"{summary_path}: the summary names no books or no agents")
    expected = summary.get("rows", {})
    for name in (*TABLE_FILES, *(event_file(b) for b in range(books))):
        file = root / name
        if not file.is_file():
            raise RunFolderError(f"{root}: {name} is missing")
        rows = _rows(file)
        if name in expected and rows != expected[name]:
            raise RunFolderError(f"{file}: {rows} rows, but the summary says {expected[name]}")
    return Run(root, config.read_text(encoding="utf-8"), summary, l2=l2)


def sampled_mid(run: Run, book: int, interval_s: float = 60.0, after_s: float | None = None) -> pd.Series:
    """The mid of ``book`` every ``interval_s`` seconds: at each time of the grid, the last mid seen
    at or before it (steps without a mid, i.e. a one-sided book, are skipped). The grid starts at
    ``after_s`` (or the first mid) and ends at the last recorded step; index: time_ns."""
    if interval_s <= 0:
        raise ValueError(f"interval_s must be > 0, got {interval_s}")
    p = run.prices[run.prices["book"] == book].sort_values("time_ns")
    p = p[np.isfinite(p["mid"].to_numpy(dtype=float))]
    t = p["time_ns"].to_numpy(dtype=np.int64)
    mid = p["mid"].to_numpy(dtype=float)
    if t.size == 0:
        return pd.Series([], index=pd.Index([], name="time_ns", dtype="int64"), name="mid", dtype=float)
    start = t[0] if after_s is None else max(t[0], round(after_s * S))
    step = round(interval_s * S)
    grid = np.arange(start, t[-1] + 1, step, dtype=np.int64)
    idx = np.searchsorted(t, grid, side="right") - 1
    return pd.Series(mid[idx], index=pd.Index(grid, name="time_ns"), name="mid")


def run_stylized_facts(
    run: Run, interval_s: float = 60.0, after_s: float | None = None, lags: int = 10
) -> dict[int, StylizedFacts]:
    """Per book: the stylized facts (SPEC §5) of its mid sampled every ``interval_s`` seconds from
    ``after_s`` on (e.g. after the warm-up); see :func:`sampled_mid`."""
    return {
        b: stylized_facts(sampled_mid(run, b, interval_s, after_s).to_numpy(), lags=lags)
        for b in range(run.books)
    }
