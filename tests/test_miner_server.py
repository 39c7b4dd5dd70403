"""taos.miner: the server over real loopback HTTP with real bittensor wallets and signatures:
authentication (401), authorization (403), bad bodies (400/413), one agent per validator in its own
worker process, agent failures and overruns (empty replies), and the validator's client."""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import bittensor as bt
import msgspec
import pytest
from aiohttp import web
from clocks import ManualClock
from protocol_samples import state
from wallets import make_wallet

from taos.agents import AgentLoadError
from taos.chain import ChainError, LocalChain, Neuron
from taos.miner import AgentFile, AgentPool, ConnectionGuard, Gatekeeper, MinerServer, Refused
from taos.protocol import PROTOCOL_VERSION, STATE_PATH, BookEvents, Cancel, Reply, decode_reply, encode_state
from taos.validator.client import Target, query, query_all, state_url

TIMEOUT_S = 0.5
AGENTS = (
    Path(__file__).resolve().parent / "miner_agents"
)  # Counting.py: replies Cancel(0, n) to its n-th state


@pytest.fixture(scope="module")
def wallets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bt.Wallet]:
    root = tmp_path_factory.mktemp("wallets")
    return {
        n: make_wallet(root, n) for n in ("validator", "validator2", "miner", "stranger", "poor", "unknown")
    }


def hk(w: bt.Wallet) -> str:
    return w.hotkey.ss58_address


def local_chain(wallets: dict[str, bt.Wallet]) -> LocalChain:
    return LocalChain(
        hk(wallets["miner"]),
        [
            Neuron(0, hk(wallets["validator"]), True, 5000.0, None),
            Neuron(1, hk(wallets["miner"]), False, 0.0, None),
            Neuron(2, hk(wallets["stranger"]), False, 9000.0, None),
            Neuron(3, hk(wallets["poor"]), True, 5.0, None),
            Neuron(4, hk(wallets["validator2"]), True, 5000.0, None),
        ],
    )


class Server:
    def __init__(self, server: MinerServer, endpoint: str, miner_hotkey: str) -> None:
        self.server = server
        self.pool = server.pool
        self.target = Target(endpoint, miner_hotkey)
        self.url = state_url(endpoint)
        self.port = int(endpoint.rsplit(":", 1)[1])


def counting_pool(params: dict | None = None, *, name: str = "Counting", **kw) -> AgentPool:
    kw.setdefault("timeout_s", TIMEOUT_S)
    return AgentPool(AgentFile(str(AGENTS), name, params or {}), 1, **kw)


@contextlib.asynccontextmanager
async def serving(
    wallets: dict[str, bt.Wallet],
    params: dict | None = None,
    *,
    chain: LocalChain | None = None,
    max_body_bytes: int = 16 * 2**20,
    guard: ConnectionGuard | None = None,
    clock: Callable[[], float] = time.monotonic,
    **pool_kw,
) -> AsyncIterator[Server]:
    chain = chain or local_chain(wallets)
    pool = counting_pool(params, max_state_bytes=max_body_bytes, **pool_kw)
    await pool.start()
    server = MinerServer(
        Gatekeeper(chain, min_stake=100.0), pool, max_body_bytes=max_body_bytes, guard=guard, clock=clock
    )
    try:
        port = await server.start("127.0.0.1", 0)
        yield Server(server, f"127.0.0.1:{port}", chain.hotkey)
    finally:
        await server.stop()
        await pool.close()


