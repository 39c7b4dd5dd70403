"""ValidatorMetrics: values reach the HTTP exposition, instances are independent, uids can be
forgotten. Every check scrapes a real server over loopback."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from taos.protocol import RejectReason
from taos.validator.metrics import (
    QUERY_LATENCY_BUCKETS,
    MetricsServer,
    QueryOutcome,
    ValidatorMetrics,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: MetricsServer) -> Samples:
    with urllib.request.urlopen(server.url, timeout=5) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"].startswith("text/plain")
        text = resp.read().decode()
    return parse(text)


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


def uid_series(samples: Samples, uid: str) -> list[str]:
    return sorted(name for name, labels in samples if ("uid", uid) in labels)


@pytest.fixture
def metrics() -> ValidatorMetrics:
    return ValidatorMetrics()


@pytest.fixture
def server(metrics: ValidatorMetrics) -> Iterator[MetricsServer]:
    with metrics.serve(0, host="127.0.0.1") as srv:
        yield srv


def test_port_zero_picks_a_free_port_and_reports_it(server: MetricsServer) -> None:
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}/metrics"
    samples = scrape(server)
    assert value(samples, "taos_validator_step_index") == 0.0


def test_step_observations_are_exposed(metrics: ValidatorMetrics, server: MetricsServer) -> None:
    metrics.observe_step(0.5, 5.0, 120)
    metrics.observe_step(2.0, 5.0, 30)
    s = scrape(server)
    assert value(s, "taos_validator_step_duration_seconds_count") == 2
    assert value(s, "taos_validator_step_duration_seconds_sum") == pytest.approx(2.5)
    assert value(s, "taos_validator_step_duration_seconds_bucket", le="0.5") == 1
    assert value(s, "taos_validator_step_duration_seconds_bucket", le="1.0") == 1
    assert value(s, "taos_validator_step_duration_seconds_bucket", le="2.5") == 2
    assert value(s, "taos_validator_sim_speed_ratio") == pytest.approx(2.5)  # the last step: 5 s / 2 s
    assert value(s, "taos_validator_step_index") == 2
    assert value(s, "taos_validator_sim_time_seconds") == pytest.approx(10.0)
    assert value(s, "taos_validator_events_total") == 150
    assert value(s, "taos_validator_step_events_count") == 2
    assert value(s, "taos_validator_step_events_bucket", le="100.0") == 1
    assert value(s, "taos_validator_step_events_bucket", le="1000.0") == 2


def test_explicit_step_index_and_sim_time_continue_a_resumed_run(
    metrics: ValidatorMetrics, server: MetricsServer
) -> None:
    metrics.observe_step(0.1, 5.0, 0, step_index=700, sim_time_s=3500.0)
    metrics.observe_step(0.1, 5.0, 0)
    s = scrape(server)
    assert value(s, "taos_validator_step_index") == 701
    assert value(s, "taos_validator_sim_time_seconds") == pytest.approx(3505.0)


def test_query_outcomes_latency_and_failures(metrics: ValidatorMetrics, server: MetricsServer) -> None:
    metrics.observe_query(1, 0.04, QueryOutcome.OK)
    metrics.observe_query(2, 0.6, "ok")
    metrics.observe_query(3, 1.2, "http_error")
    metrics.observe_query(4, 0.3, QueryOutcome.DECODE_ERROR)
    metrics.observe_query(5, None, QueryOutcome.TIMEOUT)
    metrics.observe_query(6, 3.0, "timeout")  # a timeout's time is not recorded
    metrics.observe_query(7, None, "refused")
    s = scrape(server)
    assert value(s, "taos_validator_queries_total", outcome="ok") == 2
    assert value(s, "taos_validator_query_timeouts_total") == 2
    assert value(s, "taos_validator_query_failures_total", kind="timeout") == 2
    assert value(s, "taos_validator_query_failures_total", kind="http_error") == 1
    assert value(s, "taos_validator_query_failures_total", kind="decode_error") == 1
    assert value(s, "taos_validator_query_failures_total", kind="refused") == 1
    assert value(s, "taos_validator_query_latency_seconds_count") == 4
    assert value(s, "taos_validator_query_latency_seconds_sum") == pytest.approx(0.04 + 0.6 + 1.2 + 0.3)
    assert value(s, "taos_validator_query_latency_seconds_bucket", le="0.05") == 1
    assert value(s, "taos_validator_query_latency_seconds_bucket", le="0.75") == 3
    assert value(s, "taos_validator_query_latency_seconds_bucket", le="3.0") == 4
    assert value(s, "taos_validator_miner_last_query_latency_seconds", uid="2") == pytest.approx(0.6)
    assert uid_series(s, "5") == []  # a timeout leaves no latency series behind


def test_latency_buckets_resolve_the_default_timeout() -> None:
    assert 3.0 in QUERY_LATENCY_BUCKETS
    assert sum(b <= 0.1 for b in QUERY_LATENCY_BUCKETS) >= 3
    assert sum(0.1 < b <= 3.0 for b in QUERY_LATENCY_BUCKETS) >= 6


def test_rejections_are_counted_by_reason_name(metrics: ValidatorMetrics, server: MetricsServer) -> None:
    metrics.count_rejection("INSUFFICIENT_QUOTE")
    metrics.count_rejection("INSUFFICIENT_QUOTE", n=3)
    metrics.count_rejection(RejectReason.BOOK_FULL, 2)
    metrics.count_rejection("UNKNOWN_BOOK", 0)
    s = scrape(server)
    assert value(s, "taos_validator_rejections_total", reason="INSUFFICIENT_QUOTE") == 4
    assert value(s, "taos_validator_rejections_total", reason="BOOK_FULL") == 2
    assert value(s, "taos_validator_rejections_total", reason="UNKNOWN_BOOK") == 0


def test_scores_and_weights_per_uid(metrics: ValidatorMetrics, server: MetricsServer) -> None:
    metrics.set_scores([0, 7, 12], [0.25, 0.5, 0.0], [0.3, 0.7, 0.0])
    metrics.set_scores([7], [0.75])  # scores only: the weight stays
    s = scrape(server)
    assert value(s, "taos_validator_miner_score", uid="0") == 0.25
    assert value(s, "taos_validator_miner_score", uid="7") == 0.75
    assert value(s, "taos_validator_miner_weight", uid="7") == 0.7
    assert value(s, "taos_validator_miner_weight", uid="12") == 0.0


def test_forget_uid_removes_its_series(metrics: ValidatorMetrics, server: MetricsServer) -> None:
    metrics.set_scores([3, 4], [0.5, 0.1], [0.8, 0.2])
    metrics.observe_query(3, 0.2, "ok")
    metrics.observe_query(4, 0.3, "ok")
    before = scrape(server)
    assert uid_series(before, "3") == [
        "taos_validator_miner_last_query_latency_seconds",
        "taos_validator_miner_score",
        "taos_validator_miner_weight",
    ]
    metrics.forget_uid(3)
    metrics.forget_uid(99)  # never seen: nothing to do
    after = scrape(server)
    assert uid_series(after, "3") == []
    assert value(after, "taos_validator_miner_score", uid="4") == 0.1
    # aggregates keep what the uid contributed
    assert value(after, "taos_validator_query_latency_seconds_count") == 2
    # a new hotkey on the same uid starts fresh series
    metrics.set_scores([3], [0.0], [0.0])
    again = scrape(server)
    assert value(again, "taos_validator_miner_score", uid="3") == 0.0
    assert "taos_validator_miner_last_query_latency_seconds" not in uid_series(again, "3")


def test_two_instances_do_not_collide() -> None:
    a, b = ValidatorMetrics(), ValidatorMetrics()
    a.observe_step(1.0, 5.0, 10)
    a.count_rejection("BOOK_FULL", 5)
    b.count_rejection("BOOK_FULL", 1)
    b.set_scores([1], [0.9], [1.0])
    with a.serve(0, host="127.0.0.1") as sa, b.serve(0, host="127.0.0.1") as sb:
        assert sa.port != sb.port
        ra, rb = scrape(sa), scrape(sb)
    assert value(ra, "taos_validator_step_index") == 1
    assert value(rb, "taos_validator_step_index") == 0
    assert value(ra, "taos_validator_rejections_total", reason="BOOK_FULL") == 5
    assert value(rb, "taos_validator_rejections_total", reason="BOOK_FULL") == 1
    assert uid_series(ra, "1") == []
    assert value(rb, "taos_validator_miner_score", uid="1") == 0.9


def test_nothing_goes_to_the_global_registry() -> None:
    from prometheus_client import REGISTRY

    ValidatorMetrics()
    assert REGISTRY.get_sample_value("taos_validator_step_index") is None


def test_render_matches_the_scrape(metrics: ValidatorMetrics, server: MetricsServer) -> None:
    metrics.observe_step(0.25, 5.0, 42)
    metrics.set_scores([2], [0.4], [0.6])
    rendered = parse(metrics.render().decode())
    scraped = scrape(server)
    keys = [
        ("taos_validator_step_index", ()),
        ("taos_validator_sim_speed_ratio", ()),
        ("taos_validator_events_total", ()),
        ("taos_validator_miner_weight", (("uid", "2"),)),
    ]
    assert [rendered[k] for k in keys] == [scraped[k] for k in keys] == [1, 20, 42, 0.6]


def test_closed_server_stops_answering(metrics: ValidatorMetrics) -> None:
    srv = metrics.serve(0, host="127.0.0.1")
    url = srv.url
    assert scrape(srv)
    srv.close()
    srv.close()  # idempotent
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=2)


def test_a_busy_port_is_a_clear_error(metrics: ValidatorMetrics) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(OSError, match=f"cannot serve metrics on 127.0.0.1:{port}"):
            metrics.serve(port, host="127.0.0.1")


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.serve(70000),
        lambda m: m.observe_step(-1.0, 5.0, 0),
        lambda m: m.observe_step(1.0, float("nan"), 0),
        lambda m: m.observe_step(1.0, 5.0, -3),
        lambda m: m.observe_query(1, 0.1, "lost"),
        lambda m: m.observe_query(1, None, "ok"),
        lambda m: m.observe_query(-1, 0.1, "ok"),
        lambda m: m.count_rejection("", 1),
        lambda m: m.count_rejection("BOOK_FULL", -1),
        lambda m: m.set_scores([1, 2], [0.5]),
        lambda m: m.set_scores([1, 2], [0.5, 0.5], [1.0]),
    ],
)
def test_bad_arguments_are_refused(
    metrics: ValidatorMetrics, call: Callable[[ValidatorMetrics], object]
) -> None:
    with pytest.raises(ValueError):
        call(metrics)
    # a refused call changes nothing
    samples = parse(metrics.render().decode())
    changed = {
        k: v for k, v in samples.items() if k[0].startswith("taos_validator") and "_created" not in k[0] and v
    }
    assert changed == {}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process metrics are read from /proc")
def test_process_metrics_are_optional() -> None:
    with_process = ValidatorMetrics().render().decode()
    without = ValidatorMetrics(process_metrics=False).render().decode()
    assert "process_resident_memory_bytes" in with_process
    assert "process_" not in without
    assert "taos_validator_step_index" in without


def test_the_endpoint_listens_on_loopback_unless_told_otherwise(metrics: ValidatorMetrics) -> None:
    with metrics.serve(0) as srv:
        assert srv.host == "127.0.0.1"
        assert scrape(srv)


def test_idle_clients_cannot_pile_up_in_the_validator(
    metrics: ValidatorMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clients that connect and send nothing hold at most MAX_CONNECTIONS threads, each for at most
    CLIENT_TIMEOUT_S; the connections beyond are closed at once; then the endpoint answers again."""
    import taos.validator.metrics as module

    monkeypatch.setattr(module._QuietHandler, "timeout", 1.0)
    with metrics.serve(0) as srv:
        before = threading.active_count()
        idle = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(100)]
        try:
            time.sleep(0.5)
            assert threading.active_count() - before <= module.MAX_CONNECTIONS
            closed = 0
            for s in idle:
                s.settimeout(0.5)
                with contextlib.suppress(TimeoutError):  # one of those held until their timeout
                    closed += s.recv(1) == b""
            assert closed >= 100 - module.MAX_CONNECTIONS
            time.sleep(1.5)  # the held ones time out
            assert threading.active_count() - before <= 1
            assert scrape(srv)
        finally:
            for s in idle:
                s.close()
