"""How a miner query ended, as the metrics count it: a real Validator queries miners over signed
HTTP on loopback (one answers, one answers bytes that are not a reply, one answers HTTP 500, and
nothing listens on the fourth's port) and the outcomes reach ValidatorMetrics by their own names;
only queries with a response are timed. A reply the validator fails to apply is counted as
``internal`` without stopping the loop."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from bittensor.sp_core import Keypair
from markets import loop_market
from wallets import make_wallet

from taos.chain import LocalChain
from taos.config import loads
from taos.protocol import PlaceLimit, ReplyRejected, Side, encode_reply
from taos.validator.loop import run
from taos.validator.metrics import ValidatorMetrics
from taos.validator.transport import Answer, HttpTransport, InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

STEPS = 3
BEHAVIOURS = ("ok", "garbage", "error500", "refused")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Miners:
    """aiohttp servers on loopback, one per behaviour, in a thread of their own."""

    def __init__(self) -> None:
        self.ports: dict[str, int] = {}
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    def __enter__(self) -> Miners:
        self._thread.start()
        assert self._ready.wait(30), "the miners did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=15)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        runners = []
        for name in BEHAVIOURS:
            if name == "refused":
                self.ports[name] = closed_port()
                continue
            app = web.Application()
            app.router.add_post("/{tail:.*}", self._handler(name))
            runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            runners.append(runner)
            self.ports[name] = int(runner.addresses[0][1])
        self._ready.set()
        await self._stop.wait()
        for runner in runners:
            await runner.cleanup()

    @staticmethod
    def _handler(name: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            await request.read()
            if name == "error500":
                return web.Response(status=500)
            body = encode_reply([]) if name == "ok" else b"\xc1 not a reply"
            return web.Response(body=body, content_type="application/msgpack")

        return handle


@pytest.fixture
def miners() -> Iterator[Miners]:
    with Miners() as m:
        yield m


def sample(metrics: ValidatorMetrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_each_outcome_is_counted_by_its_name_and_only_responses_are_timed(
    tmp_path: Path, miners: Miners
) -> None:
    wallet = make_wallet(tmp_path / "wallets", "validator")
    neurons = [{"hotkey": wallet.hotkey.ss58_address, "validator_permit": True, "stake": 1000}]
    neurons += [
        {"hotkey": Keypair.create_from_uri(f"//{n}").ss58_address, "endpoint": f"127.0.0.1:{miners.ports[n]}"}
        for n in BEHAVIOURS
    ]
    chain_file = tmp_path / "chain.json"
    chain_file.write_text(json.dumps({"neurons": neurons}))
    metrics = ValidatorMetrics(process_metrics=False)
    v = Validator(
        loads(loop_market(slots=len(neurons), duration_s=3_600.0, grace_period_s=0.0)),
        LocalChain.from_file(chain_file, wallet.hotkey.ss58_address),
        HttpTransport(wallet, {}, {}, allow_private=True),
        ValidatorSettings(timeout_s=2.0, weights_interval_s=1e9),
        metrics=metrics,
    )

    async def steps() -> int:
        v.sync_chain()
        try:
            return await run(v, max_steps=STEPS)
        finally:
            await v.transport.close()

    assert asyncio.run(steps()) == STEPS
    uid = {name: i for i, name in enumerate(BEHAVIOURS, start=1)}
    answered = STEPS  # every step queries every miner once (no grace period)
    for outcome in ("ok", "decode_error", "http_error", "refused"):
        assert sample(metrics, "taos_validator_queries_total", outcome=outcome) == answered, outcome
    for kind in ("decode_error", "http_error", "refused"):
        assert sample(metrics, "taos_validator_query_failures_total", kind=kind) == answered, kind
    for kind in ("timeout", "oversized", "agent_error", "internal"):
        assert sample(metrics, "taos_validator_query_failures_total", kind=kind) == 0, kind
    assert sample(metrics, "taos_validator_query_failures_total", kind="ok") == 0

    # timed: the three that got a response; the refused connection is not in the histogram
    assert sample(metrics, "taos_validator_query_latency_seconds_count") == 3 * answered
    for name in ("ok", "garbage", "error500"):
        assert sample(metrics, "taos_validator_miner_last_query_latency_seconds", uid=str(uid[name])) > 0
    refused = metrics.registry.get_sample_value(
        "taos_validator_miner_last_query_latency_seconds", {"uid": str(uid["refused"])}
    )
    assert refused is None

    # each miner's notice names the same outcome, in our words
    def details(name: str) -> list[str]:
        return [n.detail for n in v.miners[uid[name]].notices if isinstance(n, ReplyRejected)]

    assert details("refused") and all(
        d == "refused: cannot connect: Connection refused" for d in details("refused")
    )
    assert details("garbage") and all(d.startswith("decode_error: ") for d in details("garbage"))
    assert details("error500") and all(d == "http_error: HTTP 500" for d in details("error500"))
    assert details("ok") == []


def test_a_reply_the_validator_fails_to_apply_is_counted_internal_and_the_loop_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug of ours that one reply finds (the conversion to engine records raises for uid 1):
    with metrics on, the reply is dropped and counted ``internal`` (not timed again), the other
    miner's reply is applied."""
    import taos.validator.validator as module

    chain_file = tmp_path / "chain.json"
    chain_file.write_text(json.dumps({"neurons": [{"hotkey": h} for h in ("v", "m1", "m2")]}))
    metrics = ValidatorMetrics(process_metrics=False)
    v = Validator(
        loads(loop_market(slots=3, duration_s=600.0, grace_period_s=0.0)),
        LocalChain.from_file(chain_file, "v"),
        InProcessTransport({}),
        ValidatorSettings(weights_interval_s=1e9),
        metrics=metrics,
    )
    v.sync_chain()
    v.step()
    real = module.to_records

    def broken_for_uid_1(uid: int, items: Any, units: Any) -> np.ndarray:
        if uid == 1:
            raise OverflowError("a value the checks missed")
        return real(uid, items, units)

    def broken_batch(replies: Any, units: Any) -> Any:
        raise RuntimeError("a bug of the columns")  # every reply is judged one by one

    monkeypatch.setattr(module, "to_records", broken_for_uid_1)
    monkeypatch.setattr(module, "validate_batch", broken_batch)
    reply = encode_reply([PlaceLimit(0, Side.BUY, 290.0, 0.5)])
    v.accept({1: Answer(reply, 0.01), 2: Answer(reply, 0.02)})
    assert v.pending["agent"].tolist() == [2]
    assert sample(metrics, "taos_validator_query_failures_total", kind="internal") == 1
    assert sample(metrics, "taos_validator_query_latency_seconds_count") == 2  # both replies, once each
