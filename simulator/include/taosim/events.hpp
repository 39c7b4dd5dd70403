// Events: what happened on a book, in the order it happened (L3, market-by-order).
//
// One fixed-layout record for every kind, so that a batch is a plain array that
// Python reads as a numpy structured array without conversion. Which fields a
// kind uses:
//
//   kind            order_id  other_order_id agent  other_agent price  qty        remaining  notional   fees reason
//   OrderPlaced     new id    -              owner  -           limit  placed     placed     (1)        -    -
//   OrderRejected   0         -              sender -           price  requested  -          (1)        -    RejectReason
//   Trade           taker id  maker id       taker  maker       fill   fill       maker left price*qty  both -
//   OrderCancelled  order     -              owner  -           limit  cancelled  left       (2)        -    CancelReason
//   CancelRejected  target    -              sender -           -      requested  -          -          -    RejectReason
//   AccountReset    -         -              agent  -           -      -          -          -          -    -
//
// (1) the requested notional of a market order sized in quote (qty is then 0);
// (2) the unspent notional when a quote-sized market order stops early.
// Market orders have price 0 on their OrderPlaced/OrderRejected events.
//
// `side` is the order's side (for a trade: the aggressor's). `tif` is the
// TimeInForce of placed/rejected limit orders, 0 for market orders.
// client_order_id is echoed on OrderPlaced, OrderRejected and CancelRejected.
#pragma once

#include <cstdint>
#include <vector>

#include "taosim/state.hpp"
#include "taosim/types.hpp"

namespace taosim {

#pragma pack(push, 1)
struct Event {
  std::uint64_t seq = 0;  // per book, 1, 2, 3, ...
  std::int64_t ts_ns = 0;
  std::uint64_t order_id = 0;
  std::uint64_t other_order_id = 0;
  std::uint64_t client_order_id = 0;
  std::int64_t price_ticks = 0;
  std::int64_t qty_lots = 0;
  std::int64_t remaining_lots = 0;
  std::int64_t notional_quote = 0;
  std::int64_t maker_fee = 0;  // quote units; negative = rebate
  std::int64_t taker_fee = 0;
  std::uint32_t book = 0;
  std::uint32_t agent = 0;
  std::uint32_t other_agent = 0;
  std::uint8_t kind = 0;    // EventKind
  std::uint8_t side = 0;    // Side
  std::uint8_t reason = 0;  // RejectReason or CancelReason, by kind
  std::uint8_t tif = 0;     // TimeInForce, 0 when not applicable
};
#pragma pack(pop)
static_assert(sizeof(Event) == 104);

// Where a book writes its events. Stamps each event with the book id, the next
// sequence number and the current time.
class EventLog {
 public:
  explicit EventLog(BookId book = 0) : book_(book) {}

  void set_time(TimeNs now) { now_ = now; }
  TimeNs time() const { return now_; }
  BookId book() const { return book_; }
  // The sequence number of the last event pushed (0 before any).
  std::uint64_t last_seq() const { return last_seq_; }

  // Appends an event, stamping its sequence number, time and book.
  Event& push(const Event& e) {
    Event& out = events_.emplace_back(e);
    stamp(out);
    return out;
  }

  std::vector<Event>& events() { return events_; }
  const std::vector<Event>& events() const { return events_; }
  std::size_t size() const { return events_.size(); }
  Event& operator[](std::size_t i) { return events_[i]; }

  // Hands over the events collected so far and starts an empty buffer.
  std::vector<Event> take() {
    std::vector<Event> out;
    out.swap(events_);
    events_.reserve(out.capacity());
    return out;
  }
  void clear() { events_.clear(); }

  void save(StateWriter& w) const {
    w.pod(book_);
    w.pod(now_);
    w.pod(last_seq_);
    w.vec(events_);
  }
  void load(StateReader& r) {
    r.pod(book_);
    r.pod(now_);
    r.pod(last_seq_);
    r.vec(events_);
  }

 private:
  void stamp(Event& e) {
    e.seq = ++last_seq_;
    e.ts_ns = now_;
    e.book = book_;
  }
  BookId book_;
  TimeNs now_ = 0;
  std::uint64_t last_seq_ = 0;
  std::vector<Event> events_;
};

}  // namespace taosim
