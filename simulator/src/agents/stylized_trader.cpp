#include "taosim/agents/stylized_trader.hpp"

#include <algorithm>
#include <cmath>

namespace taosim {

StylizedTrader::Params StylizedTrader::Params::from(const AgentParams& params) {
  Params p;
  ParamReader r("stylized_trader", params);
  r.read("sigma_f", p.sigma_f, 0.0, 1e6);
  r.read("sigma_c", p.sigma_c, 0.0, 1e6);
  r.read("sigma_n", p.sigma_n, 0.0, 1e6);
  r.read("tau_f", p.tau_f, 1e-9, 1e9);
  r.read("noise_sigma", p.noise_sigma, 0.0, 1.0);
  r.read("horizon_s", p.horizon_s, 1e-3, 86'400.0);
  r.read("history", p.history, 1.0, 10'000.0);
  r.read("risk_aversion", p.risk_aversion, 1e-12, 1e12);
  r.read("sigma2_floor", p.sigma2_floor, 1e-20, 1.0);
  r.read("sigma2_cap", p.sigma2_cap, 1e-20, 1.0);
  r.read("price_range", p.price_range, 0.0, 0.5);
  r.read("max_deviation", p.max_deviation, 0.0, 0.5);
  r.read("reach_ticks", p.reach_ticks, 0.0, 1e9);
  r.read("mean_wakeup_s", p.mean_wakeup_s, 1e-6, 86'400.0);
  r.read("news_gain", p.news_gain, 0.0, 1e9);
  r.read("news_decay_s", p.news_decay_s, 1e-6, 1e7);
  r.read("news_threshold", p.news_threshold, 0.0, 1.0);
  r.read("activity_gain", p.activity_gain, 0.0, 1e9);
  r.read("conviction_gap", p.conviction_gap, 0.0, 1.0);
  r.read("max_order_lots", p.max_order_lots, 1.0, 1e12);
  r.read("tick_size", p.tick_size, 1e-12, 1e6);
  r.read("lot_size", p.lot_size, 1e-12, 1e6);
  r.done();
  if (p.sigma2_cap < p.sigma2_floor) throw std::invalid_argument("stylized_trader.sigma2_cap must be >= sigma2_floor");
  if (p.sigma_f + p.sigma_c + p.sigma_n <= 0.0)
    throw std::invalid_argument("stylized_trader: sigma_f + sigma_c + sigma_n must be > 0");
  return p;
}

double StylizedTrader::forecast(double wf, double wc, double wn, double tau_f, double log_gap_to_fundamental,
                                double mean_return, double noise) {
  const double total = wf / tau_f + wc + wn;
  if (total <= 0.0) return 0.0;
  return (wf / tau_f * log_gap_to_fundamental + wc * mean_return + wn * noise) / total;
}

double StylizedTrader::demand(double p_hat, double price, double k) { return std::log(p_hat / price) / (k * price); }

double StylizedTrader::conviction(double log_gap_to_fundamental, double conviction_gap) {
  return conviction_gap > 0.0 ? 1.0 + std::abs(log_gap_to_fundamental) / conviction_gap : 1.0;
}

namespace {
// |Laplace(σ, σ)|: location σ, scale σ, folded at zero.
double folded_laplace(Rng& rng, double sigma) {
  const double u = rng.uniform() - 0.5;  // [-0.5, 0.5)
  const double tail = std::max(1e-300, 1.0 - 2.0 * std::abs(u));
  const double x = sigma - sigma * (u < 0 ? -1.0 : 1.0) * std::log(tail);
  return std::abs(x);
}
}  // namespace

void StylizedTrader::on_start(AgentContext& ctx) {
  Rng& rng = ctx.rng();
  wf_ = folded_laplace(rng, p_.sigma_f);
  wc_ = folded_laplace(rng, p_.sigma_c);
  wn_ = folded_laplace(rng, p_.sigma_n);
  scale_ = (1.0 + wf_) / (1.0 + wc_);
  memory_ = static_cast<std::size_t>(std::clamp(std::lround(p_.history * scale_), 2L, 10'000L));
  returns_.reserve(memory_);
  last_signal_ = ctx.signal_price();
  last_ns_ = ctx.now();
  schedule(ctx);
}

void StylizedTrader::schedule(AgentContext& ctx) {
  const double delay_s = ctx.rng().exponential(p_.mean_wakeup_s / (1.0 + p_.activity_gain * news_));
  ctx.wake_after(std::max<TimeNs>(1, static_cast<TimeNs>(delay_s * 1e9)));
}

void StylizedTrader::remember(double r) {
  if (returns_.size() < memory_) {
    returns_.push_back(r);
  } else {
    returns_[next_] = r;
    next_ = (next_ + 1) % memory_;
  }
}

void StylizedTrader::on_wakeup(AgentContext& ctx) {
  Rng& rng = ctx.rng();
  const OrderBook& book = ctx.book();
  const Ticks bid = book.best(Side::Buy), ask = book.best(Side::Sell);
  // The mid of a two-sided book; a one-sided book has no meaningful mid, so the agent
  // keeps its last observation (or, before any, the fundamental) and records no return.
  double mid;
  if (bid && ask) {
    mid = 0.5 * static_cast<double>(bid + ask);
    if (last_mid_ticks_ > 0.0) remember(std::log(mid / last_mid_ticks_));
    last_mid_ticks_ = mid;
  } else {
    mid = last_mid_ticks_ > 0.0 ? last_mid_ticks_ : ctx.fundamental_ticks();
  }

  // One outstanding order: a resting one is withdrawn before the new decision.
  for (OrderId id : own_.ids()) ctx.submit(Cancel{0, 0, id, 0, 0});

  double mean = 0.0, var = 0.0;
  if (!returns_.empty()) {
    for (double r : returns_) mean += r;
    mean /= static_cast<double>(returns_.size());
    for (double r : returns_) var += (r - mean) * (r - mean);
    var /= static_cast<double>(returns_.size());
  }
  const double signal = ctx.signal_price();
  const double dt_s = static_cast<double>(ctx.now() - last_ns_) * 1e-9;
  news_ = news_ * std::exp(-dt_s / p_.news_decay_s) + std::max(0.0, std::abs(std::log(signal / last_signal_)) - p_.news_threshold);
  last_signal_ = signal;
  last_ns_ = ctx.now();
  const double noise = p_.noise_sigma * (1.0 + p_.news_gain * news_) * rng.normal();
  const double gap = std::log(ctx.fundamental_ticks() / mid);
  const double r_hat = forecast(wf_, wc_, wn_, p_.tau_f, gap, mean, noise);
  const double p = mid * p_.tick_size;
  const double p_hat = p * std::exp(r_hat);
  const double k =
      p_.risk_aversion * scale_ * std::clamp(var, p_.sigma2_floor, p_.sigma2_cap) / conviction(gap, p_.conviction_gap);

  const Account& acc = ctx.account();
  const double q = static_cast<double>(acc.base.total() - acc.start_base_lots) * p_.lot_size;
  // The price at which the agent is content with its holdings: x(p*) = q.
  const double p_star = p_hat * std::exp(-k * p_hat * q);
  const double drawn = p_star * (1.0 + p_.price_range * (2.0 * rng.uniform() - 1.0));
  const double price = std::clamp(drawn, p * (1.0 - p_.max_deviation), p * (1.0 + p_.max_deviation));
  const double change = demand(p_hat, price, k) - q;  // base units to buy (> 0) or sell (< 0)

  const Side side = change > 0 ? Side::Buy : Side::Sell;
  const double ticks = price / p_.tick_size;
  Ticks price_ticks = std::max<Ticks>(1, side == Side::Buy ? static_cast<Ticks>(std::floor(ticks))
                                                             : static_cast<Ticks>(std::ceil(ticks)));
  // An eager order reaches at most reach_ticks beyond the opposite best price.
  if (side == Side::Buy && ask) price_ticks = std::min(price_ticks, ask + p_.reach_ticks);
  if (side == Side::Sell && bid) price_ticks = std::max<Ticks>(std::max<Ticks>(1, bid - p_.reach_ticks), price_ticks);
  double lots = std::min(std::abs(change) / p_.lot_size, static_cast<double>(p_.max_order_lots));
  // Free balances bound the order (the withdrawn order's reservation is still held
  // until its cancel arrives, so this is conservative).
  const double affordable = side == Side::Buy ? static_cast<double>(acc.quote.free) / static_cast<double>(price_ticks)
                                              : static_cast<double>(acc.base.free);
  lots = std::min(lots, affordable);
  if (lots >= 1.0) {
    PlaceLimit o;
    o.side = side;
    o.price_ticks = price_ticks;
    o.qty_lots = static_cast<Lots>(lots);
    o.tif = TimeInForce::GTT;
    o.expiry_ns = ctx.now() + static_cast<TimeNs>(p_.horizon_s * scale_ * 1e9);
    ctx.submit(o);
  }
  schedule(ctx);
}

void StylizedTrader::save(StateWriter& w) const {
  own_.save(w);
  w.pod(wf_);
  w.pod(wc_);
  w.pod(wn_);
  w.pod(scale_);
  w.pod<std::uint64_t>(memory_);
  w.pod(last_mid_ticks_);
  w.pod(news_);
  w.pod(last_signal_);
  w.pod(last_ns_);
  w.vec(returns_);
  w.pod<std::uint64_t>(next_);
}

void StylizedTrader::load(StateReader& r) {
  own_.load(r);
  r.pod(wf_);
  r.pod(wc_);
  r.pod(wn_);
  r.pod(scale_);
  memory_ = r.pod<std::uint64_t>();
  r.pod(last_mid_ticks_);
  r.pod(news_);
  r.pod(last_signal_);
  r.pod(last_ns_);
  r.vec(returns_);
  next_ = r.pod<std::uint64_t>();
  if (memory_ < 2 || memory_ > 10'000 || returns_.size() > memory_ || next_ >= memory_ ||
      (returns_.size() < memory_ && next_ != 0))
    throw CheckpointError("checkpoint is truncated or corrupt (stylized trader)");
}

std::string StylizedTrader::check_loaded(const LoadedContext& ctx) const {
  if (auto why = own_.check_loaded(ctx); !why.empty()) return why;
  if (auto why = check_finite({{"wF", wf_}, {"wC", wc_}, {"wN", wn_}, {"scale", scale_}, {"last mid", last_mid_ticks_},
                               {"news", news_}, {"last signal", last_signal_}});
      !why.empty())
    return why;
  // A weight is |Laplace(σ, σ)| with its tail cut at 1e-300: at most σ·(1 + 691).
  if (wf_ < 0 || wc_ < 0 || wn_ < 0 || wf_ > 700 * p_.sigma_f || wc_ > 700 * p_.sigma_c || wn_ > 700 * p_.sigma_n)
    return "a weight is outside what its draw can give";
  if (scale_ != (1.0 + wf_) / (1.0 + wc_)) return "scale does not follow from the weights";
  // A mid is between two prices in [1, kMaxPriceTicks] (0 before the first), so a return
  // (the log of the ratio of two mids) is at most log(kMaxPriceTicks) ≈ 27.7 in size.
  if (last_mid_ticks_ != 0 && !(last_mid_ticks_ >= 1 && last_mid_ticks_ <= static_cast<double>(kMaxPriceTicks)))
    return "last mid " + std::to_string(last_mid_ticks_) + " is not a price";
  for (double r : returns_)
    if (!(std::abs(r) <= 28.0)) return "a remembered return is not the log ratio of two prices";
  // News is a decayed sum of the signal's log moves beyond a threshold: of order 1 in any real
  // run (one move between two doubles is at most ~1418); 1e6 keeps the wake-up rate finite.
  if (news_ < 0 || news_ > 1e6) return "news " + std::to_string(news_) + " is out of range";
  if (last_ns_ < 0 || last_ns_ > ctx.now) return "last wake-up at " + std::to_string(last_ns_) + ", after the clock";
  if (ctx.started) {
    if (auto why = check_observed_signal(last_signal_, ctx.signal_price); !why.empty()) return why;
  } else if (last_signal_ != 0 || news_ != 0 || last_mid_ticks_ != 0 || !returns_.empty()) {
    return "observations before the start";
  }
  return {};
}

}  // namespace taosim
