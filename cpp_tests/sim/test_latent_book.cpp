// The latent order book: its profile, its own dynamics, what it shows, how fills carve it, and its
// state in checkpoints.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "support/fake_context.hpp"
#include "support/simulation_fixture.hpp"
#include "taosim/agents/latent_book.hpp"

namespace taosim::test {

namespace {
// Two components in round lots (lot_size 1): 100 and 50 lots per tick far from the price.
LatentBook::Params two() {
  return LatentBook::Params::from({{"density", 100},
                                   {"memory_s", 86'400},
                                   {"density2", 50},
                                   {"memory2_s", 3'600},
                                   {"width_ticks", 10},
                                   {"grid_ticks", 100},
                                   {"show_ticks", 5},
                                   {"lot_size", 1}});
}

Event trade(AgentId taker, AgentId maker, Side aggressor, Ticks price, Lots qty, OrderId taker_id, OrderId maker_id,
            Lots maker_left) {
  Event e{};
  e.kind = static_cast<std::uint8_t>(EventKind::Trade);
  e.agent = taker;
  e.other_agent = maker;
  e.side = static_cast<std::uint8_t>(aggressor);
  e.price_ticks = price;
  e.qty_lots = qty;
  e.order_id = taker_id;
  e.other_order_id = maker_id;
  e.remaining_lots = maker_left;
  return e;
}

LoadedContext loaded_ctx_of(const FakeContext& ctx) {
  return LoadedContext{ctx.now_, ctx.agent_id(), ctx.book(), true, ctx.signal_};
}

// Tells the agent that what it submitted was placed, and rests it in the book; returns the id of
// the order at `price` (0 if none).
OrderId place_all(FakeContext& ctx, LatentBook& agent, Ticks price = 0) {
  OrderId found = 0;
  for (const PlaceLimit& o : ctx.limits()) {
    const OrderId id = ctx.rest_own(o.side, o.price_ticks, o.qty_lots);
    Event e{};
    e.kind = static_cast<std::uint8_t>(EventKind::OrderPlaced);
    e.agent = ctx.agent_id();
    e.order_id = id;
    e.price_ticks = o.price_ticks;
    e.qty_lots = e.remaining_lots = o.qty_lots;
    e.side = static_cast<std::uint8_t>(o.side);
    agent.on_event(ctx, e);
    if (o.price_ticks == price) found = id;
  }
  ctx.submitted.clear();
  return found;
}
}  // namespace

TEST(LatentBookParams, NeedsADensityAndKnowsItsNames) {
  EXPECT_THROW(LatentBook::Params::from({}), std::invalid_argument);
  EXPECT_THROW(LatentBook::Params::from({{"density", 0}}), std::invalid_argument);
  EXPECT_THROW(LatentBook::Params::from({{"density", 1}, {"memory_s", 0}}), std::invalid_argument);
  EXPECT_THROW(LatentBook::Params::from({{"density", 1}, {"density4", 1}}), std::invalid_argument);
  EXPECT_THROW(LatentBook::Params::from({{"density", -1}}), std::invalid_argument);
  // more than an order can hold per tick, and a diffusion that would need thousands of steps an update
  EXPECT_THROW(LatentBook::Params::from({{"density", 2e9}, {"lot_size", 1e-3}}), std::invalid_argument);
  EXPECT_THROW(LatentBook::Params::from({{"density", 1}, {"memory_s", 10}, {"width_ticks", 100}}),
               std::invalid_argument);
  EXPECT_NO_THROW(LatentBook::Params::from({{"density", 1}, {"memory_s", 100}, {"width_ticks", 100}}));
  const auto p = LatentBook::Params::from({{"density2", 3}});
  EXPECT_EQ(LatentBook(p).components(), 1u);
  EXPECT_EQ(LatentBook(two()).components(), 2u);
}

TEST(LatentBook, StartsFromTheStationaryProfileAroundTheFundamental) {
  const LatentBook book(two());
  EXPECT_EQ(book.net_at(0), 0.0);
  EXPECT_DOUBLE_EQ(book.latent_price_offset(), 0.0);
  for (std::int64_t x = 1; x < 100; ++x) {
    EXPECT_GT(book.net_at(-x), 0.0) << x;  // buys below
    EXPECT_DOUBLE_EQ(book.net_at(x), -book.net_at(-x)) << x;  // sells above, symmetric
    EXPECT_GT(book.net_at(-x - 1), book.net_at(-x)) << x;  // growing away from the price
  }
  EXPECT_NEAR(book.net_at(-99), 150.0, 1.0);  // both densities far away
  EXPECT_EQ(book.net_at(-101), 0.0);          // off the grid
}

TEST(LatentBook, StaysPutWhileTheMarketStaysAtItsPrice) {
  LatentBook book(two());
  const LatentBook before = book;
  for (int i = 0; i < 600; ++i) book.evolve(1.0, 0.0);
  for (std::int64_t x = -90; x <= 90; ++x) EXPECT_NEAR(book.net_at(x), before.net_at(x), 1.0) << x;
  EXPECT_DOUBLE_EQ(book.latent_price_offset(), 0.0);
}

TEST(LatentBook, FollowsAMarketThatStaysAwayWithinItsMemory) {
  LatentBook book(two());
  for (int i = 0; i < 4 * 3'600; ++i) book.evolve(1.0, 8.0);  // four hours of the 1-hour memory
  EXPECT_NEAR(book.latent_price_offset(), 8.0, 1.0);
  // Buyers and sellers of the two components met where the price went: one side per price.
  EXPECT_GT(book.net_at(6), 0.0);
  EXPECT_LT(book.net_at(10), 0.0);
}

TEST(LatentBook, ShowsItsVolumeNearThePriceOneOrderPerTick) {
  FakeContext ctx;  // fundamental 30 000 ticks, an empty book
  LatentBook agent(two());
  agent.on_start(ctx);
  const auto shown = ctx.limits();
  ASSERT_EQ(shown.size(), 10u);  // 5 ticks each side of the latent price
  for (const PlaceLimit& o : shown) {
    const std::int64_t x = o.price_ticks - 30'000;
    EXPECT_EQ(o.side, x < 0 ? Side::Buy : Side::Sell);
    EXPECT_GE(std::abs(x), 1);
    EXPECT_LE(std::abs(x), 5);
    EXPECT_EQ(o.qty_lots, static_cast<Lots>(std::abs(agent.net_at(x))));
  }
  ASSERT_EQ(ctx.wakeups.size(), 1u);
  EXPECT_EQ(ctx.wakeups[0], 1'000'000'000);
}

TEST(LatentBook, ShowsAtMostMaxShowAndMaxLevels) {
  auto p = two();
  p.max_show = 40.0;
  p.max_levels = 3;
  FakeContext ctx;
  LatentBook agent(p);
  agent.on_start(ctx);
  const auto shown = ctx.limits();
  ASSERT_EQ(shown.size(), 6u);
  for (const PlaceLimit& o : shown) {
    EXPECT_LE(o.qty_lots, 40);
    EXPECT_LE(std::abs(o.price_ticks - 30'000), 3);
  }
}

TEST(LatentBook, KeepsWhatStillRestsAndReplacesWhatChanged) {
  FakeContext ctx;
  LatentBook agent(two());
  agent.on_start(ctx);
  const Ticks ask = 30'001;
  const OrderId ask_id = place_all(ctx, agent, ask);
  ASSERT_NE(ask_id, 0u);
  ctx.now_ += 1'000'000'000;
  agent.on_wakeup(ctx);
  EXPECT_TRUE(ctx.cancels().empty());
  EXPECT_TRUE(ctx.limits().empty());
  // A fill at the best latent sell takes that latent volume: its order is replaced by a smaller one.
  const double before = agent.net_at(1);
  const Lots resting = ctx.book().find(ask_id)->qty_lots;
  agent.on_event(ctx, trade(99, ctx.agent_id(), Side::Buy, ask, resting / 2, 500, ask_id, resting - resting / 2));
  EXPECT_NEAR(agent.net_at(1), before + static_cast<double>(resting / 2), 1e-9);
  ctx.now_ += 1'000'000'000;
  agent.on_wakeup(ctx);
  ASSERT_EQ(ctx.cancels().size(), 1u);
  EXPECT_EQ(ctx.cancels()[0].order_id, ask_id);
  ASSERT_EQ(ctx.limits().size(), 1u);
  EXPECT_EQ(ctx.limits()[0].price_ticks, ask);
  EXPECT_LT(ctx.limits()[0].qty_lots, resting);
}

TEST(LatentBook, AMetaorderCarvesAHoleThatMovesTheLatentPrice) {
  LatentBook book(two());
  // Buy everything on the first three sell ticks: the price moves past them.
  for (std::int64_t x = 1; x <= 3; ++x) book.consume(Side::Sell, x, -book.net_at(x));
  EXPECT_DOUBLE_EQ(book.latent_price_offset(), 1.5);  // between the best buy (-1) and sell (4)
  // The hole is remembered: a minute later the price is still displaced.
  for (int i = 0; i < 60; ++i) book.evolve(1.0, 2.0);
  EXPECT_GT(book.latent_price_offset(), 1.0);
  // Consuming what is not there changes nothing.
  const double at = book.net_at(-5);
  book.consume(Side::Sell, -5, 10.0);
  book.consume(Side::Buy, 500, 10.0);
  EXPECT_EQ(book.net_at(-5), at);
}

TEST(LatentBook, LatentBuyersTakeWhatIsOfferedBelowTheirPrice) {
  // The fundamental jumps 6 ticks above a market that has not moved yet: the latent buyers now
  // sit above the market's ask, and the orders shown there are marketable.
  FakeContext ctx;
  ctx.rest(Side::Buy, 29'999, 10);
  ctx.rest(Side::Sell, 30'001, 10);
  ctx.fundamental_ = 30'006.0;
  LatentBook agent(two());
  agent.on_start(ctx);
  int above_ask = 0;
  for (const PlaceLimit& o : ctx.limits()) {
    if (o.side == Side::Buy && o.price_ticks >= 30'001) ++above_ask;
    if (o.side == Side::Sell) {
      EXPECT_GT(o.price_ticks, 30'006);
    }
  }
  EXPECT_EQ(above_ask, 5);  // 30 001 … 30 005
}

TEST(LatentBook, TakerFillsComeOffTheOrdersOwnPrice) {
  FakeContext ctx;
  LatentBook agent(two());
  agent.on_start(ctx);
  // Its buy at 30 000 - 2 took liquidity at 30 000 - 3 (a better price): the latent buyers at -2 traded.
  const OrderId bid2 = place_all(ctx, agent, 29'998);
  ASSERT_NE(bid2, 0u);
  const double at2 = agent.net_at(-2), at3 = agent.net_at(-3);
  agent.on_event(ctx, trade(ctx.agent_id(), 99, Side::Buy, 29'997, 5, bid2, 900, 0));
  EXPECT_NEAR(agent.net_at(-2), at2 - 5.0, 1e-9);
  EXPECT_EQ(agent.net_at(-3), at3);
}

TEST(LatentBook, StateRoundTripsAndLoadedStateIsChecked) {
  FakeContext ctx;
  LatentBook agent(two());
  agent.on_start(ctx);
  place_all(ctx, agent);
  agent.consume(Side::Sell, 1, 20.0);
  StateWriter w;
  agent.save(w);
  LatentBook copy(two());
  StateReader r(w.buffer());
  copy.load(r);
  for (std::int64_t x = -100; x <= 100; ++x) EXPECT_EQ(copy.net_at(x), agent.net_at(x)) << x;
  const LoadedContext loaded = loaded_ctx_of(ctx);
  EXPECT_EQ(copy.check_loaded(loaded), "");
  // Its state under other parameters (another grid) does not fit.
  auto wider = two();
  wider.grid_ticks = 50;
  LatentBook other(wider);
  StateReader r2(w.buffer());
  other.load(r2);
  EXPECT_NE(other.check_loaded(loaded).find("cells"), std::string::npos);
  // Latent volume beyond a component's density, which no step can make.
  LatentBook swollen(two());
  swollen.consume(Side::Sell, 1, 1.0);
  StateWriter w3;
  swollen.save(w3);
  std::string bytes = w3.buffer();
  const double huge = 1e6;
  std::memcpy(bytes.data() + sizeof(std::uint64_t), &huge, sizeof huge);  // the first cell
  LatentBook tampered(two());
  StateReader r3(bytes);
  tampered.load(r3);
  EXPECT_NE(tampered.check_loaded(loaded).find("beyond its component's density"), std::string::npos);
  // A clock before its last update.
  const LoadedContext early{ctx.now_ - 1, ctx.agent_id(), ctx.book(), true, ctx.signal_};
  EXPECT_NE(copy.check_loaded(early).find("after the clock"), std::string::npos);
  // Orders of another agent.
  const LoadedContext someone_else{ctx.now_, 8, ctx.book(), true, ctx.signal_};
  EXPECT_NE(copy.check_loaded(someone_else).find("of agent 7"), std::string::npos);
}

TEST(LatentBook, AMarketWithALatentBookIsDeterministicAndRestores) {
  auto config = [] {
    SimulationConfig c = full_market(2, 2);
    c.populations.push_back(PopulationConfig{"latent_book", 1, 100'000'000, 3'000'000'000'000'000,
                                             {{"density", 500}, {"density2", 500}, {"lot_size", 0.0001},
                                              {"memory2_s", 600}, {"max_show", 200}},
                                             1'000'000, 2'000'000});
    return c;
  };
  Simulation a(config()), b(config()), first(config());
  const TimeNs step = 5'000'000'000, half = 300'000'000'000, end = 600'000'000'000;
  for (TimeNs t = step; t <= half; t += step)
    for (Simulation* s : {&a, &b, &first}) {
      s->step(t, nullptr, 0);
      s->take_events();
    }
  auto restored = Simulation::restore(config(), first.save_state());
  for (TimeNs t = half + step; t <= end; t += step)
    for (Simulation* s : {&a, &b, restored.get()}) {
      s->step(t, nullptr, 0);
      s->take_events();
    }
  EXPECT_EQ(a.save_state(), b.save_state());
  EXPECT_EQ(a.save_state(), restored->save_state());
  // Its orders are in the book: within 10 ticks of the mid there are hundreds of base units.
  const OrderBook& book = a.exchange().book(0);
  ASSERT_NE(book.best(Side::Buy), 0);
  ASSERT_NE(book.best(Side::Sell), 0);
  const Ticks mid = (book.best(Side::Buy) + book.best(Side::Sell)) / 2;
  Lots near = 0;
  book.for_each_order([&](const RestingOrder& o) {
    if (std::abs(o.price_ticks - mid) <= 10) near += o.qty_lots;
  });
  EXPECT_GT(near, 2'000'000);  // 200 base
}

}  // namespace taosim::test
