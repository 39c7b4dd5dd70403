"""The names in a run folder, shared by the writer (``taos.local.output``) and the reader
(``taos.analysis.run``). No imports beyond the standard library: reading a run needs no simulator."""

from __future__ import annotations

FORMAT = "taos-run/1"
"""Written into ``summary.json``; a folder with another format is not read."""

CONFIG_FILE = "config.toml"
SUMMARY_FILE = "summary.json"
L2_FILE = "l2.parquet"
TRADES_FILE = "trades.parquet"
PRICES_FILE = "prices.parquet"
AGENTS_FILE = "agents.parquet"
SCORES_FILE = "scores.parquet"
TABLE_FILES = (L2_FILE, TRADES_FILE, PRICES_FILE, AGENTS_FILE, SCORES_FILE)
"""The Parquet files of a run folder besides the per-book event files."""


def event_file(book: int) -> str:
    """The events file of ``book``, relative to the run folder."""
    return f"events/book-{book}.parquet"
