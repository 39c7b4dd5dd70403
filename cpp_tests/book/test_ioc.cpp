// Immediate-or-cancel.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using IocOrders = ExchangeTest;

TEST_F(IocOrders, FillsWhatItCanAndCancelsTheRest) {
  limit(1, Side::Sell, 100, 2);
  auto ev = limit(2, Side::Buy, 100, 5, TimeInForce::IOC);
  EXPECT_EQ(of_kind(ev, EventKind::Trade).size(), 1u);
  auto c = of_kind(ev, EventKind::OrderCancelled);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].qty_lots, 3);
  EXPECT_EQ(c[0].reason, static_cast<std::uint8_t>(CancelReason::IocRest));
  EXPECT_TRUE(ex.book(0).empty(Side::Buy));
  EXPECT_EQ(acc(2).quote.reserved, 0);
  EXPECT_EQ(acc(2).open_orders, 0u);
}

TEST_F(IocOrders, RejectedWhenNothingIsMatchable) {
  limit(1, Side::Sell, 101, 2);
  EXPECT_EQ(reject_reason(limit(2, Side::Buy, 100, 5, TimeInForce::IOC)), RejectReason::NoLiquidity);
  EXPECT_EQ(reject_reason(limit(2, Side::Sell, 100, 5, TimeInForce::IOC)), RejectReason::NoLiquidity);
}

TEST_F(IocOrders, CannotBePostOnly) {
  limit(1, Side::Sell, 100, 2);
  EXPECT_EQ(reject_reason(limit(2, Side::Buy, 100, 1, TimeInForce::IOC, Stp::CancelOldest, true)),
            RejectReason::PostOnlyNotAllowed);
}

}  // namespace taosim::test
