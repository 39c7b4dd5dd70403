#include "taosim/agents/initialization_agent.hpp"

#include <cmath>

namespace taosim {

InitializationAgent::Params InitializationAgent::Params::from(const AgentParams& params) {
  Params p;
  ParamReader r("initialization", params);
  r.read("orders", p.orders, 1.0, 1'000.0);
  r.read("tau_s", p.tau_s, 1e-3, 86'400.0);
  r.read("spread_ticks", p.spread_ticks, 1.0, 1e6);
  r.read("fraction", p.fraction, 0.0, 1.0);
  r.done();
  return p;
}

void InitializationAgent::on_start(AgentContext& ctx) {
  Rng& rng = ctx.rng();
  const Account& acc = ctx.account();
  const auto centre = static_cast<Ticks>(std::llround(ctx.fundamental_ticks()));
  const double per_order = p_.fraction / p_.orders;
  for (std::uint32_t k = 0; k < p_.orders; ++k) {
    const Side side = rng.below(2) == 0 ? Side::Buy : Side::Sell;
    const Ticks offset = rng.between(1, p_.spread_ticks);
    PlaceLimit o;
    o.side = side;
    o.price_ticks = std::max<Ticks>(1, side == Side::Buy ? centre - offset : centre + offset);
    o.qty_lots = side == Side::Buy
                     ? static_cast<Lots>(per_order * static_cast<double>(acc.quote.free) / o.price_ticks)
                     : static_cast<Lots>(per_order * static_cast<double>(acc.base.free));
    if (o.qty_lots >= 1) ctx.submit(o);
  }
  ctx.wake_after(static_cast<TimeNs>(p_.tau_s * 1e9));
}

void InitializationAgent::on_wakeup(AgentContext& ctx) {
  for (OrderId id : own_.ids()) ctx.submit(Cancel{0, 0, id, 0, 0});
}

}  // namespace taosim
