"""Preset ``taos`` scores trading skill: the Sharpe ratio of the trading PnL against holding the
starting inventory, on the books where the miner traded the minimum volume; preset ``sn79`` keeps
subnet 79's formula (the Sharpe ratio of the inventory value, every book). Hand-made observations
of three miners on two books, worked out in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from taos.validator.history import ScoreParams
from taos.validator.policy import ScoringSettings
from taos.validator.schemes import Observation, TaosScheme, make_scheme
from taos.validator.schemes.ptn.common import NoPositions

S = 1_000_000_000
WEALTH = 1_000.0  # a miner's starting wealth per book: quote0 = 500, base0 = 5 at a mid of 100
QUOTE0, BASE0 = 500.0, 5.0
STEPS = 40


def scheme(preset: str, **changes: float) -> TaosScheme:
    settings = ScoringSettings.preset(preset)
    if changes:
        settings = ScoringSettings(**{**settings.__dict__, **changes})
    params = ScoreParams(starting_wealth=WEALTH, window=20, interval_ns=5 * S, bucket_ns=60 * S)
    out = make_scheme(None, settings, params, slots=3, books=2)
    assert isinstance(out, TaosScheme)
    return out


def run(s: TaosScheme, trades: dict[int, float]) -> np.ndarray:
    """STEPS observations of a mid rising by 0.5 % a step on both books. Miner 0 holds its starting
    inventory and trades ``trades[0]`` of volume a step without changing it (dust: buys and sells
    back at the mid); miner 1 does the same with ``trades[1]`` and earns 0.2 quote a step from its
    trading on top (a market maker's spread); miner 2 never trades."""
    totals = np.zeros((3, 2), dtype=np.int64)
    earned = 0.0
    for i in range(1, STEPS + 1):
        mid = 100.0 * 1.005**i
        holding = QUOTE0 + mid * BASE0
        earned += 0.2 + 0.05 * (i % 3)  # not constant: a Sharpe ratio needs some spread of returns
        values = np.full((3, 2), holding)
        values[1] += earned
        for uid, volume in trades.items():
            totals[uid] += int(volume)
        obs = Observation(
            i, i * 5 * S, float(i), values, np.full(2, holding), totals.copy(), np.ones(3, dtype=bool),
            NoPositions(),
        )  # fmt: skip
        s.observe(obs)
    return s.history.step_scores()


def test_sn79_pays_a_dust_trader_for_the_market_drift_of_its_inventory() -> None:
    """Subnet 79's formula: the holder's V rises every step (returns of 0.5 % of the base's value,
    all positive, slowly growing): a large Sharpe ratio, clipped at 10, so Ŝ = 1; its activity is
    1 + v / cap = 1 + 20 x 1 / 10,000 ≈ 1.002 (it traded in the latest bucket), w = a·Ŝ ≈ 1.002."""
    scores = run(scheme("sn79"), {0: 1.0, 1: 1.0})
    assert scores[0] == pytest.approx(1.002)
    assert scores[2] == 0.0  # never traded: activity 0


def test_taos_pays_nothing_for_drift_and_the_market_maker_for_its_trading() -> None:
    """The PnL against holding: the dust trader's P is 0 at every step (its inventory is the
    starting one), so it has no return at all: Sharpe 0; and its volume (20 over the window)
    is below the minimum (0.05 x 1,000 = 50): its books do not count, score 0. The market maker
    trades 100 a step (2,000 over the window, above the minimum) and earns a positive PnL."""
    scores = run(scheme("taos"), {0: 1.0, 1: 100.0})
    assert scores[0] == 0.0 and scores[2] == 0.0
    assert scores[1] > 0.5  # Ŝ > 0.5: a positive Sharpe ratio of its trading PnL


def test_the_minimum_volume_binds_and_without_it_dust_gets_only_a_zero_sharpe() -> None:
    """The same market maker with too little volume (2 a step: 40 < 50 over the window) scores 0.
    With ``min_volume=0`` every book counts: the dust trader gets Ŝ = 0.5 (a Sharpe ratio of 0),
    scaled by its activity (a = 1.002, Ŝ ≤ 0.5: (2 - a)·Ŝ = 0.499), less than the market maker."""
    scores = run(scheme("taos"), {0: 1.0, 1: 2.0})
    assert scores[1] == 0.0
    free = run(scheme("taos", min_volume=0.0), {0: 1.0, 1: 2.0})
    assert free[0] == pytest.approx(0.499) and free[1] > 0.5 and free[2] == 0.0


def test_the_window_volume_is_that_of_exactly_the_window() -> None:
    """20 observations in the window: after 40 steps of 100, the window volume is 2,000, not the
    whole run's 4,000 nor the 10-minute buckets' count (buckets of 60 s here: 12 steps each)."""
    s = scheme("taos")
    run(s, {0: 1.0, 1: 100.0})
    assert s.history.window_volume()[1].tolist() == [2_000, 2_000]
    assert s.history.window_volume()[0].tolist() == [20, 20]
