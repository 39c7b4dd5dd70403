"""Each miner's portfolio value: the sum over books of its inventory values, a book without a
value this step (one-sided) counting with its last finite value."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from taos.validator.persisted import Persisted, Stored
from taos.validator.schemes.ptn.common import (
    FloatArray,
    _count,
    _uid,
)


class PortfolioValues(Persisted):
    """Each miner's portfolio value: ``Σ_b V_b``, ``V_b = quote_b + mid_b · base_b`` (the validator's
    ``inventory_values``). A book whose value is NaN in a step (no two-sided book) counts with the
    miner's last finite value of that book; a book never valued yet makes the portfolio NaN."""

    STORED: ClassVar[dict[str, Stored]] = {"last_book_values": Stored("float64", ("miners", "books"), np.nan)}

    def __init__(self, miners: int, books: int) -> None:
        self.miners, self.books = _count(miners, "miners"), _count(books, "books")
        self._last_book_values: FloatArray
        self.allocate()

    def sizes(self) -> dict[str, int]:
        return {"miners": self.miners, "books": self.books}

    def update(self, inventory_values: ArrayLike) -> FloatArray:
        """Takes a step's ``(miners, books)`` inventory values; returns the portfolio values."""
        v = np.asarray(inventory_values, dtype=np.float64)
        if v.shape != (self.miners, self.books):
            raise ValueError(f"inventory_values must have shape {(self.miners, self.books)}, got {v.shape}")
        self._last_book_values = np.where(np.isfinite(v), v, self._last_book_values)
        return self.values()

    def values(self) -> FloatArray:
        """The current portfolio values (NaN where a book was never valued)."""
        out: FloatArray = self._last_book_values.sum(axis=1)
        return out

    def reset_uid(self, uid: int) -> None:
        self.reset_entry(_uid(uid, self.miners))
