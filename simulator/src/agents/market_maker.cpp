#include "taosim/agents/market_maker.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace taosim {

MarketMaker::Params MarketMaker::Params::from(const AgentParams& params) {
  Params p;
  ParamReader r("market_maker", params);
  r.read("gamma", p.gamma, 1e-9, 1e6);
  r.read("sigma2", p.sigma2, 0.0, 1e6);
  r.read("kappa", p.kappa, 1e-9, 1e9);
  r.read("session_s", p.session_s, 1.0, 1e8);
  r.read("inventory_limit", p.inventory_limit, 1e-9, 1e12);
  r.read("tick_size", p.tick_size, 1e-12, 1e6);
  r.read("lot_size", p.lot_size, 1e-12, 1e6);
  r.read("size_mu", p.size_mu, -50.0, 50.0);
  r.read("size_sigma", p.size_sigma, 0.0, 10.0);
  r.read("quote_noise_ticks", p.quote_noise_ticks, 0.0, 1e6);
  r.read("period_s", p.period_s, 1e-6, 86'400.0);
  r.read("lifetime_s", p.lifetime_s, 1e-6, 86'400.0);
  r.read("fair_value_weight", p.fair_value_weight, 0.0, 1.0);
  r.read("skew_ticks", p.skew_ticks, 0.0, 1e6);
  r.read("levels", p.levels, 1.0, 100.0);
  r.read("level_spacing_ticks", p.level_spacing_ticks, 1.0, 1e6);
  r.read("level_size_growth", p.level_size_growth, 0.0, 100.0);
  r.read("vol_window_s", p.vol_window_s, 1e-3, 1e7);
  r.read("vol_ref", p.vol_ref, 1e-9, 10.0);
  r.read("vol_max", p.vol_max, 1.0, 100.0);
  r.done();
  return p;
}

std::pair<double, double> MarketMaker::quotes(const Params& p, double s, double q, double left) {
  const double reservation = s - q * p.gamma * p.sigma2 * left;
  const double spread = p.gamma * p.sigma2 * left + (2.0 / p.gamma) * std::log(1.0 + p.gamma / p.kappa);
  return {reservation - spread / 2.0, reservation + spread / 2.0};
}

void MarketMaker::on_start(AgentContext& ctx) {
  offset_ticks_ = p_.quote_noise_ticks * ctx.rng().normal();
  schedule(ctx, 0.0);
}

void MarketMaker::schedule(AgentContext& ctx, double inventory) {
  const double period = p_.period_s / (1.0 + std::abs(inventory) / p_.inventory_limit);
  const double delay_s = period * (0.5 + ctx.rng().uniform());  // jitter keeps makers apart
  ctx.wake_after(std::max<TimeNs>(1, static_cast<TimeNs>(delay_s * 1e9)));
}

void MarketMaker::on_wakeup(AgentContext& ctx) {
  Rng& rng = ctx.rng();
  const OrderBook& book = ctx.book();
  const Ticks best_bid = book.best(Side::Buy), best_ask = book.best(Side::Sell);
  const double fundamental = ctx.fundamental_ticks();
  const double mid_ticks = (best_bid && best_ask) ? 0.5 * static_cast<double>(best_bid + best_ask) : fundamental;
  if (best_bid && best_ask) {
    const double dt_s = static_cast<double>(ctx.now() - last_ns_) * 1e-9;
    if (last_mid_ > 0.0 && dt_s > 0.0) {
      const double r = std::log(mid_ticks / last_mid_);
      const double a = std::exp(-dt_s / p_.vol_window_s);
      var_rate_ = a * var_rate_ + (1.0 - a) * r * r / dt_s;
    }
    last_mid_ = mid_ticks;
    last_ns_ = ctx.now();
  }
  const double v = volatility_ratio();
  const double fair = p_.fair_value_weight * fundamental + (1.0 - p_.fair_value_weight) * mid_ticks;
  const Account& acc = ctx.account();
  const double q = static_cast<double>(acc.base.total() - acc.start_base_lots) * p_.lot_size;
  const double session_ns = p_.session_s * 1e9;
  const double left = 1.0 - std::fmod(static_cast<double>(ctx.now()), session_ns) / session_ns;

  auto [bid, ask] = quotes(p_, fair * p_.tick_size, q, left);
  const double half = 0.5 * (ask - bid) * (v - 1.0);
  bid -= half;
  ask += half;
  const double shift = offset_ticks_ - p_.skew_ticks * q / p_.inventory_limit;
  Ticks bid_t = static_cast<Ticks>(std::floor(bid / p_.tick_size + shift));
  Ticks ask_t = static_cast<Ticks>(std::ceil(ask / p_.tick_size + shift));
  // Never cross the other side (quotes are post-only; a crossing one would be refused).
  if (best_ask) bid_t = std::min<Ticks>(bid_t, best_ask - 1);
  if (best_bid) ask_t = std::max<Ticks>(ask_t, best_bid + 1);
  bid_t = std::max<Ticks>(1, bid_t);
  ask_t = std::max<Ticks>(bid_t + 1, ask_t);

  // Beyond ψ only the reducing side is quoted, except that an empty side of the book is
  // always quoted (the continuous two-sided quoting obligation of a designated maker).
  const bool quote_bid = q < p_.inventory_limit || !best_bid;
  const bool quote_ask = q > -p_.inventory_limit || !best_ask;
  const auto spacing = std::max<Ticks>(1, static_cast<Ticks>(std::lround(p_.level_spacing_ticks * v)));
  auto target = [&](Side side, std::uint32_t i) -> Ticks {
    return side == Side::Buy ? bid_t - static_cast<Ticks>(i) * spacing : ask_t + static_cast<Ticks>(i) * spacing;
  };
  // Rung i of a side spans [i·spacing, (i+1)·spacing) ticks from the quote at the touch. A resting
  // quote within a rung is kept (one per rung), so a small move of the fair value costs a few
  // orders at the ends of the ladder, not the whole ladder; the others are cancelled and the
  // rungs left empty are quoted.
  std::vector<bool> have(2 * p_.levels, false);
  for (OrderId id : own_.ids()) {
    const RestingOrder* o = book.find(id);
    bool keep = false;
    if (o != nullptr && (o->side == Side::Buy ? quote_bid : quote_ask)) {
      const Ticks d = o->side == Side::Buy ? bid_t - o->price_ticks : o->price_ticks - ask_t;
      if (d >= 0 && d / spacing < static_cast<Ticks>(p_.levels)) {
        const std::size_t slot = (o->side == Side::Buy ? 0 : p_.levels) + static_cast<std::size_t>(d / spacing);
        keep = !have[slot];
        have[slot] = true;
      }
    }
    if (!keep) ctx.submit(Cancel{0, 0, id, 0, 0});
  }
  auto place = [&](Side side, std::uint32_t i) {
    const double size = std::exp(p_.size_mu + p_.size_sigma * rng.normal()) * (1.0 + p_.level_size_growth * i) / v;
    const Ticks price = target(side, i);
    if (price < 1) return;
    PlaceLimit o;
    o.side = side;
    o.price_ticks = price;
    o.qty_lots = std::max<Lots>(1, static_cast<Lots>(std::llround(size / p_.lot_size)));
    o.tif = TimeInForce::GTT;
    o.post_only = true;  // a maker never takes
    o.expiry_ns = ctx.now() + static_cast<TimeNs>(p_.lifetime_s * 1e9);
    ctx.submit(o);
  };
  for (std::uint32_t i = 0; i < p_.levels; ++i) {
    if (quote_bid && !have[i]) place(Side::Buy, i);
    if (quote_ask && !have[p_.levels + i]) place(Side::Sell, i);
  }
  schedule(ctx, q);
}

double MarketMaker::volatility_ratio() const {
  const double ref_rate = p_.vol_ref * p_.vol_ref / 86'400.0;
  return std::clamp(std::sqrt(var_rate_ / ref_rate), 1.0, p_.vol_max);
}

void MarketMaker::save(StateWriter& w) const {
  own_.save(w);
  w.pod(offset_ticks_);
  w.pod(var_rate_);
  w.pod(last_mid_);
  w.pod(last_ns_);
}

void MarketMaker::load(StateReader& r) {
  own_.load(r);
  r.pod(offset_ticks_);
  r.pod(var_rate_);
  r.pod(last_mid_);
  r.pod(last_ns_);
}

std::string MarketMaker::check_loaded(const LoadedContext& ctx) const {
  if (auto why = own_.check_loaded(ctx); !why.empty()) return why;
  if (auto why = check_finite({{"quote offset", offset_ticks_}, {"variance", var_rate_}, {"last mid", last_mid_}});
      !why.empty())
    return why;
  if (var_rate_ < 0) return "variance " + std::to_string(var_rate_) + " is negative";
  if (last_mid_ != 0 && !(last_mid_ >= 1 && last_mid_ <= static_cast<double>(kMaxPriceTicks)))
    return "last mid " + std::to_string(last_mid_) + " is not a price";
  if (last_ns_ < 0 || last_ns_ > ctx.now) return "last observation at " + std::to_string(last_ns_) + ", after the clock";
  return {};
}

}  // namespace taosim
