// OrderBook: the matching core of one instrument. It only matches.
//
// Rules
// - Price-time priority. Resting orders at a better price match first; at one
//   price, the order that rested first matches first.
// - A trade executes at the resting (maker) order's price, for
//   min(aggressor remaining, maker remaining) lots, further limited by the
//   aggressor's notional budget when it has one (a fill never exceeds the budget:
//   floor(budget_left / price) lots at most).
// - An aggressing buy matches asks priced <= its limit; a sell matches bids
//   priced >= its limit. A market order is an aggressor with no limit.
// - Matching stops when the aggressor is filled, its budget cannot pay for one
//   more lot at the next price, nothing on the opposite side crosses its limit
//   (including: the opposite side is empty), or self-trade prevention ends it.
// - Self-trade prevention applies when the aggressor meets a resting order of
//   its own agent; the aggressor's mode decides:
//     None               they trade;
//     CancelOldest       the resting order is cancelled, matching continues;
//     CancelNewest       the aggressor's remainder is cancelled, matching stops;
//     CancelBoth         both are cancelled, matching stops;
//     DecrementAndCancel both are reduced by the smaller remaining size (the
//                        smaller one is thereby cancelled); matching continues
//                        while the aggressor has a remainder.
//   Every such reduction is an OrderCancelled event with reason Stp.
// - A reduce ("partial cancel") lowers an order's quantity and keeps its place in
//   the queue; reducing to zero removes it. A modify that changes price is a
//   cancel plus a new order (new id, back of the queue).
// - The book never decides what happens to an aggressor's unfilled rest: the
//   caller either rests it (`rest`) or discards it and reports why.
//
// What it does not do: balances, reservations, fees, validation of agents,
// clocks, randomness or logging. Events are appended to the EventLog passed in,
// in the order they happen; the caller settles them afterwards.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "taosim/book/price_level.hpp"
#include "taosim/events.hpp"
#include "taosim/state.hpp"
#include "taosim/types.hpp"

namespace taosim {

struct Aggressor {
  OrderId id = kNoOrder;
  AgentId agent = 0;
  Side side = Side::Buy;
  Ticks limit_ticks = 0;   // ignored when is_market
  bool is_market = false;
  Lots qty_lots = 0;       // remaining; updated by match()
  Quote budget_quote = kMaxNotional;  // remaining notional it may fill; updated by match()
  Stp stp = Stp::CancelOldest;
};

enum class MatchStop : std::uint8_t {
  Filled,     // aggressor quantity exhausted
  Budget,     // notional budget cannot pay for one more lot at the next price
  Liquidity,  // nothing (more) crosses the aggressor's limit
  SelfTrade,  // self-trade prevention cancelled the aggressor
};

struct MatchResult {
  Lots filled_lots = 0;
  Quote filled_notional = 0;
  MatchStop stop = MatchStop::Liquidity;
};

class OrderBook {
 public:
  OrderBook() = default;

  // Matches the aggressor against the opposite side. Updates a.qty_lots and
  // a.budget_quote to what is left. Appends Trade and (Stp) OrderCancelled events.
  MatchResult match(Aggressor& a, EventLog& log);

  // Order ids. An id is (sequence << kHandleBits) | pool slot: ids increase and
  // are never reused, and the low bits locate the order without an index.
  // assign_id() reserves a slot (kNoOrder when kMaxLiveOrders are in use); the
  // id must then be either rested with rest() or given back with discard().
  static constexpr unsigned kHandleBits = 24;
  static constexpr std::uint64_t kMaxLiveOrders = std::uint64_t{1} << kHandleBits;
  OrderId assign_id();
  void discard(OrderId id);

  // Rests an order (its id from assign_id()) at the back of its price level.
  void rest(OrderId id, AgentId agent, Side side, Ticks price_ticks, Lots qty_lots);

  // Reduces a resting order by qty (clamped to its remaining quantity) and
  // appends an OrderCancelled event with the given reason. Returns the lots
  // removed (0 if the order does not exist).
  Lots reduce(OrderId id, Lots qty_lots, CancelReason reason, EventLog& log);

