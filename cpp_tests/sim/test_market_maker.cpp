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
  const MarketMaker::Params p;  // γ = 0.2, σ² = 1e-5, κ = 100
  const auto [bid, ask] = MarketMaker::quotes(p, 300.0, 0.0, 1.0);
  const double spread = 0.2 * 1e-5 + (2.0 / 0.2) * std::log(1.0 + 0.2 / p.kappa);
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

TEST(MarketMaker, QuotesALadderOnBothSidesAroundTheMid) {
  FakeContext ctx;
  ctx.rest(Side::Buy, 29'980, 100);
  ctx.rest(Side::Sell, 30'020, 100);  // a wide market: the model's own spread applies
  const auto p = quiet();
  MarketMaker mm(p);
  mm.on_start(ctx);
  ASSERT_EQ(ctx.wakeups.size(), 1u);
  mm.on_wakeup(ctx);
  const auto q = ctx.limits();
  ASSERT_EQ(q.size(), 2u * p.levels);
  std::vector<PlaceLimit> bids, asks;
  for (const auto& o : q) (o.side == Side::Buy ? bids : asks).push_back(o);
  ASSERT_EQ(bids.size(), p.levels);
  ASSERT_EQ(asks.size(), p.levels);
  // δ = (2/γ)·ln(1 + γ/κ) ≈ 0.02 currency = 2 ticks around the mid, rounded outwards.
  EXPECT_EQ(bids[0].price_ticks, 29'999);
  EXPECT_EQ(asks[0].price_ticks, 30'001);
  for (std::uint32_t i = 1; i < p.levels; ++i) {
    EXPECT_EQ(bids[i].price_ticks, bids[0].price_ticks - 2 * static_cast<Ticks>(i));
    EXPECT_EQ(asks[i].price_ticks, asks[0].price_ticks + 2 * static_cast<Ticks>(i));
  }
  for (const auto& o : q) {
    EXPECT_TRUE(o.post_only);
    EXPECT_EQ(o.tif, TimeInForce::GTT);
    EXPECT_EQ(o.expiry_ns, ctx.now_ + 30'000'000'000);
  }
  EXPECT_EQ(ctx.wakeups.size(), 2u);
}

TEST(MarketMaker, AFairValueOnTheFundamentalAndAnInventorySkew) {
  FakeContext ctx;
  ctx.rest(Side::Buy, 29'980, 100);
  ctx.rest(Side::Sell, 30'020, 100);
  ctx.fundamental_ = 30'010.0;
  auto p = quiet();
  p.fair_value_weight = 1.0;  // quotes around the fundamental, not the mid
  p.levels = 1;
  MarketMaker mm(p);
  mm.on_start(ctx);
  mm.on_wakeup(ctx);
  auto q = ctx.limits();
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].price_ticks, 30'009);
  EXPECT_EQ(q[1].price_ticks, 30'011);
  // Long 50 base units (half of ψ): the fair value is shaded down by skew_ticks/2 = 20 ticks (and
  // by the Avellaneda–Stoikov term q·γ·σ² = 0.01 tick, which moves the bid below 29'989).
  ctx.account_.start_base_lots = 1'000'000;
  ctx.account_.base.free = 1'000'000 + 500'000;
  ctx.submitted.clear();
  mm.on_wakeup(ctx);
  q = ctx.limits();
  ASSERT_EQ(q.size(), 2u);
  EXPECT_EQ(q[0].price_ticks, 29'988);
  EXPECT_EQ(q[1].price_ticks, 29'991);
}

TEST(MarketMaker, NeverCrossesTheOtherSide) {
  FakeContext ctx;
  ctx.rest(Side::Buy, 29'990, 100);
  ctx.rest(Side::Sell, 29'991, 100);
  ctx.fundamental_ = 30'050.0;
  auto p = quiet();
  p.fair_value_weight = 1.0;  // wants to bid far above the best ask
  MarketMaker mm(p);
  mm.on_start(ctx);
  mm.on_wakeup(ctx);
  for (const auto& o : ctx.limits()) {
    if (o.side == Side::Buy) {
      EXPECT_LE(o.price_ticks, 29'990);
    } else {
      EXPECT_GE(o.price_ticks, 29'991);
    }
  }
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
  ASSERT_EQ(q.size(), p.levels);
  for (const auto& o : q) EXPECT_EQ(o.side, Side::Sell);
  // ... and it polls faster: period / (1 + |q| / ψ) = 1 s / 3, with jitter in [0.5, 1.5).
  EXPECT_LT(ctx.wakeups.back(), 500'000'000);

  ctx.submitted.clear();
  ctx.account_.base.free = 1'000'000 - 200'000;  // short 20
  mm.on_wakeup(ctx);
  q = ctx.limits();
  ASSERT_EQ(q.size(), p.levels);
  for (const auto& o : q) EXPECT_EQ(o.side, Side::Buy);
}

TEST(MarketMaker, KeepsQuotesThatAreStillOnTheLadder) {
  FakeContext ctx;
  ctx.rest(Side::Buy, 29'980, 100);
  ctx.rest(Side::Sell, 30'020, 100);
  const auto p = quiet();
  MarketMaker mm(p);
  mm.on_start(ctx);
  // Its own quotes from an earlier wake-up: the touch bid, one tick inside the third ask rung,
  // and one far off the ladder.
  auto placed = [&](OrderId id, Ticks price) {
    Event e{};
    e.kind = byte_of(EventKind::OrderPlaced);
    e.order_id = id;
    e.agent = ctx.agent_id();
    e.price_ticks = price;
    mm.on_event(ctx, e);
  };
  const OrderId touch = ctx.rest_own(Side::Buy, 29'999, 20'000);
  const OrderId inside = ctx.rest_own(Side::Sell, 30'006, 20'000);  // rung 2 spans 30'005..30'006
  const OrderId far = ctx.rest_own(Side::Sell, 30'015, 20'000);     // beyond the 5 rungs
  placed(touch, 29'999);
  placed(inside, 30'006);
  placed(far, 30'015);
  placed(555, 29'990);  // tracked but no longer in the book (filled or expired)
  mm.on_wakeup(ctx);
  std::vector<OrderId> cancelled;
  for (const auto& c : ctx.cancels()) cancelled.push_back(c.order_id);
  EXPECT_EQ(cancelled, (std::vector<OrderId>{far, 555}));
  const auto q = ctx.limits();
  EXPECT_EQ(q.size(), 2u * p.levels - 2);  // the two kept rungs are not quoted again
  for (const auto& o : q) {
    EXPECT_NE(o.price_ticks, 29'999);
    EXPECT_FALSE(o.side == Side::Sell && (o.price_ticks == 30'005 || o.price_ticks == 30'006));
  }
}

TEST(MarketMaker, VolatilityWidensAndThinsItsQuotes) {
  auto p = quiet();
  p.vol_max = 4.0;
  p.levels = 2;
  MarketMaker mm(p);
  FakeContext calm;
  calm.rest(Side::Buy, 29'980, 100);
  calm.rest(Side::Sell, 30'020, 100);
  mm.on_start(calm);
  mm.on_wakeup(calm);
  EXPECT_DOUBLE_EQ(mm.volatility_ratio(), 1.0);
  const auto before = calm.limits();
  // One second later the mid is 1 % higher: far beyond vol_ref = 1.2 % a day.
  FakeContext moved;
  moved.now_ = calm.now_ + 1'000'000'000;
  moved.rest(Side::Buy, 30'280, 100);
  moved.rest(Side::Sell, 30'320, 100);
  mm.on_wakeup(moved);
  EXPECT_DOUBLE_EQ(mm.volatility_ratio(), 4.0);
  const auto after = moved.limits();
  ASSERT_EQ(after.size(), 4u);
  EXPECT_GT(after[1].price_ticks - after[0].price_ticks, before[1].price_ticks - before[0].price_ticks);
  EXPECT_EQ(after[2].price_ticks - after[0].price_ticks, -2 * 4);  // bid rungs 4 × spacing apart
}

TEST(MarketMaker, ParametersAreValidated) {
  EXPECT_THROW(MarketMaker::Params::from({{"gamma", 0.0}}), std::invalid_argument);
  EXPECT_THROW(MarketMaker::Params::from({{"speed", 1.0}}), std::invalid_argument);
  EXPECT_THROW(MarketMaker::Params::from({{"fair_value_weight", 1.5}}), std::invalid_argument);
  EXPECT_THROW(MarketMaker::Params::from({{"levels", 0.0}}), std::invalid_argument);
  EXPECT_THROW(MarketMaker::Params::from({{"vol_max", 0.5}}), std::invalid_argument);
  EXPECT_NO_THROW(MarketMaker::Params::from({{"gamma", 0.1}, {"kappa", 5.0}, {"levels", 3.0}, {"skew_ticks", 0.0}}));
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
