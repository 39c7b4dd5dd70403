// Self-trade prevention: cancel-oldest (the default for miners).
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using StpCancelOldest = ExchangeTest;

TEST_F(StpCancelOldest, CancelsTheRestingOrderAndKeepsMatching) {
  const OrderId own = placed_id(limit(1, Side::Sell, 100, 3));
  const OrderId other = placed_id(limit(2, Side::Sell, 100, 3));
  auto ev = limit(1, Side::Buy, 100, 2, TimeInForce::GTC, Stp::CancelOldest);
  auto c = of_kind(ev, EventKind::OrderCancelled);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].order_id, own);
  EXPECT_EQ(c[0].qty_lots, 3);
  EXPECT_EQ(c[0].reason, static_cast<std::uint8_t>(CancelReason::Stp));
  auto t = of_kind(ev, EventKind::Trade);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].other_order_id, other);
  EXPECT_EQ(t[0].qty_lots, 2);
  EXPECT_EQ(acc(1).base.reserved, 0);
}

}  // namespace taosim::test
