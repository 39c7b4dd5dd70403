"""Simulated latency: how a miner's response time becomes a delay in simulated time.

The kernel owns the clock. Simulated time does not move while miners think;
instead each reply's wall-clock response time is turned into a delay of
simulated time by one named, swappable ``LatencyModel``. An accepted
instruction reaches the exchange at

    state time + model delay + the instruction's own ``delay_ns``

The default ``LinearLatency`` (SPEC §8)::

    delay = max(min_delay, max_delay * response_time / timeout)

with ``min_delay = 10 ms``, ``max_delay = 500 ms`` of simulated time and
``timeout = 3 s`` of wall time, rounded to the nearest nanosecond. A reply at
or after the timeout gets no delay (``None``): it is dropped whole.

A miner's extra ``delay_ns`` is bounded by ``max_extra_delay_ns`` (by default
the publish interval, so an instruction cannot be parked beyond the next state
it would have been able to send anyway); validation rejects a larger one and
``instruction_delay_ns`` refuses it.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from taos.protocol import Instruction

NS_PER_S = 1_000_000_000


class LatencyModel(ABC):
    """Turns a reply's wall-clock response time into a delay of simulated time."""

    name: ClassVar[str]

    @abstractmethod
    def delay_ns(self, response_time_s: float) -> int | None:
        """The delay in simulated nanoseconds (>= 0) for a reply that took
        ``response_time_s`` seconds, or None when the reply counts as late or
        failed and contributes nothing.

        Raises ValueError for a negative or NaN response time.
        """


def _check_response_time(response_time_s: float) -> None:
    if isinstance(response_time_s, bool) or not isinstance(response_time_s, int | float):
        raise ValueError(f"response time must be a number of seconds, got {response_time_s!r}")
    if math.isnan(response_time_s) or response_time_s < 0:
        raise ValueError(f"response time must be >= 0 seconds, got {response_time_s!r}")


@dataclass(frozen=True)
class LinearLatency(LatencyModel):
    """``delay = max(min_delay, max_delay * response_time / timeout)``; at or after
    ``timeout`` the reply is late (None). Times in seconds; the delay is returned in
    simulated nanoseconds, rounded to the nearest one.

    Requires ``0 <= min_delay_s <= max_delay_s`` and ``timeout_s > 0``, all finite.
    """

    name: ClassVar[str] = "linear"

    min_delay_s: float = 0.010
    max_delay_s: float = 0.500
    timeout_s: float = 3.0

    def __post_init__(self) -> None:
        values = (self.min_delay_s, self.max_delay_s, self.timeout_s)
        if not all(
            isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in values
        ):
            raise ValueError(f"latency parameters must be finite numbers, got {values}")
        if not 0 <= self.min_delay_s <= self.max_delay_s:
            raise ValueError(
                f"need 0 <= min_delay_s <= max_delay_s, got {self.min_delay_s} and {self.max_delay_s}"
            )
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")

    def delay_ns(self, response_time_s: float) -> int | None:
        _check_response_time(response_time_s)
        if response_time_s >= self.timeout_s:
            return None
        scaled = self.max_delay_s * NS_PER_S * response_time_s / self.timeout_s
        return max(round(self.min_delay_s * NS_PER_S), round(scaled))


LATENCY_MODELS: dict[str, type[LatencyModel]] = {LinearLatency.name: LinearLatency}
"""Latency models by name, for configuration."""


def latency_model(name: str, **params: float) -> LatencyModel:
    """The latency model called ``name`` with ``params`` (``latency_model("linear", timeout_s=5.0)``)."""
    try:
        cls = LATENCY_MODELS[name]
    except KeyError:
        raise ValueError(f"unknown latency model {name!r}; known: {sorted(LATENCY_MODELS)}") from None
    return cls(**params)


def instruction_delay_ns(model_delay_ns: int, instruction: Instruction, *, max_extra_delay_ns: int) -> int:
    """The total delay of one instruction: the model's delay for its reply plus
    the instruction's own ``delay_ns``.

    Raises ValueError when ``model_delay_ns`` is negative or the extra delay is
    outside ``[0, max_extra_delay_ns]`` (validation rejects such instructions
    before they get here).
    """
    if isinstance(model_delay_ns, bool) or not isinstance(model_delay_ns, int) or model_delay_ns < 0:
        raise ValueError(f"model delay must be an integer >= 0 ns, got {model_delay_ns!r}")
    extra = instruction.delay_ns
    if not 0 <= extra <= max_extra_delay_ns:
        raise ValueError(f"extra delay_ns {extra} is outside [0, {max_extra_delay_ns}]")
    return model_delay_ns + extra
