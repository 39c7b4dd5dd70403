// The ids of an agent's own live orders, kept up to date from its events.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "taosim/agents/agent.hpp"
#include "taosim/events.hpp"
#include "taosim/state.hpp"

namespace taosim {

// "" when `id`, an order an agent says is its own, was issued by its book and, if still resting,
// is the agent's; else what is wrong.
inline std::string check_own_order(OrderId id, const LoadedContext& ctx) {
  if (!ctx.book.issued(id)) return "tracks order " + std::to_string(id) + ", which its book never issued";
  if (const RestingOrder* o = ctx.book.find(id); o && o->agent != ctx.self)
    return "tracks order " + std::to_string(id) + " of agent " + std::to_string(o->agent);
  return {};
}

class OwnOrders {
 public:
  void on_event(const Event& e, AgentId self) {
    switch (static_cast<EventKind>(e.kind)) {
      case EventKind::OrderPlaced:
        if (e.price_ticks != 0) ids_.push_back(e.order_id);  // limit orders only
        break;
      case EventKind::OrderCancelled:
        if (e.remaining_lots == 0) forget(e.order_id);
        break;
      case EventKind::Trade:
        if (e.other_agent == self && e.remaining_lots == 0) forget(e.other_order_id);
        break;
      case EventKind::CancelRejected:
        forget(e.order_id);  // already filled or gone
        break;
      default:
        break;
    }
  }
  const std::vector<OrderId>& ids() const { return ids_; }
  bool empty() const { return ids_.empty(); }
  OrderId oldest() const { return ids_.front(); }
  void save(StateWriter& w) const { w.vec(ids_); }
  void load(StateReader& r) { r.vec(ids_); }
  // Every tracked id was issued by the agent's book, and one still resting is the agent's own.
  std::string check_loaded(const LoadedContext& ctx) const {
    for (OrderId id : ids_)
      if (auto why = check_own_order(id, ctx); !why.empty()) return why;
    return {};
  }

 private:
  void forget(OrderId id) {
    const auto it = std::find(ids_.begin(), ids_.end(), id);
    if (it != ids_.end()) ids_.erase(it);
  }
  std::vector<OrderId> ids_;  // in placement order
};

// Base of the models whose only state is the list of their own live orders.
class OrderTrackingAgent : public BackgroundAgent {
 public:
  void on_event(AgentContext& ctx, const Event& e) override { own_.on_event(e, ctx.agent_id()); }
  void save(StateWriter& w) const override { own_.save(w); }
  void load(StateReader& r) override { own_.load(r); }
  std::string check_loaded(const LoadedContext& ctx) const override { return own_.check_loaded(ctx); }

 protected:
  OwnOrders own_;
};

}  // namespace taosim
