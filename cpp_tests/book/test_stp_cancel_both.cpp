// Self-trade prevention: cancel-both.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using StpCancelBoth = ExchangeTest;

TEST_F(StpCancelBoth, CancelsRestingAndAggressor) {
  const OrderId own = placed_id(limit(1, Side::Sell, 100, 3));
  limit(2, Side::Sell, 100, 3);
  auto ev = limit(1, Side::Buy, 100, 5, TimeInForce::GTC, Stp::CancelBoth);
  const OrderId aggressor = placed_id(ev);
  auto c = of_kind(ev, EventKind::OrderCancelled);
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].order_id, own);
  EXPECT_EQ(c[1].order_id, aggressor);
  EXPECT_TRUE(of_kind(ev, EventKind::Trade).empty());
  EXPECT_EQ(ex.book(0).level(Side::Sell, 0).qty_lots, 3);  // the other agent's order
  EXPECT_EQ(acc(1).base.reserved, 0);
  EXPECT_EQ(acc(1).quote.reserved, 0);
}

}  // namespace taosim::test
