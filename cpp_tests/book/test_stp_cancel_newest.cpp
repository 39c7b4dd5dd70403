// Self-trade prevention: cancel-newest.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using StpCancelNewest = ExchangeTest;

TEST_F(StpCancelNewest, CancelsTheAggressorAndStops) {
  limit(2, Side::Sell, 99, 1);
  const OrderId own = placed_id(limit(1, Side::Sell, 100, 3));
  auto ev = limit(1, Side::Buy, 100, 5, TimeInForce::GTC, Stp::CancelNewest);
  const OrderId aggressor = placed_id(ev);
  EXPECT_EQ(of_kind(ev, EventKind::Trade).size(), 1u);  // the other agent's order at 99
  auto c = of_kind(ev, EventKind::OrderCancelled);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].order_id, aggressor);
  EXPECT_EQ(c[0].qty_lots, 4);
  EXPECT_EQ(c[0].remaining_lots, 0);
  EXPECT_EQ(c[0].reason, static_cast<std::uint8_t>(CancelReason::Stp));
  EXPECT_NE(ex.book(0).find(own), nullptr);
  EXPECT_TRUE(ex.book(0).empty(Side::Buy));
  EXPECT_EQ(acc(1).quote.reserved, 0);
}

TEST_F(StpCancelNewest, MarketOrderStopsSilentlyAfterTheStpCancel) {
  limit(1, Side::Sell, 100, 3);
  auto ev = market(1, Side::Buy, 5, Stp::CancelNewest);
  auto c = of_kind(ev, EventKind::OrderCancelled);
  ASSERT_EQ(c.size(), 1u);  // no extra MarketRest event
  EXPECT_EQ(c[0].reason, static_cast<std::uint8_t>(CancelReason::Stp));
}

}  // namespace taosim::test
