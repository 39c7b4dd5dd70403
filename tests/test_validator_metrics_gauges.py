"""The book and miner gauges of ValidatorMetrics (taos.validator.gauges), computed at scrape time:
a real Validator (real simulator, a local chain file, the example maker and taker agents in
process, a state folder) runs a few steps, its registry is scraped over loopback, and every value
is checked against what the steps' own results say (events, book levels, accounts). A reset uid's
volumes start again, a deregistered uid's series go, and NullMetrics takes the same calls."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from markets import populations
from test_validator_metrics import Samples, parse, scrape

from taos.agents import Agent, create_agent, load_agent_class
from taos.chain import LocalChain
from taos.config import loads
from taos.simulator import EventKind
from taos.validator.gauges import row_mean, row_median
from taos.validator.loop import run
from taos.validator.metrics import NullMetrics, ValidatorMetrics
from taos.validator.policy import ScoringSettings
from taos.validator.store import ValidatorStore
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

ROOT = Path(__file__).resolve().parents[1]
BOOKS = 2
TICK, LOT = 0.01, 0.0001
QUOTE_UNITS = round(1 / (TICK * LOT))
CONFIG = f"""
[simulation]
books = {BOOKS}
seed = 3
duration_s = 3600.0
publish_interval_s = 5.0
grace_period_s = 10.0
[market]
tick_size = {TICK}
lot_size = {LOT}
[miners]
slots = 5
""" + populations(40, 40, 3)
HOTKEYS = ["validator", "m1", "m2", "m3"]  # uid 1: maker, uid 2: taker, uid 3: registered, no agent


class Run:
    """A validator with metrics and every step's result kept (trades copied out)."""

    def __init__(
        self, folder: Path, metrics: ValidatorMetrics | NullMetrics, extra: dict[int, Agent] | None = None
    ) -> None:
        self.chain_file = folder / "chain.json"
        self.trades: list[np.ndarray] = []  # per step
        self.last: Any = None
        self.write_chain(HOTKEYS)
        # quotes within 2 ticks of the mid: on this market's 1-tick spread they fill within the run
        maker = create_agent(
            load_agent_class(ROOT / "agents", "RandomMakerAgent"),
            1,
            {"max_quantity": 0.5, "max_offset_ticks": 2},
        )
        taker = create_agent(load_agent_class(ROOT / "agents", "RandomTakerAgent"), 2, {"probability": 0.8})
        self.store = ValidatorStore(folder / "state")
        self.v = Validator(
            loads(CONFIG),
            LocalChain.from_file(self.chain_file, "validator"),
            InProcessTransport({1: maker, 2: taker, **(extra or {})}),
            ValidatorSettings(weights_interval_s=0.0, scoring=ScoringSettings(min_volume=0.0)),
            metrics=metrics,
            store=self.store,
        )

    def write_chain(self, hotkeys: list[str]) -> None:
        neurons = [
            {"hotkey": h, "validator_permit": i == 0, "stake": 1000.0 * (i == 0)}
            for i, h in enumerate(hotkeys)
        ]
        self.chain_file.write_text(json.dumps({"neurons": neurons}))
        st = self.chain_file.stat()  # a new modification time even within the clock's resolution
        os.utime(self.chain_file, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9 * (len(self.trades) + 1)))

    def steps(self, n: int) -> None:
        def keep(result: Any) -> None:
            ev = result.events
            self.trades.append(ev[ev["kind"] == EventKind.TRADE].copy())
            self.last = result

        self.v.sync_chain()
        assert asyncio.run(run(self.v, max_steps=n, on_step=keep)) == n

    def volume(self, field: str, uid: int, since_step: int = 0) -> float:
        """Notional of the trades with ``field`` (agent: taker, other_agent: maker) == uid."""
        trades = self.trades[since_step:]
        return sum(int(t["notional_quote"][t[field] == uid].sum()) for t in trades) / QUOTE_UNITS


