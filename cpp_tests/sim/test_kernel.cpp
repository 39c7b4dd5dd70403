// The kernel: clock, queue order, instruction arrival times, resets, agent isolation.
#include <gtest/gtest.h>

#include <limits>

#include "support/simulation_fixture.hpp"
#include "taosim/agents/registry.hpp"

namespace taosim::test {

namespace {
InstructionRecord limit_from_miner(AgentId miner, BookId book, Side side, Ticks price, Lots qty, TimeNs at) {
  InstructionRecord r{};
  r.kind = byte_of(InstructionKind::PlaceLimit);
  r.book = book;
  r.agent = miner;
  r.side = byte_of(side);
  r.price_ticks = price;
  r.qty_lots = qty;
  r.tif = byte_of(TimeInForce::GTC);
  r.stp = byte_of(Stp::CancelOldest);
  r.ts_ns = at;
  r.client_order_id = 99;
  return r;
}
}  // namespace

TEST(Kernel, BackgroundAgentsBuildBothSidesOfEveryBook) {
  Simulation sim(small_market(3, 2));
  sim.step(60'000'000'000, nullptr, 0);
  for (BookId b = 0; b < 3; ++b) {
    const OrderBook& book = sim.exchange().book(b);
    ASSERT_FALSE(book.empty(Side::Buy)) << "book " << b;
    ASSERT_FALSE(book.empty(Side::Sell)) << "book " << b;
    EXPECT_LT(book.best(Side::Buy), book.best(Side::Sell));
  }
  EXPECT_GT(sim.take_events().size(), 1'000u);
}

TEST(Kernel, MinerInstructionArrivesAtItsTime) {
  Simulation sim(small_market(2, 1));
  sim.step(10'000'000'000, nullptr, 0);
  sim.take_events();
  const auto r = limit_from_miner(2, 1, Side::Buy, 1'000, 1, 11'500'000'000);
  sim.step(15'000'000'000, &r, 1);
  bool seen = false;
  for (const Event& e : sim.take_events()) {
    if (e.agent == 2 && e.kind == byte_of(EventKind::OrderPlaced)) {
      EXPECT_EQ(e.ts_ns, 11'500'000'000);
      EXPECT_EQ(e.book, 1u);
      EXPECT_EQ(e.client_order_id, 99u);
      seen = true;
    }
  }
  EXPECT_TRUE(seen);
}

TEST(Kernel, ArrivalBeyondTheStepWaitsForALaterStep) {
  Simulation sim(small_market(1, 1));
  const auto r = limit_from_miner(0, 0, Side::Buy, 1'000, 1, 7'000'000'000);
  sim.step(5'000'000'000, &r, 1);
  for (const Event& e : sim.take_events()) EXPECT_NE(e.agent, 0u);
  sim.step(10'000'000'000, nullptr, 0);
  std::size_t placed = 0;
  for (const Event& e : sim.take_events()) placed += e.agent == 0 && e.kind == byte_of(EventKind::OrderPlaced);
  EXPECT_EQ(placed, 1u);
}

TEST(Kernel, EventsOfABookAreInTimeAndSequenceOrder) {
  Simulation sim(small_market(2, 2));
  sim.step(30'000'000'000, nullptr, 0);
  auto ev = sim.take_events();
  for (std::size_t i = 1; i < ev.size(); ++i) {
    if (ev[i].book != ev[i - 1].book) continue;
    EXPECT_EQ(ev[i].seq, ev[i - 1].seq + 1);
    EXPECT_GE(ev[i].ts_ns, ev[i - 1].ts_ns);
  }
}

TEST(Kernel, ResetReachesEveryBook) {
  Simulation sim(small_market(3, 1));
  sim.step(5'000'000'000, nullptr, 0);
  std::vector<InstructionRecord> rs;
  for (BookId b = 0; b < 3; ++b) rs.push_back(limit_from_miner(3, b, Side::Buy, 1'000, 5, 5'000'000'000));
  sim.step(6'000'000'000, rs.data(), rs.size());
  InstructionRecord reset{};
  reset.kind = byte_of(InstructionKind::ResetAgent);
  reset.agent = 3;
  reset.ts_ns = 6'000'000'010;
  sim.step(7'000'000'000, &reset, 1);
  std::size_t resets = 0;
  for (const Event& e : sim.take_events()) resets += e.kind == byte_of(EventKind::AccountReset) && e.agent == 3;
  EXPECT_EQ(resets, 3u);
  for (BookId b = 0; b < 3; ++b) EXPECT_EQ(sim.exchange().account(b, 3)->quote.reserved, 0);
}

TEST(Kernel, TimeNeverGoesBack) {
  Simulation sim(small_market(1, 1));
  sim.step(5'000'000'000, nullptr, 0);
  EXPECT_THROW(sim.step(4'000'000'000, nullptr, 0), std::invalid_argument);
  EXPECT_EQ(sim.time(), 5'000'000'000);
}

TEST(Kernel, FundamentalPriceMovesAndStaysPositive) {
  Simulation sim(small_market(1, 1));
  const double start = sim.fundamental_ticks(0);
  sim.step(3'600'000'000'000, nullptr, 0);
  const double later = sim.fundamental_ticks(0);
  EXPECT_NE(start, later);
  EXPECT_GT(later, 0.0);
}

TEST(Kernel, BadConfigsAreRefusedWithTheField) {
  auto c = small_market();
  c.populations[1].params.push_back({"no_such_param", 1});
  try {
    Simulation s(c);
    FAIL() << "accepted an unknown parameter";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_param"), std::string::npos);
  }
  c = small_market();
  c.populations[0].model = "martian";
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
  c = small_market();
  c.populations[1].params = {{"cancel_prob", 1.5}};
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
  c = small_market();
  c.populations[0].latency_max_ns = 0;
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
  c = small_market();
  c.fundamental.update_s = 0;
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
  // An update period that truncates to 0 ns would never let the clock advance (step() hung).
  c = small_market();
  c.fundamental.update_s = 1e-12;
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
  c = small_market();
  c.signal.update_s = 0.0009;
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
  c = small_market();
  c.signal.update_s = 1e300;  // its nanoseconds do not fit int64
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
  c = small_market();
  c.fundamental.update_s = 1e-3;
  EXPECT_NO_THROW(Simulation{c});
  c = small_market();
  c.populations[0].latency_max_ns = std::numeric_limits<TimeNs>::max();  // now + latency would overflow
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
}

TEST(Registry, KnowsItsModels) {
  const auto models = agent_models();
  EXPECT_NE(std::find(models.begin(), models.end(), "random_trader"), models.end());
  EXPECT_NE(std::find(models.begin(), models.end(), "initialization"), models.end());
  EXPECT_NE(make_agent("random_trader", {}), nullptr);
}

}  // namespace taosim::test

namespace taosim::test {

TEST(Kernel, ExtremeArrivalTimesAreSafe) {
  Simulation sim(small_market(1, 1));
  auto r = limit_from_miner(0, 0, Side::Buy, 1'000, 1, std::numeric_limits<TimeNs>::max());
  auto early = limit_from_miner(1, 0, Side::Buy, 1'000, 1, std::numeric_limits<TimeNs>::min());
  const InstructionRecord both[] = {r, early};
  sim.step(5'000'000'000, both, 2);
  std::size_t from_0 = 0, from_1 = 0;
  for (const Event& e : sim.take_events()) {
    from_0 += e.agent == 0;
    if (e.agent == 1) {
      ++from_1;
      EXPECT_EQ(e.ts_ns, 0);  // a time before the step start counts as the start
    }
  }
  EXPECT_EQ(from_0, 0u);
  EXPECT_EQ(from_1, 1u);
}

TEST(Kernel, InstructionForAnUnknownBookIsRefusedNotLost) {
  Simulation sim(small_market(1, 1));
  auto r = limit_from_miner(0, 9, Side::Buy, 1'000, 1, 0);
  sim.step(1'000'000'000, &r, 1);
  std::size_t refused = 0;
  for (const Event& e : sim.take_events())
    refused += e.book == kNoBook && e.reason == byte_of(RejectReason::UnknownBook);
  EXPECT_EQ(refused, 1u);
}

}  // namespace taosim::test
