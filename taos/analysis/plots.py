"""The plots of a run folder, as PNG files (matplotlib's Agg renderer; no display needed).

    mid_fundamental.png  per book: the mid price and the fundamental
    spread_depth.png     per book: the spread, and the quantity in the recorded top levels per side
    equity.png           per agent: the portfolio value (inventory value summed over books)
    scores.png           per agent: the score

Regenerate them from a run folder with ``python -m taos.analysis.plots RUN_DIR [--out DIR]``.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from taos.analysis.run import Run, load_run

S = 1_000_000_000
MAX_LEGEND = 20  # more lines than this get no legend
PLOT_FILES = ("mid_fundamental.png", "spread_depth.png", "equity.png", "scores.png")


def _time_axis(run: Run) -> tuple[float, str]:
    """Divisor of time_ns and the unit's name: hours for long runs, minutes otherwise."""
    end = run.summary.get("end_time_ns") or 0
    return (3600.0 * S, "hours") if end > 2 * 3600 * S else (60.0 * S, "minutes")


def _figure(rows: int, cols: int, width: float, height: float) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width * cols, height * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def _legend(ax: Axes) -> None:
    handles, _ = ax.get_legend_handles_labels()
    if 0 < len(handles) <= MAX_LEGEND:
        ax.legend(fontsize="small")


def _save(fig: Figure, path: Path) -> Path:
    fig.savefig(path, dpi=100)
    return path


def plot_mid_fundamental(run: Run, path: Path) -> Path:
    div, unit = _time_axis(run)
    books = run.books
    cols = min(4, books)
    fig, axes = _figure(math.ceil(books / cols), cols, 4.5, 2.8)
    for b in range(books):
        ax = axes[b]
        p = run.prices[run.prices["book"] == b]
        t = p["time_ns"].to_numpy() / div
        ax.plot(t, p["mid"].to_numpy(), lw=0.8, label="mid")
        ax.plot(t, p["fundamental"].to_numpy(), lw=0.8, ls="--", label="fundamental")
        ax.set_title(f"book {b}", fontsize="medium")
        ax.set_xlabel(unit)
        if b == 0:
            ax.set_ylabel("price")
            _legend(ax)
    for ax in axes[books:]:
        ax.set_visible(False)
    return _save(fig, path)


def plot_spread_depth(run: Run, path: Path) -> Path:
    div, unit = _time_axis(run)
    fig, (spread, bid, ask) = _figure(3, 1, 10.0, 2.8)
    for b in range(run.books):
        p = run.prices[run.prices["book"] == b]
        t = p["time_ns"].to_numpy() / div
        spread.plot(t, (p["best_ask"] - p["best_bid"]).to_numpy(), lw=0.7, label=f"book {b}")
        bid.plot(t, p["bid_depth"].to_numpy(), lw=0.7, label=f"book {b}")
        ask.plot(t, p["ask_depth"].to_numpy(), lw=0.7, label=f"book {b}")
    spread.set_ylabel("spread")
    bid.set_ylabel("bid depth (base)")
    ask.set_ylabel("ask depth (base)")
    ask.set_xlabel(unit)
    _legend(spread)
    return _save(fig, path)


def _per_agent(run: Run, path: Path, values: dict[int, tuple[np.ndarray, np.ndarray]], ylabel: str) -> Path:
    div, unit = _time_axis(run)
    fig, (ax,) = _figure(1, 1, 10.0, 4.5)
    names = run.agent_names
    for uid, (t, v) in sorted(values.items()):
        ax.plot(t / div, v, lw=0.9, label=f"{names.get(uid, uid)} ({uid})")
    if not values:
        ax.text(0.5, 0.5, "no agents recorded", ha="center", va="center", transform=ax.transAxes)
    ax.ticklabel_format(axis="y", style="plain", useOffset=False)
    ax.set_xlabel(unit)
    ax.set_ylabel(ylabel)
    _legend(ax)
    return _save(fig, path)


def plot_equity(run: Run, path: Path) -> Path:
    wide = run.portfolio()
    t = wide.index.to_numpy()
    return _per_agent(
        run,
        path,
        {int(uid): (t, wide[uid].to_numpy(dtype=float)) for uid in wide.columns},
        "portfolio value (quote)",
    )


def plot_scores(run: Run, path: Path) -> Path:
    series = {
        int(uid): (g["time_ns"].to_numpy(), g["score"].to_numpy(dtype=float))
        for uid, g in run.scores.sort_values("time_ns").groupby("uid")
    }
    return _per_agent(run, path, series, "score")


def plot_run(run: Run, out_dir: str | Path | None = None) -> list[Path]:
    """Writes every plot of ``run`` into ``out_dir`` (default: the run folder's ``plots/``) and
    returns their paths."""
    out = Path(out_dir) if out_dir is not None else run.path / "plots"
    out.mkdir(parents=True, exist_ok=True)
    makers = (plot_mid_fundamental, plot_spread_depth, plot_equity, plot_scores)
    return [make(run, out / name) for make, name in zip(makers, PLOT_FILES, strict=True)]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m taos.analysis.plots", description="Regenerates the plots of a run folder."
    )
    parser.add_argument("run_dir", type=Path, help="the run folder")
    parser.add_argument(
        "--out", type=Path, default=None, help="where to write the PNGs (default RUN_DIR/plots)"
    )
    args = parser.parse_args(argv)
    from taos.analysis.run import RunFolderError

    try:
        run = load_run(args.run_dir, l2=False)
    except RunFolderError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for path in plot_run(run, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
