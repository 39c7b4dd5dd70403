"""Structured logs (taos.logs, taos.validator.steplog): the json format, the validator's per-step
line with real miner servers over signed HTTP (one answering, one timing out, one refusing), the
per-minute summary of failing miners on a clock the test moves, the weights line, and an agent that
raises on every state: one traceback and a count, in process and in a taos local process."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path

import bittensor as bt
import pytest
from clocks import ManualClock
from markets import loop_market, populations
from wallets import make_wallet

import taos
from taos.agents import Agent, create_agent, load_agent_class
from taos.chain import ChainError, LocalChain, Neuron
from taos.config import loads
from taos.logs import ErrorKey, RepeatedErrors, setup_logging, top_counts
from taos.miner import AgentFile, AgentPool, Gatekeeper, MinerServer
from taos.protocol import MarketState, PlaceLimit, Side
from taos.validator.loop import run
from taos.validator.steplog import log_weights
from taos.validator.transport import HttpTransport, InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

ROOT = Path(__file__).resolve().parents[1]
AGENTS = Path(__file__).resolve().parent / "miner_agents"
ENV = {**os.environ, "PYTHONPATH": str(Path(taos.__file__).resolve().parents[1]), "COLUMNS": "160"}


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger writing json lines into a buffer (INFO), as ``--log-format json`` does."""
    root = logging.getLogger()
    level = root.level
    out = io.StringIO()
    handler = setup_logging("INFO", "json", out)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)


def lines(out: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


# --- the formats --------------------------------------------------------------------------------------


def test_json_lines_parse_and_carry_time_level_logger_message_fields_and_traceback(json_log) -> None:
    log = logging.getLogger("taos.test")
    log.info("step %d done", 7, extra={"step": 7, "ratio": float("nan"), "level": "not mine", "top": (1, 2)})
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        log.exception("it failed", extra={"uid": 3})
    text = json_log.getvalue()
    assert text.count("\n") == 2  # one line per event, the traceback included
    first, second = lines(json_log)
    assert first["message"] == "step 7 done" and first["logger"] == "taos.test"
    assert first["level"] == "INFO"  # a field never replaces one of the four keys
    assert first["step"] == 7 and first["ratio"] is None and first["top"] == [1, 2]
    stamp = datetime.fromisoformat(first["time"].replace("Z", "+00:00"))
    assert (
        first["time"].endswith("Z")
        and stamp.utcoffset() is not None
        and stamp.utcoffset().total_seconds() == 0
    )
    assert second["level"] == "ERROR" and second["uid"] == 3
    assert second["traceback"].startswith("Traceback (most recent call last):")
    assert second["traceback"].endswith("ValueError: bad\nthing")


def test_text_format_is_the_classic_line() -> None:
    out = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = setup_logging("WARNING", "text", out)
    try:
        logging.getLogger("taos.test").info("hidden")
        logging.getLogger("taos.test").warning("shown %s", "here", extra={"uid": 1})
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        logging.captureWarnings(False)
    [line] = out.getvalue().splitlines()
    assert line.endswith(" WARNING taos.test: shown here")
    with pytest.raises(ValueError, match="log format must be one of text, json"):
        setup_logging("INFO", "yaml")


def test_top_counts_is_bounded() -> None:
    counts = {f"uid {u}": n for u, n in enumerate([3, 12, 1, 7, 7, 2, 9])}
    assert top_counts(counts, str, top=3) == "uid 1 x12, uid 6 x9, uid 3 x7 and 4 more"
    assert top_counts({}, str) == ""


def test_repeated_errors_log_the_first_with_its_traceback_and_count_the_rest(caplog) -> None:
    clock = ManualClock(0.0)
    errors = RepeatedErrors(logging.getLogger("taos.test"), "agent", clock=clock)

    def fail(message: str) -> None:
        raise ValueError(message)

    with caplog.at_level(logging.INFO, logger="taos.test"):
        for i in range(10):
            try:
                fail("x" if i % 5 else "y")
            except ValueError as e:
                errors.add_exception(e, f"agent of uid {i % 2}")
            errors.report_if_due()
            clock.now += 5.0  # 50 s: no summary yet
        assert [r.levelname for r in caplog.records] == ["ERROR", "ERROR"]  # x and y, once each
        assert all("Traceback" in (r.exc_text or "") for r in caplog.records)
        clock.now = 60.0
        errors.report_if_due()
        errors.report_if_due()  # once a period
    summary = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(summary) == 1
    assert "agent raised ValueError('x') at test_logs.py:" in summary[0].getMessage()
    assert "(agent of uid 0, agent of uid 1) 7 more times" in summary[0].getMessage()
    assert "ValueError('y')" in summary[0].getMessage() and "1 more times" in summary[0].getMessage()
    assert ErrorKey.parse(ErrorKey.of(ValueError("z")).as_dict()).type == "ValueError"
    with pytest.raises(ValueError, match="an error key needs type, message and where"):
        ErrorKey.parse({"type": "ValueError"})


# --- the validator over HTTP --------------------------------------------------------------------------


def hk(w: bt.Wallet) -> str:
    return w.hotkey.ss58_address


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


@pytest.fixture(scope="module")
def wallets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bt.Wallet]:
    root = tmp_path_factory.mktemp("wallets")
    return {n: make_wallet(root, n) for n in ("validator", "fast", "slow", "gone")}


