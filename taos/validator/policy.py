"""How the validator scores and polices miners: the scoring presets of SPEC §9-10 as settings.

:class:`ScoringSettings` is one frozen value. ``ScoringSettings.preset("taos")`` (the default) is
the subnet-79 behaviour: EMA-smoothed Sharpe scores → :func:`taos.scoring.weights_from_scores`,
no elimination, no challenge period. ``ScoringSettings.preset("ptn")`` turns on the subnet-8 rules:
drawdown elimination, the challenge period and weights from the checkpoint ledger on the
exponential rank curve. Every part can be switched and tuned on its own
(``dataclasses.replace`` or the ``--scoring.*`` command-line flags, :func:`scoring_from_flags`).

Units: durations in seconds (floats), fractions as fractions (0.1 = 10 %).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from taos.scoring import ChallengeThresholds

DAY_S = 86_400.0
PRESETS = ("taos", "ptn", "sn79")
SERIES = ("pnl", "value")
WEIGHT_METHODS = ("taos", "ptn")
DEFAULT_MIN_VOLUME = 0.05
"""Preset ``taos``'s minimum volume of a book over the Sharpe window, as a multiple of the starting
wealth (docs/scoring.md: chosen from the league of reference agents)."""
CHALLENGE_CLOCKS = ("sim", "wall")
METRICS = ("return", "omega", "sortino")


@dataclass(frozen=True)
class ScoringSettings:
    """What the validator does with its miners' results (docs/scoring.md, docs/validator.md).

    Attributes:
        weights: ``"taos"`` (EMA Sharpe scores, weights proportional to them) or ``"ptn"`` (the
            checkpoint ledger's return, Omega and Sortino, ranked and combined, on the exponential
            rank curve; challenge miners get ``challenge_weight``).
        elimination: eliminate a miner whose portfolio value falls more than ``max_drawdown`` below
            its running maximum or more than ``max_daily_drawdown`` below the current sim day's
            maximum.
        challenge: new hotkeys go through the challenge period first.
        return_weight, omega_weight, sortino_weight: the metric weights of ``ptn_score``.
        checkpoint_period_s: length of a ledger checkpoint in sim seconds (6 h).
        decay_window_s: age at which a checkpoint's weight reaches 0, sim seconds (30 days); older
            checkpoints are dropped.
        decay_exponent: ``c`` of the age decay ``1 - f^c`` (4).
        rank_share, rank_fraction: ``b`` and ``p`` of the exponential rank curve: the top
            ``p`` of the ranks receive ``b`` of the curve's weight (0.9, 0.4).
        max_drawdown: elimination below the running maximum, as a fraction (0.10).
        max_daily_drawdown: elimination below the sim day's maximum, as a fraction (0.05).
        challenge_period_s: length of the challenge period in seconds of ``challenge_clock``
            (30 days).
        challenge_clock: ``"sim"`` (simulation time) or ``"wall"`` (wall-clock time).
        challenge_thresholds: what a miner must reach to pass (:class:`ChallengeThresholds`).
        challenge_weight: the fixed weight of each miner in its challenge period (0.001).
        series: what preset ``taos`` takes the Sharpe ratio of, per book: ``"pnl"``, the trading
            PnL against holding the starting inventory, ``V - (quote0 + mid x base0)`` (market
            drift earns nothing), or ``"value"``, the inventory value ``V`` itself (subnet 79's
            original formula, preset ``sn79``).
        min_volume: a book counts toward a miner's preset ``taos`` score only when the miner traded
            at least this multiple of its starting wealth on the book within the Sharpe window;
            elsewhere the book's value is 0 (0: every book counts). Weights ``ptn`` rank a miner
            only when it traded this multiple of its starting wealth on all books together within
            the Sharpe window (a miner that bought once and holds is not trading).
        min_position_notional: a position is open only while its notional, ``|base - base0| x mid``,
            is at least this fraction of the miner's equity on the book (0.01; and more than one
            lot): smaller ones count neither toward the challenge nor as time in the market.
        min_exposure: a ledger checkpoint counts toward preset ``ptn``'s return, Omega and Sortino
            only when the miner had a position open for at least this fraction of it (of the part
            that has passed, for the current one) (0.1).
        min_checkpoints: a miner is ranked by preset ``ptn`` only with at least this many
            checkpoints that count; before, its weight is 0 (1).
        losers_by_return: weights ``ptn`` rank the miners whose return is below 0 below all the
            others on every metric, among themselves by their return (``ptn_score``'s
            ``losers_by_return``: noise added to a losing strategy does not lift its Omega or
            Sortino rank) (on).
    """

    weights: str = "taos"
    elimination: bool = False
    challenge: bool = False
    return_weight: float = 1.0
    omega_weight: float = 1.0
    sortino_weight: float = 1.0
    checkpoint_period_s: float = 6 * 3_600.0
    decay_window_s: float = 30 * DAY_S
    decay_exponent: float = 4.0
    rank_share: float = 0.9
    rank_fraction: float = 0.4
    max_drawdown: float = 0.10
    max_daily_drawdown: float = 0.05
    challenge_period_s: float = 30 * DAY_S
    challenge_clock: str = "sim"
    challenge_thresholds: ChallengeThresholds = field(default_factory=ChallengeThresholds)
    challenge_weight: float = 0.001
    series: str = "pnl"
    min_volume: float = DEFAULT_MIN_VOLUME
    min_position_notional: float = 0.01
    min_exposure: float = 0.1
    min_checkpoints: int = 1
    losers_by_return: bool = True

    def __post_init__(self) -> None:
        if self.series not in SERIES:
            raise ValueError(f"series must be one of {', '.join(SERIES)}, got {self.series!r}")
        _number(self, "min_volume", lo=0.0)
        _number(self, "min_position_notional", lo=0.0, hi=1.0, hi_open=True)
        _number(self, "min_exposure", lo=0.0, hi=1.0)
        if isinstance(self.min_checkpoints, bool) or not isinstance(self.min_checkpoints, int):
            raise ValueError(f"min_checkpoints must be an integer, got {self.min_checkpoints!r}")
        if self.min_checkpoints < 0:
            raise ValueError(f"min_checkpoints must be >= 0, got {self.min_checkpoints}")
        if self.weights not in WEIGHT_METHODS:
            raise ValueError(f"weights must be one of {', '.join(WEIGHT_METHODS)}, got {self.weights!r}")
        if self.challenge_clock not in CHALLENGE_CLOCKS:
            raise ValueError(
                f"challenge_clock must be one of {', '.join(CHALLENGE_CLOCKS)}, got {self.challenge_clock!r}"
            )
        for name in ("elimination", "challenge", "losers_by_return"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        for name in ("return_weight", "omega_weight", "sortino_weight"):
            _number(self, name, lo=0.0)
        if self.return_weight + self.omega_weight + self.sortino_weight <= 0:
            raise ValueError("return_weight, omega_weight and sortino_weight must not all be 0")
        for name in ("checkpoint_period_s", "decay_window_s", "decay_exponent", "challenge_period_s"):
            _number(self, name, lo=0.0, lo_open=True)
        if round(self.checkpoint_period_s * 1e9) < 1:
            raise ValueError(f"checkpoint_period_s must be at least 1 ns, got {self.checkpoint_period_s!r}")
        _number(self, "rank_share", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        _number(self, "rank_fraction", lo=0.0, hi=1.0, lo_open=True)
        _number(self, "max_drawdown", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        _number(self, "max_daily_drawdown", lo=0.0, hi=1.0, lo_open=True, hi_open=True)
        _number(self, "challenge_weight", lo=0.0, hi=1.0, hi_open=True)
        th = self.challenge_thresholds
        if not isinstance(th, ChallengeThresholds):
            raise ValueError(f"challenge_thresholds must be a ChallengeThresholds, got {th!r}")
        for f in fields(ChallengeThresholds):
            value = getattr(th, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"challenge_thresholds.{f.name} must be a finite number, got {value!r}")
        if th.min_closed_positions < 0 or th.min_hours_in_positions < 0:
            raise ValueError("challenge_thresholds: closed positions and hours must be >= 0")

    @classmethod
    def preset(cls, name: str) -> ScoringSettings:
        """The settings of a named preset: ``"taos"`` (default), ``"ptn"`` or ``"sn79"`` (SPEC
        §9-10)."""
        if name == "taos":
            return cls()
        if name == "ptn":
            return cls(weights="ptn", elimination=True, challenge=True)
        if name == "sn79":
            return cls(series="value", min_volume=0.0)
        raise ValueError(f"scoring preset must be one of {', '.join(PRESETS)}, got {name!r}")

    @property
    def metric_weights(self) -> Mapping[str, float]:
        """The weights of ``ptn_score`` by metric name."""
        return MappingProxyType(
            {"return": self.return_weight, "omega": self.omega_weight, "sortino": self.sortino_weight}
        )

    @property
    def policies(self) -> bool:
        """Whether any SPEC §10 policy or the ledger is on (state to keep beyond ``ScoreState``)."""
        return self.elimination or self.challenge or self.weights == "ptn"

    @property
    def checkpoint_period_ns(self) -> int:
        return round(self.checkpoint_period_s * 1e9)

    @property
    def decay_window_ns(self) -> int:
        return round(self.decay_window_s * 1e9)


def _number(s: ScoringSettings, name: str, *, lo: float, hi: float = math.inf, **kw: bool) -> None:
    value = getattr(s, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    lo_bad = value <= lo if kw.get("lo_open") else value < lo
    hi_bad = value >= hi if kw.get("hi_open") else value > hi
    if lo_bad or hi_bad:
        left = "(" if kw.get("lo_open") else "["
        right = ")" if kw.get("hi_open") or hi == math.inf else "]"
        raise ValueError(f"{name} must lie in {left}{lo:g}, {hi:g}{right}, got {value!r}")


# --- command-line flags ----------------------------------------------------------------------------

SCORING_FLAGS: Mapping[str, str] = MappingProxyType(
    {
        "preset": "scoring preset: taos (Sharpe of trading PnL), ptn (elimination, challenge, ledger ranks)"
        " or sn79 (subnet 79's original: Sharpe of the inventory value)",
        "series": "preset taos: the Sharpe ratio of pnl (against holding) or value (default: the preset's)",
        "min-volume": "a book counts (taos), a miner is ranked (ptn) only with this volume in the Sharpe window, x starting wealth",
        "min-position-notional": "a position counts from this notional on, fraction of the book's equity (0.01)",
        "min-exposure": "preset ptn: a checkpoint counts with positions open this fraction of it (0.1)",
        "min-checkpoints": "preset ptn: checkpoints that count before a miner is ranked (1)",
        "losers-by-return": "preset ptn: rank miners with a negative return by their return on every metric: on or off (on)",
        "weights": "how weights are computed: taos or ptn (default: the preset's)",
        "elimination": "drawdown elimination: on or off (default: the preset's)",
        "challenge": "challenge period for new hotkeys: on or off (default: the preset's)",
        "metric-weights": "ptn metric weights, e.g. return=1,omega=1,sortino=1",
        "checkpoint-period": "ledger checkpoint length in sim time, e.g. 6h",
        "decay-window": "age at which a checkpoint stops counting, sim time, e.g. 30d",
        "decay-exponent": "c of the age decay 1 - f^c (4)",
        "rank-share": "b of the rank curve: share of the weight for the top fraction (0.9)",
        "rank-fraction": "p of the rank curve: the top fraction of the ranks (0.4)",
        "max-drawdown": "elimination below the running maximum, fraction (0.1)",
        "max-daily-drawdown": "elimination below the sim day's maximum, fraction (0.05)",
        "challenge-period": "challenge length, e.g. 30d (in the challenge clock's time)",
        "challenge-clock": "sim or wall: the clock of the challenge period",
        "challenge-weight": "fixed weight of a miner in its challenge period (0.001)",
        "challenge-thresholds": "to pass, e.g. return=0.02,sharpe=0.05,closed=10,hours=50",
    }
)
"""The ``--scoring.NAME`` flags of ``taos validator`` and ``taos local`` and their help."""

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*(d|h|m|s)?\s*$")
_UNIT_S = {"d": DAY_S, "h": 3_600.0, "m": 60.0, "s": 1.0, None: 1.0}
_THRESHOLD_KEYS = {
    "return": "min_total_return",
    "sharpe": "min_median_sharpe",
    "closed": "min_closed_positions",
    "hours": "min_hours_in_positions",
}


def _flag_duration(flag: str, text: str) -> float:
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"{flag} must be a positive duration with an optional unit d/h/m/s, got {text!r}")
    return float(m.group(1)) * _UNIT_S[m.group(2)]


def _flag_float(flag: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{flag} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{flag} must be a finite number, got {text!r}")
    return value


def _flag_switch(flag: str, text: str) -> bool:
    t = text.strip().lower()
    if t in ("on", "true", "yes", "1"):
        return True
    if t in ("off", "false", "no", "0"):
        return False
    raise ValueError(f"{flag} must be on or off, got {text!r}")


def _flag_pairs(flag: str, text: str, names: tuple[str, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in (p for p in text.split(",") if p.strip()):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or key not in names:
            raise ValueError(f"{flag} takes NAME=NUMBER pairs with NAME in {', '.join(names)}, got {part!r}")
        if key in out:
            raise ValueError(f"{flag}: {key} is given twice")
        out[key] = _flag_float(f"{flag} {key}", value.strip())
    if not out:
        raise ValueError(f"{flag} takes NAME=NUMBER pairs with NAME in {', '.join(names)}, got {text!r}")
    return out


def scoring_from_flags(preset: str, flags: Mapping[str, str | None] | None = None) -> ScoringSettings:
    """Settings from the command line: the named preset, then each ``--scoring.NAME`` flag given
    (a value of None means "not given"; names as in :data:`SCORING_FLAGS`, without the prefix).

    Raises:
        ValueError: an unknown preset or flag, or a value that does not parse or is out of range;
        the message names the flag.
    """
    try:
        base = ScoringSettings.preset(preset)
    except ValueError:
        raise ValueError(f"--scoring.preset must be one of {', '.join(PRESETS)}, got {preset!r}") from None
    settings = base
    for name, text in (flags or {}).items():
        if text is None:
            continue
        flag = f"--scoring.{name}"
        if name not in SCORING_FLAGS or name == "preset":
            raise ValueError(f"unknown flag {flag}")
        change = _flag_change(flag, name, text, settings)
        try:
            settings = replace(settings, **change)
        except ValueError as e:
            raise ValueError(f"{flag}: {e}") from None
    return settings


def _flag_change(flag: str, name: str, text: str, current: ScoringSettings) -> dict[str, Any]:
    """The settings fields one ``--scoring.NAME`` flag sets."""
    if name == "weights":
        if text not in WEIGHT_METHODS:
            raise ValueError(f"{flag} must be one of {', '.join(WEIGHT_METHODS)}, got {text!r}")
        return {"weights": text}
    if name in ("elimination", "challenge", "losers-by-return"):
        return {name.replace("-", "_"): _flag_switch(flag, text)}
    if name == "min-checkpoints":
        value = _flag_float(flag, text)
        if value != int(value):
            raise ValueError(f"{flag} must be a whole number, got {text!r}")
        return {"min_checkpoints": int(value)}
    if name == "series":
        if text not in SERIES:
            raise ValueError(f"{flag} must be one of {', '.join(SERIES)}, got {text!r}")
        return {"series": text}
    if name == "metric-weights":
        return {f"{key}_weight": value for key, value in _flag_pairs(flag, text, METRICS).items()}
    if name in ("checkpoint-period", "decay-window", "challenge-period"):
        return {name.replace("-", "_") + "_s": _flag_duration(flag, text)}
    if name == "challenge-clock":
        if text not in CHALLENGE_CLOCKS:
            raise ValueError(f"{flag} must be one of {', '.join(CHALLENGE_CLOCKS)}, got {text!r}")
        return {"challenge_clock": text}
    if name == "challenge-thresholds":
        th: dict[str, Any] = {
            _THRESHOLD_KEYS[k]: v for k, v in _flag_pairs(flag, text, tuple(_THRESHOLD_KEYS)).items()
        }
        if "min_closed_positions" in th:
            closed = th["min_closed_positions"]
            if closed != int(closed):
                raise ValueError(f"{flag} closed must be a whole number, got {closed!r}")
            th["min_closed_positions"] = int(closed)
        return {"challenge_thresholds": replace(current.challenge_thresholds, **th)}
    return {name.replace("-", "_"): _flag_float(flag, text)}
