"""taos local as a command: the demo market with example agents, options, bad input, and the
HTTP transport with real miner processes on loopback."""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import taos
from taos.local.runner import (
    AgentSpec,
    LocalError,
    build_config,
    build_market,
    build_scoring,
    default_agents,
    parse_duration,
    run_market,
)
from taos.validator.policy import SCORING_FLAGS, ScoringSettings
from taos.validator.schemes import PtnScheme
from taos.validator.schemes.ptn import Policies
from taos.validator.validator import Validator


def policies(v: Validator) -> Policies:
    """The preset ptn trackers of a validator's scoring scheme."""
    assert isinstance(v.scheme, PtnScheme)
    return v.scheme.policies


ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(Path(taos.__file__).resolve().parents[1]), "COLUMNS": "160"}


def taos_local(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "taos.local", *args], cwd=cwd, env=ENV, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip


def test_parse_duration() -> None:
    assert [parse_duration(x) for x in ("2h", "30m", "90s", "1d", "45", "0.5h")] == [
        7200.0, 1800.0, 90.0, 86400.0, 45.0, 1800.0,
    ]  # fmt: skip
    for bad in ("", "0", "-5m", "2 hours", "h"):
        with pytest.raises(LocalError, match="--duration"):
            parse_duration(bad)


def test_agent_specs_and_overrides(tmp_path: Path) -> None:
    spec = AgentSpec.parse("agents/RandomMakerAgent.py:max_quantity=0.5,levels=3,passive=true", 2)
    assert (spec.path, spec.name, spec.count) == (Path("agents"), "RandomMakerAgent", 2)
    assert spec.params == {"max_quantity": 0.5, "levels": 3, "passive": True}
    with pytest.raises(LocalError, match=r"DIR/NAME\.py"):
        AgentSpec.parse("agents/RandomMakerAgent")
    with pytest.raises(LocalError, match="--count must be >= 1"):
        AgentSpec.parse("a/B.py", 0)
    cfg, text = build_config(None, books=3, duration_s=600.0, seed=9, threads=1)
    assert (cfg.simulation.books, cfg.simulation.duration_s, cfg.simulation.seed) == (3, 600.0, 9)
    assert text.startswith("# override: simulation.books = 3")
    with pytest.raises(LocalError, match=r"simulation\.books must be in \[1, 10,000\]"):
        build_config(None, books=0, duration_s=None, seed=None, threads=None)


def test_demo_market_runs_and_writes_its_run_folder(tmp_path: Path) -> None:
    from taos.analysis.run import load_run

    out = tmp_path / "run"
    done = taos_local("--duration", "20m", "--books", "2", "--out", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    for name in ("RandomMakerAgent-1", "RandomMakerAgent-2", "RandomTakerAgent-3"):
        assert name in done.stdout  # the summary table
    assert "finished: 240 steps" in done.stdout
    run = load_run(out)
    assert run.summary["steps"] == 240
    assert set(run.prices["book"]) == {0, 1}
    agents = run.summary["agents"]
    assert sorted(a["rank"] for a in agents) == [1, 2, 3]
    pngs = sorted(p.name for p in (out / "plots").glob("*.png"))
    assert pngs == ["equity.png", "mid_fundamental.png", "scores.png", "spread_depth.png"]
    assert all((out / "plots" / n).stat().st_size > 5_000 for n in pngs)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--agent", "nowhere/Missing.py"], "Missing.py does not exist"),
        (["--agent", "agents/RandomMakerAgent"], "DIR/NAME.py"),
        (["--duration", "soon"], "--duration"),
        (["--transport", "pigeon"], "--transport must be inprocess or http"),
        (["--config", "missing.toml"], "cannot read"),
        (["--agent", "agents/RandomMakerAgent.py", "--count", "300"], "slots"),
        (["--scoring.preset", "sn8"], "--scoring.preset must be one of taos, ptn, sn79"),
        (["--scoring.challenge-clock", "moon"], "--scoring.challenge-clock must be one of sim, wall"),
        (["--rules.preset", "sn8"], "--rules.preset must be one of taos, ptn"),
        (["--rules.position-interval", "-5"], "--rules.position-interval must be a finite number >= 0"),
        (["--rules.max-open", "many"], "--rules.max-open must be an integer, got 'many'"),
        (["--rules.sessions", "[{books = 99, open = 0, close = 60}]"], "names book 99"),
    ],
)
def test_bad_options_stop_with_one_clear_line(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "agents").symlink_to(ROOT / "agents")
    done = taos_local(*args, "--out", str(tmp_path / "run"), cwd=tmp_path)
    assert done.returncode == 1
    assert message in done.stdout + done.stderr
    assert not (tmp_path / "run").exists()


