"""Argument checks shared by the scoring functions (private).

Every check raises ``ValueError`` with a message that names the argument and the problem, so a
caller sees which input was wrong rather than a numpy broadcasting error deep inside a formula.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
IntArray = NDArray[np.int64]


def as_float(x: ArrayLike, name: str) -> FloatArray:
    """``x`` as a float64 array of any shape; non-numeric input is a ``ValueError``."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{name} must be numeric: {e}") from None
    return arr


def as_float_1d(x: ArrayLike, name: str) -> FloatArray:
    """``x`` as a one-dimensional float64 array (length 0 allowed)."""
    arr = as_float(x, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def as_bool(x: ArrayLike, name: str) -> BoolArray:
    """``x`` as a boolean array. Only boolean input is accepted (no silent truthiness of floats);
    an empty input (``[]`` has dtype float64) is an empty boolean array."""
    arr = np.asarray(x)
    if arr.size == 0:
        return arr.astype(np.bool_)
    if arr.dtype != np.bool_:
        raise ValueError(f"{name} must be boolean, got dtype {arr.dtype}")
    return arr


def broadcast_shape(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> tuple[int, ...]:
    """The broadcast shape of ``a`` and ``b``, or a ``ValueError`` naming both arguments."""
    try:
        return np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"{name_a} with shape {a.shape} and {name_b} with shape {b.shape} do not broadcast"
        ) from None


def same_length(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """``ValueError`` unless the one-dimensional ``a`` and ``b`` have the same length."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_a} (shape {a.shape}) and {name_b} (shape {b.shape}) must have the same shape"
        )


def positive_scalar(x: float, name: str) -> float:
    """``x`` as a finite float > 0."""
    v = float(x)
    if not np.isfinite(v) or v <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {x!r}")
    return v


def any_below(arr: np.ndarray, bound: float) -> bool:
    """True if a non-NaN entry of ``arr`` is below ``bound`` (NaN entries are ignored)."""
    return bool(np.any(arr[~np.isnan(arr)] < bound))


def any_above(arr: np.ndarray, bound: float) -> bool:
    """True if a non-NaN entry of ``arr`` is above ``bound`` (NaN entries are ignored)."""
    return bool(np.any(arr[~np.isnan(arr)] > bound))
