// Fill-or-kill.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using FokOrders = ExchangeTest;

TEST_F(FokOrders, FillsCompletelyAcrossLevels) {
  limit(1, Side::Sell, 100, 2);
  limit(2, Side::Sell, 101, 3);
  auto ev = limit(3, Side::Buy, 101, 5, TimeInForce::FOK);
  EXPECT_EQ(of_kind(ev, EventKind::Trade).size(), 2u);
  EXPECT_TRUE(of_kind(ev, EventKind::OrderCancelled).empty());
  EXPECT_TRUE(ex.book(0).empty(Side::Sell));
}

TEST_F(FokOrders, RejectedWithoutSideEffectsWhenNotFillable) {
  limit(1, Side::Sell, 100, 2);
  limit(2, Side::Sell, 102, 3);
  auto ev = limit(3, Side::Buy, 101, 5, TimeInForce::FOK);
  EXPECT_EQ(reject_reason(ev), RejectReason::FokNotFillable);
  EXPECT_TRUE(of_kind(ev, EventKind::Trade).empty());
  EXPECT_EQ(ex.book(0).level(Side::Sell, 0).qty_lots, 2);
}

TEST_F(FokOrders, OwnOrdersDoNotCountUnlessCancelOldestRemovesThem) {
  limit(3, Side::Sell, 100, 4);  // own order
  limit(1, Side::Sell, 100, 2);
  EXPECT_EQ(reject_reason(limit(3, Side::Buy, 100, 2, TimeInForce::FOK, Stp::CancelNewest)),
            RejectReason::FokNotFillable);
  EXPECT_EQ(reject_reason(limit(3, Side::Buy, 100, 3, TimeInForce::FOK, Stp::CancelOldest)),
            RejectReason::FokNotFillable);  // only 2 lots of others
  auto ev = limit(3, Side::Buy, 100, 2, TimeInForce::FOK, Stp::CancelOldest);
  EXPECT_EQ(of_kind(ev, EventKind::Trade).size(), 1u);
  EXPECT_EQ(of_kind(ev, EventKind::OrderCancelled).size(), 1u);  // the own order, by STP
}

TEST_F(FokOrders, CannotBePostOnly) {
  EXPECT_EQ(reject_reason(limit(2, Side::Buy, 100, 1, TimeInForce::FOK, Stp::CancelOldest, true)),
            RejectReason::PostOnlyNotAllowed);
}

}  // namespace taosim::test
