"""Alerts to the validator's operator.

``Alerter.trigger(summary, ...)`` raises an alert. It never blocks on the network and never
raises: the validator loop calls it and carries on. ``NullAlerter`` (no ``-d`` key given) drops
every alert; ``PagerDutyAlerter`` sends PagerDuty Events API v2 ``trigger`` events.

Delivery uses the standard library (``urllib.request``) from one background thread fed by a
bounded queue, so synchronous and asyncio callers alike only pay for a queue put; a slow or
unreachable PagerDuty delays alerts, never the loop. A failed delivery is logged (logger
``taos.validator``) and dropped.

Rate limit: at most one alert per ``dedup_key`` every ``min_interval_s`` (10 minutes by
default); repeats within the window are suppressed (``trigger`` returns False). A delivery that
fails does not count, so the next repeat is sent.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any

__all__ = [
    "PAGERDUTY_EVENTS_URL",
    "Alerter",
    "NullAlerter",
    "PagerDutyAlerter",
    "Severity",
]

log = logging.getLogger("taos.validator")

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
# PagerDuty integration (routing) keys are 32 characters of letters and digits; a little slack
# either way, but nothing that could not be a key (spaces, quotes, a path pasted by mistake).
_ROUTING_KEY = re.compile(r"[A-Za-z0-9_-]{20,64}")
_MAX_SUMMARY = 1024  # PagerDuty truncates longer summaries; we do it ourselves
_MAX_DEDUP_KEY = 255
_MAX_SOURCE = 255


class Severity(str, Enum):
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"


class Alerter(ABC):
    """Raises alerts. Subclasses implement ``_deliver``; rate limiting, queueing, logging and
    the never-raise guarantee live here."""

    def __init__(
        self,
        *,
        min_interval_s: float = 600.0,
        max_queued: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if min_interval_s < 0:
            raise ValueError(f"min_interval_s must be >= 0, got {min_interval_s}")
        if max_queued < 1:
            raise ValueError(f"max_queued must be >= 1, got {max_queued}")
        self.min_interval_s = float(min_interval_s)
        self._clock = clock
        self._last_sent: dict[str, float] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=max_queued)
        self._worker: threading.Thread | None = None
        self._closed = False

    # --- what the validator calls -----------------------------------------------------------

    def trigger(
        self,
        summary: str,
        *,
        severity: Severity | str = Severity.ERROR,
        dedup_key: str | None = None,
        component: str = "validator",
        details: Mapping[str, Any] | None = None,
    ) -> bool:
        """Raises an alert. Returns True when it was queued for delivery, False when it was
        suppressed (same ``dedup_key`` within ``min_interval_s``, queue full, alerter closed or
        a ``NullAlerter``). ``dedup_key`` defaults to ``component`` and ``summary``: one
        incident per distinct problem. Never raises."""
        try:
            return self._trigger(summary, severity, dedup_key, component, details)
        except Exception:  # the loop must never see an alert failure
            log.exception("alert %r could not be raised", summary)
            return False

    def flush(self, timeout_s: float | None = None) -> bool:
        """Waits until every queued alert has been delivered or has failed; False on timeout."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def close(self, timeout_s: float = 10.0) -> None:
        """Delivers what is queued (waiting at most ``timeout_s``) and stops the worker. Later
        alerts are dropped. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            worker = self._worker
        if worker is not None:
            self._queue.put(None)
            worker.join(timeout=timeout_s)

    def __enter__(self) -> Alerter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- implementation ---------------------------------------------------------------------

    @abstractmethod
    def _event(
        self, summary: str, severity: Severity, dedup_key: str, component: str, details: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """The event to deliver, or None to deliver nothing."""

    @abstractmethod
    def _deliver(self, event: dict[str, Any]) -> bool:
        """Sends one event; True on success. Runs on the worker thread. May raise."""

    def _trigger(
        self,
        summary: str,
        severity: Severity | str,
        dedup_key: str | None,
        component: str,
        details: Mapping[str, Any] | None,
    ) -> bool:
        summary = str(summary)[:_MAX_SUMMARY] or "(no summary)"
        try:
            sev = Severity(severity)
        except ValueError:
            log.error("alert %r: unknown severity %r, sent as 'error'", summary, severity)
            sev = Severity.ERROR
        key = (dedup_key or f"{component}: {summary}")[:_MAX_DEDUP_KEY]
        event = self._event(summary, sev, key, component, dict(details or {}))
        if event is None:
            return False
        now = self._clock()
        with self._lock:
            if self._closed:
                log.warning("alert %r dropped: the alerter is closed", summary)
                return False
            last = self._last_sent.get(key)
            if last is not None and now - last < self.min_interval_s:
                log.info("alert %r suppressed: same dedup key sent %.0f s ago", summary, now - last)
                return False
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                log.error("alert %r dropped: %d alerts already waiting", summary, self._queue.maxsize)
                return False
            self._last_sent[key] = now
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="taos-alerts", daemon=True)
                self._worker.start()
        return True

    def _run(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                ok = False
                try:
                    ok = self._deliver(event)
                except Exception:
                    log.exception("alert delivery failed")
                if not ok:
                    # a failed delivery does not count against the rate limit
                    with self._lock:
                        self._last_sent.pop(str(event.get("dedup_key", "")), None)
            finally:
                self._queue.task_done()


class NullAlerter(Alerter):
    """Drops every alert (no PagerDuty key configured). ``trigger`` returns False."""

    def _event(
        self, summary: str, severity: Severity, dedup_key: str, component: str, details: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        log.debug("alert (not sent, no alerting configured): [%s] %s", severity.value, summary)
        return None

    def _deliver(self, event: dict[str, Any]) -> bool:  # pragma: no cover - never queued
        return True


def validate_routing_key(routing_key: str) -> str:
    """Returns the key without surrounding whitespace, or raises ValueError saying what is wrong
    (without repeating the key, which is a secret)."""
    if not isinstance(routing_key, str):
        raise ValueError(f"PagerDuty routing key must be a string, got {type(routing_key).__name__}")
    key = routing_key.strip()
    if not key:
        raise ValueError("PagerDuty routing key is empty")
    if not _ROUTING_KEY.fullmatch(key):
        what = (
            f"has {len(key)} characters"
            if re.fullmatch(r"[A-Za-z0-9_-]*", key)
            else "has characters other than letters, digits, '-' and '_'"
        )
        raise ValueError(
            f"PagerDuty routing key {what}: expected the 32-character integration key of an "
            "Events API v2 service (20 to 64 letters, digits, '-' or '_')"
        )
    return key


class PagerDutyAlerter(Alerter):
    """Sends PagerDuty Events API v2 ``trigger`` events::

        {"routing_key": ..., "event_action": "trigger", "dedup_key": ...,
         "payload": {"summary", "source", "severity", "component", "timestamp", "custom_details"}}

    PagerDuty groups events with the same ``dedup_key`` into one incident. ``source`` defaults
    to this host's name."""

    def __init__(
        self,
        routing_key: str,
        url: str = PAGERDUTY_EVENTS_URL,
        source: str | None = None,
        timeout_s: float = 5.0,
        *,
        min_interval_s: float = 600.0,
        max_queued: int = 100,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(min_interval_s=min_interval_s, max_queued=max_queued, clock=clock)
        self._routing_key = validate_routing_key(routing_key)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"PagerDuty events URL must be an http(s) URL, got {url!r}")
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be > 0, got {timeout_s}")
        self.url = url
        self.source = (source or socket.gethostname() or "taos-validator")[:_MAX_SOURCE]
        self.timeout_s = float(timeout_s)

    def __repr__(self) -> str:  # never show the key
        return f"PagerDutyAlerter(url={self.url!r}, source={self.source!r})"

    def _event(
        self, summary: str, severity: Severity, dedup_key: str, component: str, details: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        return {
            "routing_key": self._routing_key,
            "event_action": "trigger",
            "dedup_key": dedup_key,
            "payload": {
                "summary": summary,
                "source": self.source,
                "severity": severity.value,
                "component": component,
                "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
                "custom_details": details,
            },
        }

    def _deliver(self, event: dict[str, Any]) -> bool:
        summary = event["payload"]["summary"]
        body = json.dumps(event, default=str).encode()
        request = urllib.request.Request(
            self.url, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                status = resp.status
                resp.read()
        except urllib.error.HTTPError as e:
            try:
                text = e.read(500).decode(errors="replace")
            finally:
                e.close()
            log.warning("alert %r not accepted by PagerDuty: HTTP %d %s", summary, e.code, text)
            return False
        except (urllib.error.URLError, OSError) as e:
            reason = e.reason if isinstance(e, urllib.error.URLError) else e
            log.warning("alert %r not sent: %s unreachable (%s)", summary, self.url, reason)
            return False
        if not 200 <= status < 300:
            log.warning("alert %r not accepted by PagerDuty: HTTP %d", summary, status)
            return False
        log.info("alert %r sent to PagerDuty", summary)
        return True
