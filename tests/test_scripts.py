"""The operator scripts of SPEC §14: run_miner.sh serves an agent with the flags it documents,
install_miner.sh installs the pure-Python package and the example agents (idempotently)."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import venv
from pathlib import Path

import aiohttp
import pytest
from protocol_samples import state
from wallets import validator_and_miner

import taos
from taos.protocol import PlaceLimit, decode_reply, encode_state
from taos.validator.client import Target, query

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": str(Path(taos.__file__).resolve().parents[1]), "PYTHON": sys.executable}
SCRIPTS = (
    "run_demo.sh",
    "run_tests.sh",
    "run_validator.sh",
    "run_miner.sh",
    "install_miner.sh",
    "install_validator.sh",
)


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_parse_and_are_executable(script: str) -> None:
    path = ROOT / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    out = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr


def test_run_miner_refuses_an_unknown_flag() -> None:
    out = subprocess.run(
        [str(ROOT / "run_miner.sh"), "-z"], capture_output=True, text=True, env=ENV, check=False
    )
    assert out.returncode == 2 and "usage: " in out.stderr and "[-n agent class]" in out.stderr


@pytest.mark.parametrize("script", ["run_validator.sh", "run_miner.sh"])
def test_the_run_scripts_use_the_python_they_are_given(script: str, tmp_path: Path) -> None:
    """``PYTHON=`` picks the interpreter: here a stand-in that prints what it was asked to run."""
    fake = tmp_path / "python"
    fake.write_text('#!/usr/bin/env bash\necho "ran: $*"\n')
    fake.chmod(0o755)
    out = subprocess.run(
        [str(ROOT / script), "-e", "local:chain.json", "--", "--extra"],
        capture_output=True,
        text=True,
        env={**ENV, "PYTHON": str(fake)},
        check=False,
    )
    module = "taos.validator" if script == "run_validator.sh" else "taos.miner"
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(
        f"ran: -m {module} --chain local:chain.json"
    ) and out.stdout.rstrip().endswith("--extra")


def test_run_miner_serves_the_named_agent_with_its_parameters(tmp_path: Path) -> None:
    setup = validator_and_miner(tmp_path)
    validator, miner, chain, wallets = setup["validator"], setup["miner"], setup["chain"], setup["wallets"]
    proc = subprocess.Popen(
        [
            str(ROOT / "run_miner.sh"),
            "-e", f"local:{chain}", "-p", str(wallets), "-w", "miner", "-h", "hot", "-a", "0",
            "-g", str(ROOT / "agents"), "-n", "RandomMakerAgent", "-m", "max_quantity=0.5 min_quantity=0.2",
            "-l", "WARNING", "--", "--host", "127.0.0.1",
        ],
        env=ENV, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        endpoint = None
        deadline = time.monotonic() + 60
        while endpoint is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            endpoint = json.loads(chain.read_text())["neurons"][1].get("endpoint")
        assert endpoint is not None, proc.stderr.read().decode() if proc.poll() is not None else "no endpoint"  # type: ignore[union-attr]
        assert endpoint.startswith("127.0.0.1:")

        async def ask() -> list:
            async with aiohttp.ClientSession() as session:
                target = Target(endpoint, miner.hotkey.ss58_address)
                result = await query(session, validator, target, encode_state(state()), timeout_s=10)
                assert result.ok, result.error
                return list(decode_reply(result.body).instructions)

        limits = [i for i in asyncio.run(ask()) if isinstance(i, PlaceLimit)]
        assert len(limits) == 4 and all(0.2 <= i.quantity <= 0.5 for i in limits)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        proc.stderr.close()  # type: ignore[union-attr]


def test_install_miner_installs_without_the_simulator_and_keeps_edited_agents(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=True, with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    agents = tmp_path / "agents"
    env = {k: v for k, v in ENV.items() if k != "PYTHONPATH"} | {"PYTHON": str(python)}
    first = subprocess.run(
        [str(ROOT / "install_miner.sh"), "-d", str(agents)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    shipped = sorted(p.name for p in (ROOT / "agents").glob("*.py"))
    assert sorted(p.name for p in agents.glob("*.py")) == shipped
    assert "τaos miner installed" in first.stdout
    # the venv's taos is the pure-Python one: no extension, the miner side imports
    code = (
        "import taos, taos.miner, taos.agents, taos.signals\n"
        f"print(taos.__file__.startswith({str(env_dir)!r}))\n"
        "try:\n    import taos.simulator\nexcept ImportError:\n    print('no simulator')\n"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert out.stdout.split() == ["True", "no", "simulator"]
    # a second run adds nothing and keeps an agent the miner edited
    edited = agents / shipped[0]
    edited.write_text("# my version\n")
    second = subprocess.run(
        [str(ROOT / "install_miner.sh"), "-d", str(agents)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert edited.read_text() == "# my version\n"
    assert f"kept {edited}" in second.stdout and "added" not in second.stdout
