// Checkpoints: a restored run continues exactly as the uninterrupted one; bad
// checkpoints are refused.
#include <gtest/gtest.h>

#include <cstring>

#include "support/simulation_fixture.hpp"

namespace taosim::test {

namespace {

constexpr TimeNs kStep = 5'000'000'000;
constexpr int kSteps = 40;

InstructionRecord miner_order(int step) {
  InstructionRecord r{};
  r.kind = byte_of(InstructionKind::PlaceLimit);
  r.book = static_cast<BookId>(step % 3);
  r.agent = 1;
  r.side = byte_of(step % 2 ? Side::Buy : Side::Sell);
  r.price_ticks = step % 2 ? 29'950 : 30'050;
  r.qty_lots = 5;
  r.tif = byte_of(TimeInForce::GTT);
  r.expiry_ns = (step + 3) * kStep;  // expiries cross the cut points
  r.stp = byte_of(Stp::CancelOldest);
  r.ts_ns = step * kStep + 300'000'000;  // 300 ms after the step start
  return r;
}

// Events of steps [from, to) of a run, stepping `sim`.
std::vector<Event> run_steps(Simulation& sim, int from, int to) {
  std::vector<Event> out;
  for (int s = from; s < to; ++s) {
    const InstructionRecord r = miner_order(s);
    sim.step((s + 1) * kStep, &r, 1);
    auto ev = sim.take_events();
    out.insert(out.end(), ev.begin(), ev.end());
  }
  return out;
}

bool same(const std::vector<Event>& a, const std::vector<Event>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(Event)) == 0;
}

}  // namespace

class CheckpointCuts : public ::testing::TestWithParam<bool> {};

TEST_P(CheckpointCuts, RestoredRunContinuesExactlyAtSeveralCutPoints) {
  auto config = [](std::uint32_t threads) { return GetParam() ? full_market(3, threads) : small_market(3, threads); };
  Simulation whole(config(2));
  const auto reference = run_steps(whole, 0, kSteps);
  ASSERT_GT(reference.size(), 5'000u);
  for (int cut : {0, 1, 7, 23}) {
    Simulation first(config(2));
    auto before = run_steps(first, 0, cut);
    const std::string state = first.save_state();
    auto restored = Simulation::restore(config(1), state);  // another thread count is fine
    EXPECT_EQ(restored->time(), cut * kStep);
    auto after = run_steps(*restored, cut, kSteps);
    before.insert(before.end(), after.begin(), after.end());
    EXPECT_TRUE(same(before, reference)) << "cut after step " << cut;
  }
}

INSTANTIATE_TEST_SUITE_P(Markets, CheckpointCuts, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "EveryModel" : "RandomTraders"; });

TEST(Checkpoint, UntakenEventsTravelWithTheState) {
  Simulation a(small_market(2, 1));
  a.step(10 * kStep, nullptr, 0);
  auto b = Simulation::restore(small_market(2, 1), a.save_state());
  EXPECT_TRUE(same(a.take_events(), b->take_events()));
}

TEST(Checkpoint, ForeignCorruptAndTruncatedStatesAreRefused) {
  Simulation sim(small_market(2, 1));
  sim.step(3 * kStep, nullptr, 0);
  const std::string state = sim.save_state();

  EXPECT_THROW(Simulation::restore(small_market(2, 1, /*seed=*/8), state), CheckpointError);
  EXPECT_THROW(Simulation::restore(small_market(3, 1), state), CheckpointError);
  EXPECT_THROW(Simulation::restore(small_market(2, 1), state.substr(0, state.size() / 2)), CheckpointError);
  EXPECT_THROW(Simulation::restore(small_market(2, 1), std::string("hello")), CheckpointError);
  std::string flipped = state;
  flipped[flipped.size() / 2] ^= 0x40;
  try {
    Simulation::restore(small_market(2, 1), flipped);
    FAIL() << "a corrupt checkpoint was accepted";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos);
  }
  std::string foreign = state;
  foreign[0] = 'X';
  try {
    Simulation::restore(small_market(2, 1), foreign);
    FAIL() << "a foreign file was accepted";
  } catch (const CheckpointError& e) {
    EXPECT_NE(std::string(e.what()).find("not a"), std::string::npos);
  }
}

TEST(Checkpoint, FingerprintIgnoresThreadsOnly) {
  EXPECT_EQ(config_fingerprint(small_market(2, 1)), config_fingerprint(small_market(2, 4)));
  EXPECT_NE(config_fingerprint(small_market(2, 1)), config_fingerprint(small_market(2, 1, 9)));
  auto c = small_market(2, 1);
  c.populations[1].params.push_back({"cancel_prob", 0.2});
  EXPECT_NE(config_fingerprint(small_market(2, 1)), config_fingerprint(c));
}

}  // namespace taosim::test

namespace taosim::test {

// Saved bytes are determined by the state alone (no padding bytes): a restored run that continues
// saves exactly what the uninterrupted run saves.
TEST(Checkpoint, ContinuedRunSavesTheSameBytes) {
  Simulation whole(full_market(2, 2));
  run_steps(whole, 0, 30);
  Simulation first(full_market(2, 1));
  run_steps(first, 0, 12);
  auto restored = Simulation::restore(full_market(2, 2), first.save_state());
  run_steps(*restored, 12, 30);
  EXPECT_EQ(restored->save_state(), whole.save_state());
}

}  // namespace taosim::test
