"""The signal server against hostile request bodies and crashes: every malformed body is a 400 (413
when too large) with a one-line reason and one log line, never a 500 or a traceback, and writes
nothing; a server killed in the middle of a write leaves nothing behind once restarted."""

import asyncio
import contextlib
import gzip
import json
import logging
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from signal_helpers import ENV, KEY, SERVER, SignalServerProcess, files, put_signal, run

from taos.signals.server import SIGNAL_PATH, SignalServer

GOOD = f'"api_key": "{KEY}", "book_id": 1, "order_type": "SHORT", "leverage": 2.0'

HOSTILE = [
    # (body, headers, status, part of the reason)
    ('{"api_key": "\\ud800", "book_id": 1, "order_type": "LONG", "leverage": 1}', {}, 400, "lone surrogate"),
    ('{"api_key": "\\udfff\\ud800x"}', {}, 400, "lone surrogate"),
    (f'{{{GOOD}, "\\ud800": 1}}', {}, 400, "unknown field(s): '\\ud800'"),
    (f'{{"api_key": "{KEY}", "book_id": 1, "order_type": "\\ud800", "leverage": 1}}', {}, 400, "order_type"),
    ('{"api_key": "x", "book_id": ' + "9" * 5_000 + "}", {}, 400, "an integer of 5,000 digits; at most 40"),
    ('{"api_key": ' + "1" * 5_000 + "}", {}, 400, "an integer of 5,000 digits"),
    ('{"api_key": "x", "book_id": -' + "9" * 4_400 + "}", {}, 400, "an integer of 4,400 digits"),
    ("[" * 5_000 + "]" * 5_000, {}, 400, "nested deeper than 16 levels"),
    ('{"api_key": "x", "book_id": ' + "[" * 5_000 + "]" * 5_000 + "}", {}, 400, "nested deeper than 16"),
    ('{"a": ' * 2_000 + "1" + "}" * 2_000, {}, 400, "nested deeper than 16 levels"),
    ("[" * 5_000, {}, 400, "nested deeper than 16 levels"),
    ('{"api_key": "x", "note": "' + "[" * 5_000 + '"}', {}, 401, "invalid api_key"),  # brackets in a string
    (f'{{"api_key": "{KEY}", "book_id": 1, "order_type": "LONG", "leverage": 1e999999}}', {}, 400, "got inf"),
    (f'{{"api_key": "{KEY}", "book_id": 1, "order_type": "LONG", "leverage": NaN}}', {}, 400, "got nan"),
    (
        f'{{"api_key": "{KEY}", "book_id": 1.5e308, "order_type": "LONG"}}',
        {},
        400,
        "book_id must be an integer",
    ),
    (f'{{"api_key": "{KEY}", "book_id": {{"a": [1]}}, "order_type": "LONG"}}', {}, 400, "got {'a': [1]}"),
    (f'{{"api_key": "{KEY}", "book_id": 1, "order_type": "{"x" * 5_000}"}}', {}, 400, "got 'xxxxxxxx"),
    (b"\xc0\xaf{}", {}, 400, "body is not UTF-8 text"),  # an overlong encoding of '/'
    (b'{"api_key": "\xed\xa0\x80"}', {}, 400, "body is not UTF-8 text"),  # a surrogate encoded in UTF-8
    ('{"api_key": "x\u0000"}', {}, 400, "body is not JSON: Invalid control character"),
    ('{"api_key": "x\\u0000"}', {}, 401, "invalid api_key"),
    ("\u0000", {}, 400, "body is not JSON"),
    (" " * 20_000, {}, 413, "body larger than 16384 bytes"),
    (gzip.compress(b" " * 50_000_000), {"Content-Encoding": "gzip"}, 413, "body larger than 16384 bytes"),
    (b"\x1f\x8b\x08\x00garbage", {"Content-Encoding": "gzip"}, 400, "body"),
]


def post(root: Path, requests: list[tuple[bytes, dict[str, str]]]) -> list[tuple[int, str]]:
    """Starts a SignalServer on 127.0.0.1 and POSTs each body; (status, answer text) for each."""

    async def scenario() -> list[tuple[int, str]]:
        runner = web.AppRunner(SignalServer(root, KEY).app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}{SIGNAL_PATH}"
        out = []
        try:
            async with aiohttp.ClientSession(auto_decompress=False) as session:
                for data, headers in requests:
                    async with session.post(url, data=data, headers=headers) as response:
                        out.append((response.status, await response.text()))
        finally:
            await runner.cleanup()
        return out

    return asyncio.run(scenario())


