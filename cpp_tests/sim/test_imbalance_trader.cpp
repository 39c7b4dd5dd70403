// Imbalance traders: the decayed volume, the parent order as market children, the cool-down.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "support/fake_context.hpp"
#include "support/simulation_fixture.hpp"
#include "taosim/agents/imbalance_trader.hpp"

namespace taosim::test {

namespace {
ImbalanceTrader::Params small_params() {
  ImbalanceTrader::Params p;
  p.window_s = 10.0;
  p.threshold_lots = 100;
  p.parent_lots = 250;
  p.child_lots = 100;
  p.child_interval_s = 1.0;
  p.cooldown_s = 30.0;
  return p;
}
PublicTrade trade(TimeNs ts, Lots qty, Side aggressor) { return PublicTrade{ts, 30'000, qty, aggressor}; }
}  // namespace

TEST(ImbalanceTrader, VolumeDecaysWithTheWindow) {
  FakeContext ctx;
  ImbalanceTrader t(small_params());
  t.on_market_trade(ctx, trade(0, 40, Side::Buy));
  t.on_market_trade(ctx, trade(10'000'000'000, 10, Side::Sell));  // one window later
  EXPECT_NEAR(t.buy_volume(), 40.0 * std::exp(-1.0), 1e-9);
  EXPECT_NEAR(t.sell_volume(), 10.0, 1e-9);
  EXPECT_EQ(t.remaining(), 0);
  EXPECT_TRUE(ctx.wakeups.empty());
}

TEST(ImbalanceTrader, ExecutesAParentOrderInChildrenThenCoolsDown) {
  FakeContext ctx;
  ImbalanceTrader t(small_params());
  ctx.now_ = 5'000'000'000;
  t.on_market_trade(ctx, trade(5'000'000'000, 120, Side::Sell));  // sellers lead by 120 ≥ 100
  ASSERT_EQ(t.remaining(), 250);
  ASSERT_EQ(ctx.wakeups.size(), 1u);
  for (int i = 0; i < 3; ++i) t.on_wakeup(ctx);
  ASSERT_EQ(ctx.submitted.size(), 3u);
  Lots total = 0;
  for (const auto& ins : ctx.submitted) {
    const auto* m = std::get_if<PlaceMarket>(&ins);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->side, Side::Sell);  // in the dominant direction
    total += m->qty_lots;
  }
  EXPECT_EQ(total, 250);
  EXPECT_EQ(t.remaining(), 0);
  // Cooling down: a new imbalance within 30 s starts nothing.
  t.on_market_trade(ctx, trade(6'000'000'000, 500, Side::Buy));
  EXPECT_EQ(t.remaining(), 0);
  ctx.now_ = 40'000'000'000;
  t.on_market_trade(ctx, trade(40'000'000'000, 500, Side::Buy));
  EXPECT_EQ(t.remaining(), 250);
}

TEST(ImbalanceTrader, StateSurvivesSaveAndLoad) {
  FakeContext ctx;
  ImbalanceTrader a(small_params());
  a.on_market_trade(ctx, trade(0, 60, Side::Buy));
  StateWriter w;
  a.save(w);
  ImbalanceTrader b(small_params());
  StateReader r(w.buffer());
  b.load(r);
  EXPECT_EQ(b.buy_volume(), a.buy_volume());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(ImbalanceTrader, TradesInASimulationAndCheckpointsExactly) {
  auto config = small_market(2, 2);
  config.populations.push_back(PopulationConfig{"imbalance_trader", 5, 20'000, 600'000'000,
                                                {{"threshold_lots", 300}, {"parent_lots", 1'000},
                                                 {"child_lots", 200}, {"window_s", 30}},
                                                1'000'000, 5'000'000});
  const AgentId first = config.miner_slots + 70;  // after 20 initialization agents and 50 random traders
  auto run = [&](Simulation& sim, int from, int to) {
    std::vector<Event> out;
    for (int k = from; k < to; ++k) {
      sim.step((k + 1) * 5'000'000'000LL, nullptr, 0);
      auto ev = sim.take_events();
      out.insert(out.end(), ev.begin(), ev.end());
    }
    return out;
  };
  Simulation whole(config);
  const auto reference = run(whole, 0, 60);
  std::size_t placed = 0;
  for (const Event& e : reference) placed += e.agent >= first && e.kind == byte_of(EventKind::OrderPlaced);
  EXPECT_GT(placed, 10u);

  Simulation first_half(config);
  auto events = run(first_half, 0, 25);
  auto restored = Simulation::restore(config, first_half.save_state());
  auto rest = run(*restored, 25, 60);
  events.insert(events.end(), rest.begin(), rest.end());
  ASSERT_EQ(events.size(), reference.size());
  EXPECT_EQ(std::memcmp(events.data(), reference.data(), events.size() * sizeof(Event)), 0);
}

}  // namespace taosim::test