def run(scenario: Callable[[], object]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


BODY = encode_state(state())


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> tuple[int, str]:
    async with session.post(url, data=body, headers=headers) as r:
        return r.status, (await r.read()).decode("utf-8", "replace")


async def instructions(session: aiohttp.ClientSession, wallet: bt.Wallet, srv: Server) -> tuple:
    result = await query(session, wallet, srv.target, BODY, timeout_s=5)
    assert result.ok, result.error
    return decode_reply(result.body).instructions


# --- the good path ------------------------------------------------------------------------------------


def test_a_signed_state_from_a_permitted_validator_gets_the_agents_reply(wallets, caplog) -> None:
    async def scenario() -> None:
        async with serving(wallets) as srv, aiohttp.ClientSession() as session:
            first = srv.pool.pids  # the worker started with the pool, whose agent serves the first validator
            result = await query(session, wallets["validator"], srv.target, BODY, timeout_s=5)
            assert result.ok and result.status == 200, result.error
            assert decode_reply(result.body) == Reply(PROTOCOL_VERSION, (Cancel(0, 1),))
            assert 0 < result.elapsed_s < 5
            assert srv.pool.validators == {hk(wallets["validator"])}
            assert [srv.pool.pid_of(hk(wallets["validator"]))] == first

    with caplog.at_level(logging.INFO, logger="taos.miner"):
        run(scenario)
    messages = [r.getMessage() for r in caplog.records]
    assert sum("Counting built" in m for m in messages) >= 1
    assert messages.count("Counting started simulation test-sim (2 books)") == 1  # on_start, in the worker


def test_one_agent_per_validator_keeps_its_state(wallets) -> None:
    async def scenario() -> None:
        async with serving(wallets) as srv, aiohttp.ClientSession() as session:
            replies = []
            for name in ("validator", "validator", "validator2", "validator"):
                r = await query(session, wallets[name], srv.target, BODY, timeout_s=5)
                replies.append(decode_reply(r.body).instructions)
            assert replies == [(Cancel(0, 1),), (Cancel(0, 2),), (Cancel(0, 1),), (Cancel(0, 3),)]
            assert srv.pool.validators == {hk(wallets["validator"]), hk(wallets["validator2"])}
            pids = {srv.pool.pid_of(hk(wallets[n])) for n in ("validator", "validator2")}
            assert len(pids) == 2 and None not in pids  # two agents, each in its own process

    run(scenario)


def test_concurrent_queries_of_many_validators(wallets) -> None:
    async def scenario() -> None:
        async with serving(wallets) as srv, aiohttp.ClientSession() as session:
            results = await asyncio.gather(
                *(
                    query(session, wallets[n], srv.target, BODY, timeout_s=5)
                    for n in ("validator", "validator2")
                )
            )
            assert [decode_reply(r.body).instructions for r in results] == [(Cancel(0, 1),), (Cancel(0, 1),)]

    run(scenario)


def test_a_validator_gets_an_empty_reply_while_its_agent_is_busy(wallets) -> None:
    async def scenario() -> None:
        async with serving(wallets, {"sleep_s": 0.2}) as srv, aiohttp.ClientSession() as session:
            results = await query_all(
                session, wallets["validator"], [(srv.target, BODY), (srv.target, BODY)], timeout_s=5
            )
            assert sorted(len(decode_reply(r.body).instructions) for r in results) == [0, 1]
            await asyncio.sleep(0.3)
            assert await instructions(session, wallets["validator"], srv) == (Cancel(0, 2),)  # 1 state before

    run(scenario)


# --- 401: not authenticated ---------------------------------------------------------------------------


def signed(wallet: bt.Wallet, url: str, body: bytes, receiver: str, **kw) -> dict[str, str]:
    path = url.split("127.0.0.1", 1)[1].split("/", 1)[1]
    return bt.http_auth.sign(wallet, method="POST", path="/" + path, body=body, receiver_ss58=receiver, **kw)


def test_unauthenticated_requests_get_401_and_run_no_agent(wallets) -> None:
    async def scenario() -> None:
        async with serving(wallets) as srv, aiohttp.ClientSession() as session:
            miner = srv.target.hotkey
            v = wallets["validator"]
            cases = {
                "missing or unsupported X-Bittensor-Version": {},
                "signed for a different receiving hotkey": signed(v, srv.url, BODY, hk(wallets["stranger"])),
                "older than the 10s freshness window": signed(
                    v, srv.url, BODY, miner, nonce_ns=time.time_ns() - 60 * 10**9
                ),
                "more than 2s in the future": signed(
                    v, srv.url, BODY, miner, nonce_ns=time.time_ns() + 60 * 10**9
                ),
                "signature does not verify": signed(v, srv.url, b"another body", miner),
                "missing X-Bittensor-Receiver": signed(v, srv.url, BODY, None),  # type: ignore[arg-type]
            }
            for message, headers in cases.items():
                status, text = await post(session, srv.url, BODY, headers)
                assert status == 401 and message in text, (message, status, text)
            assert srv.pool.validators == set()  # no agent was given any of them
            assert await instructions(session, wallets["validator"], srv) == (Cancel(0, 1),)

    run(scenario)


def test_a_replayed_request_gets_401(wallets) -> None:
    async def scenario() -> None:
        async with serving(wallets) as srv, aiohttp.ClientSession() as session:
            headers = signed(wallets["validator"], srv.url, BODY, srv.target.hotkey)
            assert (await post(session, srv.url, BODY, headers))[0] == 200
            status, text = await post(session, srv.url, BODY, headers)
            assert status == 401 and "already accepted" in text
            assert await instructions(session, wallets["validator"], srv) == (Cancel(0, 2),)  # 1 state before

    run(scenario)


def test_a_signature_for_another_path_gets_401(wallets) -> None:
    async def scenario() -> None:
        async with serving(wallets) as srv, aiohttp.ClientSession() as session:
            headers = bt.http_auth.sign(
                wallets["validator"], method="POST", path="/other", body=BODY, receiver_ss58=srv.target.hotkey
            )
            status, _ = await post(session, srv.url, BODY, headers)
            assert status == 401 and srv.pool.validators == set()

    run(scenario)


# --- 403: not authorized ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("caller", "message"),
    [
        ("unknown", "is not registered"),
        ("stranger", "(uid 2) has no validator permit"),
        ("poor", "(uid 3) has stake 5 < 100"),
        ("miner", "(uid 1) has no validator permit"),
    ],
)
def test_unauthorized_callers_get_403_and_run_no_agent(wallets, caller: str, message: str) -> None:
    async def scenario() -> None:
        async with serving(wallets) as srv, aiohttp.ClientSession() as session:
            headers = signed(wallets[caller], srv.url, BODY, srv.target.hotkey)
            status, text = await post(session, srv.url, BODY, headers)
            assert status == 403 and message in text
            assert srv.pool.validators == set()

    run(scenario)


