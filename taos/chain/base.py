"""The chain as the validator and the miner see it: who is registered, who may
validate, where miners serve, and weights.

``BittensorChain`` talks to a Bittensor network; ``LocalChain`` keeps the same
facts in memory or in a small JSON file for offline runs and tests.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


class ChainError(Exception):
    """The chain cannot be reached, refuses a call, or is configured wrongly; the message says which."""


@dataclass(frozen=True)
class Neuron:
    uid: int
    hotkey: str
    validator_permit: bool
    stake: float
    endpoint: str | None  # "host:port" where it serves, None when it serves nothing


@dataclass(frozen=True)
class Metagraph:
    """A snapshot of a subnet at ``block``; ``neurons`` are ordered by uid."""

    block: int
    neurons: tuple[Neuron, ...]

    @property
    def uids(self) -> list[int]:
        return [n.uid for n in self.neurons]

    @property
    def hotkeys(self) -> list[str]:
        return [n.hotkey for n in self.neurons]

    @property
    def permits(self) -> list[bool]:
        return [n.validator_permit for n in self.neurons]

    @property
    def stakes(self) -> list[float]:
        return [n.stake for n in self.neurons]

    @property
    def endpoints(self) -> list[str | None]:
        return [n.endpoint for n in self.neurons]

    def by_hotkey(self, hotkey: str) -> Neuron | None:
        for n in self.neurons:
            if n.hotkey == hotkey:
                return n
        return None


class Chain(ABC):
    """What τaos needs from a chain. ``hotkey`` is the ss58 address of this process's hotkey."""

    @property
    @abstractmethod
    def hotkey(self) -> str: ...

    @abstractmethod
    def metagraph(self) -> Metagraph: ...

    @abstractmethod
    def serve(self, host: str, port: int) -> None:
        """Publishes this hotkey's endpoint."""

    @abstractmethod
    def set_weights(self, uids: Sequence[int], weights: Sequence[float]) -> None: ...

    @abstractmethod
    def current_block(self) -> int: ...

    def uid_of(self, hotkey: str) -> int | None:
        neuron = self.metagraph().by_hotkey(hotkey)
        return None if neuron is None else neuron.uid

    def own_uid(self) -> int | None:
        return self.uid_of(self.hotkey)


def check_port(port: object) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65_535:
        raise ChainError(f"port must be an integer in [1, 65535], got {port!r}")
    return port


def check_weights(uids: Sequence[int], weights: Sequence[float], known: Sequence[int]) -> None:
    import math

    if len(uids) != len(weights):
        raise ChainError(f"{len(uids)} uids but {len(weights)} weights")
    if len(set(uids)) != len(uids):
        raise ChainError("a uid is given twice")
    unknown = sorted(set(uids) - set(known))
    if unknown:
        raise ChainError(f"unknown uid(s): {unknown}")
    for uid, w in zip(uids, weights, strict=True):
        if not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            raise ChainError(f"weight of uid {uid} must be a finite number >= 0, got {w!r}")
