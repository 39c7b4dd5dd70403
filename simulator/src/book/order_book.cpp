#include "taosim/book/order_book.hpp"

#include <algorithm>

namespace taosim {

// ----------------------------------------------------------------- OrderBook

std::size_t OrderBook::rung_position(Side s, Ticks p) const {
  const auto& v = side_levels(s);
  const std::size_t n = v.size();
  if (n == 0) return 0;
  const bool bid = s == Side::Buy;
  // Prices are distinct integers, so at most |best - p| + 1 rungs lie between
  // the best price and p: the position is at least n - that many. Near the touch
  // the ladder is dense and the first guess is the answer.
  const Ticks best = v[n - 1].price_ticks;
  const Ticks dist = bid ? best - p : p - best;
  if (dist < 0) return n;  // better than the best price
  std::size_t i = static_cast<std::uint64_t>(dist) + 1 >= n ? 0 : n - 1 - static_cast<std::size_t>(dist);
  auto worse = [bid, p](const Rung& r) { return bid ? r.price_ticks < p : r.price_ticks > p; };
  for (int k = 0; k < 8; ++k, ++i) {
    if (i == n || !worse(v[i])) return i;
  }
  return static_cast<std::size_t>(
      std::partition_point(v.begin() + static_cast<std::ptrdiff_t>(i), v.end(), worse) - v.begin());
}

OrderId OrderBook::assign_id() {
  OrderHandle h;
  if (!free_.empty()) {
    h = free_.back();
    free_.pop_back();
  } else {
    if (orders_.size() >= kMaxLiveOrders) return kNoOrder;
    h = static_cast<OrderHandle>(orders_.size());
    orders_.push_back(RestingOrder{});
  }
  orders_[h].id = kNoOrder;  // reserved, not resting yet
  return (next_seq_++ << kHandleBits) | h;
}

void OrderBook::discard(OrderId id) { free_.push_back(handle_of(id)); }

void OrderBook::free_order(OrderHandle h) {
  orders_[h].id = kNoOrder;
  free_.push_back(h);
  --live_orders_;
}

LevelHandle OrderBook::allocate_level(Ticks price) {
  const PriceLevel lvl{price, 0, kNullHandle, kNullHandle, 0};
  if (!free_levels_.empty()) {
    const LevelHandle h = free_levels_.back();
    free_levels_.pop_back();
    levels_[h] = lvl;
    return h;
  }
  levels_.push_back(lvl);
  return static_cast<LevelHandle>(levels_.size() - 1);
}

void OrderBook::unlink(PriceLevel& lvl, OrderHandle h) {
  RestingOrder& o = orders_[h];
  if (o.prev != kNullHandle) orders_[o.prev].next = o.next; else lvl.head = o.next;
  if (o.next != kNullHandle) orders_[o.next].prev = o.prev; else lvl.tail = o.prev;
  --lvl.count;
}

void OrderBook::drop_level(Side s, LevelHandle lh) {
  auto& ladder = side_levels(s);
  if (ladder.back().level == lh) {
    ladder.pop_back();
  } else {
    const std::size_t i = rung_position(s, levels_[lh].price_ticks);
    ladder.erase(ladder.begin() + static_cast<std::ptrdiff_t>(i));
  }
  free_levels_.push_back(lh);
}

void OrderBook::rest(OrderId id, AgentId agent, Side side, Ticks price_ticks, Lots qty_lots) {
  auto& ladder = side_levels(side);
  const std::size_t i = rung_position(side, price_ticks);
  LevelHandle lh;
  if (i < ladder.size() && ladder[i].price_ticks == price_ticks) {
    lh = ladder[i].level;
  } else {
    lh = allocate_level(price_ticks);
    ladder.insert(ladder.begin() + static_cast<std::ptrdiff_t>(i), Rung{price_ticks, lh});
  }
  const OrderHandle h = handle_of(id);
  PriceLevel& lvl = levels_[lh];
  orders_[h] = RestingOrder{id, price_ticks, qty_lots, agent, lvl.tail, kNullHandle, lh, side};
  ++live_orders_;
  if (lvl.tail != kNullHandle) orders_[lvl.tail].next = h; else lvl.head = h;
  lvl.tail = h;
  ++lvl.count;
  lvl.qty_lots += qty_lots;
}

void OrderBook::cancel_resting(OrderHandle h, Lots qty, CancelReason reason, EventLog& log) {
  RestingOrder& o = orders_[h];
  PriceLevel& lvl = levels_[o.level];
  o.qty_lots -= qty;
  lvl.qty_lots -= qty;
  log.push(Event{.order_id = o.id,
                 .price_ticks = o.price_ticks,
                 .qty_lots = qty,
                 .remaining_lots = o.qty_lots,
                 .agent = o.agent,
                 .kind = byte_of(EventKind::OrderCancelled),
                 .side = byte_of(o.side),
                 .reason = byte_of(reason)});
  if (o.qty_lots == 0) {
    const Side side = o.side;
    const LevelHandle lh = o.level;
    unlink(lvl, h);
    free_order(h);
    if (lvl.count == 0) drop_level(side, lh);
  }
}

Lots OrderBook::reduce(OrderId id, Lots qty_lots, CancelReason reason, EventLog& log) {
  if (!find(id)) return 0;
  const OrderHandle h = handle_of(id);
  const Lots q = std::min(qty_lots, orders_[h].qty_lots);
  if (q <= 0) return 0;
  cancel_resting(h, q, reason, log);
  return q;
}

bool OrderBook::crosses(Side side, Ticks limit_ticks) const {
  const auto& opp = side_levels(opposite(side));
  if (opp.empty()) return false;
  const Ticks p = opp.back().price_ticks;
  return side == Side::Buy ? p <= limit_ticks : p >= limit_ticks;
}

bool OrderBook::can_fill(Side side, Ticks limit_ticks, Lots qty_lots, AgentId agent, Stp stp) const {
  const auto& opp = side_levels(opposite(side));
  Lots available = 0;
  for (std::size_t i = opp.size(); i-- > 0;) {
    const PriceLevel& lvl = levels_[opp[i].level];
    if (side == Side::Buy ? lvl.price_ticks > limit_ticks : lvl.price_ticks < limit_ticks) break;
    for (OrderHandle h = lvl.head; h != kNullHandle; h = orders_[h].next) {
      const RestingOrder& o = orders_[h];
      if (o.agent == agent && stp != Stp::None) {
        if (stp == Stp::CancelOldest) continue;  // it would be cancelled, not traded
        return false;                            // the aggressor would be cut short
      }
      available += o.qty_lots;
      if (available >= qty_lots) return true;
    }
  }
  return false;
}

void OrderBook::save(StateWriter& w) const {
  w.vec(bids_);
  w.vec(asks_);
  w.vec(levels_);
  w.vec(free_levels_);
  w.vec(orders_);
  w.vec(free_);
  w.pod(next_seq_);
  w.pod(live_orders_);
}

void OrderBook::load(StateReader& r) {
  r.vec(bids_);
  r.vec(asks_);
  r.vec(levels_);
  r.vec(free_levels_);
  r.vec(orders_);
  r.vec(free_);
  r.pod(next_seq_);
  r.pod(live_orders_);
}

void OrderBook::check_loaded(const std::string& where) const {
  auto fail = [&](const std::string& what) { corrupt_state(where + ": " + what); };
  const std::size_t n_orders = orders_.size();
  const std::size_t n_levels = levels_.size();
  if (n_orders > kMaxLiveOrders) fail(std::to_string(n_orders) + " order slots, at most 2^24 exist");
  if (n_levels > kMaxLiveOrders) fail(std::to_string(n_levels) + " price levels, at most 2^24 exist");
  if (next_seq_ < 1 || next_seq_ > (std::uint64_t{1} << (64 - kHandleBits)))
    fail("next order sequence " + std::to_string(next_seq_) + " is out of range");

  // Order slots: 1 = free, 2 = live and reached from a level.
  std::vector<std::uint8_t> slot(n_orders, 0);
  for (OrderHandle h : free_) {
    if (h >= n_orders)
      fail("free order slot " + std::to_string(h) + " is beyond the " + std::to_string(n_orders) + " slots");
    if (slot[h]) fail("order slot " + std::to_string(h) + " is free twice");
    if (orders_[h].id != kNoOrder)
      fail("order slot " + std::to_string(h) + " is free but holds order " + std::to_string(orders_[h].id));
    slot[h] = 1;
  }
  std::size_t live = 0;
  for (std::size_t h = 0; h < n_orders; ++h) {
    const OrderId id = orders_[h].id;
    if (id == kNoOrder) {
      if (!slot[h]) fail("order slot " + std::to_string(h) + " is neither free nor in use");
      continue;
    }
    ++live;
    if (handle_of(id) != h || !issued(id))
      fail("order " + std::to_string(id) + " in slot " + std::to_string(h) +
           " has an id this book did not issue there");
  }
  if (live != live_orders_)
    fail(std::to_string(live) + " live orders, the book counts " + std::to_string(live_orders_));

  // Levels: 1 = free, 2 = on a ladder.
  std::vector<std::uint8_t> level_use(n_levels, 0);
  for (LevelHandle lh : free_levels_) {
    if (lh >= n_levels)
      fail("free level " + std::to_string(lh) + " is beyond the " + std::to_string(n_levels) + " levels");
    if (level_use[lh]) fail("level " + std::to_string(lh) + " is free twice");
    level_use[lh] = 1;
  }
  std::size_t reached = 0;
  for (Side side : {Side::Buy, Side::Sell}) {
    const char* name = side == Side::Buy ? "bid" : "ask";
    const auto& ladder = side_levels(side);
    for (std::size_t i = 0; i < ladder.size(); ++i) {
      const Rung& rung = ladder[i];
      // Messages are built only on failure: this runs for every order of every book.
      auto at = [&] { return std::string(name) + " level at price " + std::to_string(rung.price_ticks); };
      if (rung.price_ticks < 1 || rung.price_ticks > kMaxPriceTicks) fail(at() + ": price out of range");
      if (i > 0 && (side == Side::Buy ? rung.price_ticks <= ladder[i - 1].price_ticks
                                      : rung.price_ticks >= ladder[i - 1].price_ticks))
        fail(std::string(name) + " levels are not in price order at " + std::to_string(rung.price_ticks));
      if (rung.level >= n_levels) fail(at() + ": level " + std::to_string(rung.level) + " does not exist");
      if (level_use[rung.level])
        fail(at() + ": level " + std::to_string(rung.level) +
             (level_use[rung.level] == 1 ? " is free" : " is used twice"));
      level_use[rung.level] = 2;
      const PriceLevel& lvl = levels_[rung.level];
      if (lvl.price_ticks != rung.price_ticks) fail(at() + ": its level has price " + std::to_string(lvl.price_ticks));
      OrderHandle prev = kNullHandle;
      std::uint64_t count = 0;
      __int128 qty = 0;
      for (OrderHandle h = lvl.head; h != kNullHandle; h = orders_[h].next) {
        if (h >= n_orders) fail(at() + ": order slot " + std::to_string(h) + " does not exist");
        if (slot[h] == 1) fail(at() + ": order slot " + std::to_string(h) + " is free");
        if (slot[h] == 2) fail(at() + ": order slot " + std::to_string(h) + " is reached twice");
        slot[h] = 2;
        const RestingOrder& o = orders_[h];
        auto order = [&] { return at() + ": order " + std::to_string(o.id); };
        if (o.prev != prev) fail(order() + " is linked to the wrong previous order");
        if (o.level != rung.level) fail(order() + " names level " + std::to_string(o.level));
        if (o.side != side) fail(order() + " is on the other side");
        if (o.price_ticks != rung.price_ticks) fail(order() + " has price " + std::to_string(o.price_ticks));
        if (o.qty_lots < 1 || o.qty_lots > kMaxQtyLots ||
            static_cast<__int128>(o.qty_lots) * o.price_ticks > kMaxNotional)
          fail(order() + " has quantity " + std::to_string(o.qty_lots));
        qty += o.qty_lots;
        ++count;
        prev = h;
      }
      if (count == 0) fail(at() + ": the level is empty");
      if (lvl.tail != prev) fail(at() + ": the level's last order is not its tail");
      if (lvl.count != count)
        fail(at() + ": the level counts " + std::to_string(lvl.count) + " orders, it holds " + std::to_string(count));
      if (lvl.qty_lots != qty)
        fail(at() + ": the level's total is " + std::to_string(lvl.qty_lots) + " lots, its orders hold " +
             std::to_string(static_cast<long long>(qty)));
      reached += count;
    }
  }
  for (std::size_t lh = 0; lh < n_levels; ++lh)
    if (!level_use[lh]) fail("level " + std::to_string(lh) + " is neither free nor on a ladder");
  if (reached != live) fail(std::to_string(live - reached) + " live orders are on no level");
  if (!bids_.empty() && !asks_.empty() && bids_.back().price_ticks >= asks_.back().price_ticks)
    fail("the book is crossed (bid " + std::to_string(bids_.back().price_ticks) + ", ask " +
         std::to_string(asks_.back().price_ticks) + ")");
}

MatchResult OrderBook::match(Aggressor& a, EventLog& log) {
  MatchResult r;
  auto& ladder = side_levels(opposite(a.side));
  const bool buy = a.side == Side::Buy;
  const bool budgeted = a.budget_quote < kMaxNotional;
  while (a.qty_lots > 0) {
    if (ladder.empty()) return r;  // Liquidity
    const Ticks p = ladder.back().price_ticks;
    PriceLevel& lvl = levels_[ladder.back().level];
    if (!a.is_market && (buy ? p > a.limit_ticks : p < a.limit_ticks)) return r;  // Liquidity
    Lots cap = a.qty_lots;
    if (budgeted && static_cast<__int128>(p) * cap > a.budget_quote) {
      cap = a.budget_quote / p;  // divide only when the budget binds
      if (cap == 0) {
        r.stop = MatchStop::Budget;
        return r;
      }
    }
    const OrderHandle h = lvl.head;
    RestingOrder& m = orders_[h];

    if (m.agent == a.agent && a.stp != Stp::None) {
      // Reduces the aggressor by qty, with its OrderCancelled event.
      auto cancel_aggressor = [&](Lots qty) {
        a.qty_lots -= qty;
        log.push(Event{.order_id = a.id,
                       .price_ticks = a.is_market ? 0 : a.limit_ticks,
                       .qty_lots = qty,
                       .remaining_lots = a.qty_lots,
                       .agent = a.agent,
                       .kind = byte_of(EventKind::OrderCancelled),
                       .side = byte_of(a.side),
                       .reason = byte_of(CancelReason::Stp)});
      };
      switch (a.stp) {
        case Stp::CancelOldest:
          cancel_resting(h, m.qty_lots, CancelReason::Stp, log);
          continue;
        case Stp::CancelBoth:
          cancel_resting(h, m.qty_lots, CancelReason::Stp, log);
          cancel_aggressor(a.qty_lots);
          r.stop = MatchStop::SelfTrade;
          return r;
        case Stp::CancelNewest:
          cancel_aggressor(a.qty_lots);
          r.stop = MatchStop::SelfTrade;
          return r;
        case Stp::DecrementAndCancel:
        default: {
          const Lots d = std::min(a.qty_lots, m.qty_lots);
          cancel_resting(h, d, CancelReason::Stp, log);
          cancel_aggressor(d);
          if (a.qty_lots == 0) {
            r.stop = MatchStop::SelfTrade;
            return r;
          }
          continue;
        }
      }
    }

    const Lots q = std::min(cap, m.qty_lots);
    const Quote notional = p * q;
    m.qty_lots -= q;
    lvl.qty_lots -= q;
    a.qty_lots -= q;
    if (budgeted) a.budget_quote -= notional;
    r.filled_lots += q;
    r.filled_notional += notional;

    log.push(Event{.order_id = a.id,
                   .other_order_id = m.id,
                   .price_ticks = p,
                   .qty_lots = q,
                   .remaining_lots = m.qty_lots,
                   .notional_quote = notional,
                   .agent = a.agent,
                   .other_agent = m.agent,
                   .kind = byte_of(EventKind::Trade),
                   .side = byte_of(a.side)});

    if (m.qty_lots == 0) {
      lvl.head = m.next;
      if (m.next != kNullHandle) orders_[m.next].prev = kNullHandle; else lvl.tail = kNullHandle;
      --lvl.count;
      free_order(h);
      if (lvl.count == 0) {
        free_levels_.push_back(ladder.back().level);
        ladder.pop_back();
      }
    }
  }
  r.stop = MatchStop::Filled;
  return r;
}

}  // namespace taosim