async def miner(wallets: dict[str, bt.Wallet], name: str, params: dict, neurons: list[Neuron]):  # type: ignore[no-untyped-def]
    pool = AgentPool(AgentFile(str(AGENTS), "Counting", params), 1, timeout_s=5.0)
    await pool.start()
    server = MinerServer(Gatekeeper(LocalChain(hk(wallets[name]), neurons)), pool)
    return server, await server.start("127.0.0.1", 0)


def step_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == "step"]


def test_the_step_line_counts_answering_timed_out_and_refusing_miners_and_failures_are_summarised_once_a_minute(
    wallets, caplog
) -> None:
    async def scenario() -> tuple[Validator, ManualClock]:
        base = [
            Neuron(0, hk(wallets["validator"]), True, 5000.0, None),
            Neuron(1, hk(wallets["fast"]), False, 0.0, None),
            Neuron(2, hk(wallets["slow"]), False, 0.0, None),
        ]
        fast, fast_port = await miner(wallets, "fast", {}, base)
        slow, slow_port = await miner(wallets, "slow", {"sleep_s": 2.0}, base)  # its first state: 2 s
        try:
            neurons = [
                base[0],
                Neuron(1, hk(wallets["fast"]), False, 0.0, f"127.0.0.1:{fast_port}"),
                Neuron(2, hk(wallets["slow"]), False, 0.0, f"127.0.0.1:{slow_port}"),
                Neuron(3, hk(wallets["gone"]), False, 0.0, f"127.0.0.1:{closed_port()}"),
            ]
            chain = LocalChain(hk(wallets["validator"]), neurons)
            config = loads(loop_market(slots=4, grace_period_s=0.0, duration_s=600.0))
            transport = HttpTransport(wallets["validator"], {}, {}, allow_private=True)
            settings = ValidatorSettings(timeout_s=0.5, weights_interval_s=1e6)
            v = Validator(config, chain, transport, settings)
            clock = ManualClock(0.0)

            def tick(result: object) -> None:
                clock.now += 25.0  # each step takes 25 s on this clock

            v.sync_chain()
            await run(v, max_steps=8, on_step=tick, log_steps=True, log_clock=clock)
            await transport.close()
            return v, clock
        finally:
            for server in (fast, slow):
                await server.stop()
                await server.pool.close()

    with caplog.at_level(logging.INFO, logger="taos.validator"):
        asyncio.run(scenario())
    steps = step_lines(caplog)
    assert [r.step for r in steps] == list(range(1, 9))  # type: ignore[attr-defined]
    first = steps[0]
    assert (first.queried, first.answered, first.timed_out, first.failed) == (3, 1, 1, 1)  # type: ignore[attr-defined]
    # the answering miner's one Cancel was accepted; the others sent nothing that counts
    assert (first.accepted, first.rejected) == (1, 0)  # type: ignore[attr-defined]
    assert first.events > 0 and first.wall_ms >= 500 * 0.9  # type: ignore[attr-defined]
    assert "miners 3 queried, 1 answered, 1 timed out, 1 failed" in first.getMessage()
    assert all(r.failed == 1 and r.queried == 3 for r in steps)  # type: ignore[attr-defined]
    # the failures: at 75 s (steps 1-4), at 150 s (steps 5-7), and the rest when the loop ends (200 s)
    summaries = [r for r in caplog.records if getattr(r, "event", None) == "miner_failures"]
    assert len(summaries) == 3
    texts = [r.getMessage() for r in summaries]
    assert texts[0].startswith("in the last 75 s: 2 miner(s) failed 5 of 12 queries: uid 3 refused x4")
    assert "uid 2 timeout x1" in texts[0]
    assert texts[1] == "in the last 75 s: 1 miner(s) failed 3 of 9 queries: uid 3 refused x3"
    assert texts[2] == "in the last 50 s: 1 miner(s) failed 1 of 3 queries: uid 3 refused x1"  # 175-200 s
    by_miner = summaries[0].by_miner  # type: ignore[attr-defined]
    assert by_miner[0]["uid"] == 3 and by_miner[0]["refused"] == 4 and by_miner[0]["last_error"]


