"""The trading rules of SPEC §10.2 (validator policies; on in preset ``ptn``, configurable in any).

- ``max_open``: at most this many open orders plus open positions per miner (200 in ``ptn``);
- ``position_interval_s``: at most one position change (accepted ``TargetPosition``) per book per
  this many seconds of simulated time (60 in ``ptn``);
- ``rate_limit`` / ``rate_window_s``: at most ``rate_limit`` replies of one hotkey are used in any
  ``rate_window_s`` seconds of wall-clock time; further ones are ignored (120 per 60 s in ``ptn``);
- ``sessions``: trading hours per book in simulated time of day; a placement outside them is
  refused with ``MARKET_CLOSED`` (no sessions, i.e. always open, in both presets);
- ``max_leverage``: the largest ``TargetPosition`` leverage applied; a larger one is clamped (1.0).

``0`` turns a numeric rule off. The rules are applied by ``taos.validator.validation`` (per
instruction) and ``taos.validator.validator`` (the rate limit, per reply); docs/validator.md has
the details and the decisions.
"""

from __future__ import annotations

import math
import re
import time
import tomllib
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DAY_S = 86_400
PRESETS = ("taos", "ptn")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?$")


@dataclass(frozen=True)
class Session:
    """Trading hours of some books: open in ``[open_s, close_s)`` seconds of each simulated day
    (day = 86,400 s from simulation time 0). ``open_s > close_s`` spans midnight. ``books`` None
    means every book."""

    books: frozenset[int] | None
    open_s: float
    close_s: float

    def __post_init__(self) -> None:
        for name in ("open_s", "close_s"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not (0 <= v <= DAY_S):
                raise ValueError(f"session {name} must be a number of seconds in [0, {DAY_S}], got {v!r}")
        if self.open_s == self.close_s:
            raise ValueError(f"session open and close are both {self.open_s!r}: a session needs a length")
        if self.books is not None:
            if not isinstance(self.books, frozenset) or not self.books:
                raise ValueError("session books must be a non-empty frozenset of book ids, or None (all)")
            if any(isinstance(b, bool) or not isinstance(b, int) or b < 0 for b in self.books):
                raise ValueError(f"session books must be integers >= 0, got {sorted(self.books, key=str)}")

    def is_open(self, time_ns: int) -> bool:
        t = (time_ns % (DAY_S * 1_000_000_000)) / 1e9
        if self.open_s < self.close_s:
            return self.open_s <= t < self.close_s
        return t >= self.open_s or t < self.close_s

    def covers(self, book: int) -> bool:
        return self.books is None or book in self.books


def closed_books(sessions: Iterable[Session], time_ns: int, books: int) -> frozenset[int]:
    """The books closed at ``time_ns``: a book named by at least one session is open while one of
    its sessions is; a book no session names is always open."""
    sessions = tuple(sessions)
    if not sessions:
        return frozenset()
    named: set[int] = set()
    open_now: set[int] = set()
    for s in sessions:
        members = range(books) if s.books is None else [b for b in s.books if b < books]
        named.update(members)
        if s.is_open(time_ns):
            open_now.update(members)
    return frozenset(named - open_now)


def parse_clock(value: Any, where: str) -> float:
    """``"09:30"``, ``"09:30:15"``, ``"24:00"`` or a number of seconds → seconds of the day."""
    if isinstance(value, bool):
        raise ValueError(f"{where} must be HH:MM[:SS] or a number of seconds, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _CLOCK.match(value.strip())):
        h, mi, s = int(m.group(1)), int(m.group(2)), float(m.group(3) or 0)
        if mi >= 60 or s >= 60:
            raise ValueError(f"{where} {value!r} is not a time of day")
        seconds = h * 3_600 + mi * 60 + s
    else:
        raise ValueError(f"{where} must be HH:MM[:SS] or a number of seconds, got {value!r}")
    if not (math.isfinite(seconds) and 0 <= seconds <= DAY_S):
        raise ValueError(f"{where} {value!r} is outside the day [00:00, 24:00]")
    return seconds


def parse_books(value: Any, where: str) -> frozenset[int] | None:
    """``"*"`` (or absent) → every book; ``3``, ``"0-3"``, ``"0-3,7"`` or ``[0, 1, 7]`` → those books."""
    if value is None or value == "*":
        return None
    out: set[int] = set()
    if isinstance(value, int) and not isinstance(value, bool):
        items: list[Any] = [value]
    elif isinstance(value, list):
        items = value
    elif isinstance(value, str):
        items = [p.strip() for p in value.split(",")]
    else:
        raise ValueError(f'{where} must be "*", a book id, a range like "0-3" or a list, got {value!r}')
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
            out.add(item)
        elif isinstance(item, str) and re.fullmatch(r"\d+", item):
            out.add(int(item))
        elif isinstance(item, str) and (m := re.fullmatch(r"(\d+)\s*-\s*(\d+)", item)):
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo > hi:
                raise ValueError(f"{where}: range {item!r} runs backwards")
            out.update(range(lo, hi + 1))
        else:
            raise ValueError(f'{where}: {item!r} is not a book id >= 0 or a range like "0-3"')
    if not out:
        raise ValueError(f"{where} names no book")
    return frozenset(out)


def parse_sessions(value: Any, where: str = "sessions") -> tuple[Session, ...]:
    """Sessions from their TOML form: a list of tables ``{books = "0-3", open = "09:30", close =
    "16:00"}`` (``books`` optional: every book)."""
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list of tables {{books, open, close}}, got {value!r}")
    out = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{at} must be a table {{books, open, close}}, got {item!r}")
        unknown = sorted(set(item) - {"books", "open", "close"})
        if unknown:
            raise ValueError(f"{at}: unknown key {unknown[0]!r} (expected books, open, close)")
        for key in ("open", "close"):
            if key not in item:
                raise ValueError(f"{at}: {key} is missing")
        books = parse_books(item.get("books"), f"{at}.books")
        try:
            out.append(
                Session(
                    books, parse_clock(item["open"], f"{at}.open"), parse_clock(item["close"], f"{at}.close")
                )
            )
        except ValueError as e:
            raise ValueError(f"{at}: {e}") from None
    return tuple(out)


def sessions_from_text(text: str, where: str = "--rules.sessions") -> tuple[Session, ...]:
    """Sessions from a command-line value: a TOML inline array (``[{books = "0-3", open = "09:30",
    close = "16:00"}]``), ``none`` (always open), or the path of a TOML file with a ``sessions``
    array (``[[sessions]]`` tables)."""
    stripped = text.strip()
    if stripped.lower() in ("", "none"):
        return ()
    if stripped.startswith("["):
        try:
            data = tomllib.loads(f"sessions = {stripped}")
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{where}: not a TOML array of tables: {e}") from None
        return parse_sessions(data["sessions"], where)
    path = Path(stripped).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValueError(f"{where}: cannot read {path}: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{where}: {path} is not valid TOML: {e}") from None
    if "sessions" not in data:
        raise ValueError(f"{where}: {path} has no sessions array")
    return parse_sessions(data["sessions"], f"{path}: sessions")


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0 (0 = off), got {value!r}")
    return value


def _seconds(name: str, value: Any, *, positive: bool = False) -> float:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class RulesSettings:
    """The rules' settings (module doc). The defaults are preset ``taos``: every rule off."""

    max_leverage: float = 1.0
    max_open: int = 0
    position_interval_s: float = 0.0
    rate_limit: int = 0
    rate_window_s: float = 60.0
    sessions: tuple[Session, ...] = field(default=())

    def __post_init__(self) -> None:
        lev = self.max_leverage
        if isinstance(lev, bool) or not isinstance(lev, int | float) or not math.isfinite(lev) or lev <= 0:
            raise ValueError(f"max_leverage must be a finite number > 0, got {lev!r}")
        _count("max_open", self.max_open)
        _count("rate_limit", self.rate_limit)
        _seconds("position_interval_s", self.position_interval_s)
        _seconds("rate_window_s", self.rate_window_s, positive=True)
        if not isinstance(self.sessions, tuple) or not all(isinstance(s, Session) for s in self.sessions):
            raise ValueError("sessions must be a tuple of Session")

    @classmethod
    def preset(cls, name: str) -> RulesSettings:
        """``"taos"``: every rule off (leverage still clamped to 1); ``"ptn"``: every rule on with
        the SPEC's values (200 open, one position change per book per sim minute, 120 replies per
        hotkey per wall minute; sessions stay always open unless configured)."""
        if name == "taos":
            return cls()
        if name == "ptn":
            return cls(max_open=200, position_interval_s=60.0, rate_limit=120, rate_window_s=60.0)
        raise ValueError(f"unknown rules preset {name!r} (expected one of {', '.join(PRESETS)})")

    @property
    def position_interval_ns(self) -> int:
        return round(self.position_interval_s * 1_000_000_000)

    def check_books(self, books: int) -> None:
        """Refuses sessions naming a book the simulation does not have."""
        for i, s in enumerate(self.sessions):
            if s.books is not None and max(s.books) >= books:
                raise ValueError(f"sessions[{i}] names book {max(s.books)}, but there are {books} books")


RULE_FLAGS: Mapping[str, str] = {
    "max_leverage": "--rules.max-leverage",
    "max_open": "--rules.max-open",
    "position_interval_s": "--rules.position-interval",
    "rate_limit": "--rules.rate-limit",
    "rate_window_s": "--rules.rate-window",
    "sessions": "--rules.sessions",
}


def rules_from_options(preset: str, **overrides: Any) -> RulesSettings:
    """The command line's rules: ``preset`` with each option given (not None) replacing its value.
    ``sessions`` is the text of ``--rules.sessions``. Errors name the flag."""
    if preset not in PRESETS:
        raise ValueError(f"--rules.preset must be one of {', '.join(PRESETS)}, got {preset!r}")
    settings = RulesSettings.preset(preset)
    changes: dict[str, Any] = {}
    for name, value in overrides.items():
        if name not in RULE_FLAGS:
            raise TypeError(f"unknown rules option {name!r}")
        if value is None:
            continue
        changes[name] = sessions_from_text(value, RULE_FLAGS[name]) if name == "sessions" else value
    try:
        return replace(settings, **changes)
    except ValueError as e:
        text = str(e)
        for name, flag in RULE_FLAGS.items():
            if text.startswith(f"{name} "):
                text = f"{flag} {text[len(name) + 1 :]}"
        raise ValueError(text) from None


class RateLimiter:
    """At most ``limit`` requests per key in any ``window_s`` seconds of ``clock`` (a sliding
    window over the requests let through: one at ``t`` frees its place at ``t + window_s``).
    Refused requests do not count. ``limit`` 0 lets everything through."""

    def __init__(self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = _count("limit", limit)
        self.window_s = _seconds("window_s", window_s, positive=True)
        self.clock = clock
        self._seen: dict[str, deque[float]] = {}

    def allow(self, key: str) -> bool:
        if self.limit == 0:
            return True
        now = self.clock()
        seen = self._seen.setdefault(key, deque())
        while seen and seen[0] <= now - self.window_s:
            seen.popleft()
        if len(seen) >= self.limit:
            return False
        seen.append(now)
        return True

    def forget(self, key: str) -> None:
        self._seen.pop(key, None)


__all__ = [
    "PRESETS",
    "RULE_FLAGS",
    "RateLimiter",
    "RulesSettings",
    "Session",
    "closed_books",
    "parse_books",
    "parse_clock",
    "parse_sessions",
    "rules_from_options",
    "sessions_from_text",
]
