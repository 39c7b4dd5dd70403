// The per-miner notice index of a step's events.
#include <gtest/gtest.h>

#include "taosim/sim/notices.hpp"

namespace taosim::test {

namespace {
Event ev(EventKind kind, AgentId agent, AgentId other = 0) {
  Event e{};
  e.kind = byte_of(kind);
  e.agent = agent;
  e.other_agent = other;
  return e;
}
std::vector<std::uint32_t> of(const NoticeIndex& n, AgentId m) {
  return {n.indices.begin() + n.offsets[m], n.indices.begin() + n.offsets[m + 1]};
}
}  // namespace

TEST(NoticeIndex, OwnEventsAndMakerTradesInEventOrder) {
  const std::vector<Event> events = {
      ev(EventKind::OrderPlaced, 1),        // 0: miner 1
      ev(EventKind::OrderPlaced, 9),        // 1: a background agent (not a miner)
      ev(EventKind::Trade, 2, 1),           // 2: miner 2 takes miner 1's order: both
      ev(EventKind::Trade, 9, 2),           // 3: background takes miner 2's order: miner 2
      ev(EventKind::Trade, 1, 9),           // 4: miner 1 takes a background order: miner 1
      ev(EventKind::OrderCancelled, 0),     // 5: miner 0 (other_agent 0 is not read for non-trades)
      ev(EventKind::Trade, 3, 3),           // 6: a self-trade is listed once
      ev(EventKind::OrderRejected, 9, 0),   // 7: background
  };
  const NoticeIndex n = index_notices(events, 4);
  ASSERT_EQ(n.offsets.size(), 5u);
  EXPECT_EQ(of(n, 0), (std::vector<std::uint32_t>{5}));
  EXPECT_EQ(of(n, 1), (std::vector<std::uint32_t>{0, 2, 4}));
  EXPECT_EQ(of(n, 2), (std::vector<std::uint32_t>{2, 3}));
  EXPECT_EQ(of(n, 3), (std::vector<std::uint32_t>{6}));
  EXPECT_EQ(n.indices.size(), 7u);
}

TEST(NoticeIndex, NoMinersOrNoEvents) {
  EXPECT_TRUE(index_notices({ev(EventKind::OrderPlaced, 0)}, 0).indices.empty());
  const NoticeIndex n = index_notices({}, 3);
  EXPECT_EQ(n.offsets, (std::vector<std::uint32_t>{0, 0, 0, 0}));
}

}  // namespace taosim::test
