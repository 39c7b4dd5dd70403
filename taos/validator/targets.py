"""``TargetPosition`` → the market order that moves the base inventory to the target (SPEC §10.1).

Pure arithmetic in engine units: base in lots, quote in quote units (tick x lot), prices in ticks
(a mid may be a half tick). For a miner on one book:

    equity  = quote + mid x base                                    (quote units)
    target  = neutral + d x leverage x equity / mid                 (lots; d = +1 LONG, -1 SHORT, 0 FLAT)
    order   = target - base, rounded toward zero to whole lots      (buy > 0, sell < 0)

``neutral`` is the starting base inventory on the book; ``base`` and ``quote`` are totals (free and
reserved) and ``mid`` the book's mid price at the state the miner answered. ``leverage`` is clamped
to ``max_leverage``.

**No flip in one instruction.** The inventory is on a side of neutral when it differs from it by
more than one lot (the open-position threshold of ``taos.validator.positions``). A LONG target while
the inventory is short, or a SHORT one while it is long, becomes FLAT: the position is closed, and
a next target may open the other side.

**No margin.** The exchange lends nothing: a sell larger than the free base would be refused whole
by the engine, so a sell is capped at the free base (``capped``); a buy larger than the free quote
can pay for is filled until the quote runs out and the engine cancels the rest
(``INSUFFICIENT_FUNDS``). A target can therefore reach at most ``quote / price`` above neutral and
``neutral`` below it (at the default starting split, about leverage 0.5 either way from neutral).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from taos.protocol import Direction

_SIGN = {Direction.FLAT: 0, Direction.LONG: 1, Direction.SHORT: -1}
_ROUNDING = 1e-9  # lots: a target a hair under a whole lot counts as on it


def side_of(base_lots: int, neutral_lots: int) -> int:
    """+1 (long), -1 (short) or 0: which side of neutral the inventory is on, beyond one lot."""
    deviation = base_lots - neutral_lots
    return 1 if deviation > 1 else -1 if deviation < -1 else 0


@dataclass(frozen=True)
class TargetPlan:
    """What one ``TargetPosition`` does: the direction and leverage applied (FLAT when a flip was
    turned into a close; the leverage clamped), the target base in lots (not rounded), and the
    signed order in whole lots (0: nothing to trade). ``capped``: a sell was cut to the free base."""

    direction: Direction
    leverage: float
    target_lots: float
    order_lots: int
    capped: bool = False


def plan_target(
    direction: Direction,
    leverage: float,
    *,
    max_leverage: float,
    base_lots: int,
    free_base_lots: int,
    neutral_lots: int,
    quote_units: int,
    mid_ticks: float,
) -> TargetPlan:
    """The plan of a target on one book (see the module doc). ``mid_ticks`` must be > 0 (a book
    without a mid price cannot size a target: the caller refuses it before)."""
    if not (math.isfinite(mid_ticks) and mid_ticks > 0):
        raise ValueError(f"mid_ticks must be a finite number > 0, got {mid_ticks!r}")
    if not (math.isfinite(leverage) and leverage > 0):
        raise ValueError(f"leverage must be a finite number > 0, got {leverage!r}")
    applied = min(float(leverage), float(max_leverage))
    d = _SIGN[Direction(direction)]
    applied_direction = Direction(direction)
    if d != 0 and side_of(base_lots, neutral_lots) == -d:  # the other side: close first
        d, applied_direction = 0, Direction.FLAT
    equity = quote_units + mid_ticks * base_lots
    target = neutral_lots + d * applied * equity / mid_ticks
    delta = target - base_lots
    lots = math.floor(abs(delta) + _ROUNDING)
    order = lots if delta > 0 else -lots
    capped = False
    if order < 0 and -order > max(free_base_lots, 0):
        order, capped = -max(free_base_lots, 0), True
    return TargetPlan(applied_direction, applied, target, order, capped)


__all__ = ["TargetPlan", "plan_target", "side_of"]