def test_hostile_bodies_are_refused_with_one_line_and_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    requests = [
        (b.encode("utf-8", "surrogatepass") if isinstance(b, str) else b, h) for b, h, _, _ in HOSTILE
    ]
    answers = post(tmp_path, requests)
    for (sent, _, status, reason), (got, text) in zip(HOSTILE, answers, strict=True):
        shown = repr(sent[:60])
        assert got == status, (shown, got, text[:300])
        answer = json.loads(text)
        assert set(answer) == {"error"} and reason in answer["error"], (shown, answer)
        assert "\n" not in answer["error"] and len(answer["error"]) < 300, (shown, answer)
    ours = [r for r in caplog.records if r.name == "taos.signals"]
    assert len(ours) == len(HOSTILE), [r.getMessage()[:100] for r in ours]
    assert all(r.levelno in (logging.INFO, logging.WARNING) and r.exc_info is None for r in ours)
    assert all("\n" not in r.getMessage() and len(r.getMessage()) < 500 for r in ours)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info is not None]
    assert errors == [], [r.getMessage()[:200] for r in errors]
    assert list((tmp_path / "received_signals").iterdir()) == []


def test_a_good_signal_after_the_hostile_ones_is_written(tmp_path: Path) -> None:
    answers = post(tmp_path, [(b"[" * 5_000, {}), (("{" + GOOD + "}").encode(), {})])
    assert [status for status, _ in answers] == [400, 200]
    assert list(files(tmp_path, "received_signals")) == [json.loads(answers[1][1])["uuid"]]


def test_leftovers_of_an_interrupted_write_are_removed_at_start(tmp_path: Path) -> None:
    (tmp_path / "miner_secrets.json").write_text(json.dumps({"api_key": KEY}))
    kept = put_signal(tmp_path, 3)
    received = tmp_path / "received_signals"
    leftovers = [received / f".incoming-{n}.json.0123abcd.tmp" for n in ("a", "b")]
    for p in leftovers:
        p.write_text('{"uuid": "half')
    others = [received / ".store-x.json.99.tmp", received / ".incoming-not-temporary.json"]
    for p in others:
        p.write_text("{}")
    server = SignalServerProcess(tmp_path)
    try:
        assert not any(p.exists() for p in leftovers)
        assert all(p.exists() for p in others)  # the store's own, and a name that is not a temporary file
        assert list(files(tmp_path, "received_signals")) == [kept.uuid]
        new = server.send(1, "LONG", 1.0)
        assert sorted(files(tmp_path, "received_signals")) == sorted([kept.uuid, new])
    finally:
        server.stop()


# The server as a real process whose fsync never returns: it stops in the middle of writing a signal.
STUCK_IN_WRITE = f"""
import os, sys, time
def stuck(fd):
    time.sleep(3600)
os.fsync = stuck
sys.argv = ["run_receive_signals_server", *sys.argv[1:]]
sys.path.insert(0, {str(SERVER.parent)!r})
from taos.signals.server import main
sys.exit(main())
"""


def test_a_server_killed_during_a_write_leaves_nothing_once_restarted(tmp_path: Path) -> None:
    (tmp_path / "miner_secrets.json").write_text(json.dumps({"api_key": KEY}))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            STUCK_IN_WRITE,
            "--dir",
            str(tmp_path),
            "--port",
            "0",
            "--log-level",
            "WARNING",
        ],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:"), line
        url = line.split()[2].rstrip(";")
        request = urllib.request.Request(url, data=("{" + GOOD + "}").encode(), method="POST")

        def send() -> None:
            with contextlib.suppress(OSError):  # the server dies without answering
                urllib.request.urlopen(request, timeout=30)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        received = tmp_path / "received_signals"
        deadline = time.monotonic() + 30
        while not list(received.glob(".incoming-*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.02)
        unfinished = list(received.glob(".incoming-*.tmp"))
        assert len(unfinished) == 1, list(received.iterdir())
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        sender.join(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
    assert unfinished[0].exists() and files(tmp_path, "received_signals") == {}
    server = SignalServerProcess(tmp_path)
    try:
        assert not unfinished[0].exists()
        uuid = server.send(2, "SHORT", 1.0)
        assert list(files(tmp_path, "received_signals")) == [uuid]
        assert [p.name for p in received.iterdir() if p.name.endswith(".tmp")] == []
    finally:
        server.stop()


def test_a_second_server_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "miner_secrets.json").write_text(json.dumps({"api_key": KEY}))
    server = SignalServerProcess(tmp_path)
    try:
        out = run(SERVER, "--dir", tmp_path, "--port", "0")
        assert out.returncode == 1, out
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "is in use by another signal server" in lines[0], out.stderr
    finally:
        server.stop()
