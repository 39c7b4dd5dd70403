"""Return and risk metrics of one series (SPEC §9 additional metrics, SPEC §10 challenge).

Conventions:
    - ``values`` are inventory or portfolio values (> 0) in time order; ``returns`` are per-interval
      returns (log or simple — the functions do not care, the caller chooses one consistently).
    - NaN or ±inf entries are missing and dropped (for ``values``: the observation is dropped; a
      level-based metric such as drawdown needs no adjacent pair).
    - Times are integers in nanoseconds of simulation time, the unit in the name.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from taos.scoring._arrays import FloatArray, as_float_1d, positive_scalar, same_length

OMEGA_FLOOR = 1e-6
SORTINO_FLOOR = 1e-6
CALMAR_FLOOR = 1e-6
DAY_NS = 86_400 * 1_000_000_000


def _finite_positive_values(values: ArrayLike) -> FloatArray:
    """The finite entries of a value series; a finite value ≤ 0 is a ``ValueError``."""
    v = as_float_1d(values, "values")
    v = v[np.isfinite(v)]
    if np.any(v <= 0.0):
        raise ValueError("values must be > 0 (portfolio values)")
    return v


def omega_from_sums(gains: float, losses: float, floor: float) -> float:
    """``gains / max(losses, floor)`` for summed gains ≥ 0 and summed losses as a magnitude ≥ 0."""
    return float(gains / max(losses, floor))


def omega(returns: ArrayLike, floor: float = OMEGA_FLOOR) -> float:
    """Omega ratio at threshold 0: ``Ω = Σ max(r_i, 0) / max(Σ max(-r_i, 0), floor)``.

    Reference: Keating & Shadwick (2002), "A Universal Performance Measure", with the threshold at
    0 and a floor on the denominator as in the subnet-8 proprietary trading network (SPEC §9).

    Rules: NaN/±inf returns are dropped; empty (or all-NaN) → 0.0; all zero → 0.0; gains without
    losses → gains / floor.

    Raises:
        ValueError: ``returns`` not one-dimensional, or ``floor`` not a positive number.
    """
    r = as_float_1d(returns, "returns")
    fl = positive_scalar(floor, "floor")
    r = r[np.isfinite(r)]
    gains = float(np.sum(np.maximum(r, 0.0)))
    losses = float(np.sum(np.maximum(-r, 0.0)))
    return omega_from_sums(gains, losses, fl)


def sortino_from_sums(
    total_return: float, downside_sq: float, time_ns: float, horizon_ns: float, floor: float
) -> float:
    """Time-adjusted Sortino from its three sums; 0.0 when no time in market. See the public form."""
    if time_ns <= 0.0:
        return 0.0
    mean_per_horizon = total_return / time_ns * horizon_ns
    downside_dev = float(np.sqrt(downside_sq / time_ns * horizon_ns))
    return float(mean_per_horizon / max(downside_dev, floor))


def sortino_time_adjusted(
    returns: ArrayLike,
    time_in_market_ns: ArrayLike,
    horizon_ns: float = DAY_NS,
    floor: float = SORTINO_FLOOR,
) -> float:
    """Time-adjusted Sortino ratio: return per unit of time in market over downside per unit of time.

    With per-interval returns ``r_i``, the time ``τ_i`` the miner was in the market during interval
    ``i``, ``T = Σ τ_i`` and a reference horizon ``H``::

        R = Σ r_i                         (total return)
        D = Σ min(r_i, 0)² / T            (total squared downside per unit of time in market)
        S = (R / T · H) / max(√(D · H), floor)

    i.e. the mean return over a horizon ``H`` of time in market divided by the downside deviation
    over the same horizon (downside variance grows linearly with time). Intervals spent out of the
    market add nothing to ``T``, so a miner is measured by what it did while exposed — the
    subnet-8 proprietary trading network convention ("total downside per unit of time in market")
    as described in SPEC §9/§10. Reference: Sortino & Price (1994), "Performance Measurement in a
    Downside Risk Framework", target return 0.

    Example: ``r = [0.02, -0.01, 0.03, -0.02]``, each 6 h in market, ``H`` = 1 day = ``T``:
    ``R = 0.02``, ``D·H = 0.0005`` → ``S = 0.02 / √0.0005 = 2/√5 ≈ 0.8944``.

    Rules: intervals with a NaN/±inf return or time are dropped; empty, or ``T = 0`` → 0.0;
    no losses → the downside deviation is floored at ``floor`` (so ``S = R/T·H / floor``).

    Raises:
        ValueError: mismatched shapes, a negative time, or ``horizon_ns``/``floor`` not positive.
    """
    r = as_float_1d(returns, "returns")
    tau = as_float_1d(time_in_market_ns, "time_in_market_ns")
    same_length("returns", r, "time_in_market_ns", tau)
    h = positive_scalar(horizon_ns, "horizon_ns")
    fl = positive_scalar(floor, "floor")
    if np.any(tau < 0.0):
        raise ValueError("time_in_market_ns must be >= 0")
    ok = np.isfinite(r) & np.isfinite(tau)
    r, tau = r[ok], tau[ok]
    downside = np.minimum(r, 0.0)
    return sortino_from_sums(float(np.sum(r)), float(np.sum(downside * downside)), float(np.sum(tau)), h, fl)


def max_drawdown(values: ArrayLike) -> float:
    """Largest relative fall from a running peak: ``MDD = max_t (peak_t - V_t) / peak_t`` ∈ [0, 1).

    ``peak_t = max_{s ≤ t} V_s``. Example: ``[100, 120, 90, 130, 104]`` → falls 0.25 (120 → 90)
    and 0.2 (130 → 104) → 0.25.

    Rules: NaN/±inf values dropped; fewer than 2 values → 0.0; a rising or constant series → 0.0.

    Raises:
        ValueError: not one-dimensional, or a finite value ≤ 0.
    """
    v = _finite_positive_values(values)
    if v.size < 2:
        return 0.0
    peak = np.maximum.accumulate(v)
    return float(np.max((peak - v) / peak))


def total_return(values: ArrayLike) -> float:
    """Simple return from the first to the last value: ``V_last / V_first - 1``.

    Rules: NaN/±inf values dropped (first and last *finite* values used); fewer than 2 values → 0.0.
    Example: ``[100, 120, 90, 130, 104]`` → 0.04.

    Raises:
        ValueError: not one-dimensional, or a finite value ≤ 0.
    """
    v = _finite_positive_values(values)
    if v.size < 2:
        return 0.0
    return float(v[-1] / v[0] - 1.0)


def calmar(values: ArrayLike, floor: float = CALMAR_FLOOR) -> float:
    """Calmar ratio over the window: ``C = total_return / max(max_drawdown, floor)``.

    Reference: Young (1991), "Calmar Ratio: A Smoother Tool", Futures 20(1). Young divides the
    annualised return by the maximum drawdown; here the return is that of the window itself, not
    annualised, since scoring windows are hours of simulated time and every miner is measured over
    the same window. Example: ``[100, 120, 90, 130, 104]`` → 0.04 / 0.25 = 0.16.

    Rules: as :func:`total_return` and :func:`max_drawdown`; a constant or too short series → 0.0;
    no drawdown → ``total_return / floor``.

    Raises:
        ValueError: as :func:`total_return`, or ``floor`` not a positive number.
    """
    fl = positive_scalar(floor, "floor")
    return float(total_return(values) / max(max_drawdown(values), fl))
