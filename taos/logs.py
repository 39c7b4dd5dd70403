"""Log output shared by the validator, the miner and ``taos local``.

``setup_logging(level, format)`` sends every record to standard error, one event per line:

- ``text`` (the default): ``2026-01-02 03:04:05,678 INFO taos.validator: step 12 ...``; a traceback
  follows its line, as Python prints it;
- ``json``: one JSON object per line (ASCII: nothing in it can split the line), with ``time``
  (ISO 8601, UTC, milliseconds), ``level``, ``logger``, ``message``, then the event's fields (what
  the code passed with ``extra=``) as keys; a traceback is the string field ``traceback`` of the
  same line. A field never replaces one of the four keys; a value JSON cannot hold is written as its
  text (non-finite numbers: ``null``).

Also here, for logs that summarise instead of repeating themselves:

- ``Every``: true at most once a period on a wall clock that tests can move;
- ``RepeatedErrors``: the first occurrence of an exception (by type, message and where it was raised)
  is logged with its traceback, its repeats are counted and reported once a period in one line;
- ``top_counts``: "a x3, b x2 and 4 more": a bounded list for such a line.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

FORMATS = ("text", "json")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
SUMMARY_S = 60.0
"""The period of the summary lines (failing miners, the miner's requests, repeated errors)."""

_RECORD_KEYS = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}
_OWN_KEYS = ("time", "level", "logger", "message")


def add_log_flags(p: argparse.ArgumentParser, *, level: str = "INFO") -> None:
    """``--log-level`` and ``--log-format`` on ``p``."""
    p.add_argument("--log-level", dest="log_level", default=level, choices=list(LEVELS))
    p.add_argument(
        "--log-format",
        dest="log_format",
        default="text",
        choices=list(FORMATS),
        help="text (one line per event), or json (one JSON object per line)",
    )


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to ``sys.stderr`` as it is when a record is written (a progress display may have
    replaced it meanwhile), or to the stream given."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream)
        self._fixed = stream

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return self._fixed if self._fixed is not None else sys.stderr

    @stream.setter
    def stream(self, value: TextIO | None) -> None:
        self._fixed = value


def setup_logging(
    level: str | int = "INFO", fmt: str = "text", stream: TextIO | None = None
) -> logging.Handler:
    """The root logger at ``level``, writing to ``stream`` (standard error) in format ``fmt``
    (``text`` or ``json``); a handler installed by an earlier call is replaced, others are kept.
    Returns the handler."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    handler = _Stderr(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler._taos = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_taos", False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return handler


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The event's own fields of ``record``: what was passed with ``extra=``."""
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_KEYS and not k.startswith("_")}


def _plain(value: Any) -> Any:
    """``value`` as JSON holds it: numbers, strings, lists, objects; numpy scalars as numbers;
    non-finite floats as None; anything else as its text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return _plain(item())
        except (TypeError, ValueError):
            pass
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line: time, level, logger, message, the event's fields
    and, with an exception, ``traceback``."""

    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for k, v in fields(record).items():
            if k not in _OWN_KEYS:
                doc[k] = _plain(v)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["traceback"] = record.exc_text
        if record.stack_info:
            doc["stack"] = record.stack_info
        return json.dumps(doc, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def log_traceback(
    logger: logging.Logger, level: int, traceback_text: str, msg: str, *args: Any, **extra: Any
) -> None:
    """Logs ``msg % args`` with a traceback already formatted as text (e.g. one from another
    process): after the line in text format, in the field ``traceback`` in json format."""
    if not logger.isEnabledFor(level):
        return
    record = logger.makeRecord(logger.name, level, "(unknown file)", 0, msg, args, None, extra=extra)
    record.exc_text = traceback_text or None
    logger.handle(record)


class Every:
    """``due()`` is true at most once every ``period_s`` seconds of ``clock`` (the first time one
    period after it was built)."""

    def __init__(self, period_s: float = SUMMARY_S, clock: Callable[[], float] = time.monotonic) -> None:
        if not period_s > 0:
            raise ValueError(f"period_s must be > 0, got {period_s!r}")
        self.period_s = period_s
        self.clock = clock
        self.last = clock()

    def due(self) -> bool:
        now = self.clock()
        if now - self.last < self.period_s:
            return False
        self.last = now
        return True


def top_counts(
    counts: Mapping[Any, int], label: Callable[[Any], str], *, top: int = 5, form: str = "{} x{}"
) -> str:
    """The ``top`` largest counts as ``form.format(label, count)`` ("label xN"), largest first,
    then "and K more" for the rest."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    text = ", ".join(form.format(label(k), n) for k, n in ranked[:top])
    return text + (f" and {len(ranked) - top} more" if len(ranked) > top else "")


MAX_KEY_CHARS = 200
"""An exception's message is cut to this many characters in its key and its description."""


@dataclass(frozen=True)
class ErrorKey:
    """What makes two exceptions "the same": type, message and where it was raised (file:line
    of the innermost frame)."""

    type: str
    message: str
    where: str

    def describe(self) -> str:
        """``ValueError('x') at agent.py:12``."""
        return f"{self.type}({self.message!r})" + (f" at {self.where}" if self.where else "")

    def as_dict(self) -> dict[str, str]:
        return {"type": self.type, "message": self.message, "where": self.where}

    @classmethod
    def of(cls, error: BaseException) -> ErrorKey:
        frames = traceback.extract_tb(error.__traceback__)
        where = ""
        if frames:
            last = frames[-1]
            where = f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno}"
        message = str(error)
        if len(message) > MAX_KEY_CHARS:
            message = message[: MAX_KEY_CHARS - 3] + "..."
        return cls(type(error).__name__, message, where)

    @classmethod
    def parse(cls, doc: Mapping[str, Any]) -> ErrorKey:
        """From ``as_dict``'s form (e.g. sent by another process); ``ValueError`` when malformed."""
        try:
            parts = [doc["type"], doc["message"], doc["where"]]
        except (KeyError, TypeError):
            raise ValueError(f"an error key needs type, message and where, got {doc!r}") from None
        if not all(isinstance(p, str) for p in parts):
            raise ValueError(f"an error key's type, message and where are strings, got {doc!r}")
        return cls(*(p[:MAX_KEY_CHARS] for p in parts))


