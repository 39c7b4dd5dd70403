#include "taosim/testing/instruction_stream.hpp"

#include <algorithm>

#include "taosim/book/order_book.hpp"
#include "taosim/random.hpp"

namespace taosim::testing {

// The generator keeps its own copy of the book (matching only) so that its
// cancels name orders that are still resting, as a trading agent's would. Its
// book assigns the same ids as the exchange's, since both see the same
// operations (agents are assumed to have ample balances, so only market orders
// into an empty side are refused).
std::vector<InstructionRecord> random_instruction_stream(const StreamConfig& c) {
  Rng rng(c.seed);
  std::vector<InstructionRecord> out;
  out.reserve(c.count);
  OrderBook book;
  EventLog log;
  std::vector<OrderId> resting;  // ids that may still rest; stale ones are dropped when drawn
  Ticks mid = c.start_price_ticks;
  TimeNs ts = c.start_ns;

  auto place = [&](InstructionRecord& r, bool market) {
    const Side side = static_cast<Side>(r.side);
    if (market && book.empty(opposite(side))) return;  // rejected: no id
    Aggressor a{book.assign_id(), r.agent, side, r.price_ticks, market, r.qty_lots, kMaxNotional,
                static_cast<Stp>(r.stp)};
    if (market || book.crosses(side, r.price_ticks)) book.match(a, log);
    if (!market && a.qty_lots > 0) {
      book.rest(a.id, a.agent, side, r.price_ticks, a.qty_lots);
      resting.push_back(a.id);
    } else {
      book.discard(a.id);
    }
  };

  for (std::size_t i = 0; i < c.count; ++i, ts += c.step_ns) {
    log.clear();
    if (rng.below(64) == 0) mid = std::max<Ticks>(100, mid + (rng.below(2) ? 1 : -1));
    InstructionRecord r{};
    r.ts_ns = ts;
    r.book = c.book;
    r.agent = static_cast<AgentId>(rng.below(c.agents));
    r.stp = byte_of(Stp::CancelOldest);
    r.client_order_id = i;
    const double u = rng.uniform();
    const bool buy = rng.below(2) == 0;
    r.side = byte_of(buy ? Side::Buy : Side::Sell);

    // Cancels go to stale quotes: of a few live orders drawn at random, the one
    // farthest from the mid (agents requote what the market has left behind).
    const RestingOrder* target = nullptr;
    if (u >= c.limit_share && u < c.limit_share + c.cancel_share) {
      for (int draws = 0; draws < 4 && !resting.empty();) {
        const std::size_t k = rng.below(resting.size());
        const RestingOrder* o = book.find(resting[k]);
        if (!o) {  // filled meanwhile: forget it
          resting[k] = resting.back();
          resting.pop_back();
          continue;
        }
        ++draws;
        const auto dist = [mid](const RestingOrder* x) { return x->price_ticks > mid ? x->price_ticks - mid : mid - x->price_ticks; };
        if (!target || dist(o) > dist(target)) target = o;
      }
    }

    if (u < c.limit_share) {
      r.kind = byte_of(InstructionKind::PlaceLimit);
      r.tif = byte_of(TimeInForce::GTC);
      const Ticks offset = 1 + static_cast<Ticks>(rng.below(20));
      r.price_ticks = buy ? mid - offset : mid + offset;
      r.qty_lots = rng.between(1, 100);
      place(r, false);
    } else if (target) {
      r.kind = byte_of(InstructionKind::Cancel);
      r.order_id = target->id;
      r.agent = target->agent;
      r.side = 0;
      r.qty_lots = rng.below(4) == 0 ? rng.between(1, 50) : 0;  // a quarter are partial
      const Lots q = r.qty_lots == 0 ? target->qty_lots : std::min(r.qty_lots, target->qty_lots);
      book.reduce(r.order_id, q, CancelReason::Requested, log);
    } else if (rng.below(2) == 0) {
      r.kind = byte_of(InstructionKind::PlaceMarket);
      r.currency = byte_of(Currency::Base);
      r.qty_lots = rng.between(1, c.aggressive_max_lots);
      place(r, true);
    } else {
      r.kind = byte_of(InstructionKind::PlaceLimit);
      r.tif = byte_of(TimeInForce::GTC);
      const Ticks through = static_cast<Ticks>(rng.below(6));
      r.price_ticks = buy ? mid + through : mid - through;
      r.qty_lots = rng.between(1, c.aggressive_max_lots);
      place(r, false);
    }
    out.push_back(r);
  }
  return out;
}

ExchangeConfig bench_exchange_config() {
  ExchangeConfig cfg;
  cfg.books = 1;
  cfg.agent_classes = {AgentClass{"miner", FeeSchedule(default_miner_fee_tiers(1'000'000)), false}};
  return cfg;
}

void open_bench_accounts(Exchange& ex, std::uint32_t agents) {
  for (AgentId a = 0; a < agents; ++a) ex.open_account(0, a, 0, 1'000'000'000'000LL, 1'000'000'000'000'000LL);
}

ReplayCounts replay(Exchange& ex, const std::vector<InstructionRecord>& stream, std::size_t batch) {
  ReplayCounts c;
  for (std::size_t i = 0; i < stream.size(); i += batch) {
    ex.submit_batch(stream.data() + i, std::min(batch, stream.size() - i));
    auto& events = ex.log(0).events();
    c.events += events.size();
    for (const Event& e : events) c.trades += e.kind == byte_of(EventKind::Trade);
    ex.log(0).clear();
  }
  return c;
}

}  // namespace taosim::testing
