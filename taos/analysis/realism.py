"""Market realism: the facts a trader meets in a market, measured against the targets of real liquid
markets (SPEC §5; docs/models.md, "Realism").

What is measured, per book, after a warm-up (``WARMUP_S``, 15 minutes by default):

- **returns**: log returns of the mid sampled every minute (the last mid at or before each minute);
  the autocorrelation of ``r`` and of ``|r|`` (lags 1…30) and the excess kurtosis (population
  moments, :func:`taos.analysis.excess_kurtosis`);
- **depth**: the base quantity resting within ``DEPTH_TICKS`` (10) ticks of the mid on each side at
  every step; its 30-minute rolling median against its overall median, and its minimum;
- **spread**: the quoted spread in ticks at every step, and the steps at which a side is empty;
- **flicker**: the steps at which the mid moves more than ``FLICKER_TICKS`` (10) ticks and the next
  step moves it back by at least half of that.

A :class:`Realism` is these figures averaged over books (autocorrelations are averaged lag by lag
before the targets are applied, so ``mean |rho_k|`` for k = 2...10 is the mean of the absolute values
of the book-averaged autocorrelations); :func:`combine` averages the reports of several seeds and
keeps the spread over seeds. :func:`checks` applies the targets (:data:`TARGETS`) and
:func:`report_text` prints them with pass/fail. The square-root impact law is measured by
``benchmarks/realism.py`` (a metaorder experiment, not a property of a recorded run); a report can
carry its fitted exponent. With it that benchmark reports how tightly the mid is held to the
fundamental (:func:`gap_stats`) and the market's own order-flow imbalance (:func:`flow_imbalance`),
the figures that explain the impact's shape (docs/models.md, "Why the pinned market's impact was
linear").

The step data come either from a running simulation (:class:`Recorder`, fed with each step's
levels, as ``taos local`` does for ``summary.json``) or from a run folder (:func:`run_series`:
``prices.parquet`` and ``l2.parquet``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from taos.analysis.stylized import autocorrelation, excess_kurtosis

S = 1_000_000_000
WARMUP_S = 900.0
DEPTH_TICKS = 10
FLICKER_TICKS = 10
ROLLING_S = 1_800.0
RETURN_INTERVAL_S = 60.0
LAGS = 30
# The return and depth-stability targets are judged from one hour of 1-minute returns per book
# on: on fewer, the autocorrelations at lags up to 10 and the kurtosis are too noisy to say
# pass or fail, and two 30-minute windows of depth do not exist yet (the report says n/a).
MIN_RETURNS = 60
PROFILE_TICKS = 30  # the depth profile: mean quantity at 0.5 … PROFILE_TICKS ticks from the mid

# The targets (issue "Market realism"): name → human-readable target.
TARGETS = {
    "rho1": "|rho_1| <= 0.10",
    "rho2_10": "mean |rho_k|, k = 2..10, <= 0.05",
    "kurtosis": "excess kurtosis >= 3",
    "abs_acf_1_10": "|r| autocorrelation >= 0.1 at lags 1-10 (smallest)",
    "abs_acf_30": "|r| autocorrelation > 0 at lag 30",
    "depth_stability": "30-min rolling median depth >= 1/2 its overall median (worst book, side)",
    "depth_floor": "depth >= 5 % of a miner's starting base (smallest, any step)",
    "spread": "median quoted spread <= 2 ticks",
    "two_sided": "both sides present at every step",
    "flicker": "steps with a > 10-tick move reversed the next step <= 1 %",
    "impact": "metaorder impact concave, exponent 0.4-0.7",
}


@dataclass
class BookSeries:
    """One book, one value per step: time, best bid and ask in ticks (NaN when the side is empty),
    the base quantity within ``DEPTH_TICKS`` of the mid per side (NaN without a mid)."""

    time_ns: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    bid_depth: np.ndarray
    ask_depth: np.ndarray
    fundamental: np.ndarray | None = None  # ticks


class Recorder:
    """Collects :class:`BookSeries` from step results, and the depth profile after ``warmup_s``.

    ``add(time_ns, book, bids, asks)`` takes one book's levels (records with ``price_ticks`` and
    ``qty_lots``, best first) as ``StepResult.books[b].bids`` / ``.asks`` hold them; they must
    reach ``DEPTH_TICKS`` beyond the touch (21 levels do). Memory: 5 floats per book and step."""

    def __init__(self, books: int, lot_size: float, warmup_s: float = WARMUP_S) -> None:
        if books < 1:
            raise ValueError(f"books must be >= 1, got {books}")
        self.books = books
        self.lot_size = float(lot_size)
        self.warmup_ns = round(warmup_s * S)
        self._rows: list[list[tuple[int, float, float, float, float, float]]] = [[] for _ in range(books)]
        self.profile = np.zeros((2, PROFILE_TICKS))  # summed quantity per side and distance
        self.profile_steps = 0

    def add(
        self, time_ns: int, book: int, bids: np.ndarray, asks: np.ndarray, fundamental: float = math.nan
    ) -> None:
        bid = float(bids["price_ticks"][0]) if len(bids) else math.nan
        ask = float(asks["price_ticks"][0]) if len(asks) else math.nan
        if len(bids) and len(asks):
            mid = 0.5 * (bid + ask)
            bp = bids["price_ticks"].astype(float)
            ap = asks["price_ticks"].astype(float)
            bq = bids["qty_lots"] * self.lot_size
            aq = asks["qty_lots"] * self.lot_size
            bd = float(bq[bp >= mid - DEPTH_TICKS].sum())
            ad = float(aq[ap <= mid + DEPTH_TICKS].sum())
            if time_ns >= self.warmup_ns:
                for s, (p, q) in enumerate(((mid - bp, bq), (ap - mid, aq))):
                    d = np.ceil(p).astype(np.int64) - 1  # 0.5 → bin 0, 1 → 0, 1.5 → 1 ...
                    keep = (d >= 0) & (d < PROFILE_TICKS)
                    np.add.at(self.profile[s], d[keep], q[keep])
                if book == self.books - 1:
                    self.profile_steps += 1
        else:
            bd = ad = math.nan
        self._rows[book].append((time_ns, bid, ask, bd, ad, fundamental))

    def series(self) -> list[BookSeries]:
        out = []
        for rows in self._rows:
            a = np.array(rows, dtype=float).reshape(-1, 6)
            out.append(BookSeries(a[:, 0].astype(np.int64), a[:, 1], a[:, 2], a[:, 3], a[:, 4], a[:, 5]))
        return out

    def depth_profile(self) -> np.ndarray:
        """Mean base quantity per step at each distance bin from the mid: shape (2, PROFILE_TICKS),
        bids then asks; bin i holds prices (i, i + 1] ticks from the mid."""
        return self.profile / max(self.profile_steps, 1)


@dataclass
class BookFacts:
    returns: np.ndarray  # 1-minute log returns after the warm-up
    acf: np.ndarray  # of r, lags 1..LAGS
    abs_acf: np.ndarray  # of |r|
    kurtosis: float
    spreads: np.ndarray  # ticks, steps with both sides after the warm-up
    one_sided: int  # steps after the warm-up with a side empty
    steps: int  # steps after the warm-up
    flicker_steps: int
    move_steps: int  # steps at which a flicker could be judged
    depth_ratio: float  # min over sides of (min 30-min rolling median / overall median)
    depth_min: float  # min over sides and steps after the warm-up, base units
    depth_median: float  # median over steps of the smaller side
    mid_gap_ticks: float  # mean |mid - fundamental| when given, else NaN


def _minute_mids(t: np.ndarray, mid: np.ndarray, start_ns: int, interval_ns: int) -> np.ndarray:
    ok = np.isfinite(mid)
    t, mid = t[ok], mid[ok]
    if t.size == 0 or t[-1] < start_ns:
        return np.array([])
    grid = np.arange(max(start_ns, int(t[0])), int(t[-1]) + 1, interval_ns, dtype=np.int64)
    return mid[np.searchsorted(t, grid, side="right") - 1]


def _rolling_median_min(x: np.ndarray, window: int) -> float:
    """The smallest median of ``window`` consecutive values (every 1/12 of a window)."""
    x = x[np.isfinite(x)]
    if x.size == 0:
        return math.nan
    if x.size <= window:
        return float(np.median(x))
    stride = max(1, window // 12)
    return float(min(np.median(x[i : i + window]) for i in range(0, x.size - window + 1, stride)))


def book_facts(s: BookSeries, *, warmup_s: float = WARMUP_S) -> BookFacts:
    """The facts of one book's step series (see the module's docstring)."""
    start = round(warmup_s * S)
    after = s.time_ns >= start
    t = s.time_ns[after]
    bid, ask = s.bid[after], s.ask[after]
    two = np.isfinite(bid) & np.isfinite(ask)
    mid = np.where(two, 0.5 * (bid + ask), np.nan)
    mids = _minute_mids(t, mid, start, round(RETURN_INTERVAL_S * S))
    r = np.diff(np.log(mids)) if mids.size > 1 else np.array([])
    dm = np.diff(mid)
    judged = np.isfinite(dm[:-1]) & np.isfinite(dm[1:])
    big = np.abs(dm[:-1]) > FLICKER_TICKS
    back = (np.sign(dm[1:]) == -np.sign(dm[:-1])) & (np.abs(dm[1:]) >= 0.5 * np.abs(dm[:-1]))
    gaps = np.diff(t)
    step_s = float(np.median(gaps[gaps > 0])) / S if np.any(gaps > 0) else 5.0
    window = max(1, round(ROLLING_S / max(step_s, 1e-9)))
    ratios, mins = [], []
    for side in (s.bid_depth[after], s.ask_depth[after]):
        d = side[np.isfinite(side)]
        med = float(np.median(d)) if d.size else math.nan
        ratios.append(_rolling_median_min(d, window) / med if med > 0 else math.nan)
        mins.append(float(d.min()) if d.size else math.nan)
    smaller = np.fmin(s.bid_depth[after], s.ask_depth[after])
    gap = math.nan
    if s.fundamental is not None and np.any(two & np.isfinite(s.fundamental[after])):
        gap = float(np.nanmean(np.abs(mid - s.fundamental[after])))
    return BookFacts(
        returns=r,
        acf=autocorrelation(r, LAGS) if r.size else np.full(LAGS, np.nan),
        abs_acf=autocorrelation(np.abs(r), LAGS) if r.size else np.full(LAGS, np.nan),
        kurtosis=excess_kurtosis(r),
        spreads=(ask - bid)[two],
        one_sided=int((~two).sum()),
        steps=int(t.size),
        flicker_steps=int((judged & big & back).sum()),
        move_steps=int(judged.sum()),
        depth_ratio=min(ratios),
        depth_min=min(mins),
        depth_median=float(np.nanmedian(smaller)) if np.any(np.isfinite(smaller)) else math.nan,
        mid_gap_ticks=gap,
    )


@dataclass
class Realism:
    """The facts of one market (or the mean of several seeds' markets, see :func:`combine`)."""

    books: int
    returns: int  # 1-minute returns per book (mean)
    acf: np.ndarray  # book-averaged, lags 1..LAGS
    abs_acf: np.ndarray
    kurtosis: float
    kurtosis_books: tuple[float, ...]
    spread_median: float
    spread_p99: float
    one_sided: int
    flicker: float  # fraction of judged steps
    depth_ratio: float  # worst book and side
    depth_min: float
    depth_median: float  # median over books of the smaller side's median
    mid_gap_ticks: float
    miner_base: float  # one miner's starting base per book (the depth floor's reference)
    warmup_s: float = WARMUP_S
    steps: int = 0  # book-steps after the warm-up
    seeds: int = 1
    spread_over_seeds: dict[str, tuple[float, float]] = field(default_factory=dict)
    impact_exponent: float | None = None
    impact_concave: bool | None = None
    # kept for the plots (one market only)
    pooled_returns: np.ndarray = field(default_factory=lambda: np.array([]))
    spreads: np.ndarray = field(default_factory=lambda: np.array([]))
    depth_profile: np.ndarray | None = None

    @property
    def rho1(self) -> float:
        return float(self.acf[0])

    @property
    def rho2_10(self) -> float:
        return float(np.mean(np.abs(self.acf[1:10])))

    @property
    def abs_acf_1_10(self) -> float:
        return float(np.min(self.abs_acf[:10]))

    @property
    def abs_acf_30(self) -> float:
        return float(self.abs_acf[29]) if self.abs_acf.size >= 30 else math.nan

    def figures(self) -> dict[str, float]:
        """The values the targets apply to, by target name."""
        return {
            "rho1": self.rho1,
            "rho2_10": self.rho2_10,
            "kurtosis": self.kurtosis,
            "abs_acf_1_10": self.abs_acf_1_10,
            "abs_acf_30": self.abs_acf_30,
            "depth_stability": self.depth_ratio,
            "depth_floor": self.depth_min / self.miner_base if self.miner_base > 0 else math.nan,
            "spread": self.spread_median,
            "two_sided": float(self.one_sided) if self.steps else math.nan,
            "flicker": self.flicker,
        }

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None), without the plot data."""

        def num(x: Any) -> Any:
            if isinstance(x, (list, tuple, np.ndarray)):
                return [num(v) for v in x]
            x = float(x)
            return x if math.isfinite(x) else None

        return {
            "books": self.books,
            "seeds": self.seeds,
            "returns_per_book": self.returns,
            "warmup_s": self.warmup_s,
            "raw_autocorrelation": num(self.acf),
            "abs_autocorrelation": num(self.abs_acf),
            "excess_kurtosis": num(self.kurtosis),
            "excess_kurtosis_books": num(self.kurtosis_books),
            "spread_median_ticks": num(self.spread_median),
            "spread_p99_ticks": num(self.spread_p99),
            "one_sided_steps": self.one_sided,
            "steps": self.steps,
            "flicker_fraction": num(self.flicker),
            "depth_ratio": num(self.depth_ratio),
            "depth_min": num(self.depth_min),
            "depth_median": num(self.depth_median),
            "mid_fundamental_gap_ticks": num(self.mid_gap_ticks),
            "miner_base": num(self.miner_base),
            "impact_exponent": None if self.impact_exponent is None else num(self.impact_exponent),
            "checks": [
                {"name": c.name, "value": num(c.value), "target": c.target, "ok": c.ok} for c in checks(self)
            ],
            "spread_over_seeds": {k: num(v) for k, v in self.spread_over_seeds.items()},
        }


def realism(
    series: Sequence[BookSeries],
    *,
    miner_base: float,
    warmup_s: float = WARMUP_S,
    depth_profile: np.ndarray | None = None,
) -> Realism:
    """The facts of one market from its books' step series."""
    if not series:
        raise ValueError("no books")
    facts = [book_facts(s, warmup_s=warmup_s) for s in series]
    spreads = np.concatenate([f.spreads for f in facts])
    judged = sum(f.move_steps for f in facts)
    with np.errstate(all="ignore"):
        return Realism(
            books=len(series),
            returns=round(float(np.mean([f.returns.size for f in facts]))),
            acf=_nanmean_rows([f.acf for f in facts]),
            abs_acf=_nanmean_rows([f.abs_acf for f in facts]),
            kurtosis=_nanmean([f.kurtosis for f in facts]),
            kurtosis_books=tuple(f.kurtosis for f in facts),
            spread_median=float(np.median(spreads)) if spreads.size else math.nan,
            spread_p99=float(np.percentile(spreads, 99)) if spreads.size else math.nan,
            one_sided=sum(f.one_sided for f in facts),
            flicker=sum(f.flicker_steps for f in facts) / judged if judged else math.nan,
            depth_ratio=_nanmin([f.depth_ratio for f in facts]),
            depth_min=_nanmin([f.depth_min for f in facts]),
            depth_median=_nanmedian([f.depth_median for f in facts]),
            mid_gap_ticks=_nanmean([f.mid_gap_ticks for f in facts]),
            miner_base=miner_base,
            warmup_s=warmup_s,
            steps=sum(f.steps for f in facts),
            pooled_returns=np.concatenate(
                [
                    (f.returns - f.returns.mean()) / f.returns.std()
                    for f in facts
                    if f.returns.size > 1 and f.returns.std() > 0
                ]
                or [np.array([])]
            ),
            spreads=spreads,
            depth_profile=depth_profile,
        )


