// Crafted checkpoints: a checkpoint whose state was altered and whose checksum was recomputed is
// refused with a CheckpointError naming the problem, or restores a simulation whose invariants
// hold and which steps on. Each specific corruption below is made in a live simulation (or in the
// saved bytes where the value can be found exactly) and then saved, so the checksum is right.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <random>

#include "support/invariants.hpp"
#include "support/simulation_fixture.hpp"

namespace taosim::test {

namespace {

constexpr TimeNs kStep = 5'000'000'000;
constexpr AgentId kMiners = 4;
constexpr std::uint64_t kLateClientId = 0xC0FFEE;
// Header: magic, format version, config fingerprint, body size; then the body and its checksum.
constexpr std::size_t kHeader = 8 + 4 + 8 + 8;

// Every background model in small numbers, and miners with fee tiers, so that a checkpoint is
// mostly structure: books, accounts with reservations, queues, agents.
SimulationConfig compact_market(std::uint32_t books = 2) {
  SimulationConfig c = full_market(books, 1);
  c.miner_slots = kMiners;
  c.miner_fee_tiers = default_miner_fee_tiers(1'000'000);
  c.populations = {
      PopulationConfig{"initialization", 6, 500'000, 15'000'000'000, {{"orders", 4}, {"tau_s", 30}}, 1'000'000,
                       5'000'000},
      PopulationConfig{"stylized_trader", 10, 500'000, 15'000'000'000, {{"mean_wakeup_s", 2.0}}, 1'000'000, 50'000'000},
      PopulationConfig{"market_maker", 2, 2'000'000, 60'000'000'000, {}, 500'000, 2'000'000},
      PopulationConfig{"random_trader", 5, 500'000, 15'000'000'000, {{"mean_wakeup_s", 1.0}, {"max_offset_ticks", 30}},
                       1'000'000, 20'000'000},
      PopulationConfig{"signal_trader", 2, 500'000, 15'000'000'000, {}, 1'000'000, 50'000'000},
      PopulationConfig{"imbalance_trader", 1, 2'000'000, 60'000'000'000,
                       {{"threshold_lots", 200}, {"parent_lots", 400}, {"child_lots", 100}, {"child_interval_s", 0.5}},
                       1'000'000, 10'000'000},
  };
  return c;
}

InstructionRecord limit(BookId book, AgentId agent, Side side, Ticks price, Lots qty, TimeInForce tif, TimeNs at) {
  InstructionRecord r{};
  r.kind = byte_of(InstructionKind::PlaceLimit);
  r.book = book;
  r.agent = agent;
  r.side = byte_of(side);
  r.price_ticks = price;
  r.qty_lots = qty;
  r.tif = byte_of(tif);
  r.stp = byte_of(Stp::CancelOldest);
  r.ts_ns = at;
  return r;
}

// What the miners send in step `step`: resting buys and (GTT) sells, a crossing order, a market
// order, a cancel of their oldest order, now and then a reset, and an order that arrives after
// the step.
std::vector<InstructionRecord> miner_orders(const Simulation& sim, int step) {
  std::vector<InstructionRecord> out;
  const Exchange& ex = sim.exchange();
  for (BookId b = 0; b < ex.num_books(); ++b) {
    const Ticks bid = ex.book(b).best(Side::Buy), ask = ex.book(b).best(Side::Sell);
    const Ticks mid = bid && ask ? (bid + ask) / 2 : 30'000;
    for (AgentId m = 0; m < kMiners; ++m) {
      const int k = step + static_cast<int>(m);
      const TimeNs at = sim.time() + (k % 7 + 1) * 100'000'000;  // when it arrives
      out.push_back(limit(b, m, Side::Buy, mid - 20 - k % 9, 3 + k % 5, TimeInForce::GTC, at));
      InstructionRecord gtt = limit(b, m, Side::Sell, mid + 20 + k % 11, 2 + k % 4, TimeInForce::GTT, at);
      gtt.expiry_ns = sim.time() + (2 + k % 4) * kStep;
      out.push_back(gtt);
      const Side cross = k % 2 ? Side::Buy : Side::Sell;
      out.push_back(limit(b, m, cross, cross == Side::Buy ? mid + 40 : mid - 40, 4,
                          k % 3 ? TimeInForce::GTC : TimeInForce::IOC, at));
      InstructionRecord market{};
      market.kind = byte_of(InstructionKind::PlaceMarket);
      market.book = b;
      market.agent = m;
      market.side = byte_of(k % 2 ? Side::Sell : Side::Buy);
      market.currency = byte_of(Currency::Base);
      market.qty_lots = 2;
      market.stp = byte_of(Stp::CancelOldest);
      market.ts_ns = at;
      out.push_back(market);
      OrderId oldest = kNoOrder;
      ex.book(b).for_each_order([&](const RestingOrder& o) {
        if (o.agent == m && (oldest == kNoOrder || o.id < oldest)) oldest = o.id;
      });
      if (oldest != kNoOrder) {
        InstructionRecord cancel{};
        cancel.kind = byte_of(InstructionKind::Cancel);
        cancel.book = b;
        cancel.agent = m;
        cancel.order_id = oldest;
        cancel.ts_ns = at;
        out.push_back(cancel);
      }
      if (b == 0 && step % 6 == 5 && m == kMiners - 1) {  // one miner starts over now and then
        InstructionRecord reset{};
        reset.kind = byte_of(InstructionKind::ResetAgent);
        reset.agent = m;
        reset.ts_ns = at;
        out.push_back(reset);
      }
      InstructionRecord late = limit(b, m, Side::Buy, mid - 60, 1, TimeInForce::GTC,
                                   sim.time() + kStep + 2'000'000'000);
      late.client_order_id = kLateClientId + static_cast<std::uint64_t>(step) * 100 + b * kMiners + m;
      out.push_back(late);
    }
  }
  return out;
}

void run(Simulation& sim, int from, int to) {
  for (int s = from; s < to; ++s) {
    const auto orders = miner_orders(sim, s);
    sim.step(sim.time() + kStep, orders.data(), orders.size());
    sim.take_events();
  }
}

std::unique_ptr<Simulation> market_after(int steps) {
  auto sim = std::make_unique<Simulation>(compact_market());
  run(*sim, 0, steps);
  return sim;
}

// The CheckpointError message of restoring `state`, or "(accepted)".
std::string refusal(const std::string& state) {
  try {
    Simulation::restore(compact_market(), state);
  } catch (const CheckpointError& e) {
    return e.what();
  }
  return "(accepted)";
}

std::string body_of(const std::string& state) { return state.substr(kHeader, state.size() - kHeader - 8); }

// The checkpoint of `state`'s header with another body and its checksum.
std::string with_body(const std::string& state, const std::string& body) {
  std::string out = state.substr(0, kHeader - 8);
  const std::uint64_t size = body.size(), sum = fnv1a(body);
  out.append(reinterpret_cast<const char*>(&size), 8);
  out += body;
  out.append(reinterpret_cast<const char*>(&sum), 8);
  return out;
}

template <class T>
std::string bytes_of(const T& v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}

// Any resting order of a miner on book 0.
const RestingOrder& miner_order(const Simulation& sim) {
  const RestingOrder* found = nullptr;
  sim.exchange().book(0).for_each_order([&](const RestingOrder& o) {
    if (!found && o.agent < kMiners) found = &o;
  });
  EXPECT_NE(found, nullptr);
  return *found;
}

// Writable access to a live simulation's state, to corrupt it before saving.
template <class T>
T& writable(const T& v) {
  return const_cast<T&>(v);
}

}  // namespace

TEST(CheckpointChecks, AnUntouchedStateRestoresAtEveryStep) {
  Simulation sim(compact_market());
  for (int s = 0; s < 12; ++s) {
    EXPECT_EQ(refusal(sim.save_state()), "(accepted)") << "before step " << s;
    run(sim, s, s + 1);
  }
}

TEST(CheckpointChecks, NegativeBalance) {
  auto sim = market_after(8);
  Account& a = writable(*sim->exchange().account(0, 1));
  Account& b = writable(*sim->exchange().account(0, 2));
  b.base.free += a.base.free + 5;  // the book's total stays the same
  a.base.free = -5;
  EXPECT_EQ(refusal(sim->save_state()), "checkpoint: book 0: agent 1: base free balance -5 is negative");
}

TEST(CheckpointChecks, BalancesThatDoNotAddUpToTheSupply) {
  auto sim = market_after(8);
  writable(*sim->exchange().account(1, 3)).quote.free += 1;
  EXPECT_NE(refusal(sim->save_state()).find("checkpoint: book 1: quote balances plus fees collected add up to"),
            std::string::npos);
}

TEST(CheckpointChecks, ReservationThatNoOrderNeeds) {
  auto sim = market_after(8);
  Account& a = writable(*sim->exchange().account(0, 2));
  a.quote.free -= 7;
  a.quote.reserved += 7;
  const std::string why = refusal(sim->save_state());
  EXPECT_NE(why.find("checkpoint: book 0: agent 2: quote reserved"), std::string::npos) << why;
  EXPECT_NE(why.find("its resting buys need"), std::string::npos) << why;
}

TEST(CheckpointChecks, OrderOfAnUnknownAgent) {
  auto sim = market_after(8);
  RestingOrder& o = writable(miner_order(*sim));
  o.agent = 9001;
  EXPECT_EQ(refusal(sim->save_state()), "checkpoint: book 0: order " + std::to_string(o.id) + " at price " +
                                            std::to_string(o.price_ticks) + " belongs to unknown agent 9001");
}

TEST(CheckpointChecks, LevelTotalThatDiffersFromItsOrders) {
  auto sim = market_after(8);
  PriceLevel& lvl = writable(sim->exchange().book(0).level(Side::Sell, 0));
  lvl.qty_lots += 3;
  EXPECT_EQ(refusal(sim->save_state()),
            "checkpoint: book 0: ask level at price " + std::to_string(lvl.price_ticks) + ": the level's total is " +
                std::to_string(lvl.qty_lots) + " lots, its orders hold " + std::to_string(lvl.qty_lots - 3));
}

TEST(CheckpointChecks, LevelCountThatDiffersFromItsOrders) {
  auto sim = market_after(8);
  PriceLevel& lvl = writable(sim->exchange().book(0).level(Side::Buy, 0));
  lvl.count += 1;
  EXPECT_NE(refusal(sim->save_state()).find(": the level counts " + std::to_string(lvl.count) + " orders, it holds"),
            std::string::npos);
}

TEST(CheckpointChecks, OrderAtAnotherPriceThanItsLevel) {
  auto sim = market_after(8);
  RestingOrder& o = writable(miner_order(*sim));
  o.price_ticks += 1;
  EXPECT_NE(refusal(sim->save_state()).find("order " + std::to_string(o.id) + " has price"), std::string::npos);
}

TEST(CheckpointChecks, OrderListWithACycle) {
  auto sim = market_after(8);
  const OrderBook& book = sim->exchange().book(0);
  // A level of at least two orders whose last order links back to its first.
  for (Side s : {Side::Buy, Side::Sell}) {
    for (std::size_t i = 0; i < book.level_count(s); ++i) {
      const PriceLevel& lvl = book.level(s, i);
      if (lvl.count < 2) continue;
      const RestingOrder* last = nullptr;
      book.for_each_order_at(s, i, [&](const RestingOrder& o) { last = &o; });
      writable(*last).next = lvl.head;
      const std::string why = refusal(sim->save_state());
      EXPECT_NE(why.find("is reached twice"), std::string::npos) << why;
      return;
    }
  }
  FAIL() << "no level with two orders";
}

TEST(CheckpointChecks, SimulationTimeThatIsNotTheBooksTime) {
  auto sim = market_after(8);
  const std::string state = sim->save_state();
  std::string body = body_of(state);
  const TimeNs later = sim->time() + 1;
  std::memcpy(body.data(), &later, sizeof later);  // the body starts with the simulation's time
  EXPECT_EQ(refusal(with_body(state, body)), "checkpoint: book 0: its clock is " + std::to_string(sim->time()) +
                                                 ", the simulation's " + std::to_string(later));
}

TEST(CheckpointChecks, ABoolThatIsNeitherFalseNorTrue) {
  auto sim = market_after(2);
  const std::string state = sim->save_state();
  std::string body = body_of(state);
  ASSERT_EQ(body[8], 1);  // the started flag follows the time
  body[8] = 2;
  EXPECT_EQ(refusal(with_body(state, body)), "checkpoint is truncated or corrupt");
}

TEST(CheckpointChecks, QueuedInstructionForAnotherBook) {
  auto sim = market_after(8);
  const std::string state = sim->save_state();
  std::string body = body_of(state);
  // The late order of miner 1 on book 0 from the last step waits in book 0's queue as it was sent.
  auto late = miner_orders(*market_after(7), 7);
  const auto it = std::find_if(late.begin(), late.end(), [](const InstructionRecord& r) {
    return r.client_order_id == kLateClientId + 7 * 100 + 1;
  });
  ASSERT_NE(it, late.end());
  const std::size_t at = body.find(bytes_of(*it));
  ASSERT_NE(at, std::string::npos);
  const BookId other = 1;
  std::memcpy(body.data() + at + offsetof(InstructionRecord, book), &other, sizeof other);
  const std::string why = refusal(with_body(state, body));
  EXPECT_EQ(why.rfind("checkpoint: book 0: instruction slot ", 0), 0u) << why;
  EXPECT_NE(why.find(" is for book 1"), std::string::npos) << why;
}

TEST(CheckpointChecks, AgentRandomStreamInItsAllZeroState) {
  // Before the start every agent's stream is where its keys put it, so it can be found.
  Simulation sim(compact_market());
  const std::string state = sim.save_state();
  std::string body = body_of(state);
  const AgentId agent = kMiners + 3;
  StateWriter w;
  Rng::for_keys({sim.config().seed, 1, agent}).save(w);
  const std::size_t at = body.find(w.buffer());
  ASSERT_NE(at, std::string::npos);
  std::memset(body.data() + at, 0, w.buffer().size());
  EXPECT_EQ(refusal(with_body(state, body)), "checkpoint: book 1: agent " + std::to_string(agent) +
                                                 ": its random stream is all zero");
}

TEST(CheckpointChecks, AccountCountBeyondWhatTheBodyHolds) {
  // A count of accounts far beyond the bytes left is refused before anything is allocated for it.
  Simulation sim(compact_market());
  const std::string state = sim.save_state();
  std::string body = body_of(state);
  const std::uint64_t accounts = kMiners + 26;
  const std::size_t at = body.find(bytes_of(accounts));
  ASSERT_NE(at, std::string::npos);
  const std::uint64_t huge = 1u << 24;
  std::memcpy(body.data() + at, &huge, sizeof huge);
  EXPECT_EQ(refusal(with_body(state, body)), "checkpoint is truncated or corrupt");
}

// Random mutations of a checkpoint's body (bit flips, extreme values, copied, swapped, inserted
// and removed bytes) with the checksum recomputed: each is refused, or the restored simulation
// keeps the exchange's invariants for three more steps. Seeded; under the sanitizers this also
// finds reads out of bounds that happen not to crash.
TEST(CheckpointChecks, MutatedCheckpointsAreRefusedOrRunCleanly) {
  auto sim = market_after(12);
  const std::string state = sim->save_state();
  const std::string body = body_of(state);
  std::mt19937_64 rng(20240607);
  auto below = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
  // Integers 0, -1, max, min, 2^40, 9001; as doubles also NaN, subnormals, and +inf, 1e300.
  const std::uint64_t extremes[] = {0,          ~0ull, 0x7fff'ffff'ffff'ffffull, 0x8000'0000'0000'0000ull,
                                    1ull << 40, 9001,  0x7ff0'0000'0000'0000ull, 0x7e37'e43c'8800'759cull};
  int refused = 0, accepted = 0;
  for (int t = 0; t < 1000; ++t) {
    std::string b = body;
    const std::size_t n = b.size();
    switch (below(6)) {
      case 0:
        for (std::size_t k = 0, flips = 1 + below(3); k < flips; ++k) b[below(n)] ^= static_cast<char>(1u << below(8));
        break;
      case 1: {
        const std::size_t width = std::size_t{1} << below(4);
        const std::uint64_t v = extremes[below(std::size(extremes))];
        std::memcpy(b.data() + below(n - width), &v, width);
        break;
      }
      case 2: {
        const std::size_t off = below(n - 8);
        std::uint64_t v;  // a nearby integer (wrapping): off-by-one counts, indices, ids and prices
        std::memcpy(&v, b.data() + off, 8);
        v += below(5) - 2;
        std::memcpy(b.data() + off, &v, 8);
        break;
      }
      case 3: {
        const std::size_t width = 8 * (1 + below(7));
        b.replace(below(n - width), width, body.substr(below(n - width), width));
        break;
      }
      case 4:
        b.insert(below(n), std::string(1 + below(40), static_cast<char>(below(256))));
        break;
      default:
        b.erase(below(n), 1 + below(40));
        break;
    }
    std::unique_ptr<Simulation> restored;
    try {
      restored = Simulation::restore(compact_market(), with_body(state, b));
    } catch (const CheckpointError&) {
      ++refused;
      continue;
    }
    ++accepted;
    auto problems = exchange_problems(restored->exchange());
    for (int s = 0; s < 3 && problems.empty(); ++s) {
      const auto orders = miner_orders(*restored, 12 + s);
      EXPECT_NO_THROW(restored->step(restored->time() + kStep, orders.data(), orders.size())) << "try " << t;
      restored->take_events();
      problems = exchange_problems(restored->exchange());
    }
    EXPECT_TRUE(problems.empty()) << "try " << t << ": " << problems.front();
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(accepted, 0);
}

}  // namespace taosim::test
