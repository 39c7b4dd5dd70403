"""Checkpoint ledger and its metrics (SPEC §9 preset ``ptn``, after the subnet-8 proprietary trading
network's performance ledger).

A value series is cut into checkpoints of ``period_ns`` of simulation time (6 h by default),
aligned to multiples of the period from simulation time 0. Each checkpoint keeps three numbers:
the sum of the positive log changes of value (gains), the sum of the negative ones (losses, ≤ 0)
and the time spent in the market. The ``ledger_*`` metrics read only these sums, optionally
weighted per checkpoint (e.g. by :func:`ledger_age_weights`, so old checkpoints count less).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from taos.scoring._arrays import (
    FloatArray,
    IntArray,
    any_below,
    as_bool,
    as_float,
    as_float_1d,
    positive_scalar,
    same_length,
)
from taos.scoring.risk import (
    DAY_NS,
    OMEGA_FLOOR,
    SORTINO_FLOOR,
    omega_from_sums,
    sortino_from_sums,
)

CHECKPOINT_NS = 6 * 3_600 * 1_000_000_000
AGE_DECAY_EXPONENT = 4.0


class CheckpointLedger(NamedTuple):
    """Per-checkpoint sums; checkpoint ``k`` covers ``[start_ns[k], start_ns[k] + period_ns)``.

    The checkpoints are consecutive (one per period from the first observation's to the last
    interval's); a period without data has zeros.
    """

    start_ns: IntArray
    gains: FloatArray
    losses: FloatArray
    time_in_market_ns: IntArray
    period_ns: int


def _empty_ledger(period_ns: int) -> CheckpointLedger:
    z = np.zeros(0, dtype=np.float64)
    zi = np.zeros(0, dtype=np.int64)
    return CheckpointLedger(zi, z, z.copy(), zi.copy(), period_ns)


def checkpoint_ledger(
    values: ArrayLike, times_ns: ArrayLike, in_market: ArrayLike, period_ns: int = CHECKPOINT_NS
) -> CheckpointLedger:
    """Build the checkpoint ledger of a value series.

    Interval ``j`` runs from observation ``j`` to ``j + 1``; its log change is
    ``c_j = ln(V_{j+1} / V_j)``. It is booked, whole, in the checkpoint containing its start
    ``t_j`` (checkpoint index ``⌊t_j / period_ns⌋``)::

        gains_k  = Σ_{j in k} max(c_j, 0)
        losses_k = Σ_{j in k} min(c_j, 0)
        time_in_market_ns_k = Σ_{j in k, in_market[j]} (t_{j+1} - t_j)

    ``in_market[j]`` is the miner's state during interval ``j`` (a position open, SPEC §10.1).
    Value changes are booked whether or not the miner is in the market (its neutral inventory
    still moves with the price); only the time is conditional.

    Rules:
        - a NaN/±inf value is a missing observation (e.g. a simulation boundary): the intervals
          touching it are dropped, their change *and* their time;
        - fewer than 2 observations → an empty ledger (all arrays of length 0);
        - observations are expected far more often than ``period_ns``; an interval longer than a
          period is still booked whole in its start's checkpoint.

    Raises:
        ValueError: mismatched lengths, times that are not integers or not strictly increasing, a
        non-boolean ``in_market``, a finite value ≤ 0, or ``period_ns`` not a positive integer.
    """
    if isinstance(period_ns, bool) or not isinstance(period_ns, (int, np.integer)) or period_ns <= 0:
        raise ValueError(f"period_ns must be a positive integer, got {period_ns!r}")
    period = int(period_ns)
    v = as_float_1d(values, "values")
    t_raw = np.asarray(times_ns)
    if t_raw.ndim != 1:
        raise ValueError(f"times_ns must be one-dimensional, got shape {t_raw.shape}")
    if t_raw.size and not np.issubdtype(t_raw.dtype, np.integer):
        raise ValueError(f"times_ns must be integers (nanoseconds), got dtype {t_raw.dtype}")
    t = t_raw.astype(np.int64)
    market = as_bool(in_market, "in_market")
    same_length("values", v, "times_ns", t)
    same_length("values", v, "in_market", market)
    if np.any(np.diff(t) <= 0):
        raise ValueError("times_ns must be strictly increasing")
    ok = np.isfinite(v)
    if np.any(v[ok] <= 0.0):
        raise ValueError("values must be > 0 (log changes are taken)")
    if v.size < 2:
        return _empty_ledger(period)

    pair = ok[1:] & ok[:-1]
    safe = np.where(ok, v, 1.0)
    change = np.where(pair, np.log(safe[1:] / safe[:-1]), 0.0)
    cp = t[:-1] // period
    first = int(cp[0])
    idx = cp - first
    n_cp = int(idx[-1]) + 1
    gains = np.bincount(idx, weights=np.maximum(change, 0.0), minlength=n_cp)
    losses = np.bincount(idx, weights=np.minimum(change, 0.0), minlength=n_cp)
    dt = np.where(pair & market[:-1], np.diff(t), 0)
    tim = np.zeros(n_cp, dtype=np.int64)
    np.add.at(tim, idx, dt)
    start = (np.arange(n_cp, dtype=np.int64) + first) * period
    return CheckpointLedger(start, gains.astype(np.float64), losses.astype(np.float64), tim, period)


def _weights(ledger: CheckpointLedger, weights: ArrayLike | None) -> FloatArray:
    n = ledger.gains.shape[0]
    if weights is None:
        return np.ones(n, dtype=np.float64)
    w = as_float_1d(weights, "weights")
    if w.shape[0] != n:
        raise ValueError(f"weights has length {w.shape[0]} but the ledger has {n} checkpoints")
    if not np.all(np.isfinite(w)) or np.any(w < 0.0):
        raise ValueError("weights must be finite and >= 0")
    return w


def ledger_return(ledger: CheckpointLedger, weights: ArrayLike | None = None) -> float:
    """Total log return ``R = Σ_k w_k (gains_k + losses_k)`` (``w = 1`` without weights).

    Rules: empty ledger → 0.0. Raises ValueError for weights of the wrong length, negative or NaN.
    """
    w = _weights(ledger, weights)
    return float(np.sum(w * (ledger.gains + ledger.losses)))


def ledger_omega(
    ledger: CheckpointLedger, weights: ArrayLike | None = None, floor: float = OMEGA_FLOOR
) -> float:
    """Omega of the ledger: ``Σ_k w_k gains_k / max(Σ_k w_k |losses_k|, floor)``.

    As :func:`taos.scoring.omega` (Keating & Shadwick 2002) but on the per-checkpoint sums of log
    gains and losses, the subnet-8 proprietary trading network convention (SPEC §9).
    Rules: empty ledger → 0.0; no losses → gains / floor.
    """
    w = _weights(ledger, weights)
    fl = positive_scalar(floor, "floor")
    return omega_from_sums(float(np.sum(w * ledger.gains)), float(np.sum(w * -ledger.losses)), fl)


def ledger_sortino(
    ledger: CheckpointLedger,
    weights: ArrayLike | None = None,
    horizon_ns: float = DAY_NS,
    floor: float = SORTINO_FLOOR,
) -> float:
    """Time-adjusted Sortino of the ledger (see :func:`taos.scoring.sortino_time_adjusted`)::

        R = Σ_k w_k (gains_k + losses_k)
        T = Σ_k w_k time_in_market_ns_k
        D = Σ_k w_k losses_k² / T
        S = (R / T · H) / max(√(D · H), floor)

    The downside of a checkpoint is its summed losses, so losses inside a checkpoint whose net
    change is positive still count as downside. With weights, ``R/T`` and ``D`` are weighted
    averages of the per-checkpoint rates. Rules: empty ledger or ``T = 0`` → 0.0.
    """
    w = _weights(ledger, weights)
    h = positive_scalar(horizon_ns, "horizon_ns")
    fl = positive_scalar(floor, "floor")
    total = float(np.sum(w * (ledger.gains + ledger.losses)))
    downside_sq = float(np.sum(w * ledger.losses * ledger.losses))
    time_ns = float(np.sum(w * ledger.time_in_market_ns))
    return sortino_from_sums(total, downside_sq, time_ns, h, fl)


def age_decay_weight(age: ArrayLike, window: float, c: float = AGE_DECAY_EXPONENT) -> FloatArray:
    """Weight of an observation by its age, elementwise: ``alpha = 1 - f^c``, ``f = min(age / window, 1)``.

    ``alpha`` is 1 for age 0, falls slowly at first and reaches 0 at ``age ≥ window``. The exponent
    ``c`` sets the shape: ``c = 1`` is linear; the default ``c = 4`` keeps ``alpha ≥ 0.9`` for the
    younger 56 % of the window (``f ≤ 0.1^(1/4)``), so recent results dominate and a result fades out
    over the last part of the window rather than all at once (SPEC §9, preset ``ptn``).

    Rules: NaN age → NaN. Units of ``age`` and ``window`` must agree (e.g. both ns).

    Raises:
        ValueError: a negative age, or ``window``/``c`` not a positive number.
    """
    a = as_float(age, "age")
    win = positive_scalar(window, "window")
    cc = positive_scalar(c, "c")
    if any_below(a, 0.0):
        raise ValueError("age must be >= 0")
    f = np.minimum(a / win, 1.0)
    out: FloatArray = 1.0 - f**cc
    return out


def ledger_age_weights(
    ledger: CheckpointLedger, now_ns: int, window_ns: float, c: float = AGE_DECAY_EXPONENT
) -> FloatArray:
    """:func:`age_decay_weight` of each checkpoint, its age measured from its end to ``now_ns``.

    ``age_k = max(0, now_ns - (start_ns_k + period_ns))``: a checkpoint still running (or ending
    after ``now_ns``) has age 0 and weight 1.
    """
    ends = ledger.start_ns + ledger.period_ns
    age = np.maximum(int(now_ns) - ends, 0).astype(np.float64)
    return age_decay_weight(age, window_ns, c)
