// Account reset: orders cancelled first, starting balances restored, on every book.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

class Reset : public ExchangeTest {
 protected:
  Reset() : ExchangeTest(config_with_fees({FeeTier{0, 1'000'000, 1'000'000}}, 2)) {}
};

TEST_F(Reset, CancelsOrdersRestoresBalancesOnEveryBook) {
  limit(1, Side::Sell, 100, 50);
  limit(2, Side::Buy, 100, 20);  // agent 1 sells 20
  limit(1, Side::Buy, 90, 10, TimeInForce::GTC, Stp::CancelOldest, false, 0, 1);
  ASSERT_NE(acc(1).base.total(), 1'000);
  EXPECT_EQ(ex.reset_agent(1, now), 2u);
  auto ev = ex.take_events();
  std::size_t resets = 0, cancels = 0;
  for (const auto& e : ev) {
    if (e.kind == static_cast<std::uint8_t>(EventKind::AccountReset)) ++resets;
    if (e.kind == static_cast<std::uint8_t>(EventKind::OrderCancelled)) {
      ++cancels;
      EXPECT_EQ(e.reason, static_cast<std::uint8_t>(CancelReason::Reset));
    }
  }
  EXPECT_EQ(resets, 2u);
  EXPECT_EQ(cancels, 2u);
  for (BookId b : {0u, 1u}) {
    EXPECT_EQ(acc(1, b).base.free, 1'000);
    EXPECT_EQ(acc(1, b).base.reserved, 0);
    EXPECT_EQ(acc(1, b).quote.free, 100'000'000);
    EXPECT_EQ(acc(1, b).quote.reserved, 0);
    EXPECT_EQ(acc(1, b).open_orders, 0u);
    EXPECT_EQ(acc(1, b).fees_paid, 0);
  }
  EXPECT_EQ(ex.window_volume(0, 1), 0);
  EXPECT_TRUE(ex.book(0).empty(Side::Sell));
  EXPECT_TRUE(ex.book(1).empty(Side::Buy));
  check_invariants();  // supply adjusted by the reset
}

TEST_F(Reset, UnknownAgentResetsNothing) {
  EXPECT_EQ(ex.reset_agent(99, now), 0u);
  EXPECT_TRUE(ex.take_events().empty());
}

TEST_F(Reset, OtherAgentsAreUntouched) {
  const OrderId other = placed_id(limit(2, Side::Sell, 100, 5));
  limit(1, Side::Sell, 100, 5);
  ex.reset_agent(1, now);
  ex.take_events();
  EXPECT_NE(ex.book(0).find(other), nullptr);
  EXPECT_EQ(acc(2).base.reserved, 5);
}

}  // namespace taosim::test
