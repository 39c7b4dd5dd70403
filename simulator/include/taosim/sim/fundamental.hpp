// The fundamental price of a book (SPEC §5): a log-space jump diffusion
//   X_t = X_0 · exp((μ − σ²/2)·t + σ·W_t + J_t),  t in days,
// advanced every `update_s` seconds; at each update a jump N(0, jump_sigma) occurs
// with probability `jump_rate`. jump_rate = 0 gives geometric Brownian motion.
// With a replayed series the price is instead the last point at or before the
// current time (times from the simulation start), and no random draw is made.
// The same class drives the external signal that signal traders follow.
//
// Clustered information flow (optional, intensity_sigma > 0): the variance of the diffusion and
// the jump probability of each update are scaled by an intensity λ = exp(x), where x is an
// Ornstein-Uhlenbeck process with mean −s²/2, stationary s.d. s = intensity_sigma and time
// constant intensity_time_s, so that E[λ] = 1 and the process keeps its average variance.
// Volatility then follows the rate of news, as in the mixture-of-distributions hypothesis
// (Clark 1973; Tauchen & Pitts 1983; Andersen 1996): calm and busy hours alternate. The jump
// probability is jump_rate · λ^p / E[λ^p] with p = intensity_jump_power (E[λ^p] = exp(p(p−1)s²/2)):
// p = 1 runs the jumps in the same business time as the diffusion; p > 1 gathers them into the
// busiest hours (news shocks come in bursts), with the same mean rate.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

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
  double intensity_sigma = 0.0;     // s.d. of the log intensity (0: constant intensity 1)
  double intensity_time_s = 3600.0; // its mean-reversion time, seconds
  double intensity_jump_power = 1.0; // p: the jump probability grows with λ^p
  // A replayed series (increasing times in ns from the start, prices in ticks > 0).
  std::vector<TimeNs> replay_ts_ns;
  std::vector<double> replay_price_ticks;
};

class FundamentalProcess {
 public:
  FundamentalProcess() = default;
  explicit FundamentalProcess(const FundamentalConfig& c)
      : c_(c),
        log_price_(std::log(c.replay_price_ticks.empty() ? c.start_price_ticks : c.replay_price_ticks.front())),
        dt_days_(c.update_s / 86'400.0),
        log_intensity_(-0.5 * c.intensity_sigma * c.intensity_sigma),
        jump_norm_(std::exp(0.5 * c.intensity_jump_power * (c.intensity_jump_power - 1.0) * c.intensity_sigma *
                            c.intensity_sigma)) {}

  double price_ticks() const { return std::exp(log_price_); }
  double intensity() const { return std::exp(log_intensity_); }
  TimeNs update_ns() const { return static_cast<TimeNs>(c_.update_s * 1e9); }

  void save(StateWriter& w) const {
    w.pod(log_price_);
    w.pod(log_intensity_);
    w.pod<std::uint64_t>(replay_next_);
  }
  void load(StateReader& r) {
    r.pod(log_price_);
    r.pod(log_intensity_);
    if (!std::isfinite(log_price_) || !std::isfinite(log_intensity_) || std::abs(log_intensity_) > 700.0)
      throw CheckpointError("checkpoint has a price process state that is not finite");
    replay_next_ = r.pod<std::uint64_t>();
    if (replay_next_ > c_.replay_ts_ns.size()) throw CheckpointError("checkpoint has a different replay series");
  }

  // Advances the price to time `now` (ns from the start).
  void update(Rng& rng, TimeNs now) {
    if (!c_.replay_ts_ns.empty()) {
      std::size_t last = replay_next_;
      while (replay_next_ < c_.replay_ts_ns.size() && c_.replay_ts_ns[replay_next_] <= now) last = replay_next_++;
      if (last < replay_next_) log_price_ = std::log(c_.replay_price_ticks[last]);
      return;
    }
    double lambda = 1.0, jump_scale = 1.0;
    if (c_.intensity_sigma > 0.0) {
      const double s = c_.intensity_sigma, mean = -0.5 * s * s;
      const double a = std::exp(-c_.update_s / c_.intensity_time_s);
      log_intensity_ = mean + a * (log_intensity_ - mean) + s * std::sqrt(1.0 - a * a) * rng.normal();
      // |x| is bounded so that λ stays a finite positive double whatever the draws.
      log_intensity_ = std::clamp(log_intensity_, mean - 12.0 * s, mean + 12.0 * s);
      lambda = std::exp(log_intensity_);
      jump_scale = std::exp(c_.intensity_jump_power * log_intensity_) / jump_norm_;
    }
    const double sigma = c_.sigma_per_sqrt_day * std::sqrt(lambda);
    log_price_ += (c_.mu_per_day - 0.5 * sigma * sigma) * dt_days_ + sigma * std::sqrt(dt_days_) * rng.normal();
    if (c_.jump_rate > 0.0 && rng.uniform() < std::min(1.0, c_.jump_rate * jump_scale)) log_price_ += c_.jump_sigma * rng.normal();
  }

 private:
  FundamentalConfig c_;
  double log_price_ = 0.0;
  double dt_days_ = 0.0;
  double log_intensity_ = 0.0;  // x: λ = exp(x)
  double jump_norm_ = 1.0;      // E[λ^p]
  std::size_t replay_next_ = 0;  // index of the first replay point not yet reached
};

}  // namespace taosim