def test_a_validator_registered_later_is_seen_after_a_refresh(wallets) -> None:
    chain = local_chain(wallets)
    newcomer = wallets["unknown"]

    async def scenario() -> None:
        gate = Gatekeeper(chain, retry_unknown_s=0.0)
        with pytest.raises(Refused, match="is not registered"):
            await gate.authorize(hk(newcomer))
        chain._neurons = (*chain._neurons, Neuron(5, hk(newcomer), True, 1000.0, None))
        await gate.authorize(hk(newcomer))  # looked up again although the cache is fresh

    run(scenario)


def test_an_unreadable_metagraph_gives_503(wallets) -> None:
    class Down(LocalChain):
        def metagraph(self):
            raise ChainError("node unreachable")

    chain = Down(hk(wallets["miner"]))

    async def scenario() -> None:
        async with serving(wallets, chain=chain) as srv, aiohttp.ClientSession() as session:
            headers = signed(wallets["validator"], srv.url, BODY, srv.target.hotkey)
            status, text = await post(session, srv.url, BODY, headers)
            assert status == 503 and "node unreachable" in text
            assert srv.pool.validators == set()

    run(scenario)


# --- 400 / 413: bad bodies ----------------------------------------------------------------------------


def test_malformed_or_wrong_version_bodies_get_400_with_the_reason(wallets) -> None:
    wrong_version = msgspec.msgpack.decode(BODY)
    wrong_version["protocol_version"] = 7
    bodies = {
        b"\xc1garbage": "malformed",
        msgspec.msgpack.encode(wrong_version): "protocol_version 7 is not supported",
        msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION}): "missing required field",
    }

    async def scenario() -> None:
        async with serving(wallets) as srv, aiohttp.ClientSession() as session:
            for body, message in bodies.items():
                headers = signed(wallets["validator"], srv.url, body, srv.target.hotkey)
                status, text = await post(session, srv.url, body, headers)
                assert status == 400 and message in text, text
            # decoded in the worker: the agent saw none of them
            assert await instructions(session, wallets["validator"], srv) == (Cancel(0, 1),)

    run(scenario)


def test_an_oversized_body_gets_413(wallets) -> None:
    async def scenario() -> None:
        async with serving(wallets, max_body_bytes=1000) as srv, aiohttp.ClientSession() as session:
            result = await query(session, wallets["validator"], srv.target, BODY, timeout_s=5)
            assert len(BODY) > 1000 and result.status == 413
            assert srv.pool.validators == set()

    run(scenario)


# --- agent failures -----------------------------------------------------------------------------------


def test_an_agent_exception_gives_an_empty_reply_and_a_log_line(wallets, caplog) -> None:
    async def scenario() -> None:
        async with serving(wallets, {"fail_once": True}) as srv, aiohttp.ClientSession() as session:
            first = await query(session, wallets["validator"], srv.target, BODY, timeout_s=5)
            second = await query(session, wallets["validator"], srv.target, BODY, timeout_s=5)
            assert decode_reply(first.body).instructions == ()
            assert decode_reply(second.body).instructions == (Cancel(0, 2),)

    with caplog.at_level(logging.ERROR, logger="taos.miner"):
        run(scenario)
    assert any("raised RuntimeError('first state goes wrong')" in r.getMessage() for r in caplog.records)


