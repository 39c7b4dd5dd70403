"""Every number of every instruction, from the whole range the wire can carry, through the
validator: a miner's reply can be refused, in part or whole, but never make the validator raise,
and whatever it accepts reaches the engine inside the engine's ranges (issue: any registered miner
could crash the validator with an expiry of 2^63 or a price of 1e308)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markets import loop_market

from taos.chain import LocalChain
from taos.config import loads
from taos.protocol import PROTOCOL_VERSION, ReplyRejected, checks
from taos.simulator import MAX_NOTIONAL, MAX_PRICE_TICKS, MAX_QTY_LOTS, InstructionKind
from taos.validator.transport import Answer, InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

UID = 1
INT64_MAX = 2**63 - 1

# The whole range MessagePack carries: integers from -2^63 to 2^64 - 1, every double.
EXTREME_FLOATS = [
    1e308, -1e308, math.inf, -math.inf, math.nan, 5e-324, -5e-324, 0.0, -0.0, 1e-300, 2.0**63,
    2.0**64, 1e12, 1e13, 1e18, 1e19, 0.01, 300.0, 299.995, 1e-4, 1.5e-4,
]  # fmt: skip
EXTREME_INTS = [
    -(2**63), -1, 0, 1, 2**31 - 1, 2**31, 2**32, 2**53 + 1, INT64_MAX, 2**63, 2**64 - 1,
]  # fmt: skip
FLOATS = st.one_of(
    st.sampled_from(EXTREME_FLOATS), st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)
)
INTS = st.one_of(st.sampled_from(EXTREME_INTS), st.integers(min_value=-(2**63), max_value=2**64 - 1))
NUMBERS = st.one_of(FLOATS, INTS)  # a float field given an integer, an integer field given a float

# A valid instruction of each kind; every field is then replaced by an extreme value or kept.
VALID: dict[str, dict[str, Any]] = {
    "limit": {
        "kind": 1, "book": 0, "side": 1, "price": 300.0, "quantity": 0.5, "time_in_force": 2,
        "expiry_ns": 80_000 * 10**9, "post_only": False, "stp": 1, "client_order_id": 7, "delay_ns": 0,
    },
    "market": {
        "kind": 2, "book": 1, "side": 2, "quantity": 0.5, "currency": 2, "stp": 1,
        "client_order_id": 7, "delay_ns": 0,
    },
    "cancel": {"kind": 3, "book": 0, "order_id": 1, "quantity": 0.1, "delay_ns": 0},
    "target": {"kind": 5, "book": 1, "direction": 1, "leverage": 1.0, "client_order_id": 7, "delay_ns": 0},
}  # fmt: skip
FLOAT_FIELDS = {"price", "quantity", "leverage"}
ENUM_FIELDS = {"side", "time_in_force", "stp", "currency", "direction"}


def _extreme(name: str) -> st.SearchStrategy[Any]:
    if name == "post_only":
        return st.booleans()
    if name in ENUM_FIELDS:  # an unknown enum value makes the whole reply undecodable
        return st.one_of(st.integers(min_value=0, max_value=5), INTS)
    return st.one_of(FLOATS if name in FLOAT_FIELDS else INTS, NUMBERS)


@st.composite
def instruction(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """A valid instruction of ``kind`` with one to three of its fields at extreme values (more
    than that, and an earlier check refuses it before the later fields are looked at)."""
    out = dict(VALID[kind])
    names = sorted(k for k in out if k != "kind")
    for name in draw(st.sets(st.sampled_from(names), min_size=1, max_size=3)):
        out[name] = draw(_extreme(name))
    return out


INSTRUCTIONS = st.lists(st.one_of(*(instruction(k) for k in VALID)), min_size=1, max_size=3)


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> Validator:
    folder = tmp_path_factory.mktemp("reply_values")
    chain_file = folder / "chain.json"
    neurons = [{"hotkey": h, "validator_permit": i == 0} for i, h in enumerate(["v", "m1", "m2", "m3"])]
    chain_file.write_text(json.dumps({"neurons": neurons}))
    config = loads(loop_market(duration_s=86_400.0, grace_period_s=0.0))
    v = Validator(
        config,
        LocalChain.from_file(chain_file, "v"),
        InProcessTransport({}),
        ValidatorSettings(weights_interval_s=1e9),
    )
    v.sync_chain()
    v.step()
    return v


def _check_records(records: np.ndarray) -> None:
    """Every engine field of the accepted instructions lies in the engine's range."""
    for r in records:
        assert r["agent"] == UID and 0 <= r["book"] < 2 and r["ts_ns"] >= 0
        kind = int(r["kind"])
        if kind == InstructionKind.PLACE_LIMIT:
            assert 1 <= r["price_ticks"] <= MAX_PRICE_TICKS and 1 <= r["qty_lots"] <= MAX_QTY_LOTS
            assert 0 <= r["expiry_ns"] <= INT64_MAX
        elif kind == InstructionKind.PLACE_MARKET:
            assert 0 <= r["qty_lots"] <= MAX_QTY_LOTS and 0 <= r["notional_quote"] <= MAX_NOTIONAL
            assert r["qty_lots"] > 0 or r["notional_quote"] > 0
        else:
            assert kind == InstructionKind.CANCEL and r["order_id"] > 0 and 0 <= r["qty_lots"] <= MAX_QTY_LOTS


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(instructions=INSTRUCTIONS)
def test_no_value_of_any_field_makes_the_validator_raise(
    validator: Validator, instructions: list[dict[str, Any]]
) -> None:
    body = msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION, "instructions": instructions})
    v = validator
    v.miners[UID].notices = []
    v.accept({UID: Answer(body, 0.01)})  # must not raise
    notices = v.miners[UID].notices
    assert not any(isinstance(n, ReplyRejected) and n.detail.startswith("internal") for n in notices)
    _check_records(v.pending)
    v.step()  # the engine takes whatever was accepted


