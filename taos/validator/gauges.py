"""The validator's market and miner gauges, computed when Prometheus scrapes.

A validator of 256 miners on 20 books would set thousands of gauges a step if every value were a
``Gauge``; instead, each step leaves a :class:`MarketView` (references to arrays the validator
keeps anyway, plus a few small per-step sums), and :class:`MarketCollector` turns the latest view
into metric families only when ``/metrics`` is read (every 15 s or so, in the metrics server's
thread). The per-step part (:meth:`MarketTotals.observe`) is a handful of whole-array numpy
operations over the step's trades (about 0.25 ms for 25,000 events); everything else waits for
the scrape.

Per book (label ``book``): mid price, spread and the quantity at the best bid and ask (label
``side``), from the step's book levels; traded volume and trade count (counters, from the step's
trade events). Per miner (label ``uid``, one series per registered uid, summed or averaged over
the books): inventory value, PnL against holding the starting inventory, fees paid, maker and taker
volume (counters), activity factor and Sharpe ratio. Vitals: registered miners and the size of the
state folder. Meanings and units: docs/validator.md ("Metrics and alerts").

Thread safety: the collector only reads. Each step builds a new view and new totals and swaps
them in by one assignment; what a view refers to is replaced, not changed in place, by the
validator (the step's ``BookLevels`` and account arrays and its ``MarketSnapshot`` are new objects
every step, the score state's activity and Sharpe arrays are reassigned), so a scrape sees one
step's values, or at worst values of two consecutive steps. Nothing here calls the simulator
from the scrape thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from taos.simulator import EventKind

PREFIX = "taos_validator"
_TRADE = int(EventKind.TRADE)

_BOOK = (
    (
        "book_mid_price",
        "Mid price of a book ((best bid + best ask) / 2), in quote currency per unit of base.",
    ),
    ("book_spread", "Best ask minus best bid of a book, in quote currency per unit of base."),
)
_TOUCH = ("book_touch_depth", "Quantity resting at the best price of a book's side, in units of base.")
_BOOK_COUNTERS = (
    ("book_traded_volume", "Traded notional on a book since the validator started, in quote currency."),
    ("book_trades", "Trades on a book since the validator started."),
)
_MINER = (
    (
        "miner_inventory_value",
        "A miner's inventory (quote + base x mid) summed over the books with a mid, in quote currency.",
    ),
    (
        "miner_pnl",
        "A miner's inventory value minus what its starting inventory is worth at today's mids, summed "
        "over the books with a mid, in quote currency.",
    ),
    (
        "miner_fees_paid",
        "Fees a miner paid (negative: net rebates) summed over the books, since its accounts were "
        "opened or reset in the current simulation, in quote currency.",
    ),
    ("miner_activity", "A miner's activity factor (0 to 2) averaged over the books."),
    ("miner_sharpe", "Median over the books of a miner's Sharpe ratio over the scoring window."),
)
_MINER_COUNTERS = (
    (
        "miner_maker_volume",
        "Notional a miner traded as maker (its resting order filled) since the validator started or "
        "the uid was reset, in quote currency.",
    ),
    (
        "miner_taker_volume",
        "Notional a miner traded as taker (its incoming order filled) since the validator started or "
        "the uid was reset, in quote currency.",
    ),
)
_VITALS = (
    ("miners_registered", "Registered uids in the validator's last metagraph (with a miner series each)."),
    (
        "state_folder_bytes",
        "Bytes of the files in the validator's state folder (checkpoints, journals, database).",
    ),
)


@dataclass(frozen=True)
class MarketTotals:
    """Running sums over the steps this process saw, in engine quote units (floats: a sum of
    integers exact up to 2^53 units). A new object each step: a scrape reads one consistent set."""

    book_volume: np.ndarray  # [books]
    book_trades: np.ndarray  # [books]
    maker_volume: np.ndarray  # [slots]
    taker_volume: np.ndarray  # [slots]

    @staticmethod
    def empty(slots: int, books: int) -> MarketTotals:
        return MarketTotals(np.zeros(books), np.zeros(books), np.zeros(slots), np.zeros(slots))

    def observe(self, events: np.ndarray) -> MarketTotals:
        """These totals plus the trades among ``events`` (a step's ``EVENT_DTYPE`` records: for a
        trade, ``agent`` is the taker and ``other_agent`` the maker)."""
        trades = events[np.flatnonzero(events["kind"] == _TRADE)]
        if not len(trades):
            return self
        books, slots = len(self.book_volume), len(self.maker_volume)
        notional = trades["notional_quote"].astype(np.float64)
        book, taker, maker = trades["book"], trades["agent"], trades["other_agent"]
        mine_t, mine_m = taker < slots, maker < slots
        return MarketTotals(
            self.book_volume + np.bincount(book, weights=notional, minlength=books)[:books],
            self.book_trades + np.bincount(book, minlength=books)[:books],
            self.maker_volume + np.bincount(maker[mine_m], weights=notional[mine_m], minlength=slots),
            self.taker_volume + np.bincount(taker[mine_t], weights=notional[mine_t], minlength=slots),
        )

    def forget(self, uid: int) -> MarketTotals:
        """These totals with ``uid``'s volumes back at 0 (a new miner on the uid)."""
        if not 0 <= uid < len(self.maker_volume):
            return self
        maker, taker = self.maker_volume.copy(), self.taker_volume.copy()
        maker[uid] = taker[uid] = 0.0
        return replace(self, maker_volume=maker, taker_volume=taker)


