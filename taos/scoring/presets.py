"""The two scoring presets of SPEC §9: ``taos`` (default) and ``ptn``.

``taos`` — per miner and book: inventory value → :func:`sharpe` over the last ``L = 720``
observations → :func:`normalize_sharpe` → :func:`activity_weighted` with :func:`activity_factor`;
per miner: :func:`taos_score` over its books; then :func:`ema` (alpha = 0.1) and
:func:`weights_from_scores`.

``ptn`` — per miner: :func:`checkpoint_ledger` → :func:`ledger_return`, :func:`ledger_omega`,
:func:`ledger_sortino` weighted by :func:`ledger_age_weights`; across miners: :func:`ptn_score`
(rank, combine) → :func:`exponential_rank_weights`. :func:`challenge_passed` is the SPEC §10
challenge test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

from taos.scoring._arrays import BoolArray, FloatArray, as_float, as_float_1d

OUTLIER_IQR_FACTOR = 1.5

PTN_METRIC_WEIGHTS: Mapping[str, float] = MappingProxyType({"return": 1.0, "omega": 1.0, "sortino": 1.0})


# --- preset taos ---------------------------------------------------------------------------------


def _finite_or_nan(w: FloatArray) -> FloatArray:
    if np.any(np.isinf(w)):
        raise ValueError("w_books must not contain +inf or -inf (NaN marks a missing book)")
    return w


def outlier_penalty(w_books: ArrayLike) -> float:
    """Penalty for an outlier-low book: ``max(0, fence - min_b w_b)``, ``fence = Q1 - 1.5·IQR``.

    ``Q1``, ``Q3`` are the 25th and 75th percentiles of the per-book values ``w_b`` computed with
    numpy's default *linear* interpolation (``np.percentile(w, [25, 75], method="linear")``), and
    ``IQR = Q3 - Q1`` (Tukey's fences). The penalty is the distance by which the worst book lies
    below the lower fence. In the subnet-79 τaos reference scoring this penalty could never fire
    (SPEC §9); here it does, e.g. ``[0, 1, 1, 1]``: Q1 = 0.75, Q3 = 1, fence = 0.375 → 0.375.

    Rules: NaN books are dropped; empty or all-NaN → 0.0; one book → 0.0 (IQR 0, min = fence).

    Raises:
        ValueError: not one-dimensional, or ±inf.
    """
    w = _finite_or_nan(as_float_1d(w_books, "w_books"))
    w = w[~np.isnan(w)]
    if w.size == 0:
        return 0.0
    q1, q3 = np.percentile(w, [25.0, 75.0], method="linear")
    fence = q1 - OUTLIER_IQR_FACTOR * (q3 - q1)
    return float(max(0.0, fence - float(np.min(w))))


def taos_score(w_books: ArrayLike) -> float:
    """Score of one miner in preset ``taos``: ``median_b(w_b) - outlier_penalty(w)``.

    ``w_b`` is the activity-weighted normalised Sharpe of book ``b`` (:func:`activity_weighted`).
    The score lies in ``[min_b w_b, median_b w_b]`` (the penalty never exceeds ``Q1 - min``).
    Reference: the subnet-79 τaos reference scoring as described in SPEC §9, with the outlier
    penalty made effective.

    Rules: NaN books dropped; empty or all-NaN → 0.0.

    Raises:
        ValueError: not one-dimensional, or ±inf.
    """
    w = _finite_or_nan(as_float_1d(w_books, "w_books"))
    valid = w[~np.isnan(w)]
    if valid.size == 0:
        return 0.0
    return float(np.median(valid)) - outlier_penalty(valid)


def taos_score_batch(w_books: ArrayLike) -> FloatArray:
    """:func:`taos_score` of every row along the last axis: ``(miners, books)`` → ``(miners,)``.

    Same rules as :func:`taos_score` per row (NaN books dropped, a row without books → 0.0). The
    percentiles are computed from the sorted rows with the same linear interpolation as
    ``np.percentile`` (equal up to rounding in the last bits).

    Raises:
        ValueError: 0-dimensional input, or ±inf.
    """
    w = _finite_or_nan(as_float(w_books, "w_books"))
    if w.ndim == 0:
        raise ValueError("w_books must have at least one dimension (the books)")
    out = np.zeros(w.shape[:-1], dtype=np.float64)
    n = np.count_nonzero(~np.isnan(w), axis=-1)
    has = n > 0
    if not np.any(has):
        return out
    rows = np.sort(w[has], axis=-1)  # NaN sorts last: the valid books are rows[:, :n]
    n = n[has]

    def percentile(q: float) -> FloatArray:
        """Linear-interpolation percentile (numpy's default method) of each row's valid books."""
        pos = q * (n - 1)
        lo = np.floor(pos).astype(np.intp)
        hi = np.minimum(lo + 1, n - 1)
        a = np.take_along_axis(rows, lo[:, None], axis=-1)[:, 0]
        b = np.take_along_axis(rows, hi[:, None], axis=-1)[:, 0]
        out_q: FloatArray = a + (b - a) * (pos - lo)
        return out_q

    q1, median, q3 = percentile(0.25), percentile(0.5), percentile(0.75)
    fence = q1 - OUTLIER_IQR_FACTOR * (q3 - q1)
    penalty = np.maximum(0.0, fence - rows[:, 0])
    out[has] = median - penalty
    return out


# --- preset ptn ----------------------------------------------------------------------------------


def rank_percentiles(values: ArrayLike) -> FloatArray:
    """Percentile rank of each miner on one metric: ``rank / N`` ∈ (0, 1], higher value → higher.

    ``rank`` is the 1-based ascending rank among the ``N`` non-NaN values, so the best miner gets 1
    and the worst ``1/N`` (the subnet-8 proprietary trading network convention, SPEC §9).
    Ties get the mean of the ranks they occupy. NaN values (no metric) get 0.
    Example: ``[0.3, NaN, 0.1, 0.3]`` → ranks 2.5, -, 1, 2.5 of N = 3 → ``[5/6, 0, 1/3, 5/6]``.
    """
    v = as_float_1d(values, "values")
    out = np.zeros_like(v)
    valid = ~np.isnan(v)
    n = int(valid.sum())
    if n == 0:
        return out
    _, inverse, counts = np.unique(v[valid], return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # 0-based position of each distinct value
    mean_rank = first + (counts + 1) / 2.0
    out[valid] = mean_rank[inverse.reshape(-1)] / n
    return out


def ptn_score(
    metrics: Mapping[str, ArrayLike],
    metric_weights: Mapping[str, float] | None = None,
    *,
    losers_by_return: bool = False,
) -> FloatArray:
    """Combined score per miner in preset ``ptn``: ``Σ_m c_m · pct_m / Σ_m c_m``.

    ``pct_m`` is :func:`rank_percentiles` of metric ``m`` across miners (each array holds one value
    per miner, the same miners in the same order) and ``c_m`` its weight. The default weights give
    return, Omega and time-adjusted Sortino one third each (``PTN_METRIC_WEIGHTS``). The result is
    in [0, 1]; distribute it with :func:`exponential_rank_weights`. Reference: the subnet-8
    proprietary trading network's rank-and-combine step (SPEC §9).

    Rules: a NaN metric value ranks the miner at 0 on that metric; no miners → empty array.

    ``losers_by_return`` (needs a ``return`` metric): on every metric, the miners whose return is
    below 0 rank below all the others and among themselves by their return. A ratio of a net loss
    rewards variance: zero-mean noise added to a losing strategy moves its Omega toward 1 and its
    Sortino toward 0, above the same strategy without the noise (docs/scoring.md, "Noise does not
    pay"); ranked by its return, a loser gains nothing by it.

    Raises:
        ValueError: the metric names differ from the weight names, arrays of different lengths or
        not one-dimensional, a negative or non-finite weight, or weights summing to 0.
    """
    weights = PTN_METRIC_WEIGHTS if metric_weights is None else metric_weights
    if set(metrics) != set(weights):
        missing = sorted(set(weights) - set(metrics))
        unweighted = sorted(set(metrics) - set(weights))
        raise ValueError(
            f"metrics and metric_weights must name the same metrics; missing {missing}, unweighted {unweighted}"
        )
    if not metrics:
        raise ValueError("at least one metric is required")
    total = 0.0
    for name, c in weights.items():
        if not np.isfinite(c) or c < 0.0:
            raise ValueError(f"weight of metric {name!r} must be finite and >= 0, got {c!r}")
        total += float(c)
    if total <= 0.0:
        raise ValueError("metric weights must not all be 0")
    arrays = {name: as_float_1d(values, name) for name, values in metrics.items()}
    lengths = {a.shape[0] for a in arrays.values()}
    if len(lengths) != 1:
        raise ValueError(f"every metric needs one value per miner; got lengths {sorted(lengths)}")
    if losers_by_return:
        if "return" not in arrays:
            raise ValueError("losers_by_return needs a 'return' metric")
        arrays = _losers_by_return(arrays)
    combined = np.zeros(lengths.pop(), dtype=np.float64)
    for name in sorted(arrays):  # fixed order: the float sum does not depend on dict order
        combined += float(weights[name]) * rank_percentiles(arrays[name])
    return combined / total


def _losers_by_return(arrays: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """Each metric with the values of the miners whose return is below 0 replaced by values below
    every other miner's, in the order of their returns (NaNs stay NaN)."""
    ret = arrays["return"]
    loser = np.isfinite(ret) & (ret < 0)
    if not loser.any():
        return dict(arrays)
    out = {}
    for name, values in arrays.items():
        if name == "return":
            out[name] = values
            continue
        kept = values[np.isfinite(values) & ~loser]
        floor = float(kept.min()) if kept.size else 0.0
        # the losers' returns, shifted to end just below the lowest other value
        shifted = floor - 1.0 + (ret - float(ret[loser].max()))
        out[name] = np.where(loser & np.isfinite(values), shifted, values)
    return out


@dataclass(frozen=True)
class ChallengeThresholds:
    """Minimums a miner must reach to pass the challenge period (SPEC §10.2)."""

    min_total_return: float = 0.02
    min_median_sharpe: float = 0.05
    min_closed_positions: int = 10
    min_hours_in_positions: float = 50.0


def challenge_passed(
    total_return: ArrayLike,
    median_sharpe: ArrayLike,
    closed_positions: ArrayLike,
    hours_in_positions: ArrayLike,
    thresholds: ChallengeThresholds | None = None,
) -> BoolArray:
    """Whether each miner passes the challenge, elementwise (SPEC §10.2)::

        total_return ≥ 2 %  and  median per-book Sharpe ≥ 0.05
        and  closed positions ≥ 10  and  hours in positions ≥ 50

    (defaults of :class:`ChallengeThresholds`; every bound inclusive). ``total_return`` is a simple
    return (0.02 = 2 %), e.g. :func:`taos.scoring.total_return`.

    Rules: a NaN in any input → not passed. Shapes broadcast.

    Returns:
        boolean array of the broadcast shape (0-d for scalars; ``bool()`` gives the answer).

    Raises:
        ValueError: shapes that do not broadcast.
    """
    th = ChallengeThresholds() if thresholds is None else thresholds
    ret = as_float(total_return, "total_return")
    sh = as_float(median_sharpe, "median_sharpe")
    closed = as_float(closed_positions, "closed_positions")
    hours = as_float(hours_in_positions, "hours_in_positions")
    try:
        np.broadcast_shapes(ret.shape, sh.shape, closed.shape, hours.shape)
    except ValueError:
        raise ValueError(
            "total_return, median_sharpe, closed_positions and hours_in_positions do not broadcast: "
            f"shapes {ret.shape}, {sh.shape}, {closed.shape}, {hours.shape}"
        ) from None
    passed = (
        (ret >= th.min_total_return)
        & (sh >= th.min_median_sharpe)
        & (closed >= th.min_closed_positions)
        & (hours >= th.min_hours_in_positions)
    )
    return np.asarray(passed, dtype=np.bool_)
