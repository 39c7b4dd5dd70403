"""zstd state bodies (taos.protocol.compression): the compressed body is the identity body once
decompressed, the books are compressed once for every miner, a reader never holds more than its
cap, and the validator's transport compresses only for a miner that said it takes zstd."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from protocol_samples import state

from taos.protocol import ProtocolError, StateRequest, decode_state, encode_reply, encode_shared
from taos.protocol.compression import accepts_zstd, compress, decompress


def request(notices: tuple = (), books: int = 4) -> StateRequest:
    s = state(books=books, notices=notices)
    return StateRequest(encode_shared(s.timestamp_ns, s.books), s.simulation, s.accounts, s.notices)


def test_a_zstd_body_is_the_identity_body_once_decompressed() -> None:
    a, b = request(), request()
    for r in (a, b):
        zipped = r.body("zstd")
        assert decompress(zipped, len(r.body())) == r.body()
        assert decode_state(decompress(zipped, 10**7)) == decode_state(r.body())
        assert len(zipped) < len(r.body())
    shared = a.shared
    other = StateRequest(shared, a.simulation, (), ())
    assert other.body("zstd").count(shared.zstd_books) == 1  # the books' frame, compressed once
    assert shared.zstd_books is shared.zstd_books
    with pytest.raises(ValueError, match="unknown content coding 'br'"):
        a.body("br")


def test_a_reader_refuses_bombs_garbage_and_cut_off_bodies() -> None:
    bomb = compress(b"\0" * 10_000_000)
    assert len(bomb) < 2_000
    with pytest.raises(ProtocolError, match="decompresses to more than 1000000 bytes"):
        decompress(bomb, 1_000_000)
    body = request().body("zstd")
    for bad in (b"garbage", body[: len(body) // 2], b"\x28\xb5\x2f\xfd" + b"\xff" * 20):
        with pytest.raises(ProtocolError, match="state: not a valid zstd body"):
            decompress(bad, 10**7)
    assert decompress(compress(b""), 10) == b""


@pytest.mark.parametrize(
    ("header", "takes"),
    [
        ("zstd, identity", True),
        ("gzip, ZSTD;q=0.5", True),
        ("zstd;q=0", False),
        ("identity", False),
        ("", False),
        (None, False),
        ("zstdx", False),
    ],
)
def test_accept_encoding_is_read_as_http_says(header: str | None, takes: bool) -> None:
    assert accepts_zstd(header) is takes


def test_the_transport_compresses_only_for_a_miner_that_takes_zstd() -> None:
    """Real HTTP on loopback: two peers answer replies, one saying it takes zstd. The first state
    to each is identity; the next ones are zstd to that peer only; after an answer that no longer
    says so (e.g. an older miner in its place) it gets identity again."""
    import bittensor as bt

    from taos.chain import Metagraph, Neuron
    from taos.validator.transport import HttpTransport

    seen: dict[int, list[str]] = {1: [], 2: []}
    offer = {1: True, 2: False}

    def handler(uid: int):  # type: ignore[no-untyped-def]
        async def handle(req: web.Request) -> web.Response:
            coding = req.headers.get("Content-Encoding", "identity")
            body = await req.read()
            if coding == "zstd":
                decompress(body, 10**7)
            seen[uid].append(coding)
            headers = {"Accept-Encoding": "zstd, identity"} if offer[uid] else {}
            return web.Response(body=encode_reply([]), headers=headers)

        return handle

    async def scenario(tmp: str) -> None:
        runners, ports = [], {}
        for uid in (1, 2):
            app = web.Application()
            app.router.add_post("/state", handler(uid))
            runner = web.AppRunner(app, auto_decompress=False)  # the bytes as sent, as the miner reads them
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            runners.append(runner)
            ports[uid] = runner.addresses[0][1]
        wallet = bt.Wallet(name="v", hotkey="hot", path=tmp)
        wallet.create_new_coldkey(use_password=False, overwrite=True, suppress=True)
        wallet.create_new_hotkey(use_password=False, overwrite=True, suppress=True)
        transport = HttpTransport(wallet, {}, {}, allow_private=True)
        graph = Metagraph(1, tuple(Neuron(u, f"hk{u}", False, 0.0, f"127.0.0.1:{ports[u]}") for u in (1, 2)))
        transport.follow(graph)
        try:
            for step in range(4):
                if step == 2:
                    offer[1] = False
                answers = await transport.query({1: request(), 2: request()}, 5.0)
                assert all(a.error is None for a in answers.values()), answers
        finally:
            await transport.close()
            for r in runners:
                await r.cleanup()

    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(scenario(tmp))
    assert seen == {1: ["identity", "zstd", "zstd", "identity"], 2: ["identity"] * 4}