@pytest.fixture
def metrics() -> ValidatorMetrics:
    return ValidatorMetrics(process_metrics=False)


@pytest.fixture
def new_run(tmp_path: Path) -> Iterator[Callable[[ValidatorMetrics | NullMetrics], Run]]:
    runs: list[Run] = []

    def make(metrics: ValidatorMetrics | NullMetrics) -> Run:
        runs.append(Run(tmp_path, metrics))
        return runs[-1]

    yield make
    for r in runs:
        r.store.close()


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def has(samples: Samples, name: str, **labels: str) -> bool:
    return (name, tuple(sorted(labels.items()))) in samples


def test_book_gauges_are_the_steps_books_and_trades(new_run: Any, metrics: ValidatorMetrics) -> None:
    r = new_run(metrics)
    r.steps(12)
    with metrics.serve(0) as server:
        s = scrape(server)
    for b in range(BOOKS):
        bids, asks = r.last.books[b].bids, r.last.books[b].asks
        bid, ask = int(bids["price_ticks"][0]), int(asks["price_ticks"][0])
        book = str(b)
        assert value(s, "taos_validator_book_mid_price", book=book) == pytest.approx((bid + ask) / 2 * TICK)
        assert value(s, "taos_validator_book_spread", book=book) == pytest.approx((ask - bid) * TICK)
        assert value(s, "taos_validator_book_touch_depth", book=book, side="bid") == pytest.approx(
            int(bids["qty_lots"][0]) * LOT
        )
        assert value(s, "taos_validator_book_touch_depth", book=book, side="ask") == pytest.approx(
            int(asks["qty_lots"][0]) * LOT
        )
        on_book = [t[t["book"] == b] for t in r.trades]
        traded = sum(int(t["notional_quote"].sum()) for t in on_book) / QUOTE_UNITS
        assert traded > 0
        assert value(s, "taos_validator_book_traded_volume_total", book=book) == pytest.approx(traded)
        assert value(s, "taos_validator_book_trades_total", book=book) == sum(len(t) for t in on_book)


def test_miner_gauges_are_the_accounts_trades_and_scores(new_run: Any, metrics: ValidatorMetrics) -> None:
    r = new_run(metrics)
    r.steps(16)  # the maker's first fills come after a minute of this thin market
    s = parse(metrics.render().decode())
    v, last = r.v, r.last
    assert value(s, "taos_validator_miners_registered") == len(HOTKEYS)
    assert not any(("uid", "4") in labels for _, labels in s)  # slot 4 is not registered

    # volumes: the example maker rests orders that get filled, the taker crosses the spread
    assert r.volume("other_agent", 1) > 0 and r.volume("agent", 2) > 0
    for uid in range(len(HOTKEYS)):
        u = str(uid)
        assert value(s, "taos_validator_miner_maker_volume_total", uid=u) == pytest.approx(
            r.volume("other_agent", uid)
        )
        assert value(s, "taos_validator_miner_taker_volume_total", uid=u) == pytest.approx(
            r.volume("agent", uid)
        )

    # inventory value, PnL and fees from the last step's accounts and book levels
    mids = [(int(lv.bids["price_ticks"][0]) + int(lv.asks["price_ticks"][0])) / 2 for lv in last.books]
    base0, quote0 = int(v.core.miner_base_lots), int(v.core.miner_quote)
    for uid in range(len(HOTKEYS)):
        inventory = pnl = fees = 0.0
        for b, acc in enumerate(last.accounts):
            row = acc[acc["agent"] == uid][0]
            base = int(row["base_free"]) + int(row["base_reserved"])
            quote = int(row["quote_free"]) + int(row["quote_reserved"])
            inventory += quote + mids[b] * base
            pnl += (quote - quote0) + mids[b] * (base - base0)
            fees += int(row["fees_paid"])
        u = str(uid)
        assert value(s, "taos_validator_miner_inventory_value", uid=u) == pytest.approx(
            inventory / QUOTE_UNITS
        )
        assert value(s, "taos_validator_miner_pnl", uid=u) == pytest.approx(pnl / QUOTE_UNITS, abs=1e-6)
        assert value(s, "taos_validator_miner_fees_paid", uid=u) == pytest.approx(fees / QUOTE_UNITS)
    assert value(s, "taos_validator_miner_fees_paid", uid="2") > 0  # a taker pays
    assert value(s, "taos_validator_miner_pnl", uid="3") == 0.0  # never traded: holding is its value

    # activity and Sharpe: the scores' own per-book arrays, averaged (median) over the books
    tracked = np.zeros(v.slots, dtype=np.bool_)
    tracked[1:4] = True  # the registered uids but the validator's own
    sharpes, activity = v.scores.book_sharpes(tracked), v.scores.activity()
    assert activity[2].max() > 0 and np.abs(sharpes[2]).max() > 0
    for uid in range(1, len(HOTKEYS)):
        u = str(uid)
        assert value(s, "taos_validator_miner_activity", uid=u) == pytest.approx(activity[uid].mean())
        assert value(s, "taos_validator_miner_sharpe", uid=u) == pytest.approx(np.median(sharpes[uid]))

    # the score and weight series of weights time are there for the same uids
    for uid in range(len(HOTKEYS)):
        assert has(s, "taos_validator_miner_weight", uid=str(uid))

    # the state folder: the bytes of its files, as the validator wrote them
    on_disk = sum(p.stat().st_size for p in (r.store.directory).rglob("*") if p.is_file())
    assert value(s, "taos_validator_state_folder_bytes") == pytest.approx(on_disk, rel=0.05)
    assert on_disk > 0


