// Avellaneda–Stoikov market makers: the quote formula and the quoting rules.
#include <gtest/gtest.h>

#include <cmath>

#include "support/fake_context.hpp"
#include "taosim/sim/simulation.hpp"
#include "taosim/agents/market_maker.hpp"

namespace taosim::test {

namespace {
MarketMaker::Params quiet() {
  MarketMaker::Params p;
  p.quote_noise_ticks = 0.0;
  return p;
}
}  // namespace

TEST(MarketMakerQuotes, MatchTheFormula) {
  const MarketMaker::Params p;  // γ = 0.2, σ² = 1e-5, κ = 20
  const auto [bid, ask] = MarketMaker::quotes(p, 300.0, 0.0, 1.0);
  const double spread = 0.2 * 1e-5 + (2.0 / 0.2) * std::log(1.0 + 0.2 / 20.0);
  EXPECT_NEAR(ask - bid, spread, 1e-12);
  EXPECT_NEAR(0.5 * (bid + ask), 300.0, 1e-12);  // no inventory: centred on the mid
  // Long inventory lowers the reservation price; short raises it.
  const auto [lb, la] = MarketMaker::quotes(p, 300.0, 50.0, 1.0);
  const auto [sb, sa] = MarketMaker::quotes(p, 300.0, -50.0, 1.0);
  EXPECT_NEAR(0.5 * (lb + la), 300.0 - 50.0 * 0.2 * 1e-5, 1e-12);
  EXPECT_GT(0.5 * (sb + sa), 300.0);
  // The inventory term fades as the session ends.
  const auto [eb, ea] = MarketMaker::quotes(p, 300.0, 50.0, 0.0);
  EXPECT_NEAR(0.5 * (eb + ea), 300.0, 1e-12);
}

TEST(MarketMaker, QuotesBothSidesAroundTheMidAndRequotes) {
  FakeContext ctx;
  ctx.rest(Side::Buy, 29'980, 100);
  ctx.rest(Side::Sell, 30'020, 100);  // a wide market: the model's own spread applies
  MarketMaker mm(quiet());
  mm.on_start(ctx);
  ASSERT_EQ(ctx.wakeups.size(), 1u);
  mm.on_wakeup(ctx);
  const auto q = ctx.limits();
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].side, Side::Buy);
  EXPECT_EQ(q[1].side, Side::Sell);
  EXPECT_LT(q[0].price_ticks, 30'000);
  EXPECT_GT(q[1].price_ticks, 30'000);
  EXPECT_LE(q[1].price_ticks - q[0].price_ticks, 12);  // ≈ 0.0995 currency = 10 ticks, rounded outwards
  EXPECT_TRUE(q[0].post_only && q[1].post_only);
  EXPECT_EQ(q[0].tif, TimeInForce::GTT);
  EXPECT_EQ(q[0].expiry_ns, ctx.now_ + 5'000'000'000);
  EXPECT_EQ(ctx.wakeups.size(), 2u);
}

TEST(MarketMaker, JoinsATighterMarket) {
  FakeContext ctx;
  ctx.rest(Side::Buy, 29'999, 100);
  ctx.rest(Side::Sell, 30'001, 100);
  MarketMaker mm(quiet());
  mm.on_start(ctx);
  mm.on_wakeup(ctx);
  const auto q = ctx.limits();
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].price_ticks, 29'999);
  EXPECT_EQ(q[1].price_ticks, 30'001);
}

TEST(MarketMaker, BeyondTheInventoryLimitOnlyReduces) {
  FakeContext ctx;
  ctx.rest(Side::Buy, 29'980, 100);
  ctx.rest(Side::Sell, 30'020, 100);
  auto p = quiet();
  p.inventory_limit = 10.0;  // base units = 100,000 lots
  ctx.account_.start_base_lots = 1'000'000;
  ctx.account_.base.free = 1'000'000 + 200'000;  // long 20 base units
  MarketMaker mm(p);
  mm.on_start(ctx);
  mm.on_wakeup(ctx);
  auto q = ctx.limits();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].side, Side::Sell);
  // ... and it polls faster: period / (1 + |q| / ψ) = 1 s / 3, with jitter in [0.5, 1.5).
  EXPECT_LT(ctx.wakeups.back(), 500'000'000);

  ctx.submitted.clear();
  ctx.account_.base.free = 1'000'000 - 200'000;  // short 20
  mm.on_wakeup(ctx);
  q = ctx.limits();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].side, Side::Buy);
}

TEST(MarketMaker, CancelsItsOutstandingQuotesBeforeRequoting) {
  FakeContext ctx;
  ctx.rest(Side::Buy, 29'980, 100);
  ctx.rest(Side::Sell, 30'020, 100);
  MarketMaker mm(quiet());
  mm.on_start(ctx);
  Event placed{};
  placed.kind = byte_of(EventKind::OrderPlaced);
  placed.order_id = 555;
  placed.agent = 7;
  placed.price_ticks = 29'990;
  mm.on_event(ctx, placed);
  mm.on_wakeup(ctx);
  ASSERT_FALSE(ctx.submitted.empty());
  const auto* c = std::get_if<Cancel>(&ctx.submitted.front());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->order_id, 555u);
}

TEST(MarketMaker, ParametersAreValidated) {
  EXPECT_THROW(MarketMaker::Params::from({{"gamma", 0.0}}), std::invalid_argument);
  EXPECT_THROW(MarketMaker::Params::from({{"speed", 1.0}}), std::invalid_argument);
  EXPECT_NO_THROW(MarketMaker::Params::from({{"gamma", 0.1}, {"kappa", 5.0}}));
}

}  // namespace taosim::test

namespace taosim::test {

TEST(MarketMakerInASimulation, KeepsATightTwoSidedMarketWithBoundedInventory) {
  SimulationConfig c;
  c.books = 1;
  c.seed = 5;
  c.threads = 1;
  c.populations = {
      PopulationConfig{"initialization", 100, 500'000, 150'000'000'000, {}, 1'000'000, 5'000'000},
      PopulationConfig{"random_trader", 100, 500'000, 150'000'000'000, {{"min_lots", 10}, {"max_lots", 500}},
                       1'000'000, 20'000'000},
      PopulationConfig{"market_maker", 5, 5'000'000, 1'500'000'000'000, {}, 100'000, 1'000'000},
  };
  Simulation sim(c);
  const AgentId first_mm = 200;
  std::size_t trades = 0, with_mm = 0;
  for (int k = 1; k <= 360; ++k) {  // half an hour
    sim.step(k * 5'000'000'000LL, nullptr, 0);
    for (const Event& e : sim.take_events()) {
      if (e.kind != byte_of(EventKind::Trade)) continue;
      ++trades;
      with_mm += e.agent >= first_mm || e.other_agent >= first_mm;
    }
    const OrderBook& b = sim.exchange().book(0);
    ASSERT_FALSE(b.empty(Side::Buy));
    ASSERT_FALSE(b.empty(Side::Sell));
    ASSERT_LE(b.best(Side::Sell) - b.best(Side::Buy), 20) << "at step " << k;
  }
  EXPECT_GT(trades, 1'000u);
  EXPECT_GT(with_mm, trades / 5);
  for (AgentId m = first_mm; m < first_mm + 5; ++m) {
    const Account* a = sim.exchange().account(0, m);
    // ψ = 100 base units = 1,000,000 lots; a quote may overshoot by one fill.
    EXPECT_LT(std::abs(a->base.total() - a->start_base_lots), 1'500'000) << "agent " << m;
  }
}

}  // namespace taosim::test
