// External-signal traders and the processes behind them (signal, replayed series).
#include <gtest/gtest.h>

#include <cmath>

#include "support/fake_context.hpp"
#include "support/simulation_fixture.hpp"
#include "taosim/agents/signal_trader.hpp"

namespace taosim::test {

namespace {
SignalTrader::Params params() {
  return SignalTrader::Params::from({{"threshold", 0.001}, {"decay_s", 60}, {"lots_per_return", 1e6}, {"max_lots", 5'000}});
}
const PlaceMarket* market_order(const FakeContext& ctx) {
  return ctx.submitted.empty() ? nullptr : std::get_if<PlaceMarket>(&ctx.submitted.back());
}
}  // namespace

TEST(SignalTrader, FollowsTheSignalWithSizeGrowingWithTheMove) {
  FakeContext ctx;
  ctx.account_.base.free = 100'000;
  ctx.account_.quote.free = 10'000'000'000;
  ctx.rest(Side::Buy, 29'990, 100'000);
  ctx.rest(Side::Sell, 30'010, 100'000);
  SignalTrader t(params());
  t.on_start(ctx);  // signal 100

  ctx.signal_ = 100.05;  // +0.05 %: below the threshold
  ctx.now_ += 1'000'000'000;
  t.on_wakeup(ctx);
  EXPECT_EQ(market_order(ctx), nullptr);

  ctx.signal_ = 100.35;  // momentum ≈ ln(1.0035) ≈ 0.0035 (minus a little decay of the first 0.0005)
  ctx.now_ += 1'000'000'000;
  t.on_wakeup(ctx);
  const PlaceMarket* buy = market_order(ctx);
  ASSERT_NE(buy, nullptr);
  EXPECT_EQ(buy->side, Side::Buy);
  EXPECT_NEAR(static_cast<double>(buy->qty_lots), 1e6 * t.momentum(), 1.0);
  const Lots first = buy->qty_lots;

  ctx.signal_ = 99.0;  // a fall of 1.3 %: sells, capped at max_lots
  ctx.now_ += 1'000'000'000;
  t.on_wakeup(ctx);
  const PlaceMarket* sell = market_order(ctx);
  ASSERT_NE(sell, nullptr);
  EXPECT_EQ(sell->side, Side::Sell);
  EXPECT_EQ(sell->qty_lots, 5'000);
  EXPECT_GT(sell->qty_lots, first);
}

TEST(SignalTrader, MomentumFadesAfterTheMove) {
  FakeContext ctx;
  SignalTrader t(params());
  t.on_start(ctx);
  ctx.signal_ = 101.0;
  ctx.now_ += 1'000'000'000;
  t.on_wakeup(ctx);
  const double m = t.momentum();
  ctx.now_ += 60'000'000'000;  // one decay time, signal unchanged
  t.on_wakeup(ctx);
  EXPECT_NEAR(t.momentum(), m * std::exp(-1.0), 1e-12);
}

TEST(SignalTrader, SellsOnlyWhatItHasAndNeedsAnOppositeSide) {
  FakeContext ctx;
  ctx.account_.base.free = 300;
  SignalTrader t(params());
  t.on_start(ctx);
  ctx.signal_ = 90.0;
  ctx.now_ += 1'000'000'000;
  t.on_wakeup(ctx);
  EXPECT_EQ(market_order(ctx), nullptr);  // no bids
  ctx.rest(Side::Buy, 29'990, 100'000);
  ctx.now_ += 1'000'000'000;
  t.on_wakeup(ctx);
  const PlaceMarket* sell = market_order(ctx);
  ASSERT_NE(sell, nullptr);
  EXPECT_EQ(sell->qty_lots, 300);
}

TEST(SignalTrader, StateSurvivesSaveAndLoad) {
  FakeContext ctx;
  SignalTrader a(params());
  a.on_start(ctx);
  ctx.signal_ = 102.0;
  ctx.now_ += 1'000'000'000;
  a.on_wakeup(ctx);
  StateWriter w;
  a.save(w);
  SignalTrader b(params());
  StateReader r(w.buffer());
  b.load(r);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(b.momentum(), a.momentum());
}

TEST(PriceProcess, ReplayHoldsTheLastPointReached) {
  FundamentalConfig c;
  c.replay_ts_ns = {0, 10'000'000'000, 25'000'000'000};
  c.replay_price_ticks = {30'000, 30'500, 29'000};
  FundamentalProcess f(c);
  Rng rng(1);
  EXPECT_NEAR(f.price_ticks(), 30'000, 1e-9);
  f.update(rng, 9'999'999'999);
  EXPECT_NEAR(f.price_ticks(), 30'000, 1e-9);
  f.update(rng, 20'000'000'000);
  EXPECT_NEAR(f.price_ticks(), 30'500, 1e-9);
  f.update(rng, 90'000'000'000);
  EXPECT_NEAR(f.price_ticks(), 29'000, 1e-9);
  EXPECT_EQ(rng.next(), Rng(1).next());  // a replay draws nothing
}

TEST(PriceProcess, BadReplaySeriesAreRefusedNamingTheProcess) {
  auto c = small_market(1, 1);
  c.signal.replay_ts_ns = {0, 5};
  c.signal.replay_price_ticks = {100};
  EXPECT_THROW(
      {
        try {
          Simulation s(c);
        } catch (const std::invalid_argument& e) {
          EXPECT_NE(std::string(e.what()).find("signal.replay"), std::string::npos) << e.what();
          throw;
        }
      },
      std::invalid_argument);
  c.signal.replay_price_ticks = {100, -1};
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
  c.signal.replay_price_ticks = {100, 101};
  c.signal.replay_ts_ns = {5, 5};
  EXPECT_THROW(Simulation{c}, std::invalid_argument);
}

TEST(PriceProcess, SignalAndFundamentalAreIndependentStreams) {
  auto c = small_market(2, 1);
  Simulation sim(c);
  sim.step(3'600'000'000'000LL, nullptr, 0);
  // Same parameters, different streams: the two paths differ.
  EXPECT_NE(sim.fundamental_ticks(0), sim.signal_price(0));
  EXPECT_NE(sim.fundamental_ticks(0), sim.fundamental_ticks(1));
}

}  // namespace taosim::test
