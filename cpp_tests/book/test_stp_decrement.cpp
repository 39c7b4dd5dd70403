// Self-trade prevention: decrement-and-cancel.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using StpDecrement = ExchangeTest;

TEST_F(StpDecrement, SmallerRestingOrderIsCancelledAndAggressorContinues) {
  const OrderId own = placed_id(limit(1, Side::Sell, 100, 2));
  limit(2, Side::Sell, 100, 5);
  auto ev = limit(1, Side::Buy, 100, 5, TimeInForce::GTC, Stp::DecrementAndCancel);
  const OrderId aggressor = placed_id(ev);
  auto c = of_kind(ev, EventKind::OrderCancelled);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].order_id, own);
  EXPECT_EQ(c[0].qty_lots, 2);
  EXPECT_EQ(c[0].remaining_lots, 0);
  EXPECT_EQ(c[1].order_id, aggressor);
  EXPECT_EQ(c[1].qty_lots, 2);
  EXPECT_EQ(c[1].remaining_lots, 3);
  auto t = of_kind(ev, EventKind::Trade);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].qty_lots, 3);
  EXPECT_TRUE(ex.book(0).empty(Side::Buy));
}

TEST_F(StpDecrement, SmallerAggressorIsCancelledAndRestingReduced) {
  const OrderId own = placed_id(limit(1, Side::Sell, 100, 5));
  auto ev = limit(1, Side::Buy, 100, 2, TimeInForce::GTC, Stp::DecrementAndCancel);
  auto c = of_kind(ev, EventKind::OrderCancelled);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].remaining_lots, 3);
  EXPECT_EQ(c[1].remaining_lots, 0);
  EXPECT_EQ(ex.book(0).find(own)->qty_lots, 3);
  EXPECT_EQ(acc(1).base.reserved, 3);
  EXPECT_TRUE(ex.book(0).empty(Side::Buy));
}

}  // namespace taosim::test
