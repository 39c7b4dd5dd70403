// Stylized (Chiarella-style) traders: forecast, demand, one order at a time within
// balances, state in checkpoints, and a stable market when they trade.
#include <gtest/gtest.h>

#include <cmath>

#include "support/fake_context.hpp"
#include "support/simulation_fixture.hpp"
#include "taosim/agents/stylized_trader.hpp"

namespace taosim::test {

namespace {
StylizedTrader::Params params() { return StylizedTrader::Params::from({}); }

void book_around(FakeContext& ctx, Ticks bid, Ticks ask) {
  ctx.rest(Side::Buy, bid, 1'000);
  ctx.rest(Side::Sell, ask, 1'000);
}
}  // namespace

TEST(StylizedTrader, ForecastIsTheWeightedMixOfItsThreeViews) {
  // wF = 1, wC = 2, wN = 1, τF = 0.5: the fundamentalist weight is wF/τF = 2, so
  // (2·0.01 + 2·0.001 + 1·(−0.004)) / (2 + 2 + 1) = 0.0036
  EXPECT_DOUBLE_EQ(StylizedTrader::forecast(1, 2, 1, 0.5, 0.01, 0.001, -0.004), (0.02 + 0.002 - 0.004) / 5);
  EXPECT_EQ(StylizedTrader::forecast(0, 0, 0, 1, 0.5, 0.5, 0.5), 0.0);
}

TEST(StylizedTrader, AFundamentalistNeverForecastsBeyondTheFundamental) {
  // A pure fundamentalist expects the gap to close, whatever τF: it does not overshoot.
  for (double tau_f : {0.001, 0.01, 1.0, 10.0})
    EXPECT_DOUBLE_EQ(StylizedTrader::forecast(0.02, 0, 0, tau_f, 0.003, 0.0, 0.0), 0.003) << tau_f;
  // Mixed with other views the forecast lies between them.
  const double f = StylizedTrader::forecast(0.02, 1.5, 0.5, 0.002, 0.003, -0.001, 0.0);
  EXPECT_GT(f, -0.001);
  EXPECT_LT(f, 0.003);
}

TEST(StylizedTrader, DemandIsCaraAndZeroAtTheExpectedPrice) {
  EXPECT_DOUBLE_EQ(StylizedTrader::demand(300, 300, 1e-4), 0.0);
  // x(P) = ln(p̂/P)/(k·P): ln(303/300)/(1e-4·300)
  EXPECT_NEAR(StylizedTrader::demand(303, 300, 1e-4), std::log(1.01) / 0.03, 1e-12);
  EXPECT_LT(StylizedTrader::demand(297, 300, 1e-4), 0.0);
}

TEST(StylizedTrader, ConvictionGrowsWithTheGapToTheFundamentalOnBothSides) {
  EXPECT_DOUBLE_EQ(StylizedTrader::conviction(0.0, 2e-5), 1.0);
  EXPECT_DOUBLE_EQ(StylizedTrader::conviction(4e-5, 2e-5), 3.0);
  EXPECT_DOUBLE_EQ(StylizedTrader::conviction(-4e-5, 2e-5), 3.0);
  EXPECT_DOUBLE_EQ(StylizedTrader::conviction(0.01, 0.0), 1.0);  // off
  // the demand at a gap g is linear in g times the conviction: quadratic for g >> conviction_gap
  const double k = 1e-4, g0 = 2e-5;
  auto position = [&](double g) {
    return StylizedTrader::demand(300 * std::exp(g), 300, k / StylizedTrader::conviction(g, g0));
  };
  EXPECT_NEAR(position(2e-3) / position(1e-3), 2.0 * (1 + 2e-3 / g0) / (1 + 1e-3 / g0), 1e-9);
  EXPECT_NEAR(position(-1e-3), -position(1e-3), 1e-9);
  EXPECT_EQ(StylizedTrader::Params().conviction_gap, 2e-5);
  EXPECT_EQ(StylizedTrader::Params::from({{"conviction_gap", 0}}).conviction_gap, 0.0);
}

TEST(StylizedTrader, WeightsAreFoldedLaplaceAndMemoryScalesWithThem) {
  double sum_f = 0, sum_c = 0;
  constexpr int n = 2'000;
  for (int i = 0; i < n; ++i) {
    FakeContext ctx;
    ctx.rng_ = Rng(static_cast<std::uint64_t>(i));
    StylizedTrader t(params());
    t.on_start(ctx);
    ASSERT_GE(t.weight_f(), 0.0);
    ASSERT_GE(t.weight_c(), 0.0);
    ASSERT_GE(t.weight_n(), 0.0);
    sum_f += t.weight_f();
    sum_c += t.weight_c();
  }
  // For X ~ Laplace(μ, b) with μ > 0, E|X| = μ + b·e^{−μ/b}; with μ = b = σ that is σ·(1 + 1/e).
  // The standard error over 2 000 draws is about 0.03σ.
  EXPECT_NEAR(sum_f / n, 0.01 * (1 + std::exp(-1.0)), 0.001);
  EXPECT_NEAR(sum_c / n, 1.8 * (1 + std::exp(-1.0)), 0.18);
}

TEST(StylizedTrader, PlacesOneGttOrderWithinItsBalancesAndCancelsTheLastOne) {
  FakeContext ctx;
  ctx.account_.base.free = 500'000;
  ctx.account_.quote.free = 1'500'000'000;
  ctx.account_.start_base_lots = 500'000;
  book_around(ctx, 29'990, 30'010);
  StylizedTrader t(params());
  t.on_start(ctx);
  t.on_wakeup(ctx);
  auto limits = ctx.limits();
  ASSERT_EQ(limits.size(), 1u);
  const PlaceLimit& o = limits[0];
  EXPECT_EQ(o.tif, TimeInForce::GTT);
  EXPECT_GT(o.expiry_ns, ctx.now_);
  EXPECT_GE(o.qty_lots, 1);
  EXPECT_LE(o.qty_lots, params().max_order_lots);
  // Within max_deviation of the mid.
  EXPECT_NEAR(static_cast<double>(o.price_ticks), 30'000.0, 30'000.0 * params().max_deviation + 1);

  // Its order is placed: on the next wake-up it is withdrawn before the new one.
  Event placed{};
  placed.kind = byte_of(EventKind::OrderPlaced);
  placed.agent = ctx.agent_id();
  placed.order_id = 1234;
  placed.price_ticks = o.price_ticks;
  t.on_event(ctx, placed);
  ctx.submitted.clear();
  ctx.now_ += 10'000'000'000;
  t.on_wakeup(ctx);
  ASSERT_FALSE(ctx.submitted.empty());
  const auto* cancel = std::get_if<Cancel>(&ctx.submitted.front());
  ASSERT_NE(cancel, nullptr);
  EXPECT_EQ(cancel->order_id, 1234u);
}

TEST(StylizedTrader, WithoutBalancesItPlacesNothing) {
  FakeContext ctx;  // empty account
  book_around(ctx, 29'990, 30'010);
  StylizedTrader t(params());
  t.on_start(ctx);
  for (int i = 0; i < 20; ++i) {
    ctx.now_ += 1'000'000'000;
    t.on_wakeup(ctx);
  }
  EXPECT_TRUE(ctx.limits().empty());
  EXPECT_EQ(ctx.wakeups.size(), 21u);  // it keeps watching
}

TEST(StylizedTrader, RemembersReturnsOfTwoSidedBooksOnly) {
  FakeContext ctx;
  StylizedTrader t(params());
  t.on_start(ctx);
  t.on_wakeup(ctx);  // empty book: no mid
  t.on_wakeup(ctx);
  EXPECT_EQ(t.remembered(), 0u);
  book_around(ctx, 29'990, 30'010);
  t.on_wakeup(ctx);  // first mid
  t.on_wakeup(ctx);  // first return
  EXPECT_EQ(t.remembered(), 1u);
}

TEST(StylizedTrader, StateSurvivesSaveAndLoadAndCorruptStateIsRefused) {
  FakeContext ctx;
  book_around(ctx, 29'990, 30'010);
  StylizedTrader a(params());
  a.on_start(ctx);
  for (int i = 0; i < 5; ++i) a.on_wakeup(ctx);
  StateWriter w;
  a.save(w);
  StylizedTrader b(params());
  StateReader r(w.buffer());
  b.load(r);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(b.weight_c(), a.weight_c());
  EXPECT_EQ(b.remembered(), a.remembered());

  std::string bad = w.buffer();
  bad.resize(bad.size() - 8);  // drops the ring position
  StylizedTrader c(params());
  StateReader rc(bad);
  EXPECT_THROW(c.load(rc), CheckpointError);
}

// A loaded state is checked against the clock and the signal it will be compared with.
TEST(StylizedTrader, LoadedStateIsCheckedAgainstClockAndSignal) {
  FakeContext ctx;
  book_around(ctx, 29'990, 30'010);
  StylizedTrader a(params());
  a.on_start(ctx);
  for (int i = 0; i < 5; ++i) a.on_wakeup(ctx);
  EXPECT_EQ(a.check_loaded(LoadedContext{ctx.now_, 7, ctx.book(), true, ctx.signal_}), "");
  EXPECT_NE(a.check_loaded(LoadedContext{ctx.now_ - 1, 7, ctx.book(), true, ctx.signal_}).find("after the clock"),
            std::string::npos);
  // Before its start an agent has seen no signal: started, it could not compare the next one.
  StylizedTrader fresh(params());
  EXPECT_EQ(fresh.check_loaded(LoadedContext{ctx.now_, 7, ctx.book(), false, ctx.signal_}), "");
  EXPECT_NE(fresh.check_loaded(LoadedContext{ctx.now_, 7, ctx.book(), true, ctx.signal_}).find("last signal seen"),
            std::string::npos);
}

TEST(StylizedTrader, UnknownOrOutOfRangeParametersAreRefused) {
  EXPECT_THROW(StylizedTrader::Params::from({{"sigma_x", 1}}), std::invalid_argument);
  EXPECT_THROW(StylizedTrader::Params::from({{"tau_f", 0}}), std::invalid_argument);
  EXPECT_THROW(StylizedTrader::Params::from({{"conviction_gap", -1e-5}}), std::invalid_argument);
  EXPECT_THROW(StylizedTrader::Params::from({{"conviction_gap", 2.0}}), std::invalid_argument);
  EXPECT_THROW(StylizedTrader::Params::from({{"sigma_f", 0}, {"sigma_c", 0}, {"sigma_n", 0}}), std::invalid_argument);
  EXPECT_THROW(StylizedTrader::Params::from({{"sigma2_floor", 1e-6}, {"sigma2_cap", 1e-7}}), std::invalid_argument);
}

TEST(StylizedTrader, MarketOfEveryModelStaysTwoSidedNearTheFundamental) {
  Simulation sim(full_market(2, 2));
  for (int minute = 1; minute <= 60; ++minute) {
    sim.step(minute * 60'000'000'000LL, nullptr, 0);
    sim.take_events();
    if (minute < 10) continue;  // grace period
    for (BookId b = 0; b < 2; ++b) {
      const OrderBook& book = sim.exchange().book(b);
      const Ticks bid = book.best(Side::Buy), ask = book.best(Side::Sell);
      ASSERT_GT(bid, 0) << "book " << b << " minute " << minute;
      ASSERT_GT(ask, bid) << "book " << b << " minute " << minute << " bid " << bid << " fundamental " << sim.fundamental_ticks(b);
      EXPECT_NEAR(0.5 * static_cast<double>(bid + ask) / sim.fundamental_ticks(b), 1.0, 0.05);
    }
  }
}

}  // namespace taosim::test