def _nanmean(x: Sequence[float]) -> float:
    a = np.asarray(x, dtype=float)
    return float(np.nanmean(a)) if np.any(np.isfinite(a)) else math.nan


def _nanmedian(x: Sequence[float]) -> float:
    a = np.asarray(x, dtype=float)
    return float(np.nanmedian(a)) if np.any(np.isfinite(a)) else math.nan


def _nanmin(x: Sequence[float]) -> float:
    a = np.asarray(x, dtype=float)
    return float(np.nanmin(a)) if np.any(np.isfinite(a)) else math.nan


def _nanmean_rows(rows: Sequence[np.ndarray]) -> np.ndarray:
    a = np.vstack(rows)
    out = np.full(a.shape[1], np.nan)
    ok = np.isfinite(a).any(axis=0)
    out[ok] = np.nanmean(a[:, ok], axis=0)
    return out


def combine(reports: Sequence[Realism]) -> Realism:
    """Several seeds' markets: averages (autocorrelations lag by lag, kurtosis, spread median, flicker)
    and the worst of the "never" figures (depth, one-sided steps), with each target figure's
    range over the seeds in ``spread_over_seeds``."""
    if not reports:
        raise ValueError("no reports")
    first = reports[0]
    figures = [r.figures() for r in reports]
    spread = {k: (_nanmin([f[k] for f in figures]), -_nanmin([-f[k] for f in figures])) for k in figures[0]}
    return replace(
        first,
        books=first.books,
        returns=round(float(np.mean([r.returns for r in reports]))),
        acf=_nanmean_rows([r.acf for r in reports]),
        abs_acf=_nanmean_rows([r.abs_acf for r in reports]),
        kurtosis=_nanmean([r.kurtosis for r in reports]),
        kurtosis_books=tuple(k for r in reports for k in r.kurtosis_books),
        spread_median=_nanmean([r.spread_median for r in reports]),
        spread_p99=_nanmean([r.spread_p99 for r in reports]),
        one_sided=sum(r.one_sided for r in reports),
        steps=sum(r.steps for r in reports),
        flicker=_nanmean([r.flicker for r in reports]),
        depth_ratio=_nanmin([r.depth_ratio for r in reports]),
        depth_min=_nanmin([r.depth_min for r in reports]),
        depth_median=_nanmean([r.depth_median for r in reports]),
        mid_gap_ticks=_nanmean([r.mid_gap_ticks for r in reports]),
        seeds=sum(r.seeds for r in reports),
        spread_over_seeds=spread,
        pooled_returns=np.concatenate([r.pooled_returns for r in reports]),
        spreads=np.concatenate([r.spreads for r in reports]),
        depth_profile=_mean_profile(reports),
    )


