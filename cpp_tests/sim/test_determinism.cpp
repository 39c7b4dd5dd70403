// Same config, seed and instructions: byte-identical events for any thread count and across runs.
#include <gtest/gtest.h>

#include <cstring>

#include "support/simulation_fixture.hpp"

namespace taosim::test {

namespace {

std::vector<Event> run(std::uint32_t threads, std::uint64_t seed = 7, bool all_models = false) {
  Simulation sim(all_models ? full_market(4, threads, seed) : small_market(4, threads, seed));
  InstructionRecord miner{};
  miner.kind = byte_of(InstructionKind::PlaceLimit);
  miner.book = 2;
  miner.agent = 1;
  miner.side = byte_of(Side::Buy);
  miner.price_ticks = 29'990;
  miner.qty_lots = 10;
  miner.tif = byte_of(TimeInForce::GTC);
  miner.stp = byte_of(Stp::CancelOldest);
  std::vector<Event> all;
  for (TimeNs t = 5'000'000'000; t <= 120'000'000'000; t += 5'000'000'000) {
    miner.ts_ns = sim.time() + 250'000'000;  // arrives 250 ms after the step start
    sim.step(t, &miner, 1);
    auto ev = sim.take_events();
    all.insert(all.end(), ev.begin(), ev.end());
  }
  return all;
}

bool same_bytes(const std::vector<Event>& a, const std::vector<Event>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)) == 0;
}

}  // namespace

TEST(Determinism, OneThreadAndSeveralThreadsGiveTheSameBytes) {
  const auto one = run(1);
  ASSERT_GT(one.size(), 10'000u);
  EXPECT_TRUE(same_bytes(one, run(2)));
  EXPECT_TRUE(same_bytes(one, run(3)));
}

TEST(Determinism, SameSeedSameRunOtherSeedOtherRun) {
  EXPECT_TRUE(same_bytes(run(2), run(2)));
  EXPECT_FALSE(same_bytes(run(1, 7), run(1, 8)));
}

TEST(Determinism, EveryModelGivesTheSameBytesOnAnyThreadCount) {
  const auto one = run(1, 7, true);
  ASSERT_GT(one.size(), 5'000u);
  EXPECT_TRUE(same_bytes(one, run(2, 7, true)));
  EXPECT_TRUE(same_bytes(one, run(3, 7, true)));
}

}  // namespace taosim::test

namespace taosim::test {

// One market split over two simulations (as Ray actors run it): books 2 and 3 of a four-book
// market, simulated alone with first_book = 2, give the same events as in the whole market.
TEST(Determinism, ASubsetOfBooksWithItsGlobalIdsBehavesAsInTheWholeMarket) {
  auto run = [](SimulationConfig c) {
    Simulation sim(c);
    std::vector<Event> all;
    for (TimeNs t = 5'000'000'000; t <= 60'000'000'000; t += 5'000'000'000) {
      sim.step(t, nullptr, 0);
      auto ev = sim.take_events();
      all.insert(all.end(), ev.begin(), ev.end());
    }
    return all;
  };
  const auto whole = run(full_market(4, 1));
  auto part_config = full_market(2, 1);
  part_config.first_book = 2;
  const auto part = run(part_config);
  std::vector<Event> expected;
  for (Event e : whole)
    if (e.book >= 2) {
      e.book -= 2;
      expected.push_back(e);
    }
  ASSERT_GT(expected.size(), 1'000u);
  EXPECT_TRUE(same_bytes(part, expected));
  auto overflow = full_market(2, 1);
  overflow.first_book = 0xFFFF'FFFF;
  EXPECT_THROW(Simulation{overflow}, std::invalid_argument);
}

}  // namespace taosim::test
