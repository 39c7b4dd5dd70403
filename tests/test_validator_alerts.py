"""Alerters: the PagerDuty Events API v2 body, the dedup rate limit, failures that never reach
the caller. A local HTTP server on loopback stands in for PagerDuty."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from taos.validator.alerts import NullAlerter, PagerDutyAlerter, Severity

KEY = "0123456789abcdef0123456789abcdef"  # 32 characters, like a PagerDuty integration key


class FakePagerDuty(ThreadingHTTPServer):
    """Records each POST (path, headers, JSON body) and answers ``status``; while ``hold`` is
    clear, requests wait for it (at most 5 s) before answering."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.status = 202
        self.requests: list[dict[str, Any]] = []
        self.hold = threading.Event()
        self.hold.set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v2/enqueue"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the client gave up waiting (timeout test): nothing to report


class _Handler(BaseHTTPRequestHandler):
    server: FakePagerDuty

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        raw = self.rfile.read(length)
        self.server.requests.append(
            {"path": self.path, "content_type": self.headers["Content-Type"], "body": json.loads(raw)}
        )
        self.server.hold.wait(timeout=5)
        status = self.server.status
        answer = json.dumps({"status": "success" if status == 202 else "error"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def pd() -> Iterator[FakePagerDuty]:
    server = FakePagerDuty()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_trigger_sends_an_events_v2_trigger(pd: FakePagerDuty) -> None:
    with PagerDutyAlerter(KEY, url=pd.url, source="validator-1") as alerter:
        queued = alerter.trigger(
            "steps take 40 s",
            severity=Severity.CRITICAL,
            dedup_key="slow-steps",
            component="simulator",
            details={"step_duration_s": 40.5, "books": 1000},
        )
        assert queued is True
        assert alerter.flush(timeout_s=5)
    assert len(pd.requests) == 1
    req = pd.requests[0]
    assert req["path"] == "/v2/enqueue"
    assert req["content_type"] == "application/json"
    body = req["body"]
    timestamp = body["payload"].pop("timestamp")
    assert datetime.fromisoformat(timestamp).tzinfo is not None
    assert body == {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "slow-steps",
        "payload": {
            "summary": "steps take 40 s",
            "source": "validator-1",
            "severity": "critical",
            "component": "simulator",
            "custom_details": {"step_duration_s": 40.5, "books": 1000},
        },
    }


def test_defaults_severity_component_source_and_dedup_key(pd: FakePagerDuty) -> None:
    with PagerDutyAlerter(KEY, url=pd.url) as alerter:
        alerter.trigger("chain unreachable")
        alerter.trigger("weights not set", severity="warning", details={"when": datetime(2025, 1, 2)})
        assert alerter.flush(timeout_s=5)
    first, second = (r["body"] for r in pd.requests)
    assert first["payload"]["severity"] == "error"
    assert first["payload"]["component"] == "validator"
    assert first["payload"]["source"] == socket.gethostname()
    assert first["payload"]["custom_details"] == {}
    assert first["dedup_key"] == "validator: chain unreachable"
    assert second["payload"]["severity"] == "warning"
    assert second["payload"]["custom_details"] == {"when": "2025-01-02 00:00:00"}  # not JSON: str()


def test_same_dedup_key_is_rate_limited(pd: FakePagerDuty) -> None:
    clock = Clock()
    with PagerDutyAlerter(KEY, url=pd.url, clock=clock) as alerter:
        assert alerter.min_interval_s == 600
        assert alerter.trigger("miners silent", dedup_key="a")
        clock.t += 60
        assert not alerter.trigger("miners silent again", dedup_key="a")
        assert alerter.trigger("disk full", dedup_key="b")
        clock.t += 539  # 599 s after the first "a"
        assert not alerter.trigger("miners silent", dedup_key="a")
        clock.t += 1
        assert alerter.trigger("miners still silent", dedup_key="a")
        assert alerter.flush(timeout_s=5)
    assert [(r["body"]["dedup_key"], r["body"]["payload"]["summary"]) for r in pd.requests] == [
        ("a", "miners silent"),
        ("b", "disk full"),
        ("a", "miners still silent"),
    ]


def test_default_dedup_key_limits_a_repeated_summary(pd: FakePagerDuty) -> None:
    with PagerDutyAlerter(KEY, url=pd.url) as alerter:
        assert alerter.trigger("query timeouts above 50%")
        assert not alerter.trigger("query timeouts above 50%")
        assert alerter.trigger("query timeouts above 50%", component="miners")
        assert alerter.flush(timeout_s=5)
    assert len(pd.requests) == 2


def test_server_error_is_logged_not_raised_and_not_rate_limited(
    pd: FakePagerDuty, caplog: pytest.LogCaptureFixture
) -> None:
    pd.status = 500
    with (
        caplog.at_level(logging.WARNING, logger="taos.validator"),
        PagerDutyAlerter(KEY, url=pd.url) as alerter,
    ):
        assert alerter.trigger("state db locked", dedup_key="db")
        assert alerter.flush(timeout_s=5)
        # the failed delivery does not count: the repeat goes out
        assert alerter.trigger("state db locked", dedup_key="db")
        assert alerter.flush(timeout_s=5)
        pd.status = 202
        assert alerter.trigger("state db locked", dedup_key="db")
        assert alerter.flush(timeout_s=5)
        # accepted this time: now the repeat is suppressed
        assert not alerter.trigger("state db locked", dedup_key="db")
    assert len(pd.requests) == 3
    failures = [r for r in caplog.records if "HTTP 500" in r.getMessage()]
    assert len(failures) == 2
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_unreachable_endpoint_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    url = f"http://127.0.0.1:{unused_port()}/v2/enqueue"
    with (
        caplog.at_level(logging.WARNING, logger="taos.validator"),
        PagerDutyAlerter(KEY, url=url, timeout_s=2) as alerter,
    ):
        assert alerter.trigger("validator restarted")
        assert alerter.flush(timeout_s=5)
    messages = [r.getMessage() for r in caplog.records]
    assert any("not sent" in m and "unreachable" in m and url in m for m in messages), messages


def test_slow_endpoint_times_out_without_blocking_the_caller(
    pd: FakePagerDuty, caplog: pytest.LogCaptureFixture
) -> None:
    pd.hold.clear()  # the endpoint does not answer until released
    with (
        caplog.at_level(logging.WARNING, logger="taos.validator"),
        PagerDutyAlerter(KEY, url=pd.url, timeout_s=0.3) as alerter,
    ):
        start = time.monotonic()
        assert alerter.trigger("slow endpoint")
        assert time.monotonic() - start < 0.25  # the caller only queues
        assert alerter.flush(timeout_s=5)
    assert len(pd.requests) == 1
    assert any("not sent" in r.getMessage() for r in caplog.records)


def test_unknown_severity_is_sent_as_error(pd: FakePagerDuty, caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="taos.validator"),
        PagerDutyAlerter(KEY, url=pd.url) as alerter,
    ):
        assert alerter.trigger("odd", severity="apocalyptic")
        assert alerter.flush(timeout_s=5)
    assert pd.requests[0]["body"]["payload"]["severity"] == "error"
    assert any("unknown severity" in r.getMessage() for r in caplog.records)


def test_closed_alerter_drops_alerts(pd: FakePagerDuty) -> None:
    alerter = PagerDutyAlerter(KEY, url=pd.url)
    assert alerter.trigger("before close")
    alerter.close()  # delivers what was queued
    alerter.close()
    assert not alerter.trigger("after close")
    assert [r["body"]["payload"]["summary"] for r in pd.requests] == ["before close"]


def test_null_alerter_sends_nothing_and_never_raises() -> None:
    with NullAlerter() as alerter:
        assert alerter.trigger("anything", severity="critical", details={"x": object()}) is False
        assert alerter.trigger("anything", severity="nonsense") is False
        assert alerter.flush(timeout_s=1)
    assert not [t for t in threading.enumerate() if t.name == "taos-alerts"]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("abc123", "has 6 characters"),
        ("a" * 65, "has 65 characters"),
        ("0123456789abcdef 0123456789abcdef", "characters other than"),
        ('"0123456789abcdef0123456789abcdef"', "characters other than"),
        ("0123456789abcdef0123456789abcdeé", "characters other than"),
    ],
)
def test_bad_routing_key_is_refused(key: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as err:
        PagerDutyAlerter(key)
    if key.strip():
        assert key.strip() not in str(err.value)  # the key is a secret: never echoed


def test_routing_key_around_whitespace_is_stripped(pd: FakePagerDuty) -> None:
    with PagerDutyAlerter(f"  {KEY}\n", url=pd.url) as alerter:
        assert KEY not in repr(alerter)
        alerter.trigger("x")
        assert alerter.flush(timeout_s=5)
    assert pd.requests[0]["body"]["routing_key"] == KEY


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "ftp://events.pagerduty.com/v2/enqueue"},
        {"url": "events.pagerduty.com/v2/enqueue"},
        {"timeout_s": 0},
        {"min_interval_s": -1},
    ],
)
def test_bad_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        PagerDutyAlerter(KEY, **kwargs)