def test_an_agent_that_always_raises_gives_one_traceback_and_a_count_over_http(wallets, caplog) -> None:
    clock = ManualClock(0.0)

    async def scenario() -> None:
        async with (
            serving(wallets, name="Raising", clock=clock) as srv,
            aiohttp.ClientSession() as session,
        ):
            for name in ("validator", "validator2") * 4:  # two validators: two workers, one traceback
                r = await query(session, wallets[name], srv.target, BODY, timeout_s=5)
                assert r.status == 200 and decode_reply(r.body).instructions == ()
            clock.now = 60.0
            srv.server.report_if_due()

    with caplog.at_level(logging.INFO, logger="taos.miner"):
        run(scenario)
    tracebacks = [r for r in caplog.records if r.exc_text]
    assert len(tracebacks) == 1 and tracebacks[0].levelname == "ERROR"
    assert "raised ValueError('x') at Raising.py:" in tracebacks[0].getMessage()
    assert 'raise ValueError("x")' in (tracebacks[0].exc_text or "")
    [repeats] = [r for r in caplog.records if getattr(r, "event", None) == "agent_errors_repeated"]
    assert repeats.levelname == "WARNING" and repeats.repeats[0]["count"] == 7  # type: ignore[attr-defined]
    assert repeats.getMessage().startswith("in the last 60 s: agent raised ValueError('x') at Raising.py:")
    assert repeats.getMessage().endswith(" 7 more times")
    summary, at_stop = [r for r in caplog.records if getattr(r, "event", None) == "requests"]
    assert at_stop.requests == 0  # the stop logs the last, partial minute
    assert summary.requests == 8 and summary.failed == {"agent_error": 8}  # type: ignore[attr-defined]


def test_each_request_is_a_debug_line_and_a_summary_comes_once_a_minute(wallets, caplog) -> None:
    clock = ManualClock(0.0)

    async def scenario() -> None:
        async with serving(wallets, clock=clock) as srv, aiohttp.ClientSession() as session:
            for name in ("validator", "validator", "validator2"):
                r = await query(session, wallets[name], srv.target, BODY, timeout_s=5)
                assert r.ok, r.error
            refused = await query(session, wallets["stranger"], srv.target, BODY, timeout_s=5)
            assert refused.status == 403
            clock.now = 59.0
            srv.server.report_if_due()  # not a minute yet
            assert not [r for r in caplog.records if getattr(r, "event", None) == "requests"]
            clock.now = 60.0
            srv.server.report_if_due()
            srv.server.report_if_due()  # once a minute
            await query(session, wallets["validator"], srv.target, BODY, timeout_s=5)
            clock.now = 120.0
            srv.server.report_if_due()

    with caplog.at_level(logging.DEBUG, logger="taos.miner"):
        run(scenario)
    served = [r for r in caplog.records if getattr(r, "event", None) == "request" and r.outcome == "ok"]  # type: ignore[attr-defined]
    assert [r.validator for r in served] == [  # type: ignore[attr-defined]
        hk(wallets["validator"]),
        hk(wallets["validator"]),
        hk(wallets["validator2"]),
        hk(wallets["validator"]),
    ]
    assert all(r.levelname == "DEBUG" for r in served)
    assert all(r.bytes_in == len(BODY) and r.bytes_out > 0 and r.response_ms > 0 for r in served)  # type: ignore[attr-defined]
    assert f"request from {hk(wallets['validator'])}: {len(BODY)} bytes in" in served[0].getMessage()
    [refused] = [
        r
        for r in caplog.records
        if getattr(r, "event", None) == "request" and getattr(r, "status", None) == 403
    ]
    assert refused.levelname == "DEBUG" and refused.outcome == "refused"  # type: ignore[attr-defined]
    summaries = [r for r in caplog.records if getattr(r, "event", None) == "requests"]
    assert len(summaries) == 3 and all(r.levelname == "INFO" for r in summaries)
    first, second, at_stop = summaries  # the stop logs the last, partial minute
    assert at_stop.requests == 0  # type: ignore[attr-defined]
    assert (first.requests, first.validators, first.refused, first.failed) == (3, 2, {"403": 1}, {})  # type: ignore[attr-defined]
    assert (
        first.mean_response_ms
        == pytest.approx(  # type: ignore[attr-defined]
            sum(r.response_ms for r in served[:3]) / 3,
            rel=1e-3,  # type: ignore[attr-defined]
        )
    )
    assert first.getMessage().startswith("in the last 60 s: 3 requests from 2 validators, mean response ")
    assert "refused 1 x 403" in first.getMessage()
    assert (second.requests, second.validators, second.refused) == (1, 1, {})  # type: ignore[attr-defined]


def test_an_overrunning_agent_gives_an_empty_reply_in_time(wallets, caplog) -> None:
    async def scenario() -> None:
        async with serving(wallets, {"sleep_s": 1.5}) as srv, aiohttp.ClientSession() as session:
            slow = await query(session, wallets["validator"], srv.target, BODY, timeout_s=5)
            assert decode_reply(slow.body).instructions == ()
            assert TIMEOUT_S <= slow.elapsed_s < TIMEOUT_S + 0.5
            busy = await query(session, wallets["validator"], srv.target, BODY, timeout_s=5)
            assert decode_reply(busy.body).instructions == ()
            other = await query(session, wallets["validator2"], srv.target, BODY, timeout_s=5)
            assert other.status == 200  # another validator's agent is not held up
            await asyncio.sleep(1.2)
            after = await query(session, wallets["validator"], srv.target, BODY, timeout_s=5)
            assert decode_reply(after.body).instructions == (Cancel(0, 2),)

    with caplog.at_level(logging.WARNING, logger="taos.miner"):
        run(scenario)
    messages = [r.getMessage() for r in caplog.records]
    assert any("took longer than 0.5 s" in m for m in messages)
    assert any("still busy" in m for m in messages)