# --- the weights line ---------------------------------------------------------------------------------


def test_the_weights_line_names_the_top_weights(caplog) -> None:
    uids = [0, 1, 2, 3, 4, 5, 6, 7]
    weights = [0.0, 0.1, 0.3, 0.05, 0.2, 0.15, 0.12, 0.08]
    with caplog.at_level(logging.INFO, logger="taos.validator"):
        log_weights(uids, weights, "set")
    [r] = caplog.records
    assert r.getMessage() == (
        "weights for 8 uids set (top: uid 2: 0.3000, uid 4: 0.2000, uid 5: 0.1500, uid 6: 0.1200, "
        "uid 1: 0.1000 and 2 more)"
    )
    assert r.top == [  # type: ignore[attr-defined]
        {"uid": 2, "weight": 0.3},
        {"uid": 4, "weight": 0.2},
        {"uid": 5, "weight": 0.15},
        {"uid": 6, "weight": 0.12},
        {"uid": 1, "weight": 0.1},
    ]
    assert (r.result, r.uids, r.nonzero) == ("set", 8, 7)  # type: ignore[attr-defined]


class Flaky(LocalChain):
    fail = False

    def set_weights(self, uids: Sequence[int], weights: Sequence[float]) -> None:
        if self.fail:
            raise ChainError("the node refused the extrinsic")
        super().set_weights(uids, weights)


def test_every_weights_update_is_one_line_set_failed_or_skipped(tmp_path: Path, caplog) -> None:
    path = tmp_path / "chain.json"
    neurons = [{"hotkey": "v", "validator_permit": True, "stake": 5.0}, {"hotkey": "m1"}, {"hotkey": "m2"}]
    path.write_text(json.dumps({"neurons": neurons}))
    chain = Flaky.from_file(path, "v")
    config = loads(loop_market(slots=3, grace_period_s=0.0, duration_s=600.0))
    agents = {
        1: create_agent(load_agent_class(ROOT / "agents", "RandomMakerAgent"), 1, {}),
        2: create_agent(load_agent_class(ROOT / "agents", "RandomTakerAgent"), 2, {"probability": 0.9}),
    }
    clock = ManualClock(0.0)
    v = Validator(
        config, chain, InProcessTransport(agents), ValidatorSettings(weights_interval_s=100.0), clock=clock
    )
    with caplog.at_level(logging.INFO, logger="taos.validator"):
        v.sync_chain()
        asyncio.run(run(v, max_steps=70))
        clock.now = 100.0
        v.sync_chain()  # due: set, with the scores of 70 steps
        chain.fail = True
        clock.now = 200.0
        v.sync_chain()
        neurons[0]["validator_permit"] = False
        path.write_text(json.dumps({"neurons": neurons}))
        clock.now = 300.0
        v.sync_chain()
    records = [r for r in caplog.records if getattr(r, "event", None) == "weights"]
    assert [r.result for r in records] == ["set", "set", "failed", "skipped"]  # type: ignore[attr-defined]
    sent = chain.weight_calls[-1]
    expected = sorted(
        ((u, w) for u, w in zip(sent.uids, sent.weights, strict=True) if w > 0), key=lambda p: (-p[1], p[0])
    )[:5]
    assert expected  # the agents traded: some weight is not 0
    assert [(t["uid"], t["weight"]) for t in records[1].top] == expected  # type: ignore[attr-defined]
    assert records[2].reason == "the node refused the extrinsic" and records[2].levelname == "WARNING"  # type: ignore[attr-defined]
    assert "set_weights failed: the node refused the extrinsic" in records[2].getMessage()
    assert records[3].reason == "no validator permit" and records[3].uids == 3  # type: ignore[attr-defined]


# --- an agent that raises every time, in process ------------------------------------------------------


