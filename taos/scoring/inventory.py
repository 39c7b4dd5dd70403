"""Inventory value of a miner's account on one book (SPEC §9).

``V = quote_total + P · base_total`` where the price ``P`` depends on the method. The book is shared
by every miner, so the function takes one book and arrays of balances (one entry per miner) and
returns one value per miner.

Book format: ``bids`` and ``asks`` are arrays of shape ``(levels, 2)`` whose rows are
``(price, quantity)``, best level first (bids by falling price, asks by rising price). An empty side
may be given as ``[]`` or an array of shape ``(0, 2)``. Levels with quantity 0 are ignored. A
crossed book (best bid ≥ best ask) is not checked for: the matching engine never leaves one.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from taos.scoring._arrays import FloatArray, as_float, broadcast_shape, positive_scalar

InventoryMethod = Literal["midquote", "best_bid", "liquidation"]
INVENTORY_METHODS: tuple[str, ...] = ("midquote", "best_bid", "liquidation")


def _levels(levels: ArrayLike, name: str, best_first_descending: bool) -> tuple[FloatArray, FloatArray]:
    """Prices and quantities of one book side, validated; zero-quantity levels removed."""
    arr = as_float(levels, name)
    if arr.size == 0:
        empty = np.zeros(0, dtype=np.float64)
        return empty, empty
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(
            f"{name} must have shape (levels, 2) with rows (price, quantity), got shape {arr.shape}"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite prices and quantities")
    price, qty = arr[:, 0], arr[:, 1]
    if np.any(price <= 0.0):
        raise ValueError(f"{name} prices must be > 0")
    if np.any(qty < 0.0):
        raise ValueError(f"{name} quantities must be >= 0")
    steps = np.diff(price)
    if best_first_descending and np.any(steps > 0.0):
        raise ValueError(f"{name} must be ordered best first (prices falling)")
    if not best_first_descending and np.any(steps < 0.0):
        raise ValueError(f"{name} must be ordered best first (prices rising)")
    keep = qty > 0.0
    return price[keep], qty[keep]


def _walk(price: FloatArray, qty: FloatArray, amount: FloatArray) -> FloatArray:
    """Quote exchanged when ``amount`` (≥ 0) of base is traded against the levels best first.

    What exceeds the visible depth is traded at the last (worst) level's price.
    """
    cum_qty = np.cumsum(qty)
    before_qty = np.concatenate(([0.0], cum_qty[:-1]))
    before_quote = np.concatenate(([0.0], np.cumsum(price * qty)[:-1]))
    # First level whose cumulative quantity reaches the amount; past the last level, the last level.
    j = np.minimum(np.searchsorted(cum_qty, amount, side="left"), price.size - 1)
    out: FloatArray = before_quote[j] + (amount - before_qty[j]) * price[j]
    return out


def _exchanged(price: FloatArray, qty: FloatArray, amount: FloatArray, missing: float) -> FloatArray:
    """:func:`_walk` on a non-empty side; on an empty side ``amount · missing`` (0 for no amount)."""
    if price.size:
        return _walk(price, qty, amount)
    out: FloatArray = np.where(amount == 0.0, 0.0, amount * missing)
    return out


def inventory_value(
    quote_total: ArrayLike,
    base_total: ArrayLike,
    bids: ArrayLike,
    asks: ArrayLike,
    method: InventoryMethod = "midquote",
    fallback_price: float | None = None,
) -> FloatArray:
    """Inventory value ``V = quote_total + P · base_total`` of each miner on one book.

    Methods (SPEC §9; the subnet-79 reference uses ``midquote``):

    - ``midquote``: ``P = (best bid + best ask) / 2``. With one side empty, ``P`` is the best price
      of the other side.
    - ``best_bid``: ``P = best bid`` (the price at which one lot can be sold now), for any sign of
      ``base_total``.
    - ``liquidation``: the quote a market order would get for the whole base now. A positive base is
      sold into the bids level by level; a negative base (possible only once margin exists) is bought
      back from the asks, so ``V = quote - cost``. What exceeds the visible depth is valued at the
      last (worst) visible level's price: the book is assumed to continue at that price rather than to
      end (the state a validator holds is the visible depth, so valuing the rest at 0 would punish
      holdings for a display limit).

    Missing prices: when the side a method needs is empty (``best_bid`` without bids,
    ``liquidation`` without bids for a long / asks for a short, ``midquote`` with both sides empty),
    the base is valued at ``fallback_price`` (e.g. the last trade price) if given, otherwise the
    value is NaN — which the Sharpe window then drops (see :func:`taos.scoring.sharpe`). A miner
    with ``base_total == 0`` needs no price: its value is ``quote_total`` whatever the book.

    Args:
        quote_total, base_total: balances, scalars or arrays that broadcast (one entry per miner).
        bids, asks: book levels as described in the module docstring; prices > 0, quantities ≥ 0.
        method: one of ``"midquote"``, ``"best_bid"``, ``"liquidation"``.
        fallback_price: price (> 0) used when the book lacks the price the method needs.

    Returns:
        float64 array of the broadcast shape of the balances (0-d for scalar balances).
        NaN in a balance gives NaN for that miner; ±inf gives a non-finite value; never a warning.

    Raises:
        ValueError: unknown method, balances that do not broadcast, a malformed or unordered book,
        or a fallback price that is not a finite positive number.
    """
    if method not in INVENTORY_METHODS:
        raise ValueError(
            f"unknown inventory method {method!r}; expected one of {', '.join(INVENTORY_METHODS)}"
        )
    quote = as_float(quote_total, "quote_total")
    base = as_float(base_total, "base_total")
    shape = broadcast_shape("quote_total", quote, "base_total", base)
    quote = np.broadcast_to(quote, shape)
    base = np.broadcast_to(base, shape)
    bid_px, bid_qty = _levels(bids, "bids", best_first_descending=True)
    ask_px, ask_qty = _levels(asks, "asks", best_first_descending=False)
    fallback = None if fallback_price is None else positive_scalar(fallback_price, "fallback_price")
    missing = np.nan if fallback is None else fallback

    with np.errstate(all="ignore"):  # non-finite balances give non-finite values, silently
        if method == "liquidation":
            # Amounts to sell and to buy back; a NaN base stays NaN in both.
            sell = np.where(base < 0.0, 0.0, base)
            buy = np.where(base > 0.0, 0.0, -base)
            proceeds = _exchanged(bid_px, bid_qty, sell, missing)
            cost = _exchanged(ask_px, ask_qty, buy, missing)
            value = quote + proceeds - cost
        else:
            if method == "best_bid":
                price = bid_px[0] if bid_px.size else missing
            elif bid_px.size and ask_px.size:
                price = (bid_px[0] + ask_px[0]) / 2.0
            elif bid_px.size or ask_px.size:
                price = bid_px[0] if bid_px.size else ask_px[0]
            else:
                price = missing
            value = quote + price * base
        # A zero base needs no price (and NaN · 0 would be NaN).
        out: FloatArray = np.where(base == 0.0, quote, value).astype(np.float64)
    return out
