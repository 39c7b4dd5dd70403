"""Prometheus metrics of the validator loop.

Every ``ValidatorMetrics`` owns its own ``CollectorRegistry``: nothing is registered in
prometheus-client's global registry, so several instances (tests, two validators in one
process) never collide. The loop calls one method per thing it does:

    observe_step(duration_s, sim_seconds, events)   after each simulator step
    observe_query(uid, latency_s, outcome)          after each miner query
    count_rejection(reason_name, n)                 for each rejected instruction or reply
    set_scores(uids, scores, weights)               after scores (and weights) are updated
    forget_uid(uid)                                 when a uid deregisters
    observe_market(validator, result, registered)   after each step (book and miner gauges)

``serve(port)`` exposes the registry over HTTP (``/metrics``, the Prometheus text format);
``render()`` returns the same text. The per-book and per-miner gauges are computed when the
registry is read, from what ``observe_market`` kept of the latest step (``taos.validator.gauges``),
so that thousands of series cost nothing per step. Metric names, types and labels are listed in
docs/validator.md ("Metrics and alerts").
"""

from __future__ import annotations

import math
import socket
import threading
from collections.abc import Sequence
from enum import Enum
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
    make_wsgi_app,
)

from taos.validator.gauges import MarketCollector, MarketTotals, MarketView, market_view
from taos.validator.outcome import ANSWERED, QueryOutcome

__all__ = ["MetricsServer", "QueryOutcome", "ValidatorMetrics"]

PREFIX = "taos_validator"

# Seconds of wall time per simulator step: a publish interval is a few seconds of simulated
# time, stepped in milliseconds on a small market and in seconds on 1,000 books.
STEP_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Response times of miners under the default 3 s query timeout: fine below 100 ms (well
# behaved miners on a nearby network), then every 250-500 ms up to the timeout.
QUERY_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0)
# Simulator events (orders, trades, cancels, ...) per step.
EVENTS_PER_STEP_BUCKETS = (0, 10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000)


# Outcomes with a response whose time is meaningful; timeouts and refused connections are
# counted but not timed (a timeout would only say "at least the timeout"), and so is a reply the
# validator failed to apply (``internal``: the validator's failure, its reply timed already).
_TIMED = ANSWERED | {QueryOutcome.AGENT_ERROR}


