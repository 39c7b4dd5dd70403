// Initialization agents (SPEC §5): at the start each places `orders` random
// limit orders around the start price so that a book exists — buys below, sells
// above, up to spread_ticks away — sized from its balances, and cancels them
// after tau_s.
#pragma once

#include "taosim/agents/own_orders.hpp"
#include "taosim/agents/params.hpp"

namespace taosim {

class InitializationAgent final : public OrderTrackingAgent {
 public:
  struct Params {
    std::uint32_t orders = 4;
    double tau_s = 300.0;
    Ticks spread_ticks = 50;
    double fraction = 0.5;  // of the agent's balances committed at start, spread over its orders
    static Params from(const AgentParams& p);
  };
  explicit InitializationAgent(const Params& p) : p_(p) {}
  void on_start(AgentContext& ctx) override;
  void on_wakeup(AgentContext& ctx) override;

 private:
  Params p_;
};

}  // namespace taosim
