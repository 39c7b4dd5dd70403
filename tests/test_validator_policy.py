"""ScoringSettings: the presets, the checks of every field, and the --scoring.* flags."""

import dataclasses

import pytest

from taos.scoring import ChallengeThresholds
from taos.validator.policy import DEFAULT_MIN_VOLUME, SCORING_FLAGS, ScoringSettings, scoring_from_flags
from taos.validator.validator import ValidatorSettings


def test_preset_taos_is_the_default_and_turns_everything_off() -> None:
    s = ScoringSettings.preset("taos")
    assert s == ScoringSettings() == ValidatorSettings().scoring
    assert (s.weights, s.elimination, s.challenge, s.policies) == ("taos", False, False, False)


def test_preset_ptn_turns_everything_on_with_the_spec_defaults() -> None:
    s = ScoringSettings.preset("ptn")
    assert (s.weights, s.elimination, s.challenge, s.policies) == ("ptn", True, True, True)
    assert (s.max_drawdown, s.max_daily_drawdown) == (0.10, 0.05)
    assert s.checkpoint_period_ns == 6 * 3_600 * 10**9
    assert s.decay_window_ns == 30 * 86_400 * 10**9
    assert (s.rank_share, s.rank_fraction, s.decay_exponent) == (0.9, 0.4, 4.0)
    assert (s.challenge_period_s, s.challenge_clock) == (30 * 86_400.0, "sim")
    assert s.challenge_thresholds == ChallengeThresholds(0.02, 0.05, 10, 50.0)
    assert dict(s.metric_weights) == {"return": 1.0, "omega": 1.0, "sortino": 1.0}