def _mean_profile(reports: Sequence[Realism]) -> np.ndarray | None:
    profiles = [r.depth_profile for r in reports if r.depth_profile is not None]
    return np.mean(profiles, axis=0) if len(profiles) == len(reports) else None


@dataclass(frozen=True)
class Check:
    name: str
    value: float
    target: str
    ok: bool | None  # None: not measurable (too short a run, or not measured)


# Whether each figure meets its target (the order of the report).
_HOLDS: dict[str, Callable[[float], bool]] = {
    "rho1": lambda v: abs(v) <= 0.10,
    "rho2_10": lambda v: v <= 0.05,
    "kurtosis": lambda v: v >= 3,
    "abs_acf_1_10": lambda v: v >= 0.1,
    "abs_acf_30": lambda v: v > 0,
    "depth_stability": lambda v: v >= 0.5,
    "depth_floor": lambda v: v >= 0.05,
    "spread": lambda v: v <= 2,
    "two_sided": lambda v: v == 0,
    "flicker": lambda v: v <= 0.01,
}
# Judged from MIN_RETURNS returns per book on.
_NEEDS_LENGTH = {"rho1", "rho2_10", "kurtosis", "abs_acf_1_10", "abs_acf_30", "depth_stability"}


def checks(r: Realism) -> list[Check]:
    """Each target with its value and whether it holds (None: not measurable)."""
    f = r.figures()
    short = r.returns < MIN_RETURNS
    out = [
        Check(
            name,
            f[name],
            TARGETS[name],
            None if not math.isfinite(f[name]) or (short and name in _NEEDS_LENGTH) else bool(holds(f[name])),
        )
        for name, holds in _HOLDS.items()
    ]
    if r.impact_exponent is not None:
        e = r.impact_exponent
        out.append(Check("impact", e, TARGETS["impact"], bool(0.4 <= e <= 0.7 and bool(r.impact_concave))))
    return out