def test_items_that_are_not_instructions_are_dropped(wallets, caplog) -> None:
    async def scenario() -> None:
        async with serving(wallets, {"junk": True}) as srv, aiohttp.ClientSession() as session:
            r = await query(session, wallets["validator"], srv.target, BODY, timeout_s=5)
            assert decode_reply(r.body).instructions == (Cancel(0, 1),)

    with caplog.at_level(logging.ERROR, logger="taos.miner"):
        run(scenario)
    assert any("1 items that are not instructions" in r.getMessage() for r in caplog.records)


def test_a_failing_agent_constructor_stops_the_start_or_gives_empty_replies(tmp_path: Path, caplog) -> None:
    built = tmp_path / "built"

    async def scenario() -> None:
        built.write_text("")  # every instance fails: the pool does not start
        with pytest.raises(AgentLoadError, match=r"Counting\(1, \.\.\.\) failed: ValueError: no model file"):
            await counting_pool({"refuse_if": str(built)}).start()
        built.unlink()  # the first instance builds, the next ones fail
        pool = counting_pool({"refuse_if": str(built)})
        await pool.start()
        try:
            assert decode_reply(await pool.run("5V1", BODY)).instructions == (Cancel(0, 1),)
            assert decode_reply(await pool.run("5V2", BODY)).instructions == ()
        finally:
            await pool.close()

    with caplog.at_level(logging.ERROR, logger="taos.miner"):
        run(scenario)
    assert any(
        "the agent of 5V2 cannot start" in r.getMessage() and "no model file" in r.getMessage()
        for r in caplog.records
    )


def test_on_end_is_called_when_the_pool_closes(tmp_path: Path) -> None:
    ended = tmp_path / "ended"

    async def scenario() -> None:
        pool = counting_pool({"end_file": str(ended)})
        await pool.start()
        assert decode_reply(await pool.run("5V", BODY)).instructions == (Cancel(0, 1),)
        await pool.close()

    run(scenario)
    assert ended.read_text() == "5V\n"


# --- the client ---------------------------------------------------------------------------------------


def test_client_reports_timeouts_refusals_and_oversized_replies(wallets) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(body=b"late")

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 5000)

    async def scenario() -> None:
        app = web.Application()
        app.router.add_post("/state", slow)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        endpoint = f"127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with aiohttp.ClientSession() as session:
                target = Target(endpoint, hk(wallets["miner"]))
                r = await query(session, wallets["validator"], target, BODY, timeout_s=0.2)
                assert r.status is None and r.error == "no answer within 0.2 s" and 0.2 <= r.elapsed_s < 1.5
                app2 = web.Application()
                app2.router.add_post("/state", big)
                runner2 = web.AppRunner(app2)
                await runner2.setup()
                await web.TCPSite(runner2, "127.0.0.1", 0).start()
                try:
                    target2 = Target(f"127.0.0.1:{runner2.addresses[0][1]}", target.hotkey)
                    r = await query(
                        session, wallets["validator"], target2, BODY, timeout_s=2, max_reply_bytes=1000
                    )
                    assert r.status == 200 and r.error == "reply larger than 1000 bytes"
                finally:
                    await runner2.cleanup()
                closed = Target("127.0.0.1:1", target.hotkey)
                r = await query(session, wallets["validator"], closed, BODY, timeout_s=2)
                assert r.status is None and r.error is not None and not r.ok
        finally:
            await runner.cleanup()

    run(scenario)


# --- headers first, body bounded, connections bounded -------------------------------------------------