def test_unknown_preset() -> None:
    with pytest.raises(ValueError, match="scoring preset must be one of taos, ptn, sn79, got 'sn8'"):
        ScoringSettings.preset("sn8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weights": "sharpe"}, "weights must be one of taos, ptn"),
        ({"challenge_clock": "moon"}, "challenge_clock must be one of sim, wall"),
        ({"elimination": 1}, "elimination must be True or False"),
        ({"return_weight": -1.0}, r"return_weight must lie in \[0, inf\)"),
        ({"return_weight": 0.0, "omega_weight": 0.0, "sortino_weight": 0.0}, "must not all be 0"),
        ({"checkpoint_period_s": 0.0}, r"checkpoint_period_s must lie in \(0, inf\)"),
        ({"checkpoint_period_s": 1e-10}, "at least 1 ns"),
        ({"decay_window_s": float("nan")}, "decay_window_s must be a finite number"),
        ({"decay_exponent": -2.0}, "decay_exponent must lie in"),
        ({"rank_share": 1.0}, r"rank_share must lie in \(0, 1\)"),
        ({"rank_fraction": 0.0}, r"rank_fraction must lie in \(0, 1\]"),
        ({"max_drawdown": 0.0}, r"max_drawdown must lie in \(0, 1\)"),
        ({"max_daily_drawdown": 1.0}, r"max_daily_drawdown must lie in \(0, 1\)"),
        ({"challenge_period_s": -1.0}, "challenge_period_s must lie in"),
        ({"challenge_weight": 1.0}, r"challenge_weight must lie in \[0, 1\)"),
        ({"challenge_weight": "0.1"}, "challenge_weight must be a finite number"),
        ({"challenge_thresholds": ChallengeThresholds(min_closed_positions=-1)}, "must be >= 0"),
        ({"challenge_thresholds": ChallengeThresholds(min_total_return=float("inf"))}, "finite"),
    ],
)
def test_every_field_is_checked(change: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        dataclasses.replace(ScoringSettings(), **change)


def test_flags_override_the_preset() -> None:
    s = scoring_from_flags(
        "ptn",
        {
            "weights": "taos",
            "elimination": "off",
            "challenge": None,  # not given: the preset's
            "metric-weights": "return=2,sortino=0.5",
            "checkpoint-period": "1h",
            "decay-window": "2d",
            "decay-exponent": "2",
            "rank-share": "0.8",
            "rank-fraction": "0.5",
            "max-drawdown": "0.2",
            "max-daily-drawdown": "0.07",
            "challenge-period": "90m",
            "challenge-clock": "wall",
            "challenge-weight": "0.01",
            "challenge-thresholds": "return=0.05,closed=3",
        },
    )
    assert (s.weights, s.elimination, s.challenge) == ("taos", False, True)
    assert dict(s.metric_weights) == {"return": 2.0, "omega": 1.0, "sortino": 0.5}
    assert (s.checkpoint_period_s, s.decay_window_s, s.challenge_period_s) == (3_600.0, 172_800.0, 5_400.0)
    assert (s.decay_exponent, s.rank_share, s.rank_fraction) == (2.0, 0.8, 0.5)
    assert (s.max_drawdown, s.max_daily_drawdown, s.challenge_weight) == (0.2, 0.07, 0.01)
    assert s.challenge_clock == "wall"
    assert s.challenge_thresholds == ChallengeThresholds(0.05, 0.05, 3, 50.0)
    assert isinstance(s.challenge_thresholds.min_closed_positions, int)
    assert scoring_from_flags("taos", {}) == ScoringSettings()
    assert scoring_from_flags("ptn", {"elimination": "on"}).elimination is True
    assert ScoringSettings.preset("ptn").losers_by_return is True
    assert scoring_from_flags("ptn", {"losers-by-return": "off"}).losers_by_return is False


@pytest.mark.parametrize(
    ("preset", "flags", "message"),
    [
        ("ptm", {}, "--scoring.preset must be one of taos, ptn, sn79, got 'ptm'"),
        ("taos", {"series": "wealth"}, "--scoring.series must be one of pnl, value"),
        ("taos", {"min-volume": "-0.1"}, r"--scoring.min-volume: min_volume must lie in \[0, inf\)"),
        ("taos", {"min-volume": "nan"}, "--scoring.min-volume must be a finite number"),
        ("taos", {"min-position-notional": "1"}, r"min_position_notional must lie in \[0, 1\)"),
        ("taos", {"min-exposure": "1.5"}, r"min_exposure must lie in \[0, 1\]"),
        ("taos", {"min-checkpoints": "2.5"}, "--scoring.min-checkpoints must be a whole number"),
        ("taos", {"min-checkpoints": "-1"}, "min_checkpoints must be >= 0"),
        ("taos", {"colour": "red"}, "unknown flag --scoring.colour"),
        ("taos", {"weights": "best"}, "--scoring.weights must be one of taos, ptn"),
        ("taos", {"elimination": "maybe"}, "--scoring.elimination must be on or off"),
        ("ptn", {"losers-by-return": "2"}, "--scoring.losers-by-return must be on or off"),
        ("taos", {"metric-weights": "calmar=1"}, "--scoring.metric-weights takes NAME=NUMBER pairs"),
        ("taos", {"metric-weights": "return"}, "--scoring.metric-weights takes NAME=NUMBER pairs"),
        ("taos", {"metric-weights": ","}, "--scoring.metric-weights takes NAME=NUMBER pairs"),
        ("taos", {"metric-weights": "return=1,return=2"}, "return is given twice"),
        ("taos", {"metric-weights": "omega=x"}, "--scoring.metric-weights omega must be a number"),
        (
            "taos",
            {"metric-weights": "return=0,omega=0,sortino=0"},
            "--scoring.metric-weights: .* not all be 0",
        ),
        ("taos", {"checkpoint-period": "6 hours"}, "--scoring.checkpoint-period must be a positive duration"),
        ("taos", {"decay-window": "0d"}, "--scoring.decay-window must be a positive duration"),
        ("taos", {"max-drawdown": "1.5"}, r"--scoring.max-drawdown: max_drawdown must lie in \(0, 1\)"),
        ("taos", {"max-daily-drawdown": "five"}, "--scoring.max-daily-drawdown must be a number"),
        ("taos", {"rank-share": "inf"}, "--scoring.rank-share must be a finite number"),
        ("taos", {"challenge-clock": "sun"}, "--scoring.challenge-clock must be one of sim, wall"),
        ("taos", {"challenge-thresholds": "closed=2.5"}, "closed must be a whole number"),
        ("taos", {"challenge-thresholds": "hours=-1"}, "--scoring.challenge-thresholds: .* must be >= 0"),
        ("taos", {"challenge-thresholds": "days=3"}, "NAME in return, sharpe, closed, hours"),
        ("taos", {"preset": "ptn"}, "unknown flag --scoring.preset"),
    ],
)
def test_bad_flags_name_the_flag(preset: str, flags: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        scoring_from_flags(preset, flags)


def test_every_flag_sets_something() -> None:
    samples = {
        "weights": "ptn",
        "elimination": "on",
        "challenge": "on",
        "metric-weights": "omega=3",
        "checkpoint-period": "2h",
        "decay-window": "5d",
        "decay-exponent": "3",
        "rank-share": "0.7",
        "rank-fraction": "0.3",
        "max-drawdown": "0.3",
        "max-daily-drawdown": "0.2",
        "challenge-period": "3d",
        "challenge-clock": "wall",
        "challenge-weight": "0.002",
        "challenge-thresholds": "sharpe=0.1",
        "series": "value",
        "min-volume": "0.2",
        "min-position-notional": "0.05",
        "min-exposure": "0.3",
        "min-checkpoints": "4",
        "losers-by-return": "off",
    }
    assert set(samples) == set(SCORING_FLAGS) - {"preset"}
    for name, value in samples.items():
        assert scoring_from_flags("taos", {name: value}) != ScoringSettings(), name


def test_preset_sn79_is_the_original_formula_and_taos_scores_trading_pnl_with_a_minimum_volume() -> None:
    sn79, taos = ScoringSettings.preset("sn79"), ScoringSettings.preset("taos")
    assert (sn79.series, sn79.min_volume) == ("value", 0.0)
    assert (taos.series, taos.min_volume) == ("pnl", DEFAULT_MIN_VOLUME) and DEFAULT_MIN_VOLUME > 0
    assert sn79.weights == taos.weights == "taos" and not sn79.policies  # both: scheme taos
    assert scoring_from_flags("sn79", {"min-volume": "0.1"}).min_volume == 0.1