@dataclass(frozen=True)
class MarketView:
    """What a scrape reads, as of the latest step (engine units; ``quote_units`` per unit of quote
    currency, ``tick_size`` and ``lot_size`` convert ticks and lots)."""

    market: Any  # the validator's MarketSnapshot of the step (mid, base, quote per miner and book)
    history: Any  # the scoring scheme's ScoreState (activity, Sharpe)
    books: Sequence[Any]  # the step's BookLevels, one per book (best bid and ask)
    accounts: Sequence[np.ndarray]  # the step's miner accounts (ACCOUNT_DTYPE), one array per book
    registered: Sequence[int]  # uids with a series (those below the slots)
    slots: int
    neutral_lots: int  # the starting base of a miner on a book, in lots
    starting_quote: float  # the starting quote of a miner on a book, in quote units
    quote_units: int
    tick_size: float
    lot_size: float
    state_folder: Path | None


def touch_of(books: Sequence[Any]) -> np.ndarray:
    """Best bid and ask (ticks, lots) per book from a step's ``BookLevels``; NaN for an empty side."""
    out = np.full((len(books), 4), np.nan)
    for b, levels in enumerate(books):
        bids, asks = levels.bids, levels.asks
        if len(bids):
            out[b, 0], out[b, 1] = bids["price_ticks"][0], bids["qty_lots"][0]
        if len(asks):
            out[b, 2], out[b, 3] = asks["price_ticks"][0], asks["qty_lots"][0]
    return out


def fees_of(accounts: Sequence[np.ndarray], slots: int) -> np.ndarray:
    """Each miner's ``fees_paid`` summed over the books (one account per miner and book)."""
    fees = np.zeros(slots, dtype=np.int64)
    for acc in accounts:
        fees[acc["agent"]] += acc["fees_paid"]  # an agent appears once per book
    return fees


def folder_bytes(folder: Path) -> int:
    """Total size of the files under ``folder``; files that vanish while it is read are skipped."""
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                continue
    return total