def report_text(r: Realism) -> str:
    """The targets as a table: value, target, pass/FAIL (n/a when not measurable)."""
    head = (
        f"realism: {r.books} books x {r.seeds} seed{'s' if r.seeds != 1 else ''}, "
        f"{r.returns} one-minute returns per book after {r.warmup_s / 60:g} min of warm-up"
    )
    lines = [head]
    for c in checks(r):
        mark = "n/a " if c.ok is None else ("pass" if c.ok else "FAIL")
        span = r.spread_over_seeds.get(c.name)
        extra = f"  (seeds {span[0]:.3g} … {span[1]:.3g})" if span and r.seeds > 1 else ""
        lines.append(f"  {mark}  {c.name:<16} {c.value:>9.3g}   {c.target}{extra}")
    lines.append(
        f"  acf  r  lags 1-10: {' '.join(f'{x:+.2f}' for x in r.acf[:10])}\n"
        f"  acf |r| lags 1-10: {' '.join(f'{x:+.2f}' for x in r.abs_acf[:10])}  lag 30: {r.abs_acf_30:+.3f}\n"
        f"  spread p99 {r.spread_p99:.3g} ticks; depth within {DEPTH_TICKS} ticks (smaller side) median "
        f"{r.depth_median:.4g}, min {r.depth_min:.4g} base; |mid - fundamental| mean {r.mid_gap_ticks:.3g} ticks"
    )
    return "\n".join(lines)


