"""``taos local``: the simulator, the validator loop and local agents on one machine, no chain and
no wallet files (a ``LocalChain`` with generated keys).

Agents run in this process (``inprocess``: states and replies still go through the wire encoding)
or as real miner processes on loopback (``http``: signed requests, real response times).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taos.agents import AgentLoadError, create_agent, load_agent_class, parse_params
from taos.chain import LocalChain, Neuron
from taos.config import Config, ConfigError, from_dict, parse_toml, read_config_text
from taos.local.data import DEMO_DURATION_S, data_dir
from taos.validator.loop import run
from taos.validator.policy import ScoringSettings, scoring_from_flags
from taos.validator.rules import RulesSettings
from taos.validator.transport import HttpTransport, InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(d|h|m|s)?\s*$")
_UNITS = {"d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, None: 1.0}


class LocalError(Exception):
    """A bad option or input of ``taos local``; the message names it."""


def parse_duration(text: str) -> float:
    """``"2h"``, ``"30m"``, ``"90s"``, ``"1d"`` or a number of seconds → seconds (> 0)."""
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise LocalError(f"--duration must be a positive number with an optional unit d/h/m/s, got {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass(frozen=True)
class AgentSpec:
    """``DIR/NAME.py[:k=v,...]``: the class NAME from that file, its parameters, how many."""

    path: Path
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    count: int = 1

    @classmethod
    def parse(cls, text: str, count: int = 1) -> AgentSpec:
        file, _, params = text.partition(":")
        p = Path(file)
        if p.suffix != ".py":
            raise LocalError(f"--agent must be DIR/NAME.py[:k=v,...], got {text!r}")
        if count < 1:
            raise LocalError(f"--count must be >= 1, got {count}")
        try:
            parsed = parse_params([x for x in params.split(",") if x]) if params else {}
        except AgentLoadError as e:
            raise LocalError(f"--agent {text}: {e}") from e
        return cls(p.parent, p.stem, parsed, count)


def default_agents() -> list[AgentSpec]:
    """The demo's agents: two random makers and a random taker."""
    agents = data_dir("agents")
    return [AgentSpec(agents, "RandomMakerAgent", {}, 2), AgentSpec(agents, "RandomTakerAgent", {}, 1)]


def build_config(
    path: Path | None, *, books: int | None, duration_s: float | None, seed: int | None, threads: int | None
) -> tuple[Config, str]:
    """The config (the demo's when ``path`` is None) with the command line's overrides, and its
    text as used (written to the run folder)."""
    source = path if path is not None else data_dir("configs") / "small.toml"
    try:
        text = read_config_text(source)
        data = parse_toml(text, str(source))
    except ConfigError as e:
        raise LocalError(f"--config {e}") from None
    sim = data.setdefault("simulation", {})
    if path is None and duration_s is None:
        duration_s = DEMO_DURATION_S
    overrides = {"books": books, "duration_s": duration_s, "seed": seed, "threads": threads}
    lines = []
    for key, value in overrides.items():
        if value is not None:
            sim[key] = value
            lines.append(f"# override: simulation.{key} = {value}")
    try:
        config = from_dict(data, str(source))
    except ConfigError as e:
        raise LocalError(str(e)) from e
    return config, "\n".join([*lines, text])