class MarketCollector:
    """A prometheus-client collector of the latest :class:`MarketView` and :class:`MarketTotals`
    of ``source`` (an object with attributes ``market_view`` and ``market_totals``, either None
    before the first step)."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def describe(self) -> Iterator[Any]:
        """The families without samples (the registry checks names with it, without a scrape)."""
        return self._families(None, None)

    def collect(self) -> Iterator[Any]:
        view, totals = self.source.market_view, self.source.market_totals
        if view is None or totals is None:
            return iter(())
        return self._families(view, totals)

    def _families(self, view: MarketView | None, totals: MarketTotals | None) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        book_gauges = [GaugeMetricFamily(f"{PREFIX}_{n}", h, labels=["book"]) for n, h in _BOOK]
        touch = GaugeMetricFamily(f"{PREFIX}_{_TOUCH[0]}", _TOUCH[1], labels=["book", "side"])
        book_counters = [CounterMetricFamily(f"{PREFIX}_{n}", h, labels=["book"]) for n, h in _BOOK_COUNTERS]
        miner_gauges = [GaugeMetricFamily(f"{PREFIX}_{n}", h, labels=["uid"]) for n, h in _MINER]
        miner_counters = [CounterMetricFamily(f"{PREFIX}_{n}", h, labels=["uid"]) for n, h in _MINER_COUNTERS]
        registered, folder = (GaugeMetricFamily(f"{PREFIX}_{n}", h) for n, h in _VITALS)
        if view is not None and totals is not None:
            self._books(view, totals, book_gauges, touch, book_counters)
            self._miners(view, totals, miner_gauges, miner_counters)
            registered.add_metric([], float(len(_uids(view))))
            if view.state_folder is not None:
                folder.add_metric([], float(folder_bytes(view.state_folder)))
        yield from book_gauges
        yield touch
        yield from book_counters
        yield from miner_gauges
        yield from miner_counters
        yield registered
        if view is None or view.state_folder is not None:
            yield folder

    @staticmethod
    def _books(
        view: MarketView, totals: MarketTotals, gauges: list[Any], touch: Any, counters: list[Any]
    ) -> None:
        t = touch_of(view.books)
        bid, bid_lots, ask, ask_lots = t[:, 0], t[:, 1], t[:, 2], t[:, 3]
        mid = (bid + ask) / 2 * view.tick_size
        spread = (ask - bid) * view.tick_size
        volume = totals.book_volume / view.quote_units
        for b in range(len(t)):
            label = str(b)
            if np.isfinite(mid[b]):
                gauges[0].add_metric([label], float(mid[b]))
                gauges[1].add_metric([label], float(spread[b]))
            touch.add_metric(
                [label, "bid"], 0.0 if np.isnan(bid_lots[b]) else float(bid_lots[b]) * view.lot_size
            )
            touch.add_metric(
                [label, "ask"], 0.0 if np.isnan(ask_lots[b]) else float(ask_lots[b]) * view.lot_size
            )
            counters[0].add_metric([label], float(volume[b]))
            counters[1].add_metric([label], float(totals.book_trades[b]))

    @staticmethod
    def _miners(view: MarketView, totals: MarketTotals, gauges: list[Any], counters: list[Any]) -> None:
        uids = _uids(view)
        if not len(uids):
            return
        market, q = view.market, float(view.quote_units)
        mid = market.mid_ticks  # [books], NaN without a mid
        priced = np.isfinite(mid)
        base = market.base_lots[uids][:, priced].astype(np.float64)
        quote = market.quote_units[uids][:, priced].astype(np.float64)
        value = (quote + mid[priced] * base).sum(axis=1) / q
        pnl = ((quote - view.starting_quote) + mid[priced] * (base - view.neutral_lots)).sum(axis=1) / q
        fees = fees_of(view.accounts, view.slots)[uids] / q
        history = view.history
        activity = history.activity()[uids]
        sharpe = history.last_book_sharpes()[uids]
        columns = (value, pnl, fees, row_mean(activity), row_median(sharpe))
        maker, taker = totals.maker_volume[uids] / q, totals.taker_volume[uids] / q
        for i, uid in enumerate(uids.tolist()):
            label = [str(uid)]
            for family, column in zip(gauges, columns, strict=True):
                x = float(column[i])
                if np.isfinite(x):
                    family.add_metric(label, x)
            counters[0].add_metric(label, float(maker[i]))
            counters[1].add_metric(label, float(taker[i]))


def _uids(view: MarketView) -> np.ndarray:
    return np.array(sorted({u for u in view.registered if 0 <= u < view.slots}), dtype=np.int64)


def row_mean(x: np.ndarray) -> np.ndarray:
    """The mean of each row's finite values; NaN for a row without one (no warning)."""
    finite = np.isfinite(x)
    count = finite.sum(axis=1)
    total = np.where(finite, x, 0.0).sum(axis=1)
    return np.divide(total, count, out=np.full(len(x), np.nan), where=count > 0)


def row_median(x: np.ndarray) -> np.ndarray:
    """The median of each row's finite values; NaN for a row without one (no warning)."""
    finite = np.isfinite(x)
    count = finite.sum(axis=1)
    ordered = np.sort(np.where(finite, x, np.inf), axis=1)  # the finite values first
    out = np.full(len(x), np.nan)
    rows = np.flatnonzero(count > 0)
    if len(rows):
        n = count[rows]
        low = ordered[rows, (n - 1) // 2]
        high = ordered[rows, n // 2]
        out[rows] = (low + high) / 2
    return out


def market_view(validator: Any, result: Any, registered: Sequence[int]) -> MarketView:
    """The view of ``validator`` after the step that produced ``result``."""
    slots = validator.slots
    store = validator.store
    folder = getattr(store, "directory", None) if store is not None else None
    units = validator.units
    return MarketView(
        market=validator.market,
        history=validator.scores,
        books=result.books,
        accounts=result.accounts,
        registered=tuple(registered),
        slots=slots,
        neutral_lots=int(validator.neutral_lots),
        starting_quote=float(validator.core.miner_quote),
        quote_units=int(units.quote_units),
        tick_size=float(units.tick_size),
        lot_size=float(units.lot_size),
        state_folder=Path(folder) if folder is not None else None,
    )
