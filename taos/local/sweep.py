"""Parameter sweeps and realizations: many independent background-only simulations in parallel.

The grid is the cartesian product of every ``--set key=v1,v2,...`` and the seeds; each point is one
run of the config with those overrides, stepped at its publish interval for its duration. Runs go to
a local process pool (default) or to Ray tasks (``executor="ray"``, a local instance or a cluster at
``address``). Each run is deterministic for its (config, seed), so the executor changes nothing in
the results: they land in ``out_dir/results.csv`` (and ``results.parquet`` when pyarrow is present),
one row per run in grid order, with each run's full config in ``out_dir/configs/run_NNNN.toml``.

Override keys address the TOML structure:

- ``<section>.<key>`` for the tables ``simulation``, ``market``, ``miners``, ``fees``,
  ``fundamental``, ``signal`` (e.g. ``simulation.books``, ``fundamental.sigma``);
- ``population.<model>.count`` (also ``base``, ``quote``, ``latency_s``) and
  ``population.<model>.<param>`` (e.g. ``population.stylized_trader.sigma_c``): set on every
  population of that model.

Values are TOML values (``1.2``, ``20``, ``true``, ``"gbm"``); a bare word is taken as a string.
Every run's config is checked as a whole before anything runs, so a bad key or value fails with the
config's own error naming it.

Command line: ``python -m taos.local.sweep --config configs/small.toml --seeds 1-16
--set population.stylized_trader.sigma_c=1.2,1.8 --out sweeps/sigma_c``.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import copy
import itertools
import json
import math
import multiprocessing
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from taos.config import ConfigError, loads, parse_toml, to_core
from taos.local.data import DEMO_DURATION_S, data_dir

if TYPE_CHECKING:
    import pandas as pd

S = 1_000_000_000
LAGS = 10
SECTIONS = ("simulation", "market", "miners", "fees", "fundamental", "signal")
POPULATION_FIELDS = ("count", "base", "quote", "latency_s")


class SweepError(ValueError):
    """A bad seed list, override or executor choice."""


# --- parsing -------------------------------------------------------------------------------------


def parse_seeds(text: str) -> list[int]:
    """Seeds from ``"1-16"``, ``"1,3,5"`` or ``"1-4,9"`` (ranges inclusive), in the given order.
    Raises SweepError for an empty item, a non-integer, a negative seed, a descending range or a
    seed given twice."""
    seeds: list[int] = []
    if not text.strip():
        raise SweepError("seeds: empty list")
    for item in text.split(","):
        part = item.strip()
        lo_text, sep, hi_text = part.partition("-")
        try:
            lo = int(lo_text)
            hi = int(hi_text) if sep else lo
        except ValueError:
            raise SweepError(
                f"seeds: {part!r} is not a seed or a range a-b of non-negative integers"
            ) from None
        if lo < 0 or hi < 0:
            raise SweepError(f"seeds: {part!r}: seeds must be >= 0")
        if hi < lo:
            raise SweepError(f"seeds: range {part!r} ends before it starts")
        if hi >= 2**63:
            raise SweepError(f"seeds: {part!r}: seeds must be < 2**63")
        for s in range(lo, hi + 1):
            if s in seeds:
                raise SweepError(f"seeds: seed {s} is given twice")
            seeds.append(s)
    return seeds


def _value(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text  # a bare word: a string


def parse_set(text: str) -> tuple[str, list[Any]]:
    """``"population.stylized_trader.sigma_c=1.2,1.8"`` → ``("population.stylized_trader.sigma_c",
    [1.2, 1.8])``. Checks the shape of the key (see the module docstring); whether the key exists and
    the values are in range is checked against the config by ``grid``/``run_sweep``."""
    key, sep, values_text = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SweepError(f"--set {text!r}: expected key=value[,value...]")
    parts = key.split(".")
    if any(not p for p in parts):
        raise SweepError(f"--set {key!r}: empty part in the key")
    if parts[0] == "population":
        if len(parts) != 3:
            raise SweepError(f"--set {key!r}: population keys are population.<model>.<param or count>")
    elif parts[0] in SECTIONS:
        if len(parts) != 2:
            raise SweepError(f"--set {key!r}: expected {parts[0]}.<key>")
        if key == "simulation.seed":
            raise SweepError("--set simulation.seed: give seeds with --seeds")
    else:
        raise SweepError(
            f"--set {key!r}: unknown section {parts[0]!r} (one of {', '.join((*SECTIONS, 'population'))})"
        )
    items = [v.strip() for v in _split_values(values_text)]
    if not items or any(not v for v in items):
        raise SweepError(f"--set {key!r}: empty value in {values_text!r}")
    values = [_value(v) for v in items]
    if len({json.dumps(v) for v in values}) != len(values):
        raise SweepError(f"--set {key!r}: a value is given twice")
    return key, values


def _split_values(text: str) -> list[str]:
    """Splits on commas outside brackets and quotes, so ``latency_s=[0.001,0.01],[0,0.1]`` works."""
    out, depth, quote, cur = [], 0, "", ""
    for ch in text:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        cur += ch
    out.append(cur)
    return out


def apply_override(data: dict[str, Any], key: str, value: Any) -> None:
    """Sets one override in a parsed TOML document (in place)."""
    parts = key.split(".")
    if parts[0] == "population":
        _, model, name = parts
        pops = [p for p in data.get("population", []) if isinstance(p, dict) and p.get("model") == model]
        if not pops:
            have = sorted({str(p.get("model")) for p in data.get("population", []) if isinstance(p, dict)})
            raise SweepError(
                f"--set {key}: no population has model {model!r} (the config has {', '.join(have)})"
            )
        for p in pops:
            if name in POPULATION_FIELDS:
                p[name] = value
            else:
                p.setdefault("params", {})[name] = value
    else:
        section, name = parts
        table = data.setdefault(section, {})
        if not isinstance(table, dict):
            raise SweepError(f"--set {key}: {section} is not a table in the config")
        table[name] = value


# --- TOML output ---------------------------------------------------------------------------------


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} {v!r} as a TOML value")


def _toml_table(lines: list[str], header: str, table: dict[str, Any], array: bool = False) -> None:
    lines.append(f"[[{header}]]" if array else f"[{header}]")
    subtables = []
    for k, v in table.items():
        if isinstance(v, dict):
            subtables.append((k, v))
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    for k, v in subtables:
        _toml_table(lines, f"{header}.{k}", v)


def dump_toml(data: dict[str, Any]) -> str:
    """A config document as TOML text (the structures a τaos config uses: tables, arrays of tables
    one level deep with sub-tables, scalars and arrays of scalars)."""
    lines: list[str] = []
    tables = []
    for k, v in data.items():
        if isinstance(v, dict) or (isinstance(v, list) and v and all(isinstance(x, dict) for x in v)):
            tables.append((k, v))
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    for k, v in tables:
        for t in v if isinstance(v, list) else [v]:
            if lines:
                lines.append("")
            _toml_table(lines, k, t, array=isinstance(v, list))
    return "\n".join(lines) + "\n"


# --- the grid ------------------------------------------------------------------------------------


def grid(
    config_text: str, seeds: Sequence[int], sets: Sequence[tuple[str, list[Any]]], source: str = "<config>"
) -> list[dict[str, Any]]:
    """One run spec per point of sets x seeds (the first --set varies slowest, seeds fastest), each
    holding its full config text with the seed and one thread per simulation. Every point's config
    is validated here, so a bad key or value fails before anything runs."""
    base = parse_toml(config_text, source)
    keys = [k for k, _ in sets]
    if len(set(keys)) != len(keys):
        raise SweepError(f"--set: key {next(k for k in keys if keys.count(k) > 1)} is given twice")
    specs: list[dict[str, Any]] = []
    for combo in itertools.product(*(values for _, values in sets)):
        overrides = dict(zip(keys, combo, strict=True))
        data = copy.deepcopy(base)
        for k, v in overrides.items():
            apply_override(data, k, v)
        for seed in seeds:
            run = copy.deepcopy(data)
            sim = run.setdefault("simulation", {})
            sim["seed"] = seed
            sim["threads"] = 1
            text = dump_toml(run)
            try:
                to_core(loads(text, source=source))
            except ConfigError as e:
                where = ", ".join(f"{k}={v!r}" for k, v in overrides.items())
                raise ConfigError(f"{e} (with {where})" if where else str(e)) from e
            specs.append(
                {"run": len(specs), "seed": seed, "overrides": overrides, "config": text, "source": source}
            )
    return specs


# --- one run -------------------------------------------------------------------------------------


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Runs one background-only simulation for its duration, stepping at the publish interval, and
    returns its results: run index, seed, the overrides (one column per key), event and trade counts,
    each book's final mid price (``final_mid_<b>``, NaN for a one-sided book), the stylized facts of
    the 1-minute mid returns after the grace period averaged over books (``excess_kurtosis``,
    ``acf_abs_1..10``, ``acf_raw_1..10``) and ``one_sided_share``, the share of (book, minute)
    samples after the grace period with an empty side. Deterministic for a given (config, seed)."""
    from taos.analysis import autocorrelation, excess_kurtosis, log_returns
    from taos.simulator import EventKind, Simulation

    cfg = loads(spec["config"], source=spec.get("source", "<config>"))
    core = to_core(cfg)
    core.threads = 1
    sim = Simulation(core)
    books = cfg.simulation.books
    end = round(cfg.simulation.duration_s * S)
    publish = round(cfg.simulation.publish_interval_s * S)
    grace = round(cfg.simulation.grace_period_s * S)
    minute = 60 * S
    next_sample = max(minute, -(-grace // minute) * minute)
    events = trades = 0
    samples: list[list[float]] = []  # per minute, per book: mid in ticks or NaN
    now = 0
    while now < end:
        now = min(end, now + publish)
        result = sim.step(now)
        ev = result.events
        events += int(ev.size)
        trades += int(np.count_nonzero(ev["kind"] == EventKind.TRADE))
        while now >= next_sample:
            row = []
            for b in range(books):
                bid, ask = sim.best(b)
                row.append((bid + ask) / 2 if bid > 0 and ask > 0 else math.nan)
            samples.append(row)
            next_sample += minute
    out: dict[str, Any] = {"run": spec["run"], "seed": spec["seed"]}
    out.update(spec["overrides"])
    out["events"] = events
    out["trades"] = trades
    tick = cfg.market.tick_size
    for b in range(books):
        bid, ask = sim.best(b)
        out[f"final_mid_{b}"] = (bid + ask) / 2 * tick if bid > 0 and ask > 0 else math.nan
    mids = np.array(samples, dtype=float).reshape(-1, books).T  # books x minutes
    kurt, acf_abs, acf_raw = [], [], []
    for m in mids:
        p = m[~np.isnan(m)]
        r = log_returns(p)
        kurt.append(excess_kurtosis(r))
        acf_abs.append(autocorrelation(np.abs(r), LAGS) if r.size else np.full(LAGS, np.nan))
        acf_raw.append(autocorrelation(r, LAGS) if r.size else np.full(LAGS, np.nan))
    out["excess_kurtosis"] = _nanmean(np.array(kurt))
    for name, acf in (("acf_abs", acf_abs), ("acf_raw", acf_raw)):
        per_lag = np.array(acf).reshape(books, LAGS)
        for k in range(LAGS):
            out[f"{name}_{k + 1}"] = _nanmean(per_lag[:, k])
    out["one_sided_share"] = float(np.isnan(mids).mean()) if mids.size else math.nan
    return out


def _nanmean(x: np.ndarray) -> float:
    x = x[~np.isnan(x)]
    return float(x.mean()) if x.size else math.nan


# --- the sweep -----------------------------------------------------------------------------------


def _run_process(specs: list[dict[str, Any]], workers: int | None) -> list[dict[str, Any]]:
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        return list(pool.map(run_one, specs))


def _run_ray(specs: list[dict[str, Any]], address: str | None, workers: int | None) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise SweepError("taos sweep --executor ray needs the ray extra: pip install 'taos[ray]'") from None
    started = False
    if not ray.is_initialized():
        if address is not None:
            ray.init(address=address)
        else:
            ray.init(num_cpus=workers)
        started = True
    try:
        task = ray.remote(num_cpus=1)(run_one)
        return list(ray.get([task.remote(s) for s in specs]))
    finally:
        if started:
            ray.shutdown()


def run_sweep(
    config_path: str | Path,
    seeds: Sequence[int],
    sets: Sequence[tuple[str, list[Any]]],
    out_dir: str | Path,
    executor: str = "process",
    address: str | None = None,
    workers: int | None = None,
) -> pd.DataFrame:
    """Runs the grid ``sets x seeds`` of ``config_path`` and returns the per-run results (one row per
    run, in grid order; see ``run_one``). ``executor`` is ``"process"`` (a local pool of ``workers``
    processes, default one per core) or ``"ray"`` (tasks on the Ray instance already initialized in
    this process, else on the cluster at ``address``, else on a new local instance with ``workers``
    CPUs). Writes ``results.csv``, ``results.parquet`` (if pyarrow is installed) and
    ``configs/run_NNNN.toml`` under ``out_dir``."""
    import pandas as pd

    if executor not in ("process", "ray"):
        raise SweepError(f"executor must be 'process' or 'ray', got {executor!r}")
    if address is not None and executor != "ray":
        raise SweepError("an address is only used with executor 'ray'")
    if workers is not None and workers < 1:
        raise SweepError(f"workers must be >= 1, got {workers}")
    if not seeds:
        raise SweepError("seeds: empty list")
    path = Path(config_path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from e
    specs = grid(text, seeds, sets, source=str(path))
    out = Path(out_dir)
    (out / "configs").mkdir(parents=True, exist_ok=True)
    for s in specs:
        (out / "configs" / f"run_{s['run']:04d}.toml").write_text(s["config"], encoding="utf-8")
    rows = _run_process(specs, workers) if executor == "process" else _run_ray(specs, address, workers)
    frame = pd.DataFrame(rows).sort_values("run", kind="stable").reset_index(drop=True)
    frame.to_csv(out / "results.csv", index=False)
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        pass
    else:
        frame.to_parquet(out / "results.parquet", index=False)
    return frame


def parser() -> argparse.ArgumentParser:
    """The parser of ``taos sweep``."""
    parser = argparse.ArgumentParser(
        prog="taos sweep", description="Runs many independent background-only simulations in parallel."
    )
    parser.add_argument(
        "--config",
        default=None,
        help="the TOML config of every run; default: the demo market, as taos local's (configs/small.toml, 30 minutes)",
    )
    parser.add_argument("--seeds", default="1", help="seeds: 1-16, 1,3,5 or 1-4,9 (default 1)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="values of one config key (repeatable; the grid is their product with the seeds)",
    )
    parser.add_argument("--out", default="runs/sweep", help="output folder (default runs/sweep)")
    parser.add_argument("--executor", choices=("process", "ray"), default="process")
    parser.add_argument("--address", default=None, help="Ray cluster address (executor ray)")
    parser.add_argument("--workers", type=int, default=None, help="parallel runs (default: one per core)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
        sets = [parse_set(s) for s in args.set]
        config = args.config
        if config is None:  # taos local's default: the small market for half an hour
            config = data_dir("configs") / "small.toml"
            if not any(key == "simulation.duration_s" for key, _ in sets):
                sets.append(("simulation.duration_s", [DEMO_DURATION_S]))
        frame = run_sweep(config, seeds, sets, args.out, args.executor, args.address, args.workers)
    except (SweepError, ConfigError) as e:
        print(f"taos sweep: error: {e}", file=sys.stderr)
        return 2
    print(f"{len(frame)} runs → {Path(args.out) / 'results.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
