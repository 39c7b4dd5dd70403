"""The signal bridge as a miner runs it: the two scripts in real processes (their failures are one
line and exit 1), and a real miner process running SignalAgent that is killed with SIGKILL between
sending signals and their acknowledgement, restarted, and driven to the end."""

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from protocol_samples import state
from signal_helpers import ENV, KEY, ROOT, SAMPLE, SERVER, SignalServerProcess, files, run
from wallets import make_wallet

from taos.protocol import (
    Direction,
    OrderRejected,
    RejectReason,
    TargetAccepted,
    TargetPosition,
    decode_reply,
    encode_state,
)
from taos.signals import client_order_id
from taos.validator.client import Target, query


def one_error_line(out: subprocess.CompletedProcess[str], prefix: str, message: str) -> None:
    assert out.returncode == 1, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prefix}: error: ") and message in lines[0], out.stderr


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the scripts' failures -----------------------------------------------------------------------


def test_the_server_without_a_secrets_file_stops_with_one_line(tmp_path: Path) -> None:
    out = run(SERVER, "--dir", tmp_path, "--port", "0")
    one_error_line(out, "run_receive_signals_server", f"{tmp_path / 'miner_secrets.json'} does not exist")
    assert not (tmp_path / "received_signals").exists()


def test_the_server_refuses_a_bad_secrets_file_or_folder(tmp_path: Path) -> None:
    (tmp_path / "miner_secrets.json").write_text('{"api_key": "REPLACE-WITH-A-LONG-RANDOM-KEY"}')
    out = run(SERVER, "--dir", tmp_path, "--port", "0")
    one_error_line(out, "run_receive_signals_server", "api_key is still the example placeholder")
    out = run(SERVER, "--dir", tmp_path / "missing", "--port", "0")
    one_error_line(out, "run_receive_signals_server", "is not a folder")


def test_the_server_names_a_port_in_use(tmp_path: Path) -> None:
    (tmp_path / "miner_secrets.json").write_text(json.dumps({"api_key": KEY}))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = run(SERVER, "--dir", tmp_path, "--port", str(port))
    one_error_line(
        out, "run_receive_signals_server", f"cannot listen on 127.0.0.1:{port}: Address already in use"
    )


def test_the_sample_without_a_secrets_file_stops_with_one_line(tmp_path: Path) -> None:
    out = run(SAMPLE, "--secrets", tmp_path / "nope.json", "--url", f"http://127.0.0.1:{closed_port()}/x")
    one_error_line(out, "sample_signal_request", f"{tmp_path / 'nope.json'} does not exist")


def test_the_sample_names_an_unreachable_server() -> None:
    port = closed_port()
    url = f"http://127.0.0.1:{port}/api/receive-signal"
    out = run(SAMPLE, "--api-key", KEY, "--url", url)
    one_error_line(out, "sample_signal_request", f"cannot reach {url}: [Errno 111] Connection refused")


# --- server, miner, kill -9 ------------------------------------------------------------------------


def miner_args(setup: dict) -> list[str]:
    params = ["ack_timeout_s=3600", "validator_window_s=3600", "resend_after_s=3600"]
    return [
        sys.executable, "-m", "taos.miner",
        "--agent.path", str(ROOT / "agents"), "--agent.name", "SignalAgent",
        "--agent.params", f"signals_dir={setup['mining']}", *params,
        "--chain", f"local:{setup['chain']}",
        "--wallet.name", "miner", "--wallet.hotkey", "hot", "--wallet.path", str(setup["wallets"]),
        "--host", "127.0.0.1", "--port", "0", "--log-level", "WARNING",
    ]  # fmt: skip


def start_miner(setup: dict) -> tuple[subprocess.Popen, Target]:
    """A miner process; returns once it published its endpoint in the chain file."""
    doc = json.loads(setup["chain"].read_text())
    doc["neurons"][2].pop("endpoint", None)
    setup["chain"].write_text(json.dumps(doc))
    proc = subprocess.Popen(miner_args(setup), env=ENV, stderr=subprocess.PIPE)
    endpoint = None
    deadline = time.monotonic() + 60
    while endpoint is None and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        endpoint = json.loads(setup["chain"].read_text())["neurons"][2].get("endpoint")
    assert endpoint is not None, proc.stderr.read().decode() if proc.poll() is not None else "no endpoint"  # type: ignore[union-attr]
    return proc, Target(endpoint, setup["miner"].hotkey.ss58_address)


@pytest.fixture
def setup(tmp_path: Path) -> dict:
    wallets = tmp_path / "wallets"
    v1, v2, miner = (make_wallet(wallets, n) for n in ("validator1", "validator2", "miner"))
    chain = tmp_path / "chain.json"
    chain.write_text(
        json.dumps(
            {
                "neurons": [
                    {"hotkey": v1.hotkey.ss58_address, "validator_permit": True, "stake": 1000},
                    {"hotkey": v2.hotkey.ss58_address, "validator_permit": True, "stake": 1000},
                    {"hotkey": miner.hotkey.ss58_address},
                ]
            }
        )
    )
    mining = tmp_path / "mining"
    mining.mkdir()
    (mining / "miner_secrets.json").write_text(json.dumps({"api_key": KEY}))
    return {"v1": v1, "v2": v2, "miner": miner, "chain": chain, "wallets": wallets, "mining": mining}


