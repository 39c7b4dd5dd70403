"""Market realism of a configuration against the targets of docs/models.md ("Realism"): seeds x books
x hours after a 15-minute warm-up, each seed one market without miners, averaged over books and
seeds with the range over seeds, and the price impact of metaorders.

    python benchmarks/realism.py [--config configs/default.toml] [--seeds 1,2,3,4] [--books 8]
                                 [--hours 4] [--threads 2] [--impact] [--plots DIR] [--json]

With --impact, after each seed's run the market is restored at checkpoints every half hour from an
hour after the warm-up, and a test agent buys (even books) or sells (odd books) a fraction 0.1 % ... 10 % of
the book's volume of the hour before, as market orders every 5 s over 10 minutes; its impact is
the signed log change of the mid at the end against the same market without the metaorder (the
same checkpoint run on: the simulation is deterministic), also printed every 100 s of the metaorder.
The mean impact per size is fitted by a power law (the square-root law: exponent about 0.5), with
the exponent's bootstrap standard error over the metaorders (each start and book a whole row).

Under the table, the mid's pinning to the fundamental (the s.d. of ln(mid / fundamental) and its
autocorrelation at 5 s, 1 min and 10 min) and the market's own order-flow imbalance (the s.d. of
the 10-minute net aggressor volume as a fraction of the hourly volume), mean over seeds with their
range: what made the impact linear before the latent book (docs/models.md, "Why the pinned market's
impact was linear").
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

S = 1_000_000_000
FRACTIONS = (0.001, 0.003, 0.01, 0.03, 0.1)
IMPACT_S = 600.0
PATH_S = 100.0  # the impact path is reported at every PATH_S of the metaorder
DEPTH_LEVELS = 40


def run_seed(config: str, seed: int, books: int, hours: float, threads: int, impact: bool) -> tuple:
    from taos.analysis.realism import (
        FLOW_WINDOW_S,
        WARMUP_S,
        Pinning,
        Recorder,
        flow_imbalance,
        gap_stats,
        miner_base,
        realism,
    )
    from taos.config import load, to_core
    from taos.simulator import Side, Simulation

    cfg = load(config)
    core = to_core(cfg)
    core.books, core.seed, core.threads = books, seed, threads
    # One idle miner slot that can afford any metaorder (the impact runs restore this state).
    core.miner_slots, core.miner_quote, core.miner_base_lots = 1, 10**15, 10**12
    step_ns = round(cfg.simulation.publish_interval_s * S)
    end_ns = round((WARMUP_S + hours * 3600) * S)
    sim = Simulation(core)
    rec = Recorder(books, cfg.market.lot_size)
    # metaorders start every half hour from one hour after the warm-up (the volume of the hour
    # before is known), ending before the run does
    starts = (
        {
            round((WARMUP_S + 1800 * k) * S)
            for k in range(2, int(2 * hours))
            if WARMUP_S + 1800 * k + IMPACT_S <= WARMUP_S + hours * 3600
        }
        if impact
        else set()
    )
    states: dict[int, bytes] = {}
    volume = np.zeros((round(3600 * S / step_ns), books))  # base traded per step, the last hour
    volumes: dict[int, np.ndarray] = {}
    flow: list[np.ndarray] = []  # after the warm-up: per step, net aggressor base then traded base
    k = 0
    t = 0
    started = time.perf_counter()
    while t < end_ns:
        t += step_ns
        r = sim.step(t, None, DEPTH_LEVELS, 0)
        ev = r.events
        trades = ev[ev["kind"] == 3]
        volume[k % len(volume)] = (
            np.bincount(trades["book"], weights=trades["qty_lots"], minlength=books) * cfg.market.lot_size
        )
        if t > round(WARMUP_S * S):
            sign = np.where(trades["side"] == int(Side.BUY), 1.0, -1.0)
            net = np.bincount(trades["book"], weights=sign * trades["qty_lots"], minlength=books)
            flow.append(np.stack([net * cfg.market.lot_size, volume[k % len(volume)]]))
        k += 1
        for b in range(books):
            lv = r.books[b]
            rec.add(t, b, lv.bids, lv.asks, sim.fundamental_ticks(b))
        if t in starts:
            states[t] = sim.save_state()
            volumes[t] = volume.sum(axis=0)
    wall = time.perf_counter() - started
    series = rec.series()
    rep = realism(series, miner_base=miner_base(cfg), depth_profile=rec.depth_profile())
    f = np.array(flow).reshape(-1, 2, books)
    sd, acf = gap_stats(series)
    pin = Pinning(sd, acf, flow_imbalance(f[:, 0], f[:, 1], round(FLOW_WINDOW_S * S / step_ns), len(volume)))
    impacts, paths = measure_impact(cfg, core, states, volumes) if impact else ({}, {})
    return rep, pin, impacts, paths, wall


def measure_impact(
    cfg, core, states: dict[int, bytes], volumes: dict[int, np.ndarray]
) -> tuple[dict[float, list[float]], dict[float, list[np.ndarray]]]:  # type: ignore[no-untyped-def]
    """Signed impact per fraction at the metaorder's end (one value per book and start), and its
    path (the impact at every PATH_S, one array per book and start)."""
    from taos.simulator import Currency, InstructionKind, Side, Simulation, Stp, instruction_array

    step_ns = round(cfg.simulation.publish_interval_s * S)
    children = round(IMPACT_S * S / step_ns)
    lot = cfg.market.lot_size
    out: dict[float, list[float]] = {f: [] for f in FRACTIONS}
    paths: dict[float, list[np.ndarray]] = {f: [] for f in FRACTIONS}
    books = core.books
    every = max(1, round(PATH_S * S / step_ns))

    def mids(sim, t0: int, instr=None) -> np.ndarray:  # type: ignore[no-untyped-def]
        """The mids every PATH_S over IMPACT_S from t0 (the last row at its end), shape (points,
        books), with ``instr`` sent at every step."""
        t = t0
        rows = []
        for i in range(children):
            batch = None
            if instr is not None:
                batch = instr.copy()
                batch["ts_ns"] = t + step_ns // 2
            t += step_ns
            sim.step(t, batch, 1, 0)
            if (i + 1) % every == 0 or i + 1 == children:
                bb = [sim.best(b) for b in range(books)]
                rows.append([(b + a) / 2 if b and a else np.nan for b, a in bb])
        return np.array(rows)

    for t0, state in sorted(states.items()):
        control = mids(Simulation.restore(core, state), t0)
        for f in FRACTIONS:
            instr = instruction_array(books)
            instr["kind"] = InstructionKind.PLACE_MARKET
            instr["book"] = np.arange(books)
            instr["agent"] = 0
            instr["currency"] = Currency.BASE
            instr["stp"] = Stp.CANCEL_OLDEST
            instr["side"] = [Side.BUY if b % 2 == 0 else Side.SELL for b in range(books)]
            qty = np.maximum(1, np.round(f * volumes[t0] / children / lot)).astype(np.int64)
            instr["qty_lots"] = qty
            treated = mids(Simulation.restore(core, state), t0, instr)
            sign = np.array([1.0 if b % 2 == 0 else -1.0 for b in range(books)])
            signed = sign * np.log(treated / control)
            out[f].extend(signed[-1].tolist())
            paths[f].extend(signed.T)
    return out, paths


def pinning_text(pins: list, lags_s: tuple[float, ...]) -> str:  # type: ignore[type-arg]
    """The pinning figures, mean over seeds with their range (docs/models.md, "Why the impact is
    linear")."""

    def fig(values: list[float], fmt: str) -> str:
        v = np.array(values, dtype=float)
        return f"{np.nanmean(v):{fmt}} ({np.nanmin(v):{fmt}} … {np.nanmax(v):{fmt}})"

    acf = ", ".join(f"{lag:g} s {fig([p.gap_acf[i] for p in pins], '+.2f')}" for i, lag in enumerate(lags_s))
    return (
        f"  pinning: ln(mid / fundamental) s.d. {fig([p.gap_sd_bp for p in pins], '.2f')} bp; "
        f"its autocorrelation at {acf}\n"
        f"  own flow: s.d. of the 10-minute net aggressor volume "
        f"{fig([100 * p.imbalance for p in pins], '.2f')} % of the hourly volume"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "configs" / "default.toml"))
    ap.add_argument("--seeds", default="1,2,3,4")
    ap.add_argument("--books", type=int, default=8)
    ap.add_argument("--hours", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--impact", action="store_true", help="measure metaorder impact (checkpoints)")
    ap.add_argument("--plots", type=Path, default=None, help="write the realism plots into this folder")
    ap.add_argument("--json", action="store_true", help="print the combined facts as JSON")
    a = ap.parse_args(argv)
    from taos.analysis.realism import PINNING_LAGS_S, Impact, bootstrap_se, combine, plot_realism, report_text

    seeds = [int(s) for s in a.seeds.split(",")]
    reports, pins = [], []
    impacts: dict[float, list[float]] = {f: [] for f in FRACTIONS}
    paths: dict[float, list[np.ndarray]] = {f: [] for f in FRACTIONS}
    for seed in seeds:
        rep, pin, imp, path, wall = run_seed(a.config, seed, a.books, a.hours, a.threads, a.impact)
        reports.append(rep)
        pins.append(pin)
        for f, v in imp.items():
            impacts[f].extend(v)
            paths[f].extend(path[f])
        print(f"seed {seed}: {wall:.0f} s", file=sys.stderr)
        print(report_text(rep).splitlines()[0], file=sys.stderr)
    total = combine(reports)
    fit, fit_se = None, None
    if a.impact:
        means = [float(np.nanmean(impacts[f])) for f in FRACTIONS]
        fit = Impact.fit(FRACTIONS, means)
        total.impact_exponent, total.impact_concave = fit.exponent, fit.concave
        # every start runs every size on the same books, so a row is one (start, book) at all sizes
        starts = np.column_stack([impacts[f] for f in FRACTIONS])
        fit_se = bootstrap_se(starts, lambda m: Impact.fit(FRACTIONS, m.tolist()).exponent)
    pinning = {
        "gap_sd_bp": [p.gap_sd_bp for p in pins],
        "gap_acf": {f"{lag:g}s": [p.gap_acf[i] for p in pins] for i, lag in enumerate(PINNING_LAGS_S)},
        "flow_imbalance": [p.imbalance for p in pins],
    }
    if a.json:
        se = None if fit_se is None or not math.isfinite(fit_se) else fit_se
        print(json.dumps({**total.as_dict(), "impact_exponent_se": se, "pinning_by_seed": pinning}, indent=1))
    else:
        print(report_text(total))
        print(pinning_text(pins, PINNING_LAGS_S))
        if fit is not None:
            for f in FRACTIONS:
                v = np.array(impacts[f])
                se = np.nanstd(v) / math.sqrt(max(np.isfinite(v).sum(), 1))
                path = np.nanmean(np.array(paths[f]), axis=0) * 1e4
                print(
                    f"  impact {f:>6.3f} of hourly volume: {np.nanmean(v) * 1e4:+.2f} bp (± {se * 1e4:.2f}); "
                    f"every {PATH_S:g} s: " + " ".join(f"{x:+.2f}" for x in path)
                )
            print(
                f"  impact exponent {fit.exponent:.2f} ± {fit_se:.2f} (bootstrap over the {len(impacts[FRACTIONS[0]])}"
                f" metaorders of each size, by start and book)"
            )
    if a.plots is not None:
        for p in plot_realism(total, a.plots, fit):
            print(f"wrote {p}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
