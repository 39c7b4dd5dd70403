"""taos.analysis.run and taos.analysis.plots: loading a recorded run folder, refusing folders that
are not finished runs, the stylized facts of the sampled mids, and the plots."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from run_samples import BOOKS, CONFIG, NAMES, ROOT, Recorded, record_run

from taos.analysis import (
    Run,
    RunFolderError,
    load_run,
    plot_run,
    run_stylized_facts,
    sampled_mid,
    stylized_facts,
)
from taos.analysis.plots import PLOT_FILES, main

STEPS = 40
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recorded, Run]:
    rec, _ = record_run(tmp_path_factory.mktemp("analysis"), STEPS)
    return rec, load_run(rec.path)


def copy_run(rec: Recorded, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(rec.path, dst)
    return dst


def test_load_run_reads_every_file(recorded: tuple[Recorded, Run]) -> None:
    rec, run = recorded
    assert run.path == rec.path and run.config_text == CONFIG
    assert run.books == BOOKS and run.agent_names == NAMES
    assert list(run.prices.columns) == [
        "time_ns",
        "book",
        "best_bid",
        "best_ask",
        "mid",
        "fundamental",
        "signal",
        "bid_depth",
        "ask_depth",
    ]
    assert list(run.agents.columns) == [
        "time_ns",
        "step",
        "uid",
        "name",
        "book",
        "inventory_value",
        "traded_volume",
    ]
    assert list(run.scores.columns) == ["time_ns", "step", "uid", "name", "score"]
    assert {"time_ns", "book", "side", "level", "price", "quantity", "orders"} == set(run.l2.columns)
    assert run.prices["time_ns"].dtype == np.int64
    assert len(run.l2) > 0
    without_l2 = load_run(rec.path, l2=False)
    assert without_l2.l2.empty and list(without_l2.l2.columns) == list(run.l2.columns)
    assert len(without_l2.prices) == len(run.prices)
    with pytest.raises(ValueError, match="book 2 is not in this run"):
        run.events(2)


def test_tables_read_as_polars_frames_equal_the_pandas_ones(recorded: tuple[Recorded, Run]) -> None:
    _, run = recorded
    for name in ("prices", "l2", "trades", "agents", "scores"):
        frame = run.polars(name)
        expected = getattr(run, name)
        assert frame.columns == list(expected.columns) and frame.height == len(expected)
        assert frame.to_pandas().equals(expected), name
    for b in range(BOOKS):
        assert run.polars("events", b).to_pandas().equals(run.events(b))
    assert run.polars("events").height == len(run.events())
    with pytest.raises(ValueError, match="unknown table 'quotes'"):
        run.polars("quotes")
    with pytest.raises(ValueError, match="book 2 is not in this run"):
        run.polars("events", 2)
    with pytest.raises(ValueError, match="book selects the events"):
        run.polars("prices", 0)


def test_portfolio_sums_the_books(recorded: tuple[Recorded, Run]) -> None:
    _, run = recorded
    wide = run.portfolio()
    assert list(wide.columns) == sorted(NAMES) and len(wide) == STEPS
    t = int(wide.index[-1])
    last = run.agents[run.agents["time_ns"] == t].groupby("uid")["inventory_value"].sum()
    assert np.allclose(wide.loc[t].to_numpy(), last.to_numpy())
    final = {a["uid"]: a["final_value"] for a in run.summary["agents"]}
    assert wide.loc[t].to_dict() == pytest.approx(final)


def test_missing_and_foreign_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RunFolderError, match="no such run folder"):
        load_run(tmp_path / "nothing")
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("hello")
    with pytest.raises(RunFolderError, match="not a run folder"):
        load_run(tmp_path / "foreign")
    (tmp_path / "foreign" / "summary.json").write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(RunFolderError, match="format"):
        load_run(tmp_path / "foreign")
    (tmp_path / "foreign" / "summary.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="not a readable summary"):
        load_run(tmp_path / "foreign")


def test_a_run_that_was_never_closed_is_refused(tmp_path: Path) -> None:
    rec, writer = record_run(tmp_path, 5, close=False)
    with pytest.raises(RunFolderError, match="not finished"):
        load_run(rec.path)
    writer.close()
    assert load_run(rec.path).summary["steps"] == 5


def test_truncated_missing_or_changed_files_are_refused(
    recorded: tuple[Recorded, Run], tmp_path: Path
) -> None:
    rec, _ = recorded
    copy = copy_run(rec, tmp_path / "a")
    data = (copy / "prices.parquet").read_bytes()
    (copy / "prices.parquet").write_bytes(data[: len(data) // 2])  # killed while writing
    with pytest.raises(RunFolderError, match=r"prices\.parquet: not a readable Parquet file"):
        load_run(copy)

    copy = copy_run(rec, tmp_path / "b")
    (copy / "events" / "book-1.parquet").unlink()
    with pytest.raises(RunFolderError, match=r"events/book-1\.parquet is missing"):
        load_run(copy)

    copy = copy_run(rec, tmp_path / "c")
    table = pq.read_table(copy / "scores.parquet")
    pq.write_table(table.slice(0, 5), copy / "scores.parquet")
    with pytest.raises(RunFolderError, match=r"scores\.parquet: 5 rows, but the summary says 120"):
        load_run(copy)

    copy = copy_run(rec, tmp_path / "d")
    (copy / "config.toml").unlink()
    with pytest.raises(RunFolderError, match=r"config\.toml is missing"):
        load_run(copy)


def test_sampled_mid_takes_the_last_mid_at_each_grid_time(recorded: tuple[Recorded, Run]) -> None:
    _, run = recorded
    p = run.prices[run.prices["book"] == 0].set_index("time_ns")["mid"]
    every_step = sampled_mid(run, 0, interval_s=5)
    assert every_step.to_dict() == p.to_dict()
    minute = sampled_mid(run, 0, interval_s=60)
    s = 1_000_000_000
    assert list(minute.index) == [5 * s, 65 * s, 125 * s, 185 * s]
    assert list(minute) == [p[5 * s], p[65 * s], p[125 * s], p[185 * s]]
    late = sampled_mid(run, 1, interval_s=7, after_s=100)
    assert late.index[0] == 100 * s and late.index[-1] <= 200 * s
    assert late[100 * s] == run.prices.set_index(["book", "time_ns"]).loc[(1, 100 * s), "mid"]
    # between steps: the last mid before the grid time
    assert late[107 * s] == run.prices.set_index(["book", "time_ns"]).loc[(1, 105 * s), "mid"]
    with pytest.raises(ValueError, match="interval_s"):
        sampled_mid(run, 0, interval_s=0)


def test_run_stylized_facts_per_book(recorded: tuple[Recorded, Run]) -> None:
    _, run = recorded
    facts = run_stylized_facts(run, interval_s=5, lags=3)
    assert sorted(facts) == list(range(BOOKS))
    for b in range(BOOKS):
        mids = run.prices[run.prices["book"] == b].sort_values("time_ns")["mid"].to_numpy()
        expected = stylized_facts(mids, lags=3)
        assert facts[b].returns == STEPS - 1
        assert facts[b].excess_kurtosis == pytest.approx(expected.excess_kurtosis, nan_ok=True)
        assert facts[b].abs_autocorrelation == pytest.approx(expected.abs_autocorrelation, nan_ok=True)
    assert run_stylized_facts(run)[0].returns == 3  # the mid every minute: 4 prices
    assert run_stylized_facts(run, interval_s=5, after_s=100)[1].returns == 20


def test_plot_run_writes_non_empty_pngs(recorded: tuple[Recorded, Run], tmp_path: Path) -> None:
    _, run = recorded
    paths = plot_run(run, tmp_path / "plots")
    assert [p.name for p in paths] == list(PLOT_FILES)
    for p in paths:
        data = p.read_bytes()
        assert data.startswith(PNG) and len(data) > 5_000, p.name


def test_plots_are_regenerated_from_a_run_folder(recorded: tuple[Recorded, Run], tmp_path: Path) -> None:
    rec, _ = recorded
    copy = copy_run(rec, tmp_path)
    assert main([str(copy)]) == 0
    assert sorted(p.name for p in (copy / "plots").iterdir()) == sorted(PLOT_FILES)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run(
        [sys.executable, "-m", "taos.analysis.plots", str(copy), "--out", str(tmp_path / "again")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert [Path(line).name for line in out.stdout.split()] == list(PLOT_FILES)
    assert all((tmp_path / "again" / name).stat().st_size > 5_000 for name in PLOT_FILES)


def test_the_plot_command_refuses_a_folder_that_is_not_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path / "missing")]) == 2
    assert "no such run folder" in capsys.readouterr().err
