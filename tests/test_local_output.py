"""taos.local.output: a real validator run of 40 steps recorded with RunWriter, read back and
compared with what the validator and its StepResults said."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from run_samples import BOOKS, CONFIG, LOT, NAMES, TICK, Recorded, record_run

from taos.analysis import load_run
from taos.analysis.run import Run
from taos.local.output import RunWriter, print_summary, run_folder_name, summary_rows
from taos.scoring import sharpe
from taos.simulator import EVENT_DTYPE, EventKind
from taos.validator.store import simulation_identity

STEPS = 40
QUOTE_UNITS = round(1 / (TICK * LOT))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Recorded, Run]:
    rec, _ = record_run(tmp_path_factory.mktemp("output"), STEPS)
    return rec, load_run(rec.path)


def test_every_file_is_written_with_one_row_set_per_step(recorded: tuple[Recorded, Run]) -> None:
    rec, run = recorded
    assert rec.steps == STEPS
    assert (rec.path / "config.toml").read_text() == CONFIG
    for name in ("l2", "trades", "prices", "agents", "scores"):
        assert (rec.path / f"{name}.parquet").stat().st_size > 0
    # prices: one row per book and step, at the step's time
    assert len(run.prices) == STEPS * BOOKS
    assert not run.prices.duplicated(["time_ns", "book"]).any()
    times = sorted(run.prices["time_ns"].unique())
    assert times == [5_000_000_000 * (i + 1) for i in range(STEPS)]
    # agents: one row per agent, book and step; scores: one per agent and step
    assert len(run.agents) == STEPS * BOOKS * len(NAMES)
    assert len(run.scores) == STEPS * len(NAMES)
    assert set(run.agents["name"]) == set(NAMES.values())
    assert list(run.scores["step"].unique()) == list(range(1, STEPS + 1))
    # l2: both sides of every book at every step (the market has liquidity throughout)
    per = run.l2.groupby(["time_ns", "book", "side"]).size()
    assert len(per) == STEPS * BOOKS * 2
    assert per.max() <= 21  # the validator's state depth


def test_events_per_book_are_the_step_results_events(recorded: tuple[Recorded, Run]) -> None:
    rec, run = recorded
    total = 0
    for b in range(BOOKS):
        expected = rec.book_events(b)
        got = run.events(b)
        assert len(got) == len(expected) > 100
        for name in EVENT_DTYPE.names or ():
            assert np.array_equal(got[name].to_numpy(), expected[name]), name
        names = {int(k): k.name.lower() for k in EventKind.__members__.values()}
        assert list(got["kind_name"]) == [names[int(k)] for k in expected["kind"]]
        assert np.allclose(got["price"], expected["price_ticks"] * TICK)
        assert np.allclose(got["quantity"], expected["qty_lots"] * LOT)
        assert np.all(np.diff(got["seq"].to_numpy().astype(np.int64)) > 0)  # in order, nothing twice
        total += len(got)
    assert len(run.events()) == total == run.summary["events"]


def test_trades_are_the_trade_events(recorded: tuple[Recorded, Run]) -> None:
    rec, run = recorded
    events = np.concatenate([rec.book_events(b) for b in range(BOOKS)])
    trades = events[events["kind"] == EventKind.TRADE]
    assert len(run.trades) == len(trades) == run.summary["trades"] > 10
    by_key = {(int(t["book"]), int(t["seq"])): t for t in trades}
    for row in run.trades.itertuples():
        t = by_key.pop((row.book, row.seq))
        assert row.time_ns == t["ts_ns"]
        assert row.price == pytest.approx(t["price_ticks"] * TICK)
        assert row.quantity == pytest.approx(t["qty_lots"] * LOT)
        assert row.notional == pytest.approx(t["notional_quote"] / QUOTE_UNITS)
        assert row.side == ("buy" if t["side"] == 1 else "sell")
        assert (row.taker_agent, row.maker_agent) == (t["agent"], t["other_agent"])
        assert row.taker_fee == pytest.approx(t["taker_fee"] / QUOTE_UNITS)
        assert row.maker_fee == pytest.approx(t["maker_fee"] / QUOTE_UNITS)
    assert by_key == {}
    # the taker agent (uid 2) traded, and its trades are in the file under its uid
    assert (run.trades["taker_agent"] == 2).any()
    assert run.trades["time_ns"].is_monotonic_increasing


def test_last_step_inventory_and_volume_are_the_validators(recorded: tuple[Recorded, Run]) -> None:
    rec, run = recorded
    v = rec.validator
    values = v.inventory_values(rec.last) / QUOTE_UNITS
    volume = v.traded_totals(rec.last) / QUOTE_UNITS
    last = run.agents[run.agents["time_ns"] == rec.last.time_ns]
    assert len(last) == len(NAMES) * BOOKS
    for row in last.itertuples():
        assert row.inventory_value == pytest.approx(values[row.uid, row.book], rel=1e-12)
        assert row.traded_volume == pytest.approx(volume[row.uid, row.book], rel=1e-12)
    assert last[last["uid"] == 2]["traded_volume"].sum() > 0
    assert last[last["uid"] == 3]["traded_volume"].sum() == 0
    scores = run.scores[run.scores["time_ns"] == rec.last.time_ns].set_index("uid")["score"]
    for uid in NAMES:
        assert scores[uid] == pytest.approx(v.scores.scores()[uid])


def test_prices_and_l2_match_the_books(recorded: tuple[Recorded, Run]) -> None:
    rec, run = recorded
    t = rec.last.time_ns
    prices = run.prices[run.prices["time_ns"] == t].set_index("book")
    for b in range(BOOKS):
        book = rec.last.books[b]
        l2 = run.l2[(run.l2["time_ns"] == t) & (run.l2["book"] == b)]
        for side, levels in (("bid", book.bids), ("ask", book.asks)):
            rows = l2[l2["side"] == side].sort_values("level")
            assert list(rows["level"]) == list(range(len(levels)))
            assert np.allclose(rows["price"], levels["price_ticks"] * TICK)
            assert np.allclose(rows["quantity"], levels["qty_lots"] * LOT)
            assert list(rows["orders"]) == list(levels["count"])
            assert prices.loc[b, f"{side}_depth"] == pytest.approx(rows["quantity"].sum())
        bid, ask = book.bids["price_ticks"][0] * TICK, book.asks["price_ticks"][0] * TICK
        assert (prices.loc[b, "best_bid"], prices.loc[b, "best_ask"]) == (
            pytest.approx(bid),
            pytest.approx(ask),
        )
        assert prices.loc[b, "mid"] == pytest.approx((bid + ask) / 2)
        assert prices.loc[b, "fundamental"] == pytest.approx(rec.validator.sim.fundamental_ticks(b) * TICK)
        assert prices.loc[b, "signal"] == pytest.approx(rec.validator.sim.signal_price(b) * TICK)
    assert (run.prices["best_ask"] > run.prices["best_bid"]).all()


def test_summary_identity_and_agents(recorded: tuple[Recorded, Run]) -> None:
    rec, run = recorded
    s = run.summary
    assert s == json.loads((rec.path / "summary.json").read_text()) == rec.summary
    ident = simulation_identity(rec.validator.config)
    assert (s["config_hash"], s["seed"]) == (ident.config_hash, 11)
    assert (s["books"], s["steps"], s["first_step"], s["last_step"]) == (BOOKS, STEPS, 1, STEPS)
    assert s["duration_s"] == 200.0 and s["configured_duration_s"] == 900.0 and s["complete"] is False
    assert s["wall_time_s"] > 0
    assert run_folder_name(rec.validator.config) == f"{ident.config_hash[:12]}-11"
    agents = {a["uid"]: a for a in s["agents"]}
    assert sorted(a["rank"] for a in s["agents"]) == [1, 2, 3]
    by_rank = sorted(s["agents"], key=lambda a: a["rank"])
    assert [a["score"] for a in by_rank] == sorted((a["score"] for a in by_rank), reverse=True)
    wide = run.portfolio()
    for uid, a in agents.items():
        assert a["name"] == NAMES[uid]
        assert a["score"] == pytest.approx(rec.validator.scores.scores()[uid])
        series = wide[uid].to_numpy()
        assert a["initial_value"] == pytest.approx(series[0])
        assert a["final_value"] == pytest.approx(series[-1])
        assert a["pnl"] == pytest.approx(series[-1] - series[0])
        assert a["sharpe"] == pytest.approx(sharpe(series))
        last = run.agents[(run.agents["uid"] == uid) & (run.agents["time_ns"] == rec.last.time_ns)]
        assert a["volume"] == pytest.approx(last["traded_volume"].sum())
    assert agents[2]["volume"] > 0 and agents[3]["volume"] == 0
    assert agents[2]["score"] > agents[3]["score"]  # the trading agent scores, the idle one not
    assert agents[2]["rank"] < agents[3]["rank"]


def test_summary_rows_and_terminal_table(recorded: tuple[Recorded, Run]) -> None:
    _, run = recorded
    rows = summary_rows(run)
    assert rows == summary_rows(run.summary)
    assert [r["rank"] for r in rows] == [1, 2, 3]
    assert set(rows[0]) == {"rank", "agent", "uid", "pnl", "sharpe", "volume", "score"}
    buf = io.StringIO()
    print_summary(rows, Console(file=buf, width=120, color_system=None))
    text = buf.getvalue()
    lines = [line for line in text.splitlines() if any(n in line for n in NAMES.values())]
    assert [next(n for n in NAMES.values() if n in line) for line in lines] == [r["agent"] for r in rows]
    assert f"{rows[0]['volume']:,.2f}" in text
    with pytest.raises(ValueError, match="agents"):
        summary_rows({"books": 1})


def test_a_writer_closed_mid_run_leaves_a_loadable_folder(tmp_path: Path) -> None:
    rec, writer = record_run(tmp_path, 7, close=False)
    assert not (rec.path / "summary.json").exists()  # not finished yet
    summary = writer.close({"interrupted": True})
    assert writer.close() is summary  # closing twice changes nothing
    run = load_run(rec.path)
    assert run.summary["interrupted"] is True and run.summary["steps"] == 7
    assert len(run.prices) == 7 * BOOKS
    assert len(run.events(0)) == len(rec.book_events(0))
    with pytest.raises(RuntimeError, match="closed"):
        writer.record(rec.last, rec.validator)


def test_an_exception_inside_the_writer_context_still_closes_it(tmp_path: Path) -> None:
    from run_samples import validator

    v = validator(tmp_path)
    v.sync_chain()
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt), RunWriter(out, CONFIG, BOOKS, NAMES, TICK, LOT) as writer:
        for _ in range(3):
            result = v.step()
            v.score(result)
            writer.record(result, v)
        raise KeyboardInterrupt
    run = load_run(out)
    assert run.summary["interrupted"] is True
    assert run.summary["steps"] == 3 and len(run.scores) == 3 * len(NAMES)


def test_rows_are_written_in_row_groups_and_depth_is_limited(tmp_path: Path) -> None:
    rec, _ = record_run(tmp_path, 12, row_group_rows=300, depth=3)
    events = pq.ParquetFile(rec.path / "events" / "book-0.parquet")
    sizes = [events.metadata.row_group(i).num_rows for i in range(events.num_row_groups)]
    assert len(sizes) > 1 and all(n >= 300 for n in sizes[:-1])
    assert sum(sizes) == len(rec.book_events(0))
    run = load_run(rec.path)
    per = run.l2.groupby(["time_ns", "book", "side"])["quantity"].agg(["size", "sum"])
    assert per["size"].max() == 3
    depth = run.prices.set_index(["time_ns", "book"])
    for (t, b, side), row in per.iterrows():
        assert depth.loc[(t, b), f"{side}_depth"] == pytest.approx(row["sum"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"books": 0}, "books"),
        ({"tick_size": 0.0}, "tick_size"),
        ({"depth": 0}, "depth"),
        ({"row_group_rows": 0}, "row_group_rows"),
    ],
)
def test_the_writer_refuses_bad_arguments(tmp_path: Path, kwargs: dict, message: str) -> None:
    args: dict = {"books": BOOKS, "tick_size": TICK, "lot_size": LOT, **kwargs}
    with pytest.raises(ValueError, match=message):
        RunWriter(tmp_path / "run", CONFIG, agent_names=NAMES, **args)
