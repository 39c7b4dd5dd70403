"""Where the example configs and agents are: installed with the package (``taos/_data``), or in the
source tree when running from a clone."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]


DEMO_DURATION_S = 1_800.0
"""The demo (``taos local`` and ``taos sweep`` without ``--config``): half an hour of the small
market (``configs/small.toml``)."""


def data_dir(kind: str) -> Path:
    """``configs`` or ``agents``: the installed copy, else the source tree's folder."""
    if kind not in ("configs", "agents"):
        raise ValueError(f"unknown data kind {kind!r}")
    for candidate in (_PACKAGE / "_data" / kind, _PACKAGE.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"the example {kind} are neither installed nor in a source tree")
