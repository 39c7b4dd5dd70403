#include "taosim/agents/random_trader.hpp"

#include <algorithm>
#include <cmath>

namespace taosim {

RandomTrader::Params RandomTrader::Params::from(const AgentParams& params) {
  Params p;
  ParamReader r("random_trader", params);
  r.read("mean_wakeup_s", p.mean_wakeup_s, 1e-6, 86'400.0);
  r.read("cancel_prob", p.cancel_prob, 0.0, 1.0);
  r.read("market_prob", p.market_prob, 0.0, 1.0);
  r.read("max_offset_ticks", p.max_offset_ticks, 1.0, 1e6);
  r.read("min_lots", p.min_lots, 1.0, 1e9);
  r.read("max_lots", p.max_lots, 1.0, 1e9);
  r.done();
  if (p.min_lots > p.max_lots) throw std::invalid_argument("random_trader.min_lots must be <= max_lots");
  if (p.cancel_prob + p.market_prob > 1.0)
    throw std::invalid_argument("random_trader.cancel_prob + market_prob must be <= 1");
  return p;
}

void RandomTrader::on_start(AgentContext& ctx) { schedule(ctx); }

void RandomTrader::schedule(AgentContext& ctx) {
  const double delay_s = ctx.rng().exponential(p_.mean_wakeup_s);
  ctx.wake_after(std::max<TimeNs>(1, static_cast<TimeNs>(delay_s * 1e9)));
}

void RandomTrader::on_wakeup(AgentContext& ctx) {
  Rng& rng = ctx.rng();
  const OrderBook& book = ctx.book();
  const double u = rng.uniform();
  const Side side = rng.below(2) == 0 ? Side::Buy : Side::Sell;
  if (u < p_.cancel_prob && !own_.empty()) {
    ctx.submit(Cancel{0, 0, own_.oldest(), 0, 0});
  } else if (u < p_.cancel_prob + p_.market_prob && !book.empty(opposite(side))) {
    PlaceMarket m;
    m.side = side;
    m.qty_lots = rng.between(p_.min_lots, p_.max_lots);
    ctx.submit(m);
  } else {
    const Ticks bid = book.best(Side::Buy), ask = book.best(Side::Sell);
    const double ref = (bid && ask) ? 0.5 * static_cast<double>(bid + ask)
                       : bid        ? static_cast<double>(bid)
                       : ask        ? static_cast<double>(ask)
                                    : ctx.fundamental_ticks();
    const Ticks offset = rng.between(1, p_.max_offset_ticks);
    const auto centre = static_cast<Ticks>(std::llround(ref));
    PlaceLimit o;
    o.side = side;
    o.price_ticks = std::max<Ticks>(1, side == Side::Buy ? centre - offset : centre + offset);
    o.qty_lots = rng.between(p_.min_lots, p_.max_lots);
    ctx.submit(o);
  }
  schedule(ctx);
}

}  // namespace taosim
