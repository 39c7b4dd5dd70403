// Test support: an exchange with a few funded agents, instruction helpers that
// return the events they caused, and a full invariant check.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "taosim/exchange/exchange.hpp"

namespace taosim::test {

inline constexpr std::uint32_t kMiner = 0;       // agent class: may not self-trade
inline constexpr std::uint32_t kBackground = 1;  // agent class: may self-trade

inline ExchangeConfig config_with_fees(std::vector<FeeTier> miner_tiers, std::uint32_t books = 1) {
  ExchangeConfig c;
  c.books = books;
  c.agent_classes = {AgentClass{"miner", FeeSchedule(std::move(miner_tiers)), false},
                     AgentClass{"background", FeeSchedule{}, true}};
  return c;
}

class ExchangeTest : public ::testing::Test {
 protected:
  explicit ExchangeTest(ExchangeConfig config = config_with_fees({FeeTier{}})) : ex(std::move(config)) {}

  // Agents 1..4 are miners, 10..11 background; all funded on every book.
  void SetUp() override {
    for (BookId b = 0; b < ex.num_books(); ++b) {
      for (AgentId a : {1u, 2u, 3u, 4u}) ex.open_account(b, a, kMiner, 1'000, 100'000'000);
      for (AgentId a : {10u, 11u}) ex.open_account(b, a, kBackground, 1'000, 100'000'000);
    }
  }

  std::vector<Event> limit(AgentId agent, Side side, Ticks price, Lots qty, TimeInForce tif = TimeInForce::GTC,
                           Stp stp = Stp::CancelOldest, bool post_only = false, TimeNs expiry = 0, BookId book = 0) {
    PlaceLimit o;
    o.book = book;
    o.agent = agent;
    o.side = side;
    o.price_ticks = price;
    o.qty_lots = qty;
    o.tif = tif;
    o.stp = stp;
    o.post_only = post_only;
    o.expiry_ns = expiry;
    return run(o);
  }
  std::vector<Event> market(AgentId agent, Side side, Lots qty, Stp stp = Stp::CancelOldest, BookId book = 0) {
    PlaceMarket o;
    o.book = book;
    o.agent = agent;
    o.side = side;
    o.qty_lots = qty;
    o.stp = stp;
    return run(o);
  }
  std::vector<Event> market_quote(AgentId agent, Side side, Quote notional, Stp stp = Stp::CancelOldest) {
    PlaceMarket o;
    o.agent = agent;
    o.side = side;
    o.currency = Currency::Quote;
    o.notional_quote = notional;
    o.stp = stp;
    return run(o);
  }
  std::vector<Event> cancel(AgentId agent, OrderId id, Lots qty = 0, BookId book = 0) {
    return run(Cancel{book, agent, id, qty, 0});
  }
  std::vector<Event> run(const Instruction& i) {
    ex.submit(i, now);
    auto ev = ex.take_events();
    check_invariants();
    return ev;
  }

  // The id of the order placed by the last call (from its OrderPlaced event).
  static OrderId placed_id(const std::vector<Event>& ev) {
    for (const auto& e : ev)
      if (e.kind == static_cast<std::uint8_t>(EventKind::OrderPlaced)) return e.order_id;
    ADD_FAILURE() << "no OrderPlaced event";
    return kNoOrder;
  }
  static std::vector<Event> of_kind(const std::vector<Event>& ev, EventKind k) {
    std::vector<Event> out;
    for (const auto& e : ev)
      if (e.kind == static_cast<std::uint8_t>(k)) out.push_back(e);
    return out;
  }
  static RejectReason reject_reason(const std::vector<Event>& ev) {
    for (const auto& e : ev)
      if (e.kind == static_cast<std::uint8_t>(EventKind::OrderRejected) ||
          e.kind == static_cast<std::uint8_t>(EventKind::CancelRejected))
        return static_cast<RejectReason>(e.reason);
    return RejectReason::None;
  }
  const Account& acc(AgentId a, BookId b = 0) const {
    const Account* p = ex.account(b, a);
    EXPECT_NE(p, nullptr);
    return *p;
  }

  // Balances never negative; base conserved; quote conserved up to fees; the
  // book never crossed; every reservation equals what the resting orders need;
  // open order counts match the book.
  void check_invariants() {
    for (BookId b = 0; b < ex.num_books(); ++b) {
      Lots base = 0;
      Quote quote = 0;
      std::map<AgentId, Lots> resting_sell;
      std::map<AgentId, Quote> resting_buy_quote;
      std::map<AgentId, std::uint32_t> resting_count;
      ex.book(b).for_each_order([&](const RestingOrder& o) {
        ++resting_count[o.agent];
        if (o.side == Side::Sell) {
          resting_sell[o.agent] += o.qty_lots;
        } else {
          const Account* a = ex.account(b, o.agent);
          resting_buy_quote[o.agent] +=
              buy_reservation(o.price_ticks, o.qty_lots, ex.fee_schedule(a->agent_class).reserve_rate());
        }
      });
      ex.for_each_account(b, [&](AgentId id, const Account& a) {
        EXPECT_GE(a.base.free, 0) << "agent " << id;
        EXPECT_GE(a.base.reserved, 0) << "agent " << id;
        EXPECT_GE(a.quote.free, 0) << "agent " << id;
        EXPECT_GE(a.quote.reserved, 0) << "agent " << id;
        EXPECT_EQ(a.base.reserved, resting_sell[id]) << "agent " << id;
        EXPECT_EQ(a.quote.reserved, resting_buy_quote[id]) << "agent " << id;
        EXPECT_EQ(a.open_orders, resting_count[id]) << "agent " << id;
        base += a.base.total();
        quote += a.quote.total();
      });
      EXPECT_EQ(base, ex.supply_base(b));
      EXPECT_EQ(quote + ex.fees_collected(b), ex.supply_quote(b));
      const OrderBook& book = ex.book(b);
      if (!book.empty(Side::Buy) && !book.empty(Side::Sell)) {
        EXPECT_LT(book.best(Side::Buy), book.best(Side::Sell));
      }
    }
  }

  Exchange ex;
  TimeNs now = 1'000;
};

}  // namespace taosim::test
