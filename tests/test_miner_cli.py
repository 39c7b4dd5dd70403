"""python -m taos.miner: start-up failures give one line and exit 1; a real miner process
publishes its endpoint on a local chain file and answers a signed state over loopback."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from protocol_samples import state
from wallets import validator_and_miner

import taos
from taos.protocol import PlaceLimit, decode_reply, encode_state
from taos.validator.client import Target, query

ROOT = Path(__file__).resolve().parents[1]
AGENTS = ROOT / "agents"
ENV = {**os.environ, "PYTHONPATH": str(Path(taos.__file__).resolve().parents[1])}


@pytest.fixture
def setup(tmp_path: Path) -> dict:
    return validator_and_miner(tmp_path)


def miner_args(setup: dict, *extra: str, name: str = "RandomMakerAgent") -> list[str]:
    return [
        sys.executable, "-m", "taos.miner",
        "--agent.path", str(AGENTS), "--agent.name", name,
        "--chain", f"local:{setup['chain']}",
        "--wallet.name", "miner", "--wallet.hotkey", "hot", "--wallet.path", str(setup["wallets"]),
        "--host", "127.0.0.1", "--port", "0", "--log-level", "WARNING",
        *extra,
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "name", "message"),
    [
        ((), "NoSuchAgent", "NoSuchAgent.py does not exist"),
        (("--agent.params", "min_qty=1"), "RandomMakerAgent", "unknown parameter(s): min_qty"),
        (("--agent.params", "min_quantity=lots"), "RandomMakerAgent", "parameter min_quantity must be float"),
        (("--agent.params", "novalue"), "RandomMakerAgent", "not of the form name=value"),
        (("--agent.timeout", "0"), "RandomMakerAgent", "--agent.timeout must be > 0"),
        (("--wallet.name", "nobody"), "RandomMakerAgent", "cannot read the hotkey"),
    ],
)
def test_start_failures_print_one_line_and_exit_1(setup: dict, extra: tuple, name: str, message: str) -> None:
    out = subprocess.run(
        miner_args(setup, *extra, name=name), check=False, capture_output=True, text=True, env=ENV, timeout=60
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("taos.miner: error: ") and message in lines[0], out.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--max-books", "0"), "--max-books must be in [1, 10000], got 0"),
        (("--max-connections", "0"), "--max-connections must be in [1, 65536], got 0"),
        (("--header-timeout", "nan"), "--header-timeout must be > 0 and at most 600, got nan"),
        (("--body-timeout", "-1"), "--body-timeout must be > 0 and at most 600, got -1"),
        (("--idle-timeout", "inf"), "--idle-timeout must be > 0 and at most 3600, got inf"),
        (
            ("--agent.kill-after", "0.5"),
            "--agent.kill-after must be in [--agent.timeout (2.5), 86400], got 0.5",
        ),
        (("--max-workers", "0"), "--max-workers must be in [1, 1024], got 0"),
        (("--min-stake", "nan"), "--min-stake must be a number >= 0, got nan"),
        (("--host", "256.0.0.1"), "cannot listen on 256.0.0.1:0: "),
    ],
)
def test_bad_limits_and_addresses_print_one_line_and_exit_1(setup: dict, extra: tuple, message: str) -> None:
    out = subprocess.run(
        miner_args(setup, *extra), check=False, capture_output=True, text=True, env=ENV, timeout=60
    )
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("taos.miner: error: ") and message in lines[0], out.stderr


def test_a_port_in_use_is_one_line_and_exit_1(setup: dict) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        args = miner_args(setup)
        args[args.index("--port") + 1] = str(port)
        out = subprocess.run(args, check=False, capture_output=True, text=True, env=ENV, timeout=60)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert lines == [f"taos.miner: error: cannot listen on 127.0.0.1:{port}: Address already in use"], (
        out.stderr
    )


def test_an_unregistered_miner_does_not_start(setup: dict) -> None:
    doc = json.loads(setup["chain"].read_text())
    doc["neurons"] = doc["neurons"][:1]
    setup["chain"].write_text(json.dumps(doc))
    out = subprocess.run(miner_args(setup), check=False, capture_output=True, text=True, env=ENV, timeout=60)
    assert out.returncode == 1 and "is not registered" in out.stderr


def test_a_bad_chain_file_names_the_field(setup: dict) -> None:
    setup["chain"].write_text(json.dumps({"neurons": [{"hotkey": "x", "stake": "lots"}]}))
    out = subprocess.run(miner_args(setup), check=False, capture_output=True, text=True, env=ENV, timeout=60)
    assert out.returncode == 1 and "neurons[0].stake: must be a number" in out.stderr


def test_a_miner_process_serves_signed_states(setup: dict) -> None:
    proc = subprocess.Popen(
        miner_args(setup, "--agent.params", "max_quantity=0.5"), env=ENV, stderr=subprocess.PIPE
    )
    try:
        endpoint = None
        deadline = time.monotonic() + 60
        while endpoint is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            endpoint = json.loads(setup["chain"].read_text())["neurons"][1].get("endpoint")
        assert endpoint is not None, proc.stderr.read().decode() if proc.poll() is not None else "no endpoint"
        target = Target(endpoint, setup["miner"].hotkey.ss58_address)

        async def ask() -> list:
            async with aiohttp.ClientSession() as session:
                result = await query(session, setup["validator"], target, encode_state(state()), timeout_s=10)
                assert result.ok, result.error
                return list(decode_reply(result.body).instructions)

        instructions = asyncio.run(ask())
        limits = [i for i in instructions if isinstance(i, PlaceLimit)]
        assert len(limits) == 4 and all(i.quantity <= 0.5 for i in limits)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        proc.stderr.close()
