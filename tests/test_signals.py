"""The signal bridge: the formats, the signal server over real HTTP on loopback, and the signal
store's lifecycle on real files (acknowledged, rejected, timed out, restarted)."""

import asyncio
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from signal_helpers import T0, Clock, files, put_signal

from taos.signals import SignalError, SignalStore, SignalStoreError, client_order_id
from taos.signals.files import write_json_atomic
from taos.signals.records import EXAMPLE_API_KEY, Signal, check_request, load_api_key
from taos.signals.server import SIGNAL_PATH, SignalServer

KEY = "k3y-for-tests-0123456789"
V1, V2 = "5Validator-one", "5Validator-two"

# --- formats -----------------------------------------------------------------------------------


def test_the_bridge_imports_without_the_simulator_or_bittensor() -> None:
    code = (
        "import sys\n"
        "sys.modules['taos._simulator'] = None\n"
        "sys.modules['bittensor'] = None\n"
        "import taos.signals, taos.signals.server\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.stdout.strip() == "ok", out.stderr


def test_client_order_id_is_the_first_63_bits_of_the_uuids_sha256() -> None:
    # sha256("6f1d2c3e-8a9b-4c5d-9e0f-112233445566") starts with e5a3a9a323d7cf3a;
    # 0xe5a3a9a323d7cf3a >> 1 = 8273627987017721757.
    assert client_order_id("6f1d2c3e-8a9b-4c5d-9e0f-112233445566") == 8_273_627_987_017_721_757
    assert client_order_id("6f1d2c3e-8a9b-4c5d-9e0f-112233445567") != 8_273_627_987_017_721_757


def test_flat_may_omit_leverage_or_give_zero_and_records_zero() -> None:
    assert check_request({"api_key": KEY, "book_id": 3, "order_type": "FLAT"}) == (3, "FLAT", 0.0)
    assert check_request({"api_key": KEY, "book_id": 3, "order_type": "FLAT", "leverage": 0}) == (
        3,
        "FLAT",
        0.0,
    )
    assert check_request({"api_key": KEY, "book_id": 0, "order_type": "SHORT", "leverage": 2}) == (
        0,
        "SHORT",
        2.0,
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "is not JSON"),
        ('["k"]', "must be a JSON object, got an array"),
        ("{}", "missing field api_key"),
        ('{"api_key": "k", "user": "me"}', "unknown field(s) user"),
        ('{"api_key": ""}', "api_key must be a non-empty string"),
        ('{"api_key": 12}', "api_key must be a non-empty string"),
        (json.dumps({"api_key": EXAMPLE_API_KEY}), "still the example placeholder"),
    ],
)
def test_a_bad_secrets_file_is_one_clear_error(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "miner_secrets.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SignalError) as e:
        load_api_key(path)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_the_example_secrets_file_holds_the_placeholder() -> None:
    example = Path(__file__).resolve().parents[1] / "mining" / "miner_secrets.json.example"
    assert json.loads(example.read_text()) == {"api_key": EXAMPLE_API_KEY}


# --- the server over HTTP ----------------------------------------------------------------------


def post_all(root: Path, bodies: list[bytes], *, max_body_bytes: int = 16 * 1024) -> list[tuple[int, dict]]:
    """Starts a SignalServer on 127.0.0.1, POSTs each body, returns (status, JSON answer)."""

    async def scenario() -> list[tuple[int, dict]]:
        server = SignalServer(root, KEY, max_body_bytes=max_body_bytes, clock=lambda: T0)
        runner = web.AppRunner(server.app())
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}{SIGNAL_PATH}"
        out = []
        try:
            async with aiohttp.ClientSession() as session:
                for body in bodies:
                    async with session.post(url, data=body) as response:
                        out.append((response.status, await response.json(content_type=None)))
        finally:
            await runner.cleanup()
        return out

    return asyncio.run(scenario())


def body(**fields: object) -> bytes:
    return json.dumps(fields).encode()


