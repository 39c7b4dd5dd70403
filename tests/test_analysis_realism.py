"""taos.analysis.realism: the facts of step series (flicker, spread, depth, one-sided steps), the
targets' pass/fail, several seeds combined, the recorder's depth within 10 ticks, the impact fit,
the mid's pinning to the fundamental and the order flow's own imbalance, and the same facts from summary.json (recorded while running) and from the run folder's files."""

import math
from pathlib import Path

import numpy as np
import pytest
from run_samples import record_run

from taos.analysis import load_run
from taos.analysis.realism import (
    REALISM_PLOTS,
    WARMUP_S,
    BookSeries,
    Impact,
    Recorder,
    book_facts,
    bootstrap_se,
    checks,
    combine,
    flow_imbalance,
    gap_stats,
    plot_realism,
    realism,
    report_text,
    run_realism,
)
from taos.simulator import LEVEL_DTYPE

S = 1_000_000_000
STEP = 5 * S


def series(mid: np.ndarray, spread: float = 1.0, depth: float = 50.0) -> BookSeries:
    n = mid.size
    t = round(WARMUP_S * S) + STEP * np.arange(n, dtype=np.int64)
    return BookSeries(t, mid - spread / 2, mid + spread / 2, np.full(n, depth), np.full(n, depth), mid.copy())


def test_a_reversed_jump_is_flicker_and_a_kept_one_is_not() -> None:
    mid = np.full(200, 30_000.0)
    mid[50] = 30_020.0  # up 20 ticks and straight back: flicker
    mid[120:] = 30_030.0  # up 30 ticks and stays: a move
    f = book_facts(series(mid))
    assert (f.flicker_steps, f.move_steps) == (1, 198)
    assert f.one_sided == 0 and f.steps == 200
    assert np.all(f.spreads == 1.0)


def test_one_sided_steps_and_thin_depth_are_seen() -> None:
    s = series(np.full(720, 30_000.0))
    s.ask[100:110] = np.nan  # ten steps without asks
    s.bid_depth[400:] = 10.0  # the bids thin out for the last 26 minutes
    f = book_facts(s)
    assert f.one_sided == 10
    assert f.depth_min == 10.0
    assert f.depth_ratio == pytest.approx(10.0 / 50.0)


def test_the_targets_pass_and_fail_and_unmeasurable_ones_are_not_judged() -> None:
    rng = np.random.default_rng(3)
    mid = 30_000.0 * np.exp(np.cumsum(rng.normal(0, 5e-5, 12 * 60 * 4)))  # 1.5 ticks a step
    good = realism([series(mid)], miner_base=100.0)
    by_name = {c.name: c for c in checks(good)}
    assert by_name["spread"].ok and by_name["two_sided"].ok and by_name["depth_floor"].ok
    assert by_name["depth_stability"].ok and by_name["flicker"].ok
    assert by_name["rho1"].ok  # a random walk
    assert by_name["abs_acf_1_10"].ok is False  # iid returns do not cluster
    assert "impact" not in by_name
    wide = realism([series(mid, spread=4.0, depth=2.0)], miner_base=100.0)
    by_name = {c.name: c for c in checks(wide)}
    assert by_name["spread"].ok is False and by_name["depth_floor"].ok is False
    short = realism([series(mid[:5])], miner_base=100.0)
    assert {c.name for c in checks(short) if c.ok is None} >= {"rho1", "kurtosis", "abs_acf_30"}
    # under an hour of returns (59 here) the return and depth-stability targets are not judged,
    # though every figure has a value; the per-step targets are
    under_hour = realism([series(mid[: 12 * 59 + 1])], miner_base=100.0)
    assert under_hour.returns == 59 and math.isfinite(under_hour.kurtosis)
    unjudged = {c.name for c in checks(under_hour) if c.ok is None}
    assert unjudged == {"rho1", "rho2_10", "kurtosis", "abs_acf_1_10", "abs_acf_30", "depth_stability"}
    hour = realism([series(mid[: 12 * 60 + 1])], miner_base=100.0)
    assert hour.returns == 60 and {c.name for c in checks(hour) if c.ok is None} <= {"abs_acf_30"}
    text = report_text(wide)
    assert "FAIL  spread" in text and "pass  two_sided" in text


