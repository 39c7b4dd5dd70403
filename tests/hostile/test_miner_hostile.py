"""A real miner process (python -m taos.miner, a local chain file, real bittensor wallets) attacked
over loopback: idle sockets, slow-loris headers, bodies at 1 byte/s, oversized and chunked bodies,
forged signatures, replayed nonces, unregistered senders, and agents that block or hold the GIL for
one validator. Throughout, an honest validator's signed request (the validator's own client) is
answered by its agent within its timeout, and the miner's open file descriptors stay bounded.

The miner runs with the descriptor limit most systems give a process (1024) and its default
connection flags; every attack is bounded in count and time."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import bittensor as bt
import pytest
from gil import hold_gil
from processes import terminate
from protocol_samples import state
from wallets import make_wallet

import taos
from taos.protocol import STATE_PATH, decode_reply, encode_state, max_state_bytes
from taos.validator.client import QueryResult, Target, query

TESTS = Path(__file__).resolve().parents[1]
AGENTS = TESTS / "miner_agents"
ENV = {**os.environ, "PYTHONPATH": str(Path(taos.__file__).resolve().parents[1])}
BODY = encode_state(state())
HONEST_TIMEOUT_S = 3.0  # the validator's default query timeout
AGENT_TIMEOUT_S = 1.0
KILL_AFTER_S = 4 * AGENT_TIMEOUT_S  # the miner's default --agent.kill-after
# the miner's defaults: --max-connections, --header-timeout, --body-timeout, --max-books
MAX_CONNECTIONS, HEADER_TIMEOUT_S, BODY_TIMEOUT_S = 256, 5.0, 10.0
CAP = max_state_bytes(20)
MINER_FD_LIMIT = 1024
IDLE_SOCKETS = 1024  # as many as the miner may open files
GIL_HOLD_S = 30.0
BLOCKED_CROWD = 16  # as many agents as the miner once had worker threads
MINER_UID = 4 + BLOCKED_CROWD + 1


@dataclass
class Miner:
    proc: subprocess.Popen[bytes]
    target: Target
    wallets: dict[str, bt.Wallet]
    log: Path
    baseline_fds: int

    @property
    def port(self) -> int:
        return int(self.target.endpoint.rsplit(":", 1)[1])

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def rss_kib(self) -> int:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def hk(self, name: str) -> str:
        return self.wallets[name].hotkey.ss58_address


def _room_for_sockets(count: int) -> int:
    """Raises this process's soft descriptor limit to hold ``count`` sockets (and what pytest has
    open); the number of sockets it can hold."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = count + 256
    if soft < need:
        soft = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return min(count, soft - 256)


@pytest.fixture(scope="module")
def miner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Miner]:
    tmp = tmp_path_factory.mktemp("hostile-miner")
    crowd = tuple(f"blocked{i}" for i in range(BLOCKED_CROWD))
    names = ("honest", "blocked", "gil", "stranger", "outsider", "miner", "newcomer", *crowd)
    wallets = {n: make_wallet(tmp / "wallets", n) for n in names}
    chain = tmp / "chain.json"
    neurons = [
        {"hotkey": wallets[n].hotkey.ss58_address, "validator_permit": True, "stake": 1000}
        for n in ("honest", "blocked", "gil", "newcomer", *crowd)
    ]
    neurons += [{"hotkey": wallets["stranger"].hotkey.ss58_address, "stake": 1000}]
    neurons += [{"hotkey": wallets["miner"].hotkey.ss58_address}]  # "outsider" is not registered
    chain.write_text(json.dumps({"neurons": neurons}))
    log = tmp / "miner.log"
    blocked = ",".join(wallets[n].hotkey.ss58_address for n in ("blocked", *crowd))
    params = [
        f"block_for={blocked}",
        f"hold_gil_for={wallets['gil'].hotkey.ss58_address}",
        f"hold_s={GIL_HOLD_S}",
    ]
    command = [
        sys.executable, "-m", "taos.miner", "--agent.path", str(AGENTS), "--agent.name", "Counting",
        "--agent.params", *params, "--agent.timeout", str(AGENT_TIMEOUT_S),
        "--chain", f"local:{chain}", "--wallet.name", "miner", "--wallet.hotkey", "hot",
        "--wallet.path", str(tmp / "wallets"), "--host", "127.0.0.1", "--port", "0", "--log-level", "WARNING",
    ]  # fmt: skip
    with log.open("wb") as err:
        proc = subprocess.Popen(command, env=ENV, stderr=err)
    try:
        # the limit most systems give a process (set before the miner listens, a second from now)
        _, hard = resource.prlimit(proc.pid, resource.RLIMIT_NOFILE)
        resource.prlimit(proc.pid, resource.RLIMIT_NOFILE, (MINER_FD_LIMIT, hard))
        endpoint = None
        deadline = time.monotonic() + 60
        while endpoint is None and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            endpoint = json.loads(chain.read_text())["neurons"][MINER_UID].get("endpoint")
        assert endpoint is not None, log.read_text()
        m = Miner(proc, Target(endpoint, wallets["miner"].hotkey.ss58_address), wallets, log, 0)
        assert_answered(asyncio.run(honest_queries(m, 1)))  # the honest validator's worker is up
        m.baseline_fds = m.fds()
        yield m
    finally:
        terminate(proc)
    text = log.read_text()
    assert "Traceback" not in text and "Error handling request" not in text, text


