"""From scores to weights: smoothing, normalisation and the exponential rank curve (SPEC §9).

Every weight vector returned here is non-negative and sums to 1, or is all zero when no miner
deserves weight; what to do then (keep the previous weights, burn, …) is the validator's choice.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from taos.scoring._arrays import FloatArray, as_float, as_float_1d, broadcast_shape

EMA_ALPHA = 0.1
RANK_TOP_SHARE = 0.9
RANK_TOP_FRACTION = 0.4


def ema(prev: ArrayLike, x: ArrayLike, alpha: float = EMA_ALPHA) -> FloatArray:
    """One step of an exponential moving average, elementwise: ``m ← alpha·x + (1 - alpha)·m``.

    SPEC §9 smooths the per-step scores with ``alpha = 0.1`` before they become weights.

    Rules:
        - ``prev`` NaN (no history yet, e.g. a new miner) → the new value is ``x``: the first
          observation initialises the average instead of being pulled towards 0;
        - ``x`` NaN (no observation this step) → the new value is ``prev`` (unchanged);
        - both NaN → NaN.

    Returns:
        float64 array of the broadcast shape (0-d for scalars).

    Raises:
        ValueError: ``alpha`` outside (0, 1], or shapes that do not broadcast.
    """
    a = float(alpha)
    if not 0.0 < a <= 1.0:
        raise ValueError(f"alpha must lie in (0, 1], got {alpha!r}")
    m = as_float(prev, "prev")
    obs = as_float(x, "x")
    broadcast_shape("prev", m, "x", obs)
    with np.errstate(invalid="ignore"):  # NaN entries are replaced just below
        mixed = a * obs + (1.0 - a) * m
    out = np.where(np.isnan(m), obs, np.where(np.isnan(obs), m, mixed))
    return np.asarray(out, dtype=np.float64)


def weights_from_scores(scores: ArrayLike) -> FloatArray:
    """Weights proportional to the scores: ``w_i = max(s_i, 0) / Σ_j max(s_j, 0)`` (SPEC §9, the
    last step of preset ``taos``).

    Rules: negative and NaN scores get weight 0; if no score is positive (including empty input)
    every weight is 0 — a zero vector, not a uniform one, so that "nobody earned anything" stays
    distinguishable from "everybody earned the same".

    Raises:
        ValueError: not one-dimensional, or a score of +inf (no proportional share exists).
    """
    s = as_float_1d(scores, "scores")
    if np.any(s == np.inf):
        raise ValueError("scores must not contain +inf")
    pos = np.where(s > 0.0, s, 0.0)  # NaN and negatives → 0
    total = float(np.sum(pos))
    if total <= 0.0:
        return np.zeros_like(pos)
    return pos / total


def exponential_rank_weights(
    scores: ArrayLike, b: float = RANK_TOP_SHARE, p: float = RANK_TOP_FRACTION
) -> FloatArray:
    """Weights by rank on an exponential curve: ``w_i ∝ exp(-k·i)``, ``k = -ln(1 - b) / (p·N)``.

    ``i`` is the rank (0 = highest score) among the ``N`` miners with a score, so the top fraction
    ``p`` of the ranks carries a share ``b / (1 - (1 - b)^(1/p))`` of the total — with the defaults
    b = 0.9, p = 0.4 the top 40 % receive ≈ 90 % (exactly 0.9 / (1 - 0.1^2.5) ≈ 0.9029 for N = 100).
    Reference: the subnet-8 proprietary trading network's rank-based emission curve (SPEC §9).

    Rules:
        - ties: miners with equal scores share equally the weights of the ranks they occupy
          together (the mean of those ranks' weights), so the result does not depend on the order
          of the input and the total stays 1;
        - NaN scores get weight 0 and do not count in ``N``; +inf / -inf rank first / last;
        - empty or all-NaN input → all zero; a single miner → weight 1.

    Returns:
        non-negative float64 weights summing to 1 (or all zero), in the order of ``scores``.

    Raises:
        ValueError: ``b`` outside (0, 1), ``p`` outside (0, 1], or ``scores`` not one-dimensional.
    """
    s = as_float_1d(scores, "scores")
    bb, pp = float(b), float(p)
    if not 0.0 < bb < 1.0:
        raise ValueError(f"b must lie in (0, 1), got {b!r}")
    if not 0.0 < pp <= 1.0:
        raise ValueError(f"p must lie in (0, 1], got {p!r}")
    out = np.zeros_like(s)
    valid = ~np.isnan(s)
    n = int(valid.sum())
    if n == 0:
        return out
    k = -math.log(1.0 - bb) / (pp * n)
    curve = np.exp(-k * np.arange(n, dtype=np.float64))
    curve /= curve.sum()
    # Distinct scores in descending order; tied miners occupy consecutive ranks.
    _, inverse, counts = np.unique(-s[valid], return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts
    cum = np.concatenate(([0.0], np.cumsum(curve)))
    shared = (cum[first + counts] - cum[first]) / counts
    out[valid] = shared[inverse.reshape(-1)]
    return out


def challenge_weights(base: ArrayLike, challenge: ArrayLike, challenge_weight: float) -> FloatArray:
    """Weights with a fixed share for the miners in their challenge period (SPEC §10.2).

    ``base`` is the competing miners' weight vector (summing to 1, or all 0 when nobody earned
    any; e.g. :func:`exponential_rank_weights`), ``challenge`` marks the ``n_c`` miners in their
    challenge period (their ``base`` must be 0) and ``c = challenge_weight`` is the weight of each::

        C = min(n_c · c, 1)                       the challenge miners' total
        w_i = C / n_c                             i in challenge (= c unless n_c · c > 1)
        w_i = (1 - C) · base_i                    otherwise

    When ``base`` is all zero (no competing miner with weight), the challenge miners share 1
    equally; without challenge miners the result is ``base``. So the weights sum to 1 whenever
    any miner has weight, and are all 0 otherwise.

    Raises:
        ValueError: shapes differ, ``challenge`` not boolean, ``base`` negative, NaN, not summing to
        1 or 0, or positive for a challenge miner, or ``challenge_weight`` outside [0, 1].
    """
    w = as_float_1d(base, "base")
    mask = np.asarray(challenge)
    if mask.shape != w.shape or (mask.size and mask.dtype != np.bool_):
        raise ValueError(
            f"challenge must be a boolean array of shape {w.shape}, got {mask.dtype}{list(mask.shape)}"
        )
    c = float(challenge_weight)
    if not 0.0 <= c <= 1.0:
        raise ValueError(f"challenge_weight must lie in [0, 1], got {challenge_weight!r}")
    if not np.all(np.isfinite(w)) or np.any(w < 0.0):
        raise ValueError("base must be finite and >= 0")
    total = float(np.sum(w))
    if total > 0.0 and abs(total - 1.0) > 1e-9:
        raise ValueError(f"base must sum to 1 or be all 0, sums to {total!r}")
    if np.any(w[mask] > 0.0):
        raise ValueError("base must be 0 for the miners in their challenge period")
    n_c = int(np.count_nonzero(mask))
    out = w.copy()
    if n_c == 0:
        return out
    share = 1.0 if total == 0.0 else min(n_c * c, 1.0)
    out *= 1.0 - share
    out[mask] = share / n_c
    return out
