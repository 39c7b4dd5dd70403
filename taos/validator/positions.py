"""Positions (SPEC §10.1): when a miner holds one on a book, since when, and what it returned.

A miner has an **open position** on a book while its base inventory there differs from the neutral
inventory (its starting base) by more than one lot; the position is long above neutral and short
below. It **closes** at the first observation at which the inventory is back within one lot of
neutral, whatever brought it there (a FLAT target, a market order, fills of resting orders). An
inventory seen on the other side of neutral than at the previous observation closes the position
and opens one in the other direction at the same observation.

The **return of a position** is that of the miner's equity on the book over the position's life:

    return = equity_b(close) / equity_b(open) - 1,      equity_b = quote + mid x base on the book

both at the observations where the position was first and last seen (so the entry's fees and
slippage are inside it, and adds and partial closes on the way are simply part of the path). An
observation where a book has no mid price (NaN equity) is skipped for that book: nothing opens or
closes there until the book has a price again.

:class:`PositionTracker` follows every miner slot on every book from whole arrays, one
``observe`` per validator step; only the cells whose state changed are handled one by one. It keeps
exact per-miner counters (closed positions, time spent in closed positions) and, for
``positions(uid)``, the open positions plus the last ``keep_closed`` closed ones of each miner.

Its state is plain numpy arrays. ``to_state`` / ``from_state`` give and take it as a JSON-ready
dict; ``to_arrays`` / ``from_arrays`` as named arrays laid out for the validator's store, which
writes only the chunks (one per book, or per miner for the closed history) that changed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

NS_PER_HOUR = 3_600 * 1_000_000_000
NO_TIME = np.iinfo(np.int64).min  # "never observed" in to_arrays
_HISTORY_FIELDS = {
    "book": np.int64,
    "direction": np.int8,
    "open_ns": np.int64,
    "open_equity": np.float64,
    "close_ns": np.int64,
    "close_equity": np.float64,
}
STATE_FORMAT = "taos.positions/1"
DEFAULT_KEEP_CLOSED = 100
_TOLERANCE = 1e-9  # relative, on the one-lot threshold: float noise in base = lots x lot_size


@dataclass(frozen=True)
class Position:
    """One position of one miner on one book. ``direction`` is +1 (long) or -1 (short);
    ``close_ns`` and ``close_equity`` are None while it is open."""

    uid: int
    book: int
    direction: int
    open_ns: int
    open_equity: float
    close_ns: int | None = None
    close_equity: float | None = None

    @property
    def is_open(self) -> bool:
        return self.close_ns is None

    @property
    def return_(self) -> float | None:
        """``close_equity / open_equity - 1``; None while open (or for a zero equity at open)."""
        if self.close_equity is None or not self.open_equity > 0:
            return None
        return self.close_equity / self.open_equity - 1.0

    def duration_ns(self, now_ns: int) -> int:
        """Time in the position: until its close, or until ``now_ns`` while open (never < 0)."""
        end = self.close_ns if self.close_ns is not None else now_ns
        return max(0, end - self.open_ns)


class PositionTracker:
    """Open and closed positions of ``slots`` miners on ``books`` books (see the module doc)."""

    def __init__(self, slots: int, books: int, lot_size: float, *, keep_closed: int = DEFAULT_KEEP_CLOSED):
        for name, value, lo in (("slots", slots, 0), ("books", books, 1), ("keep_closed", keep_closed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
        if not (isinstance(lot_size, int | float) and math.isfinite(lot_size) and lot_size > 0):
            raise ValueError(f"lot_size must be a finite number > 0, got {lot_size!r}")
        self.slots = slots
        self.books = books
        self.lot_size = float(lot_size)
        self.keep_closed = keep_closed
        self.last_time_ns: int | None = None
        # the open positions: direction (0 = none), open time and equity at open, per cell
        self._direction = np.zeros((slots, books), dtype=np.int8)
        self._open_ns = np.zeros((slots, books), dtype=np.int64)
        self._open_equity = np.zeros((slots, books), dtype=np.float64)
        # exact counters per miner, and the last keep_closed closed positions (oldest first): row
        # uid of each _hist array holds _hist_len[uid] of them
        self._closed_count = np.zeros(slots, dtype=np.int64)
        self._closed_ns = np.zeros(slots, dtype=np.int64)
        self._hist_len = np.zeros(slots, dtype=np.int64)
        self._hist = {
            name: np.zeros((slots, keep_closed), dtype=dtype) for name, dtype in _HISTORY_FIELDS.items()
        }

    # --- updates ----------------------------------------------------------------------------------

    def observe(
        self, time_ns: int, base: np.ndarray, neutral: np.ndarray | float, equity: np.ndarray
    ) -> None:
        """One observation. ``base`` and ``equity`` are float arrays ``[slots, books]``: the base
        inventory (base units) and ``quote + mid x base`` on that book (quote units; NaN where the
        book has no mid, which skips the cell). ``neutral`` is the neutral base inventory, a number
        or an array broadcastable to ``[slots, books]``. Time must not go back."""
        if isinstance(time_ns, bool) or not isinstance(time_ns, int | np.integer):
            raise TypeError(f"time_ns must be an integer, got {type(time_ns).__name__}")
        time_ns = int(time_ns)
        if self.last_time_ns is not None and time_ns < self.last_time_ns:
            raise ValueError(f"time_ns {time_ns} is before the last observation at {self.last_time_ns}")
        shape = (self.slots, self.books)
        base = np.asarray(base, dtype=np.float64)
        equity = np.asarray(equity, dtype=np.float64)
        for name, a in (("base", base), ("equity", equity)):
            if a.shape != shape:
                raise ValueError(f"{name} must have shape {shape}, got {a.shape}")
        try:
            neutral_a = np.broadcast_to(np.asarray(neutral, dtype=np.float64), shape)
        except ValueError:
            raise ValueError(
                f"neutral must be a number or broadcastable to {shape}, got shape {np.shape(neutral)}"
            ) from None
        threshold = self.lot_size * (1.0 + _TOLERANCE)
        deviation = base - neutral_a
        side = np.where(deviation > threshold, 1, np.where(deviation < -threshold, -1, 0)).astype(np.int8)
        valid = np.isfinite(equity) & np.isfinite(deviation)
        changed = valid & (side != self._direction)
        self.last_time_ns = time_ns
        if not changed.any():
            return
        for uid, book in np.argwhere(changed).tolist():
            now_side = int(side[uid, book])
            if self._direction[uid, book] != 0:
                self._close(uid, book, time_ns, float(equity[uid, book]))
            if now_side != 0:
                self._direction[uid, book] = now_side
                self._open_ns[uid, book] = time_ns
                self._open_equity[uid, book] = float(equity[uid, book])

    def _close(self, uid: int, book: int, time_ns: int, equity: float) -> None:
        p = self._open_position(uid, book)
        self._closed_count[uid] += 1
        self._closed_ns[uid] += max(0, time_ns - p.open_ns)
        self._direction[uid, book] = 0
        self._remember(Position(uid, book, p.direction, p.open_ns, p.open_equity, time_ns, equity))

    def _remember(self, p: Position) -> None:
        """Appends a closed position to its miner's history, dropping the oldest beyond keep_closed."""
        if self.keep_closed == 0:
            return
        n = int(self._hist_len[p.uid])
        if n == self.keep_closed:
            for column in self._hist.values():
                column[p.uid, :-1] = column[p.uid, 1:]
            n -= 1
        for name in _HISTORY_FIELDS:
            self._hist[name][p.uid, n] = getattr(p, name)
        self._hist_len[p.uid] = n + 1

    def _history(self, uid: int) -> list[Position]:
        h = self._hist
        return [
            Position(
                uid,
                int(h["book"][uid, i]),
                int(h["direction"][uid, i]),
                int(h["open_ns"][uid, i]),
                float(h["open_equity"][uid, i]),
                int(h["close_ns"][uid, i]),
                float(h["close_equity"][uid, i]),
            )
            for i in range(int(self._hist_len[uid]))
        ]

    def reset_uid(self, uid: int) -> None:
        """Forgets everything about ``uid`` (a new miner on the slot)."""
        self._check_uid(uid)
        self._direction[uid] = 0
        self._open_ns[uid] = 0
        self._open_equity[uid] = 0.0
        self._closed_count[uid] = 0
        self._closed_ns[uid] = 0
        self._hist_len[uid] = 0
        for column in self._hist.values():
            column[uid] = 0

    # --- queries ----------------------------------------------------------------------------------

    def _check_uid(self, uid: int) -> None:
        if isinstance(uid, bool) or not isinstance(uid, int | np.integer) or not 0 <= uid < self.slots:
            raise ValueError(f"uid must be in [0, {self.slots}), got {uid!r}")

    def _open_position(self, uid: int, book: int) -> Position:
        return Position(
            uid,
            book,
            int(self._direction[uid, book]),
            int(self._open_ns[uid, book]),
            float(self._open_equity[uid, book]),
        )

    def open_count(self, uid: int) -> int:
        self._check_uid(uid)
        return int(np.count_nonzero(self._direction[uid]))

    def open_counts(self) -> np.ndarray:
        """Open positions of every miner, ``[slots]``."""
        return np.count_nonzero(self._direction, axis=1)

    def open_directions(self, uid: int) -> np.ndarray:
        """``[books]`` int8: +1 long, -1 short, 0 no open position (a copy)."""
        self._check_uid(uid)
        return self._direction[uid].copy()

    def closed_count(self, uid: int) -> int:
        """Every position of ``uid`` closed since it was tracked or reset (also those no longer kept)."""
        self._check_uid(uid)
        return int(self._closed_count[uid])

    def hours_in_positions(self, uid: int, now_ns: int) -> float:
        """Cumulative hours in positions, summed over books (two books in a position for one hour
        each count two hours): every closed one, and the open ones up to ``now_ns``."""
        self._check_uid(uid)
        open_books = np.flatnonzero(self._direction[uid])
        open_ns = int(np.maximum(0, now_ns - self._open_ns[uid, open_books]).sum())
        return (int(self._closed_ns[uid]) + open_ns) / NS_PER_HOUR

    def positions(self, uid: int) -> list[Position]:
        """The open positions and the kept closed ones of ``uid``, oldest (by opening) first."""
        self._check_uid(uid)
        out = self._history(uid)
        out += [self._open_position(uid, int(b)) for b in np.flatnonzero(self._direction[uid])]
        return sorted(out, key=lambda p: (p.open_ns, p.close_ns is None, p.close_ns or 0, p.book))

    # --- persistence ------------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """A JSON-serializable snapshot (plain ints, floats, lists and None)."""
        open_uid, open_book = np.nonzero(self._direction)
        kept = np.arange(self.keep_closed)[None, :] < self._hist_len[:, None]
        closed_uid, closed_i = np.nonzero(kept)  # miner by miner, oldest first
        return {
            "format": STATE_FORMAT,
            "slots": self.slots,
            "books": self.books,
            "lot_size": self.lot_size,
            "keep_closed": self.keep_closed,
            "last_time_ns": self.last_time_ns,
            "closed_count": self._closed_count.tolist(),
            "closed_ns": self._closed_ns.tolist(),
            "open": {
                "uid": open_uid.tolist(),
                "book": open_book.tolist(),
                "direction": self._direction[open_uid, open_book].tolist(),
                "open_ns": self._open_ns[open_uid, open_book].tolist(),
                "open_equity": self._open_equity[open_uid, open_book].tolist(),
            },
            "closed": {
                "uid": closed_uid.tolist(),
                **{name: self._hist[name][closed_uid, closed_i].tolist() for name in _HISTORY_FIELDS},
            },
        }

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The state as named numpy arrays (copies) for the validator's store: the open positions
        ``[slots, books]`` (a chunk per book), the counters ``[slots]``, the closed history
        ``[keep_closed, slots]`` (a chunk per miner) with its lengths, ``last_time_ns`` (``NO_TIME``:
        none) and ``params`` (lot size, keep_closed)."""
        out: dict[str, np.ndarray] = {
            "direction": self._direction.copy(),
            "open_ns": self._open_ns.copy(),
            "open_equity": self._open_equity.copy(),
            "closed_count": self._closed_count.copy(),
            "closed_ns": self._closed_ns.copy(),
            "hist_len": self._hist_len.copy(),
            "last_time_ns": np.array(
                [NO_TIME if self.last_time_ns is None else self.last_time_ns], dtype=np.int64
            ),
            "params": np.array([self.lot_size, float(self.keep_closed)]),
        }
        for name, column in self._hist.items():
            out[f"hist_{name}"] = np.ascontiguousarray(column.T)
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> PositionTracker:
        """The tracker ``to_arrays`` described, checked as ``from_state`` checks a state."""
        names = ["direction", "open_ns", "open_equity", "closed_count", "closed_ns", "hist_len"]
        names += ["last_time_ns", "params", *(f"hist_{n}" for n in _HISTORY_FIELDS)]
        missing = [n for n in names if n not in arrays]
        if missing:
            raise ValueError(f"positions arrays: {missing[0]} is missing")
        a = {n: np.asarray(arrays[n]) for n in names}
        if a["direction"].ndim != 2 or a["params"].shape != (2,) or a["last_time_ns"].shape != (1,):
            raise ValueError("positions arrays: direction must be 2-d, params hold 2 values, last_time_ns 1")
        slots, books = a["direction"].shape
        lot_size, keep_value = float(a["params"][0]), float(a["params"][1])
        if not (keep_value.is_integer() and keep_value >= 0):
            raise ValueError(f"positions arrays: keep_closed must be an integer >= 0, got {keep_value!r}")
        keep = int(keep_value)
        for n in ("open_ns", "open_equity"):
            if a[n].shape != (slots, books):
                raise ValueError(f"positions arrays: {n} must have shape {(slots, books)}, got {a[n].shape}")
        for n in ("closed_count", "closed_ns", "hist_len"):
            if a[n].shape != (slots,):
                raise ValueError(f"positions arrays: {n} must have shape {(slots,)}, got {a[n].shape}")
        for n in _HISTORY_FIELDS:
            if a[f"hist_{n}"].shape != (keep, slots):
                raise ValueError(f"positions arrays: hist_{n} must have shape {(keep, slots)}")
        lengths = a["hist_len"]
        if ((lengths < 0) | (lengths > keep)).any():
            raise ValueError(f"positions arrays: hist_len must lie in [0, {keep}]")
        open_uid, open_book = np.nonzero(a["direction"])
        closed_uid, closed_i = np.nonzero(np.arange(keep)[None, :] < lengths[:, None])
        last = int(a["last_time_ns"][0])
        state = {
            "format": STATE_FORMAT,
            "slots": slots,
            "books": books,
            "lot_size": lot_size,
            "keep_closed": keep,
            "last_time_ns": None if last == NO_TIME else last,
            "closed_count": a["closed_count"].tolist(),
            "closed_ns": a["closed_ns"].tolist(),
            "open": {
                "uid": open_uid.tolist(),
                "book": open_book.tolist(),
                **{n: a[n][open_uid, open_book].tolist() for n in ("direction", "open_ns", "open_equity")},
            },
            "closed": {
                "uid": closed_uid.tolist(),
                **{n: a[f"hist_{n}"][closed_i, closed_uid].tolist() for n in _HISTORY_FIELDS},
            },
        }
        return cls.from_state(state)

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> PositionTracker:
        """The tracker ``to_state`` described; a malformed state is a ``ValueError`` naming the
        field and the problem."""
        r = _Reader(state)
        if r.get("format", str) != STATE_FORMAT:
            raise ValueError(f"positions state: format must be {STATE_FORMAT!r}, got {state.get('format')!r}")
        try:
            t = cls(
                r.get("slots", int), r.get("books", int), r.get("lot_size", float),
                keep_closed=r.get("keep_closed", int),
            )  # fmt: skip
        except ValueError as e:
            raise ValueError(f"positions state: {e}") from None
        last = state.get("last_time_ns")
        if last is not None:
            t.last_time_ns = r.get("last_time_ns", int)
        counts = r.int_list("closed_count", t.slots, lo=0)
        spans = r.int_list("closed_ns", t.slots, lo=0)
        t._closed_count[:] = counts
        t._closed_ns[:] = spans
        op = r.columns("open", ("uid", "book", "direction", "open_ns", "open_equity"))
        for i in range(len(op["uid"])):
            uid, book = r.cell("open", op, i, t)
            direction = r.direction("open", op, i)
            if t._direction[uid, book] != 0:
                raise ValueError(f"positions state: open has two positions for uid {uid} on book {book}")
            t._direction[uid, book] = direction
            t._open_ns[uid, book] = r.item("open", op, "open_ns", i, int)
            t._open_equity[uid, book] = r.item("open", op, "open_equity", i, float)
        keys = ("uid", "book", "direction", "open_ns", "open_equity", "close_ns", "close_equity")
        cl = r.columns("closed", keys)
        history: dict[int, list[Position]] = {}
        for i in range(len(cl["uid"])):
            uid, book = r.cell("closed", cl, i, t)
            p = Position(
                uid,
                book,
                r.direction("closed", cl, i),
                r.item("closed", cl, "open_ns", i, int),
                r.item("closed", cl, "open_equity", i, float),
                r.item("closed", cl, "close_ns", i, int),
                r.item("closed", cl, "close_equity", i, float),
            )
            assert p.close_ns is not None
            if p.close_ns < p.open_ns:
                raise ValueError(f"positions state: closed[{i}] closes at {p.close_ns}, before it opens")
            history.setdefault(uid, []).append(p)
        for uid, kept in sorted(history.items()):
            if len(kept) > t.keep_closed or len(kept) > counts[uid]:
                raise ValueError(
                    f"positions state: uid {uid} has {len(kept)} closed positions kept, more than "
                    f"keep_closed ({t.keep_closed}) or its closed_count ({counts[uid]})"
                )
            if any(a.close_ns > b.close_ns for a, b in itertools.pairwise(kept)):  # type: ignore[operator]
                raise ValueError(
                    f"positions state: the closed positions of uid {uid} are not in closing order"
                )
            for p in kept:
                t._remember(p)
        return t


class _Reader:
    """Checked access to a ``to_state`` dict; every error names the field."""

    def __init__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise ValueError(f"positions state must be a dict, got {type(state).__name__}")
        self.state = state

    @staticmethod
    def _typed(where: str, value: Any, kind: type) -> Any:
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"positions state: {where} must be an integer, got {value!r}")
            return value
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"positions state: {where} must be a finite number, got {value!r}")
            return float(value)
        if not isinstance(value, kind):
            raise ValueError(f"positions state: {where} must be a {kind.__name__}, got {value!r}")
        return value

    def get(self, key: str, kind: type) -> Any:
        if key not in self.state:
            raise ValueError(f"positions state: {key} is missing")
        return self._typed(key, self.state[key], kind)

    def int_list(self, key: str, length: int, *, lo: int) -> list[int]:
        values = self.get(key, list)
        if len(values) != length:
            raise ValueError(f"positions state: {key} must have {length} entries, got {len(values)}")
        out = [self._typed(f"{key}[{i}]", v, int) for i, v in enumerate(values)]
        for i, v in enumerate(out):
            if v < lo:
                raise ValueError(f"positions state: {key}[{i}] must be >= {lo}, got {v}")
        return out

    def columns(self, key: str, names: tuple[str, ...]) -> dict[str, list[Any]]:
        table = self.get(key, dict)
        out = {}
        for name in names:
            if name not in table:
                raise ValueError(f"positions state: {key}.{name} is missing")
            out[name] = self._typed(f"{key}.{name}", table[name], list)
        lengths = {len(v) for v in out.values()}
        if len(lengths) > 1:
            raise ValueError(f"positions state: the columns of {key} differ in length")
        return out

    def item(self, key: str, cols: dict[str, list[Any]], name: str, i: int, kind: type) -> Any:
        return self._typed(f"{key}.{name}[{i}]", cols[name][i], kind)

    def cell(self, key: str, cols: dict[str, list[Any]], i: int, t: PositionTracker) -> tuple[int, int]:
        uid = self.item(key, cols, "uid", i, int)
        book = self.item(key, cols, "book", i, int)
        if not 0 <= uid < t.slots:
            raise ValueError(f"positions state: {key}.uid[{i}] = {uid} is not a slot (0..{t.slots - 1})")
        if not 0 <= book < t.books:
            raise ValueError(f"positions state: {key}.book[{i}] = {book} is not a book (0..{t.books - 1})")
        return uid, book

    def direction(self, key: str, cols: dict[str, list[Any]], i: int) -> int:
        d = self.item(key, cols, "direction", i, int)
        if d not in (1, -1):
            raise ValueError(f"positions state: {key}.direction[{i}] must be 1 or -1, got {d}")
        return d


__all__ = ["DEFAULT_KEEP_CLOSED", "NO_TIME", "NS_PER_HOUR", "Position", "PositionTracker"]