def request_head(headers: dict[str, str], *, length: int | None = None, chunked: bool = False) -> bytes:
    lines = [f"POST {STATE_PATH} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def answer(reader: asyncio.StreamReader, timeout_s: float = 3.0) -> tuple[int, str]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout_s)
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length:"))
    body = await asyncio.wait_for(reader.readexactly(length), timeout_s)
    return int(lines[0].split()[1]), body.decode("utf-8", "replace")


async def connect(srv: Server) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", srv.port)


def test_headers_are_checked_before_any_body_byte_is_read(wallets) -> None:
    """Each request announces a body and sends none: the refusal comes from the headers alone."""

    async def scenario() -> None:
        async with serving(wallets, max_body_bytes=100_000) as srv:
            miner, v = srv.target.hotkey, wallets["validator"]
            gzip = {**signed(v, srv.url, BODY, miner), "Content-Encoding": "gzip"}
            cases = [
                (signed(wallets["unknown"], srv.url, BODY, miner), len(BODY), 403, "is not registered"),
                (
                    signed(wallets["stranger"], srv.url, BODY, miner),
                    len(BODY),
                    403,
                    "has no validator permit",
                ),
                (signed(wallets["poor"], srv.url, BODY, miner), len(BODY), 403, "has stake 5 < 100"),
                (
                    signed(v, srv.url, BODY, hk(wallets["stranger"])),
                    len(BODY),
                    401,
                    "different receiving hotkey",
                ),
                (signed(v, srv.url, BODY, miner, nonce_ns=1), len(BODY), 401, "freshness window"),
                (
                    {**signed(v, srv.url, BODY, miner), "X-Bittensor-Hotkey": "x" * 4000},
                    10,
                    401,
                    "not an ss58",
                ),
                (
                    {**signed(v, srv.url, BODY, miner), "X-Bittensor-Nonce": "9" * 30},
                    10,
                    401,
                    "not a decimal",
                ),
                ({**signed(v, srv.url, BODY, miner), "X-Bittensor-Signature": "zz"}, 10, 401, "is not hex"),
                (signed(v, srv.url, BODY, miner), 100_001, 413, "over this miner's limit of 100000 bytes"),
                (gzip, len(BODY), 415, "Content-Encoding must be identity"),
            ]

            async def one(headers: dict[str, str], length: int, status: int, message: str) -> None:
                reader, writer = await connect(srv)
                writer.write(request_head(headers, length=length))
                got = await answer(reader)
                assert got[0] == status and message in got[1], (message, got)
                assert "x" * 100 not in got[1]  # a malformed header is not echoed
                assert await reader.read() == b""  # and the connection is closed
                writer.close()

            await asyncio.gather(*(one(*case) for case in cases))
            assert srv.pool.validators == set()
            assert srv.server.refused == {403: 3, 401: 5, 413: 1, 415: 1}

    run(scenario)


def test_a_chunked_body_is_cut_off_at_the_cap(wallets) -> None:
    async def scenario() -> None:
        async with serving(wallets, max_body_bytes=100_000) as srv:
            reader, writer = await connect(srv)
            writer.write(
                request_head(signed(wallets["validator"], srv.url, BODY, srv.target.hotkey), chunked=True)
            )
            for _ in range(30):  # 30 x 10 kB and no last chunk: the body never ends
                writer.write(b"%x\r\n%s\r\n" % (10_000, b"\x00" * 10_000))
            got = await answer(reader)
            assert got == (413, "the body is over this miner's limit of 100000 bytes")
            writer.close()
            assert srv.pool.validators == set()

    run(scenario)


def test_a_body_that_is_too_slow_gets_408_and_its_nonce_stays_usable(wallets) -> None:
    """The headers' check records no nonce: the same signed request, resent whole, is served."""

    async def scenario() -> None:
        guard = ConnectionGuard(body_timeout_s=0.5)
        async with serving(wallets, guard=guard) as srv:
            head = request_head(
                signed(wallets["validator"], srv.url, BODY, srv.target.hotkey), length=len(BODY)
            )
            reader, writer = await connect(srv)
            started = time.monotonic()
            writer.write(head + BODY[:10])
            assert await answer(reader) == (408, "the body did not arrive within 0.5 s of the headers")
            assert 0.5 <= time.monotonic() - started < 2.0
            writer.close()
            reader, writer = await connect(srv)
            writer.write(head + BODY)
            status, _ = await answer(reader)
            writer.close()
            assert status == 200 and srv.pool.validators == {hk(wallets["validator"])}

    run(scenario)


async def closed(reader: asyncio.StreamReader, within_s: float) -> bool:
    try:
        while await asyncio.wait_for(reader.read(1024), within_s):
            pass
        return True
    except ConnectionError:
        return True
    except TimeoutError:
        return False


def test_bodies_being_read_share_a_memory_budget_the_oldest_giving_way(wallets) -> None:
    """Headers that claim a validator's hotkey get their body read before the signature can be
    checked: those bodies together hold at most the guard's budget."""

    async def scenario() -> None:
        guard = ConnectionGuard(max_body_memory=30_000)
        async with serving(wallets, max_body_bytes=100_000, guard=guard) as srv:
            head = request_head(signed(wallets["validator"], srv.url, BODY, srv.target.hotkey), length=50_000)
            older, w1 = await connect(srv)
            w1.write(head + b"\x00" * 20_000)
            await asyncio.sleep(0.2)
            newer, w2 = await connect(srv)
            w2.write(head + b"\x00" * 20_000)
            assert await closed(older, 1.0)  # evicted for the newer body
            assert guard.buffered == 20_000
            w2.write(b"\x00" * 20_000)  # 40 kB: more than the budget, and nothing left to evict
            assert await answer(newer) == (503, "the miner holds too many request bodies at the moment")
            assert guard.buffered == 0
            for w in (w1, w2):
                w.close()

    run(scenario)


def test_connections_that_send_nothing_or_too_slowly_are_closed_at_their_deadline(wallets) -> None:
    async def scenario() -> None:
        guard = ConnectionGuard(header_timeout_s=0.5, idle_timeout_s=1.0)
        async with serving(wallets, guard=guard) as srv, aiohttp.ClientSession() as session:
            silent, w1 = await connect(srv)
            loris, w2 = await connect(srv)
            w2.write(b"POST /state HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a")
            started = time.monotonic()
            assert await closed(silent, 2.0) and await closed(loris, 2.0)
            assert 0.5 <= time.monotonic() - started < 1.5
            # a validator's keep-alive connection stays between its requests, up to the idle timeout
            assert await instructions(session, wallets["validator"], srv) == (Cancel(0, 1),)
            await asyncio.sleep(0.7)  # past the header timeout
            assert guard.open == 1
            await asyncio.sleep(0.8)  # past the idle timeout
            assert guard.open == 0 and guard.expired == 3
            for w in (w1, w2):
                w.close()

    run(scenario)


def test_beyond_the_connection_cap_the_oldest_unauthenticated_connection_gives_way(wallets) -> None:
    async def scenario() -> None:
        guard = ConnectionGuard(max_connections=4)
        async with serving(wallets, guard=guard) as srv, aiohttp.ClientSession() as session:
            assert await instructions(session, wallets["validator"], srv) == (Cancel(0, 1),)
            assert guard.open == 1  # the validator's, kept alive, authenticated
            idle = [await connect(srv) for _ in range(8)]
            await asyncio.sleep(0.1)
            assert guard.open == 4 and guard.evicted == 5
            gone = [await closed(r, 0.2) for r, _ in idle]
            assert gone == [True] * 5 + [False] * 3  # the oldest first, never the validator's
            assert await instructions(session, wallets["validator"], srv) == (Cancel(0, 2),)
            for _, w in idle:
                w.close()

    run(scenario)


# --- agents in worker processes -----------------------------------------------------------------------


def test_a_reply_is_cut_to_what_the_validator_reads(wallets, caplog) -> None:
    async def scenario() -> None:
        async with serving(wallets, {"many": 100}) as srv, aiohttp.ClientSession() as session:
            got = await instructions(session, wallets["validator"], srv)
            assert got == tuple(Cancel(0, n) for n in range(40))  # 2 books x 20 per book

    with caplog.at_level(logging.ERROR, logger="taos.miner"):
        run(scenario)
    assert any("returned 100 instructions; the first 40 are sent" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("mode", ["block_for", "hold_gil_for"])
def test_a_stuck_agent_delays_no_other_validator_and_is_killed_after_kill_after(
    wallets, caplog, mode
) -> None:
    """One validator's agent blocks (time.sleep) or holds the GIL in a C call: the other validator's
    agent answers each time; the stuck worker is killed at ``kill_after_s`` and a new one serves."""
    stuck = hk(wallets["validator2"])

    async def scenario() -> None:
        params = {mode: stuck, "hold_s": 60}
        async with serving(wallets, params, kill_after_s=1.5) as srv, aiohttp.ClientSession() as session:
            await instructions(session, wallets["validator"], srv)
            first = await query(session, wallets["validator2"], srv.target, BODY, timeout_s=5)
            assert decode_reply(first.body).instructions == () and first.elapsed_s < TIMEOUT_S + 1.0
            pid = srv.pool.pid_of(stuck)
            assert pid is not None
            for n in range(2, 6):
                assert await instructions(session, wallets["validator"], srv) == (Cancel(0, n),)
                await asyncio.sleep(0.3)
            await asyncio.sleep(0.5)  # past 1.5 s: killed
            assert srv.pool.pid_of(stuck) is None and not Path(f"/proc/{pid}/cmdline").exists()
            again = await query(session, wallets["validator2"], srv.target, BODY, timeout_s=5)
            assert again.ok and srv.pool.pid_of(stuck) not in (None, pid)

    with caplog.at_level(logging.ERROR, logger="taos.miner"):
        run(scenario)
    killed = [r.getMessage() for r in caplog.records if "is killed" in r.getMessage()]
    assert len(killed) == 1 and f"agent of {stuck} is still busy 1.5 s" in killed[0]


def test_at_most_max_workers_run_and_the_least_recently_used_is_stopped(tmp_path: Path, caplog) -> None:
    ended = tmp_path / "ended"

    async def scenario() -> None:
        pool = counting_pool({"end_file": str(ended)}, max_workers=2)
        await pool.start()
        try:
            for v in ("5A", "5B", "5A", "5C"):
                await pool.run(v, BODY)
                assert len(pool.pids) <= 2
            assert pool.validators == {"5A", "5C"}
            assert decode_reply(await pool.run("5A", BODY)).instructions == (Cancel(0, 3),)
        finally:
            await pool.close()

    with caplog.at_level(logging.INFO, logger="taos.miner"):
        run(scenario)
    assert any(
        "stopped the agent of 5B (least recently used; at most 2 workers)" in r.getMessage()
        for r in caplog.records
    )
    assert sorted(ended.read_text().split()) == ["5A", "5B", "5C"]  # 5B's on_end ran when it was stopped


# --- compressed states -------------------------------------------------------------------------------


def test_a_zstd_state_is_answered_and_every_answer_offers_zstd(wallets) -> None:
    """A state body compressed with zstd (signed as sent) gets the same reply as the identity body;
    every answer, refusals included, says the miner takes zstd; a body that decompresses beyond
    the cap, or is not zstd, gets 400 and runs no agent; other codings stay refused (415)."""
    from taos.protocol.compression import compress

    async def scenario() -> None:
        async with serving(wallets, max_body_bytes=100_000) as srv, aiohttp.ClientSession() as session:
            v, miner = wallets["validator"], srv.target.hotkey
            plain = await query(session, v, srv.target, BODY, timeout_s=5)
            assert plain.ok and plain.accepts_zstd
            packed = compress(BODY[:40]) + compress(BODY[40:])  # two frames, as the validator sends
            assert len(packed) < len(BODY)
            (zipped,) = await query_all(session, v, [(srv.target, packed, "zstd")], timeout_s=5)
            assert zipped.ok and zipped.accepts_zstd, zipped.error
            assert decode_reply(zipped.body) == Reply(PROTOCOL_VERSION, (Cancel(0, 2),))  # its 2nd state
            served = srv.pool.validators
            bomb = compress(b"\0" * 5_000_000)  # 5 MB from a few hundred bytes
            for body, message in (
                (bomb, "decompresses to more than 100000 bytes"),
                (b"not zstd", "not a valid zstd"),
            ):
                headers = {**signed(v, srv.url, body, miner), "Content-Encoding": "zstd"}
                async with session.post(srv.url, data=body, headers=headers) as r:
                    assert r.status == 400 and message in await r.text()
                    assert r.headers["Accept-Encoding"] == "zstd, identity"
            assert srv.pool.validators == served
            assert srv.server.refused[400] == 2
            third = await query(session, v, srv.target, BODY, timeout_s=5)
            assert decode_reply(third.body) == Reply(
                PROTOCOL_VERSION, (Cancel(0, 3),)
            )  # no agent ran meanwhile

    run(scenario)


def test_every_reply_asks_for_the_agents_book_events_even_an_empty_one(tmp_path: Path) -> None:
    """The worker puts its agent class's ``book_events`` into every reply, and the pool into the
    empty replies it sends for the agent (overrun, busy); a class with another value cannot load."""

    async def scenario() -> None:
        pool = counting_pool({"sleep_s": 1.0}, name="TradesOnly")
        await pool.start()
        try:
            slow = decode_reply(await pool.run("5V1", BODY))  # over the 0.5 s budget: empty
            assert slow.instructions == () and slow.book_events == BookEvents.TRADES
            await asyncio.sleep(0.8)
            fine = decode_reply(await pool.run("5V1", BODY))
            assert fine.instructions == (Cancel(0, 1),) and fine.book_events == BookEvents.TRADES
        finally:
            await pool.close()
        with pytest.raises(AgentLoadError, match=r"BadBookEvents\.book_events must be a BookEvents .*got 7"):
            await counting_pool(name="BadBookEvents").start()

    run(scenario)


def test_the_accept_backlog_leaves_room_for_a_burst_within_the_descriptor_limit() -> None:
    from taos.miner.server import FD_RESERVE, MAX_BACKLOG, accept_backlog

    # the limit most systems give a process: the kept connections, one whole burst of accepted
    # ones (asyncio accepts up to the backlog before the aborts close them) and the reserve fit
    assert accept_backlog(256, 1024) == 256
    assert 256 + 256 + FD_RESERVE <= 1024
    assert accept_backlog(256, 1 << 20) == MAX_BACKLOG  # plenty of descriptors
    assert accept_backlog(256, 600) == 44
    assert accept_backlog(1024, 1024) == 16  # never less than a small queue
    for limit in (700, 1024, 4096):
        for kept in (16, 256):
            backlog = accept_backlog(kept, limit)
            assert kept + 2 * backlog + FD_RESERVE <= limit or backlog == 16
