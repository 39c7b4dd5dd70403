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
``observe`` per validator step; the cells whose state changed are handled together, as arrays. It keeps
exact per-miner counters (closed positions, time spent in closed positions) and, for
``positions(uid)``, the open positions plus the last ``keep_closed`` closed ones of each miner.

Its state is plain numpy arrays, declared once (``STORED``, :mod:`taos.validator.persisted`) and
laid out for the validator's store, which writes only the chunks that changed (the open positions
``[slots, books]``, a few books per chunk; the closed history ``[keep_closed, slots]``, a few miners
per chunk). A loaded state is checked (:meth:`PositionTracker.loaded`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from taos.validator.convert import run_ranks
from taos.validator.persisted import Persisted, Stored

NS_PER_HOUR = 3_600 * 1_000_000_000
NO_TIME = np.iinfo(np.int64).min  # "never observed" in the stored last_time_ns
_HISTORY_FIELDS = {
    "book": np.int64,
    "direction": np.int8,
    "open_ns": np.int64,
    "open_equity": np.float64,
    "close_ns": np.int64,
    "close_equity": np.float64,
}
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


class PositionTracker(Persisted):
    """Open and closed positions of ``slots`` miners on ``books`` books (see the module doc)."""

    STORED: ClassVar[dict[str, Stored]] = {
        # the open positions: direction (0 = none), open time and equity at open, per cell
        "direction": Stored("int8", ("slots", "books")),
        "open_ns": Stored("int64", ("slots", "books")),
        "open_equity": Stored("float64", ("slots", "books")),
        # exact counters per miner, and the last keep_closed closed positions (oldest first): column
        # uid of each hist_ array holds hist_len[uid] of them
        "closed_count": Stored("int64", ("slots",)),
        "closed_ns": Stored("int64", ("slots",)),
        # time with any position open, per miner: the stretches that ended, and the start of the
        # current one (NO_TIME: none open); a state kept before them starts them from here
        "market_ns": Stored("int64", ("slots",), optional=True),
        "market_since_ns": Stored("int64", ("slots",), NO_TIME, optional=True),
        "hist_len": Stored("int64", ("slots",)),
        **{
            f"hist_{name}": Stored(np.dtype(dtype).name, ("keep", "slots"))
            for name, dtype in _HISTORY_FIELDS.items()
        },
        "last_time_ns": Stored("int64", ("1",), NO_TIME),  # NO_TIME: never observed
        "params": Stored("float64", ("2",)),  # lot_size, keep_closed
    }

    def __init__(
        self,
        slots: int,
        books: int,
        lot_size: float,
        *,
        keep_closed: int = DEFAULT_KEEP_CLOSED,
        min_notional: float = 0.0,
    ):
        for name, value, lo in (("slots", slots, 0), ("books", books, 1), ("keep_closed", keep_closed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ValueError(f"{name} must be an integer >= {lo}, got {value!r}")
        if not (isinstance(lot_size, int | float) and math.isfinite(lot_size) and lot_size > 0):
            raise ValueError(f"lot_size must be a finite number > 0, got {lot_size!r}")
        if not (isinstance(min_notional, int | float) and 0 <= min_notional < 1):
            raise ValueError(f"min_notional must be a number in [0, 1), got {min_notional!r}")
        self.min_notional = float(min_notional)
        self.slots = slots
        self.books = books
        self.lot_size = float(lot_size)
        self.keep_closed = keep_closed
        self.last_time_ns: int | None = None
        self._direction: np.ndarray
        self._open_ns: np.ndarray
        self._open_equity: np.ndarray
        self._closed_count: np.ndarray
        self._closed_ns: np.ndarray
        self._market_ns: np.ndarray
        self._market_since_ns: np.ndarray
        self._hist_len: np.ndarray
        self.allocate()

    @property
    def _hist(self) -> dict[str, np.ndarray]:
        """The closed history ``[keep_closed, slots]`` by field."""
        return {name: getattr(self, f"_hist_{name}") for name in _HISTORY_FIELDS}

    # --- updates ----------------------------------------------------------------------------------

    def observe(
        self,
        time_ns: int,
        base: np.ndarray,
        neutral: np.ndarray | float,
        equity: np.ndarray,
        mid: np.ndarray | None = None,
    ) -> None:
        """One observation. ``base`` and ``equity`` are float arrays ``[slots, books]``: the base
        inventory (base units) and ``quote + mid x base`` on that book (quote units; NaN where the
        book has no mid, which skips the cell). ``neutral`` is the neutral base inventory, a number
        or an array broadcastable to ``[slots, books]``. ``mid`` (``[books]``, quote per base) is
        needed with a ``min_notional``: a position is open only while ``|base - neutral| x mid`` is
        at least that fraction of the equity on the book (and more than a lot). Time must not go
        back."""
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
        threshold: np.ndarray | float = self.lot_size * (1.0 + _TOLERANCE)
        if self.min_notional > 0:
            if mid is None:
                raise ValueError("mid is needed with a min_notional")
            mid_a = np.asarray(mid, dtype=np.float64)
            if mid_a.shape != (self.books,):
                raise ValueError(f"mid must have shape {(self.books,)}, got {mid_a.shape}")
            with np.errstate(invalid="ignore", divide="ignore"):
                least = self.min_notional * equity / mid_a[None, :]  # NaN without a mid: skipped
            threshold = np.maximum(threshold, np.where(np.isfinite(least), least, np.inf))
        deviation = base - neutral_a
        side = np.where(deviation > threshold, 1, np.where(deviation < -threshold, -1, 0)).astype(np.int8)
        valid = np.isfinite(equity) & np.isfinite(deviation)
        changed = valid & (side != self._direction)
        self.last_time_ns = time_ns
        if not changed.any():
            return
        was_open = self._direction.any(axis=1)
        self._apply(changed, side, equity, time_ns)
        now_open = self._direction.any(axis=1)
        opened, closed = now_open & ~was_open, was_open & ~now_open
        self._market_since_ns[opened] = time_ns
        self._market_ns[closed] += np.maximum(0, time_ns - self._market_since_ns[closed])
        self._market_since_ns[closed] = NO_TIME

    def close_all(self, equity: np.ndarray) -> int:
        """Closes every open position at the last observation, valued at ``equity`` (``[slots,
        books]``, as for :meth:`observe`; where it is NaN, at the position's opening equity: a
        return of 0): the simulation ended, and the next one starts every account at its neutral
        inventory. Returns how many were closed."""
        equity = np.asarray(equity, dtype=np.float64)
        if equity.shape != (self.slots, self.books):
            raise ValueError(f"equity must have shape {(self.slots, self.books)}, got {equity.shape}")
        changed = self._direction != 0
        n = int(np.count_nonzero(changed))
        if n == 0 or self.last_time_ns is None:
            return 0
        time_ns = self.last_time_ns
        was_open = self._direction.any(axis=1)
        self._apply(
            changed,
            np.zeros_like(self._direction),
            np.where(np.isfinite(equity), equity, self._open_equity),
            time_ns,
        )
        self._market_ns[was_open] += np.maximum(0, time_ns - self._market_since_ns[was_open])
        self._market_since_ns[was_open] = NO_TIME
        return n

    def _apply(self, changed: np.ndarray, side: np.ndarray, equity: np.ndarray, time_ns: int) -> None:
        """Closes and opens the positions of the ``changed`` cells."""
        uids, books = np.nonzero(changed)  # by uid, then book: the order closes are remembered in
        was = self._direction[uids, books]
        closing = was != 0
        if closing.any():
            cu, cb = uids[closing], books[closing]
            open_ns = self._open_ns[cu, cb]
            self._closed_count += np.bincount(cu, minlength=self.slots)
            np.add.at(self._closed_ns, cu, np.maximum(0, time_ns - open_ns))  # exact int64 sums
            self._direction[cu, cb] = 0
            self._remember(
                cu,
                {
                    "book": cb,
                    "direction": was[closing],
                    "open_ns": open_ns,
                    "open_equity": self._open_equity[cu, cb],
                    "close_ns": np.full(len(cu), time_ns, dtype=np.int64),
                    "close_equity": equity[cu, cb],
                },
            )
        now = side[uids, books]
        opening = now != 0
        ou, ob = uids[opening], books[opening]
        self._direction[ou, ob] = now[opening]
        self._open_ns[ou, ob] = time_ns
        self._open_equity[ou, ob] = equity[ou, ob]

    def _remember(self, uid: np.ndarray, closed: dict[str, np.ndarray]) -> None:
        """Appends closed positions (``uid`` ascending, each miner's in closing order; ``closed``
        one array per history field) to their miners' histories, keeping the last ``keep_closed``
        of each: a full column moves up to make room, as a queue."""
        keep = self.keep_closed
        if keep == 0:
            return
        rank = run_ranks(uid)
        first = rank == 0
        miners, count = uid[first], np.diff(np.flatnonzero(np.r_[first, True]))
        kept = self._hist_len[miners]
        over = np.maximum(0, kept + count - keep)  # how many of (kept + new) drop out, oldest first
        shift = np.minimum(over, kept)  # of them, kept ones
        hist = self._hist
        moving = shift > 0
        if moving.any():
            cols, by = miners[moving], shift[moving]
            rows = np.arange(keep)[:, None] + by[None, :]  # row r takes row r + shift; past the end, 0
            inside = rows < keep
            rows = np.minimum(rows, keep - 1)
            for column in hist.values():
                column[:, cols] = np.where(inside, np.take_along_axis(column[:, cols], rows, axis=0), 0)
        dest = np.repeat(kept - over, count) + rank  # < 0: a new one that drops out at once
        ok = dest >= 0
        for name, values in closed.items():
            hist[name][dest[ok], uid[ok]] = values[ok]
        self._hist_len[miners] = np.minimum(kept + count, keep)

    def _history(self, uid: int) -> list[Position]:
        h = self._hist
        return [
            Position(
                uid,
                int(h["book"][i, uid]),
                int(h["direction"][i, uid]),
                int(h["open_ns"][i, uid]),
                float(h["open_equity"][i, uid]),
                int(h["close_ns"][i, uid]),
                float(h["close_equity"][i, uid]),
            )
            for i in range(int(self._hist_len[uid]))
        ]

    def reset_uid(self, uid: int) -> None:
        """Forgets everything about ``uid`` (a new miner on the slot)."""
        self._check_uid(uid)
        self.reset_entry(uid, "slots")
        for column in self._hist.values():
            column[:, uid] = 0

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
        """Cumulative hours with any position open, up to ``now_ns``: time in the market, not summed
        over books (two books in a position for the same hour count one hour)."""
        self._check_uid(uid)
        since = int(self._market_since_ns[uid])
        open_ns = max(0, now_ns - since) if since != NO_TIME else 0
        return (int(self._market_ns[uid]) + open_ns) / NS_PER_HOUR

    def book_hours_in_positions(self, uid: int, now_ns: int) -> float:
        """Hours in positions summed over books (two books in a position for one hour each count
        two hours): every closed one, and the open ones up to ``now_ns``."""
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

    def sizes(self) -> dict[str, int]:
        return {"slots": self.slots, "books": self.books, "keep": self.keep_closed, "1": 1, "2": 2}

    def stored_array(self, name: str) -> np.ndarray:
        if name == "last_time_ns":
            return np.array([NO_TIME if self.last_time_ns is None else self.last_time_ns], dtype=np.int64)
        if name == "params":
            return np.array([self.lot_size, float(self.keep_closed)])
        return super().stored_array(name)

    def put_array(self, name: str, a: np.ndarray) -> None:
        if name == "last_time_ns":
            self.last_time_ns = None if int(a[0]) == NO_TIME else int(a[0])
        elif name == "params":
            if float(a[0]) != self.lot_size:
                raise ValueError(f"positions: kept with lot size {float(a[0])!r}, not {self.lot_size!r}")
        else:
            super().put_array(name, a)

    def before_load(self, arrays: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        """A history kept with another ``keep_closed`` is taken with that one."""
        params = np.asarray(arrays.get("params", np.zeros(0)))
        if params.shape == (2,) and params.dtype == np.float64:
            keep = float(params[1])
            if not (keep.is_integer() and 0 <= keep <= 1_000_000):
                raise ValueError(f"positions: keep_closed must be an integer in [0, 1000000], got {keep!r}")
            if int(keep) != self.keep_closed:
                PositionTracker.__init__(self, self.slots, self.books, self.lot_size, keep_closed=int(keep))
        return arrays

    def loaded(self, absent: frozenset[str]) -> None:
        """Checks that the arrays describe positions: directions of ±1 (0: none), finite equities
        and times of the open ones, history lengths within ``keep_closed`` and ``closed_count``,
        closed positions on real books that close after they open, in closing order."""
        d = self._direction
        if not np.isin(d, (-1, 0, 1)).all():
            raise ValueError("direction must be 1, -1 or 0 (none)")
        open_ = d != 0
        if not np.isfinite(self._open_equity[open_]).all():
            raise ValueError("open_equity of an open position must be a finite number")
        if "market_since_ns" in absent:  # kept before the time in the market: it starts now
            self._market_since_ns = np.where(
                d.any(axis=1), NO_TIME if self.last_time_ns is None else self.last_time_ns, NO_TIME
            ).astype(np.int64)
        if ((self._market_since_ns != NO_TIME) != d.any(axis=1)).any():
            raise ValueError("market_since_ns must be set for exactly the miners with an open position")
        for name in ("closed_count", "closed_ns", "market_ns", "hist_len"):
            if (getattr(self, f"_{name}") < 0).any():
                raise ValueError(f"{name} must be >= 0")
        lengths = self._hist_len
        if (lengths > self.keep_closed).any():
            raise ValueError(f"hist_len must lie in [0, {self.keep_closed}]")
        if (lengths > self._closed_count).any():
            raise ValueError("hist_len must not exceed closed_count (more kept than closed)")
        kept = np.arange(self.keep_closed)[:, None] < lengths[None, :]  # [keep, slots]
        h = self._hist
        if not np.isin(h["direction"][kept], (-1, 1)).all():
            raise ValueError("hist_direction of a kept position must be 1 or -1")
        if ((h["book"][kept] < 0) | (h["book"][kept] >= self.books)).any():
            raise ValueError(f"hist_book of a kept position must be a book (0..{self.books - 1})")
        if (h["close_ns"][kept] < h["open_ns"][kept]).any():
            raise ValueError("a kept position closes before it opens")
        close = np.where(kept, h["close_ns"], np.iinfo(np.int64).max)
        if (np.diff(close, axis=0) < 0).any():
            raise ValueError("the kept positions of a miner are not in closing order")


__all__ = ["DEFAULT_KEEP_CLOSED", "NO_TIME", "NS_PER_HOUR", "Position", "PositionTracker"]
