// Good-till-time: exchange-side expiry.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using GttOrders = ExchangeTest;

TEST_F(GttOrders, ExpiresAtItsTimeWithAnEvent) {
  const OrderId id = placed_id(limit(1, Side::Buy, 100, 5, TimeInForce::GTT, Stp::CancelOldest, false, 5'000));
  EXPECT_EQ(acc(1).quote.reserved, 500);
  ex.advance_to(4'999);
  EXPECT_TRUE(ex.take_events().empty());
  EXPECT_NE(ex.book(0).find(id), nullptr);
  ex.advance_to(7'000);
  auto ev = ex.take_events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, static_cast<std::uint8_t>(EventKind::OrderCancelled));
  EXPECT_EQ(ev[0].reason, static_cast<std::uint8_t>(CancelReason::Expired));
  EXPECT_EQ(ev[0].ts_ns, 5'000);  // stamped with the expiry time
  EXPECT_EQ(ex.book(0).find(id), nullptr);
  EXPECT_EQ(acc(1).quote.reserved, 0);
  check_invariants();
}

TEST_F(GttOrders, ExpiresBeforeALaterInstructionIsApplied) {
  limit(1, Side::Sell, 100, 5, TimeInForce::GTT, Stp::CancelOldest, false, 2'000);
  now = 3'000;
  auto ev = limit(2, Side::Buy, 100, 5);
  EXPECT_EQ(of_kind(ev, EventKind::OrderCancelled).size(), 1u);
  EXPECT_TRUE(of_kind(ev, EventKind::Trade).empty());
  EXPECT_LT(ev[0].seq, ev[1].seq);
}

TEST_F(GttOrders, ExpiryMustBeInTheFuture) {
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, 100, 5, TimeInForce::GTT, Stp::CancelOldest, false, now)),
            RejectReason::InvalidExpiry);
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, 100, 5, TimeInForce::GTT, Stp::CancelOldest, false, 0)),
            RejectReason::InvalidExpiry);
}

TEST_F(GttOrders, FilledOrderLeavesNoExpiryEvent) {
  limit(1, Side::Sell, 100, 5, TimeInForce::GTT, Stp::CancelOldest, false, 2'000);
  limit(2, Side::Buy, 100, 5);
  ex.advance_to(10'000);
  EXPECT_TRUE(ex.take_events().empty());
}

}  // namespace taosim::test
