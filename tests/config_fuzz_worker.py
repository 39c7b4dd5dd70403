"""Runs candidate configurations for tests/test_config_bounds.py, in a process with an address-space
limit: each is either refused by taos.config (a ConfigError) or must build a real Simulation, run
one step that advances the clock, and give a SimulationInfo that encodes on the wire.

Usage: python config_fuzz_worker.py CANDIDATES.pickle LIMIT_BYTES (the address-space limit, set
before anything else is imported)
Prints "start <i>" before candidate i and one JSON line {"i", "outcome", "message"} after it, where
outcome is "refused" (a ConfigError), "ran" or "crash" (any other exception, or a step that did not
advance the clock)."""

import resource
import sys

if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[2]), int(sys.argv[2])))

import json
import pickle
from typing import Any

import msgspec

from taos.config import ConfigError, from_dict, to_core
from taos.protocol.state import Capital, FeeTier, SimulationInfo
from taos.simulator import Simulation

NS = 1_000_000_000


def place(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = data
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def run(data: dict[str, Any]) -> str:
    """Returns "refused: <message>" or "ran"; raises for anything else."""
    try:
        config = from_dict(data)
        core = to_core(config)
    except ConfigError as e:
        return f"refused: {e}"
    s = config.simulation
    sim = Simulation(core)
    until = min(round(s.duration_s * NS), round(s.publish_interval_s * NS))
    result = sim.step(until)
    if not (until > 0 and result.time_ns == until):
        raise RuntimeError(f"the step did not advance the clock: until {until} ns, time {result.time_ns} ns")
    info = SimulationInfo(
        simulation_id=str(s.seed),
        books=s.books,
        tick_size=config.market.tick_size,
        lot_size=config.market.lot_size,
        duration_ns=round(s.duration_s * NS),
        publish_interval_ns=round(s.publish_interval_s * NS),
        capital=(Capital(1.0, 1.0),) * s.books,
        fee_tiers=tuple(FeeTier(t.volume, t.maker, t.taker) for t in config.fees.miner),
        fee_window_ns=round(config.fees.window_buckets * config.fees.bucket_s * NS),
    )
    msgspec.msgpack.encode(info)
    return "ran"


def main() -> None:
    with open(sys.argv[1], "rb") as f:
        base, candidates = pickle.load(f)
    for i, (path, value) in enumerate(candidates):
        print(f"start {i}", flush=True)
        data = pickle.loads(pickle.dumps(base))
        place(data, path, value)
        try:
            outcome = run(data)
        except BaseException as e:  # every failure is reported to the test
            line = {"i": i, "outcome": "crash", "message": f"{type(e).__name__}: {str(e)[:300]}"}
        else:
            kind, _, message = outcome.partition(": ")
            line = {"i": i, "outcome": kind, "message": message}
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
