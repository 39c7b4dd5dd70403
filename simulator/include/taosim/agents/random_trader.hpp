// Random traders (SPEC §5, for tests and stress): wake after an exponential
// delay; then cancel their oldest order with probability cancel_prob, or send a
// market order with probability market_prob, or else place a limit order on a
// random side, a uniform 1..max_offset ticks away from the mid (the fundamental
// when the book is empty), for a uniform min_lots..max_lots.
#pragma once

#include "taosim/agents/agent.hpp"
#include "taosim/agents/own_orders.hpp"
#include "taosim/agents/params.hpp"

namespace taosim {

class RandomTrader final : public BackgroundAgent {
 public:
  struct Params {
    double mean_wakeup_s = 10.0;
    double cancel_prob = 0.3;
    double market_prob = 0.1;
    Ticks max_offset_ticks = 20;
    Lots min_lots = 1;
    Lots max_lots = 100;
    static Params from(const AgentParams& p);
  };
  explicit RandomTrader(const Params& p) : p_(p) {}
  void on_start(AgentContext& ctx) override;
  void on_wakeup(AgentContext& ctx) override;
  void on_event(AgentContext& ctx, const Event& e) override { own_.on_event(e, ctx.agent_id()); }
  void save(StateWriter& w) const override { own_.save(w); }
  void load(StateReader& r) override { own_.load(r); }

 private:
  void schedule(AgentContext& ctx);
  Params p_;
  OwnOrders own_;
};

}  // namespace taosim
