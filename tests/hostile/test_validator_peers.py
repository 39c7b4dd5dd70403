"""A validator (in this process, real signed HTTP over loopback) against hostile miners: every
failure reaches the miner as a notice naming its kind, no redirect is followed, no peer's bytes
are echoed, and an instant miner is timed as instant however many others hold connections."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from bittensor.sp_core import Keypair
from markets import loop_market
from peers import SECRET, HostileMiners
from wallets import make_wallet

from taos.chain import LocalChain
from taos.config import loads
from taos.protocol import StateRequest, encode_shared
from taos.validator.client import Target, new_session, query_all
from taos.validator.loop import run
from taos.validator.outcome import QueryOutcome
from taos.validator.transport import HttpTransport
from taos.validator.validator import Validator, ValidatorSettings

# behaviour → the start of the notice its miner gets in its next state
EXPECTED = {
    "garbage": "decode_error: reply: malformed",
    "huge": "oversized: reply larger than",
    "lying_length": "oversized: reply larger than",
    "endless": "oversized: reply larger than",
    "error500": "http_error: HTTP 500",
    "redirect": "http_error: HTTP 307 (redirects are not followed)",
    "redirect_loop": "http_error: HTTP 307 (redirects are not followed)",
    "gzip_bomb": "http_error: compressed reply refused",
    "bad_http": "http_error: malformed HTTP answer",
    "reset": "refused: ",
    "drip": "timeout: no answer within 1 s",
    "stall": "timeout: no answer within 1 s",
    "silent": "timeout: no answer within 1 s",
}


def hotkey(name: str) -> str:
    return Keypair.create_from_uri(f"//{name}").ss58_address


def validator_for(tmp_path: Path, miners: HostileMiners, names: list[str]) -> Validator:
    wallet = make_wallet(tmp_path / "wallets", "validator")
    neurons = [{"hotkey": wallet.hotkey.ss58_address, "validator_permit": True, "stake": 1000}]
    neurons += [{"hotkey": hotkey(n), "endpoint": miners.endpoint(n)} for n in names]
    chain_file = tmp_path / "chain.json"
    chain_file.write_text(json.dumps({"neurons": neurons}))
    config = loads(loop_market(slots=len(names) + 1, duration_s=3_600.0, grace_period_s=0.0))
    chain = LocalChain.from_file(chain_file, wallet.hotkey.ss58_address)
    settings = ValidatorSettings(timeout_s=1.0, weights_interval_s=1e9)
    return Validator(config, chain, HttpTransport(wallet, {}, {}, allow_private=True), settings)


def test_every_failure_reaches_its_miner_named_by_kind_and_nothing_of_a_peer_is_echoed(
    tmp_path: Path,
) -> None:
    names = ["honest", "extreme", *EXPECTED]
    with HostileMiners(names, stall_s=5.0) as miners:
        v = validator_for(tmp_path, miners, names)

        async def steps() -> int:
            v.sync_chain()
            try:
                return await run(v, max_steps=3)
            finally:
                await v.transport.close()

        assert asyncio.run(steps()) == 3  # the loop went on through every kind of failure
        assert miners.internal_hits == 0  # the redirect was not followed
        for uid, name in enumerate(names, start=1):
            if name not in EXPECTED:
                continue
            prefix = EXPECTED[name]
            seen = miners.seen[name]
            if name != "reset":  # the others read their states: 3 of them, 2 with the last verdict
                assert seen.states == 3 and seen.undecodable == 0, (name, seen)
                assert len(seen.rejections) == 2, (name, seen)
            pending = [n.detail for n in v.miners[uid].notices]  # for the state after the last step
            assert len(pending) == 1, (name, pending)
            assert all(d.startswith(prefix) for d in [*seen.rejections, *pending]), (name, seen, pending)
        everything = [d for s in miners.seen.values() for d in s.rejections]
        assert not any(SECRET.decode() in d or "internal-secret" in d for d in everything)
        assert miners.seen["honest"].rejections == []
        assert miners.seen["extreme"].rejections == []  # its instructions are refused one by one
        assert v.pending["agent"].tolist().count(1) == 1  # the honest miner's order is scheduled


@pytest.mark.parametrize("position", ["first", "last"])
def test_an_instant_miner_is_timed_as_instant_while_many_others_hold_their_connections(
    tmp_path: Path, position: str
) -> None:
    """More miners than aiohttp's default pool of 100 connections: 200 of them hold their
    request for 3 s. The instant miner, queried with them, is timed from the sending of its own
    request, not from a wait for a free connection (queried last, it waited >= 3 s for one) or
    from the signing of the others' requests (queried first, it was timed while they were signed)."""
    with HostileMiners(["honest"]) as miners, HostileMiners(["stall"], stall_s=3.0) as staller:
        wallet = make_wallet(tmp_path / "wallets", "validator")
        honest = (Target(miners.endpoint("honest"), hotkey("honest")), b"\x80")
        slow = [(Target(staller.endpoint("stall"), hotkey(f"stall{i}")), b"\x80") for i in range(200)]
        requests = [honest, *slow] if position == "first" else [*slow, honest]

        async def ask() -> list:
            async with new_session() as session:
                return await query_all(session, wallet, requests, timeout_s=8.0)

        results = asyncio.run(ask())
    instant = results[0] if position == "first" else results[-1]
    assert all(r.outcome is QueryOutcome.OK for r in results)
    assert staller.seen["stall"].states == 200  # all 200 were in flight together
    assert instant.elapsed_s < 1.0, instant  # liveness margin: a wait for the pool is >= 3 s
    assert min(r.elapsed_s for r in results if r is not instant) >= 2.9


