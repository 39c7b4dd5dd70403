"""``quick_check``: the validator's one-pass check of the common instructions. It may say "not
sure" (False) for anything, but when it says True the full ``check_instruction`` must find nothing
wrong: checked over instructions with fields drawn from the whole range the wire carries, strict
and not, and on ordinary instructions it must say True (else the fast path is never taken)."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st
from instruction_strategies import INSTRUCTION, NOW

from taos.protocol import (
    PROTOCOL_VERSION,
    Cancel,
    Currency,
    PlaceLimit,
    PlaceMarket,
    ProtocolError,
    Side,
    SimulationInfo,
    TimeInForce,
    check_instruction,
    decode_reply,
)
from taos.protocol.checks import MAX_PRICE_TICKS, quick_check

SIM = SimulationInfo("q", 3, 0.01, 0.0001, 86_400 * 10**9, 5 * 10**9, (), ())


def decoded(raw: dict[str, Any]) -> Any:
    body = msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION, "instructions": [raw]})
    try:
        return decode_reply(body).instructions[0]
    except ProtocolError:
        return None  # the wire refuses it before any check


@settings(max_examples=3000, deadline=None)
@given(raw=INSTRUCTION, strict=st.booleans())
def test_a_quick_pass_is_never_a_refusal_of_the_full_check(raw: dict[str, Any], strict: bool) -> None:
    instruction = decoded(raw)
    if instruction is None:
        return
    if quick_check(instruction, SIM, now_ns=NOW, strict=strict):
        assert check_instruction(instruction, SIM, now_ns=NOW, strict=strict) is None, instruction


def test_ordinary_instructions_pass_quickly() -> None:
    ordinary = [
        PlaceLimit(0, Side.BUY, 299.99, 0.5),
        PlaceLimit(2, Side.SELL, 300.01, 1.2345, time_in_force=TimeInForce.IOC, client_order_id=9),
        PlaceLimit(1, Side.BUY, 0.01, 0.0001, post_only=True, delay_ns=1_000_000),
        PlaceLimit(1, Side.SELL, MAX_PRICE_TICKS * 0.01, 0.0001),
        PlaceMarket(0, Side.BUY, 0.25),
        Cancel(0, 17),
        Cancel(2, 2**64 - 1, 0.5),
        PlaceLimit(0, Side.BUY, 299.99, 0.5, time_in_force=TimeInForce.GTT, expiry_ns=NOW + 1),
    ]
    for strict in (True, False):
        for instruction in ordinary:
            assert check_instruction(instruction, SIM, now_ns=NOW, strict=strict) is None
            assert quick_check(instruction, SIM, now_ns=NOW, strict=strict), instruction
    # off the grid: the full check decides (refused when strict, rounded when not)
    off = PlaceLimit(0, Side.BUY, 299.995, 0.5)
    assert not quick_check(off, SIM, strict=True) and check_instruction(off, SIM, strict=True) is not None
    assert quick_check(off, SIM, strict=False) and check_instruction(off, SIM, strict=False) is None
    # what it leaves to the full check: expired GTT, quote-sized market orders, integer prices
    unsure = [
        PlaceLimit(0, Side.BUY, 299.99, 0.5, time_in_force=TimeInForce.GTT, expiry_ns=NOW),
        PlaceMarket(0, Side.BUY, 10.0, currency=Currency.QUOTE),
        PlaceLimit(0, Side.BUY, 300, 0.5),  # type: ignore[arg-type]
        PlaceLimit(3, Side.BUY, 299.99, 0.5),  # book 3 of 3
    ]
    for instruction in unsure:
        assert not quick_check(instruction, SIM, now_ns=NOW)