def test_a_good_signal_is_written_with_its_fields(tmp_path: Path) -> None:
    answers = post_all(
        tmp_path,
        [
            body(api_key=KEY, book_id=2, order_type="LONG", leverage=1.5),
            body(api_key=KEY, book_id=0, order_type="FLAT"),
        ],
    )
    assert [status for status, _ in answers] == [200, 200]
    written = files(tmp_path, "received_signals")
    first, second = (answer["uuid"] for _, answer in answers)
    assert written == {
        first: {"uuid": first, "received_at": T0, "book_id": 2, "order_type": "LONG", "leverage": 1.5},
        second: {"uuid": second, "received_at": T0, "book_id": 0, "order_type": "FLAT", "leverage": 0.0},
    }
    assert [p.name for p in (tmp_path / "received_signals").iterdir() if p.name.startswith(".")] == []


GOOD = {"api_key": KEY, "book_id": 1, "order_type": "SHORT", "leverage": 2.0}


def changed(**fields: object) -> bytes:
    doc: dict[str, object] = {**GOOD, **fields}
    return json.dumps({k: v for k, v in doc.items() if v is not DROP}).encode()


DROP = object()

BAD_PAYLOADS = [
    (b"book_id=1", "body is not JSON"),
    (b"", "body is not JSON"),
    (b"\xff\xfe{}", "body is not UTF-8 text"),
    (b"[1, 2]", "body must be a JSON object, got an array"),
    (b'"LONG"', "body must be a JSON object, got a string"),
    (changed(api_key=DROP), "missing field(s): api_key"),
    (changed(api_key=7), "api_key must be a string"),
    (b'{"api_key": "x", "api_key": "y"}', "field api_key is given twice"),
    (changed(price=3.0), "unknown field(s): price"),
    (changed(book_id=DROP), "missing field(s): book_id"),
    (changed(order_type=DROP), "missing field(s): order_type"),
    (changed(leverage=DROP), "missing field(s): leverage (needed for SHORT)"),
    (changed(book_id=-1), "book_id must be an integer in [0, 2^63), got -1"),
    (changed(book_id="1"), "book_id must be an integer in [0, 2^63), got '1'"),
    (changed(book_id=1.0), "book_id must be an integer in [0, 2^63), got 1.0"),
    (changed(book_id=True), "book_id must be an integer in [0, 2^63), got True"),
    (changed(book_id=2**63), "book_id must be an integer in [0, 2^63)"),
    (changed(order_type="short"), "order_type must be one of LONG, SHORT, FLAT, got 'short'"),
    (changed(order_type=2), "order_type must be one of LONG, SHORT, FLAT, got 2"),
    (changed(leverage="2"), "leverage must be a number, got '2'"),
    (changed(leverage=None), "leverage must be a number, got None"),
    (changed(leverage=0), "leverage must be a finite number > 0 for SHORT, got 0"),
    (changed(leverage=-1.5), "leverage must be a finite number > 0 for SHORT, got -1.5"),
    (
        changed(order_type="LONG", leverage=float("nan")),
        "leverage must be a finite number > 0 for LONG, got nan",
    ),
    (changed(leverage=float("inf")), "leverage must be a finite number > 0 for SHORT, got inf"),
    (changed(order_type="FLAT", leverage=-1), "leverage must be a finite number >= 0 (or omitted) for FLAT"),
]


def test_each_bad_payload_is_400_with_the_reason_and_writes_nothing(tmp_path: Path) -> None:
    answers = post_all(tmp_path, [b for b, _ in BAD_PAYLOADS])
    for (sent, message), (status, answer) in zip(BAD_PAYLOADS, answers, strict=True):
        assert status == 400, sent
        assert set(answer) == {"error"} and message in answer["error"], (sent, answer)
    assert list((tmp_path / "received_signals").iterdir()) == []


def test_a_bad_key_is_401_before_the_fields_are_judged(tmp_path: Path) -> None:
    answers = post_all(
        tmp_path,
        [changed(api_key=KEY + "x"), changed(api_key="", book_id=-5), changed(api_key=KEY[:-1])],
    )
    assert answers == [(401, {"error": "invalid api_key"})] * 3
    assert list((tmp_path / "received_signals").iterdir()) == []


