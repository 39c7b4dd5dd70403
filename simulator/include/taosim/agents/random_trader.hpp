// Random traders (SPEC §5, for tests and stress): wake after an exponential
// delay; then cancel their oldest order with probability cancel_prob, or send a
// market order with probability market_prob, or else place a limit order on a
// random side, a uniform 1..max_offset ticks away from the mid (the fundamental
// when the book is empty), for a uniform min_lots..max_lots.
#pragma once

#include "taosim/agents/own_orders.hpp"
#include "taosim/agents/params.hpp"

namespace taosim {

class RandomTrader final : public OrderTrackingAgent {
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

 private:
  void schedule(AgentContext& ctx);
  Params p_;
};

}  // namespace taosim
