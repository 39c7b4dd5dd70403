// Limit orders: resting, price-time priority, trade price, partial fills.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using LimitOrders = ExchangeTest;

TEST_F(LimitOrders, RestsWhenNotCrossingAndShowsInLevels) {
  auto ev = limit(1, Side::Buy, 100, 5);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, static_cast<std::uint8_t>(EventKind::OrderPlaced));
  EXPECT_EQ(ex.book(0).best(Side::Buy), 100);
  EXPECT_EQ(ex.book(0).level(Side::Buy, 0).qty_lots, 5);
  EXPECT_EQ(acc(1).open_orders, 1u);
}

TEST_F(LimitOrders, TradesAtMakerPriceForTheSmallerSize) {
  const OrderId maker = placed_id(limit(1, Side::Sell, 100, 5));
  auto ev = limit(2, Side::Buy, 105, 3);
  auto trades = of_kind(ev, EventKind::Trade);
  ASSERT_EQ(trades.size(), 1u);
  EXPECT_EQ(trades[0].price_ticks, 100);
  EXPECT_EQ(trades[0].qty_lots, 3);
  EXPECT_EQ(trades[0].other_order_id, maker);
  EXPECT_EQ(trades[0].agent, 2u);
  EXPECT_EQ(trades[0].other_agent, 1u);
  EXPECT_EQ(trades[0].side, static_cast<std::uint8_t>(Side::Buy));
  EXPECT_EQ(trades[0].remaining_lots, 2);
  EXPECT_EQ(trades[0].notional_quote, 300);
  EXPECT_EQ(ex.book(0).level(Side::Sell, 0).qty_lots, 2);
  EXPECT_EQ(acc(2).base.free, 1'003);
  EXPECT_EQ(acc(2).quote.total(), 100'000'000 - 300);
}

TEST_F(LimitOrders, BetterPriceFirstThenEarlierOrder) {
  const OrderId a = placed_id(limit(1, Side::Sell, 101, 2));
  const OrderId b = placed_id(limit(2, Side::Sell, 100, 2));
  const OrderId c = placed_id(limit(3, Side::Sell, 100, 2));
  auto trades = of_kind(limit(4, Side::Buy, 101, 6), EventKind::Trade);
  ASSERT_EQ(trades.size(), 3u);
  EXPECT_EQ(trades[0].other_order_id, b);
  EXPECT_EQ(trades[1].other_order_id, c);
  EXPECT_EQ(trades[2].other_order_id, a);
  EXPECT_EQ(trades[2].price_ticks, 101);
  EXPECT_TRUE(ex.book(0).empty(Side::Sell));
}

TEST_F(LimitOrders, UnfilledRestRestsAtItsLimit) {
  limit(1, Side::Sell, 100, 2);
  auto ev = limit(2, Side::Buy, 102, 5);
  EXPECT_EQ(of_kind(ev, EventKind::Trade).size(), 1u);
  EXPECT_EQ(ex.book(0).best(Side::Buy), 102);
  EXPECT_EQ(ex.book(0).level(Side::Buy, 0).qty_lots, 3);
  EXPECT_TRUE(ex.book(0).empty(Side::Sell));
}

TEST_F(LimitOrders, DoesNotTradeThroughItsLimit) {
  limit(1, Side::Sell, 103, 2);
  auto ev = limit(2, Side::Buy, 102, 2);
  EXPECT_TRUE(of_kind(ev, EventKind::Trade).empty());
  EXPECT_EQ(ex.book(0).best(Side::Buy), 102);
  EXPECT_EQ(ex.book(0).best(Side::Sell), 103);
}

TEST_F(LimitOrders, OrderIdsIncreaseAndAreNeverReused) {
  OrderId last = kNoOrder;
  for (int i = 0; i < 50; ++i) {
    const OrderId id = placed_id(limit(1, Side::Buy, 90 + i % 5, 1));
    EXPECT_GT(id, last);
    last = id;
    cancel(1, id);  // frees the slot; the next id must still be new
  }
}

TEST_F(LimitOrders, LevelsAreSortedFromTheTouch) {
  for (Ticks p : {95, 99, 97, 98, 96}) limit(1, Side::Buy, p, 1);
  for (Ticks p : {105, 101, 103}) limit(2, Side::Sell, p, 1);
  const OrderBook& b = ex.book(0);
  ASSERT_EQ(b.level_count(Side::Buy), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(b.level(Side::Buy, i).price_ticks, 99 - static_cast<Ticks>(i));
  ASSERT_EQ(b.level_count(Side::Sell), 3u);
  EXPECT_EQ(b.level(Side::Sell, 0).price_ticks, 101);
  EXPECT_EQ(b.level(Side::Sell, 2).price_ticks, 105);
}

}  // namespace taosim::test