def run_series(run: Any, warmup_s: float = WARMUP_S) -> tuple[list[BookSeries], np.ndarray]:
    """A run folder's step series (:class:`BookSeries` per book) and its depth profile after the
    warm-up, from ``prices.parquet`` and ``l2.parquet``."""
    import pyarrow.parquet as pq

    from taos.analysis.layout import L2_FILE
    from taos.config import loads

    cfg = loads(run.config_text)
    tick = cfg.market.tick_size
    prices = run.prices.sort_values(["book", "time_ns"])
    l2 = pq.read_table(
        run.path / L2_FILE, columns=["time_ns", "book", "side", "price", "quantity"]
    ).to_pandas()
    l2_price = np.rint(l2["price"].to_numpy(dtype=float) / tick)
    series = []
    profile = np.zeros((2, PROFILE_TICKS))
    steps_after = 0
    warm = round(warmup_s * S)
    for b in range(run.books):
        p = prices[prices["book"] == b]
        t = p["time_ns"].to_numpy(dtype=np.int64)
        bid = np.rint(p["best_bid"].to_numpy(dtype=float) / tick)  # whole ticks, as recorded
        ask = np.rint(p["best_ask"].to_numpy(dtype=float) / tick)
        mid = 0.5 * (bid + ask)
        sel = (l2["book"] == b).to_numpy()
        lt = l2["time_ns"].to_numpy(dtype=np.int64)[sel]
        idx = np.searchsorted(t, lt)
        idx = np.clip(idx, 0, max(t.size - 1, 0))
        m = mid[idx] if t.size else np.array([])
        is_bid = l2["side"].to_numpy()[sel] == "bid"
        price = l2_price[sel]
        qty = l2["quantity"].to_numpy(dtype=float)[sel]
        dist = np.where(is_bid, m - price, price - m)
        within = dist <= DEPTH_TICKS
        bd = np.bincount(idx[is_bid & within], weights=qty[is_bid & within], minlength=t.size)
        ad = np.bincount(idx[~is_bid & within], weights=qty[~is_bid & within], minlength=t.size)
        two = np.isfinite(mid)
        bd = np.where(two, bd, np.nan)
        ad = np.where(two, ad, np.nan)
        late = (lt >= warm) & np.isfinite(dist)
        d = np.ceil(dist).astype(np.int64, copy=False) - 1 if dist.size else dist.astype(np.int64)
        keep = late & (d >= 0) & (d < PROFILE_TICKS)
        np.add.at(profile[0], d[keep & is_bid], qty[keep & is_bid])
        np.add.at(profile[1], d[keep & ~is_bid], qty[keep & ~is_bid])
        steps_after += int((t >= warm).sum())
        fund = p["fundamental"].to_numpy(dtype=float) / tick
        series.append(BookSeries(t, bid, ask, bd, ad, fund))
    return series, profile / max(steps_after / max(run.books, 1), 1)