def test_an_in_process_agent_that_always_raises_gives_one_traceback_and_a_count(caplog) -> None:
    config = loads(loop_market(slots=3, grace_period_s=0.0, duration_s=600.0))
    chain = LocalChain("v", [Neuron(0, "v", True, 1.0, None), Neuron(1, "m1", False, 0.0, None)])
    agent = create_agent(load_agent_class(AGENTS, "Raising"), 1, {})
    clock = ManualClock(0.0)
    transport = InProcessTransport({1: agent}, clock=clock)
    v = Validator(config, chain, transport, ValidatorSettings(weights_interval_s=1e6))

    def tick(result: object) -> None:
        clock.now += 10.0

    with caplog.at_level(logging.INFO, logger="taos.validator"):
        v.sync_chain()
        asyncio.run(run(v, max_steps=13, on_step=tick))
        asyncio.run(transport.close())
    tracebacks = [r for r in caplog.records if r.exc_text]
    assert len(tracebacks) == 1 and tracebacks[0].levelname == "ERROR"
    assert "agent of uid 1 raised ValueError('x') at Raising.py:" in tracebacks[0].getMessage()
    assert 'raise ValueError("x")' in tracebacks[0].exc_text  # type: ignore[operator]
    repeats = [r for r in caplog.records if getattr(r, "event", None) == "agent_errors_repeated"]
    # queried at clock 0..120: due at 60 (steps 2-7: 6 repeats) and 120 (steps 8-13), none at the close
    assert [r.repeats[0]["count"] for r in repeats] == [6, 6]  # type: ignore[attr-defined]
    assert "agent raised ValueError('x') at Raising.py:" in repeats[0].getMessage()
    assert "(agent of uid 1) 6 more times" in repeats[0].getMessage()


def test_taos_local_shows_one_traceback_and_the_count_of_an_always_raising_agent(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "taos.local", "--duration", "15m", "--books", "1",
            "--agent", str(AGENTS / "Raising.py"), "--agent", str(ROOT / "agents" / "RandomMakerAgent.py"),
            "--out", str(tmp_path / "run"), "--log-format", "json", "--log-level", "INFO",
        ],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines()]
    assert not [e for e in events if e.get("event") == "step"]  # no step lines without --log-steps
    with_traceback = [e for e in events if "traceback" in e]
    assert len(with_traceback) == 1 and with_traceback[0]["error"]["type"] == "ValueError"
    failures = sum(
        m.get("agent_error", 0)
        for e in events
        if e.get("event") == "miner_failures"
        for m in e["by_miner"]
        if m["uid"] == 1
    )
    repeats = sum(e["repeats"][0]["count"] for e in events if e.get("event") == "agent_errors_repeated")
    assert failures > 10 and repeats == failures - 1  # every state raised: one traceback, the rest counted


def test_taos_local_over_http_shows_one_traceback_and_the_count_from_the_miner_process(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [
            sys.executable, "-m", "taos.local", "--transport", "http", "--duration", "15m", "--books", "1",
            "--agent", str(AGENTS / "Raising.py"), "--out", str(tmp_path / "run"),
            "--log-format", "json", "--log-level", "INFO", "--log-steps",
        ],
        cwd=tmp_path, env=ENV, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines()]  # the miner process's lines too
    queried = sum(e["queried"] for e in events if e.get("event") == "step")
    with_traceback = [e for e in events if "traceback" in e]
    assert len(with_traceback) == 1 and with_traceback[0]["logger"] == "taos.miner"
    assert 'raise ValueError("x")' in with_traceback[0]["traceback"]
    repeats = [e for e in events if e.get("event") == "agent_errors_repeated"]
    assert all(e["logger"] == "taos.miner" for e in repeats)  # reported by the miner when it stops
    assert queried > 10 and sum(e["repeats"][0]["count"] for e in repeats) == queried - 1


# --- real processes: a miner and a validator over signed HTTP, --log-format json -----------------------

CONFIG = """
[simulation]
books = 1
seed = 3
duration_s = 60
publish_interval_s = 5.0
grace_period_s = 10.0
[miners]
slots = 3
""" + populations(40, 80, 3)


