// The fundamental price of a book (SPEC §5): a log-space jump diffusion
//   X_t = X_0 · exp((μ − σ²/2)·t + σ·W_t + J_t),  t in days,
// advanced every `update_s` seconds; at each update a jump N(0, jump_sigma) occurs
// with probability `jump_rate`. jump_rate = 0 gives geometric Brownian motion.
// With a replayed series the price is instead the last point at or before the
// current time (times from the simulation start), and no random draw is made.
// The same class drives the external signal that signal traders follow.
#pragma once

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
        dt_days_(c.update_s / 86'400.0) {}

  double price_ticks() const { return std::exp(log_price_); }
  TimeNs update_ns() const { return static_cast<TimeNs>(c_.update_s * 1e9); }

  void save(StateWriter& w) const {
    w.pod(log_price_);
    w.pod<std::uint64_t>(replay_next_);
  }
  void load(StateReader& r) {
    r.pod(log_price_);
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
    const double sigma = c_.sigma_per_sqrt_day;
    log_price_ += (c_.mu_per_day - 0.5 * sigma * sigma) * dt_days_ + sigma * std::sqrt(dt_days_) * rng.normal();
    if (c_.jump_rate > 0.0 && rng.uniform() < c_.jump_rate) log_price_ += c_.jump_sigma * rng.normal();
  }

 private:
  FundamentalConfig c_;
  double log_price_ = 0.0;
  double dt_days_ = 0.0;
  std::size_t replay_next_ = 0;  // index of the first replay point not yet reached
};

}  // namespace taosim
