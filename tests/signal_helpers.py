"""Shared pieces of the signal bridge tests: a settable clock, signal files written as the signal
server writes them, and the signal server and sample script as real processes."""

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import taos
from taos.signals.files import write_json_atomic
from taos.signals.records import Signal

T0 = 1_700_000_000.0

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "mining" / "run_receive_signals_server.py"
SAMPLE = ROOT / "mining" / "sample_signal_request.py"
ENV = {**os.environ, "PYTHONPATH": str(Path(taos.__file__).resolve().parents[1])}
KEY = "a-test-key-that-is-long-enough"


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, env=ENV, timeout=60, check=False
    )


class Clock:
    """Wall time that moves only when a test moves it."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def put_signal(
    root: Path, book_id: int, order_type: str = "LONG", leverage: float = 1.0, *, at: float = T0
) -> Signal:
    """A signal file in ``root/received_signals`` (the folder is created if missing)."""
    signal = Signal(str(uuid.uuid4()), at, book_id, order_type, leverage)
    folder = root / "received_signals"
    folder.mkdir(parents=True, exist_ok=True)
    write_json_atomic(folder / f"{signal.uuid}.json", signal.to_json())
    return signal


def files(root: Path, folder: str) -> dict[str, dict]:
    """The JSON files of ``root/folder`` by uuid (dot files excluded)."""
    d = root / folder
    if not d.exists():
        return {}
    return {p.stem: json.loads(p.read_text()) for p in sorted(d.glob("*.json")) if not p.name.startswith(".")}


class SignalServerProcess:
    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(SERVER), "--dir", str(root), "--port", "0", "--log-level", "WARNING"],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "listening on http://127.0.0.1:PORT/api/receive-signal; ..."
        assert line.startswith("listening on http://127.0.0.1:"), line + self.proc.stderr.read()  # type: ignore[union-attr]
        self.url = line.split()[2].rstrip(";")

    def send(self, book: int, order_type: str, leverage: float | None = None) -> str:
        extra = [] if leverage is None else ["--leverage", str(leverage)]
        out = run(
            SAMPLE,
            "--url",
            self.url,
            "--api-key",
            KEY,
            "--book",
            str(book),
            "--order-type",
            order_type,
            *extra,
        )
        assert out.returncode == 0, out.stderr
        status, answer = out.stdout.split(" ", 1)
        assert status == "200"
        return json.loads(answer)["uuid"]

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0
        for pipe in (self.proc.stdout, self.proc.stderr):
            assert pipe is not None
            pipe.close()