@dataclass
class LocalMarket:
    """A validator over local agents, ready to run."""

    validator: Validator
    names: dict[int, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    tmp: tempfile.TemporaryDirectory[str] | None = None

    def close(self) -> None:
        for p in self.processes:
            if p.poll() is None:
                p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        if self.tmp is not None:
            self.tmp.cleanup()


def build_scoring(preset: str = "taos", flags: dict[str, str | None] | None = None) -> ScoringSettings:
    """The ``--scoring.*`` options as settings; a bad one is a :class:`LocalError` naming it."""
    try:
        return scoring_from_flags(preset, flags)
    except ValueError as e:
        raise LocalError(str(e)) from None


def build_market(
    config: Config,
    specs: Sequence[AgentSpec],
    transport: str,
    timeout_s: float = 3.0,
    scoring: ScoringSettings | None = None,
    *,
    rules: RulesSettings | None = None,
    log_format: str = "text",
) -> LocalMarket:
    """The validator and the agents; ``rules`` are the trading rules (default: preset taos, off);
    ``log_format``: that of the miner processes' logs (transport ``http``)."""
    rules = rules or RulesSettings()
    try:
        rules.check_books(config.simulation.books)
    except ValueError as e:
        raise LocalError(f"--rules.sessions: {e}") from None
    total = sum(s.count for s in specs)
    if total + 1 > config.miners.slots:
        raise LocalError(
            f"{total} agents need {total + 1} slots (one for the validator); config has miners.slots = {config.miners.slots}"
        )
    names: dict[int, str] = {}
    classes = []
    for spec in specs:
        try:
            cls = load_agent_class(spec.path, spec.name)
        except AgentLoadError as e:
            raise LocalError(str(e)) from e
        for _ in range(spec.count):
            uid = len(names) + 1
            names[uid] = f"{spec.name}-{uid}"
            classes.append((uid, spec, cls))
    settings = ValidatorSettings(
        timeout_s=timeout_s, weights_interval_s=60.0, scoring=scoring or ScoringSettings(), rules=rules
    )
    if transport == "inprocess":
        agents = {}
        for uid, spec, cls in classes:
            try:
                agents[uid] = create_agent(cls, uid, spec.params)
            except AgentLoadError as e:
                raise LocalError(str(e)) from e
        neurons = [Neuron(0, "validator", True, 1.0, None)] + [
            Neuron(u, f"agent-{u}", False, 0.0, None) for u in names
        ]
        chain = LocalChain("validator", neurons)
        in_process = InProcessTransport(agents, validator=chain.hotkey)
        return LocalMarket(Validator(config, chain, in_process, settings), names)
    if transport == "http":
        return _http_market(config, classes, names, settings, log_format)
    raise LocalError(f"--transport must be inprocess or http, got {transport!r}")


def _http_market(
    config: Config,
    classes: list,
    names: dict[int, str],
    settings: ValidatorSettings,
    log_format: str = "text",
) -> LocalMarket:  # type: ignore[type-arg]
    try:
        import bittensor as bt
    except ImportError:
        raise LocalError(
            "taos local --transport http needs the chain extra (bittensor): pip install 'taos[chain]'"
        ) from None

    from taos.miner.pool import same_code_env

    tmp = tempfile.TemporaryDirectory(prefix="taos-local-")
    root = Path(tmp.name)
    wallets = root / "wallets"

    def wallet(name: str) -> Any:
        w = bt.Wallet(name=name, hotkey="hot", path=str(wallets))
        w.create_new_coldkey(use_password=False, overwrite=True, suppress=True)
        w.create_new_hotkey(use_password=False, overwrite=True, suppress=True)
        return w

    validator = wallet("validator")
    miners = {uid: wallet(f"agent-{uid}") for uid in names}
    chain_file = root / "chain.json"
    neurons = [{"hotkey": validator.hotkey.ss58_address, "validator_permit": True, "stake": 1.0}]
    neurons += [{"hotkey": miners[u].hotkey.ss58_address} for u in sorted(miners)]
    chain_file.write_text(json.dumps({"neurons": neurons}))
    market = LocalMarket(None, names, [], tmp)  # type: ignore[arg-type]
    try:
        for uid, spec, _cls in classes:
            params = [f"{k}={v}" for k, v in spec.params.items()]
            command = [
                sys.executable, "-P", "-m", "taos.miner", "--agent.path", str(spec.path), "--agent.name", spec.name,
                *(["--agent.params", *params] if params else []), "--chain", f"local:{chain_file}",
                "--wallet.name", f"agent-{uid}", "--wallet.hotkey", "hot", "--wallet.path", str(wallets),
                "--host", "127.0.0.1", "--port", "0", "--log-level", "WARNING", "--log-format", log_format,
                "--max-books", str(config.simulation.books),
            ]  # fmt: skip
            # the miners run this process's taos, whatever the working folder holds
            market.processes.append(subprocess.Popen(command, env=same_code_env()))
        deadline = time.monotonic() + 60 + 2 * len(classes)  # each process loads the SDK
        while True:
            served = [n.get("endpoint") for n in json.loads(chain_file.read_text())["neurons"][1:]]
            if all(served):
                break
            if time.monotonic() > deadline or any(p.poll() is not None for p in market.processes):
                raise LocalError("the miner processes did not start (see their messages above)")
            time.sleep(0.1)
        chain = LocalChain.from_file(chain_file, validator.hotkey.ss58_address)
        market.validator = Validator(
            config, chain, HttpTransport(validator, {}, {}, allow_private=True), settings
        )
        return market
    except BaseException:
        market.close()
        raise


def policy_summary(v: Validator, uids: Sequence[int]) -> dict[str, Any]:
    """Per agent uid at the end of a run: its positions (the direction of each open one by book,
    counts, hours in positions), and what the scoring scheme reports of it (with the SPEC §10
    policies on, its challenge status and elimination: reason, sim time), for ``summary.json``."""
    now = v.sim.time_ns
    out: dict[str, Any] = {}
    for uid in uids:
        directions = v.positions.open_directions(uid)
        entry: dict[str, Any] = {
            "open": {str(b): "long" if d > 0 else "short" for b, d in enumerate(directions.tolist()) if d},
            "open_positions": v.positions.open_count(uid),
            "closed_positions": v.positions.closed_count(uid),
            "hours_in_positions": v.positions.hours_in_positions(uid, now),
        }
        entry.update(v.scheme.summary(uid))
        out[str(uid)] = entry
    return out


async def run_market(
    market: LocalMarket,
    on_step: Callable[[Any], None] | None = None,
    stop: asyncio.Event | None = None,
    *,
    log_steps: bool = False,
) -> int:
    """Runs the market's validator loop (unpaced) to its end or ``stop``; ``log_steps``: a log
    line per step (``taos.validator.loop.run``)."""
    v = market.validator
    v.sync_chain()
    try:
        return await run(v, stop=stop, on_step=on_step, log_steps=log_steps)
    finally:
        v.sync_chain(force_weights=True)
        await v.transport.close()


__all__ = [
    "AgentSpec",
    "LocalError",
    "LocalMarket",
    "build_config",
    "build_market",
    "build_scoring",
    "default_agents",
    "parse_duration",
    "policy_summary",
    "run_market",
]
