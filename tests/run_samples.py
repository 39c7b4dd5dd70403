"""A small recorded run for the run-folder tests: a real Validator offline (a local chain file, the
example agents in ``agents/`` through the in-process transport), every step recorded with
RunWriter, and what the tests compare the files with (the StepResults' events, the last result)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from markets import populations

from taos.agents import create_agent, load_agent_class
from taos.chain import LocalChain
from taos.config import loads
from taos.local.output import RunWriter
from taos.validator.policy import ScoringSettings
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

ROOT = Path(__file__).resolve().parents[1]
BOOKS = 2
TICK = 0.01
LOT = 0.0001
CONFIG = f"""
[simulation]
books = {BOOKS}
seed = 11
duration_s = 900.0
publish_interval_s = 5.0
grace_period_s = 30.0
[market]
tick_size = {TICK}
lot_size = {LOT}
[miners]
slots = 4
""" + populations(40, 40, 3)
NAMES = {1: "maker", 2: "taker", 3: "idle"}  # uid 3 is registered but has no agent: it never trades


@dataclass
class Recorded:
    path: Path
    validator: Validator
    steps: int
    events: dict[int, list[np.ndarray]] = field(default_factory=dict)  # per book, every step's events
    last: Any = None  # the last StepResult
    summary: dict[str, Any] = field(default_factory=dict)

    def book_events(self, book: int) -> np.ndarray:
        return np.concatenate(self.events[book])


def validator(folder: Path) -> Validator:
    folder.mkdir(parents=True, exist_ok=True)
    neurons = [
        {"hotkey": h, "validator_permit": i == 0, "stake": 1000.0 if i == 0 else 0.0}
        for i, h in enumerate(["validator", "m1", "m2", "m3"])
    ]
    (folder / "chain.json").write_text(json.dumps({"neurons": neurons}))
    chain = LocalChain.from_file(folder / "chain.json", "validator")
    maker = create_agent(load_agent_class(ROOT / "agents", "RandomMakerAgent"), 1, {"max_quantity": 0.5})
    taker = create_agent(load_agent_class(ROOT / "agents", "RandomTakerAgent"), 2, {"probability": 0.8})
    transport = InProcessTransport({1: maker, 2: taker})
    # 200 s of a small taker's trades stay below preset taos's minimum volume of a book over the
    # Sharpe window (the scoring tests cover it): here every book counts, so the taker scores
    scoring = ScoringSettings(min_volume=0.0)
    return Validator(
        loads(CONFIG), chain, transport, ValidatorSettings(weights_interval_s=0.0, scoring=scoring)
    )


async def _run(v: Validator, writer: RunWriter, rec: Recorded, steps: int) -> None:
    for _ in range(steps):
        result = v.step()
        answers = await v.query(v.requests(result))
        v.accept(answers)
        v.score(result)
        v.sync_chain()
        writer.record(result, v)
        for b in range(BOOKS):
            rec.events.setdefault(b, []).append(result.events[result.events["book"] == b].copy())
        rec.last = result
        rec.steps += 1


def record_run(
    folder: Path,
    steps: int = 40,
    *,
    close: bool = True,
    summary: dict[str, Any] | None = None,
    **writer_options: Any,
) -> tuple[Recorded, RunWriter]:
    """Runs ``steps`` steps recording into ``folder / "run"``; closes the writer unless told not to."""
    v = validator(folder)
    v.sync_chain()
    out = folder / "run"
    writer = RunWriter(out, CONFIG, BOOKS, NAMES, TICK, LOT, **writer_options)
    rec = Recorded(out, v, 0)
    asyncio.run(_run(v, writer, rec, steps))
    if close:
        rec.summary = writer.close(summary)
    return rec, writer
