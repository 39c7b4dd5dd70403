// High-frequency market makers (SPEC §5): Avellaneda–Stoikov quoting as used by
// Vuorenmaa & Wang (2014), around a fair value that follows the fundamental (the
// efficient price) and is shaded by the maker's inventory (Ho & Stoll 1981), on a
// ladder of price levels that is kept, not re-sent, while it stays right. Prices and
// inventory are converted to currency and base units with the market's tick and lot
// sizes (parameters), so the model's constants keep their published meaning. See
// docs/models.md.
#pragma once

#include <cstdint>
#include <utility>

#include "taosim/agents/own_orders.hpp"
#include "taosim/agents/params.hpp"

namespace taosim {

class MarketMaker final : public OrderTrackingAgent {
 public:
  struct Params {
    double gamma = 0.2;              // risk aversion
    double sigma2 = 1e-5;            // price variance (currency²) over the session
    double kappa = 100.0;            // decay of order arrival intensity with distance
    double session_s = 86'400.0;     // T: (T − t)/T runs from 1 to 0 over each session
    double inventory_limit = 100.0;  // ψ, base units: beyond it only the reducing side is quoted
    double tick_size = 0.01;         // currency per tick
    double lot_size = 0.0001;        // base units per lot
    double size_mu = 0.7;            // quote size at the touch: exp(N(size_mu, size_sigma)) base units
    double size_sigma = 0.5;
    double quote_noise_ticks = 1.0;  // s.d. of the maker's own offset from the fair value (drawn once)
    double period_s = 1.0;           // requote period at zero inventory (shrinks as |q| grows)
    double lifetime_s = 30.0;        // quotes expire after this
    double fair_value_weight = 0.0;  // weight of the fundamental (vs the mid) in the fair value
    double skew_ticks = 40.0;        // fair value shaded by skew_ticks · q/ψ (inventory q)
    std::uint32_t levels = 5;        // quotes per side
    double level_spacing_ticks = 2;  // between two quotes of a side
    double level_size_growth = 0.5;  // quote i (0 at the touch) is (1 + growth·i) times the size
    // Liquidity follows volatility: the maker's estimate of the mid's volatility (an exponential
    // average of squared log changes over vol_window_s) relative to vol_ref (per √day) gives
    // v = clamp(ratio, 1, vol_max); its spacing and distance from the fair value are × v and its
    // sizes ÷ v. vol_max = 1 turns this off.
    double vol_window_s = 600.0;
    double vol_ref = 0.012;
    double vol_max = 1.0;
    static Params from(const AgentParams& p);
  };
  explicit MarketMaker(const Params& p) : p_(p) {}
  void on_start(AgentContext& ctx) override;
  void on_wakeup(AgentContext& ctx) override;
  void save(StateWriter& w) const override;
  void load(StateReader& r) override;
  std::string check_loaded(const LoadedContext& ctx) const override;

  // The quotes for mid price s (currency), inventory q (base units) and session
  // fraction left (T − t)/T: {bid, ask} in currency, before skew, offset and rounding.
  static std::pair<double, double> quotes(const Params& p, double s, double q, double left);
  // The volatility ratio v of the last wake-up (1 = calm).
  double volatility_ratio() const;

 private:
  void schedule(AgentContext& ctx, double inventory);
  Params p_;
  double offset_ticks_ = 0.0;  // this maker's own offset from the fair value, drawn at start
  double var_rate_ = 0.0;      // exponential average of squared log mid changes, per second
  double last_mid_ = 0.0;      // ticks, 0 before the first two-sided observation
  TimeNs last_ns_ = 0;
};

}  // namespace taosim