def traceback_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__)).rstrip()


class RepeatedErrors:
    """Exceptions of one kind of code (``what``, e.g. "agent"), deduplicated: the first occurrence
    of each ``ErrorKey`` is logged at ERROR with its traceback, later ones are counted and
    ``report`` logs the counts of the last period in one WARNING line (the ``top`` most frequent,
    then "and K more"). At most ``max_kinds`` keys are remembered; exceptions of further kinds are
    counted without a traceback."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str = "agent",
        *,
        period_s: float = SUMMARY_S,
        clock: Callable[[], float] = time.monotonic,
        max_kinds: int = 100,
        top: int = 5,
    ) -> None:
        self.log = logger
        self.what = what
        self.every = Every(period_s, clock)
        self.clock = clock
        self.since = clock()
        self.max_kinds = max_kinds
        self.top = top
        self.known: set[ErrorKey] = set()
        self.repeats: Counter[ErrorKey] = Counter()  # since the last report
        self.sources: dict[ErrorKey, set[str]] = {}  # who raised the repeats (a few names)
        self.total = 0  # every occurrence, ever

    def add(self, key: ErrorKey, who: str, traceback: str | None) -> bool:
        """One occurrence of ``key`` in ``who`` (e.g. "agent of uid 3"); True when it was the first
        (then logged with ``traceback``)."""
        self.total += 1
        if key not in self.known and len(self.known) < self.max_kinds:
            self.known.add(key)
            log_traceback(
                self.log,
                logging.ERROR,
                traceback or "",
                "%s raised %s (logged once; repeats are counted in a summary every %g s)",
                who,
                key.describe(),
                self.every.period_s,
                event=f"{self.what}_error",
                error=key.as_dict(),
                source=who,
            )
            return True
        self.repeats[key] += 1
        names = self.sources.setdefault(key, set())
        if len(names) < 3:
            names.add(who)
        return False

    def add_exception(self, error: BaseException, who: str) -> bool:
        """``add`` for an exception caught here."""
        key = ErrorKey.of(error)
        return self.add(key, who, traceback_text(error) if key not in self.known else None)

    def report_if_due(self) -> None:
        if self.every.due():
            self.report()

    def report(self, window_s: float | None = None) -> None:
        """One WARNING line with the repeats since the last report (none: no line); ``window_s``:
        how long that was (default: measured on the clock)."""
        now = self.clock()
        window, self.since = now - self.since if window_s is None else window_s, now
        if not self.repeats:
            return
        text = top_counts(
            self.repeats,
            lambda k: f"{k.describe()} ({', '.join(sorted(self.sources.get(k, ())))})",
            top=self.top,
            form="{} {} more times",
        )
        self.log.warning(
            "in the last %s: %s raised %s",
            seconds_text(window),
            self.what,
            text,
            extra={
                "event": f"{self.what}_errors_repeated",
                "window_s": round(window, 3),
                "repeats": [{**k.as_dict(), "count": n} for k, n in self.repeats.most_common(self.top)],
                "kinds": len(self.repeats),
            },
        )
        self.repeats.clear()
        self.sources.clear()


def seconds_text(seconds: float) -> str:
    """``60 s``, ``2.5 s`` (a window of a summary line)."""
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"


def counts_text(counts: Iterable[tuple[str, int]]) -> str:
    """``a 3, b 1`` (``none`` when empty)."""
    text = ", ".join(f"{k} {n}" for k, n in counts if n)
    return text or "none"
