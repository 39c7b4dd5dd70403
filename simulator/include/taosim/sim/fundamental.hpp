// The fundamental price of a book (SPEC §5): a log-space jump diffusion
//   X_t = X_0 · exp((μ − σ²/2)·t + σ·W_t + J_t),  t in days,
// advanced every `update_s` seconds; at each update a jump N(0, jump_sigma) occurs
// with probability `jump_rate`. jump_rate = 0 gives geometric Brownian motion.
#pragma once

#include <cmath>

#include "taosim/random.hpp"
#include "taosim/types.hpp"

namespace taosim {

struct FundamentalConfig {
  double start_price_ticks = 30'000.0;
  double sigma_per_sqrt_day = 0.012;
  double mu_per_day = 0.0;
  double jump_rate = 0.002;      // probability of a jump per update
  double jump_sigma = 0.00335;   // standard deviation of a jump's log size
  double update_s = 10.0;
};

class FundamentalProcess {
 public:
  FundamentalProcess() = default;
  explicit FundamentalProcess(const FundamentalConfig& c)
      : c_(c), log_price_(std::log(c.start_price_ticks)), dt_days_(c.update_s / 86'400.0) {}

  double price_ticks() const { return std::exp(log_price_); }
  TimeNs update_ns() const { return static_cast<TimeNs>(c_.update_s * 1e9); }

  void save(StateWriter& w) const { w.pod(log_price_); }
  void load(StateReader& r) { r.pod(log_price_); }

  void update(Rng& rng) {
    const double sigma = c_.sigma_per_sqrt_day;
    log_price_ += (c_.mu_per_day - 0.5 * sigma * sigma) * dt_days_ + sigma * std::sqrt(dt_days_) * rng.normal();
    if (c_.jump_rate > 0.0 && rng.uniform() < c_.jump_rate) log_price_ += c_.jump_sigma * rng.normal();
  }

 private:
  FundamentalConfig c_;
  double log_price_ = 0.0;
  double dt_days_ = 0.0;
};

}  // namespace taosim