def test_seeds_combine_to_means_and_worst_cases_with_their_range() -> None:
    rng = np.random.default_rng(5)
    a = realism([series(30_000.0 * np.exp(np.cumsum(rng.normal(0, 2e-4, 2_000))))], miner_base=100.0)
    thin = series(30_000.0 * np.exp(np.cumsum(rng.normal(0, 2e-4, 2_000))), depth=3.0)
    b = realism([thin], miner_base=100.0)
    both = combine([a, b])
    assert both.seeds == 2 and both.steps == a.steps + b.steps
    assert both.depth_min == 3.0  # the worst seed
    assert both.kurtosis == pytest.approx((a.kurtosis + b.kurtosis) / 2)
    assert np.allclose(both.acf, (a.acf + b.acf) / 2)
    assert both.spread_over_seeds["depth_floor"] == pytest.approx((0.03, 0.5))
    assert "(seeds 0.03" in report_text(both)


def test_the_recorder_counts_depth_within_ten_ticks_of_the_mid() -> None:
    rec = Recorder(1, lot_size=0.0001, warmup_s=0.0)
    bids = np.zeros(3, dtype=LEVEL_DTYPE)
    bids["price_ticks"] = [29_999, 29_990, 29_980]
    bids["qty_lots"] = [10_000, 20_000, 40_000]
    asks = np.zeros(2, dtype=LEVEL_DTYPE)
    asks["price_ticks"] = [30_001, 30_011]
    asks["qty_lots"] = [30_000, 50_000]
    rec.add(STEP, 0, bids, asks, 30_000.0)
    rec.add(2 * STEP, 0, bids, asks[:0])  # no asks: no mid, no depth
    s = rec.series()[0]
    assert s.bid_depth[0] == pytest.approx(3.0)  # 29'999 and 29'990 are within 10 ticks of 30'000
    assert s.ask_depth[0] == pytest.approx(3.0)  # 30'011 is 11 ticks away
    assert math.isnan(s.ask[1]) and math.isnan(s.bid_depth[1])
    profile = rec.depth_profile()
    assert profile[0, 0] == pytest.approx(1.0) and profile[0, 9] == pytest.approx(2.0)
    assert profile[1, 0] == pytest.approx(3.0) and profile[1, 10] == pytest.approx(5.0)


def test_the_impact_fit_recovers_a_power_law() -> None:
    q = np.array([0.001, 0.01, 0.1])
    fit = Impact.fit(q, 0.02 * q**0.5)
    assert fit.exponent == pytest.approx(0.5) and fit.prefactor == pytest.approx(0.02)
    assert fit.concave
    assert math.isnan(Impact.fit(q, [0.0, 0.0, 1.0]).exponent)


def test_the_gap_to_the_fundamental_has_the_spread_and_memory_of_its_process() -> None:
    # ln(mid / fundamental) an AR(1) with coefficient 0.9 per 5-s step and s.d. 2 bp: its
    # autocorrelation at 5 s, 60 s and 600 s is 0.9, 0.9^12 and 0.9^120
    rng = np.random.default_rng(3)
    n, phi = 40_000, 0.9
    g = np.zeros(n)
    e = rng.normal(0.0, 2.0 * math.sqrt(1 - phi**2), n)
    for i in range(1, n):
        g[i] = phi * g[i - 1] + e[i]
    fundamental = 30_000.0 * np.exp(np.cumsum(rng.normal(0.0, 1e-4, n)))
    s = series(fundamental * np.exp(g * 1e-4))
    s.fundamental = fundamental
    s.bid[100:110] = np.nan  # one-sided steps are left out
    sd, acf = gap_stats([s])
    assert sd == pytest.approx(2.0, rel=0.05)
    assert acf[0] == pytest.approx(0.9, abs=0.01)
    assert acf[1] == pytest.approx(0.9**12, abs=0.03)
    assert abs(acf[2]) < 0.03
    # a book without a fundamental is not measured; none at all gives NaN
    bare = series(np.full(100, 30_000.0))
    bare.fundamental = None
    assert gap_stats([s, bare]) == (sd, acf)
    sd0, acf0 = gap_stats([bare])
    assert math.isnan(sd0) and all(math.isnan(a) for a in acf0)


