// OwnOrders: an agent's view of its live orders, from its events.
#include <gtest/gtest.h>

#include "taosim/agents/own_orders.hpp"

namespace taosim::test {

namespace {
Event ev(EventKind kind, OrderId id, AgentId agent, Lots remaining = 0, Ticks price = 100) {
  Event e{};
  e.kind = byte_of(kind);
  e.order_id = id;
  e.agent = agent;
  e.remaining_lots = remaining;
  e.price_ticks = price;
  return e;
}
}  // namespace

TEST(OwnOrders, FollowsPlacementFillsAndCancels) {
  OwnOrders own;
  constexpr AgentId me = 5;
  own.on_event(ev(EventKind::OrderPlaced, 11, me), me);
  own.on_event(ev(EventKind::OrderPlaced, 12, me), me);
  own.on_event(ev(EventKind::OrderPlaced, 13, me, 0, /*market*/ 0), me);  // market orders never rest
  ASSERT_EQ(own.ids(), (std::vector<OrderId>{11, 12}));
  EXPECT_EQ(own.oldest(), 11u);

  Event fill{};
  fill.kind = byte_of(EventKind::Trade);
  fill.order_id = 99;  // the aggressor, someone else
  fill.other_order_id = 11;
  fill.agent = 7;
  fill.other_agent = me;
  fill.remaining_lots = 3;  // partly filled: still live
  own.on_event(fill, me);
  EXPECT_EQ(own.ids().size(), 2u);
  fill.remaining_lots = 0;  // filled: gone
  own.on_event(fill, me);
  EXPECT_EQ(own.ids(), (std::vector<OrderId>{12}));

  own.on_event(ev(EventKind::OrderCancelled, 12, me, /*remaining*/ 4), me);  // partial cancel
  EXPECT_EQ(own.ids().size(), 1u);
  own.on_event(ev(EventKind::OrderCancelled, 12, me, 0), me);
  EXPECT_TRUE(own.empty());

  own.on_event(ev(EventKind::OrderPlaced, 14, me), me);
  own.on_event(ev(EventKind::CancelRejected, 14, me), me);  // filled before the cancel arrived
  EXPECT_TRUE(own.empty());
}

TEST(OwnOrders, SavesAndLoads) {
  OwnOrders a;
  a.on_event(ev(EventKind::OrderPlaced, 21, 1), 1);
  a.on_event(ev(EventKind::OrderPlaced, 22, 1), 1);
  StateWriter w;
  a.save(w);
  OwnOrders b;
  StateReader r(w.buffer());
  b.load(r);
  EXPECT_EQ(a.ids(), b.ids());
  EXPECT_EQ(r.remaining(), 0u);
}

// A loaded list may only hold ids its book issued, and none of another agent's live orders.
TEST(OwnOrders, LoadedIdsAreCheckedAgainstTheBook) {
  OrderBook book;
  const OrderId mine = book.assign_id();
  book.rest(mine, 5, Side::Buy, 100, 3);
  const OrderId theirs = book.assign_id();
  book.rest(theirs, 6, Side::Sell, 101, 3);
  const LoadedContext ctx{1'000, 5, book, true, 1.0};
  OwnOrders own;
  own.on_event(ev(EventKind::OrderPlaced, mine, 5), 5);
  EXPECT_EQ(own.check_loaded(ctx), "");
  own.on_event(ev(EventKind::OrderPlaced, theirs, 5), 5);
  EXPECT_EQ(own.check_loaded(ctx), "tracks order " + std::to_string(theirs) + " of agent 6");
  OwnOrders unknown;
  const OrderId never = theirs + (OrderId{1000} << OrderBook::kHandleBits);
  unknown.on_event(ev(EventKind::OrderPlaced, never, 5), 5);
  EXPECT_EQ(unknown.check_loaded(ctx), "tracks order " + std::to_string(never) + ", which its book never issued");
}

}  // namespace taosim::test
