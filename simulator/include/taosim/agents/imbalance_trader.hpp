// Imbalance (algo) traders (SPEC §5): they follow the trade tape, accumulating
// aggressor volume by side with exponential forgetting; when one side leads by
// the threshold they execute a parent order in that direction as a series of
// market orders, then rest for a cool-down. See docs/models.md.
#pragma once

#include "taosim/agents/agent.hpp"
#include "taosim/agents/params.hpp"

namespace taosim {

class ImbalanceTrader final : public BackgroundAgent {
 public:
  struct Params {
    double window_s = 60.0;          // time constant of the forgetting
    double threshold_lots = 50'000;  // lead of one side's volume that starts a parent order
    Lots parent_lots = 20'000;
    Lots child_lots = 2'000;
    double child_interval_s = 1.0;
    double cooldown_s = 60.0;        // after a parent order completes
    static Params from(const AgentParams& p);
  };
  explicit ImbalanceTrader(const Params& p) : p_(p) {}
  void on_start(AgentContext&) override {}
  void on_wakeup(AgentContext& ctx) override;
  void on_event(AgentContext&, const Event&) override {}
  bool watches_trades() const override { return true; }
  void on_market_trade(AgentContext& ctx, const PublicTrade& trade) override;
  void save(StateWriter& w) const override;
  void load(StateReader& r) override;
  std::string check_loaded(const LoadedContext& ctx) const override;

  double buy_volume() const { return buy_; }
  double sell_volume() const { return sell_; }
  Lots remaining() const { return remaining_; }

 private:
  Params p_;
  double buy_ = 0.0, sell_ = 0.0;  // decayed aggressor volume by side
  TimeNs last_ns_ = 0;
  Lots remaining_ = 0;  // of the parent order being executed
  Side side_ = Side::Buy;
  TimeNs cooldown_until_ns_ = 0;
};

}  // namespace taosim
