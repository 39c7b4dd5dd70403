"""TargetPosition → market order: the arithmetic (taos.validator.targets) with hand-computed
quantities, and the validator's execution of targets (records, TargetAccepted / OrderRejected)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from validator_market import (
    DELAY,
    EQUITY_LOTS,
    MID,
    NEUTRAL,
    QUOTE,
    UID,
    answer,
    make_validator,
    notices,
    set_market,
)

from taos.protocol import (
    Direction,
    InstructionKind,
    OrderRejected,
    PlaceLimit,
    RejectReason,
    Side,
    TargetAccepted,
    TargetPosition,
)
from taos.validator.rules import RulesSettings
from taos.validator.targets import TargetPlan, plan_target, side_of

# The market of validator_market (the default market): tick 0.01, lot 0.0001, so a quote unit is
# 1e-6 quote; a miner starts with 100,000 of wealth per book, half of it in base at 300:
# NEUTRAL = 166.6667 base = 1,666,667 lots and QUOTE = 50,000 quote = 5e10 quote units; MID = 300.00.
# Its equity at MID is 5e10 + 30,000 x 1,666,667 = 100,000,010,000 units, 3,333,333.667 lots' worth.


def plan(direction: Direction, leverage: float = 1.0, **kw: float) -> TargetPlan:
    args: dict = {
        "max_leverage": 1.0,
        "base_lots": NEUTRAL,
        "free_base_lots": NEUTRAL,
        "neutral_lots": NEUTRAL,
        "quote_units": QUOTE,
        "mid_ticks": MID,
    }
    args.update(kw)
    return plan_target(direction, leverage, **args)


def test_long_from_neutral_buys_leverage_times_equity_over_price() -> None:
    p = plan(Direction.LONG, 1.0)
    # target = 1,666,667 + 3,333,333.667 = 5,000,000.667 lots; buy 3,333,333.667 → 3,333,333 (down)
    assert p.target_lots == pytest.approx(5_000_000.6667, abs=1e-3)
    assert (p.direction, p.leverage, p.order_lots, p.capped) == (Direction.LONG, 1.0, 3_333_333, False)
    assert pytest.approx(3_333_333.6667, abs=1e-3) == EQUITY_LOTS  # equity / mid


def test_short_from_neutral_sells() -> None:
    p = plan(Direction.SHORT, 0.5)
    # target = 1,666,667 - 0.5 x 3,333,333.667 = 0.1667 lots; sell 1,666,666.833 → 1,666,666
    assert p.target_lots == pytest.approx(0.1667, abs=1e-3)
    assert (p.direction, p.order_lots, p.capped) == (Direction.SHORT, -1_666_666, False)


def test_a_sell_beyond_the_free_base_is_capped_there() -> None:
    p = plan(Direction.SHORT, 1.0)
    # target = 1,666,667 - 3,333,333.667 < 0: would sell 3,333,333 but only 1,666,667 are free
    assert (p.order_lots, p.capped) == (-NEUTRAL, True)
    p = plan(Direction.SHORT, 1.0, free_base_lots=1_000)
    assert (p.order_lots, p.capped) == (-1_000, True)
    p = plan(Direction.SHORT, 1.0, free_base_lots=0)
    assert (p.order_lots, p.capped) == (0, True)


def test_leverage_is_clamped_to_the_maximum() -> None:
    p = plan(Direction.LONG, 2.5)
    assert (p.leverage, p.order_lots) == (1.0, 3_333_333)
    p = plan(Direction.LONG, 2.5, max_leverage=2.0)
    # 2 x 3,333,333.667 = 6,666,667.333 → 6,666,667
    assert (p.leverage, p.order_lots) == (2.0, 6_666_667)
    assert plan(Direction.LONG, 0.25, max_leverage=2.0).leverage == 0.25


def test_flat_returns_to_neutral_from_either_side() -> None:
    assert plan(Direction.FLAT, base_lots=2_000_000).order_lots == -333_333
    assert plan(Direction.FLAT, base_lots=1_000_000).order_lots == 666_667
    p = plan(Direction.FLAT)
    assert (p.direction, p.target_lots, p.order_lots) == (Direction.FLAT, NEUTRAL, 0)


def test_a_target_on_the_other_side_only_closes() -> None:
    # short by 666,667 lots, asked LONG: no flip in one instruction, back to neutral
    p = plan(Direction.LONG, 1.0, base_lots=1_000_000, free_base_lots=1_000_000)
    assert (p.direction, p.order_lots) == (Direction.FLAT, 666_667)
    # long by 333,333 lots, asked SHORT: sells back to neutral only
    p = plan(Direction.SHORT, 1.0, base_lots=2_000_000, free_base_lots=2_000_000)
    assert (p.direction, p.order_lots) == (Direction.FLAT, -333_333)
    # two lots below neutral is a short position: LONG closes it (buys 2 lots)
    assert plan(Direction.LONG, base_lots=NEUTRAL - 2).order_lots == 2
    # one lot below neutral is no position: LONG goes long from there. equity = 5e10 + 30,000 x
    # 1,666,666 = 99,999,980,000, / 30,000 = 3,333,332.667; target = 4,999,999.667; buy 3,333,333
    p = plan(Direction.LONG, base_lots=NEUTRAL - 1)
    assert (p.direction, p.order_lots) == (Direction.LONG, 3_333_333)


def test_adding_to_the_same_side_moves_to_the_new_target() -> None:
    # long 1,000,000 lots over neutral; LONG 0.5 of equity (quote 2e10 at mid 30,000):
    # equity = 2e10 + 30,000 x 2,666,667 = 100,000,010,000; target = 1,666,667 + 1,666,666.833
    p = plan(Direction.LONG, 0.5, base_lots=2_666_667, quote_units=20_000_000_000)
    assert p.target_lots == pytest.approx(3_333_333.833, abs=1e-3)
    assert p.order_lots == 666_666  # 666,666.833 rounded down


def test_quantities_round_down_to_the_lot() -> None:
    small = {
        "base_lots": 10,
        "free_base_lots": 10,
        "neutral_lots": 10,
        "quote_units": 1_050,
        "mid_ticks": 100.0,
    }
    # equity = 1,050 + 100 x 10 = 2,050; 0.3 x 2,050 / 100 = 6.15 lots
    assert plan(Direction.LONG, 0.3, **small).order_lots == 6
    assert plan(Direction.SHORT, 0.3, **small).order_lots == -6
    # 0.57 x 100 / 1 is 56.99999999999999 in floats: a hair under a lot counts as on it
    tiny = {"base_lots": 0, "free_base_lots": 0, "neutral_lots": 0, "quote_units": 100, "mid_ticks": 1.0}
    assert plan(Direction.LONG, 0.57, **tiny).order_lots == 57
    # a half-tick mid: equity = 1,050 + 99.5 x 10 = 2,045; 0.3 x 2,045 / 99.5 = 6.166 → 6
    assert plan(Direction.LONG, 0.3, **{**small, "mid_ticks": 99.5}).order_lots == 6


def test_side_of_uses_the_one_lot_threshold() -> None:
    assert [side_of(NEUTRAL + d, NEUTRAL) for d in (-2, -1, 0, 1, 2)] == [-1, 0, 0, 0, 1]


@pytest.mark.parametrize(
    ("kw", "message"),
    [({"mid_ticks": math.nan}, "mid_ticks"), ({"mid_ticks": 0.0}, "mid_ticks")],
)
def test_plan_refuses_an_unusable_price(kw: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        plan(Direction.LONG, **kw)


# --- the validator executes targets ---------------------------------------------------------------


def test_a_target_becomes_a_market_order_and_a_target_accepted_notice(tmp_path: Path) -> None:
    v = make_validator(tmp_path)
    v.accept(answer(TargetPosition(0, Direction.LONG, 1.0, client_order_id=7, delay_ns=2_000)))
    (r,) = v.pending
    assert r["kind"] == InstructionKind.PLACE_MARKET and r["agent"] == UID and r["book"] == 0
    assert (r["side"], r["qty_lots"], r["client_order_id"]) == (Side.BUY, 3_333_333, 7)
    low, high = v.jitter_ns  # the latency model's delay plus the target's own, plus the arrival jitter
    assert DELAY + 2_000 + low <= r["ts_ns"] <= DELAY + 2_000 + high
    assert notices(v) == [TargetAccepted(0, 0, Direction.LONG, 1.0, 333.3333, 7)]


def test_a_short_target_sells_and_reports_a_negative_quantity(tmp_path: Path) -> None:
    v = make_validator(tmp_path)
    v.accept(answer(TargetPosition(1, Direction.SHORT, 0.5, client_order_id=8)))
    (r,) = v.pending
    assert (r["book"], r["side"], r["qty_lots"]) == (1, Side.SELL, 1_666_666)
    assert notices(v) == [TargetAccepted(1, 0, Direction.SHORT, 0.5, -166.6666, 8)]


def test_leverage_over_the_maximum_is_clamped_not_refused(tmp_path: Path) -> None:
    v = make_validator(tmp_path)
    v.accept(answer(TargetPosition(0, Direction.LONG, 3.0, client_order_id=1)))
    assert v.pending["qty_lots"].tolist() == [3_333_333]
    assert notices(v) == [TargetAccepted(0, 0, Direction.LONG, 1.0, 333.3333, 1)]
    v = make_validator(tmp_path, RulesSettings(max_leverage=2.0))
    v.accept(answer(TargetPosition(0, Direction.LONG, 3.0, client_order_id=1)))
    assert v.pending["qty_lots"].tolist() == [6_666_667]
    assert notices(v)[0].leverage == 2.0


def test_a_target_already_reached_orders_nothing(tmp_path: Path) -> None:
    v = make_validator(tmp_path)
    v.accept(answer(TargetPosition(0, Direction.FLAT, client_order_id=3)))
    assert len(v.pending) == 0
    assert notices(v) == [TargetAccepted(0, 0, Direction.FLAT, 1.0, 0.0, 3)]


def test_a_flip_is_turned_into_a_close(tmp_path: Path) -> None:
    v = make_validator(tmp_path)
    set_market(v, base=2_000_000)  # long by 333,333 lots
    v.accept(answer(TargetPosition(0, Direction.SHORT, 1.0, client_order_id=4)))
    assert (v.pending["side"].tolist(), v.pending["qty_lots"].tolist()) == ([Side.SELL], [333_333])
    assert notices(v) == [TargetAccepted(0, 0, Direction.FLAT, 1.0, -33.3333, 4)]


def test_a_one_sided_book_refuses_the_target_with_no_liquidity(tmp_path: Path) -> None:
    v = make_validator(tmp_path)
    set_market(v, mid=(math.nan, MID))
    v.accept(answer(TargetPosition(0, Direction.LONG, client_order_id=5), TargetPosition(1, Direction.LONG)))
    assert v.pending["book"].tolist() == [1]
    refused, accepted = notices(v)
    assert isinstance(refused, OrderRejected) and isinstance(accepted, TargetAccepted)
    assert (refused.book, refused.reason, refused.client_order_id) == (0, RejectReason.NO_LIQUIDITY, 5)
    assert refused.detail == (
        "no_mid: book 0 has no mid price (a side of the book is empty): the target cannot be sized"
    )


def test_a_sell_with_no_free_base_is_refused_with_insufficient_base(tmp_path: Path) -> None:
    v = make_validator(tmp_path)
    set_market(v, free=0)  # all base reserved by resting sell orders
    v.accept(answer(TargetPosition(0, Direction.SHORT, client_order_id=6)))
    assert len(v.pending) == 0
    (n,) = notices(v)
    assert isinstance(n, OrderRejected)
    assert (n.reason, n.client_order_id) == (RejectReason.INSUFFICIENT_BASE, 6)
    assert n.detail.startswith("target_position: the target needs a sell, but no base is free")
    assert v.last_target_ns[UID, 0] < 0  # a refused target is no position change


def test_only_the_first_target_per_book_in_a_reply_is_executed(tmp_path: Path) -> None:
    v = make_validator(tmp_path)
    v.accept(
        answer(
            TargetPosition(0, Direction.LONG, 0.5, client_order_id=1),
            TargetPosition(0, Direction.LONG, 1.0, client_order_id=2),
            TargetPosition(1, Direction.SHORT, 0.1, client_order_id=3),
        )
    )
    assert v.pending["client_order_id"].tolist() == [1, 3]
    refused, first, third = notices(v)  # validation's notices come first
    assert isinstance(first, TargetAccepted) and isinstance(third, TargetAccepted)
    assert (first.client_order_id, third.client_order_id) == (1, 3)
    assert isinstance(refused, OrderRejected) and refused.client_order_id == 2
    assert refused.detail == (
        "target_repeated: a target_position for book 0 was already accepted in this reply "
        "(instruction 0); one per book and reply"
    )


def test_targets_go_with_other_orders_through_the_same_records(tmp_path: Path) -> None:
    v = make_validator(tmp_path)
    v.accept(
        answer(PlaceLimit(0, Side.BUY, 299.0, 1.0, client_order_id=9), TargetPosition(1, Direction.LONG))
    )
    kinds = v.pending["kind"].tolist()
    assert kinds == [InstructionKind.PLACE_LIMIT, InstructionKind.PLACE_MARKET]
    assert v.last_target_ns[UID].tolist() == [np.iinfo(np.int64).min, 0]


def test_the_snapshot_of_a_real_step_matches_the_accounts(tmp_path: Path) -> None:
    v = make_validator(tmp_path)
    result = v.step()
    m = v.market
    assert m is not None and m.time_ns == result.time_ns == 5_000_000_000
    assert (m.base_lots[1:] == NEUTRAL).all() and (m.quote_units[1:] == QUOTE).all()
    book = result.books[0]
    assert m.mid_ticks[0] == (int(book.bids["price_ticks"][0]) + int(book.asks["price_ticks"][0])) / 2
    np.testing.assert_array_equal(v.inventory_values(result), m.equity_units())
    assert dataclasses.is_dataclass(m)