def test_an_oversized_body_is_refused(tmp_path: Path) -> None:
    padded = changed(note="x" * 300)  # 371 bytes; the cap is 256
    assert len(padded) > 256
    answers = post_all(tmp_path, [padded, changed()], max_body_bytes=256)
    assert answers[0] == (413, {"error": "body larger than 256 bytes"})
    assert answers[1][0] == 200  # the server goes on
    assert list(files(tmp_path, "received_signals")) == [answers[1][1]["uuid"]]


def test_other_methods_and_paths_are_refused(tmp_path: Path) -> None:
    async def scenario() -> list[int]:
        runner = web.AppRunner(SignalServer(tmp_path, KEY).app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(base + SIGNAL_PATH) as a,
                session.post(base + "/api/other", data=b"{}") as b,
            ):
                return [a.status, b.status]
        finally:
            await runner.cleanup()

    assert asyncio.run(scenario()) == [405, 404]


# --- the store ---------------------------------------------------------------------------------


def open_store(root: Path, clock: Clock, **settings: float) -> SignalStore:
    settings = {"ack_timeout_s": 300.0, "validator_window_s": 120.0, "resend_after_s": 60.0, **settings}
    return SignalStore(root, clock=clock, **settings)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def ids(signals: list[Signal]) -> list[str]:
    return [s.uuid for s in signals]


def test_acknowledged_by_every_validator_moves_to_processed(tmp_path: Path, clock: Clock) -> None:
    s = put_signal(tmp_path, 0, "LONG", 2.0)
    store = open_store(tmp_path, clock)
    assert ids(store.poll(V1, books=2)) == [s.uuid]
    clock.t += 1
    assert ids(store.poll(V2, books=2)) == [s.uuid]
    assert store.acknowledge(V1, s.client_order_id, ts_ns=5, leverage=2.0, quantity=0.5)
    clock.t += 1
    assert store.poll(V1, books=2) == [] and store.pending() == [s.uuid]  # V2 has not acknowledged
    assert store.acknowledge(V2, s.client_order_id, ts_ns=6, leverage=1.0, quantity=0.25)
    clock.t += 1
    store.poll(V2, books=2)
    assert store.pending() == [] and files(tmp_path, "received_signals") == {}
    record = files(tmp_path, "processed_signals")[s.uuid]
    assert record["status"] == "processed" and record["reason"] is None and record["finished_at"] == T0 + 3
    assert record["client_order_id"] == s.client_order_id
    assert record["validators"] == {
        V1: {
            "sends": 1,
            "first_sent_at": T0,
            "last_sent_at": T0,
            "acknowledged": {"at": T0 + 1, "ts_ns": 5, "leverage": 2.0, "quantity": 0.5},
            "rejected": None,
        },
        V2: {
            "sends": 1,
            "first_sent_at": T0 + 1,
            "last_sent_at": T0 + 1,
            "acknowledged": {"at": T0 + 2, "ts_ns": 6, "leverage": 1.0, "quantity": 0.25},
            "rejected": None,
        },
    }
    # A late answer for a finished signal is not a pending signal's.
    assert not store.acknowledge(V1, s.client_order_id, ts_ns=7, leverage=2.0, quantity=0.0)
    store.close()


def test_one_rejection_fails_the_signal_with_the_validator_and_reason(tmp_path: Path, clock: Clock) -> None:
    s = put_signal(tmp_path, 1, "SHORT", 3.0)
    store = open_store(tmp_path, clock)
    store.poll(V1, books=2)
    store.poll(V2, books=2)
    store.acknowledge(V1, s.client_order_id, ts_ns=1, leverage=3.0, quantity=-1.0)
    assert store.reject(V2, s.client_order_id, reason="INVALID_INSTRUCTION", detail="leverage 3 over 2")
    assert store.poll(V1, books=2) == []
    record = files(tmp_path, "failed_signals")[s.uuid]
    assert record["status"] == "failed"
    assert record["reason"] == f"rejected by {V2}: INVALID_INSTRUCTION (leverage 3 over 2)"
    assert record["validators"][V2]["rejected"] == {
        "at": T0,
        "reason": "INVALID_INSTRUCTION",
        "detail": "leverage 3 over 2",
    }
    assert record["validators"][V1]["acknowledged"] is not None
    assert files(tmp_path, "processed_signals") == {} and files(tmp_path, "received_signals") == {}
    store.close()