class MetricsServer:
    """A running HTTP exposition of one registry; ``port`` is the port actually bound (the
    chosen one when 0 was asked). Close it with ``close()`` or by using it as a context manager."""

    def __init__(self, server: WSGIServer, thread: threading.Thread) -> None:
        self._server = server
        self._thread = thread
        self._closed = False
        self.host: str = str(server.server_address[0])
        self.port: int = int(server.server_address[1])

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        """Stops serving, closes the listening socket and joins the server thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5.0)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _uid_label(uid: int) -> str:
    u = int(uid)
    if u < 0:
        raise ValueError(f"uid must be >= 0, got {u}")
    return str(u)


class NullMetrics:
    """Records nothing: a validator without metrics (research runs, benchmarks) has one of these
    instead of a :class:`ValidatorMetrics`, so its loop never asks whether there are metrics."""

    def observe_step(
        self,
        duration_s: float,
        sim_seconds: float,
        events: int,
        *,
        step_index: int | None = None,
        sim_time_s: float | None = None,
    ) -> None:
        pass

    def observe_query(self, uid: int, latency_s: float | None, outcome: QueryOutcome | str) -> None:
        pass

    def count_rejection(self, reason_name: str | Enum, n: int = 1) -> None:
        pass

    def set_scores(
        self, uids: Sequence[int], scores: Sequence[float], weights: Sequence[float] | None = None
    ) -> None:
        pass

    def forget_uid(self, uid: int) -> None:
        pass

    def set_pace_lag(self, seconds: float) -> None:
        pass

    def observe_market(self, validator: Any, result: Any, registered: Sequence[int]) -> None:
        pass


class ValidatorMetrics:
    """The validator's metrics in a registry of their own (``self.registry``)."""

    def __init__(self, *, process_metrics: bool = True) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        if process_metrics:
            # process_cpu_seconds_total, process_resident_memory_bytes, ... (Linux only; elsewhere empty)
            ProcessCollector(registry=r)

        self.step_duration = Histogram(
            f"{PREFIX}_step_duration_seconds",
            "Wall time of one simulator step, in seconds.",
            buckets=STEP_DURATION_BUCKETS,
            registry=r,
        )
        self.sim_speed = Gauge(
            f"{PREFIX}_sim_speed_ratio",
            "Simulated seconds per wall second over the last step (above 1: faster than real time).",
            registry=r,
        )
        self.step_index = Gauge(f"{PREFIX}_step_index", "Index of the last completed step.", registry=r)
        self.pace_lag = Gauge(
            f"{PREFIX}_pace_lag_seconds",
            "How much the last step overran its wall-time period at the validator's pace (0: on time or unpaced).",
            registry=r,
        )
        self.sim_time = Gauge(
            f"{PREFIX}_sim_time_seconds",
            "Simulated time at the end of the last step, in seconds.",
            registry=r,
        )
        self.simulation = Gauge(
            f"{PREFIX}_simulation",
            "Index of the running simulation (0: the first the state folder ran; one after the other).",
            registry=r,
        )
        self.step_events = Histogram(
            f"{PREFIX}_step_events",
            "Simulator events (orders, trades, cancels, ...) produced by one step.",
            buckets=EVENTS_PER_STEP_BUCKETS,
            registry=r,
        )
        self.events = Counter(f"{PREFIX}_events", "Simulator events produced by all steps.", registry=r)

        self.query_latency = Histogram(
            f"{PREFIX}_query_latency_seconds",
            "Response time of miner queries that got a response (every outcome but timeout and refused), in seconds.",
            buckets=QUERY_LATENCY_BUCKETS,
            registry=r,
        )
        self.queries = Counter(
            f"{PREFIX}_queries", "Miner queries by outcome.", labelnames=("outcome",), registry=r
        )
        self.timeouts = Counter(
            f"{PREFIX}_query_timeouts", "Miner queries that got no reply within the timeout.", registry=r
        )
        self.query_failures = Counter(
            f"{PREFIX}_query_failures",
            "Failed miner queries by kind (every outcome but ok).",
            labelnames=("kind",),
            registry=r,
        )
        self.rejections = Counter(
            f"{PREFIX}_rejections",
            "Rejected miner instructions and replies by reason name.",
            labelnames=("reason",),
            registry=r,
        )

        self.miner_score = Gauge(
            f"{PREFIX}_miner_score", "Current score of a miner.", labelnames=("uid",), registry=r
        )
        self.miner_weight = Gauge(
            f"{PREFIX}_miner_weight",
            "Weight of a miner in the last weights computed.",
            labelnames=("uid",),
            registry=r,
        )
        self.miner_last_latency = Gauge(
            f"{PREFIX}_miner_last_query_latency_seconds",
            "Response time of a miner's last query that got a response, in seconds.",
            labelnames=("uid",),
            registry=r,
        )
        self._uid_series: dict[str, set[Gauge]] = {}
        # the latest step's market and the running trade sums, read by MarketCollector at a scrape
        self.market_view: MarketView | None = None
        self.market_totals: MarketTotals | None = None
        self._forgotten: set[int] = set()  # uids forgotten since the last observe_market
        self._registered: set[int] = set()  # the uids registered at the last observe_market
        r.register(MarketCollector(self))
        self._step_count = 0
        self._sim_time_s = 0.0
        # Pre-create the zero-valued series so dashboards see every kind from the start.
        for outcome in QueryOutcome:
            self.queries.labels(outcome=outcome.value)
            if outcome is not QueryOutcome.OK:
                self.query_failures.labels(kind=outcome.value)

    # --- the simulator step ---------------------------------------------------------------

    def observe_step(
        self,
        duration_s: float,
        sim_seconds: float,
        events: int,
        *,
        step_index: int | None = None,
        sim_time_s: float | None = None,
    ) -> None:
        """Records one step: ``duration_s`` of wall time advanced the simulation by
        ``sim_seconds`` and produced ``events`` events. ``step_index`` and ``sim_time_s`` are
        the step's index and the simulated time after it; when omitted they continue from the
        previous call (a resumed validator passes them once to continue from its checkpoint)."""
        if not (math.isfinite(duration_s) and duration_s >= 0):
            raise ValueError(f"duration_s must be finite and >= 0, got {duration_s}")
        if not (math.isfinite(sim_seconds) and sim_seconds >= 0):
            raise ValueError(f"sim_seconds must be finite and >= 0, got {sim_seconds}")
        if events < 0:
            raise ValueError(f"events must be >= 0, got {events}")
        self.step_duration.observe(duration_s)
        if duration_s > 0:
            self.sim_speed.set(sim_seconds / duration_s)
        self.step_events.observe(events)
        self.events.inc(events)
        self._step_count = self._step_count + 1 if step_index is None else int(step_index)
        self._sim_time_s = self._sim_time_s + sim_seconds if sim_time_s is None else float(sim_time_s)
        self.step_index.set(self._step_count)
        self.sim_time.set(self._sim_time_s)

    # --- miner queries --------------------------------------------------------------------

    def observe_query(self, uid: int, latency_s: float | None, outcome: QueryOutcome | str) -> None:
        """Records one query of miner ``uid``. ``latency_s`` (the response time) is recorded for
        outcomes with a response and ignored for ``timeout`` and ``refused``."""
        o = QueryOutcome(outcome)
        label = _uid_label(uid)
        timed = o in _TIMED
        if timed and (latency_s is None or not (math.isfinite(latency_s) and latency_s >= 0)):
            raise ValueError(f"latency_s must be finite and >= 0 for outcome {o.value}, got {latency_s}")
        self.queries.labels(outcome=o.value).inc()
        if o is not QueryOutcome.OK:
            self.query_failures.labels(kind=o.value).inc()
        if o is QueryOutcome.TIMEOUT:
            self.timeouts.inc()
        if timed:
            assert latency_s is not None
            self.query_latency.observe(latency_s)
            self._set_uid(self.miner_last_latency, label, latency_s)

    def count_rejection(self, reason_name: str | Enum, n: int = 1) -> None:
        """Adds ``n`` rejections with the given reason. ``reason_name`` is the reason's name
        (``"INSUFFICIENT_QUOTE"``); an enum member stands for its name."""
        name = reason_name.name if isinstance(reason_name, Enum) else str(reason_name)
        if not name:
            raise ValueError("reason_name must not be empty")
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        self.rejections.labels(reason=name).inc(n)

    # --- scores and weights ---------------------------------------------------------------

    def set_scores(
        self, uids: Sequence[int], scores: Sequence[float], weights: Sequence[float] | None = None
    ) -> None:
        """Sets the score (and, when given, the weight) of each uid. The three sequences are
        aligned; numpy arrays are fine. Uids not listed keep their series: remove a
        deregistered uid with ``forget_uid``."""
        uid_list = [int(u) for u in uids]
        score_list = [float(s) for s in scores]
        if len(score_list) != len(uid_list):
            raise ValueError(f"{len(uid_list)} uids but {len(score_list)} scores")
        weight_list = None if weights is None else [float(w) for w in weights]
        if weight_list is not None and len(weight_list) != len(uid_list):
            raise ValueError(f"{len(uid_list)} uids but {len(weight_list)} weights")
        labels = [_uid_label(u) for u in uid_list]
        for i, label in enumerate(labels):
            self._set_uid(self.miner_score, label, score_list[i])
            if weight_list is not None:
                self._set_uid(self.miner_weight, label, weight_list[i])

    def forget_uid(self, uid: int) -> None:
        """Removes every series labelled with ``uid`` (score, weight, last latency) and sets its
        maker and taker volumes back to 0 (a new miner on the uid). The market gauges of a uid
        exist only while it is registered (``observe_market``). Unknown uids are ignored."""
        label = _uid_label(uid)
        for gauge in self._uid_series.pop(label, set()):
            gauge.remove(label)
        if self.market_totals is not None:  # its maker and taker volumes start again from 0 …
            self.market_totals = self.market_totals.forget(int(uid))
        self._forgotten.add(int(uid))  # … after the trades of the step that saw the old miner go

    def set_pace_lag(self, seconds: float) -> None:
        """How much the last step ran over its wall-time period (``taos.validator.loop.Pacer``)."""
        self.pace_lag.set(float(seconds))

    def observe_market(self, validator: Any, result: Any, registered: Sequence[int]) -> None:
        """After each step: keeps what the book and miner gauges are computed from at the next
        scrape (``taos.validator.gauges``) and adds the step's trades to the volume counters.
        ``validator`` is the ``Validator`` that produced ``result`` (its ``StepResult``);
        ``registered`` are the uids with a miner series (the last metagraph's); a uid that has
        left it since the last step is forgotten (``forget_uid``): none of its series remain."""
        self.simulation.set(int(getattr(validator, "simulation_index", 0)))
        now = {int(u) for u in registered}
        for uid in sorted(self._registered - now):
            self.forget_uid(uid)
        self._registered = now
        totals = self.market_totals
        if totals is None:
            totals = MarketTotals.empty(int(validator.slots), int(validator.books))
        totals = totals.observe(result.events)
        for uid in self._forgotten:  # the step's trades of a uid reset during it were the old miner's
            totals = totals.forget(uid)
        self._forgotten.clear()
        self.market_totals = totals
        self.market_view = market_view(validator, result, registered)

    def _set_uid(self, gauge: Gauge, label: str, value: float) -> None:
        gauge.labels(uid=label).set(value)
        self._uid_series.setdefault(label, set()).add(gauge)

    # --- exposition -----------------------------------------------------------------------

    def render(self) -> bytes:
        """The registry in the Prometheus text exposition format."""
        return generate_latest(self.registry)

    def serve(self, port: int, host: str = "127.0.0.1") -> MetricsServer:
        """Serves the registry over HTTP on ``host:port`` from a daemon thread (any path answers
        with the exposition; Prometheus scrapes ``/metrics``). Port 0 binds a free port:
        read it from the returned server's ``port``. Loopback by default: expose it with
        ``host="0.0.0.0"`` only where the network in front is trusted or filtered. A client gets
        ``CLIENT_TIMEOUT_S`` per read and at most ``MAX_CONNECTIONS`` are served at once (beyond,
        a connection is closed at once), so idle or slow clients cannot pile up threads and file
        descriptors in the validator's process."""
        if not 0 <= int(port) <= 65535:
            raise ValueError(f"metrics port must be in 0..65535, got {port}")
        try:
            family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0][0]

            class Server(_BoundedServer):
                address_family = family

            server = make_server(host, int(port), make_wsgi_app(self.registry), Server, _QuietHandler)
        except OSError as e:
            raise OSError(e.errno, f"cannot serve metrics on {host}:{port}: {e.strerror or e}") from e
        thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
        thread.start()
        return MetricsServer(server, thread)


CLIENT_TIMEOUT_S = 10.0
"""Seconds a metrics client may take for each read or write."""
MAX_CONNECTIONS = 32
"""Metrics clients served at once."""


class _QuietHandler(WSGIRequestHandler):
    timeout = CLIENT_TIMEOUT_S

    def log_message(self, format: str, *args: object) -> None:
        """No access log."""


class _BoundedServer(ThreadingMixIn, WSGIServer):
    """A thread per client, at most ``MAX_CONNECTIONS`` of them."""

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(*args, **kwargs)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)  # full: refused at once
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()


StepMetrics = ValidatorMetrics | NullMetrics
"""What the validator's loop records to."""
