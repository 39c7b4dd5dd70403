// Only the owner may cancel an order.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using Ownership = ExchangeTest;

TEST_F(Ownership, ForeignCancelIsRejectedAndTouchesNothing) {
  const OrderId id = placed_id(limit(1, Side::Sell, 100, 5));
  auto ev = cancel(2, id);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, static_cast<std::uint8_t>(EventKind::CancelRejected));
  EXPECT_EQ(ev[0].reason, static_cast<std::uint8_t>(RejectReason::NotOwner));
  EXPECT_EQ(ev[0].agent, 2u);
  EXPECT_EQ(ex.book(0).find(id)->qty_lots, 5);
  EXPECT_EQ(reject_reason(cancel(2, id, 1)), RejectReason::NotOwner);
  EXPECT_EQ(ex.book(0).find(id)->qty_lots, 5);
}

TEST_F(Ownership, UnknownOrFinishedOrdersAreRejected) {
  EXPECT_EQ(reject_reason(cancel(1, 12345)), RejectReason::UnknownOrder);
  EXPECT_EQ(reject_reason(cancel(1, kNoOrder)), RejectReason::UnknownOrder);
  const OrderId id = placed_id(limit(1, Side::Sell, 100, 5));
  cancel(1, id);
  EXPECT_EQ(reject_reason(cancel(1, id)), RejectReason::UnknownOrder);
}

TEST_F(Ownership, StaleIdOfAReusedSlotIsNotAnotherAgentsOrder) {
  const OrderId old_id = placed_id(limit(1, Side::Sell, 100, 5));
  cancel(1, old_id);
  const OrderId new_id = placed_id(limit(2, Side::Sell, 100, 5));  // may reuse the slot
  EXPECT_NE(old_id, new_id);
  EXPECT_EQ(reject_reason(cancel(1, old_id)), RejectReason::UnknownOrder);
  EXPECT_EQ(ex.book(0).find(new_id)->qty_lots, 5);
}

TEST_F(Ownership, CancelByAnAgentWithoutAccountIsRejected) {
  const OrderId id = placed_id(limit(1, Side::Sell, 100, 5));
  EXPECT_EQ(reject_reason(cancel(77, id)), RejectReason::UnknownAgent);
}

}  // namespace taosim::test
