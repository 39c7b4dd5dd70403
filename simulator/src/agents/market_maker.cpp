#include "taosim/agents/market_maker.hpp"

#include <algorithm>
#include <cmath>

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
  r.done();
  return p;
}

std::pair<double, double> MarketMaker::quotes(const Params& p, double s, double q, double left) {
  const double reservation = s - q * p.gamma * p.sigma2 * left;
  const double spread = p.gamma * p.sigma2 * left + (2.0 / p.gamma) * std::log(1.0 + p.gamma / p.kappa);
  return {reservation - spread / 2.0, reservation + spread / 2.0};
}

void MarketMaker::on_start(AgentContext& ctx) { schedule(ctx, 0.0); }

void MarketMaker::schedule(AgentContext& ctx, double inventory) {
  const double period = p_.period_s / (1.0 + std::abs(inventory) / p_.inventory_limit);
  const double delay_s = period * (0.5 + ctx.rng().uniform());  // jitter keeps makers apart
  ctx.wake_after(std::max<TimeNs>(1, static_cast<TimeNs>(delay_s * 1e9)));
}

void MarketMaker::on_wakeup(AgentContext& ctx) {
  Rng& rng = ctx.rng();
  const OrderBook& book = ctx.book();
  const Ticks best_bid = book.best(Side::Buy), best_ask = book.best(Side::Sell);
  const double mid_ticks = (best_bid && best_ask) ? 0.5 * static_cast<double>(best_bid + best_ask)
                                                   : ctx.fundamental_ticks();
  const Account& acc = ctx.account();
  const double q = static_cast<double>(acc.base.total() - acc.start_base_lots) * p_.lot_size;
  const double session_ns = p_.session_s * 1e9;
  const double left = 1.0 - std::fmod(static_cast<double>(ctx.now()), session_ns) / session_ns;

  auto [bid, ask] = quotes(p_, mid_ticks * p_.tick_size, q, left);
  Ticks bid_t = static_cast<Ticks>(std::floor(bid / p_.tick_size + p_.quote_noise_ticks * rng.normal()));
  Ticks ask_t = static_cast<Ticks>(std::ceil(ask / p_.tick_size + p_.quote_noise_ticks * rng.normal()));
  // When the market is tighter than the model's spread, join the touch.
  if (best_bid && best_ask && static_cast<double>(best_ask - best_bid) * p_.tick_size < ask - bid) {
    bid_t = best_bid;
    ask_t = best_ask;
  }
  // Never cross the other side (quotes are post-only; a crossing one would be refused).
  if (best_ask) bid_t = std::min<Ticks>(bid_t, best_ask - 1);
  if (best_bid) ask_t = std::max<Ticks>(ask_t, best_bid + 1);
  bid_t = std::max<Ticks>(1, bid_t);
  ask_t = std::max<Ticks>(bid_t + 1, ask_t);

  for (OrderId id : own_.ids()) ctx.submit(Cancel{0, 0, id, 0, 0});
  auto quote = [&](Side side, Ticks price) {
    const double size = std::exp(p_.size_mu + p_.size_sigma * rng.normal());
    PlaceLimit o;
    o.side = side;
    o.price_ticks = price;
    o.qty_lots = std::max<Lots>(1, static_cast<Lots>(std::llround(size / p_.lot_size)));
    o.tif = TimeInForce::GTT;
    o.post_only = true;  // a maker never takes
    o.expiry_ns = ctx.now() + static_cast<TimeNs>(p_.lifetime_s * 1e9);
    ctx.submit(o);
  };
  // Beyond ψ only the reducing side is quoted, except that an empty side of the book is
  // always quoted (the continuous two-sided quoting obligation of a designated maker).
  if (q < p_.inventory_limit || !best_bid) quote(Side::Buy, bid_t);
  if (q > -p_.inventory_limit || !best_ask) quote(Side::Sell, ask_t);
  schedule(ctx, q);
}

}  // namespace taosim
