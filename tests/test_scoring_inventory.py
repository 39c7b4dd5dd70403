"""Inventory value: hand-computed values on a small book, one-sided and empty books, errors."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from taos.scoring import inventory_value

# Book used throughout: bids 10 x 1, 9 x 2, 8 x 1 (best first); asks 11 x 1, 12 x 5.
BIDS = [[10.0, 1.0], [9.0, 2.0], [8.0, 1.0]]
ASKS = [[11.0, 1.0], [12.0, 5.0]]


def test_midquote_values_base_at_mid() -> None:
    # mid = (10 + 11) / 2 = 10.5; V = 100 + 10.5 * base
    out = inventory_value([100.0, 100.0, 100.0], [0.0, 2.0, -1.0], BIDS, ASKS, "midquote")
    assert out == pytest.approx([100.0, 121.0, 89.5])


def test_midquote_is_the_default_method() -> None:
    assert float(inventory_value(100.0, 2.0, BIDS, ASKS)) == pytest.approx(121.0)


def test_best_bid_values_base_at_best_bid() -> None:
    # 100 + 10 * 2 = 120; a short is also priced at the best bid: 100 + 10 * (-1) = 90
    out = inventory_value(100.0, [2.0, -1.0], BIDS, ASKS, "best_bid")
    assert out == pytest.approx([120.0, 90.0])


def test_liquidation_walks_the_bids() -> None:
    # base 1: 1@10 = 10 → 110
    # base 2: 1@10 + 1@9 = 19 → 119
    # base 4: 1@10 + 2@9 + 1@8 = 36 → 136 (exactly the visible depth)
    # base 5: 36 + the unsold 1 at the last level's price 8 = 44 → 144
    # base 2.5: 1@10 + 1.5@9 = 23.5 → 123.5
    out = inventory_value(100.0, [1.0, 2.0, 4.0, 5.0, 2.5], BIDS, ASKS, "liquidation")
    assert out == pytest.approx([110.0, 119.0, 136.0, 144.0, 123.5])


def test_liquidation_buys_a_short_back_from_the_asks() -> None:
    # base -3: buy 1@11 + 2@12 = 35 → 100 - 35 = 65
    # base -7: buy 1@11 + 5@12 = 71, 1 more beyond the depth at 12 → 83 → 17
    out = inventory_value(100.0, [-3.0, -7.0], BIDS, ASKS, "liquidation")
    assert out == pytest.approx([65.0, 17.0])


def test_zero_base_is_worth_its_quote_whatever_the_book() -> None:
    for method in ("midquote", "best_bid", "liquidation"):
        assert float(inventory_value(100.0, 0.0, [], [], method)) == 100.0
        assert float(inventory_value(100.0, 0.0, BIDS, ASKS, method)) == 100.0


def test_one_sided_book_midquote_uses_the_present_side() -> None:
    # only bids: P = 10 → 120; only asks: P = 11 → 122
    assert float(inventory_value(100.0, 2.0, BIDS, [], "midquote")) == pytest.approx(120.0)
    assert float(inventory_value(100.0, 2.0, [], ASKS, "midquote")) == pytest.approx(122.0)


def test_missing_price_gives_nan_without_fallback() -> None:
    assert math.isnan(float(inventory_value(100.0, 2.0, [], [], "midquote")))
    assert math.isnan(float(inventory_value(100.0, 2.0, [], ASKS, "best_bid")))
    assert math.isnan(float(inventory_value(100.0, 2.0, [], ASKS, "liquidation")))
    assert math.isnan(float(inventory_value(100.0, -2.0, BIDS, [], "liquidation")))


def test_missing_price_uses_the_fallback() -> None:
    # 100 + 9.5 * 2 = 119 in every case where the needed side is empty
    assert float(inventory_value(100.0, 2.0, [], [], "midquote", fallback_price=9.5)) == pytest.approx(119.0)
    assert float(inventory_value(100.0, 2.0, [], ASKS, "best_bid", 9.5)) == pytest.approx(119.0)
    assert float(inventory_value(100.0, 2.0, [], ASKS, "liquidation", 9.5)) == pytest.approx(119.0)
    # a short with no asks: 100 - 9.5 * 2 = 81
    assert float(inventory_value(100.0, -2.0, BIDS, [], "liquidation", 9.5)) == pytest.approx(81.0)


def test_liquidation_needs_only_the_side_it_trades_against() -> None:
    # a long with no asks still sells into the bids; a short with no bids still buys from the asks
    assert float(inventory_value(100.0, 2.0, BIDS, [], "liquidation")) == pytest.approx(119.0)
    assert float(inventory_value(100.0, -3.0, [], ASKS, "liquidation")) == pytest.approx(65.0)


def test_mixed_miners_on_a_one_sided_book() -> None:
    # no bids: the long is NaN, the flat miner is its quote, the short buys back 1@11
    out = inventory_value([100.0, 50.0, 100.0], [2.0, 0.0, -1.0], [], ASKS, "liquidation")
    assert math.isnan(out[0])
    assert out[1:] == pytest.approx([50.0, 89.0])


def test_zero_quantity_levels_are_ignored() -> None:
    bids = [[10.5, 0.0], [10.0, 1.0]]
    # best bid with quantity is 10, not 10.5: 100 + 10 * 2 = 120
    assert float(inventory_value(100.0, 2.0, bids, ASKS, "best_bid")) == pytest.approx(120.0)


def test_nan_balance_gives_nan_for_that_miner_only() -> None:
    out = inventory_value([np.nan, 100.0, 100.0], [2.0, np.nan, 1.0], BIDS, ASKS, "liquidation")
    assert math.isnan(out[0]) and math.isnan(out[1])
    assert out[2] == pytest.approx(110.0)
    out = inventory_value([np.nan, 100.0], [0.0, np.nan], BIDS, ASKS, "midquote")
    assert np.isnan(out).all()


def test_shapes_broadcast_and_scalars_give_0d() -> None:
    assert inventory_value(100.0, 1.0, BIDS, ASKS).shape == ()
    out = inventory_value([100.0, 200.0], 1.0, BIDS, ASKS)
    assert out.shape == (2,)
    assert out == pytest.approx([110.5, 210.5])
    assert inventory_value([], [], BIDS, ASKS).shape == (0,)


def test_empty_side_may_be_shaped() -> None:
    assert float(inventory_value(100.0, 2.0, np.zeros((0, 2)), ASKS, "midquote")) == pytest.approx(122.0)


def test_unknown_method_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown inventory method 'mid'.*midquote"):
        inventory_value(100.0, 1.0, BIDS, ASKS, "mid")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("bids", "asks", "message"),
    [
        ([10.0, 1.0], ASKS, r"bids must have shape \(levels, 2\)"),
        (BIDS, [[11.0, 1.0, 0.0]], r"asks must have shape \(levels, 2\)"),
        ([[9.0, 1.0], [10.0, 1.0]], ASKS, "bids must be ordered best first"),
        (BIDS, [[12.0, 1.0], [11.0, 1.0]], "asks must be ordered best first"),
        ([[0.0, 1.0]], ASKS, "bids prices must be > 0"),
        (BIDS, [[11.0, -1.0]], "asks quantities must be >= 0"),
        ([[np.nan, 1.0]], ASKS, "bids must contain only finite"),
        ([["a", "b"]], ASKS, "bids must be numeric"),
    ],
)
def test_malformed_book_is_rejected(bids: object, asks: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        inventory_value(100.0, 1.0, bids, asks)  # type: ignore[arg-type]


def test_balances_that_do_not_broadcast_are_rejected() -> None:
    with pytest.raises(
        ValueError, match=r"quote_total with shape .* and base_total with shape .* do not broadcast"
    ):
        inventory_value([1.0, 2.0], [1.0, 2.0, 3.0], BIDS, ASKS)


@pytest.mark.parametrize("fallback", [0.0, -1.0, math.nan, math.inf])
def test_bad_fallback_is_rejected(fallback: float) -> None:
    with pytest.raises(ValueError, match="fallback_price must be a finite number > 0"):
        inventory_value(100.0, 1.0, [], [], "midquote", fallback)


def test_non_finite_balance_never_warns() -> None:
    # -inf + inf would warn "invalid value" without the guard; pytest turns warnings into errors
    out = inventory_value([-np.inf, np.inf], [np.inf, 1.0], BIDS, ASKS, "midquote")
    assert math.isnan(out[0]) and out[1] == np.inf


base_amounts = st.lists(st.floats(0.0, 50.0), min_size=1, max_size=20)


@given(base_amounts)
def test_liquidation_is_at_most_best_bid_is_at_most_midquote(bases: list[float]) -> None:
    liq = inventory_value(0.0, bases, BIDS, ASKS, "liquidation")
    bid = inventory_value(0.0, bases, BIDS, ASKS, "best_bid")
    mid = inventory_value(0.0, bases, BIDS, ASKS, "midquote")
    assert np.all(liq <= bid + 1e-9)
    assert np.all(bid <= mid + 1e-9)


@given(base_amounts)
def test_liquidation_value_grows_with_the_amount_sold(bases: list[float]) -> None:
    b = np.sort(np.asarray(bases))
    v = inventory_value(0.0, b, BIDS, ASKS, "liquidation")
    assert np.all(np.diff(v) >= -1e-9)


@given(st.lists(st.tuples(st.floats(0.0, 1e4), st.floats(-50.0, 50.0)), max_size=20))
def test_vectorised_equals_one_miner_at_a_time(balances: list[tuple[float, float]]) -> None:
    quotes = [q for q, _ in balances]
    bases = [b for _, b in balances]
    for method in ("midquote", "best_bid", "liquidation"):
        batch = inventory_value(quotes, bases, BIDS, ASKS, method)  # type: ignore[arg-type]
        one = [float(inventory_value(q, b, BIDS, ASKS, method)) for q, b in balances]  # type: ignore[arg-type]
        assert batch.tolist() == pytest.approx(one)
