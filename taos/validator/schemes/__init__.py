"""Scoring schemes: the plug-in that turns a validator's observations into scores and weights.

``make_scheme(name, settings, params, slots, books)`` builds one by name; ``register_scheme``
adds a new one (a subclass of :class:`ScoringScheme`) without touching the validator, which picks
``ValidatorSettings.scheme`` or, when that is None, :func:`default_scheme` of its scoring
settings: ``ptn`` when any SPEC §10 policy is on, else ``taos``.
"""

from __future__ import annotations

from taos.validator.history import ScoreParams
from taos.validator.policy import ScoringSettings
from taos.validator.schemes.base import Observation, ScoringScheme
from taos.validator.schemes.ptn import PtnScheme
from taos.validator.schemes.taos_scheme import TaosScheme

__all__ = [
    "Observation",
    "PtnScheme",
    "ScoringScheme",
    "TaosScheme",
    "default_scheme",
    "make_scheme",
    "register_scheme",
    "scheme_names",
]

_SCHEMES: dict[str, type[ScoringScheme]] = {}


def register_scheme(cls: type[ScoringScheme]) -> type[ScoringScheme]:
    """Makes ``cls`` available under ``cls.name`` (usable as a class decorator)."""
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cls.__name__} has no scheme name")
    if name in _SCHEMES and _SCHEMES[name] is not cls:
        raise ValueError(f"a scheme named {name!r} is registered already ({_SCHEMES[name].__name__})")
    _SCHEMES[name] = cls
    return cls


def scheme_names() -> list[str]:
    return sorted(_SCHEMES)


def default_scheme(settings: ScoringSettings) -> str:
    return "ptn" if settings.policies else "taos"


def make_scheme(
    name: str | None, settings: ScoringSettings, params: ScoreParams, slots: int, books: int
) -> ScoringScheme:
    """The scheme ``name`` (default: :func:`default_scheme` of ``settings``) for ``slots`` miners
    and ``books`` books; a ValueError for an unknown name."""
    key = default_scheme(settings) if name is None else name
    if key not in _SCHEMES:
        raise ValueError(f"unknown scoring scheme {key!r}; known: {', '.join(scheme_names())}")
    return _SCHEMES[key](settings, params, slots, books)


register_scheme(TaosScheme)
register_scheme(PtnScheme)
