"""The ``taos`` command: ``taos local`` runs a market offline, ``taos sweep`` many of them."""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from taos.config import ConfigError
from taos.local.runner import (
    AgentSpec,
    LocalError,
    build_config,
    build_market,
    build_scoring,
    default_agents,
    parse_duration,
    policy_summary,
    run_market,
)
from taos.validator.policy import SCORING_FLAGS as _H

app = typer.Typer(add_completion=False, no_args_is_help=False, help="τaos research tools.")


@app.command()
def local(
    config: Annotated[
        Path | None, typer.Option(help="Simulation config (TOML); default: the demo market")
    ] = None,
    books: Annotated[int | None, typer.Option(help="Number of books (overrides the config)")] = None,
    duration: Annotated[str | None, typer.Option(help="Simulated duration, e.g. 2h, 30m, 90s")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (overrides the config)")] = None,
    threads: Annotated[int | None, typer.Option(help="Simulator threads; 0 = one per core")] = None,
    agent: Annotated[list[str] | None, typer.Option(help="DIR/NAME.py[:k=v,...]; repeatable")] = None,
    count: Annotated[list[int] | None, typer.Option(help="How many of each --agent, in order")] = None,
    transport: Annotated[
        str, typer.Option(help="inprocess or http (miner processes on loopback)")
    ] = "inprocess",
    out: Annotated[Path | None, typer.Option(help="Output folder; default runs/<config-hash>-<seed>")] = None,
    timeout: Annotated[float, typer.Option(help="Miner query timeout in seconds")] = 3.0,
    scoring_preset: Annotated[str, typer.Option("--scoring.preset", help=_H["preset"])] = "taos",
    scoring_weights: Annotated[str | None, typer.Option("--scoring.weights", help=_H["weights"])] = None,
    scoring_elimination: Annotated[
        str | None, typer.Option("--scoring.elimination", help=_H["elimination"])
    ] = None,
    scoring_challenge: Annotated[
        str | None, typer.Option("--scoring.challenge", help=_H["challenge"])
    ] = None,
    scoring_metric_weights: Annotated[
        str | None, typer.Option("--scoring.metric-weights", help=_H["metric-weights"])
    ] = None,
    scoring_checkpoint_period: Annotated[
        str | None, typer.Option("--scoring.checkpoint-period", help=_H["checkpoint-period"])
    ] = None,
    scoring_decay_window: Annotated[
        str | None, typer.Option("--scoring.decay-window", help=_H["decay-window"])
    ] = None,
    scoring_decay_exponent: Annotated[
        str | None, typer.Option("--scoring.decay-exponent", help=_H["decay-exponent"])
    ] = None,
    scoring_rank_share: Annotated[
        str | None, typer.Option("--scoring.rank-share", help=_H["rank-share"])
    ] = None,
    scoring_rank_fraction: Annotated[
        str | None, typer.Option("--scoring.rank-fraction", help=_H["rank-fraction"])
    ] = None,
    scoring_max_drawdown: Annotated[
        str | None, typer.Option("--scoring.max-drawdown", help=_H["max-drawdown"])
    ] = None,
    scoring_max_daily_drawdown: Annotated[
        str | None, typer.Option("--scoring.max-daily-drawdown", help=_H["max-daily-drawdown"])
    ] = None,
    scoring_challenge_period: Annotated[
        str | None, typer.Option("--scoring.challenge-period", help=_H["challenge-period"])
    ] = None,
    scoring_challenge_clock: Annotated[
        str | None, typer.Option("--scoring.challenge-clock", help=_H["challenge-clock"])
    ] = None,
    scoring_challenge_weight: Annotated[
        str | None, typer.Option("--scoring.challenge-weight", help=_H["challenge-weight"])
    ] = None,
    scoring_challenge_thresholds: Annotated[
        str | None, typer.Option("--scoring.challenge-thresholds", help=_H["challenge-thresholds"])
    ] = None,
    rules_preset: Annotated[
        str | None,
        typer.Option(
            "--rules.preset", help="Trading rules: taos (off) or ptn (all on); default: the scoring preset"
        ),
    ] = None,
    rules_max_leverage: Annotated[
        float | None, typer.Option("--rules.max-leverage", help="Largest target leverage applied")
    ] = None,
    rules_max_open: Annotated[
        int | None, typer.Option("--rules.max-open", help="Open orders + positions per miner; 0 = off")
    ] = None,
    rules_position_interval: Annotated[
        float | None,
        typer.Option("--rules.position-interval", help="Sim seconds between position changes; 0 = off"),
    ] = None,
    rules_rate_limit: Annotated[
        int | None, typer.Option("--rules.rate-limit", help="Replies per hotkey per window; 0 = off")
    ] = None,
    rules_rate_window: Annotated[
        float | None, typer.Option("--rules.rate-window", help="Rate-limit window in wall seconds")
    ] = None,
    rules_sessions: Annotated[
        str | None,
        typer.Option("--rules.sessions", help="Trading sessions: a TOML array, a TOML file, or none"),
    ] = None,
) -> None:
    """Run a full market on this machine: simulator, validator loop and local agents."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from taos.analysis import load_run, plot_run
    from taos.local.output import RunWriter, print_summary, run_folder_name, summary_rows
    from taos.validator.rules import rules_from_options

    console = Console()
    scoring_flags = {
        "weights": scoring_weights,
        "elimination": scoring_elimination,
        "challenge": scoring_challenge,
        "metric-weights": scoring_metric_weights,
        "checkpoint-period": scoring_checkpoint_period,
        "decay-window": scoring_decay_window,
        "decay-exponent": scoring_decay_exponent,
        "rank-share": scoring_rank_share,
        "rank-fraction": scoring_rank_fraction,
        "max-drawdown": scoring_max_drawdown,
        "max-daily-drawdown": scoring_max_daily_drawdown,
        "challenge-period": scoring_challenge_period,
        "challenge-clock": scoring_challenge_clock,
        "challenge-weight": scoring_challenge_weight,
        "challenge-thresholds": scoring_challenge_thresholds,
    }
    try:
        scoring = build_scoring(scoring_preset, scoring_flags)
        cfg, text = build_config(
            config,
            books=books,
            duration_s=parse_duration(duration) if duration else None,
            seed=seed,
            threads=threads,
        )
        counts = list(count or [])
        specs = (
            [AgentSpec.parse(a, counts[i] if i < len(counts) else 1) for i, a in enumerate(agent)]
            if agent
            else default_agents()
        )
        if len(counts) > len(agent or []):
            raise LocalError(f"{len(counts)} --count values for {len(agent or [])} --agent options")
        try:
            rules = rules_from_options(
                scoring_preset if rules_preset is None else rules_preset,
                max_leverage=rules_max_leverage,
                max_open=rules_max_open,
                position_interval_s=rules_position_interval,
                # a local market runs far faster than real time: the wall-clock reply rate limit of
                # preset ptn would drop most replies, so it is off unless asked for
                rate_limit=0 if rules_rate_limit is None else rules_rate_limit,
                rate_window_s=rules_rate_window,
                sessions=rules_sessions,
            )
        except ValueError as e:
            raise LocalError(str(e)) from None
        market = build_market(cfg, specs, transport, timeout, scoring, rules=rules)
    except (LocalError, ConfigError) as e:
        print(f"taos local: error: {e}", file=sys.stderr)  # one line, unwrapped
        raise typer.Exit(1) from None
    folder = out or Path("runs") / run_folder_name(cfg)
    v = market.validator
    writer = RunWriter(
        folder, text, cfg.simulation.books, market.names, cfg.market.tick_size, cfg.market.lot_size
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
            return await run_market(market, on_step, stop)

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
            "transport": transport,
            "scoring_preset": scoring_preset,
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


@app.command()
def sweep(
    config: Annotated[Path, typer.Option(help="Simulation config (TOML)")],
    seeds: Annotated[str, typer.Option(help="e.g. 1-16 or 1,3,5")] = "1",
    set_: Annotated[list[str] | None, typer.Option("--set", help="key=v1,v2,...; repeatable")] = None,
    executor: Annotated[str, typer.Option(help="process or ray")] = "process",
    address: Annotated[str | None, typer.Option(help="Ray cluster address")] = None,
    workers: Annotated[int | None, typer.Option(help="Parallel runs (process pool)")] = None,
    out: Annotated[Path, typer.Option(help="Output folder")] = Path("runs/sweep"),
) -> None:
    """Run many independent simulations (seeds x parameter values) in parallel."""
    from rich.console import Console

    from taos.local.sweep import SweepError, parse_seeds, parse_set, run_sweep

    console = Console()
    try:
        table = run_sweep(
            config, parse_seeds(seeds), [parse_set(s) for s in set_ or []], out, executor=executor,
            address=address, workers=workers,
        )  # fmt: skip
    except (SweepError, LocalError, ValueError) as e:
        print(f"taos sweep: error: {e}", file=sys.stderr)  # one line, unwrapped
        raise typer.Exit(1) from None
    console.print(table.to_string(index=False))
    console.print(f"{len(table)} runs; results in {out}")


def main() -> None:
    app()
