"""taos.analysis: the stylized-fact statistics, with hand-computed values."""

import math

import numpy as np
import pytest

from taos.analysis import autocorrelation, excess_kurtosis, log_returns, stylized_facts


def test_log_returns() -> None:
    r = log_returns(np.array([100.0, 110.0, 99.0]))
    assert r == pytest.approx([math.log(1.1), math.log(0.9)])
    assert log_returns(np.array([5.0])).size == 0
    with pytest.raises(ValueError, match="prices must all be > 0"):
        log_returns(np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="one-dimensional"):
        log_returns(np.ones((2, 2)))


def test_excess_kurtosis_by_hand() -> None:
    # [1, -1, 1, -1]: m2 = 1, m4 = 1 → 1 - 3 = -2
    assert excess_kurtosis(np.array([1.0, -1.0, 1.0, -1.0])) == pytest.approx(-2.0)
    # [0, 0, 0, 4]: mean 1, d = [-1,-1,-1,3]; m2 = 12/4 = 3, m4 = 84/4 = 21 → 21/9 - 3 = -2/3
    assert excess_kurtosis(np.array([0.0, 0.0, 0.0, 4.0])) == pytest.approx(21 / 9 - 3)
    assert math.isnan(excess_kurtosis(np.array([2.0, 2.0])))
    assert math.isnan(excess_kurtosis(np.array([1.0])))


def test_autocorrelation_by_hand() -> None:
    # x = [1, 2, 3, 4]: d = [-1.5, -.5, .5, 1.5], Σd² = 5;
    # lag 1: (.75 - .25 + .75)/5 = .25; lag 2: (-.75 - .75)/5 = -.3; lag 3: -2.25/5 = -.45
    acf = autocorrelation(np.array([1.0, 2.0, 3.0, 4.0]), 4)
    assert acf[:3] == pytest.approx([0.25, -0.3, -0.45])
    assert math.isnan(acf[3])  # lag 4 is not shorter than the series
    assert np.all(np.isnan(autocorrelation(np.ones(5), 2)))
    with pytest.raises(ValueError, match="lags must be >= 1"):
        autocorrelation(np.ones(3), 0)


def test_alternating_series_and_summary() -> None:
    prices = 100 * np.exp(np.cumsum([0.0] + [0.01, -0.01] * 20))
    facts = stylized_facts(prices, lags=3)
    assert facts.returns == 40
    assert facts.raw_autocorrelation[0] == pytest.approx(-1 + 1 / 40)  # (n - 1)/n of -1
    assert "excess_kurtosis" in facts.summary()
