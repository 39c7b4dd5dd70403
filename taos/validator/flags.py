"""The ``--scoring.*`` and ``--rules.*`` flags, declared once for every command that runs a
validator loop (``python -m taos.validator``, ``taos local``).

:func:`add_policy_flags` adds them to an ``argparse`` parser; :func:`scoring_from_args` and
:func:`rules_from_args` read them back as :class:`~taos.validator.policy.ScoringSettings` and
:class:`~taos.validator.rules.RulesSettings`. A bad value is a ``ValueError`` whose message names the
flag (the commands print it on one line).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from taos.validator.policy import SCORING_FLAGS, ScoringSettings, scoring_from_flags
from taos.validator.rules import RULE_FLAGS, RulesSettings, rules_from_options


@dataclass(frozen=True)
class _RuleFlag:
    field: str  # the RulesSettings field
    parse: Callable[[str], Any]
    metavar: str
    help: str


_RULES: Mapping[str, _RuleFlag] = {
    "max-leverage": _RuleFlag("max_leverage", float, "X", "largest target leverage applied"),
    "max-open": _RuleFlag("max_open", int, "N", "open orders + positions per miner"),
    "position-interval": _RuleFlag(
        "position_interval_s", float, "S", "sim seconds between position changes on a book"
    ),
    "rate-limit": _RuleFlag("rate_limit", int, "N", "replies per hotkey per window"),
    "rate-window": _RuleFlag("rate_window_s", float, "S", "rate-limit window in wall seconds"),
    "sessions": _RuleFlag(
        "sessions",
        str,
        "SESSIONS",
        'trading sessions: a TOML array, e.g. \'[{books = "0-3", open = "09:30", close = "16:00"}]\', '
        "a TOML file, or none",
    ),
}
assert {f"--rules.{name}" for name in _RULES} == set(RULE_FLAGS.values())


def _dest(group: str, name: str) -> str:
    return f"{group}_{name.replace('-', '_')}"


def add_policy_flags(parser: argparse.ArgumentParser) -> None:
    """Adds ``--scoring.NAME`` (:data:`~taos.validator.policy.SCORING_FLAGS`) and ``--rules.NAME``
    to ``parser``, each defaulting to "not given" (the presets decide)."""
    scoring = parser.add_argument_group("scoring (SPEC §9-§10; default: the preset's values)")
    for name, help_text in SCORING_FLAGS.items():
        scoring.add_argument(
            f"--scoring.{name}",
            dest=_dest("scoring", name),
            default="taos" if name == "preset" else None,
            metavar="taos|ptn|sn79" if name == "preset" else "VALUE",
            help=help_text,
        )
    rules = parser.add_argument_group("trading rules (SPEC §10.2; 0 turns a rule off)")
    rules.add_argument(
        "--rules.preset",
        dest="rules_preset",
        metavar="taos|ptn",
        default=None,
        help="taos (rules off) or ptn (all on); default: the scoring preset's (sn79: taos)",
    )
    for name, flag in _RULES.items():
        rules.add_argument(f"--rules.{name}", dest=_dest("rules", name), metavar=flag.metavar, help=flag.help)


def scoring_from_args(args: argparse.Namespace) -> ScoringSettings:
    """The ``--scoring.*`` flags as settings."""
    flags = {name: getattr(args, _dest("scoring", name)) for name in SCORING_FLAGS if name != "preset"}
    return scoring_from_flags(args.scoring_preset, flags)


def rules_from_args(args: argparse.Namespace, **defaults: Any) -> RulesSettings:
    """The ``--rules.*`` flags as settings: the rules preset (default: the scoring preset), each
    flag given replacing its value, else ``defaults`` (by ``RulesSettings`` field)."""
    options: dict[str, Any] = {}
    for name, flag in _RULES.items():
        text = getattr(args, _dest("rules", name))
        if text is None:
            options[flag.field] = defaults.get(flag.field)
            continue
        try:
            options[flag.field] = flag.parse(text)
        except ValueError:
            kind = "an integer" if flag.parse is int else "a number"
            raise ValueError(f"--rules.{name} must be {kind}, got {text!r}") from None
    preset = args.rules_preset
    if preset is None:  # the scoring preset's rules; sn79 has the taos rules
        preset = "taos" if args.scoring_preset == "sn79" else args.scoring_preset
    return rules_from_options(preset, **options)