def test_http_transport_runs_miner_processes_with_signed_requests(tmp_path: Path) -> None:
    out = tmp_path / "run"
    done = taos_local(
        "--transport", "http", "--duration", "5m", "--books", "1", "--out", str(out),
        "--agent", str(ROOT / "agents" / "RandomMakerAgent.py"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["transport"] == "http" and summary["steps"] == 60
    maker = summary["agents"][0]
    assert maker["volume"] > 0 or maker["pnl"] != 0  # its orders reached the market over HTTP


def test_the_miner_processes_run_this_taos_whatever_the_working_folder_holds(tmp_path: Path) -> None:
    """Started where a folder named ``taos`` is not this package (a source tree, a stray folder), as
    the ``taos`` command starts (the working folder not on sys.path), the miner processes and their
    agent workers import the same taos as the parent, not that folder."""
    shadow = tmp_path / "taos"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('the taos of the working folder was imported')\n")
    out = tmp_path / "run"
    done = subprocess.run(
        [
            sys.executable, "-P", "-m", "taos.local", "--transport", "http", "--duration", "2m", "--books", "1",
            "--out", str(out), "--agent", str(ROOT / "agents" / "RandomMakerAgent.py"),
        ],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "working folder was imported" not in done.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["transport"] == "http" and summary["steps"] == 24
    maker = summary["agents"][0]
    assert maker["volume"] > 0 or maker["pnl"] != 0  # the agent answered from its worker


def test_taos_local_and_the_validator_share_every_scoring_and_rules_flag() -> None:
    from taos.local.cli import local_parser
    from taos.validator.cli import parser as validator_parser

    def policy_flags(p: argparse.ArgumentParser) -> dict[str, tuple[str, str | None]]:
        return {
            o: (a.dest, a.help)
            for a in p._actions
            for o in a.option_strings
            if o.startswith(("--scoring.", "--rules."))
        }

    local, validator = policy_flags(local_parser()), policy_flags(validator_parser())
    assert {o for o in local if o.startswith("--scoring.")} == {f"--scoring.{name}" for name in SCORING_FLAGS}
    assert set(local) >= {"--rules.preset", "--rules.max-open", "--rules.sessions"}
    assert local == validator  # the same flags, destinations and help
    assert build_scoring() == ScoringSettings()
    assert build_scoring("ptn", {"challenge-period": "2m"}).challenge_period_s == 120.0
    with pytest.raises(LocalError, match=r"--scoring\.rank-share must be a number"):
        build_scoring("ptn", {"rank-share": "high"})


def test_a_local_market_with_preset_ptn() -> None:
    import asyncio

    cfg, _ = build_config(None, books=1, duration_s=640.0, seed=4, threads=1)
    assert cfg.simulation.grace_period_s == 600.0
    scoring = build_scoring("ptn", {"challenge-period": "2m", "challenge-weight": "0.01"})
    market = build_market(cfg, default_agents(), "inprocess", scoring=scoring)
    try:
        asyncio.run(run_market(market))
    finally:
        market.close()
    v = market.validator
    assert v.settings.scoring == scoring and isinstance(v.scheme, PtnScheme)
    # without positions nobody can pass: their 2-minute challenges ran out during the grace period,
    # which the policies see at the first step after it
    records = policies(v).eliminations.records()
    assert [(r.uid, r.reason.text, r.sim_time_ns) for r in records] == [
        (uid, "challenge failed", 605 * 10**9) for uid in (1, 2, 3)
    ]
    assert v.chain.weight_calls[-1].weights == (0.0, 0.0, 0.0, 0.0)  # type: ignore[attr-defined]


def test_the_rules_reach_the_validator_of_a_local_market() -> None:
    from taos.local.runner import build_market, default_agents
    from taos.validator.rules import RulesSettings, parse_sessions

    cfg, _ = build_config(None, books=2, duration_s=60.0, seed=1, threads=1)
    market = build_market(cfg, default_agents(), "inprocess", rules=RulesSettings.preset("ptn"))
    assert market.validator.rules == RulesSettings.preset("ptn")
    assert build_market(cfg, default_agents(), "inprocess").validator.rules == RulesSettings()
    bad = RulesSettings(sessions=parse_sessions([{"books": 2, "open": 0, "close": 60}]))
    with pytest.raises(
        LocalError, match=r"--rules\.sessions: sessions\[0\] names book 2, but there are 2 books"
    ):
        build_market(cfg, default_agents(), "inprocess", rules=bad)
