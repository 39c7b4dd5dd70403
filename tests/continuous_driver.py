"""A continuous validator (simulation after simulation) over a small market, with a store, for the
rollover crash tests.

    python tests/continuous_driver.py STORE_DIR --until STEP [--kill-at checkpoint|commit]

Runs the real ``Validator`` and loop (in-process agents whose replies are a function of their
state only, so a resumed run sends what an uninterrupted one sends) until the validator's step
index reaches ``STEP``. ``--kill-at`` kills the process with SIGKILL at the first rollover:
``checkpoint`` after the new simulation's checkpoint file is written and before the commit that
starts it, ``commit`` right after that commit. Prints ``resumed K`` (the step it starts after) and
``done K S`` (the last step and the simulation index).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from markets import loop_market

from taos.agents import Agent
from taos.chain import LocalChain
from taos.config import loads
from taos.protocol import MarketState, PlaceLimit, PlaceMarket, Side
from taos.validator.loop import run
from taos.validator.store import ValidatorStore
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

STEPS_PER_SIMULATION = 20  # 100 s of 5 s steps
CONFIG = loop_market(slots=3, duration_s=100.0, grace_period_s=10.0, miners="wealth = 1000.0")


class StateAgent(Agent):
    """Quotes around the mid and takes now and then, drawing from its state's time and the
    simulation: the same state gets the same reply in any process."""

    def on_state(self, state: MarketState) -> list:
        rng = random.Random(f"{self.uid}:{state.simulation.simulation_id}:{state.timestamp_ns}")
        out: list = []
        for book in state.books:
            bid, ask = book.best_bid, book.best_ask
            if bid is None or ask is None:
                continue
            out.append(PlaceLimit(book.book, Side.BUY, bid - 0.01 * rng.randint(0, 3), 0.05))
            out.append(PlaceLimit(book.book, Side.SELL, ask + 0.01 * rng.randint(0, 3), 0.05))
            if rng.random() < 0.3:
                out.append(PlaceMarket(book.book, Side.BUY if rng.random() < 0.5 else Side.SELL, 0.02))
        return out


def make(store_dir: Path, *, store: bool = True, **settings: Any) -> Validator:
    """The driver's validator over the state folder ``store_dir`` (its chain file beside it);
    ``store=False``: without a store. ``settings`` override the driver's ValidatorSettings."""
    chain_file = store_dir.parent / f"{store_dir.name}-chain.json"
    neurons = [
        {"hotkey": h, "validator_permit": i == 0, "stake": 1000.0 if i == 0 else 0.0}
        for i, h in enumerate(["validator", "m1", "m2"])
    ]
    chain_file.write_text(json.dumps({"neurons": neurons}))
    chain = LocalChain.from_file(chain_file, "validator")
    options: dict[str, Any] = {
        "weights_interval_s": 1e9,
        "checkpoint_steps": 7,
        "simulations": None,
        "keep_simulations": 2,
        **settings,
    }
    agents = {1: StateAgent(1), 2: StateAgent(2)}
    return Validator(
        loads(CONFIG),
        chain,
        InProcessTransport(agents),
        ValidatorSettings(**options),
        store=ValidatorStore(store_dir) if store else None,
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("store", type=Path)
    p.add_argument("--until", type=int, required=True)
    p.add_argument("--kill-at", choices=["checkpoint", "commit"], default=None)
    a = p.parse_args()
    v = make(a.store)
    print("resumed", v.step_index, flush=True)
    if a.kill_at is not None:
        commit = v.store.commit

        def killing_commit(*args, **kwargs):  # type: ignore[no-untyped-def]
            if kwargs.get("ended") is not None and a.kill_at == "checkpoint":
                os.kill(os.getpid(), signal.SIGKILL)
            commit(*args, **kwargs)
            if kwargs.get("ended") is not None:
                os.kill(os.getpid(), signal.SIGKILL)

        v.store.commit = killing_commit  # type: ignore[method-assign]
    stop = asyncio.Event()

    def on_step(result: object) -> None:
        if v.step_index >= a.until:
            stop.set()

    v.sync_chain()
    if v.step_index < a.until:
        asyncio.run(run(v, stop=stop, on_step=on_step))
    v.store.close()
    print("done", v.step_index, v.simulation_index, flush=True)


if __name__ == "__main__":
    main()
