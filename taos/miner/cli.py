"""``python -m taos.miner``: load an agent, publish the endpoint, serve validators.

A problem found at start (agent, parameters, wallet, chain, registration) stops
the miner with one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from taos.agents import Agent, AgentLoadError, create_agent, load_agent_class, parse_params
from taos.chain import ChainError, make_chain
from taos.miner.auth import Gatekeeper
from taos.miner.pool import AgentPool
from taos.miner.server import MinerServer
from taos.protocol import DEFAULT_MAX_BYTES

log = logging.getLogger("taos.miner")
DEFAULT_WALLET_PATH = str(Path("~/.bittensor/wallets").expanduser())


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
    p.add_argument("--max-body-mib", dest="max_body_mib", type=float, default=DEFAULT_MAX_BYTES / 2**20)
    p.add_argument(
        "--log-level", dest="log_level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    return p


class Miner:
    """Everything checked and built, ready to serve."""

    def __init__(self, args: argparse.Namespace) -> None:
        if not args.agent_timeout > 0:
            raise StartError(f"--agent.timeout must be > 0, got {args.agent_timeout}")
        if not 0 <= args.port <= 65_535:
            raise StartError(f"--port must be in [0, 65535], got {args.port}")
        cls = load_agent_class(args.agent_path, args.agent_name)
        params = parse_params(args.agent_params)
        import bittensor as bt

        wallet = bt.Wallet(name=args.wallet_name, hotkey=args.wallet_hotkey, path=args.wallet_path)
        self.chain = make_chain(args.chain, args.netuid, wallet)
        uid = self.chain.own_uid()
        if uid is None:
            raise StartError(
                f"hotkey {self.chain.hotkey} is not registered on {args.chain} (netuid {args.netuid})"
            )
        first = create_agent(cls, uid, params)  # checks the parameters now; serves the first validator

        def factory() -> Agent:
            return cls(uid, dict(params))

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
        self.pool = AgentPool(factory, timeout_s=args.agent_timeout, first=first)
        gate = Gatekeeper(self.chain, min_stake=args.min_stake)
        self.server = MinerServer(gate, self.pool, max_body_bytes=int(args.max_body_mib * 2**20))
        self.agent_name = cls.__name__

    async def serve(self, stop: asyncio.Event) -> None:
        runner = web.AppRunner(self.server.app(), access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
            port = runner.addresses[0][1]
            try:
                await asyncio.get_running_loop().run_in_executor(
                    None, self.chain.serve, self.external_ip, port
                )
                log.info("published %s:%d for uid %d", self.external_ip, port, self.uid)
            except ChainError as e:
                log.error("publishing the endpoint failed (serving anyway): %s", e)
            log.info("%s serving on %s:%d", self.agent_name, self.host, port)
            await stop.wait()
        finally:
            await runner.cleanup()
            self.pool.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        miner = Miner(args)
    except (AgentLoadError, ChainError, StartError, ImportError) as e:
        print(f"taos.miner: error: {e}", file=sys.stderr)
        return 1
    asyncio.run(_run(miner))
    return 0


async def _run(miner: Miner) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await miner.serve(stop)