@pytest.mark.parametrize("timeout_s", [0.5])
def test_a_state_request_for_a_miner_without_an_endpoint_is_refused_not_sent(
    tmp_path: Path, timeout_s: float
) -> None:
    wallet = make_wallet(tmp_path / "wallets", "validator")
    transport = HttpTransport(wallet, {}, {}, allow_private=True)
    config = loads(loop_market(slots=2, grace_period_s=0.0))
    v = Validator(config, LocalChain(wallet.hotkey.ss58_address), transport, ValidatorSettings())
    request = StateRequest(encode_shared(0, ()), v.info)

    async def ask() -> dict:
        try:
            return await transport.query({1: request}, timeout_s)
        finally:
            await transport.close()

    (answer,) = asyncio.run(ask()).values()
    assert answer.outcome is QueryOutcome.REFUSED and answer.error == "uid 1 serves no endpoint"


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("8.8.8.8:8091", None),
        ("[2001:4860:4860::8888]:8091", None),
        ("127.0.0.1:9001", "is not a public address"),
        ("10.0.0.5:8091", "is not a public address"),
        ("192.168.1.20:8091", "is not a public address"),
        ("169.254.169.254:80", "is not a public address"),  # a cloud's metadata service
        ("0.0.0.0:8091", "is not a public address"),
        ("[::1]:8091", "is not a public address"),
        ("[::ffff:127.0.0.1]:8091", "is not a public address"),
        ("metadata.internal:80", "does not name an IP address"),
        ("8.8.8.8:0", "is not ip:port"),
        ("8.8.8.8:99999", "is not ip:port"),
        ("8.8.8.8", "is not ip:port"),
    ],
)
def test_only_public_ip_endpoints_are_queried(endpoint: str, problem: str | None) -> None:
    from taos.validator.transport import endpoint_problem

    found = endpoint_problem(endpoint)
    assert (found is None) if problem is None else (found is not None and problem in found)
    assert endpoint_problem("127.0.0.1:9001", allow_private=True) is None


def test_a_miner_publishing_an_internal_address_is_not_queried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A miner's published endpoint is an address of its choosing: pointed at the validator's own
    network (here loopback), it would make the validator POST signed states there. On a real
    chain (no allow_private) such a miner is not queried, and that is logged once."""
    with HostileMiners(["honest"]) as miners:
        v = validator_for(tmp_path, miners, ["honest"])
        v.transport = HttpTransport(v.transport.wallet, {}, {})  # type: ignore[attr-defined]

        async def steps() -> int:
            v.sync_chain()
            try:
                return await run(v, max_steps=3)
            finally:
                await v.transport.close()

        assert asyncio.run(steps()) == 3
    assert miners.seen["honest"].states == 0
    warnings = [r.getMessage() for r in caplog.records if "is not queried" in r.getMessage()]
    assert warnings == [
        f"uid 1 is not queried: its published endpoint {miners.endpoint('honest')} is not a public address"
    ]