def run_realism(run: Any, warmup_s: float = WARMUP_S) -> Realism:
    """The realism facts of a loaded run folder (``taos.analysis.load_run``)."""
    from taos.config import loads

    cfg = loads(run.config_text)
    series, profile = run_series(run, warmup_s)
    return realism(series, miner_base=miner_base(cfg), warmup_s=warmup_s, depth_profile=profile)


def miner_base(cfg: Any) -> float:
    """One miner's starting base per book: its wealth's base share at the start price."""
    return float(cfg.miners.wealth * cfg.miners.base_fraction / cfg.market.start_price)


REALISM_PLOTS = (
    "realism_returns.png",
    "realism_autocorrelation.png",
    "realism_spread.png",
    "realism_depth_profile.png",
)


def plot_realism(r: Realism, out_dir: str | Path, impact: Impact | None = None) -> list[Path]:
    """Writes the realism plots into ``out_dir``: the distribution of standardized 1-minute returns
    against a Gaussian (log scale), the autocorrelations of r and |r| with 95 % bands, the spread
    histogram, the depth profile and, with ``impact``, the impact curve (``realism_impact.png``)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []

    def figure() -> tuple[Figure, Any]:
        fig = Figure(figsize=(6.5, 4.0), layout="constrained")
        FigureCanvasAgg(fig)
        return fig, fig.subplots()

    fig, ax = figure()
    x = r.pooled_returns
    if x.size:
        edges = np.linspace(-8, 8, 65)
        dens, _ = np.histogram(x, bins=edges, density=True)
        centres = 0.5 * (edges[1:] + edges[:-1])
        ax.semilogy(centres[dens > 0], dens[dens > 0], "o", ms=3, label=f"1-min returns ({x.size})")
        ax.semilogy(centres, np.exp(-0.5 * centres**2) / math.sqrt(2 * math.pi), label="Gaussian")
        ax.set_ylim(max(0.5 / x.size, 1e-6), 1)
    ax.set_xlabel("return / its standard deviation (per book)")
    ax.set_ylabel("density")
    ax.set_title(f"returns: excess kurtosis {r.kurtosis:.2f}")
    ax.legend(fontsize="small")
    paths.append(out / REALISM_PLOTS[0])
    fig.savefig(paths[-1], dpi=100)

    fig, ax = figure()
    lags = np.arange(1, r.acf.size + 1)
    band = 1.96 / math.sqrt(max(r.returns * r.books * r.seeds, 1))
    ax.axhspan(-band, band, color="0.85", label="95 % band (iid)")
    ax.axhline(0, color="0.3", lw=0.8)
    ax.plot(lags, r.acf, "o-", ms=3, label="r")
    ax.plot(lags, r.abs_acf, "s-", ms=3, label="|r|")
    ax.set_xlabel("lag (minutes)")
    ax.set_ylabel("autocorrelation (mean over books)")
    ax.legend(fontsize="small")
    paths.append(out / REALISM_PLOTS[1])
    fig.savefig(paths[-1], dpi=100)

    fig, ax = figure()
    if r.spreads.size:
        top = int(min(np.percentile(r.spreads, 99.9), 60)) + 1
        ax.hist(np.clip(r.spreads, 0, top), bins=np.arange(0.5, top + 1.5), density=True)
    ax.set_xlabel("quoted spread (ticks)")
    ax.set_ylabel("share of steps")
    ax.set_title(f"spread: median {r.spread_median:g} ticks")
    paths.append(out / REALISM_PLOTS[2])
    fig.savefig(paths[-1], dpi=100)

    fig, ax = figure()
    if r.depth_profile is not None:
        d = np.arange(1, PROFILE_TICKS + 1)
        ax.bar(-d + 0.5, r.depth_profile[0], width=0.9, label="bids")
        ax.bar(d - 0.5, r.depth_profile[1], width=0.9, label="asks")
        ax.legend(fontsize="small")
    ax.set_xlabel("distance from the mid (ticks)")
    ax.set_ylabel("mean quantity (base)")
    ax.set_title("depth profile after the warm-up")
    paths.append(out / REALISM_PLOTS[3])
    fig.savefig(paths[-1], dpi=100)

    if impact is not None:
        fig, ax = figure()
        ax.loglog(impact.fractions, impact.impacts, "o", label="measured")
        q = np.geomspace(min(impact.fractions), max(impact.fractions), 50)
        ax.loglog(q, impact.prefactor * q**impact.exponent, label=f"fit: exponent {impact.exponent:.2f}")
        ax.set_xlabel("metaorder size / hourly volume")
        ax.set_ylabel("impact (mean log price change)")
        ax.legend(fontsize="small")
        paths.append(out / "realism_impact.png")
        fig.savefig(paths[-1], dpi=100)
    return paths


# The pinning of the mid to the fundamental (docs/models.md, "Why the pinned market's impact was linear"): lags at
# which the autocorrelation of ln(mid / fundamental) is reported, and the window over which the
# market's own net order flow is measured (the impact experiment's metaorder duration).
PINNING_LAGS_S = (5.0, 60.0, 600.0)
FLOW_WINDOW_S = 600.0


@dataclass(frozen=True)
class Pinning:
    """How tightly a market holds its mid to the fundamental, and how large its own order-flow
    imbalance is: ``gap_sd_bp``, the s.d. of ln(mid / fundamental) in basis points; ``gap_acf``, its
    autocorrelation at ``PINNING_LAGS_S`` (the relaxation of a displacement); ``imbalance``, the
    s.d. of the net aggressor volume over ``FLOW_WINDOW_S`` windows as a fraction of the hourly
    volume. Each is the mean over books (NaN where nothing could be measured)."""

    gap_sd_bp: float
    gap_acf: tuple[float, ...]
    imbalance: float


def gap_stats(
    series: Sequence[BookSeries], *, warmup_s: float = WARMUP_S, lags_s: Sequence[float] = PINNING_LAGS_S
) -> tuple[float, tuple[float, ...]]:
    """The s.d. of ln(mid / fundamental) in bp and its autocorrelation at ``lags_s`` (converted to
    steps with the series' median step; :func:`taos.analysis.stylized.autocorrelation`), mean over
    the books that carry a fundamental. Steps without a mid or a fundamental are dropped."""
    sds: list[float] = []
    acfs: list[list[float]] = []
    for s in series:
        if s.fundamental is None:
            continue
        after = s.time_ns >= round(warmup_s * S)
        with np.errstate(all="ignore"):
            g = np.log(0.5 * (s.bid[after] + s.ask[after]) / s.fundamental[after]) * 1e4
        g = g[np.isfinite(g)]
        if g.size < 2:
            continue
        gaps = np.diff(s.time_ns[after])
        step_s = float(np.median(gaps[gaps > 0])) / S if np.any(gaps > 0) else math.nan
        steps = [round(lag / step_s) if step_s > 0 else 0 for lag in lags_s]
        acf = autocorrelation(g, max([*steps, 1]))
        sds.append(float(np.std(g)))
        acfs.append([float(acf[k - 1]) if k >= 1 else math.nan for k in steps])
    if not sds:
        return math.nan, tuple(math.nan for _ in lags_s)
    return _nanmean(sds), tuple(_nanmean([r[i] for r in acfs]) for i in range(len(lags_s)))


def flow_imbalance(signed: np.ndarray, volume: np.ndarray, window_steps: int, hour_steps: int) -> float:
    """The s.d. over consecutive ``window_steps`` windows of the net aggressor volume (``signed``:
    buyer-initiated minus seller-initiated base per step and book, shape (steps, books)) as a
    fraction of the book's mean hourly volume (``volume``: base traded per step and book; an hour
    is ``hour_steps`` steps), mean over books with volume and at least two windows."""
    signed, volume = np.asarray(signed, dtype=float), np.asarray(volume, dtype=float)
    if signed.shape != volume.shape or signed.ndim != 2:
        raise ValueError(f"signed {signed.shape} and volume {volume.shape} must be the same (steps, books)")
    if window_steps < 1 or hour_steps < 1:
        raise ValueError(f"window_steps ({window_steps}) and hour_steps ({hour_steps}) must be >= 1")
    n = signed.shape[0] // window_steps
    if n < 2:
        return math.nan
    net = signed[: n * window_steps].reshape(n, window_steps, -1).sum(axis=1)
    hourly = volume.mean(axis=0) * hour_steps
    with np.errstate(all="ignore"):
        per_book = np.where(hourly > 0, net.std(axis=0) / hourly, np.nan)
    return _nanmean(per_book.tolist())


@dataclass(frozen=True)
class Impact:
    """A metaorder experiment: sizes as fractions of the hourly volume, the mean impact of each, and
    the power-law fit ``impact = prefactor · fraction^exponent`` (least squares in log-log)."""

    fractions: tuple[float, ...]
    impacts: tuple[float, ...]
    exponent: float
    prefactor: float

    @classmethod
    def fit(cls, fractions: Sequence[float], impacts: Sequence[float]) -> Impact:
        q, i = np.asarray(fractions, dtype=float), np.asarray(impacts, dtype=float)
        ok = (q > 0) & (i > 0)
        if ok.sum() < 2:
            return cls(tuple(q), tuple(i), math.nan, math.nan)
        slope, icept = np.polyfit(np.log(q[ok]), np.log(i[ok]), 1)
        return cls(tuple(q), tuple(i), float(slope), float(math.exp(icept)))

    @property
    def concave(self) -> bool:
        return bool(math.isfinite(self.exponent) and self.exponent < 1)


def bootstrap_se(
    samples: np.ndarray, statistic: Callable[[np.ndarray], float], resamples: int = 400, seed: int = 0
) -> float:
    """Bootstrap standard error of ``statistic(column means of samples)``: the rows (one metaorder
    start, with its impact at every size) are resampled with replacement, keeping each row whole so
    that sizes measured from the same start stay paired. NaN cells are left out of the means. NaN
    with fewer than two rows, or when under half of the resamples give a finite statistic."""
    rows = np.asarray(samples, dtype=float)
    if rows.ndim != 2:
        raise ValueError(f"samples must be a 2-D array (starts x sizes), got {rows.ndim} dimension(s)")
    if resamples < 2:
        raise ValueError(f"resamples must be at least 2, got {resamples}")
    if len(rows) < 2:
        return math.nan
    rng = np.random.default_rng(seed)
    values = []
    for pick in rng.integers(0, len(rows), size=(resamples, len(rows))):
        chosen = rows[pick]
        counts = np.isfinite(chosen).sum(axis=0)
        means = np.where(counts > 0, np.nansum(chosen, axis=0) / np.maximum(counts, 1), np.nan)
        values.append(statistic(means))
    finite = np.array([v for v in values if math.isfinite(v)])
    return float(finite.std()) if 2 * len(finite) >= resamples else math.nan
