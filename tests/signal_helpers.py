"""Shared pieces of the signal bridge tests: a settable clock and signal files written as the
signal server writes them."""

import json
import uuid
from pathlib import Path

from taos.signals.files import write_json_atomic
from taos.signals.records import Signal

T0 = 1_700_000_000.0


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