  const RestingOrder* find(OrderId id) const {
    const OrderHandle h = handle_of(id);
    return (id != kNoOrder && h < orders_.size() && orders_[h].id == id) ? &orders_[h] : nullptr;
  }

  // True when an aggressor on `side` limited at `limit` would match at once.
  bool crosses(Side side, Ticks limit_ticks) const;
  // True when a FOK aggressor could be filled completely, honouring its STP mode.
  bool can_fill(Side side, Ticks limit_ticks, Lots qty_lots, AgentId agent, Stp stp) const;

  bool empty(Side side) const { return side_levels(side).empty(); }
  // Best price on a side, or 0 when the side is empty.
  Ticks best(Side side) const {
    const auto& v = side_levels(side);
    return v.empty() ? 0 : v.back().price_ticks;
  }

  // Levels from the best price outwards: index 0 is the best level.
  std::size_t level_count(Side side) const { return side_levels(side).size(); }
  const PriceLevel& level(Side side, std::size_t i) const {
    const auto& v = side_levels(side);
    return levels_[v[v.size() - 1 - i].level];
  }
  // Orders of a level in queue order.
  template <class F>
  void for_each_order_at(Side side, std::size_t i, F&& f) const {
    for (OrderHandle h = level(side, i).head; h != kNullHandle; h = orders_[h].next) f(orders_[h]);
  }
  // Every resting order, bids then asks, each side from the best level, queue order.
  template <class F>
  void for_each_order(F&& f) const {
    for (Side s : {Side::Buy, Side::Sell})
      for (std::size_t i = 0; i < level_count(s); ++i) for_each_order_at(s, i, f);
  }
  std::size_t order_count() const { return live_orders_; }
  // True for an id this book has handed out (live or not): ids are never reused.
  bool issued(OrderId id) const {
    const std::uint64_t seq = id >> kHandleBits;
    return seq >= 1 && seq < next_seq_;
  }

  void save(StateWriter& w) const;
  void load(StateReader& r);
  // Checks a loaded book's structure and throws CheckpointError (its message starts with
  // `where`) unless: the ladders are strictly sorted, uncrossed, and each rung names its own level
  // of the same price; every level is either on a ladder or free, never both; each level's
  // orders form a proper doubly linked list (no cycle, no order in two places) of live orders
  // on that side at that price, with quantity in [1, kMaxQtyLots], and the level's count and
  // total match them; every slot is either a live order (its id locates its slot and was issued
  // before next_seq_) or free, never both; the live count matches. Linear in the book's size.
  void check_loaded(const std::string& where) const;

 private:
  // A side is a ladder of (price, level handle) sorted worst → best, so the best
  // level is at the back and insertions and removals near the touch move few
  // elements. The levels themselves live in a pool and do not move.
  struct Rung {
    Ticks price_ticks;
    LevelHandle level;
    std::uint32_t pad = 0;  // explicit, so that saved bytes are determined
  };
  std::vector<Rung>& side_levels(Side s) { return s == Side::Buy ? bids_ : asks_; }
  const std::vector<Rung>& side_levels(Side s) const { return s == Side::Buy ? bids_ : asks_; }
  // Index of the rung with this price, or the index where it would be inserted.
  std::size_t rung_position(Side s, Ticks price) const;
  static OrderHandle handle_of(OrderId id) { return static_cast<OrderHandle>(id & (kMaxLiveOrders - 1)); }
  void free_order(OrderHandle h);
  LevelHandle allocate_level(Ticks price);
  void unlink(PriceLevel& lvl, OrderHandle h);
  // Removes an emptied level from its side's ladder and returns it to the pool.
  void drop_level(Side s, LevelHandle lh);
  void cancel_resting(OrderHandle h, Lots qty, CancelReason reason, EventLog& log);

  std::vector<Rung> bids_;
  std::vector<Rung> asks_;
  std::vector<PriceLevel> levels_;
  std::vector<LevelHandle> free_levels_;
  std::vector<RestingOrder> orders_;  // a free slot has id kNoOrder
  std::vector<OrderHandle> free_;
  std::uint64_t next_seq_ = 1;
  std::size_t live_orders_ = 0;
};

}  // namespace taosim
