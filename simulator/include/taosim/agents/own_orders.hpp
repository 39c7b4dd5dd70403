// The ids of an agent's own live orders, kept up to date from its events.
#pragma once

#include <algorithm>
#include <vector>

#include "taosim/agents/agent.hpp"
#include "taosim/events.hpp"
#include "taosim/state.hpp"

namespace taosim {

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

 protected:
  OwnOrders own_;
};

}  // namespace taosim
