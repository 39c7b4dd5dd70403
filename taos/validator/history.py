"""The validator's scoring state for preset ``taos`` (SPEC §9), held in numpy ring buffers.

One :class:`ScoreState` holds, per miner and book:

- the inventory-value history: the last ``window`` (L = 720) observations in a ring buffer; NaN
  marks a missing value, a simulation boundary (:meth:`ScoreState.mark_boundary`) or a reset miner
  (:meth:`ScoreState.reset_uid`), and the Sharpe ratio never differences across it;
- the traded volume in buckets of 10 minutes of simulation time (the activity factor's "traded in
  the latest bucket"), and each history column's step volume in a ring like the values, whose sum
  is the volume of the Sharpe window exactly (the activity factor, the minimum volume of a book);
- the volume of the last 24 h (the volume cap of SPEC §8) exactly: a running sum to which each
  observation's step volumes are added, and from which they are taken again when they leave the
  horizon; the step volumes wait in a :class:`VolumeLog` (the nonzero ones only) in memory, or in
  the validator's store (``taos.validator.store.StoredVolumeLog``), so that a day of them costs
  no memory;
- the activity factors and the EMA-smoothed scores (alpha = 0.1);
- rolling sums of the returns in each window (count, shifted sum and sum of squares), so that a
  step's Sharpe ratios cost O(miners x books), not O(miners x books x window); see
  :class:`ReturnSums`.

Every update is a handful of whole-array numpy operations; nothing loops over miners, books or the
history in Python. The arithmetic itself is done by the pure functions of :mod:`taos.scoring`.

Units: inventory values, traded volumes and the starting wealth are in one money unit chosen by the
caller (the validator uses the engine's integer quote units, tick x lot). The traded totals are the
accounts' cumulative ``traded_quote`` counters (integers); the volume of a step is their difference.

Persistence: the arrays are declared once (``ScoreState.STORED``, ``ReturnSums.STORED``) and saved
and restored by :func:`taos.validator.persisted.state_of` and
:func:`~taos.validator.persisted.load_state` (plain numpy arrays, no objects);
:meth:`ScoreState.restored` rebuilds a state with the parameters it was kept with.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from taos.scoring import (
    activity_factor,
    activity_weighted,
    ema,
    normalize_sharpe,
    penalize_noisy_losses,
    sharpe_batch,
    taos_score_batch,
    typical_std,
)
from taos.validator.persisted import Persisted, Stored, load_state, within

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

NS_PER_S = 1_000_000_000


@dataclass(frozen=True)
class ScoreParams:
    """Parameters of preset ``taos`` scoring state (defaults from SPEC §8-9).

    Attributes:
        starting_wealth: a miner's starting wealth on one book, in the money unit of the values.
        window: L, the Sharpe window in observations (720 ≈ 1 h at 5 s).
        interval_ns: simulation time between observations (the publish interval); with ``window``
            it gives the span of the Sharpe window in time, over which the activity factor's
            volume is summed.
        bucket_ns: width of a volume bucket (10 minutes).
        volume_horizon_ns: span of the volume cap (24 h).
        cap_multiple: the volume cap is ``cap_multiple * starting_wealth`` (10).
        alpha: EMA smoothing of the scores per observation (0.1).
    """

    starting_wealth: float
    window: int = 720
    interval_ns: int = 5 * NS_PER_S
    bucket_ns: int = 600 * NS_PER_S
    volume_horizon_ns: int = 86_400 * NS_PER_S
    cap_multiple: float = 10.0
    alpha: float = 0.1

    def __post_init__(self) -> None:
        if not (math.isfinite(self.starting_wealth) and self.starting_wealth > 0):
            raise ValueError(f"starting_wealth must be a positive number, got {self.starting_wealth!r}")
        for name in ("window", "interval_ns", "bucket_ns", "volume_horizon_ns"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.window < 2:
            raise ValueError(f"window must be >= 2, got {self.window}")
        if not (math.isfinite(self.cap_multiple) and self.cap_multiple > 0):
            raise ValueError(f"cap_multiple must be a positive number, got {self.cap_multiple!r}")
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in (0, 1], got {self.alpha!r}")

    @property
    def cap(self) -> float:
        """The volume cap: ``cap_multiple * starting_wealth``."""
        return self.cap_multiple * self.starting_wealth

    @property
    def window_buckets(self) -> int:
        """Buckets summed for the activity factor's window volume (the latest one included)."""
        return max(1, -(-self.window * self.interval_ns // self.bucket_ns))

    @property
    def horizon_buckets(self) -> int:
        """Buckets summed for the 24 h volume (the latest one included)."""
        return max(1, -(-self.volume_horizon_ns // self.bucket_ns))

    @property
    def ring_buckets(self) -> int:
        """Buckets kept: enough for both sums."""
        return max(self.window_buckets, self.horizon_buckets)

    @classmethod
    def from_core(cls, config: Any, **overrides: Any) -> ScoreParams:
        """Parameters for a core ``SimulationConfig`` (money in quote units): the starting wealth is
        the miner's quote plus its base valued at the start price."""
        wealth = config.miner_quote + config.miner_base_lots * config.fundamental.start_price_ticks
        return cls(starting_wealth=float(wealth), **overrides)


@dataclass(frozen=True)
class VolumeRow:
    """One observation's step volumes: the nonzero ones, as flat indices ``miner * books + book``
    (int32) and volumes (int64)."""

    step: int
    time_ns: int
    cells: NDArray[np.int32]
    volumes: IntArray


class VolumeLog:
    """The step volumes of the volume horizon (24 h), until they leave it: kept in memory here (a
    validator with a store keeps them there: ``taos.validator.store.StoredVolumeLog``, with the
    same methods). Rows come in step order."""

    def __init__(self) -> None:
        self._rows: deque[VolumeRow] = deque()

    def append(self, row: VolumeRow) -> None:
        self._rows.append(row)

    def rows_through(self, after_step: int, time_ns: int) -> list[VolumeRow]:
        """The rows of steps after ``after_step`` observed at or before ``time_ns``, in order."""
        out = []
        for row in self._rows:
            if row.time_ns > time_ns:
                break
            if row.step > after_step:
                out.append(row)
        return out

    def forget_through(self, step: int) -> None:
        """The rows of ``step`` and before are no longer needed."""
        while self._rows and self._rows[0].step <= step:
            self._rows.popleft()

    def clear(self) -> None:
        """Every row is forgotten (a simulation boundary)."""
        self._rows.clear()


ANCHOR_PERIOD = 32
"""The rolling sums are recomputed from the windows every this many history columns (all series at
once: two miners with the same values get the same sums, so the same scores)."""
UNSURE_VARIANCE = 1e-6
"""A series whose rolling variance is at most this fraction of its mean square (std ≤ 0.1 % of the
RMS return: a Sharpe ratio beyond ±1000·√n, or the zero-std rule) is computed from its window."""
DRIFT_RATIO = 1e6
"""A series whose sum of squares falls below 1/DRIFT_RATIO of a square that left it is re-anchored
at once (the rounding of that square then outweighs what is left)."""
CANCELLATION = 1e4
"""A series whose mean square deviation from its shift exceeds CANCELLATION x its variance (the
shift is far from the mean: the variance would be a small difference of large numbers) is
re-anchored at once."""
_ANCHOR_BLOCK = 16  # miners anchored together by _anchor_all
_PARAM = "param."  # the stored parameters: param.window, …


class ReturnSums(Persisted):
    """Rolling sums of the returns in each (miner, book) Sharpe window.

    For every series: ``count``, the valid returns ``r`` in the window (both ends finite);
    ``nonzero``, those that are not 0; a ``shift`` c; ``sum`` Σ(r - c) and ``squares`` Σ(r - c)²
    over the valid returns. A new history column adds the return that enters the window and removes
    the one that leaves it: O(miners x books) per step instead of the window's length.

    Floating-point sums drift as returns go in and out, so a series is *anchored*, its sums
    recomputed from its window with c = the mean of its returns (which keeps the sums of deviations
    small and the variance free of cancellation): every series every ``ANCHOR_PERIOD`` columns
    (registered or not), and a series at once when a return that leaves it was large against what
    remains (``DRIFT_RATIO``) or when its mean moved far from its shift (``CANCELLATION``). The
    variance then carries a relative rounding error of at most about
    ``2 · ANCHOR_PERIOD · CANCELLATION · 2⁻⁵³`` ≈ 1e-10. Everything is deterministic, and persisted with
    the state, so a resumed validator continues byte for byte.

    :meth:`sharpes` gives :func:`taos.scoring.sharpe_batch`'s result from the sums; the series
    where the sums cannot tell (a variance near 0 against the mean square: ``UNSURE_VARIANCE``),
    are computed from their windows by ``sharpe_batch`` itself, so the zero-std rule and the
    treatment of missing values are exactly those of :func:`taos.scoring.sharpe`."""

    STORED: ClassVar[dict[str, Stored]] = {
        "count": Stored("int64", ("miners", "books")),
        "nonzero": Stored("int64", ("miners", "books")),
        "shift": Stored("float64", ("miners", "books")),
        "sum": Stored("float64", ("miners", "books")),
        "squares": Stored("float64", ("miners", "books")),
    }
    ATTR_PREFIX: ClassVar[str] = ""
    OPTIONAL: ClassVar[bool] = True  # a history kept before the sums existed: rebuilt by anchoring

    def __init__(self, miners: int, books: int) -> None:
        self.miners, self.books = miners, books
        self.count: IntArray
        self.nonzero: IntArray
        self.shift: FloatArray
        self.sum: FloatArray
        self.squares: FloatArray
        self.allocate()

    def sizes(self) -> dict[str, int]:
        return {"miners": self.miners, "books": self.books}

    def enter(self, returns: FloatArray) -> None:
        """Adds the returns ``(miners, books)`` that enter the windows (NaN: no return)."""
        self._update(returns, 1)

    def leave(self, returns: FloatArray) -> BoolArray:
        """Removes the returns ``(miners, books)`` that leave the windows (NaN: no return); returns
        the series to anchor at once (a large square left them: ``DRIFT_RATIO``)."""
        square = self._update(returns, -1)
        drifted: BoolArray = square > DRIFT_RATIO * np.maximum(self.squares, 0.0)
        return drifted

    def _update(self, returns: FloatArray, sign: int) -> FloatArray:
        """Adds (``sign`` 1) or removes (-1) the valid returns; returns their squared deviations."""
        valid = ~np.isnan(returns)
        d = np.where(valid, returns - self.shift, 0.0)
        square: FloatArray = d * d
        self.count += sign * valid
        self.nonzero += sign * (valid & (returns != 0))
        self.sum += sign * d
        self.squares += sign * square
        return square

    def _moments(self) -> tuple[IntArray, FloatArray, FloatArray]:
        """Per series: the count (at least 1), the mean deviation from the shift, the variance."""
        count = np.maximum(self.count, 1)
        deviation = self.sum / count
        return count, deviation, self.squares / count - deviation * deviation

    def stale(self) -> BoolArray:
        """The series whose shift is too far from their mean (``CANCELLATION``), or whose variance
        rounded to ≤ 0 with deviations left: to be anchored."""
        count, _, variance = self._moments()
        out: BoolArray = (self.squares > 0) & (self.squares > CANCELLATION * count * variance)
        return out

    def anchor(self, rows: IntArray, cols: IntArray, windows: FloatArray) -> None:
        """Recomputes the sums of the series ``(rows[i], cols[i])`` from their windows ``(k, L)``
        (oldest first)."""
        ok = np.isfinite(windows)
        pair = ok[:, 1:] & ok[:, :-1]
        r = np.where(pair, np.diff(np.where(ok, windows, 0.0), axis=-1), 0.0)
        n = pair.sum(axis=-1)
        c = r.sum(axis=-1) / np.maximum(n, 1)
        d = np.where(pair, r - c[:, None], 0.0)
        self.count[rows, cols] = n
        self.nonzero[rows, cols] = (pair & (r != 0)).sum(axis=-1)
        self.shift[rows, cols] = c
        self.sum[rows, cols] = d.sum(axis=-1)
        self.squares[rows, cols] = np.einsum("ij,ij->i", d, d)

    def forget(self, miner: int) -> None:
        """A miner whose history is all missing: no returns."""
        self.reset_entry(miner)

    def stds(self) -> FloatArray:
        """The population s.d. of every series' returns from the sums (0 for fewer than 2)."""
        _, _, variance = self._moments()
        out: FloatArray = np.where(self.count >= 2, np.sqrt(np.maximum(variance, 0.0)), 0.0)
        return out

    def sharpes(self, rows: BoolArray) -> tuple[FloatArray, BoolArray]:
        """The Sharpe ratio of every series of the miners ``rows`` from the sums (0 elsewhere), and
        the series the sums cannot tell (to be computed from their windows)."""
        some = rows[:, None] & (self.count >= 2) & (self.nonzero > 0)  # else 0: no or equal (0) returns
        count, deviation, variance = self._moments()
        mean = self.shift + deviation
        sure = some & (variance > UNSURE_VARIANCE * (variance + mean * mean))
        out = np.zeros(count.shape)
        np.divide(np.sqrt(count) * mean, np.sqrt(np.maximum(variance, 0.0)), out=out, where=sure)
        unsure: BoolArray = some & ~sure
        return out, unsure


class ScoreState(Persisted):
    """Per-miner, per-book scoring state of preset ``taos``; see the module docstring.

    Call :meth:`observe` once per observation step; read :meth:`scores` (the EMA scores, one per
    miner), :meth:`volume_24h` and :meth:`over_volume_cap`. A new or reset miner starts with score 0
    and activity 0, so it has to earn its score over time.

    Persisted (:mod:`taos.validator.persisted`): the arrays of ``STORED``, the counters and the
    parameters (``param.<name>``, checked against :attr:`params` when loaded; :meth:`params_of`
    reads them from a state), and the rolling sums (part ``returns``).
    """

    STORED: ClassVar[dict[str, Stored]] = {
        "values": Stored("float64", ("miners", "books", "window"), np.nan),
        "column_step": Stored("int64", ("window",), -1),
        "column_time_ns": Stored("int64", ("window",), -1),
        "volume": Stored("int64", ("miners", "books", "buckets")),
        # each history column's step volume (the Sharpe window's volume, exact): a ring like values
        "step_volume": Stored("int64", ("miners", "books", "window"), optional=True),
        # the volume of the last 24 h, exactly (the step volumes wait in the log until they leave)
        "day_volume": Stored("int64", ("miners", "books"), optional=True),
        "reset_step": Stored("int64", ("miners",), -1, optional=True),  # last step before a reset
        "log_taken": Stored("int64", ("1",), -1, optional=True),  # last step taken off day_volume
        # the rows of a log kept in memory (VolumeLog); empty when the validator's store keeps them
        "log_step": Stored("int64", ("log_rows",), optional=True),
        "log_time": Stored("int64", ("log_rows",), optional=True),
        "log_length": Stored("int64", ("log_rows",), optional=True),
        "log_cells": Stored("int32", ("log_entries",), optional=True),
        "log_volumes": Stored("int64", ("log_entries",), optional=True),
        "bucket_id": Stored("int64", ("buckets",), -1),
        "prev_traded": Stored("int64", ("miners", "books")),
        "activity": Stored("float64", ("miners", "books")),
        "score": Stored("float64", ("miners",)),
        "step_score": Stored("float64", ("miners",)),
        "counters": Stored("int64", ("4",)),  # columns written, observations, last step, last time
        **{_PARAM + f.name: Stored("float64" if f.type == "float" else "int64") for f in fields(ScoreParams)},
    }
    PARTS: ClassVar[dict[str, str]] = {"returns": "_sums"}

    def __init__(self, params: ScoreParams, miners: int, books: int) -> None:
        for name, n in (("miners", miners), ("books", books)):
            if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
                raise ValueError(f"{name} must be a positive integer, got {n!r}")
        self.params = params
        self.miners = miners
        self.books = books
        m, b = miners, books
        self._values: FloatArray
        self._column_step: IntArray
        self._column_time_ns: IntArray
        self._volume: IntArray
        self._step_volume: IntArray
        self._day_volume: IntArray
        self._reset_step: IntArray
        self._log_taken: IntArray
        self._bucket_id: IntArray
        self._log_step: IntArray
        self._log_time: IntArray
        self._log_length: IntArray
        self._log_cells: NDArray[np.int32]
        self._log_volumes: IntArray
        self.log: Any = VolumeLog()  # the step volumes of the last 24 h (a validator's store may keep them)
        self._loading_log: tuple[np.ndarray, np.ndarray] | None = None
        self._prev_traded: IntArray
        self._activity: FloatArray
        self._score: FloatArray
        self._step_score: FloatArray
        self.allocate()
        self._columns = 0  # history columns written (observations and boundaries)
        self._observations = 0
        self._last_step = -1
        self._last_time_ns = -1
        self._sums = ReturnSums(m, b)
        self._window_volume: IntArray = np.zeros((m, b), dtype=np.int64)  # the step_volume ring's sum
        self._sharpe: FloatArray = np.zeros((m, b))  # book_sharpes() of the history as of …
        self._sharpe_columns = -1  # … this many columns written (-1: not computed)
        self._sharpe_rows: BoolArray = np.ones(m, dtype=np.bool_)  # … for these miners
        self._sums_absent = False  # set while a state is loaded
        # the ring columns written since the last commit; None: unknown (the store compares)
        self._written: dict[str, set[int]] | None = None

    # --- reading ---------------------------------------------------------------------------------

    @property
    def last_step(self) -> int:
        """Step index of the latest observation (-1 before the first)."""
        return self._last_step

    @property
    def last_time_ns(self) -> int:
        """Simulation time of the latest observation (-1 before the first and after a boundary)."""
        return self._last_time_ns

    @property
    def observations(self) -> int:
        """Number of observations made since the state was created."""
        return self._observations

    def scores(self) -> FloatArray:
        """The EMA-smoothed scores, one per miner (a copy)."""
        return self._score.copy()

    def step_scores(self) -> FloatArray:
        """The unsmoothed scores of the latest observation, one per miner (a copy)."""
        return self._step_score.copy()

    def activity(self) -> FloatArray:
        """Activity factors ``(miners, books)`` (a copy)."""
        return self._activity.copy()

    def window_values(self) -> FloatArray:
        """Inventory-value history ``(miners, books, window)``, oldest first (a copy)."""
        pos = self._columns % self.params.window
        return np.concatenate((self._values[..., pos:], self._values[..., :pos]), axis=-1)

    def window_steps(self) -> IntArray:
        """Step index of each history column, oldest first; -1 for an empty column or a boundary."""
        pos = self._columns % self.params.window
        return np.concatenate((self._column_step[pos:], self._column_step[:pos]))

    def volume_24h_buckets(self) -> IntArray:
        """The 10-minute buckets' volume over the horizon, ending with the latest observation's
        bucket (23 h 50 min to 24 h: how the 24 h volume was kept before it was exact)."""
        if self._last_time_ns < 0:
            return np.zeros((self.miners, self.books), dtype=np.int64)
        k = self._last_time_ns // self.params.bucket_ns
        mask = (self._bucket_id > k - self.params.horizon_buckets) & (self._bucket_id <= k)
        out: IntArray = self._volume[..., mask].sum(axis=-1, dtype=np.int64)
        return out

    def volume_24h(self, time_ns: int | None = None) -> IntArray:
        """Traded volume ``(miners, books)`` of the observations within the volume horizon (24 h)
        before ``time_ns``, exactly: those observed after ``time_ns - horizon`` (default: the
        latest observation's time). ``time_ns`` may not be before the latest observation (the steps
        that left the horizon are gone).

        Raises:
            ValueError: ``time_ns`` before the latest observation."""
        t = self._last_time_ns if time_ns is None else _time(time_ns, "time_ns")
        if self._last_time_ns < 0:
            return np.zeros((self.miners, self.books), dtype=np.int64)
        if t < self._last_time_ns:
            raise ValueError(f"time_ns {t} is before the latest observation ({self._last_time_ns})")
        out = self._day_volume.copy()
        if t > self._last_time_ns:  # later: the rows that will have left by then
            self._subtract(
                out, self.log.rows_through(int(self._log_taken[0]), t - self.params.volume_horizon_ns)
            )
        return out

    def _subtract(self, day: IntArray, rows: list[VolumeRow]) -> int:
        """Takes ``rows`` off ``day`` (miners x books), but not a reset miner's volume of before its
        reset (already gone); returns the last row's step (-1 without rows)."""
        flat = day.reshape(-1)
        for row in rows:
            cells, volumes = row.cells, row.volumes
            before_reset = self._reset_step[cells // self.books] >= row.step
            if before_reset.any():
                cells, volumes = cells[~before_reset], volumes[~before_reset]
            np.subtract.at(flat, cells, volumes)
        return rows[-1].step if rows else -1

    def over_volume_cap(self, time_ns: int | None = None) -> BoolArray:
        """Miners x books whose 24 h volume reached the cap: they may only cancel there (SPEC §8)."""
        out: BoolArray = self.volume_24h(time_ns) >= self.params.cap
        return out

    def window_volume(self) -> IntArray:
        """Traded volume ``(miners, books)`` over the Sharpe window: exactly the steps of its
        history columns (the latest ``window`` observations), a copy."""
        return self._window_volume.copy()

    def book_sharpes(self, active: BoolArray | None = None) -> FloatArray:
        """Per-book Sharpe ratio ``(miners, books)`` over the current window (:func:`sharpe_batch`
        of :meth:`window_values`; 0 for fewer than 2 returns), as the scores use it (a copy).
        With ``active`` (a mask of miners) only those rows are computed; the others are 0."""
        rows = np.ones(self.miners, dtype=np.bool_) if active is None else np.asarray(active, dtype=np.bool_)
        if self._sharpe_columns != self._columns or not np.array_equal(rows, self._sharpe_rows):
            sharpes, unsure = self._sums.sharpes(rows)
            if unsure.any():  # near-zero variance: the full formula decides
                miner, book = np.nonzero(unsure)
                sharpes[miner, book] = sharpe_batch(self._windows(miner, book))
            self._sharpe = sharpes
            self._sharpe_columns, self._sharpe_rows = self._columns, rows
        return self._sharpe.copy()

    def last_book_sharpes(self) -> FloatArray:
        """The per-book Sharpe ratios ``(miners, books)`` as :meth:`book_sharpes` last computed
        them for the scores (0 before the first and for the miners it left out), a copy. Unlike
        :meth:`book_sharpes` it never computes, so another thread (a metrics scrape) may call it."""
        return self._sharpe.copy()

    def _windows(self, miners: IntArray, books: IntArray) -> FloatArray:
        """The value windows of the series ``(miners[i], books[i])``, ``(k, L)``, oldest first."""
        pos = self._columns % self.params.window
        values = self._values[miners, books]
        return np.concatenate((values[:, pos:], values[:, :pos]), axis=-1)

    def _write_column(self, values: FloatArray | float, step: int, time_ns: int) -> None:
        """Writes the next history column (over the oldest) and keeps the return sums: the return
        that leaves the window goes out, the one that enters comes in; then every series is
        anchored every ``ANCHOR_PERIOD`` columns, otherwise those that drifted
        (:class:`ReturnSums`)."""
        window, i = self.params.window, self._columns
        pos = i % window
        drifted = None
        if i >= window:  # the return between the oldest column and the next leaves
            drifted = self._sums.leave(self._values[..., (pos + 1) % window] - self._values[..., pos])
        previous = self._values[..., (i - 1) % window] if i >= 1 else np.nan
        self._values[..., pos] = values
        self._mark("values", pos)
        self._sums.enter(self._values[..., pos] - previous)
        self._column_step[pos] = step
        self._column_time_ns[pos] = time_ns
        self._columns += 1
        if self._columns % ANCHOR_PERIOD == 0:
            self._anchor_all()
            return
        stale = self._sums.stale()
        if drifted is not None:
            stale |= drifted
        if stale.any():
            self._anchor(*np.nonzero(stale))

    def _anchor(self, miners: IntArray, books: IntArray) -> None:
        self._sums.anchor(miners, books, self._windows(miners, books))

    def _anchor_all(self) -> None:
        """Anchors every series, a few miners at a time (the windows' copies stay small)."""
        for first in range(0, self.miners, _ANCHOR_BLOCK):
            rows = min(_ANCHOR_BLOCK, self.miners - first)
            miners, books = np.indices((rows, self.books)).reshape(2, -1)
            self._anchor(miners + first, books)

    def compute_step_scores(self, active: BoolArray | None = None, min_volume: float = 0.0) -> FloatArray:
        """The preset ``taos`` score of every miner from the current state, without changing it:
        per-book Sharpe over the window (a loss noisier than the book's typical counted miner's
        lowered by :func:`taos.scoring.penalize_noisy_losses`) → normalised → activity-weighted → median minus the
        outlier penalty across books (SPEC §9). A book counts only where the miner's volume over
        the window reached ``min_volume`` (money units; 0: every book): elsewhere its value is 0.
        With ``active`` (a mask of miners) only those miners are scored; the others score 0."""
        sharpes = self.book_sharpes(active)
        std = self._sums.stds()
        # the typical noise of a book: every miner that reached the minimum volume there, scored
        # now or not (so a miner's score does not depend on which others are scored this step)
        counted = self._window_volume >= min_volume
        sharpes = penalize_noisy_losses(sharpes, std, typical_std(std, counted))
        s_hat = normalize_sharpe(sharpes)
        w = activity_weighted(self._activity, s_hat)
        if min_volume > 0:
            w = np.where(counted, w, 0.0)
        out = taos_score_batch(w)
        if active is not None:
            out[~np.asarray(active, dtype=np.bool_)] = 0.0
        return out

    # --- updating --------------------------------------------------------------------------------

    def observe(
        self,
        step_index: int,
        time_ns: int,
        inventory_values: ArrayLike,
        traded_quote_totals: ArrayLike,
        active: ArrayLike | None = None,
        *,
        min_volume: float = 0.0,
    ) -> FloatArray:
        """Records one observation step and updates activity and scores; returns the step's
        unsmoothed scores. Every miner's values and volumes are recorded; with ``active`` (a mask
        of miners, e.g. the registered ones) only those are scored (their Sharpe windows
        computed), the others' step scores are 0 and their EMA scores decay toward 0.

        Args:
            step_index: strictly greater than the previous observation's.
            time_ns: simulation time, not before the previous observation's.
            inventory_values: ``(miners, books)`` floats; NaN for a missing value.
            traded_quote_totals: ``(miners, books)`` cumulative traded volume per account
                (integers ≥ 0). The step's volume is the increase; where a counter dropped (the
                account was reset) the whole new total is the volume since the reset.

        Raises:
            ValueError: a step index not after the last one, time going back, wrong shapes,
            non-integer or negative totals, or ±inf values. The state is unchanged then.
        """
        step = _time(step_index, "step_index")
        t = _time(time_ns, "time_ns")
        if step <= self._last_step:
            raise ValueError(f"step_index {step} is not after the last observed step {self._last_step}")
        if t < self._last_time_ns:
            raise ValueError(f"time_ns {t} is before the last observation's time {self._last_time_ns}")
        shape = (self.miners, self.books)
        values = np.asarray(inventory_values, dtype=np.float64)
        if values.shape != shape:
            raise ValueError(f"inventory_values must have shape {shape}, got {values.shape}")
        if np.isinf(values).any():
            raise ValueError("inventory_values must not contain ±inf (use NaN for a missing value)")
        totals = _totals(traded_quote_totals, shape)
        mask = None if active is None else np.asarray(active, dtype=np.bool_)
        if mask is not None and mask.shape != (self.miners,):
            raise ValueError(f"active must have shape {(self.miners,)}, got {mask.shape}")

        prev = self._prev_traded
        step_volume = np.where(totals >= prev, totals - prev, totals)
        self._prev_traded = totals

        p = self.params
        k = t // p.bucket_ns
        slot = int(k % p.ring_buckets)
        if self._bucket_id[slot] != k:
            self._volume[..., slot] = 0
            self._bucket_id[slot] = k
        self._volume[..., slot] += step_volume
        self._mark("volume", slot)
        self._day_volume += step_volume
        cells = np.flatnonzero(step_volume)
        self.log.append(VolumeRow(step, t, cells.astype(np.int32), step_volume.reshape(-1)[cells]))
        leaving = self.log.rows_through(int(self._log_taken[0]), t - p.volume_horizon_ns)
        if leaving:
            self._log_taken[0] = self._subtract(self._day_volume, leaving)
            self.log.forget_through(int(self._log_taken[0]))

        pos = self._columns % p.window  # the column written next: its step volume leaves the window
        self._window_volume += step_volume - self._step_volume[..., pos]
        self._step_volume[..., pos] = step_volume
        self._mark("step_volume", pos)
        self._write_column(values, step, t)
        self._observations += 1
        self._last_step = step
        self._last_time_ns = t

        traded_latest = self._volume[..., slot] > 0
        v = self._window_volume.astype(np.float64)
        self._activity = activity_factor(self._activity, v, p.cap, traded_latest, p.window)
        self._step_score = self.compute_step_scores(mask, min_volume)
        self._score = ema(self._score, self._step_score, p.alpha)
        return self._step_score.copy()

    def traded_totals_sum(self) -> IntArray:
        """Each miner's traded counters as last observed, summed over books: its traded volume in
        the running simulation (since its account started or was reset)."""
        out: IntArray = self._prev_traded.sum(axis=1)
        return out

    def mark_boundary(self) -> None:
        """Marks the start of a new simulation: writes a NaN history column for every miner (no
        return spans it), takes the traded counters as starting from 0 again and empties the volume
        buckets (the new simulation's accounts have traded nothing). Simulation time may start again
        from 0; step indices keep increasing. Activity factors and scores carry over."""
        self._step_volume[..., self._columns % self.params.window] = 0  # the boundary column's
        self._window_volume = self._step_volume.sum(axis=-1, dtype=np.int64)
        self._write_column(np.nan, -1, -1)
        self._prev_traded[...] = 0
        self._volume[...] = 0
        self._day_volume[...] = 0
        self._log_taken[0] = self._last_step  # the old simulation's rows are gone
        self.log.clear()
        self._written = None
        self._bucket_id[...] = -1
        self._last_time_ns = -1

    def reset_uid(self, uid: int) -> None:
        """Forgets a deregistered miner: score 0, empty (NaN) history, no volume, activity 0.

        Call it for the observation step in which the account was reset in the simulator: the
        traded counter is then taken to restart from 0 (a drop is also detected by itself).
        """
        if isinstance(uid, bool) or not isinstance(uid, (int, np.integer)) or not 0 <= uid < self.miners:
            raise ValueError(f"uid must be an integer in [0, {self.miners}), got {uid!r}")
        self._values[uid] = np.nan
        self._written = None  # every column of the uid's rows
        self._sums.forget(uid)
        self._sharpe_columns = -1
        self._volume[uid] = 0
        self._step_volume[uid] = 0
        self._window_volume[uid] = 0
        self._day_volume[uid] = 0
        self._reset_step[uid] = self._last_step  # its volume in the rows up to here is gone
        self._prev_traded[uid] = 0
        self._activity[uid] = 0.0
        self._score[uid] = 0.0
        self._step_score[uid] = 0.0

    # --- persistence -----------------------------------------------------------------------------

    def sizes(self) -> dict[str, int]:
        p = self.params
        return {
            "miners": self.miners,
            "books": self.books,
            "window": p.window,
            "buckets": p.ring_buckets,
            "4": 4,
            "1": 1,
            **self._log_sizes(),
        }

    def _log_rows(self) -> list[VolumeRow]:
        """The rows of the log when it is kept in memory (a store keeps its own)."""
        if not isinstance(self.log, VolumeLog):
            return []
        return self.log.rows_through(-(2**62), 2**62)

    def _log_sizes(self) -> dict[str, int]:
        if self._loading_log is not None:  # while loading: the sizes the rows were kept with
            return {
                k: len(v)
                for k, v in (("log_rows", self._loading_log[0]), ("log_entries", self._loading_log[1]))
            }
        rows = self._log_rows()
        return {"log_rows": len(rows), "log_entries": sum(len(r.cells) for r in rows)}

    def stored_array(self, name: str) -> np.ndarray:
        if name == "counters":
            return np.array(
                [self._columns, self._observations, self._last_step, self._last_time_ns], dtype=np.int64
            )
        if name.startswith(_PARAM):
            return np.array(getattr(self.params, name[len(_PARAM) :]), dtype=self.STORED[name].dtype)
        if name.startswith("log_") and name != "log_taken":
            rows = self._log_rows()
            if name in ("log_cells", "log_volumes"):
                parts = [r.cells if name == "log_cells" else r.volumes for r in rows]
                dtype = self.STORED[name].dtype
                return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype=dtype)
            field = {"log_step": "step", "log_time": "time_ns"}.get(name)
            values = [len(r.cells) for r in rows] if field is None else [getattr(r, field) for r in rows]
            return np.array(values, dtype=np.int64)
        return super().stored_array(name)

    def _mark(self, name: str, column: int) -> None:
        if self._written is not None:
            self._written[name].add(column)

    def written(self) -> dict[str, np.ndarray]:
        """The history and volume rings: the columns written since the last commit."""
        if self._written is None:
            return {}
        return {name: np.array(sorted(columns), dtype=np.int64) for name, columns in self._written.items()}

    def committed(self) -> None:
        self._written = {"values": set(), "volume": set(), "step_volume": set()}

    def allocate(self) -> None:
        super().allocate()
        self._written = None

    def reset_entry(self, index: int, dim: str = "miners") -> None:
        super().reset_entry(index, dim)
        self._written = None

    def put_array(self, name: str, a: np.ndarray) -> None:
        self._written = None
        if name == "counters":
            self._columns, self._observations, self._last_step, self._last_time_ns = (int(x) for x in a)
        elif name.startswith(_PARAM):
            field = name[len(_PARAM) :]
            if a.item() != getattr(self.params, field):
                raise ValueError(
                    f"array {name} is {a.item()!r}, this state's {field} is {getattr(self.params, field)!r}"
                )
        else:
            super().put_array(name, a)

    def before_load(self, arrays: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        self._sums_absent = not within(arrays, "returns")
        step, cells = arrays.get("log_step", np.zeros(0)), arrays.get("log_cells", np.zeros(0))
        self._loading_log = (np.asarray(step).reshape(-1), np.asarray(cells).reshape(-1))
        self.allocate_log()
        return arrays

    def allocate_log(self) -> None:
        for name in ("log_step", "log_time", "log_length", "log_cells", "log_volumes"):
            s = self.STORED[name]
            setattr(self, "_" + name, np.zeros(self.sizes()[s.dims[0]], dtype=s.dtype))

    def loaded(self, absent: frozenset[str]) -> None:
        columns, observations, last_step = self._columns, self._observations, self._last_step
        if columns < observations or observations < 0 or (observations > 0) != (last_step >= 0):
            raise ValueError("the counters are inconsistent")
        if (self._step_volume < 0).any():
            raise ValueError("step_volume must be >= 0")
        self._window_volume = self._step_volume.sum(axis=-1, dtype=np.int64)  # 0 if kept without it
        self._sharpe_columns = -1
        if self._sums_absent:  # kept before the rolling sums: built from the windows
            self._anchor_all()
        self._loading_log = None
        self.log.clear()
        if "day_volume" in absent:  # kept before the exact 24 h sums: from the 10-minute buckets
            self._day_volume_from_buckets()
            return
        if (self._day_volume < 0).any():
            raise ValueError("day_volume must be >= 0")
        self._rows_from_arrays()

    def _rows_from_arrays(self) -> None:
        """The rows of a log kept in memory, from the arrays they were stored in."""
        lengths = self._log_length
        if (lengths < 0).any() or int(lengths.sum()) != len(self._log_cells):
            raise ValueError("log_length must be >= 0 and sum to the length of log_cells")
        if (np.diff(self._log_step) <= 0).any() or (self._log_step > self._last_step).any():
            raise ValueError("log_step must increase and not pass the last step")
        if len(self._log_cells) and (
            (self._log_cells < 0).any() or (self._log_cells >= self.miners * self.books).any()
        ):
            raise ValueError("log_cells must be cells of this state")
        ends = np.cumsum(lengths)
        for i, (step, time_ns) in enumerate(
            zip(self._log_step.tolist(), self._log_time.tolist(), strict=True)
        ):
            at = slice(int(ends[i] - lengths[i]), int(ends[i]))
            self.log.append(
                VolumeRow(step, time_ns, self._log_cells[at].copy(), self._log_volumes[at].copy())
            )

    def _day_volume_from_buckets(self) -> None:
        """The 24 h volume of a state kept with 10-minute buckets only: their sum, each bucket
        logged as one row at its start (on steps before the latest), so that it leaves the horizon
        a bucket at a time; exact again a day later."""
        self._day_volume[...] = self.volume_24h_buckets()
        p = self.params
        latest = -1 if self._last_time_ns < 0 else self._last_time_ns // p.bucket_ns
        ids = np.sort(
            self._bucket_id[(self._bucket_id >= 0) & (self._bucket_id > latest - p.horizon_buckets)]
        )
        steps = self._last_step - (len(ids) - 1 - np.arange(len(ids)))
        self._log_taken[0] = int(steps.min(initial=self._last_step + 1)) - 1
        for k, step in zip(ids.tolist(), steps.tolist(), strict=True):
            volume = self._volume[..., int(np.flatnonzero(self._bucket_id == k)[0])].reshape(-1)
            cells = np.flatnonzero(volume)
            self.log.append(VolumeRow(step, k * p.bucket_ns, cells.astype(np.int32), volume[cells]))

    def use_log(self, log: Any) -> None:
        """Keeps the step volumes in ``log`` from now on (a :class:`VolumeLog` or one with its
        methods, e.g. the validator store's), with the rows kept so far."""
        for row in self.log.rows_through(-(2**62), 2**62):
            log.append(row)
        self.log = log

    @staticmethod
    def params_of(arrays: Mapping[str, np.ndarray]) -> ScoreParams | None:
        """The parameters a state was kept with (``param.<name>``); None when it has none.

        Raises:
            ValueError: a parameter that is missing, not a number, or out of its range."""
        if not any(k.startswith(_PARAM) for k in arrays):
            return None
        kwargs: dict[str, Any] = {}
        for f in fields(ScoreParams):
            a = np.asarray(arrays.get(_PARAM + f.name, np.zeros(0)))
            if a.shape != () or a.dtype.kind not in "if":
                raise ValueError(f"score state parameter {f.name} must be a number")
            kwargs[f.name] = float(a) if f.type == "float" else int(a)
        return ScoreParams(**kwargs)

    @classmethod
    def restored(cls, arrays: Mapping[str, np.ndarray], miners: int, books: int) -> ScoreState:
        """A state of ``miners`` x ``books`` loaded from ``arrays`` (``state_of``'s), with the
        parameters it was kept with."""
        params = cls.params_of(arrays)
        if params is None:
            raise ValueError("score state: the parameters (param.*) are missing")
        out = cls(params, miners, books)
        load_state(out, arrays, "score state")
        return out


def _time(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise ValueError(f"{name} must be >= 0, got {value}")
    return int(value)


def _totals(totals: ArrayLike, shape: tuple[int, int]) -> IntArray:
    a = np.asarray(totals)
    if a.shape != shape:
        raise ValueError(f"traded_quote_totals must have shape {shape}, got {a.shape}")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all() or (a != np.round(a)).any():
            raise ValueError("traded_quote_totals must be whole numbers")
    elif a.dtype.kind not in "iu":
        raise ValueError(f"traded_quote_totals must be integers, got dtype {a.dtype}")
    if (a < 0).any():
        raise ValueError("traded_quote_totals must be >= 0")
    return a.astype(np.int64)
