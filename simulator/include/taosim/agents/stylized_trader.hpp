// Stylized traders (SPEC §5), after Chiarella, Iori & Perelló (2009): each agent
// mixes a fundamentalist, a chartist and a noise component with weights drawn once
// from |Laplace(σ, σ)|; its horizon, risk aversion and memory scale with
// (1 + wF)/(1 + wC). On each wake-up it forecasts the log return
//   r̂ = (wF/τF·ln(pf/p) + wC·mean(recent r) + wN·σε·ε) / (wF/τF + wC + wN),
// (the noise grows with recent moves of the external signal, like news flow),
// takes the CARA demand x(P) = ln(p̂/P)/(α σ² P) for its holdings above its starting
// inventory, draws a limit price around the price at which it is content with what it
// holds (kept within max_deviation of the mid and reach_ticks of the opposite
// best price), and places one GTT order (its only one) for the demand difference, bounded
// by its free balances. See docs/models.md for the exact rules and units.
#pragma once

#include <vector>

#include "taosim/agents/own_orders.hpp"
#include "taosim/agents/params.hpp"

namespace taosim {

class StylizedTrader final : public BackgroundAgent {
 public:
  struct Params {
    double sigma_f = 0.01;          // Laplace scale of the fundamentalist weight
    double sigma_c = 1.8;           // ... of the chartist weight
    double sigma_n = 0.7;           // ... of the noise weight
    double tau_f = 0.002;           // τF: scales the fundamentalist weight, wF/τF
    double noise_sigma = 3e-4;      // σε: s.d. of the noise component (without news)
    double horizon_s = 60.0;        // τ0: base horizon (order lifetime), seconds
    double history = 20.0;          // L0: base number of past returns remembered
    double risk_aversion = 50.0;    // α0
    double sigma2_floor = 1e-8;     // bounds on the variance of recent returns used
    double sigma2_cap = 1e-7;       //   in the demand (the estimate is noisy)
    double price_range = 1e-3;      // half-width of the price draw, relative
    double max_deviation = 5e-3;    // limit prices stay within this fraction of the mid
    Ticks reach_ticks = 0;          // and at most this far beyond the opposite best price
    double mean_wakeup_s = 90.0;
    // News makes views disperse: the noise s.d. is σε·(1 + news_gain·n), with n the
    // agent's exponentially decayed sum of the external signal's moves beyond
    // news_threshold: n ← n·exp(−Δt/news_decay_s) + max(0, |ln(S/S_last)| − news_threshold).
    double news_gain = 2000.0;
    double news_decay_s = 1200.0;
    double news_threshold = 5e-4;
    // ... and makes agents more active: the mean wake-up delay is mean_wakeup_s / (1 + activity_gain·n).
    double activity_gain = 1000.0;
    // Conviction grows with the mispricing (after Day & Huang 1990): the risk aversion used in
    // the demand is divided by 1 + |ln(pf/p)|/conviction_gap, so the position an agent takes grows
    // faster than linearly with the gap to the fundamental (0.2 bp: strongly); 0 = off.
    double conviction_gap = 2e-5;
    Lots max_order_lots = 20'000;
    double tick_size = 0.01;
    double lot_size = 0.0001;
    static Params from(const AgentParams& p);
  };
  explicit StylizedTrader(const Params& p) : p_(p) {}
  void on_start(AgentContext& ctx) override;
  void on_wakeup(AgentContext& ctx) override;
  void on_event(AgentContext& ctx, const Event& e) override { own_.on_event(e, ctx.agent_id()); }
  void save(StateWriter& w) const override;
  void load(StateReader& r) override;
  std::string check_loaded(const LoadedContext& ctx) const override;

  // The forecast log return for the given weights and inputs (no randomness: pass ε).
  static double forecast(double wf, double wc, double wn, double tau_f, double log_gap_to_fundamental,
                         double mean_return, double noise);
  // CARA demand in base units at price P (currency) for expected price p_hat and k = α σ².
  static double demand(double p_hat, double price, double k);
  // The conviction at a log gap to the fundamental: 1 + |gap|/conviction_gap (1 when off).
  static double conviction(double log_gap_to_fundamental, double conviction_gap);

  double weight_f() const { return wf_; }
  double weight_c() const { return wc_; }
  double weight_n() const { return wn_; }
  std::size_t remembered() const { return returns_.size(); }

 private:
  void schedule(AgentContext& ctx);
  void remember(double r);

  Params p_;
  OwnOrders own_;
  // Drawn at start.
  double wf_ = 0, wc_ = 0, wn_ = 0;
  double scale_ = 1;  // (1 + wF)/(1 + wC)
  std::size_t memory_ = 2;
  // Observations.
  double last_mid_ticks_ = 0;
  double news_ = 0;  // decayed sum of |signal log returns|
  double last_signal_ = 0;
  TimeNs last_ns_ = 0;
  std::vector<double> returns_;  // ring of the last memory_ log returns
  std::size_t next_ = 0;
};

}  // namespace taosim
