"""The stylized facts of returns (SPEC §5), as pure functions of a price series.

- heavy tails: positive excess kurtosis of 1-minute log returns,
  ``K = m4 / m2² - 3`` with central moments ``m_k = mean((r - mean r)^k)`` (population form);
- volatility clustering: positive autocorrelation of ``|r|`` over the first lags;
- no linear predictability: small autocorrelation of ``r`` beyond the first lags.

The sample autocorrelation at lag ``k`` is ``Σ_{t<n-k} (x_t - x̄)(x_{t+k} - x̄) / Σ_t (x_t - x̄)²``
(the standard estimator, e.g. Cont 2001, "Empirical properties of asset returns: stylized facts and
statistical issues", Quantitative Finance 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def log_returns(prices: np.ndarray) -> np.ndarray:
    """``ln(p[t+1] / p[t])``; prices must be positive. Fewer than two prices give an empty array."""
    p = np.asarray(prices, dtype=float)
    if p.ndim != 1:
        raise ValueError(f"prices must be one-dimensional, got shape {p.shape}")
    if p.size and not np.all(p > 0):
        raise ValueError("prices must all be > 0")
    return np.diff(np.log(p))


def excess_kurtosis(r: np.ndarray) -> float:
    """``m4 / m2² - 3`` (population moments); NaN for fewer than 2 values or zero variance."""
    x = np.asarray(r, dtype=float)
    if x.size < 2:
        return float("nan")
    d = x - x.mean()
    m2 = float(np.mean(d**2))
    if m2 == 0.0:
        return float("nan")
    return float(np.mean(d**4) / m2**2 - 3.0)


def autocorrelation(x: np.ndarray, lags: int) -> np.ndarray:
    """Sample autocorrelation at lags 1..``lags`` (index 0 is lag 1); NaN where undefined
    (zero variance, or a lag not shorter than the series)."""
    v = np.asarray(x, dtype=float)
    if lags < 1:
        raise ValueError(f"lags must be >= 1, got {lags}")
    out = np.full(lags, np.nan)
    d = v - v.mean() if v.size else v
    denom = float(np.dot(d, d))
    if denom == 0.0:
        return out
    for k in range(1, min(lags, v.size - 1) + 1):
        out[k - 1] = float(np.dot(d[:-k], d[k:])) / denom
    return out


@dataclass(frozen=True)
class StylizedFacts:
    returns: int  # number of returns measured
    excess_kurtosis: float
    abs_autocorrelation: tuple[float, ...]  # |r|, lags 1..n
    raw_autocorrelation: tuple[float, ...]  # r, lags 1..n

    def summary(self) -> str:
        def fmt(v: tuple[float, ...]) -> str:
            return " ".join(f"{x:+.3f}" for x in v)

        return (
            f"returns={self.returns} excess_kurtosis={self.excess_kurtosis:.2f}\n"
            f"  acf |r| lags 1..{len(self.abs_autocorrelation)}: {fmt(self.abs_autocorrelation)}\n"
            f"  acf  r  lags 1..{len(self.raw_autocorrelation)}: {fmt(self.raw_autocorrelation)}"
        )


def stylized_facts(prices: np.ndarray, lags: int = 10) -> StylizedFacts:
    """The facts of one regularly sampled price series (e.g. the mid every minute)."""
    r = log_returns(prices)
    return StylizedFacts(
        returns=int(r.size),
        excess_kurtosis=excess_kurtosis(r),
        abs_autocorrelation=tuple(float(a) for a in autocorrelation(np.abs(r), lags)),
        raw_autocorrelation=tuple(float(a) for a in autocorrelation(r, lags)),
    )
