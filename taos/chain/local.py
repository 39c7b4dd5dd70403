"""An offline chain: the neurons of one subnet in memory or in a JSON file.

File format (``uid`` = position in ``neurons``)::

    {
      "block": 0,                 optional, the block at start
      "block_time_s": 12.0,       optional, wall seconds per block
      "neurons": [
        {"hotkey": "5F...", "validator_permit": true, "stake": 1000.0, "endpoint": "127.0.0.1:8091"},
        {"hotkey": "5G..."}       validator_permit false, stake 0, endpoint null by default
      ]
    }

With a file, ``metagraph()`` reads it again when it changed and ``serve()``
writes this hotkey's endpoint into it (atomically, under a lock file), so that
several processes on one machine see each other. ``set_weights`` records calls.
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from taos.chain.base import Chain, ChainError, Metagraph, Neuron, check_port, check_weights

_ROOT_KEYS = {"block", "block_time_s", "neurons", "weights"}
_NEURON_KEYS = {"hotkey", "validator_permit", "stake", "endpoint"}


@dataclass(frozen=True)
class WeightsCall:
    block: int
    uids: tuple[int, ...]
    weights: tuple[float, ...]


class LocalChain(Chain):
    def __init__(
        self,
        hotkey: str,
        neurons: Sequence[Neuron] = (),
        *,
        block: int = 0,
        block_time_s: float = 12.0,
        path: str | Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not isinstance(block_time_s, int | float) or not block_time_s > 0:
            raise ChainError(f"block_time_s must be > 0, got {block_time_s!r}")
        self._hotkey = hotkey
        self._neurons = tuple(neurons)
        self._block = block
        self._block_time_s = float(block_time_s)
        self._path = Path(path) if path is not None else None
        self._mtime_ns: int | None = None
        self._clock = clock
        self._start = clock()
        self.weight_calls: list[WeightsCall] = []

    @classmethod
    def from_file(
        cls, path: str | Path, hotkey: str, *, clock: Callable[[], float] = time.monotonic
    ) -> LocalChain:
        p = Path(path)
        data = _read(p)
        chain = cls(
            hotkey,
            data["neurons"],
            block=data["block"],
            block_time_s=data["block_time_s"],
            path=p,
            clock=clock,
        )
        chain._mtime_ns = _mtime(p)
        return chain

    @property
    def hotkey(self) -> str:
        return self._hotkey

    def metagraph(self) -> Metagraph:
        self._reload()
        return Metagraph(self.current_block(), self._neurons)

    def current_block(self) -> int:
        return self._block + int((self._clock() - self._start) / self._block_time_s)

    def serve(self, host: str, port: int) -> None:
        check_port(port)
        if not host or any(c in host for c in " /"):
            raise ChainError(f"host must be an address or name, got {host!r}")
        endpoint = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if self._path is None:
            self._neurons = self._with_endpoint(self._neurons, endpoint)
            return
        with _locked(self._path):
            raw = _load_json(self._path)
            neurons = parse(raw, str(self._path))["neurons"]
            raw["neurons"][self._uid_in(neurons)]["endpoint"] = endpoint
            _write_atomic(self._path, raw)
        self._neurons = self._with_endpoint(neurons, endpoint)
        self._mtime_ns = _mtime(self._path)

    def set_weights(self, uids: Sequence[int], weights: Sequence[float]) -> None:
        self._reload()
        me = next((n for n in self._neurons if n.hotkey == self._hotkey), None)
        if me is None:
            raise ChainError(f"hotkey {self._hotkey} is not registered")
        if not me.validator_permit:
            raise ChainError(f"hotkey {self._hotkey} has no validator permit")
        check_weights(uids, weights, [n.uid for n in self._neurons])
        call = WeightsCall(self.current_block(), tuple(uids), tuple(float(w) for w in weights))
        self.weight_calls.append(call)
        if self._path is not None:  # on the chain: in the file, under this validator's hotkey
            with _locked(self._path):
                raw = _load_json(self._path)
                parse(raw, str(self._path))
                raw.setdefault("weights", {})[self._hotkey] = {
                    "block": call.block,
                    "uids": list(call.uids),
                    "weights": list(call.weights),
                }
                _write_atomic(self._path, raw)
            self._mtime_ns = _mtime(self._path)

    def _uid_in(self, neurons: Sequence[Neuron]) -> int:
        for n in neurons:
            if n.hotkey == self._hotkey:
                return n.uid
        raise ChainError(f"hotkey {self._hotkey} is not registered, so it cannot serve")

    def _with_endpoint(self, neurons: Sequence[Neuron], endpoint: str) -> tuple[Neuron, ...]:
        uid = self._uid_in(neurons)
        return tuple(replace(n, endpoint=endpoint) if n.uid == uid else n for n in neurons)

    def _reload(self) -> None:
        if self._path is None:
            return
        mtime = _mtime(self._path)
        if mtime != self._mtime_ns:
            self._neurons = _read(self._path)["neurons"]
            self._mtime_ns = mtime


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError as e:
        raise ChainError(f"{path}: cannot read: {e.strerror or e}") from e


class _locked:
    """An exclusive lock on ``PATH.lock`` for a read-modify-write of PATH."""

    def __init__(self, path: Path) -> None:
        self._lock_path = path.with_name(path.name + ".lock")

    def __enter__(self) -> None:
        self._fd = os.open(self._lock_path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def _write_atomic(path: Path, data: Any) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> dict[str, Any]:
    """The validated contents of a local chain file; errors name the file and the field."""
    return parse(_load_json(path), str(path))


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ChainError(f"{path}: cannot read: {e.strerror or e}") from e
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as e:
        raise ChainError(f"{path}: not valid JSON: {e}") from e
    return raw


def parse(raw: Any, source: str = "<local chain>") -> dict[str, Any]:
    """Checks a local chain document; returns ``block``, ``block_time_s`` and ``neurons``."""

    def fail(field: str, problem: str) -> ChainError:
        return ChainError(f"{source}: {field}: {problem}")

    if not isinstance(raw, dict):
        raise fail("(root)", "must be an object")
    unknown = sorted(set(raw) - _ROOT_KEYS)
    if unknown:
        raise fail(unknown[0], "unknown key")
    block = raw.get("block", 0)
    if isinstance(block, bool) or not isinstance(block, int) or block < 0:
        raise fail("block", f"must be an integer >= 0, got {block!r}")
    block_time_s = raw.get("block_time_s", 12.0)
    if not _number(block_time_s) or block_time_s <= 0:
        raise fail("block_time_s", f"must be a number > 0, got {block_time_s!r}")
    weights = raw.get("weights", {})
    if not isinstance(weights, dict) or not all(isinstance(v, dict) for v in weights.values()):
        raise fail("weights", "must be an object of the weights each validator hotkey set")
    items = raw.get("neurons")
    if not isinstance(items, list):
        raise fail("neurons", f"must be a list, got {type(items).__name__}")
    neurons: list[Neuron] = []
    seen: set[str] = set()
    for uid, item in enumerate(items):
        where = f"neurons[{uid}]"
        if not isinstance(item, dict):
            raise fail(where, "must be an object")
        unknown = sorted(set(item) - _NEURON_KEYS)
        if unknown:
            raise fail(f"{where}.{unknown[0]}", "unknown key")
        hotkey = item.get("hotkey")
        if not isinstance(hotkey, str) or not hotkey:
            raise fail(f"{where}.hotkey", f"must be a non-empty string, got {hotkey!r}")
        if hotkey in seen:
            raise fail(f"{where}.hotkey", f"{hotkey} is registered twice")
        seen.add(hotkey)
        permit = item.get("validator_permit", False)
        if not isinstance(permit, bool):
            raise fail(f"{where}.validator_permit", f"must be true or false, got {permit!r}")
        stake = item.get("stake", 0.0)
        if not _number(stake) or stake < 0:
            raise fail(f"{where}.stake", f"must be a number >= 0, got {stake!r}")
        endpoint = item.get("endpoint")
        if endpoint is not None and not _endpoint(endpoint):
            raise fail(f"{where}.endpoint", f"must be null or 'host:port', got {endpoint!r}")
        neurons.append(Neuron(uid, hotkey, permit, float(stake), endpoint))
    return {"block": block, "block_time_s": float(block_time_s), "neurons": tuple(neurons)}


def _number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _endpoint(value: object) -> bool:
    if not isinstance(value, str):
        return False
    host, sep, port = value.rpartition(":")
    return bool(sep and host) and port.isdigit() and 1 <= int(port) <= 65_535
