"""Each miner's portfolio value: the sum over books of its inventory values, a book without a
value this step (one-sided) counting with its last finite value."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import ArrayLike

from taos.validator.schemes.ptn.common import (
    FloatArray,
    _count,
    _load,
    _uid,
)


class PortfolioValues:
    """Each miner's portfolio value: ``Σ_b V_b``, ``V_b = quote_b + mid_b · base_b`` (the validator's
    ``inventory_values``). A book whose value is NaN in a step (no two-sided book) counts with the
    miner's last finite value of that book; a book never valued yet makes the portfolio NaN."""

    def __init__(self, miners: int, books: int) -> None:
        self.miners, self.books = _count(miners, "miners"), _count(books, "books")
        self._last: FloatArray = np.full((self.miners, self.books), np.nan)

    def update(self, inventory_values: ArrayLike) -> FloatArray:
        """Takes a step's ``(miners, books)`` inventory values; returns the portfolio values."""
        v = np.asarray(inventory_values, dtype=np.float64)
        if v.shape != (self.miners, self.books):
            raise ValueError(f"inventory_values must have shape {(self.miners, self.books)}, got {v.shape}")
        self._last = np.where(np.isfinite(v), v, self._last)
        return self.values()

    def values(self) -> FloatArray:
        """The current portfolio values (NaN where a book was never valued)."""
        out: FloatArray = self._last.sum(axis=1)
        return out

    def reset_uid(self, uid: int) -> None:
        self._last[_uid(uid, self.miners)] = np.nan

    def to_state(self) -> dict[str, np.ndarray]:
        return {"last_book_values": self._last.copy()}

    @classmethod
    def from_state(cls, state: Mapping[str, np.ndarray], miners: int, books: int) -> PortfolioValues:
        out = cls(miners, books)
        out._last = _load(state, {"last_book_values": ("float64", (miners, books))}, "portfolio")[
            "last_book_values"
        ]
        return out


# --- elimination ------------------------------------------------------------------------------------
