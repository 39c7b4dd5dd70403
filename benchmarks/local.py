"""In-process transport overhead of `taos local`: the same market and seed run through the validator
loop without agents, then with the demo's agents called in process (states built and encoded, decoded
by the transport, replies encoded, decoded and validated, orders applied). Prints both mean step
times and where the difference goes:

- transport: encoding the states (``Validator.encode_s``), decoding them and encoding the replies in
  the in-process transport (the cost the transport adds between the validator and the agents);
- agents: the agents' own work (``Agent.handle``);
- validator: the rest of the difference (building the states' contents from the step result,
  validating the replies, the agents' orders and their events in the engine).

The run folder is not written (that cost is output, not transport).

    python benchmarks/local.py [--config configs/small.toml] [--duration 10m] [--books 8]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from taos.chain import LocalChain, Neuron
from taos.local.runner import build_config, build_market, default_agents, parse_duration
from taos.validator.loop import run
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings


def timed(v: Validator) -> tuple[float, int]:
    v.sync_chain()
    started = time.perf_counter()
    steps = asyncio.run(run(v))
    return time.perf_counter() - started, steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--duration", default="30m")
    ap.add_argument("--books", type=int, default=None)
    args = ap.parse_args()
    cfg, _ = build_config(
        args.config, books=args.books, duration_s=parse_duration(args.duration), seed=None, threads=None
    )
    chain = LocalChain("validator", [Neuron(0, "validator", True, 1.0, None)])
    bare = Validator(cfg, chain, InProcessTransport({}), ValidatorSettings(weights_interval_s=1e9))
    bare_s, steps = timed(bare)
    market = build_market(cfg, default_agents(), "inprocess")
    with_s, steps2 = timed(market.validator)
    assert steps == steps2
    transport = market.validator.transport
    assert isinstance(transport, InProcessTransport)
    after_grace = steps - round(cfg.simulation.grace_period_s / cfg.simulation.publish_interval_s)
    print(
        f"{cfg.simulation.books} books, {steps} steps of {cfg.simulation.publish_interval_s:g} s ({after_grace} after grace)"
    )
    print(f"without agents: {1e3 * bare_s / steps:8.2f} ms per step ({bare_s:.1f} s)")
    print(f"3 agents in process: {1e3 * with_s / steps:8.2f} ms per step ({with_s:.1f} s)")
    moved = transport.codec_s + market.validator.encode_s
    print(f"  transport (encode and decode states, encode replies): {1e3 * moved / steps:8.2f} ms per step")
    print(
        f"  agents' own work:                                      {1e3 * transport.agent_s / steps:8.2f} ms per step"
    )
    rest = with_s - bare_s - moved - transport.agent_s
    print(f"  validator (states' contents, validation, orders):      {1e3 * rest / steps:8.2f} ms per step")
    print(f"in-process transport overhead: {100 * moved / bare_s:.1f} % of the step time without agents")
    print(f"all but the agents' work: {100 * (with_s - bare_s - transport.agent_s) / bare_s:.1f} %")
    print(f"everything: {100 * (with_s - bare_s) / bare_s:.1f} %")


if __name__ == "__main__":
    main()
