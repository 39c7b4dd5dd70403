#include "taosim/agents/signal_trader.hpp"

#include <algorithm>
#include <cmath>

namespace taosim {

SignalTrader::Params SignalTrader::Params::from(const AgentParams& params) {
  Params p;
  ParamReader r("signal_trader", params);
  r.read("mean_wakeup_s", p.mean_wakeup_s, 1e-6, 86'400.0);
  r.read("decay_s", p.decay_s, 1e-6, 1e7);
  r.read("threshold", p.threshold, 0.0, 1.0);
  r.read("lots_per_return", p.lots_per_return, 0.0, 1e15);
  r.read("max_lots", p.max_lots, 1.0, 1e12);
  r.done();
  return p;
}

void SignalTrader::on_start(AgentContext& ctx) {
  last_signal_ = ctx.signal_price();
  last_ns_ = ctx.now();
  schedule(ctx);
}

void SignalTrader::schedule(AgentContext& ctx) {
  const double delay_s = ctx.rng().exponential(p_.mean_wakeup_s);
  ctx.wake_after(std::max<TimeNs>(1, static_cast<TimeNs>(delay_s * 1e9)));
}

void SignalTrader::on_wakeup(AgentContext& ctx) {
  const double s = ctx.signal_price();
  const double dt_s = static_cast<double>(ctx.now() - last_ns_) * 1e-9;
  momentum_ = momentum_ * std::exp(-dt_s / p_.decay_s) + std::log(s / last_signal_);
  last_signal_ = s;
  last_ns_ = ctx.now();
  if (std::abs(momentum_) > p_.threshold) {
    const double lots = std::min(static_cast<double>(p_.max_lots), p_.lots_per_return * std::abs(momentum_));
    const Side side = momentum_ > 0 ? Side::Buy : Side::Sell;
    const Account& acc = ctx.account();
    const OrderBook& book = ctx.book();
    // A sell needs base; a buy needs quote for a market order at the touch (with room).
    const Ticks ask = book.best(Side::Sell);
    const double affordable = side == Side::Sell ? static_cast<double>(acc.base.free)
                              : ask             ? static_cast<double>(acc.quote.free) / (1.1 * static_cast<double>(ask))
                                                : 0.0;
    const auto qty = static_cast<Lots>(std::min(lots, affordable));
    if (qty >= 1 && !book.empty(opposite(side))) {
      PlaceMarket m;
      m.side = side;
      m.qty_lots = qty;
      ctx.submit(m);
    }
  }
  schedule(ctx);
}

void SignalTrader::save(StateWriter& w) const {
  w.pod(last_signal_);
  w.pod(last_ns_);
  w.pod(momentum_);
}

void SignalTrader::load(StateReader& r) {
  r.pod(last_signal_);
  r.pod(last_ns_);
  r.pod(momentum_);
}

std::string SignalTrader::check_loaded(const LoadedContext& ctx) const {
  if (auto why = check_finite({{"last signal", last_signal_}, {"momentum", momentum_}}); !why.empty()) return why;
  if (ctx.started) {
    if (auto why = check_observed_signal(last_signal_, ctx.signal_price); !why.empty()) return why;
  } else if (last_signal_ != 0 || momentum_ != 0 || last_ns_ != 0) {
    return "observations before the start";
  }
  if (last_ns_ < 0 || last_ns_ > ctx.now) return "last wake-up at " + std::to_string(last_ns_) + ", after the clock";
  return {};
}

}  // namespace taosim
