// High-frequency market makers (SPEC §5): Avellaneda–Stoikov quoting as used by
// Vuorenmaa & Wang (2014). Prices and inventory are converted to currency and base
// units with the market's tick and lot sizes (parameters), so the model's
// constants keep their published meaning. See docs/models.md.
#pragma once

#include <utility>

#include "taosim/agents/own_orders.hpp"
#include "taosim/agents/params.hpp"

namespace taosim {

class MarketMaker final : public OrderTrackingAgent {
 public:
  struct Params {
    double gamma = 0.2;              // risk aversion
    double sigma2 = 1e-5;            // price variance (currency²) over the session
    double kappa = 20.0;             // decay of order arrival intensity with distance
    double session_s = 86'400.0;     // T: (T − t)/T runs from 1 to 0 over each session
    double inventory_limit = 100.0;  // ψ, base units: beyond it only the reducing side is quoted
    double tick_size = 0.01;         // currency per tick
    double lot_size = 0.0001;        // base units per lot
    double size_mu = 0.0;            // quote size: exp(N(size_mu, size_sigma)) base units
    double size_sigma = 0.5;
    double quote_noise_ticks = 1.0;  // s.d. of the noise added to each quote
    double period_s = 1.0;           // requote period at zero inventory (shrinks as |q| grows)
    double lifetime_s = 5.0;         // quotes expire after this
    static Params from(const AgentParams& p);
  };
  explicit MarketMaker(const Params& p) : p_(p) {}
  void on_start(AgentContext& ctx) override;
  void on_wakeup(AgentContext& ctx) override;

  // The quotes for mid price s (currency), inventory q (base units) and session
  // fraction left (T − t)/T: {bid, ask} in currency, before noise and rounding.
  static std::pair<double, double> quotes(const Params& p, double s, double q, double left);

 private:
  void schedule(AgentContext& ctx, double inventory);
  Params p_;
};

}  // namespace taosim