def test_the_engine_limits_mirrored_in_the_protocol_are_the_engines() -> None:
    assert (checks.MAX_PRICE_TICKS, checks.MAX_QTY_LOTS, checks.MAX_NOTIONAL) == (
        MAX_PRICE_TICKS,
        MAX_QTY_LOTS,
        MAX_NOTIONAL,
    )


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"time_in_force": 2, "expiry_ns": 2**63}, "expiry_ns must be an integer in (0, 2^63)"),
        ({"time_in_force": 2, "expiry_ns": 2**64 - 1}, "expiry_ns must be an integer in (0, 2^63)"),
        ({"price": 1e308}, "price 1e+308 is too large"),
        ({"quantity": 1e308}, "quantity 1e+308 is too large"),
        ({"price": 1e12}, "price 1000000000000.0 is too large"),
        ({"quantity": 2.0**64}, "quantity 1.8446744073709552e+19 is too large"),
        ({"price": 5e-324}, "price 5e-324 is less than one step"),
        ({"price": math.inf}, "price must be > 0"),
        ({"delay_ns": 2**64 - 1}, "delay_ns must be >= 0"),
        ({"client_order_id": -1}, "client_order_id must be in [0, 2^64)"),
    ],
)
def test_the_values_that_crashed_the_validator_are_rejected_with_a_reason(
    validator: Validator, changes: dict[str, Any], reason: str
) -> None:
    limit = {**VALID["limit"], **changes}
    body = msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION, "instructions": [limit]})
    validator.miners[UID].notices = []
    validator.accept({UID: Answer(body, 0.01)})
    (notice,) = validator.miners[UID].notices
    assert reason in notice.detail and len(validator.pending) == 0


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"quantity": 1e308}, "quantity 1e+308 is too large"),
        ({"quantity": 1e13}, "is too large: the most is 1000000000000000000 steps"),
    ],
)
def test_a_market_order_sized_in_quote_is_bounded_by_the_engines_notional(
    validator: Validator, changes: dict[str, Any], reason: str
) -> None:
    market = {**VALID["market"], **changes}
    body = msgspec.msgpack.encode({"protocol_version": PROTOCOL_VERSION, "instructions": [market]})
    validator.miners[UID].notices = []
    validator.accept({UID: Answer(body, 0.01)})
    (notice,) = validator.miners[UID].notices
    assert reason in notice.detail


def test_a_reply_that_makes_the_validator_raise_is_dropped_logged_once_and_the_step_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A bug of ours that some reply finds: that reply is dropped with a notice, the other
    miners' replies are applied, and the error is logged once per miner, not at every step. A bug
    of the validation on columns leaves every reply to the one-by-one path (logged once)."""
    import taos.validator.validator as module
    from taos.protocol import PlaceLimit, Side, encode_reply

    folder = tmp_path / "chain.json"
    folder.write_text(json.dumps({"neurons": [{"hotkey": h} for h in ("v", "m1", "m2")]}))
    v = Validator(
        loads(loop_market(slots=3, duration_s=600.0, grace_period_s=0.0)),
        LocalChain.from_file(folder, "v"),
        InProcessTransport({}),
        ValidatorSettings(weights_interval_s=1e9),
    )
    v.sync_chain()
    v.step()
    real = module.to_records

    def broken_for_uid_1(uid: int, items: Any, units: Any) -> np.ndarray:
        if uid == 1:
            raise OverflowError("a value the checks missed")
        return real(uid, items, units)

    def broken_batch(replies: Any, units: Any) -> Any:
        raise RuntimeError("a bug of the columns")

    monkeypatch.setattr(module, "to_records", broken_for_uid_1)
    monkeypatch.setattr(module, "validate_batch", broken_batch)  # every reply judged one by one
    reply = encode_reply([PlaceLimit(0, Side.BUY, 290.0, 0.5)])
    for _ in range(3):
        v.accept({1: Answer(reply, 0.01), 2: Answer(reply, 0.01)})
        assert v.pending["agent"].tolist() == [2]
        v.step()
    details = [n.detail for n in v.miners[1].notices if isinstance(n, ReplyRejected)]
    assert details == ["internal: the validator could not apply this reply; it is dropped"] * 3
    errors = [r for r in caplog.records if r.levelname == "ERROR" and "uid 1" in r.getMessage()]
    assert len(errors) == 1 and errors[0].exc_info is not None
    batch = [r for r in caplog.records if r.levelname == "ERROR" and "on columns" in r.getMessage()]
    assert len(batch) == 1 and batch[0].exc_info is not None  # logged once, not at every step
