"""``python -m taos.validator``: the validator process (``run_validator.sh`` maps its short flags
here). A problem found at start (flags, config, wallet, chain, registration, state folder,
checkpoint, ports, alerting key) stops it with one line on stderr and exit code 1.

SIGINT/SIGTERM stop it within ``STOP_GRACE_S``: the step under way ends (a query in flight is cut
short: its answers are dropped, as if every miner had timed out) and is saved. Should the step not
end in time (a chain call that hangs, say), the process exits at the deadline anyway: the state
saved at the previous step is complete, as after a kill -9.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from taos.chain import ChainError, make_chain
from taos.config import ConfigError, load
from taos.logs import add_log_flags, setup_logging
from taos.validator.flags import add_policy_flags, rules_from_args, scoring_from_args

log = logging.getLogger("taos.validator")


class StartError(Exception):
    pass


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m taos.validator", description="Run a τaos validator.")
    p.add_argument("--chain", default="finney", help="finney, test, ws(s)://URL, or local:FILE (offline)")
    p.add_argument("--netuid", type=int, default=79)
    p.add_argument("--wallet.path", dest="wallet_path", default="~/.bittensor/wallets")
    p.add_argument("--wallet.name", dest="wallet_name", default="taos")
    p.add_argument("--wallet.hotkey", dest="wallet_hotkey", default="validator")
    p.add_argument("--config", default="configs/default.toml", help="simulation config (TOML)")
    p.add_argument("--state", default="~/.taos/validator", help="folder of the database and checkpoints")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="start a new simulation: an existing state folder is kept aside as STATE.<UTC time>",
    )
    p.add_argument("--timeout", type=float, default=3.0, help="miner query timeout in seconds")
    p.add_argument("--weights-interval", dest="weights_interval", type=float, default=1_200.0)
    p.add_argument(
        "--checkpoint-steps",
        dest="checkpoint_steps",
        type=int,
        default=120,
        help="a full simulation checkpoint every this many steps (the steps between are journaled)",
    )
    p.add_argument(
        "--checkpoint-interval",
        dest="checkpoint_interval",
        type=float,
        default=600.0,
        help="... or every this many wall seconds, whichever comes first",
    )
    p.add_argument("--prometheus-port", dest="prometheus_port", type=int, default=9001, help="0 = off")
    p.add_argument(
        "--prometheus-host",
        dest="prometheus_host",
        default="127.0.0.1",
        help="address of the metrics endpoint (127.0.0.1; 0.0.0.0 exposes it to the network)",
    )
    p.add_argument("--pagerduty-key", dest="pagerduty_key", default=None)
    p.add_argument(
        "--allow-private-endpoints",
        dest="allow_private_endpoints",
        action="store_true",
        help="query miners that publish loopback or private addresses (on by itself with local:FILE)",
    )
    add_policy_flags(p)
    p.add_argument(
        "--pace",
        type=float,
        default=1.0,
        help="simulated seconds per wall second: 1 runs the simulation in real time, 0 as fast as the miners answer",
    )
    p.add_argument(
        "--simulations",
        type=int,
        default=0,
        help="stop after this many simulations; 0 (the default): run simulation after simulation without end",
    )
    p.add_argument(
        "--keep-simulations",
        dest="keep_simulations",
        type=int,
        default=30,
        help="ended simulations whose summaries the state folder keeps (30)",
    )
    p.add_argument("--max-steps", dest="max_steps", type=int, default=None, help=argparse.SUPPRESS)
    add_log_flags(p)
    return p


MAX_TIMEOUT_S = 60.0
"""The longest miner query timeout: a step waits that long for its slowest miner."""
STOP_GRACE_S = 4.0
"""Seconds between SIGTERM/SIGINT and the exit, at most."""


def _check_flags(args: argparse.Namespace) -> None:
    if not 0 < args.timeout <= MAX_TIMEOUT_S:  # also NaN
        raise StartError(f"--timeout must be in (0, {MAX_TIMEOUT_S:g}] seconds, got {args.timeout}")
    if not 0 <= args.weights_interval < math.inf:
        raise StartError(
            f"--weights-interval must be a finite number of seconds >= 0, got {args.weights_interval}"
        )
    if args.checkpoint_steps < 1:
        raise StartError(f"--checkpoint-steps must be >= 1, got {args.checkpoint_steps}")
    if not 0 < args.checkpoint_interval < math.inf:
        raise StartError(
            f"--checkpoint-interval must be a finite number of seconds > 0, got {args.checkpoint_interval}"
        )
    if not 0 <= args.prometheus_port <= 65_535:
        raise StartError(f"--prometheus-port must be in [0, 65535], got {args.prometheus_port}")
    if not 0 <= args.netuid <= 65_535:
        raise StartError(f"--netuid must be in [0, 65535], got {args.netuid}")
    if args.max_steps is not None and args.max_steps < 0:
        raise StartError(f"--max-steps must be >= 0, got {args.max_steps}")
    if args.simulations < 0:
        raise StartError(f"--simulations must be >= 0 (0: without end), got {args.simulations}")
    if not 1 <= args.keep_simulations <= 100_000:
        raise StartError(f"--keep-simulations must be in [1, 100000], got {args.keep_simulations}")
    if not (math.isfinite(args.pace) and 0 <= args.pace <= 1_000_000):
        raise StartError(f"--pace must be a number in [0, 1000000] (0: unpaced), got {args.pace}")


def archive_state(state: Path) -> Path:
    """Moves the state folder ``state`` aside, to ``STATE.<UTC time>`` (``-2``, ``-3``… if taken),
    for ``--fresh``; returns where it went.

    Raises:
        StartError: the folder is in use by a running validator, or cannot be moved."""
    import fcntl

    lock = state / "lock"
    if lock.exists():
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StartError(f"--fresh: the state folder {state} is in use by another process") from None
        finally:
            os.close(fd)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    target = state.with_name(f"{state.name}.{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = state.with_name(f"{state.name}.{stamp}-{n}")
    try:
        state.rename(target)
    except OSError as e:
        raise StartError(f"--fresh: cannot move the state folder {state} aside: {e.strerror or e}") from None
    return target


def build(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from taos.chain.bittensor_chain import import_bittensor
    from taos.validator.metrics import ValidatorMetrics
    from taos.validator.secret import simulation_secret, with_secret_seed
    from taos.validator.store import ValidatorStore
    from taos.validator.transport import HttpTransport
    from taos.validator.validator import Validator, ValidatorSettings

    _check_flags(args)
    try:
        scoring = scoring_from_args(args)
        rules = rules_from_args(args)
    except ValueError as e:
        raise StartError(str(e)) from None
    config = load(args.config)
    try:
        rules.check_books(config.simulation.books)
    except ValueError as e:
        raise StartError(f"--rules.sessions: {e}") from None
    bt = import_bittensor()
    wallet = bt.Wallet(name=args.wallet_name, hotkey=args.wallet_hotkey, path=args.wallet_path)
    chain = make_chain(args.chain, args.netuid, wallet)
    if chain.own_uid() is None:
        raise StartError(f"hotkey {chain.hotkey} is not registered on {args.chain} (netuid {args.netuid})")
    state = Path(args.state).expanduser()
    if args.fresh and state.exists():
        archived = archive_state(state)
        logging.getLogger("taos.validator").info("--fresh: the old state folder is kept as %s", archived)
    store = ValidatorStore(state)
    try:
        config = with_secret_seed(config, simulation_secret(state))  # taos.validator.secret
        metrics = ValidatorMetrics()
        settings = ValidatorSettings(
            timeout_s=args.timeout,
            weights_interval_s=args.weights_interval,
            checkpoint_steps=args.checkpoint_steps,
            checkpoint_interval_s=args.checkpoint_interval,
            scoring=scoring,
            rules=rules,
            simulations=args.simulations or None,  # 0: simulation after simulation, without end
            keep_simulations=args.keep_simulations,
        )
        local = args.chain.startswith("local:")
        transport = HttpTransport(wallet, {}, {}, allow_private=args.allow_private_endpoints or local)
        v = Validator(config, chain, transport, settings, metrics=metrics, store=store)
    except BaseException:
        store.close()
        raise
    return v, metrics


def _start_errors() -> tuple[type[BaseException], ...]:
    """The exceptions that mean "this cannot start as configured": reported in one line."""
    from taos.simulator import CheckpointError
    from taos.validator.store import StoreError

    return (
        ConfigError,
        ChainError,
        StartError,
        StoreError,
        CheckpointError,
        ImportError,
        OSError,
        ValueError,
    )


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 500 else text[:497] + "..."


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    with contextlib.ExitStack() as resources:
        try:
            errors = _start_errors()
        except ImportError as e:  # no simulator extension (a miner-only install)
            print(f"taos.validator: error: {_one_line(e)}", file=sys.stderr)
            return 1
        try:
            v, metrics = build(args)
            resources.callback(v.store.close)
            served = None
            if args.prometheus_port:
                server = metrics.serve(args.prometheus_port, args.prometheus_host)
                resources.callback(server.close)
                served = server.url
            alerter = _alerter(args.pagerduty_key)
            resources.callback(alerter.close)
        except errors as e:
            print(f"taos.validator: error: {_one_line(e)}", file=sys.stderr)
            return 1
        log.info(
            "validator %s (uid %s) on %s netuid %d: simulation %d from step %d, %d books, pace %g, "
            "miners queried from sim time %g s (the grace period), state %s, metrics %s",
            v.chain.hotkey,
            v.chain.own_uid(),
            args.chain,
            args.netuid,
            v.simulation_index,
            v.step_index,
            v.books,
            args.pace,
            v.grace_ns / 1e9,
            Path(args.state).expanduser(),
            served or "off",
        )
        asyncio.run(_run(v, args.max_steps, alerter, args.pace))
    return 0


def _alerter(key: str | None):  # type: ignore[no-untyped-def]
    from taos.validator.alerts import NullAlerter, PagerDutyAlerter

    return PagerDutyAlerter(key, source="taos-validator") if key else NullAlerter()


async def _run(v, max_steps: int | None, alerter, pace: float = 1.0) -> None:  # type: ignore[no-untyped-def]
    from taos.validator.loop import run

    stop = asyncio.Event()
    _on_stop_signals(stop)
    try:
        v.sync_chain()
        steps = await run(v, max_steps=max_steps, stop=stop, pace=pace, log_steps=True)
        log.info(
            "stopped after %d steps in simulation %d at sim time %.1f s",
            steps,
            v.simulation_index,
            v.sim.time_ns / 1e9,
        )
    except Exception as e:
        alerter.trigger(f"validator stopped: {type(e).__name__}: {e}", severity="critical")
        raise
    finally:
        await v.transport.close()


def _on_stop_signals(stop: asyncio.Event) -> None:
    """SIGINT/SIGTERM set ``stop`` (the loop ends its step, saves it and returns) and start a
    deadline: a process still running ``STOP_GRACE_S`` later exits at once, with the state of the
    last saved step. Python-level handlers, so that a signal is seen even while the loop is busy
    in a synchronous call."""
    loop = asyncio.get_running_loop()
    deadline: list[threading.Timer] = []

    def exit_now() -> None:
        log.warning("not stopped %g s after the signal: exiting now with the last saved step", STOP_GRACE_S)
        logging.shutdown()
        os._exit(1)

    def handler(signum: int, frame: object) -> None:
        if not deadline:
            log.info("%s: stopping after the current step", signal.Signals(signum).name)
            timer = threading.Timer(STOP_GRACE_S, exit_now)
            timer.daemon = True
            timer.start()
            deadline.append(timer)
        loop.call_soon_threadsafe(stop.set)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)