def test_a_signal_not_acknowledged_in_time_fails(tmp_path: Path, clock: Clock) -> None:
    s = put_signal(tmp_path, 0)
    store = open_store(tmp_path, clock, ack_timeout_s=30.0, resend_after_s=1000.0)
    store.poll(V1, books=2)
    store.poll(V2, books=2)
    store.acknowledge(V1, s.client_order_id, ts_ns=1, leverage=1.0, quantity=1.0)
    clock.t = T0 + 29.5
    store.poll(V1, books=2)
    assert store.pending() == [s.uuid]
    clock.t = T0 + 30.0
    store.poll(V1, books=2)
    record = files(tmp_path, "failed_signals")[s.uuid]
    assert record["reason"] == f"not acknowledged within 30 s: waiting for {V2} (sent 1 times)"
    assert record["finished_at"] == T0 + 30.0
    store.close()


def test_a_signal_no_validator_asked_for_times_out(tmp_path: Path, clock: Clock) -> None:
    s = put_signal(tmp_path, 0)
    store = open_store(tmp_path, clock, ack_timeout_s=30.0)
    clock.t = T0 + 31
    store.settle()
    assert files(tmp_path, "failed_signals")[s.uuid]["reason"] == (
        "not acknowledged within 30 s: no validator queried the miner"
    )
    store.close()


def test_a_validator_that_stops_querying_no_longer_blocks(tmp_path: Path, clock: Clock) -> None:
    s = put_signal(tmp_path, 0)
    store = open_store(tmp_path, clock, validator_window_s=120.0, ack_timeout_s=1000.0, resend_after_s=1000.0)
    store.poll(V1, books=2)
    store.poll(V2, books=2)  # V2 gets the signal, then falls silent
    store.acknowledge(V1, s.client_order_id, ts_ns=1, leverage=1.0, quantity=1.0)
    clock.t = T0 + 120.0  # V2 was seen exactly one window ago: still counts
    store.poll(V1, books=2)
    assert store.pending() == [s.uuid]
    clock.t = T0 + 120.5
    store.poll(V1, books=2)
    assert store.pending() == [] and s.uuid in files(tmp_path, "processed_signals")
    store.close()


def test_a_signal_needs_at_least_one_acknowledgement(tmp_path: Path, clock: Clock) -> None:
    s = put_signal(tmp_path, 0)
    store = open_store(tmp_path, clock)
    clock.t += 200  # no validator is active any more, but none acknowledged either
    store.settle()
    assert store.pending() == [s.uuid]
    store.close()


def test_a_signal_for_a_missing_book_fails_without_being_sent(tmp_path: Path, clock: Clock) -> None:
    good, bad = put_signal(tmp_path, 1), put_signal(tmp_path, 2, at=T0 + 1)
    store = open_store(tmp_path, clock)
    assert ids(store.poll(V1, books=2)) == [good.uuid]
    record = files(tmp_path, "failed_signals")[bad.uuid]
    assert (
        record["reason"]
        == f"rejected by {V1}: UNKNOWN_BOOK (book 2 does not exist (the simulation has 2 books))"
    )
    assert record["validators"][V1]["sends"] == 0
    store.close()


