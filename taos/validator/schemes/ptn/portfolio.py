"""Each miner's portfolio value: the sum over books of its inventory values, a book without a
value this step (one-sided) counting with its last finite value.

Across simulations the value is chained: a new simulation starts every account anew, so its first
value is scaled to the last value of the simulation before (:meth:`PortfolioValues.boundary`), and
the drawdowns, challenge returns and ledger see one continuous series in which the boundary itself
is no change at all (SPEC §8-9: no observation spans a boundary)."""

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

    STORED: ClassVar[dict[str, Stored]] = {
        "last_book_values": Stored("float64", ("miners", "books"), np.nan),
        # the chain across simulations: the factor of this simulation's values (NaN: set by the
        # first value after a boundary) and the chained value the simulation before ended with
        "scale": Stored("float64", ("miners",), 1.0, optional=True),
        "carry": Stored("float64", ("miners",), np.nan, optional=True),
    }

    def __init__(self, miners: int, books: int) -> None:
        self.miners, self.books = _count(miners, "miners"), _count(books, "books")
        self._last_book_values: FloatArray
        self._scale: FloatArray
        self._carry: FloatArray
        self.allocate()

    def sizes(self) -> dict[str, int]:
        return {"miners": self.miners, "books": self.books}

    def update(self, inventory_values: ArrayLike) -> FloatArray:
        """Takes a step's ``(miners, books)`` inventory values; returns the portfolio values."""
        v = np.asarray(inventory_values, dtype=np.float64)
        if v.shape != (self.miners, self.books):
            raise ValueError(f"inventory_values must have shape {(self.miners, self.books)}, got {v.shape}")
        self._last_book_values = np.where(np.isfinite(v), v, self._last_book_values)
        raw = self._last_book_values.sum(axis=1)
        first = np.isnan(self._scale) & np.isfinite(raw) & (raw > 0)
        if first.any():  # the first value after a boundary continues the chain
            self._scale[first] = np.where(
                np.isfinite(self._carry[first]), self._carry[first] / raw[first], 1.0
            )
            self._carry[first] = np.nan
        return self.values()

    def values(self) -> FloatArray:
        """The current portfolio values (NaN where a book was never valued, or before the first
        value of a new simulation)."""
        out: FloatArray = self._last_book_values.sum(axis=1) * self._scale
        return out

    def boundary(self) -> None:
        """A new simulation starts: its accounts start anew, so its values are scaled to continue
        each miner's chained value from where the simulation before ended."""
        last = self.values()
        self._carry = np.where(np.isfinite(last), last, self._carry)
        self._scale[:] = np.nan
        self._last_book_values[:] = np.nan

    def reset_uid(self, uid: int) -> None:
        self.reset_entry(_uid(uid, self.miners))
