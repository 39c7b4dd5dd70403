// Partial cancel reduces the quantity and keeps the queue position.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using PartialCancel = ExchangeTest;

TEST_F(PartialCancel, ReducesAndKeepsPriority) {
  const OrderId first = placed_id(limit(1, Side::Sell, 100, 5));
  const OrderId second = placed_id(limit(2, Side::Sell, 100, 5));
  auto ev = cancel(1, first, 3);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, static_cast<std::uint8_t>(EventKind::OrderCancelled));
  EXPECT_EQ(ev[0].qty_lots, 3);
  EXPECT_EQ(ev[0].remaining_lots, 2);
  EXPECT_EQ(ev[0].reason, static_cast<std::uint8_t>(CancelReason::Requested));
  EXPECT_EQ(acc(1).base.reserved, 2);
  EXPECT_EQ(acc(1).base.free, 998);
  auto t = of_kind(limit(3, Side::Buy, 100, 3), EventKind::Trade);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].other_order_id, first);  // still first in the queue
  EXPECT_EQ(t[0].qty_lots, 2);
  EXPECT_EQ(t[1].other_order_id, second);
}

TEST_F(PartialCancel, QuantityAtOrAboveRemainingCancelsAll) {
  const OrderId id = placed_id(limit(1, Side::Buy, 100, 5));
  auto ev = cancel(1, id, 9);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].qty_lots, 5);
  EXPECT_EQ(ev[0].remaining_lots, 0);
  EXPECT_EQ(ex.book(0).find(id), nullptr);
  EXPECT_EQ(acc(1).quote.reserved, 0);
  EXPECT_EQ(acc(1).open_orders, 0u);
}

TEST_F(PartialCancel, NegativeQuantityIsRejected) {
  const OrderId id = placed_id(limit(1, Side::Buy, 100, 5));
  EXPECT_EQ(reject_reason(cancel(1, id, -1)), RejectReason::InvalidQuantity);
  EXPECT_EQ(ex.book(0).find(id)->qty_lots, 5);
}

TEST_F(PartialCancel, ReducingABuyReleasesItsReservation) {
  const OrderId id = placed_id(limit(1, Side::Buy, 100, 10));
  EXPECT_EQ(acc(1).quote.reserved, 1'000);
  cancel(1, id, 4);
  EXPECT_EQ(acc(1).quote.reserved, 600);
}

}  // namespace taosim::test
