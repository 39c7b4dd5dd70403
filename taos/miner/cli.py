"""``python -m taos.miner``: load an agent, publish the endpoint, serve validators.

A problem found at start (flags, agent, parameters, wallet, chain, registration, the port) stops
the miner with one line on stderr and exit status 1. SIGINT or SIGTERM stops it within 5 s
whatever its agents do.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from taos.agents import AgentLoadError, parse_params
from taos.chain import ChainError, make_chain
from taos.logs import add_log_flags, setup_logging
from taos.miner.auth import Gatekeeper
from taos.miner.guard import ConnectionGuard
from taos.miner.pool import AgentFile, AgentPool
from taos.miner.server import MinerServer
from taos.protocol import max_state_bytes
from taos.protocol.limits import MAX_BOOKS

log = logging.getLogger("taos.miner")
DEFAULT_WALLET_PATH = str(Path("~/.bittensor/wallets").expanduser())
BODY_MEMORY = 256 * 2**20
"""Bodies not yet authenticated hold at most this much memory together (or 4 bodies at the cap)."""
STOP_DEADLINE_S = 4.5
"""After SIGINT/SIGTERM the process exits by this time at the latest, whatever still runs."""


class StartError(Exception):
    """The miner cannot start; the message says why."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m taos.miner", description="Serve a τaos trading agent to validators."
    )
    p.add_argument("--agent.path", dest="agent_path", required=True, help="folder holding NAME.py")
    p.add_argument("--agent.name", dest="agent_name", required=True, help="agent class, defined in NAME.py")
    p.add_argument(
        "--agent.params", dest="agent_params", nargs="*", default=[], metavar="K=V", help="agent parameters"
    )
    p.add_argument(
        "--agent.timeout", dest="agent_timeout", type=float, default=2.5, help="seconds per state (2.5)"
    )
    p.add_argument(
        "--agent.kill-after",
        dest="agent_kill_after",
        type=float,
        default=None,
        help="seconds after which an agent still busy with a state is killed (4 x --agent.timeout)",
    )
    p.add_argument(
        "--max-workers",
        dest="max_workers",
        type=int,
        default=64,
        help="agent worker processes at most, one per validator (64)",
    )
    p.add_argument("--host", default="0.0.0.0", help="address to listen on (0.0.0.0)")
    p.add_argument("--port", type=int, default=8091, help="port to listen on (8091; 0 picks a free one)")
    p.add_argument("--external-ip", dest="external_ip", help="address published on chain (default: --host)")
    p.add_argument(
        "--chain", default="finney", help="finney, test, local, ws(s)://URL, or local:FILE (offline)"
    )
    p.add_argument("--netuid", type=int, default=79)
    p.add_argument("--wallet.name", dest="wallet_name", default="default")
    p.add_argument("--wallet.hotkey", dest="wallet_hotkey", default="default")
    p.add_argument("--wallet.path", dest="wallet_path", default=DEFAULT_WALLET_PATH)
    p.add_argument(
        "--min-stake", dest="min_stake", type=float, default=0.0, help="least validator stake served"
    )
    p.add_argument(
        "--max-books",
        dest="max_books",
        type=int,
        default=20,
        help="the largest market served; the request body cap is the largest state it allows (20)",
    )
    p.add_argument(
        "--max-connections", dest="max_connections", type=int, default=256, help="open connections (256)"
    )
    p.add_argument(
        "--header-timeout",
        dest="header_timeout",
        type=float,
        default=5.0,
        help="seconds for a request's headers after connecting (5)",
    )
    p.add_argument(
        "--body-timeout",
        dest="body_timeout",
        type=float,
        default=10.0,
        help="seconds for a request's body after its headers (10)",
    )
    p.add_argument(
        "--idle-timeout",
        dest="idle_timeout",
        type=float,
        default=30.0,
        help="seconds a validator's keep-alive connection may stay idle (30)",
    )
    add_log_flags(p)
    return p


def _check_flags(args: argparse.Namespace) -> None:
    def positive(flag: str, value: float, most: float = 86_400.0) -> None:
        if not 0 < value <= most:
            raise StartError(f"{flag} must be > 0 and at most {most:g}, got {value:g}")

    positive("--agent.timeout", args.agent_timeout, 3_600.0)
    if args.agent_kill_after is not None and not args.agent_timeout <= args.agent_kill_after <= 86_400:
        raise StartError(
            f"--agent.kill-after must be in [--agent.timeout ({args.agent_timeout:g}), 86400], "
            f"got {args.agent_kill_after}"
        )
    if not 1 <= args.max_workers <= 1024:
        raise StartError(f"--max-workers must be in [1, 1024], got {args.max_workers}")
    if not 0 <= args.port <= 65_535:
        raise StartError(f"--port must be in [0, 65535], got {args.port}")
    if not 1 <= args.max_books <= MAX_BOOKS:
        raise StartError(f"--max-books must be in [1, {MAX_BOOKS}], got {args.max_books}")
    if not 1 <= args.max_connections <= 65_536:
        raise StartError(f"--max-connections must be in [1, 65536], got {args.max_connections}")
    positive("--header-timeout", args.header_timeout, 600.0)
    positive("--body-timeout", args.body_timeout, 600.0)
    positive("--idle-timeout", args.idle_timeout, 3_600.0)
    if not 0 <= args.min_stake < float("inf"):
        raise StartError(f"--min-stake must be a number >= 0, got {args.min_stake}")