def test_tracking_survives_a_new_store_and_resends_with_the_same_id(tmp_path: Path, clock: Clock) -> None:
    s = put_signal(tmp_path, 0)
    first = open_store(tmp_path, clock)
    assert ids(first.poll(V1, books=2)) == [s.uuid]
    clock.t += 1
    first.poll(V2, books=2)
    first.acknowledge(V2, s.client_order_id, ts_ns=1, leverage=1.0, quantity=1.0)
    first.close()  # as if the process died here: V1's answer never came

    clock.t += 1
    second = open_store(tmp_path, clock)
    record = second.record(s.uuid)
    assert record is not None and record["validators"][V1]["sends"] == 1
    assert record["validators"][V2]["acknowledged"]["at"] == T0 + 1
    # V1 may not have got the reply of the dead process: sent again once, with the same id.
    again = second.poll(V1, books=2)
    assert ids(again) == [s.uuid] and again[0].client_order_id == s.client_order_id
    assert second.poll(V1, books=2) == []  # not due again before resend_after_s
    assert second.poll(V2, books=2) == []  # V2 acknowledged before the restart
    second.acknowledge(V1, s.client_order_id, ts_ns=2, leverage=1.0, quantity=0.0)
    second.poll(V1, books=2)
    record = files(tmp_path, "processed_signals")[s.uuid]
    assert record["validators"][V1]["sends"] == 2 and record["validators"][V2]["sends"] == 1
    second.close()


def test_the_validators_seen_survive_a_new_store(tmp_path: Path, clock: Clock) -> None:
    s = put_signal(tmp_path, 0)
    first = open_store(tmp_path, clock)
    first.poll(V1, books=2)
    first.poll(V2, books=2)
    first.close()
    second = open_store(tmp_path, clock)
    second.acknowledge(V1, s.client_order_id, ts_ns=1, leverage=1.0, quantity=1.0)
    second.poll(V1, books=2)
    assert second.pending() == [s.uuid]  # V2 queried before the restart: still awaited
    second.close()


def test_a_decided_signal_left_by_a_crash_is_moved_on_opening(tmp_path: Path, clock: Clock) -> None:
    s = put_signal(tmp_path, 0)
    path = tmp_path / "received_signals" / f"{s.uuid}.json"
    doc = {
        **s.to_json(),
        "client_order_id": s.client_order_id,
        "validators": {},
        "status": "failed",
        "finished_at": T0 + 5,
        "reason": "not acknowledged within 1 s: no validator queried the miner",
    }
    write_json_atomic(path, doc)
    (tmp_path / "received_signals" / ".store-left-over.json.abc.tmp").write_text("{")
    store = open_store(tmp_path, clock)
    assert store.pending() == [] and files(tmp_path, "failed_signals") == {s.uuid: doc}
    assert list((tmp_path / "received_signals").iterdir()) == []
    store.close()


def test_a_reply_dropped_by_the_validator_makes_its_signals_due(tmp_path: Path, clock: Clock) -> None:
    s = put_signal(tmp_path, 0)
    store = open_store(tmp_path, clock, resend_after_s=60.0)
    store.poll(V1, books=2)
    assert store.poll(V1, books=2) == []
    store.reply_dropped(V1, [s.client_order_id])
    assert ids(store.poll(V1, books=2)) == [s.uuid]
    clock.t += 59.9
    assert store.poll(V1, books=2) == []
    clock.t += 0.1
    assert ids(store.poll(V1, books=2)) == [s.uuid]  # resend_after_s passed
    assert store.record(s.uuid)["validators"][V1]["sends"] == 3  # type: ignore[index]
    store.close()


def test_an_older_signal_is_never_sent_after_a_newer_one_on_the_same_book(
    tmp_path: Path, clock: Clock
) -> None:
    older = put_signal(tmp_path, 0, "LONG", at=T0)
    store = open_store(tmp_path, clock, resend_after_s=10.0)
    store.poll(V1, books=2)
    newer = put_signal(tmp_path, 0, "FLAT", 0.0, at=T0 + 1)
    other_book = put_signal(tmp_path, 1, "SHORT", at=T0 + 2)
    clock.t += 1
    assert ids(store.poll(V1, books=2)) == [newer.uuid, other_book.uuid]
    clock.t += 20  # the older one is due for a resend, but would undo the newer one
    assert ids(store.poll(V1, books=2)) == [newer.uuid, other_book.uuid]
    # A file that shows up late with an older reception time is superseded for V1.
    late = put_signal(tmp_path, 1, "LONG", at=T0 + 0.5)
    clock.t += 1
    assert store.poll(V1, books=2) == []
    record = files(tmp_path, "failed_signals")[late.uuid]
    assert record["reason"] == (
        f"rejected by {V1}: SUPERSEDED (signal {other_book.uuid} for book 1 was sent to this validator before)"
    )
    assert older.uuid in store.pending()
    store.close()