def test_a_reset_uid_starts_from_zero_and_a_deregistered_uid_goes(
    new_run: Any, metrics: ValidatorMetrics
) -> None:
    r = new_run(metrics)
    r.steps(6)
    before = parse(metrics.render().decode())
    assert value(before, "taos_validator_miner_taker_volume_total", uid="2") > 0
    assert has(before, "taos_validator_miner_inventory_value", uid="3")

    # uid 2 gets a new hotkey (a new miner: reset), uid 3 leaves the metagraph
    r.write_chain(["validator", "m1", "m2-new"])
    reset_at = len(r.trades)  # the trades of the step that sees the change are the old miner's
    r.steps(6)
    after = parse(metrics.render().decode())
    since = r.volume("agent", 2, since_step=reset_at + 1)
    assert value(after, "taos_validator_miner_taker_volume_total", uid="2") == pytest.approx(since)
    assert since < r.volume("agent", 2)
    assert sorted(name for name, labels in after if ("uid", "3") in labels) == []
    assert value(after, "taos_validator_miners_registered") == 3
    # uid 1 carried on: its volume covers every step
    assert value(after, "taos_validator_miner_maker_volume_total", uid="1") == pytest.approx(
        r.volume("other_agent", 1)
    )


def test_before_the_first_step_there_are_no_market_series(metrics: ValidatorMetrics) -> None:
    s = parse(metrics.render().decode())
    assert not any(name.startswith(("taos_validator_book_", "taos_validator_miner_pnl")) for name, _ in s)


def test_null_metrics_take_the_market_calls(new_run: Any) -> None:
    """taos local runs with NullMetrics: the same loop, nothing recorded."""
    r = new_run(NullMetrics())
    r.steps(3)
    assert r.v.step_index == 3


def test_row_mean_and_median_skip_what_is_not_finite() -> None:
    x = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [4.0, 1.0, 2.0], [np.inf, 5.0, 5.0]])
    np.testing.assert_array_equal(row_mean(x), [2.0, np.nan, 7 / 3, 5.0])
    np.testing.assert_array_equal(row_median(x), [2.0, np.nan, 2.0, 5.0])
