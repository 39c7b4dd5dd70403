// Post-only orders never take liquidity.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using PostOnly = ExchangeTest;

TEST_F(PostOnly, RestsWhenItDoesNotCross) {
  limit(1, Side::Sell, 101, 2);
  auto ev = limit(2, Side::Buy, 100, 2, TimeInForce::GTC, Stp::CancelOldest, true);
  EXPECT_EQ(reject_reason(ev), RejectReason::None);
  EXPECT_EQ(ex.book(0).best(Side::Buy), 100);
}

TEST_F(PostOnly, RejectedWhenItWouldTake) {
  limit(1, Side::Sell, 101, 2);
  auto ev = limit(2, Side::Buy, 101, 2, TimeInForce::GTC, Stp::CancelOldest, true);
  EXPECT_EQ(reject_reason(ev), RejectReason::WouldTakeLiquidity);
  EXPECT_EQ(ex.book(0).level(Side::Sell, 0).qty_lots, 2);
  EXPECT_TRUE(ex.book(0).empty(Side::Buy));
  EXPECT_EQ(acc(2).quote.reserved, 0);
}

}  // namespace taosim::test