def test_signals_survive_kill_9_of_the_miner(setup: dict) -> None:
    v1, v2 = setup["v1"], setup["v2"]
    h1, h2 = v1.hotkey.ss58_address, v2.hotkey.ss58_address
    mining: Path = setup["mining"]
    received: dict[tuple[str, str], list[int]] = {}  # (validator, signal uuid) -> client_order_ids seen
    by_target: dict[tuple[int, Direction], str] = {}  # each signal of this test has its own book and side

    def ask(target: Target, wallet, notices: tuple = ()) -> list[str]:
        """One signed state from ``wallet``'s validator; the uuids of the signals in the reply."""

        async def go() -> bytes:
            async with aiohttp.ClientSession() as session:
                result = await query(
                    session, wallet, target, encode_state(state(notices=notices)), timeout_s=20
                )
                assert result.ok, result.error
                return result.body

        out = []
        for i in decode_reply(asyncio.run(go())).instructions:
            assert isinstance(i, TargetPosition)
            uuid = by_target[(i.book, i.direction)]
            received.setdefault((wallet.hotkey.ss58_address, uuid), []).append(i.client_order_id)
            out.append(uuid)
        return out

    def ack(uuid: str, book: int, direction: Direction) -> TargetAccepted:
        return TargetAccepted(book, 1, direction, 1.0, 0.0, client_order_id(uuid))

    server = SignalServerProcess(mining)
    try:
        a = server.send(0, "LONG", 2.0)
        b = server.send(1, "SHORT", 1.5)
        c = server.send(7, "LONG")  # the simulation has books 0 and 1
        by_target.update({(0, Direction.LONG): a, (1, Direction.SHORT): b})

        miner, target = start_miner(setup)
        assert ask(target, v1) == [a, b]
        assert ask(target, v2) == [a, b]
        assert ask(target, v1, (ack(a, 0, Direction.LONG),)) == []
        miner.kill()  # SIGKILL: b sent to both validators and a to v2, neither acknowledged
        assert miner.wait(timeout=30) == -signal.SIGKILL
        miner.stderr.close()  # type: ignore[union-attr]

        pending = files(mining, "received_signals")
        assert set(pending) == {a, b}
        assert pending[a]["validators"][h1]["acknowledged"] is not None
        assert pending[a]["validators"][h2]["acknowledged"] is None
        # Every send was on disk before its reply left the miner.
        assert {h: v["sends"] for h, v in pending[b]["validators"].items()} == {h1: 1, h2: 1}
        assert pending[a]["validators"][h2]["sends"] == 1
        assert files(mining, "failed_signals")[c]["reason"].startswith(f"rejected by {h1}: UNKNOWN_BOOK")

        d = server.send(0, "FLAT")  # arrives while the miner is down
        by_target[(0, Direction.FLAT)] = d

        miner, target = start_miner(setup)
        assert ask(target, v1) == [b, d]  # b again (its answer may have been lost), same id
        rejected = OrderRejected(
            1,
            1,
            RejectReason.INVALID_INSTRUCTION,
            client_order_id=client_order_id(b),
            detail="leverage over 1",
        )
        assert ask(target, v2, (ack(a, 0, Direction.LONG), rejected)) == [d]
        assert ask(target, v1, (ack(b, 1, Direction.SHORT), ack(d, 0, Direction.FLAT))) == []
        assert ask(target, v2, (ack(d, 0, Direction.FLAT),)) == []
        miner.send_signal(signal.SIGTERM)
        assert miner.wait(timeout=30) == 0
        miner.stderr.close()  # type: ignore[union-attr]
    finally:
        server.stop()

    processed, failed = files(mining, "processed_signals"), files(mining, "failed_signals")
    assert files(mining, "received_signals") == {}
    assert set(processed) == {a, d} and set(failed) == {b, c}  # every signal exactly once
    assert failed[b]["reason"] == f"rejected by {h2}: INVALID_INSTRUCTION (leverage over 1)"
    assert processed[a]["validators"][h2]["sends"] == 1  # v2's ack came before it was due again
    assert failed[b]["validators"][h1]["sends"] == 2
    # No validator ever saw a signal under two ids, and the id is the signal's.
    assert set(received) == {(h1, a), (h1, b), (h1, d), (h2, a), (h2, b), (h2, d)}
    for (_, uuid), cids in received.items():
        assert set(cids) == {client_order_id(uuid)}
    assert received[(h1, b)] == [client_order_id(b)] * 2