# --- helpers ---------------------------------------------------------------------------------------


async def honest_queries(m: Miner, count: int, every_s: float = 0.0) -> list[QueryResult]:
    """``count`` signed queries of the honest validator, one after the other, ``every_s`` apart."""
    results = []
    async with aiohttp.ClientSession() as session:
        for i in range(count):
            if i:
                await asyncio.sleep(every_s)
            results.append(
                await query(session, m.wallets["honest"], m.target, BODY, timeout_s=HONEST_TIMEOUT_S)
            )
    return results


def assert_answered(results: list[QueryResult]) -> None:
    """Each answered in time by the honest validator's agent (one Cancel: not the empty reply)."""
    assert results
    for r in results:
        assert r.ok and r.status == 200, r.error
        assert r.elapsed_s < HONEST_TIMEOUT_S
        assert len(decode_reply(r.body).instructions) == 1


def headers_for(
    m: Miner, sender: str, body: bytes, *, forge: bool = False, receiver: str | None = None
) -> dict:
    """Signed headers of ``sender`` over ``body``; ``forge``: signed by another key (a forgery)."""
    signer = m.wallets["outsider" if forge else sender]
    headers = bt.http_auth.sign(
        signer, method="POST", path=STATE_PATH, body=body, receiver_ss58=receiver or m.target.hotkey
    )
    headers[bt.http_auth.HEADER_HOTKEY] = m.hk(sender)
    return headers


