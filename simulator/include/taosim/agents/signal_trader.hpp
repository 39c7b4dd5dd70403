// External-signal traders (SPEC §5): they follow an external price series (the
// shard's signal process: a second seeded process or a replayed series). Each
// wake-up adds the signal's log return since the last one to a momentum that decays
// exponentially, m ← m·exp(−Δt/decay_s) + r; while |m| exceeds the threshold the agent
// sends a market order in the direction of m, sized in proportion to |m|: orders grow
// with the move and fade after it. See docs/models.md.
#pragma once

#include "taosim/agents/agent.hpp"
#include "taosim/agents/params.hpp"

namespace taosim {

class SignalTrader final : public BackgroundAgent {
 public:
  struct Params {
    double mean_wakeup_s = 10.0;
    double decay_s = 300.0;             // time constant of the momentum's decay
    double threshold = 1e-3;            // |m| below this: no order
    double lots_per_return = 5'000'000; // order size per unit of |m|, lots
    Lots max_lots = 5'000;
    static Params from(const AgentParams& p);
  };
  explicit SignalTrader(const Params& p) : p_(p) {}
  void on_start(AgentContext& ctx) override;
  void on_wakeup(AgentContext& ctx) override;
  void on_event(AgentContext&, const Event&) override {}
  void save(StateWriter& w) const override;
  void load(StateReader& r) override;
  std::string check_loaded(const LoadedContext& ctx) const override;

  double momentum() const { return momentum_; }

 private:
  void schedule(AgentContext& ctx);
  Params p_;
  double last_signal_ = 0;
  TimeNs last_ns_ = 0;
  double momentum_ = 0;
};

}  // namespace taosim