class Miner:
    """Flags, agent file, wallet and chain checked; ``start`` starts the agent and listens."""

    def __init__(self, args: argparse.Namespace) -> None:
        _check_flags(args)
        if not args.agent_name.isidentifier():
            raise StartError(f"agent name {args.agent_name!r} is not a Python identifier")
        agent_file = Path(args.agent_path).expanduser() / f"{args.agent_name}.py"
        if not agent_file.is_file():
            raise StartError(f"agent file {agent_file} does not exist")
        params = parse_params(args.agent_params)
        import bittensor as bt

        wallet = bt.Wallet(name=args.wallet_name, hotkey=args.wallet_hotkey, path=args.wallet_path)
        self.chain = make_chain(args.chain, args.netuid, wallet)
        uid = self.chain.own_uid()
        if uid is None:
            raise StartError(
                f"hotkey {self.chain.hotkey} is not registered on {args.chain} (netuid {args.netuid})"
            )
        self.uid = uid
        self.host = args.host
        self.port = args.port
        self.external_ip = args.external_ip or (
            "127.0.0.1"
            if args.host in ("0.0.0.0", "::", "") and args.chain.startswith("local:")
            else args.host
        )
        if self.external_ip in ("0.0.0.0", "::", ""):
            raise StartError("--external-ip is needed to publish an endpoint when listening on all addresses")
        cap = max_state_bytes(args.max_books)
        self.pool = AgentPool(
            AgentFile(str(Path(args.agent_path).expanduser().resolve()), args.agent_name, params),
            uid,
            timeout_s=args.agent_timeout,
            kill_after_s=args.agent_kill_after,
            max_workers=args.max_workers,
            max_state_bytes=cap,
        )
        guard = ConnectionGuard(
            max_connections=args.max_connections,
            header_timeout_s=args.header_timeout,
            body_timeout_s=args.body_timeout,
            idle_timeout_s=args.idle_timeout,
            max_body_memory=max(BODY_MEMORY, 4 * cap),
        )
        gate = Gatekeeper(self.chain, min_stake=args.min_stake)
        self.server = MinerServer(gate, self.pool, max_body_bytes=cap, guard=guard)
        self.agent_name = args.agent_name

    async def start(self) -> int:
        """Builds the first agent (in its worker) and listens; the port. ``StartError`` when either fails."""
        try:
            await self.pool.start()
        except AgentLoadError as e:
            raise StartError(str(e)) from None
        try:
            return await self.server.start(self.host, self.port)
        except OSError as e:
            await self.pool.close(grace_s=0.5)
            reason = os.strerror(e.errno) if e.errno and e.errno > 0 else (e.strerror or str(e))
            raise StartError(f"cannot listen on {self.host}:{self.port}: {reason}") from None

    async def serve(self, port: int, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()

        def published(done: asyncio.Future[None]) -> None:
            if done.cancelled():
                return
            e = done.exception()
            if e is None:
                log.info("published %s:%d for uid %d", self.external_ip, port, self.uid)
            elif isinstance(e, ChainError):
                log.error("publishing the endpoint failed (serving anyway): %s", e)
            else:
                log.error("publishing the endpoint failed (serving anyway): %s: %s", type(e).__name__, e)

        try:
            publishing = loop.run_in_executor(None, self.chain.serve, self.external_ip, port)
            publishing.add_done_callback(published)
            log.info("%s serving on %s:%d", self.agent_name, self.host, port)
            await stop.wait()
        finally:
            await self.server.stop()
            await self.pool.close(grace_s=1.5)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        miner = Miner(args)  # in the main thread: the chain's SDK may want it
        return asyncio.run(_run(miner))
    except (AgentLoadError, ChainError, StartError, ImportError) as e:
        print(f"taos.miner: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # Ctrl-C while connecting the chain, before the handlers below
        return 130


async def _run(miner: Miner) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def stopping() -> None:
        if not stop.is_set():
            stop.set()
            _exit_by_deadline(STOP_DEADLINE_S, miner)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping)
    port = await miner.start()
    await miner.serve(port, stop)
    return 0


def _exit_by_deadline(seconds: float, miner: Miner) -> None:
    """A stop that takes longer than ``seconds`` (a chain call that hangs, a worker that does not
    die) ends the process then, with its worker processes."""

    def deadline() -> None:
        log.warning("stopping took longer than %g s: exiting now", seconds)
        miner.pool.kill_all()
        logging.shutdown()
        os._exit(0)

    timer = threading.Timer(seconds, deadline)
    timer.daemon = True
    timer.start()