def request_head(headers: dict, *, length: int | None = None, chunked: bool = False) -> bytes:
    lines = [f"POST {STATE_PATH} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/msgpack"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if chunked:
        lines.append("Transfer-Encoding: chunked")
    elif length is not None:
        lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def status_of(reader: asyncio.StreamReader, timeout_s: float) -> tuple[int, str]:
    """The status and body of the HTTP answer on ``reader``."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout_s)
    lines = head.decode("latin-1").split("\r\n")
    length = next((int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length:")), 0)
    body = await asyncio.wait_for(reader.readexactly(length), timeout_s) if length else b""
    return int(lines[0].split()[1]), body.decode("utf-8", "replace")


async def closed_by_peer(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout_s: float
) -> bool:
    """True once the miner closed the connection (EOF or reset) within ``timeout_s``."""
    try:
        while await asyncio.wait_for(reader.read(4096), timeout_s):
            pass
        return True
    except (ConnectionError, OSError):
        return True
    except TimeoutError:
        return False
    finally:
        writer.close()


async def open_idle(m: Miner, count: int) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """``count`` connections that send nothing (those the miner does not accept in 2 s are left out:
    the honest queries tell whether it still serves)."""
    conns = []
    for _ in range(count):
        with contextlib.suppress(asyncio.TimeoutError, OSError):
            conns.append(await asyncio.wait_for(asyncio.open_connection("127.0.0.1", m.port), 2))
    return conns


def run(scenario: Callable[[], Awaitable[None]], limit_s: float = 90.0) -> None:
    asyncio.run(asyncio.wait_for(scenario(), limit_s))  # type: ignore[arg-type]


# --- the tests -------------------------------------------------------------------------------------


def test_the_gil_helper_holds_the_gil() -> None:
    """``hold_gil`` (the GIL-holding agent's C call) lets no other thread run Python meanwhile."""
    ticks: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    hold_gil(0.0)  # loads libc
    t = threading.Thread(target=tick)
    t.start()
    time.sleep(0.02)
    start = time.perf_counter()
    hold_gil(0.3)
    end = time.perf_counter()
    stop.set()
    t.join()
    assert end - start >= 0.3
    assert ticks and not [x for x in ticks if start + 0.02 < x < end - 0.02]  # not as it starts or ends


def test_a_thousand_idle_sockets_cost_bounded_descriptors_and_delay_no_honest_validator(miner: Miner) -> None:
    count = _room_for_sockets(IDLE_SOCKETS)
    assert count > MAX_CONNECTIONS

    async def scenario() -> None:
        conns = await open_idle(miner, count)
        try:
            await asyncio.sleep(0.2)
            peak = miner.fds()
            results = await honest_queries(miner, 5, every_s=0.2)
            peak = max(peak, miner.fds())
        finally:
            for _, w in conns:
                w.close()
        assert_answered(results)
        assert peak <= miner.baseline_fds + MAX_CONNECTIONS + 16, (peak, miner.baseline_fds)

    run(scenario)


def test_slow_loris_headers_and_one_byte_a_second_bodies_are_cut_off_in_time(miner: Miner) -> None:
    """100 connections trickle their headers (one byte every 0.5 s), 30 send a body announced as 1000
    bytes at one byte a second (headers claiming the honest validator, a forged signature): the
    first are closed at the header timeout, the second answered 408 at the body timeout, while the
    honest validator is answered every time."""

    async def loris() -> float:
        reader, writer = await asyncio.open_connection("127.0.0.1", miner.port)
        start = time.monotonic()
        writer.write(f"POST {STATE_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ".encode())
        try:
            while time.monotonic() - start < HEADER_TIMEOUT_S + 5:
                writer.write(b"a")
                await writer.drain()
                if reader.at_eof() or await closed_by_peer_soon(reader):
                    break
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()
        return time.monotonic() - start

    async def closed_by_peer_soon(reader: asyncio.StreamReader) -> bool:
        try:
            return await asyncio.wait_for(reader.read(1), 0.5) == b""
        except TimeoutError:
            return False

    async def slow_body() -> tuple[int, float]:
        reader, writer = await asyncio.open_connection("127.0.0.1", miner.port)
        start = time.monotonic()
        writer.write(request_head(headers_for(miner, "honest", BODY[:1000], forge=True), length=1000))
        answer = asyncio.ensure_future(status_of(reader, BODY_TIMEOUT_S + 5))
        try:
            while not answer.done() and time.monotonic() - start < BODY_TIMEOUT_S + 5:
                writer.write(b"\x00")
                await asyncio.wait([answer], timeout=1.0)
            status, _ = await answer
        finally:
            writer.close()
        return status, time.monotonic() - start

    async def scenario() -> None:
        lorises = [asyncio.ensure_future(loris()) for _ in range(100)]
        bodies = [asyncio.ensure_future(slow_body()) for _ in range(30)]
        honest = asyncio.ensure_future(honest_queries(miner, 20, every_s=0.5))
        peak = 0
        while not all(t.done() for t in (*lorises, *bodies)):
            peak = max(peak, miner.fds())
            await asyncio.sleep(0.5)
        assert_answered(await honest)
        assert max(await asyncio.gather(*lorises)) < HEADER_TIMEOUT_S + 2
        answers = await asyncio.gather(*bodies)
        assert {status for status, _ in answers} == {408}
        assert max(elapsed for _, elapsed in answers) < BODY_TIMEOUT_S + 2
        assert peak <= miner.baseline_fds + MAX_CONNECTIONS + 16

    run(scenario)


def test_oversized_bodies_are_refused_before_or_while_reading(miner: Miner) -> None:
    async def announced() -> tuple[int, str]:
        """Content-Length of 1 TiB, headers of the honest validator: 413 before any body byte."""
        reader, writer = await asyncio.open_connection("127.0.0.1", miner.port)
        writer.write(request_head(headers_for(miner, "honest", b"", forge=True), length=2**40))
        try:
            return await status_of(reader, 3)
        finally:
            writer.close()

    async def chunked() -> tuple[int, int]:
        """A chunked body that never ends: 413 once the cap is passed; the bytes sent by then."""
        reader, writer = await asyncio.open_connection("127.0.0.1", miner.port)
        writer.write(request_head(headers_for(miner, "honest", b"", forge=True), chunked=True))
        answer = asyncio.ensure_future(status_of(reader, 30))
        chunk = b"%x\r\n%s\r\n" % (2**20, b"\x00" * 2**20)
        sent = 0
        try:
            while not answer.done() and sent < 4 * CAP:
                writer.write(chunk)
                await writer.drain()
                sent += 2**20
            status, _ = await answer
        except (ConnectionError, OSError):
            status, _ = await answer
        finally:
            writer.close()
        return status, sent

    async def scenario() -> None:
        rss = miner.rss_kib()
        status, text = await announced()
        assert status == 413 and f"limit of {CAP} bytes" in text
        for _ in range(3):
            status, sent = await chunked()
            assert status == 413 and sent < 4 * CAP  # cut off, not read to the end
        assert miner.rss_kib() - rss < 4 * CAP // 1024  # no body was kept
        assert_answered(await honest_queries(miner, 2))

    run(scenario)


def test_forged_replayed_and_unregistered_requests_are_refused_from_their_headers(miner: Miner) -> None:
    async def exchange(head: bytes, body: bytes = b"") -> tuple[int, str]:
        reader, writer = await asyncio.open_connection("127.0.0.1", miner.port)
        writer.write(head + body)
        try:
            return await status_of(reader, 3)
        finally:
            writer.close()

    async def scenario() -> None:
        # refused from the headers: the body is announced but never sent
        for sender, status, message in (
            ("outsider", 403, "is not registered"),
            ("stranger", 403, "has no validator permit"),
        ):
            got = await exchange(request_head(headers_for(miner, sender, BODY), length=len(BODY)))
            assert got[0] == status and message in got[1]
        wrong = request_head(
            headers_for(miner, "honest", BODY, receiver=miner.hk("stranger")), length=len(BODY)
        )
        assert (await exchange(wrong))[0] == 401
        stale = bt.http_auth.sign(
            miner.wallets["honest"], method="POST", path=STATE_PATH, body=BODY,
            receiver_ss58=miner.target.hotkey, nonce_ns=time.time_ns() - 60 * 10**9,
        )  # fmt: skip
        got = await exchange(request_head(stale, length=len(BODY)))
        assert got[0] == 401 and "freshness window" in got[1]
        # a forged signature over a whole body
        got = await exchange(
            request_head(headers_for(miner, "honest", BODY, forge=True), length=len(BODY)), BODY
        )
        assert got[0] == 401 and "signature does not verify" in got[1]
        # a replayed request: accepted once
        signed = request_head(headers_for(miner, "honest", BODY), length=len(BODY))
        assert (await exchange(signed, BODY))[0] == 200
        got = await exchange(signed, BODY)
        assert got[0] == 401 and "already accepted" in got[1]
        # garbage headers
        junk = {
            "X-Bittensor-Version": "1",
            "X-Bittensor-Hotkey": "\u00e9" * 50,
            "X-Bittensor-Nonce": "9" * 400,
        }
        got = await exchange(request_head(junk, length=10))
        assert got[0] == 401 and "\u00e9" not in got[1]
        assert_answered(await honest_queries(miner, 2))

    run(scenario)


def test_a_blocked_agent_delays_no_other_validator_and_its_worker_is_replaced(miner: Miner) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            blocked = await query(
                session, miner.wallets["blocked"], miner.target, BODY, timeout_s=HONEST_TIMEOUT_S
            )
            assert blocked.ok and decode_reply(blocked.body).instructions == ()  # the empty reply, in time
            assert blocked.elapsed_s < AGENT_TIMEOUT_S + 1
            honest = await honest_queries(miner, int(KILL_AFTER_S / 0.5) + 2, every_s=0.5)
            assert_answered(honest)
            again = await query(
                session, miner.wallets["blocked"], miner.target, BODY, timeout_s=HONEST_TIMEOUT_S
            )
            assert again.ok and decode_reply(again.body).instructions == ()

    run(scenario)
    log = miner.log.read_text()
    killed = [line for line in log.splitlines() if f"agent of {miner.hk('blocked')} is still busy" in line]
    assert killed and "is killed and its state is lost" in killed[0]
    pid = int(killed[0].split("(pid ")[1].split(")")[0])
    assert not Path(f"/proc/{pid}").exists()


def test_an_agent_holding_the_gil_delays_no_other_validator(miner: Miner) -> None:
    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            gil = await query(session, miner.wallets["gil"], miner.target, BODY, timeout_s=HONEST_TIMEOUT_S)
            assert gil.ok and decode_reply(gil.body).instructions == ()
            assert gil.elapsed_s < AGENT_TIMEOUT_S + 1
            assert_answered(await honest_queries(miner, 6, every_s=0.5))

    run(scenario)


def test_everything_at_once(miner: Miner) -> None:
    """Idle sockets past the connection cap, forged bodies and both stuck agents together: the
    honest validator is answered every time."""
    count = _room_for_sockets(IDLE_SOCKETS)

    async def idle() -> None:
        conns = await open_idle(miner, count)
        try:
            await asyncio.sleep(HEADER_TIMEOUT_S + 1)
        finally:
            for _, w in conns:
                w.close()

    async def forged() -> None:
        async with aiohttp.ClientSession() as session:
            for _ in range(50):
                headers = headers_for(miner, "honest", BODY, forge=True)
                try:
                    async with session.post(
                        f"http://{miner.target.endpoint}{STATE_PATH}", data=BODY, headers=headers
                    ) as r:
                        assert r.status == 401
                except aiohttp.ClientConnectionError:
                    pass  # not authenticated: its connection may give way to newer ones
                await asyncio.sleep(0.05)

    async def stuck(name: str) -> None:
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                r = await query(session, miner.wallets[name], miner.target, BODY, timeout_s=HONEST_TIMEOUT_S)
                assert r.ok and decode_reply(r.body).instructions == ()
                await asyncio.sleep(1.0)

    async def scenario() -> None:
        attacks = [asyncio.ensure_future(a) for a in (idle(), forged(), stuck("blocked"), stuck("gil"))]
        honest = await honest_queries(miner, 12, every_s=0.5)
        await asyncio.gather(*attacks)
        assert_answered(honest)
        assert miner.fds() <= miner.baseline_fds + MAX_CONNECTIONS + 16

    run(scenario)


def test_sixteen_blocked_agents_keep_no_validator_waiting(miner: Miner) -> None:
    """16 validators whose agents block at once: each gets the empty reply in time, and a validator
    served before as well as one never seen are answered by their agents (runs last: 16 workers
    are stuck until they are killed)."""

    async def blocked(session: aiohttp.ClientSession, name: str) -> QueryResult:
        return await query(session, miner.wallets[name], miner.target, BODY, timeout_s=10)  # 16 workers start

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            crowd = [f"blocked{i}" for i in range(BLOCKED_CROWD)]
            results = await asyncio.gather(*(blocked(session, n) for n in crowd))
            assert all(r.ok and decode_reply(r.body).instructions == () for r in results), results
            newcomer = await query(session, miner.wallets["newcomer"], miner.target, BODY, timeout_s=10)
            assert newcomer.ok and len(decode_reply(newcomer.body).instructions) == 1, newcomer.error
        assert_answered(await honest_queries(miner, 4, every_s=0.25))

    run(scenario)
