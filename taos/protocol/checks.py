"""Checks of single instructions, and the rounding between decimals and ticks/lots.

Prices are multiples of the book's tick size, base quantities multiples of its
lot size, quote amounts multiples of tick x lot. A decimal within
``GRID_TOLERANCE`` of a step (relative ``1e-12`` for very large values) counts
as on the step, which absorbs binary floating-point error (299.99 is 29999
ticks). The conversions never give a miner a worse order than it asked for:
buy prices round down, sell prices up, quantities down.

``check_instruction`` finds what is wrong with one instruction; miners' helpers
raise it as a ValueError, the validator rejects that instruction with its reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

from taos.protocol.enums import Currency, RejectReason, Side, Stp, TimeInForce
from taos.protocol.instructions import Cancel, Instruction, PlaceLimit, PlaceMarket, TargetPosition
from taos.protocol.state import SimulationInfo

GRID_TOLERANCE = 1e-6
"""Fraction of a step within which a decimal counts as on the step."""

# The engine's representable ranges (simulator/include/taosim/types.hpp; tests/test_enum_parity.py
# checks them against the extension). Every number of an instruction is checked against these
# before it is converted, so no miner's value can overflow a conversion or an engine field.
MAX_PRICE_TICKS = 10**12
"""Largest limit price in ticks."""
MAX_QTY_LOTS = 10**12
"""Largest quantity in lots."""
MAX_NOTIONAL = 10**18
"""Largest quote notional in quote units (tick x lot) of a market order sized in quote."""
INT64_MAX = 2**63 - 1
"""Largest engine time in nanoseconds (``expiry_ns``)."""
UINT64_MAX = 2**64 - 1
"""Largest order id and client order id."""


class Problem(NamedTuple):
    reason: RejectReason
    message: str


def _near(q: float) -> int | None:
    n = round(q)
    return n if abs(q - n) <= max(GRID_TOLERANCE, abs(n) * 1e-12) else None


def _whole_steps(value: float, step: float) -> float:
    """``value / step``; a ValueError for a number of steps that is not finite (NaN, infinite, or
    so large that the division overflows), which no rounding can turn into an integer."""
    q = value / step
    if not math.isfinite(q):
        raise ValueError(f"{value!r} is not a finite number of steps of {step:g}")
    return q


def on_grid(value: float, step: float) -> bool:
    """Whether ``value`` is a whole number of ``step`` (within the tolerance)."""
    return math.isfinite(value) and math.isfinite(value / step) and _near(value / step) is not None


def round_down(value: float, step: float) -> int:
    """The number of steps at or below ``value`` (a value just under a step counts as on it).
    A ValueError when ``value / step`` is not finite."""
    q = _whole_steps(value, step)
    n = _near(q)
    return n if n is not None else math.floor(q)


def round_up(value: float, step: float) -> int:
    q = _whole_steps(value, step)
    n = _near(q)
    return n if n is not None else math.ceil(q)


def price_to_ticks(price: float, tick_size: float, side: Side) -> int:
    """A limit price in ticks: buys round down, sells round up."""
    return round_down(price, tick_size) if side == Side.BUY else round_up(price, tick_size)


def quantity_to_lots(quantity: float, lot_size: float) -> int:
    return round_down(quantity, lot_size)


def notional_to_units(notional: float, tick_size: float, lot_size: float) -> int:
    """A quote amount in quote units (one unit = tick x lot), rounded down."""
    return round_down(notional, tick_size * lot_size)


def from_steps(n: int, step: float) -> float:
    """The decimal of ``n`` steps (``from_steps(29999, 0.01) == 299.99``): ``n x step`` rounded to
    12 decimals the way ``numpy.round(n * step, 12)`` does (scaled by 1e12, to the nearest integer,
    ties to even, scaled back), so that a price converted here and one converted with numpy for a
    whole array (the books' levels and events, the accounts) are the same float."""
    return round(n * step * 1e12) / 1e12


def check_instruction(
    instruction: Instruction,
    simulation: SimulationInfo | None = None,
    *,
    now_ns: int | None = None,
    strict: bool = True,
) -> Problem | None:
    """What is wrong with ``instruction``, or None.

    Without ``simulation`` only the checks that need no market are made. With
    ``strict`` a price or quantity off its grid is a problem; without it such
    values are rounded (see the module doc) and only a result of zero is one.
    ``now_ns`` (the current simulated time) lets a GTT expiry in the past be caught.
    """
    if not isinstance(instruction, PlaceLimit | PlaceMarket | Cancel | TargetPosition):
        return Problem(RejectReason.INVALID_INSTRUCTION, f"not an instruction: {type(instruction).__name__}")
    if isinstance(instruction.book, bool) or not isinstance(instruction.book, int) or instruction.book < 0:
        return Problem(RejectReason.UNKNOWN_BOOK, f"book must be an integer >= 0, got {instruction.book!r}")
    if simulation is not None and instruction.book >= simulation.books:
        return Problem(
            RejectReason.UNKNOWN_BOOK, f"book {instruction.book} does not exist ({simulation.books} books)"
        )
    if not _integer(instruction.delay_ns) or not 0 <= instruction.delay_ns <= INT64_MAX:
        return Problem(
            RejectReason.INVALID_INSTRUCTION,
            f"delay_ns must be >= 0 (an integer below 2^63), got {instruction.delay_ns!r}",
        )
    match instruction:
        case PlaceLimit():
            return _check_limit(instruction, simulation, now_ns, strict)
        case PlaceMarket():
            return _check_market(instruction, simulation, strict)
        case Cancel():
            return _check_cancel(instruction, simulation, strict)
        case TargetPosition():
            if not _positive(instruction.leverage):
                return Problem(
                    RejectReason.INVALID_INSTRUCTION, f"leverage must be > 0, got {instruction.leverage!r}"
                )
            return _client_id(instruction.client_order_id)
    return None


def _positive(x: object) -> bool:
    """A finite number > 0 that converts to a float (an integer beyond the float range does not)."""
    if isinstance(x, bool) or not isinstance(x, int | float):
        return False
    try:
        value = float(x)
    except OverflowError:
        return False
    return math.isfinite(value) and value > 0


def _integer(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _client_id(value: int | None) -> Problem | None:
    if value is not None and not (_integer(value) and 0 <= value <= UINT64_MAX):
        return Problem(
            RejectReason.INVALID_INSTRUCTION,
            f"client_order_id must be in [0, 2^64), got {value!r}",
        )
    return None


def _stp(stp: Stp) -> Problem | None:
    if stp == Stp.NONE:
        return Problem(RejectReason.INVALID_STP, "miners may not trade with themselves: stp NONE is refused")
    return None


def _grid(
    value: float,
    step: float,
    what: str,
    reason: RejectReason,
    strict: bool,
    limit: int,
    rounding: Callable[[float, float], int] = round_down,
) -> Problem | None:
    """What is wrong with ``value`` (a finite number > 0) as a whole number of ``step`` of at most
    ``limit`` steps, or None. The range is checked before anything is rounded: a value of
    1e308 is too large, not an overflow."""
    q = float(value) / step
    if not q < limit + 1:  # also an infinite quotient
        return Problem(reason, f"{what} {value!r} is too large: the most is {limit} steps of {step:g}")
    if strict and not on_grid(value, step):
        return Problem(reason, f"{what} {value!r} is not a multiple of {step:g}")
    n = rounding(value, step)
    if n <= 0:
        return Problem(reason, f"{what} {value!r} is less than one step of {step:g}")
    if n > limit:
        return Problem(reason, f"{what} {value!r} is too large: the most is {limit} steps of {step:g}")
    return None


def _check_limit(
    o: PlaceLimit, sim: SimulationInfo | None, now_ns: int | None, strict: bool
) -> Problem | None:
    if not _positive(o.price):
        return Problem(RejectReason.INVALID_PRICE, f"price must be > 0, got {o.price!r}")
    if not _positive(o.quantity):
        return Problem(RejectReason.INVALID_QUANTITY, f"quantity must be > 0, got {o.quantity!r}")
    if o.time_in_force == TimeInForce.GTT:
        if o.expiry_ns is None:
            return Problem(RejectReason.INVALID_EXPIRY, "a GTT order needs expiry_ns")
        if not _integer(o.expiry_ns) or not 0 < o.expiry_ns <= INT64_MAX:
            return Problem(
                RejectReason.INVALID_EXPIRY, f"expiry_ns must be an integer in (0, 2^63), got {o.expiry_ns!r}"
            )
        if now_ns is not None and o.expiry_ns <= now_ns:
            return Problem(
                RejectReason.INVALID_EXPIRY, f"expiry_ns {o.expiry_ns} is not after now ({now_ns})"
            )
    elif o.expiry_ns is not None:
        return Problem(RejectReason.INVALID_EXPIRY, f"expiry_ns is only for GTT, not {o.time_in_force.name}")
    if o.post_only and o.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
        return Problem(
            RejectReason.POST_ONLY_NOT_ALLOWED, f"{o.time_in_force.name} orders cannot be post-only"
        )
    problem = _stp(o.stp) or _client_id(o.client_order_id)
    if problem or sim is None:
        return problem
    price_rounding = round_down if o.side == Side.BUY else round_up
    return _grid(
        o.price, sim.tick_size, "price", RejectReason.INVALID_PRICE, strict, MAX_PRICE_TICKS, price_rounding
    ) or _grid(o.quantity, sim.lot_size, "quantity", RejectReason.INVALID_QUANTITY, strict, MAX_QTY_LOTS)


def _check_market(o: PlaceMarket, sim: SimulationInfo | None, strict: bool) -> Problem | None:
    if not _positive(o.quantity):
        return Problem(RejectReason.INVALID_QUANTITY, f"quantity must be > 0, got {o.quantity!r}")
    if o.currency == Currency.QUOTE and o.stp == Stp.DECREMENT_AND_CANCEL:
        return Problem(RejectReason.INVALID_STP, "decrement-and-cancel needs an order sized in base")
    problem = _stp(o.stp) or _client_id(o.client_order_id)
    if problem or sim is None:
        return problem
    if o.currency == Currency.BASE:
        return _grid(
            o.quantity, sim.lot_size, "quantity", RejectReason.INVALID_QUANTITY, strict, MAX_QTY_LOTS
        )
    step = sim.tick_size * sim.lot_size
    return _grid(o.quantity, step, "quantity", RejectReason.INVALID_QUANTITY, strict, MAX_NOTIONAL)


def _check_cancel(o: Cancel, sim: SimulationInfo | None, strict: bool) -> Problem | None:
    if not (_integer(o.order_id) and 0 < o.order_id <= UINT64_MAX):
        return Problem(RejectReason.UNKNOWN_ORDER, f"order_id must be in (0, 2^64), got {o.order_id!r}")
    if o.quantity is None:
        return None
    if not _positive(o.quantity):
        return Problem(RejectReason.INVALID_QUANTITY, f"quantity must be > 0 or None, got {o.quantity!r}")
    if sim is None:
        return None
    return _grid(o.quantity, sim.lot_size, "quantity", RejectReason.INVALID_QUANTITY, strict, MAX_QTY_LOTS)


def _quick_steps(value: object, step: float, limit: int, strict: bool, up: bool) -> bool:
    """Whether ``_grid`` (after ``_positive``) surely accepts ``value``: a float whose number of
    steps is in [1, ``limit``], on the grid when ``strict``. False when unsure."""
    if type(value) is not float or not value > 0:
        return False
    q = value / step
    if not q < limit + 1:  # also NaN and infinity
        return False
    n = round(q)
    if abs(q - n) > max(GRID_TOLERANCE, abs(n) * 1e-12):
        if strict:
            return False
        n = math.ceil(q) if up else math.floor(q)
    return 1 <= n <= limit


_IOC_FOK = (TimeInForce.IOC, TimeInForce.FOK)


def quick_check(
    instruction: object, simulation: SimulationInfo, *, now_ns: int | None = None, strict: bool = True
) -> bool:
    """True only when ``check_instruction(instruction, simulation, ...)`` is None: the common,
    valid limit orders (GTT included), market orders sized in base and cancels, checked in one
    pass without the messages. False means "not sure": the caller runs ``check_instruction`` for the reason.

    The validator runs this first for each of the thousands of instructions of a step (a tenth
    of the cost of the full check); ``tests/test_protocol_checks_quick.py`` checks the implication
    over generated instructions."""
    kind = type(instruction)
    book = getattr(instruction, "book", None)
    delay = getattr(instruction, "delay_ns", None)
    if type(book) is not int or not 0 <= book < simulation.books:
        return False
    if type(delay) is not int or not 0 <= delay <= INT64_MAX:
        return False
    if kind is PlaceLimit:
        o: PlaceLimit = instruction  # type: ignore[assignment]
        tif, coid, expiry = o.time_in_force, o.client_order_id, o.expiry_ns
        if tif == TimeInForce.GTT:
            if (
                type(expiry) is not int
                or not 0 < expiry <= INT64_MAX
                or (now_ns is not None and expiry <= now_ns)
            ):
                return False
        elif expiry is not None:
            return False
        if o.stp == Stp.NONE:
            return False
        if o.post_only and tif in _IOC_FOK:
            return False
        if coid is not None and (type(coid) is not int or not 0 <= coid <= UINT64_MAX):
            return False
        return _quick_steps(
            o.price, simulation.tick_size, MAX_PRICE_TICKS, strict, o.side != Side.BUY
        ) and _quick_steps(o.quantity, simulation.lot_size, MAX_QTY_LOTS, strict, False)
    if kind is PlaceMarket:
        m: PlaceMarket = instruction  # type: ignore[assignment]
        coid = m.client_order_id
        if m.currency != Currency.BASE or m.stp == Stp.NONE:
            return False
        if coid is not None and (type(coid) is not int or not 0 <= coid <= UINT64_MAX):
            return False
        return _quick_steps(m.quantity, simulation.lot_size, MAX_QTY_LOTS, strict, False)
    if kind is Cancel:
        c: Cancel = instruction  # type: ignore[assignment]
        oid = c.order_id
        if type(oid) is not int or not 0 < oid <= UINT64_MAX:
            return False
        return c.quantity is None or _quick_steps(
            c.quantity, simulation.lot_size, MAX_QTY_LOTS, strict, False
        )
    return False
