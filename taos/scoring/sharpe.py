"""Sharpe ratio of an inventory-value series and its normalisation (SPEC §9, preset ``taos``).

Returns are *differences* of inventory value, not relative changes, as in the subnet-79 τaos
reference scoring: every miner starts with the same wealth, so differences compare miners directly.

Missing observations: a NaN (or ±inf) value marks an observation that does not exist, e.g. the
boundary between two simulations. It is dropped together with the two returns that touch it; the
values on either side of it are never differenced, so no return spans the boundary.

Losing books (a deviation from SPEC §9; docs/scoring.md, "Noise does not pay"): a Sharpe ratio
below 0 rises toward 0 as noise is added, so a loser could raise its score by adding risk (wash
trades: a larger loss, a much larger s.d., a better ratio). :func:`penalize_noisy_losses` scores a
losing book whose s.d. is above the book's typical one (:func:`typical_std`, the median over the
miners that traded the minimum volume there) as if its s.d. were the typical one:
``√n · mean / sd_typ``, so noise beyond the typical amount does not lift a loss.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from taos.scoring._arrays import FloatArray, as_float, as_float_1d

SHARPE_CLIP = 10.0

# A standard deviation at most this fraction of the largest |return| is rounding noise of equal
# returns (e.g. 0.1 + 0.1 + … accumulated in floating point) and is treated as 0.
ZERO_STD_RTOL = 1e-12


def sharpe(values: ArrayLike) -> float:
    """Sharpe ratio of one inventory-value series.

    ``r_i = V_{i+1} - V_i`` over consecutive finite values,
    ``S = √n · mean(r) / std(r)`` with ``n`` the number of returns and ``std`` the population
    standard deviation (divisor ``n``). Reference: Sharpe (1966), in the per-window, un-annualised
    form of the subnet-79 τaos reference scoring (SPEC §9).

    Rules:
        - fewer than 2 returns (empty, one value, or too many NaN) → 0.0, not an error;
        - ``std(r) = 0`` (constant series, or equal returns) → 0.0; a standard deviation at most
          ``1e-12 · max|r|`` counts as 0 (floating-point noise of equal returns);
        - NaN or ±inf values are missing: dropped together with the returns touching them.

    Example: ``[100, 101, 103, 102]`` → ``r = [1, 2, -1]``, mean 2/3, population variance
    ``mean(r²) - mean² = 2 - 4/9 = 14/9``, so ``S = √3 · (2/3) / (√14/3) = 2√3/√14 ≈ 0.9258``.

    Raises:
        ValueError: ``values`` is not one-dimensional or not numeric.
    """
    v = as_float_1d(values, "values")
    ok = np.isfinite(v)
    pair = ok[1:] & ok[:-1]
    r = v[1:][pair] - v[:-1][pair]
    n = r.size
    if n < 2:
        return 0.0
    mean = float(np.mean(r))
    std = float(np.sqrt(np.mean((r - mean) ** 2)))
    if std <= ZERO_STD_RTOL * float(np.max(np.abs(r))):
        return 0.0
    return float(np.sqrt(n) * mean / std)


def sharpe_batch(values: ArrayLike) -> FloatArray:
    """:func:`sharpe` of every series along the last axis, all at once.

    ``values`` has shape ``(..., window)``, e.g. ``(miners, books, window)``; the result has shape
    ``(...)``. Each series follows exactly the rules of :func:`sharpe`, including NaN as a missing
    observation, so a validator can mark simulation boundaries per miner and book with NaN.

    Raises:
        ValueError: ``values`` is 0-dimensional or not numeric.
    """
    v = as_float(values, "values")
    if v.ndim == 0:
        raise ValueError("values must have at least one dimension (the window)")
    lead = v.shape[:-1]
    if v.shape[-1] < 3:  # fewer than 2 returns in every series
        return np.zeros(lead, dtype=np.float64)
    ok = np.isfinite(v)
    # Returns touching a missing value; None in the common case of a complete window.
    gap = None if ok.all() else ~(ok[..., 1:] & ok[..., :-1])
    r = np.diff(v if gap is None else np.where(ok, v, 0.0), axis=-1)
    if gap is None:
        n = np.full(lead, r.shape[-1])
    else:
        r[gap] = 0.0
        n = r.shape[-1] - gap.sum(axis=-1)
    count = np.maximum(n, 1)
    scale = np.maximum(r.max(axis=-1), -r.min(axis=-1))  # max |r|
    mean = r.sum(axis=-1) / count
    r -= mean[..., None]  # deviations, in place
    if gap is not None:
        r[gap] = 0.0
    std = np.sqrt(np.einsum("...i,...i->...", r, r) / count)
    good = (n >= 2) & (std > ZERO_STD_RTOL * scale)
    out = np.zeros(lead, dtype=np.float64)
    np.divide(np.sqrt(n) * mean, std, out=out, where=good)
    return out


def normalize_sharpe(s: ArrayLike) -> FloatArray:
    """``Ŝ = (clip(S, -10, 10) + 10) / 20`` ∈ [0, 1], elementwise (SPEC §9).

    S = 0 → 0.5; S ≥ 10 → 1; S ≤ -10 → 0; ±inf → 1 / 0; NaN → NaN (propagates).

    Returns:
        float64 array of the shape of ``s`` (0-d for a scalar).
    """
    arr = as_float(s, "s")
    out: FloatArray = (np.clip(arr, -SHARPE_CLIP, SHARPE_CLIP) + SHARPE_CLIP) / (2.0 * SHARPE_CLIP)
    return out


def typical_std(std: ArrayLike, eligible: ArrayLike) -> FloatArray:
    """Per book, the median s.d. of the returns over the eligible miners with a nonzero s.d.:
    ``std`` and ``eligible`` are ``(miners, books)``; the result is ``(books,)``, NaN where no
    miner is eligible. A NaN s.d. is no s.d.: left out, like 0.

    Raises:
        ValueError: shapes that differ or are not two-dimensional, negative or infinite s.d.s among
            the eligible.
    """
    sd = as_float(std, "std")
    ok = np.asarray(eligible, dtype=np.bool_)
    if sd.ndim != 2 or ok.shape != sd.shape:
        raise ValueError(
            f"std and eligible must be (miners, books) arrays of one shape, got {sd.shape} and {ok.shape}"
        )
    picked = np.where(ok, sd, np.nan)
    if np.any(picked < 0) or np.any(np.isinf(picked)):
        raise ValueError("std must be finite and >= 0 where eligible")
    picked[picked == 0] = np.nan
    out = np.full(sd.shape[1], np.nan)
    some = ~np.all(np.isnan(picked), axis=0)
    if np.any(some):
        out[some] = np.nanmedian(picked[:, some], axis=0)
    return out


def penalize_noisy_losses(s: ArrayLike, std: ArrayLike, typical: ArrayLike) -> FloatArray:
    """``S · sd / sd_typ`` where ``S < 0`` and ``sd > sd_typ``; ``S`` elsewhere (also where
    ``sd_typ`` is NaN). Elementwise with broadcasting: e.g. ``s`` and ``std`` ``(miners, books)``,
    ``typical`` ``(books,)``.

    With ``S = √n · mean / sd`` this is ``√n · mean / sd_typ``: a loss is scored with at most the
    typical noise, so adding noise beyond it does not move its score toward 0 (Israelsen 2005 makes
    the point for the Sharpe ratio of negative returns); a loss with at most the typical noise, and
    every gain, keep their Sharpe ratio.
    """
    sr = as_float(s, "s")
    sd = as_float(std, "std")
    typ = as_float(typical, "typical")
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = sd / typ
        noisy = (sr < 0) & (ratio > 1)  # NaN compares False
        out: FloatArray = np.where(noisy, sr * ratio, sr)
    return out
