// Stp::None: allowed for background agents only.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using StpNone = ExchangeTest;

TEST_F(StpNone, BackgroundAgentTradesWithItself) {
  limit(10, Side::Sell, 100, 3, TimeInForce::GTC, Stp::None);
  auto ev = limit(10, Side::Buy, 100, 3, TimeInForce::GTC, Stp::None);
  auto t = of_kind(ev, EventKind::Trade);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].agent, 10u);
  EXPECT_EQ(t[0].other_agent, 10u);
  EXPECT_EQ(acc(10, 0).base.total(), 1'000);
  EXPECT_EQ(acc(10, 0).quote.total(), 100'000'000);
}

TEST_F(StpNone, MinerMayNotChooseIt) {
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, 100, 1, TimeInForce::GTC, Stp::None)), RejectReason::InvalidStp);
  limit(2, Side::Sell, 100, 1);
  EXPECT_EQ(reject_reason(market(1, Side::Buy, 1, Stp::None)), RejectReason::InvalidStp);
}

TEST_F(StpNone, UnknownModeIsRejected) {
  EXPECT_EQ(reject_reason(limit(10, Side::Buy, 100, 1, TimeInForce::GTC, static_cast<Stp>(9))),
            RejectReason::InvalidStp);
}

}  // namespace taosim::test
