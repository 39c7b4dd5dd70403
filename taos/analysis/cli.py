"""``taos facts RUN_FOLDER``: the stylized facts (SPEC §5) of a run folder written by ``taos local``,
per book: the mid sampled on a fixed grid, the excess kurtosis of its log returns and the
autocorrelations of the returns and of their absolute values (``taos.analysis.run_stylized_facts``);
then the market's realism against its targets with pass/fail (``taos.analysis.realism``: returns,
depth within 10 ticks, spread, flicker), and the realism plots in ``RUN_FOLDER/plots``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from taos.analysis.stylized import StylizedFacts


def facts_parser(prog: str = "taos facts") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Print the stylized facts of a run folder of taos local, per book.",
    )
    p.add_argument(
        "run", type=Path, metavar="RUN_FOLDER", help="a run folder, e.g. runs/<config-hash>-<seed>"
    )
    p.add_argument(
        "--interval",
        type=float,
        default=60.0,
        help="seconds between two samples of the mid (default 60)",
    )
    p.add_argument(
        "--after",
        type=float,
        default=None,
        help="sample from this simulated second on, e.g. after the warm-up (default: the first mid)",
    )
    p.add_argument("--lags", type=int, default=10, help="autocorrelation lags (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument(
        "--warmup",
        type=float,
        default=900.0,
        help="the realism facts are measured from this simulated second on (default 900)",
    )
    p.add_argument(
        "--no-plots",
        dest="plots",
        action="store_false",
        help="do not write the realism plots into RUN_FOLDER/plots",
    )
    return p


def facts_dict(facts: dict[int, StylizedFacts], interval_s: float, after_s: float | None) -> dict[str, Any]:
    """The facts as JSON-ready data: NaN (too few returns) becomes null."""

    def num(x: float) -> float | None:
        return x if math.isfinite(x) else None

    return {
        "interval_s": interval_s,
        "after_s": after_s,
        "books": {
            str(book): {
                "returns": f.returns,
                "excess_kurtosis": num(f.excess_kurtosis),
                "abs_autocorrelation": [num(x) for x in f.abs_autocorrelation],
                "raw_autocorrelation": [num(x) for x in f.raw_autocorrelation],
            }
            for book, f in sorted(facts.items())
        },
    }


def facts(argv: Sequence[str] | None = None) -> int:
    """``taos facts``: exit code 0, or 1 with one line on stderr for a folder that is not a
    finished run folder or options out of range."""
    a = facts_parser().parse_args(argv)
    error = _check(a)
    if error is None:
        from taos.analysis.realism import run_realism
        from taos.analysis.run import RunFolderError, load_run, run_stylized_facts

        try:
            run = load_run(a.run, l2=False)
            result = run_stylized_facts(run, interval_s=a.interval, after_s=a.after, lags=a.lags)
            market = run_realism(run, a.warmup)
        except RunFolderError as e:
            error = str(e)
    if error is not None:
        print(f"taos facts: error: {' '.join(error.split())}", file=sys.stderr)
        return 1
    from taos.analysis.realism import plot_realism, report_text

    plots = plot_realism(market, a.run / "plots") if a.plots else []
    if a.json:
        data = facts_dict(result, a.interval, a.after)
        data["realism"] = market.as_dict()
        print(json.dumps(data, indent=1))
        return 0
    start = "the first mid" if a.after is None else f"{a.after:g} s"
    books = f"{run.books} book{'s' if run.books != 1 else ''}"
    print(f"{a.run}: {books}, the mid every {a.interval:g} s from {start}")
    for book, f in sorted(result.items()):
        print(f"book {book}: {f.summary()}")
    print(report_text(market))
    if plots:
        print(f"{len(plots)} realism plots in {a.run / 'plots'}")
    return 0


def _check(a: argparse.Namespace) -> str | None:
    if not (math.isfinite(a.interval) and a.interval > 0):
        return f"--interval must be a number of seconds > 0, got {a.interval}"
    if a.after is not None and not (math.isfinite(a.after) and a.after >= 0):
        return f"--after must be a number of seconds >= 0, got {a.after}"
    if not (math.isfinite(a.warmup) and a.warmup >= 0):
        return f"--warmup must be a number of seconds >= 0, got {a.warmup}"
    if not 1 <= a.lags <= 1_000:
        return f"--lags must be in [1, 1000], got {a.lags}"
    return None