def test_the_resend_guard_remembers_finished_signals(tmp_path: Path, clock: Clock) -> None:
    older = put_signal(tmp_path, 0, "LONG", at=T0)
    newer = put_signal(tmp_path, 0, "SHORT", at=T0 + 1)
    store = open_store(tmp_path, clock, resend_after_s=10.0)
    assert ids(store.poll(V1, books=2)) == [older.uuid, newer.uuid]
    store.acknowledge(V1, newer.client_order_id, ts_ns=1, leverage=1.0, quantity=-2.0)
    store.poll(V1, books=2)
    assert store.pending() == [older.uuid]  # the newer one is processed and gone
    store.close()
    clock.t += 20
    reopened = open_store(tmp_path, clock, resend_after_s=10.0)
    assert reopened.poll(V1, books=2) == []  # not resent after a restart either
    reopened.close()


def test_a_malformed_signal_file_is_failed_with_the_reason(tmp_path: Path, clock: Clock) -> None:
    folder = tmp_path / "received_signals"
    folder.mkdir()
    (folder / "by-hand.json").write_text('{"uuid": "by-hand", "book_id": 0}')
    store = open_store(tmp_path, clock)
    assert store.pending() == [] and not (folder / "by-hand.json").exists()
    record = files(tmp_path, "failed_signals")["by-hand"]
    assert record["reason"] == "malformed signal file: missing field(s): received_at, order_type, leverage"
    assert record["content"] == '{"uuid": "by-hand", "book_id": 0}'
    store.close()


def test_a_second_store_on_the_same_folder_is_refused(tmp_path: Path, clock: Clock) -> None:
    store = open_store(tmp_path, clock)
    with pytest.raises(SignalStoreError, match="in use by another process"):
        open_store(tmp_path, clock)
    store.close()
    open_store(tmp_path, clock).close()  # released


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"ack_timeout_s": 0.0}, "ack_timeout_s must be a finite number > 0, got 0.0"),
        ({"validator_window_s": -1.0}, "validator_window_s must be a finite number > 0"),
        ({"resend_after_s": float("inf")}, "resend_after_s must be a finite number > 0"),
    ],
)
def test_bad_store_settings(tmp_path: Path, clock: Clock, settings: dict, message: str) -> None:
    with pytest.raises(SignalStoreError, match=message.replace("(", r"\(")):
        open_store(tmp_path, clock, **settings)


def test_a_corrupt_validators_file_stops_the_store(tmp_path: Path, clock: Clock) -> None:
    (tmp_path / "signal_state").mkdir()
    (tmp_path / "signal_state" / "validators.json").write_text('{"validators": {"V": {"last_seen": "x"}}}')
    with pytest.raises(SignalStoreError, match=r"validators.json: validators\[V\] must be an object"):
        open_store(tmp_path, clock)
    (tmp_path / "signal_state" / "validators.json").write_text('{"validators": {}}')
    open_store(tmp_path, clock).close()  # the failed open released the lock


def test_many_threads_send_each_signal_once_per_validator(tmp_path: Path, clock: Clock) -> None:
    signals = [put_signal(tmp_path, i % 3, at=T0 + i) for i in range(30)]
    store = open_store(tmp_path, clock, resend_after_s=1000.0)
    validators = [f"V{i}" for i in range(8)]
    got: dict[str, list[str]] = {v: [] for v in validators}

    def worker(v: str) -> Callable[[], None]:
        def run() -> None:
            for _ in range(5):
                got[v] += ids(store.poll(v, books=3))

        return run

    threads = [threading.Thread(target=worker(v)) for v in validators]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for v in validators:
        assert got[v] == [s.uuid for s in signals]
    for s in signals:
        record = store.record(s.uuid)
        assert record is not None and {d["sends"] for d in record["validators"].values()} == {1}
    store.close()
