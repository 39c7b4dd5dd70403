"""The supervision examples of docs/validator.md ("Running it as a service"): the systemd unit
and the pm2 ecosystem file restart the validator on failure, stop it with a timeout above its
stop grace, and run run_validator.sh with flags it takes. systemd-analyze checks the unit and node
loads the ecosystem file (both installed by scripts/install_test_deps.sh)."""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from taos.validator.cli import STOP_GRACE_S

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "validator.md"


def section() -> str:
    text = DOC.read_text()
    start = text.index("### Running it as a service")
    return text[start : text.index("\n## ", start)]


def block(language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", section(), re.S)
    assert match, f"no {language} block in the section"
    return match.group(1)


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys as written
    parser.read_string(block("ini"))
    return parser


def ecosystem(tmp_path: Path) -> dict[str, Any]:
    node = shutil.which("node")
    assert node is not None, "node is not installed (scripts/install_test_deps.sh installs it)"
    path = tmp_path / "ecosystem.config.js"
    path.write_text(block("js"))
    out = subprocess.run(
        [node, "-e", f"process.stdout.write(JSON.stringify(require({json.dumps(str(path))})))"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    apps = json.loads(out.stdout)["apps"]
    assert len(apps) == 1
    app: dict[str, Any] = apps[0]
    return app


def accepted(args: list[str]) -> None:
    """run_validator.sh takes ``args`` and the validator's parser takes what it makes of them (the
    validator prints its help and exits 0 before it would start)."""
    env = {**os.environ, "PYTHON": sys.executable, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        ["bash", str(ROOT / "run_validator.sh"), *args, "--", "--help"],
        check=False,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "--prometheus-port" in done.stdout


def test_the_systemd_unit_restarts_on_failure_and_outwaits_the_stop_grace() -> None:
    service = unit()["Service"]
    assert service["Restart"] == "on-failure" and float(service["RestartSec"]) >= 5
    assert service["KillSignal"] == "SIGTERM"
    assert float(service["TimeoutStopSec"]) >= STOP_GRACE_S + 10
    assert service["StandardError"] == "journal"
    command = shlex.split(service["ExecStart"])
    assert Path(command[0]).name == "run_validator.sh"
    assert service["WorkingDirectory"] == str(Path(command[0]).parent)
    accepted(command[1:])


def test_systemd_analyze_finds_nothing_wrong_in_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        raise AssertionError("systemd-analyze is not installed (scripts/install_test_deps.sh installs it)")
    # the unit as installed from this checkout, run by the current user
    text = block("ini").replace("/opt/taos", str(ROOT))
    text = re.sub(r"^User=.*$", f"User={os.getuid()}", text, flags=re.M)
    path = tmp_path / "taos-validator.service"
    path.write_text(text)
    done = subprocess.run(
        [analyze, "verify", str(path)], check=False, capture_output=True, text=True, timeout=120
    )
    problems = [line for line in done.stderr.splitlines() if path.name in line]
    assert done.returncode == 0 and problems == [], done.stderr


def test_the_pm2_ecosystem_file_restarts_on_failure_and_outwaits_the_stop_grace(tmp_path: Path) -> None:
    app = ecosystem(tmp_path)
    assert app["script"] == "./run_validator.sh" and app["interpreter"] == "bash"
    assert app["cwd"] == str(Path(unit()["Service"]["WorkingDirectory"]))  # the same checkout
    assert app["autorestart"] is True and app["stop_exit_codes"] == [0]
    assert app["restart_delay"] >= 5_000 and app["max_restarts"] >= 1
    assert app["kill_timeout"] / 1000 >= STOP_GRACE_S + 10
    assert app["error_file"] and app["out_file"]
    assert app["env"]["PYTHON"].startswith(app["cwd"])
    accepted(shlex.split(app["args"]))