def test_the_flow_imbalance_is_the_spread_of_window_sums_over_the_hourly_volume() -> None:
    # two-step windows, four steps an hour; book 0 nets +1, -1, +1, -1 base per window on 0.5
    # base traded a step (2 an hour): s.d. 1 / 2; book 1 trades nothing and is not counted
    signed = np.array(
        [[1.0, 0.0], [0.0, 0.0], [-0.5, 0.0], [-0.5, 0.0], [2.0, 0.0], [-1.0, 0.0], [0.0, 0.0], [-1.0, 0.0]]
    )
    volume = np.column_stack([np.full(8, 0.5), np.zeros(8)])
    assert flow_imbalance(signed, volume, 2, 4) == pytest.approx(0.5)
    # a window too few: NaN; shapes and sizes that do not fit: refused with what is wrong
    assert math.isnan(flow_imbalance(signed[:3], volume[:3], 2, 4))
    with pytest.raises(ValueError, match="same"):
        flow_imbalance(signed, volume[:, :1], 2, 4)
    with pytest.raises(ValueError, match="window_steps"):
        flow_imbalance(signed, volume, 0, 4)


def test_summary_json_holds_the_facts_the_run_folder_gives_back(tmp_path: Path) -> None:
    # the sample market lasts 15 minutes: the facts from minute 5 on
    rec, _ = record_run(tmp_path, 180, miner_base=100.0, warmup_s=300.0)
    summary = rec.summary["realism"]
    assert summary["steps"] == 2 * 121 and summary["books"] == 2 and summary["warmup_s"] == 300.0
    again = run_realism(load_run(rec.path), warmup_s=300.0)
    for key in ("spread_median_ticks", "one_sided_steps", "flicker_fraction", "depth_min", "depth_ratio"):
        assert summary[key] == pytest.approx(again.as_dict()[key], nan_ok=True), key
    assert summary["raw_autocorrelation"] == pytest.approx(
        again.as_dict()["raw_autocorrelation"], nan_ok=True
    )
    assert {c["name"] for c in summary["checks"]} >= {"rho1", "spread", "depth_floor", "flicker"}
    paths = plot_realism(again, tmp_path / "plots")
    assert [p.name for p in paths] == list(REALISM_PLOTS)
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in paths)


def test_a_writer_without_a_miner_base_writes_no_facts(tmp_path: Path) -> None:
    rec, _ = record_run(tmp_path, 3)
    assert rec.summary["realism"] is None


# --- bootstrap_se: the error of a statistic of the mean impacts, resampling whole starts


def test_bootstrap_se_is_zero_for_identical_starts_and_nan_for_one() -> None:
    rows = np.tile([1.0, 2.0, 4.0], (6, 1))
    assert bootstrap_se(rows, lambda m: float(m[2] / m[0])) == pytest.approx(0.0, abs=1e-15)
    assert math.isnan(bootstrap_se(rows[:1], lambda m: float(m[0])))


def test_bootstrap_se_of_a_mean_is_near_its_standard_error() -> None:
    x = np.random.default_rng(4).normal(size=(400, 1))
    se = bootstrap_se(x, lambda m: float(m[0]), resamples=1000)
    assert se == pytest.approx(x.std() / 20, rel=0.15)  # s.d. / sqrt(400)


def test_bootstrap_se_keeps_the_sizes_of_a_start_together() -> None:
    # the second size is always twice the first, start by start: resampled whole, the ratio of the
    # means never moves; resampled column by column it would
    first = np.random.default_rng(5).uniform(1, 10, size=30)
    rows = np.column_stack([first, 2 * first])
    assert bootstrap_se(rows, lambda m: float(m[1] / m[0])) == pytest.approx(0.0, abs=1e-12)


def test_bootstrap_se_leaves_nan_cells_out_and_needs_finite_statistics() -> None:
    rows = np.array([[1.0, np.nan], [1.0, 3.0], [1.0, 3.0], [1.0, 3.0]])
    assert bootstrap_se(rows, lambda m: float(m[1])) == pytest.approx(0.0, abs=1e-15)
    assert math.isnan(bootstrap_se(np.ones((5, 2)), lambda m: math.nan))


@pytest.mark.parametrize(
    ("samples", "resamples", "why"),
    [(np.ones(5), 100, "must be a 2-D array"), (np.ones((5, 2)), 1, "resamples must be at least 2")],
)
def test_bootstrap_se_refuses_bad_shapes_and_counts(samples, resamples, why) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=why):
        bootstrap_se(samples, lambda m: 0.0, resamples=resamples)
