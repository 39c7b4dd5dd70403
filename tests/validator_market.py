"""A validator over a small market with a hand-made latest step, for tests of targets and rules
that call ``Validator.accept`` directly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from markets import populations

from taos.chain import LocalChain
from taos.config import loads
from taos.protocol import encode_reply
from taos.validator.rules import RulesSettings
from taos.validator.transport import Answer, InProcessTransport
from taos.validator.validator import MarketSnapshot, Validator, ValidatorSettings

# The default market: tick 0.01, lot 0.0001, so one quote unit is 1e-6 quote; a miner starts with
# 100,000 of wealth per book, half of it in base at 300: 166.6667 base = 1,666,667 lots, and
# 50,000 quote = 5e10 quote units.
NEUTRAL = 1_666_667
QUOTE = 50_000_000_000
MID = 30_000.0  # 300.00
# equity = 5e10 + 30,000 x 1,666,667 = 100,000,010,000 units; equity / mid = 3,333,333.667 lots
EQUITY_LOTS = (QUOTE + MID * NEUTRAL) / MID


CONFIG = """
[simulation]
books = 2
seed = 3
duration_s = 600.0
publish_interval_s = 5.0
grace_period_s = 0.0
[miners]
slots = 3
""" + populations(5, 5, 1)
UID = 1
DELAY = 10_000_000  # the latency model's delay for an instant reply: 10 ms


def make_validator(tmp_path: Path, rules: RulesSettings | None = None) -> Validator:
    chain_file = tmp_path / "chain.json"
    neurons = [{"hotkey": h, "validator_permit": i == 0} for i, h in enumerate(["v", "m1", "m2"])]
    chain_file.write_text(json.dumps({"neurons": neurons}))
    settings = ValidatorSettings(weights_interval_s=1e9, rules=rules or RulesSettings())
    v = Validator(loads(CONFIG), LocalChain.from_file(chain_file, "v"), InProcessTransport({}), settings)
    v.sync_chain()
    assert v.neutral_lots == NEUTRAL and v.core.miner_quote == QUOTE
    set_market(v)
    return v


def set_market(v: Validator, mid: tuple[float, float] = (MID, MID), **cells: int) -> None:
    """A hand-made latest step: every miner at its starting balances, except ``cells``
    (``base=``, ``free=``, ``quote=``, ``orders=`` of miner UID on book 0)."""
    shape = (v.slots, v.books)
    base = np.full(shape, NEUTRAL, dtype=np.int64)
    quote = np.full(shape, QUOTE, dtype=np.int64)
    orders = np.zeros(shape, dtype=np.int64)
    base[UID, 0] = cells.get("base", NEUTRAL)
    free = base.copy()
    free[UID, 0] = cells.get("free", base[UID, 0])
    quote[UID, 0] = cells.get("quote", QUOTE)
    orders[UID, 0] = cells.get("orders", 0)
    v.market = MarketSnapshot(v.sim.time_ns, np.array(mid, dtype=float), base, free, quote, orders)


def answer(*instructions: object) -> dict[int, Answer]:
    return {UID: Answer(encode_reply(list(instructions)), 0.0)}  # type: ignore[arg-type]


def notices(v: Validator) -> list:
    out, v.miners[UID].notices = v.miners[UID].notices, []
    return out
