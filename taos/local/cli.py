"""``taos local`` (also ``python -m taos.local``): a market offline, on this machine.

It takes the same ``--scoring.*`` and ``--rules.*`` flags as the validator
(:mod:`taos.validator.flags`, declared once)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from taos.config import ConfigError
from taos.local.runner import (
    AgentSpec,
    LocalError,
    build_config,
    build_market,
    default_agents,
    parse_duration,
    policy_summary,
    run_market,
)
from taos.logs import add_log_flags, setup_logging
from taos.validator.flags import add_policy_flags, rules_from_args, scoring_from_args


def local_parser(prog: str = "taos local") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Run a full market on this machine: simulator, validator loop and local agents.",
    )
    p.add_argument(
        "--config", type=Path, default=None, help="simulation config (TOML); default: the demo market"
    )
    p.add_argument("--books", type=int, default=None, help="number of books (overrides the config)")
    p.add_argument("--duration", default=None, help="simulated duration, e.g. 2h, 30m, 90s")
    p.add_argument("--seed", type=int, default=None, help="seed (overrides the config)")
    p.add_argument("--threads", type=int, default=None, help="simulator threads; 0 = one per core")
    p.add_argument("--agent", action="append", default=None, help="DIR/NAME.py[:k=v,...]; repeatable")
    p.add_argument(
        "--count", action="append", type=int, default=None, help="how many of each --agent, in order"
    )
    p.add_argument("--transport", default="inprocess", help="inprocess or http (miner processes on loopback)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder, new or empty; default runs/<config-hash>-<seed> (-2, -3... if taken)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the earlier run in the output folder (only a run folder; other files stay)",
    )
    p.add_argument("--timeout", type=float, default=3.0, help="miner query timeout in seconds")
    add_policy_flags(p)
    add_log_flags(p, level="WARNING")
    p.add_argument(
        "--log-steps",
        dest="log_steps",
        action="store_true",
        help="a log line per step, as taos validator writes (with --log-level INFO or DEBUG)",
    )
    return p


def local(argv: Sequence[str] | None = None) -> int:
    """``taos local``: a full market on this machine (simulator, validator loop, local agents)."""
    a = local_parser().parse_args(argv)
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from taos.analysis import load_run, plot_run
    from taos.analysis.realism import miner_base
    from taos.local.output import (
        RunWriter,
        claim_run_folder,
        print_summary,
        run_folder_name,
        summary_rows,
    )

    console = Console()
    setup_logging(
        a.log_level, a.log_format
    )  # to standard error as it is at each line: above the progress bar
    try:
        try:
            scoring = scoring_from_args(a)
            # a local market runs far faster than real time: the wall-clock reply rate limit of
            # preset ptn would drop most replies, so it is off unless asked for
            rules = rules_from_args(a, rate_limit=0)
        except ValueError as e:
            raise LocalError(str(e)) from None
        cfg, text = build_config(
            a.config,
            books=a.books,
            duration_s=parse_duration(a.duration) if a.duration else None,
            seed=a.seed,
            threads=a.threads,
        )
        counts = list(a.count or [])
        agent = a.agent
        specs = (
            [AgentSpec.parse(x, counts[i] if i < len(counts) else 1) for i, x in enumerate(agent)]
            if agent
            else default_agents()
        )
        if len(counts) > len(agent or []):
            raise LocalError(f"{len(counts)} --count values for {len(agent or [])} --agent options")
        market = build_market(
            cfg, specs, a.transport, a.timeout, scoring, rules=rules, log_format=a.log_format
        )
        try:
            folder = claim_run_folder(a.out, Path("runs") / run_folder_name(cfg), a.overwrite)
        except LocalError:
            market.close()
            raise
    except (LocalError, ConfigError) as e:
        print(f"taos local: error: {e}", file=sys.stderr)  # one line, unwrapped
        return 1
    v = market.validator
    writer = RunWriter(
        folder,
        text,
        cfg.simulation.books,
        market.names,
        cfg.market.tick_size,
        cfg.market.lot_size,
        miner_base=miner_base(cfg),
    )
    stop = asyncio.Event()
    started = time.perf_counter()
    events = 0
    total_s = cfg.simulation.duration_s
    with Progress(
        TextColumn("[bold]sim {task.fields[sim]}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%  {task.fields[speed]}x  {task.fields[eps]} events/s"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("run", total=total_s, sim="0:00:00", speed="-", eps="-")

        def on_step(result) -> None:  # type: ignore[no-untyped-def]
            nonlocal events
            writer.record(result, v)
            events += len(result.events)
            sim_s = result.time_ns / 1e9
            wall = max(time.perf_counter() - started, 1e-9)
            progress.update(
                task,
                completed=sim_s,
                sim=time.strftime("%H:%M:%S", time.gmtime(sim_s)),
                speed=f"{sim_s / wall:,.0f}",
                eps=f"{events / wall:,.0f}",
            )

        async def go() -> int:
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGINT, stop.set)
            return await run_market(market, on_step, stop, log_steps=a.log_steps)

        try:
            steps = asyncio.run(go())
        finally:
            market.close()
    wall = time.perf_counter() - started
    summary = writer.close(
        {
            "steps": steps,
            "wall_s": wall,
            "interrupted": stop.is_set(),
            "events": events,
            "transport": a.transport,
            "scoring_preset": a.scoring_preset,
            "rules": {
                "max_leverage": v.rules.max_leverage,
                "max_open": v.rules.max_open,
                "position_interval_s": v.rules.position_interval_s,
                "rate_limit": v.rules.rate_limit,
                "rate_window_s": v.rules.rate_window_s,
                "sessions": [
                    {
                        "books": None if x.books is None else sorted(x.books),
                        "open_s": x.open_s,
                        "close_s": x.close_s,
                    }
                    for x in v.rules.sessions
                ],
            },
            "policies": policy_summary(v, sorted(market.names)),
        }
    )
    print_summary(summary_rows(summary), console)
    plots = plot_run(load_run(folder))
    console.print(
        f"{'stopped' if stop.is_set() else 'finished'}: {steps} steps in {wall:.1f} s; "
        f"output in {folder} ({len(plots)} plots in {folder / 'plots'})"
    )
    return 0
