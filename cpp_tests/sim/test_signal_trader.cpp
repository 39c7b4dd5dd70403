// External-signal traders and the processes behind them (signal, replayed series).
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <utility>
#include <vector>

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

namespace {
// Log returns of a process over `updates` updates, and its log intensity after each.
std::pair<std::vector<double>, std::vector<double>> run_process(const FundamentalConfig& c, int updates,
                                                                std::uint64_t seed) {
  FundamentalProcess f(c);
  Rng rng(seed);
  std::vector<double> r, x;
  double last = std::log(f.price_ticks());
  for (int i = 1; i <= updates; ++i) {
    f.update(rng, static_cast<TimeNs>(i) * f.update_ns());
    const double now = std::log(f.price_ticks());
    r.push_back(now - last);
    x.push_back(std::log(f.intensity()));
    last = now;
  }
  return {r, x};
}
double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s / static_cast<double>(v.size());
}
}  // namespace

TEST(PriceProcess, WithoutNewsIntensityTheProcessIsTheSpecsJumpDiffusion) {
  FundamentalConfig c;  // intensity_sigma = 0
  auto [r, x] = run_process(c, 1000, 5);
  for (double v : x) EXPECT_EQ(v, 0.0);
  // the same draws as the plain jump diffusion: normal, then uniform (and a normal on a jump)
  Rng rng(5);
  const double dt = c.update_s / 86'400.0, s = c.sigma_per_sqrt_day;
  for (double ri : r) {
    double expect = (c.mu_per_day - 0.5 * s * s) * dt + s * std::sqrt(dt) * rng.normal();
    if (rng.uniform() < c.jump_rate) expect += c.jump_sigma * rng.normal();
    ASSERT_NEAR(ri, expect, 1e-15);
  }
}

TEST(PriceProcess, NewsIntensityHasMeanOneItsSpreadAndMemoryAndKeepsTheMeanVariance) {
  FundamentalConfig c;
  c.intensity_sigma = 1.5;
  c.intensity_time_s = 3600;
  c.intensity_jump_power = 2;
  c.jump_rate = 0;  // the diffusion alone, to compare variances
  const int n = 2'000'000;  // 231 days of 10-s updates: about 5,500 intensity time constants
  auto [r, x] = run_process(c, n, 11);
  std::vector<double> lambda(x.size());
  for (std::size_t i = 0; i < x.size(); ++i) lambda[i] = std::exp(x[i]);
  EXPECT_NEAR(mean_of(lambda), 1.0, 0.1);
  const double m = mean_of(x);
  EXPECT_NEAR(m, -0.5 * 1.5 * 1.5, 0.1);
  double var = 0, cov = 0;
  const std::size_t lag = 360;  // one time constant
  for (std::size_t i = 0; i < x.size(); ++i) var += (x[i] - m) * (x[i] - m);
  for (std::size_t i = 0; i + lag < x.size(); ++i) cov += (x[i] - m) * (x[i + lag] - m);
  EXPECT_NEAR(std::sqrt(var / static_cast<double>(x.size())), 1.5, 0.1);
  EXPECT_NEAR(cov / var, std::exp(-1.0), 0.05);
  // the variance of the log price per day is sigma² as without news
  double sq = 0;
  for (double v : r) sq += v * v;
  EXPECT_NEAR(sq / static_cast<double>(n) * 8640.0 / (c.sigma_per_sqrt_day * c.sigma_per_sqrt_day), 1.0, 0.1);
  // returns cluster: |r| is correlated with |r| an hour (360 updates) later, as news persists
  double ma = 0;
  for (double v : r) ma += std::abs(v);
  ma /= static_cast<double>(n);
  double va = 0, ca = 0;
  for (std::size_t i = 0; i < r.size(); ++i) va += (std::abs(r[i]) - ma) * (std::abs(r[i]) - ma);
  for (std::size_t i = 0; i + 36 < r.size(); ++i) ca += (std::abs(r[i]) - ma) * (std::abs(r[i + 36]) - ma);
  EXPECT_GT(ca / va, 0.05);
}

TEST(PriceProcess, JumpsFollowTheIntensityToItsPowerWithTheSameMeanRate) {
  for (double power : {1.0, 2.0}) {
    FundamentalConfig c;
    c.sigma_per_sqrt_day = 0;
    c.jump_rate = 0.01;
    c.jump_sigma = 0.01;
    c.intensity_sigma = 1.0;
    c.intensity_time_s = 600;
    c.intensity_jump_power = power;
    auto [r, x] = run_process(c, 1'000'000, 3);
    double jumps = 0, busy_jumps = 0, busy = 0;
    for (std::size_t i = 0; i < r.size(); ++i) {
      const bool jumped = r[i] != 0.0;
      jumps += jumped;
      if (x[i] > 0.0) {  // λ > 1
        busy += 1;
        busy_jumps += jumped;
      }
    }
    EXPECT_NEAR(jumps / 1e6, 0.01, 0.0015) << power;
    // In the busy updates (x > 0, x ~ N(−1/2, 1)) the rate is E[λ^p | x > 0]/E[λ^p] times the mean:
    // Φ(1/2)/Φ(−1/2) = 2.24 for p = 1, Φ(3/2)/Φ(−1/2) = 3.01 for p = 2.
    EXPECT_NEAR(busy_jumps / busy / 0.01, power > 1.5 ? 3.01 : 2.24, 0.3) << power;
  }
}

TEST(PriceProcess, NewsIntensitySurvivesSaveAndLoad) {
  FundamentalConfig c;
  c.intensity_sigma = 1.5;
  FundamentalProcess a(c), b(c);
  Rng ra(9);
  for (int i = 1; i <= 500; ++i) a.update(ra, static_cast<TimeNs>(i) * a.update_ns());
  StateWriter w;
  a.save(w);
  StateReader rd(w.buffer());
  b.load(rd);
  EXPECT_EQ(b.intensity(), a.intensity());
  EXPECT_NE(a.intensity(), 1.0);
  Rng rb = ra;
  a.update(ra, 501 * a.update_ns());
  b.update(rb, 501 * b.update_ns());
  EXPECT_EQ(a.price_ticks(), b.price_ticks());
}

TEST(PriceProcess, BadNewsIntensityParametersAreRefusedNamingTheProcess) {
  for (auto [field, value, name] : std::vector<std::tuple<int, double, std::string>>{
           {0, -0.1, "fundamental.intensity_sigma"},
           {0, 6.0, "fundamental.intensity_sigma"},
           {1, 5.0, "fundamental.intensity_time_s"},
           {2, -1.0, "fundamental.intensity_jump_power"},
           {2, 5.0, "fundamental.intensity_jump_power"}}) {
    auto c = small_market(1, 1);
    if (field == 0) c.fundamental.intensity_sigma = value;
    if (field == 1) {
      c.fundamental.intensity_sigma = 1.0;
      c.fundamental.intensity_time_s = value;  // below update_s = 10
    }
    if (field == 2) c.fundamental.intensity_jump_power = value;
    try {
      Simulation s(c);
      ADD_FAILURE() << name << " = " << value << " was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
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