def test_a_validator_and_a_miner_process_write_json_lines_with_their_fields(tmp_path: Path) -> None:
    wallets = tmp_path / "wallets"
    validator, miner_wallet = make_wallet(wallets, "validator"), make_wallet(wallets, "miner")
    chain = tmp_path / "chain.json"
    neurons = [
        {"hotkey": hk(validator), "validator_permit": True, "stake": 1000},
        {"hotkey": hk(miner_wallet)},
    ]
    chain.write_text(json.dumps({"neurons": neurons}))
    config = tmp_path / "sim.toml"
    config.write_text(CONFIG)
    wallet = ["--wallet.hotkey", "hot", "--wallet.path", str(wallets), "--chain", f"local:{chain}"]
    miner_proc = subprocess.Popen(
        [
            sys.executable, "-m", "taos.miner", "--agent.path", str(ROOT / "agents"),
            "--agent.name", "RandomMakerAgent", "--wallet.name", "miner", *wallet,
            "--host", "127.0.0.1", "--port", "0", "--log-level", "DEBUG", "--log-format", "json",
        ],
        env=ENV, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and miner_proc.poll() is None:
            if json.loads(chain.read_text())["neurons"][1].get("endpoint"):
                break
            time.sleep(0.1)
        done = subprocess.run(
            [
                sys.executable, "-m", "taos.validator", "--wallet.name", "validator", *wallet,
                "--config", str(config), "--state", str(tmp_path / "state"), "--prometheus-port", "0",
                "--weights-interval", "30", "--pace", "0", "--simulations", "1", "--log-format", "json",
            ],
            env={**ENV, "TAOS_SIMULATION_SECRET": "a-secret-the-tests-share"},
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    finally:
        miner_proc.send_signal(signal.SIGTERM)
        miner_err = miner_proc.communicate(timeout=30)[1]
    assert done.returncode == 0, done.stderr
    events = [json.loads(line) for line in done.stderr.splitlines()]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(e) for e in events)
    steps = [e for e in events if e.get("event") == "step"]
    assert [e["step"] for e in steps] == list(range(1, 13)) and steps[-1]["sim_time_s"] == 60.0
    # in the grace period (sim time < 10 s) nobody is queried; then the miner, every step, answers
    assert [e["queried"] for e in steps] == [0] + [1] * 11
    assert all(e["answered"] == e["queried"] and e["failed"] == e["timed_out"] == 0 for e in steps)
    assert sum(e["accepted"] for e in steps) > 0 and all(e["events"] > 0 for e in steps)
    assert all(e["level"] == "INFO" and e["logger"] == "taos.validator" for e in steps)
    weights = [e for e in events if e.get("event") == "weights"]
    assert weights and weights[0]["result"] == "set" and weights[0]["uids"] == 2
    served = [json.loads(line) for line in miner_err.splitlines()]  # the miner's lines too
    requests = [e for e in served if e.get("event") == "request"]
    assert len(requests) == 11 and all(e["level"] == "DEBUG" for e in requests)
    assert {e["validator"] for e in requests} == {hk(validator)}
    assert all(e["outcome"] == "ok" and e["bytes_in"] > 0 and e["bytes_out"] > 0 for e in requests)


class OneGoodOneBad(Agent):
    """One bid below the best on book 0 (accepted) and one on book 5, which does not exist (rejected)."""

    def on_state(self, state: MarketState) -> list:
        bid = state.books[0].best_bid
        if bid is None:
            return []
        return [PlaceLimit(0, Side.BUY, bid - 1.0, 0.01), PlaceLimit(5, Side.BUY, bid, 0.01)]


def test_the_step_line_counts_accepted_and_rejected_instructions(caplog) -> None:
    config = loads(loop_market(slots=3, grace_period_s=0.0, duration_s=600.0))
    chain = LocalChain("v", [Neuron(0, "v", True, 1.0, None), Neuron(1, "m1", False, 0.0, None)])
    v = Validator(
        config, chain, InProcessTransport({1: OneGoodOneBad(1)}), ValidatorSettings(weights_interval_s=1e6)
    )
    with caplog.at_level(logging.INFO, logger="taos.validator"):
        v.sync_chain()
        asyncio.run(run(v, max_steps=5, log_steps=True))
    steps = step_lines(caplog)
    assert [(r.queried, r.answered, r.accepted, r.rejected) for r in steps] == [(1, 1, 1, 1)] * 5  # type: ignore[attr-defined]
    assert "instructions 1 accepted, 1 rejected" in steps[0].getMessage()


def test_a_bad_answer_of_an_agent_is_logged_once_a_minute_with_a_count(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from taos.miner import worker
    from taos.protocol import PlaceLimit, Side

    monkeypatch.setattr(worker, "_limited_seen", {})
    order = PlaceLimit(0, Side.BUY, 1.0, 1.0)
    with caplog.at_level(logging.ERROR, logger="taos.miner"):
        for _ in range(100):
            assert worker.checked("nonsense", "5Validator", 10) == []
            assert worker.checked([order, 3], "5Validator", 10) == [order]
        assert worker.checked({}, "5Other", 10) == []  # another validator's agent: its own line
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "agent of 5Validator returned str, not a list: empty reply",
        "agent of 5Validator returned 1 items that are not instructions; dropped",
        "agent of 5Other returned dict, not a list: empty reply",
    ]
    caplog.clear()
    monkeypatch.setattr(worker, "LIMITED_S", 0.0)  # the minute is over
    with caplog.at_level(logging.ERROR, logger="taos.miner"):
        worker.checked(None, "5Validator", 10)
    assert [r.getMessage() for r in caplog.records] == [
        "agent of 5Validator returned NoneType, not a list: empty reply "
        "(99 more such answers in the last 0 s were not logged)"
    ]
