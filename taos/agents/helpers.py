"""Building instructions with validation.

Each function returns one instruction or raises ``ValueError`` saying what is
wrong: GTT needs an expiry and an expiry needs GTT; IOC/FOK cannot be
post-only; quantities, prices and leverage must be positive; with the
simulation known, prices must be on the tick, quantities on the lot and the
book must exist. These are the checks the validator makes
(``taos.protocol.check_instruction``), so a built instruction is not rejected
for its form.
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import TypeVar

from taos.protocol import (
    Cancel,
    Currency,
    Direction,
    Instruction,
    PlaceLimit,
    PlaceMarket,
    Side,
    SimulationInfo,
    Stp,
    TargetPosition,
    TimeInForce,
    check_instruction,
    from_steps,
    price_to_ticks,
    quantity_to_lots,
)

_E = TypeVar("_E", bound=IntEnum)


def _int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return value


def _float(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    return float(value)


def _optional_int(name: str, value: object) -> int | None:
    return None if value is None else _int(name, value)


def _enum(kind: type[_E], name: str, value: object) -> _E:
    try:
        return kind(value)  # type: ignore[arg-type]  # any value; a wrong one raises
    except (ValueError, TypeError):
        raise ValueError(f"{name} must be one of {[m.name for m in kind]}, got {value!r}") from None


def _checked(instruction: Instruction, simulation: SimulationInfo | None, now_ns: int | None) -> Instruction:
    problem = check_instruction(instruction, simulation, now_ns=now_ns)
    if problem is not None:
        raise ValueError(f"{type(instruction).__name__}: {problem.message}")
    return instruction


def limit(
    book: int,
    side: Side,
    price: float,
    quantity: float,
    *,
    time_in_force: TimeInForce = TimeInForce.GTC,
    expiry_ns: int | None = None,
    post_only: bool = False,
    stp: Stp = Stp.CANCEL_OLDEST,
    client_order_id: int | None = None,
    delay_ns: int = 0,
    simulation: SimulationInfo | None = None,
    now_ns: int | None = None,
) -> PlaceLimit:
    o = PlaceLimit(
        book=_int("book", book),
        side=_enum(Side, "side", side),
        price=_float("price", price),
        quantity=_float("quantity", quantity),
        time_in_force=_enum(TimeInForce, "time_in_force", time_in_force),
        expiry_ns=_optional_int("expiry_ns", expiry_ns),
        post_only=bool(post_only),
        stp=_enum(Stp, "stp", stp),
        client_order_id=_optional_int("client_order_id", client_order_id),
        delay_ns=_int("delay_ns", delay_ns),
    )
    _checked(o, simulation, now_ns)
    return o


def market(
    book: int,
    side: Side,
    quantity: float,
    *,
    currency: Currency = Currency.BASE,
    stp: Stp = Stp.CANCEL_OLDEST,
    client_order_id: int | None = None,
    delay_ns: int = 0,
    simulation: SimulationInfo | None = None,
) -> PlaceMarket:
    o = PlaceMarket(
        book=_int("book", book),
        side=_enum(Side, "side", side),
        quantity=_float("quantity", quantity),
        currency=_enum(Currency, "currency", currency),
        stp=_enum(Stp, "stp", stp),
        client_order_id=_optional_int("client_order_id", client_order_id),
        delay_ns=_int("delay_ns", delay_ns),
    )
    _checked(o, simulation, None)
    return o


def cancel(
    book: int,
    order_id: int,
    quantity: float | None = None,
    *,
    delay_ns: int = 0,
    simulation: SimulationInfo | None = None,
) -> Cancel:
    o = Cancel(
        book=_int("book", book),
        order_id=_int("order_id", order_id),
        quantity=None if quantity is None else _float("quantity", quantity),
        delay_ns=_int("delay_ns", delay_ns),
    )
    _checked(o, simulation, None)
    return o


def target(
    book: int,
    direction: Direction,
    leverage: float = 1.0,
    *,
    client_order_id: int | None = None,
    delay_ns: int = 0,
    simulation: SimulationInfo | None = None,
) -> TargetPosition:
    o = TargetPosition(
        book=_int("book", book),
        direction=_enum(Direction, "direction", direction),
        leverage=_float("leverage", leverage),
        client_order_id=None if client_order_id is None else _int("client_order_id", client_order_id),
        delay_ns=_int("delay_ns", delay_ns),
    )
    _checked(o, simulation, None)
    return o


def snap_price(price: float, tick_size: float, side: Side) -> float:
    """The nearest price on the tick that is not worse for ``side`` (buys down, sells up)."""
    if not math.isfinite(price):
        raise ValueError(f"price must be finite, got {price!r}")
    return from_steps(price_to_ticks(price, tick_size, side), tick_size)


def snap_quantity(quantity: float, lot_size: float) -> float:
    """``quantity`` rounded down to the lot."""
    if not math.isfinite(quantity):
        raise ValueError(f"quantity must be finite, got {quantity!r}")
    return from_steps(quantity_to_lots(quantity, lot_size), lot_size)
