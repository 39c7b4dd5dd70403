#include "taosim/agents/imbalance_trader.hpp"

#include <algorithm>
#include <cmath>

namespace taosim {

ImbalanceTrader::Params ImbalanceTrader::Params::from(const AgentParams& params) {
  Params p;
  ParamReader r("imbalance_trader", params);
  r.read("window_s", p.window_s, 1e-3, 86'400.0);
  r.read("threshold_lots", p.threshold_lots, 1.0, 1e15);
  r.read("parent_lots", p.parent_lots, 1.0, 1e12);
  r.read("child_lots", p.child_lots, 1.0, 1e12);
  r.read("child_interval_s", p.child_interval_s, 1e-6, 86'400.0);
  r.read("cooldown_s", p.cooldown_s, 0.0, 86'400.0);
  r.done();
  return p;
}

void ImbalanceTrader::on_market_trade(AgentContext& ctx, const PublicTrade& t) {
  const double decay = std::exp(-static_cast<double>(t.ts_ns - last_ns_) / (p_.window_s * 1e9));
  buy_ *= decay;
  sell_ *= decay;
  last_ns_ = t.ts_ns;
  (t.aggressor == Side::Buy ? buy_ : sell_) += static_cast<double>(t.qty_lots);
  if (remaining_ > 0 || ctx.now() < cooldown_until_ns_) return;
  if (std::abs(buy_ - sell_) < p_.threshold_lots) return;
  side_ = buy_ > sell_ ? Side::Buy : Side::Sell;
  remaining_ = p_.parent_lots;
  buy_ = sell_ = 0.0;
  ctx.wake_after(1);
}

void ImbalanceTrader::on_wakeup(AgentContext& ctx) {
  if (remaining_ <= 0) return;
  const Lots child = std::min(p_.child_lots, remaining_);
  PlaceMarket m;
  m.side = side_;
  m.qty_lots = child;
  ctx.submit(m);
  remaining_ -= child;
  if (remaining_ > 0) {
    ctx.wake_after(std::max<TimeNs>(1, static_cast<TimeNs>(p_.child_interval_s * 1e9)));
  } else {
    cooldown_until_ns_ = ctx.now() + static_cast<TimeNs>(p_.cooldown_s * 1e9);
  }
}

void ImbalanceTrader::save(StateWriter& w) const {
  w.pod(buy_);
  w.pod(sell_);
  w.pod(last_ns_);
  w.pod(remaining_);
  w.pod(side_);
  w.pod(cooldown_until_ns_);
}

void ImbalanceTrader::load(StateReader& r) {
  r.pod(buy_);
  r.pod(sell_);
  r.pod(last_ns_);
  r.pod(remaining_);
  r.pod(side_);
  r.pod(cooldown_until_ns_);
}

std::string ImbalanceTrader::check_loaded(const LoadedContext& ctx) const {
  if (auto why = check_finite({{"buy volume", buy_}, {"sell volume", sell_}}); !why.empty()) return why;
  if (buy_ < 0 || sell_ < 0) return "negative traded volume";
  if (last_ns_ < 0 || last_ns_ > ctx.now) return "last trade seen at " + std::to_string(last_ns_) + ", after the clock";
  if (remaining_ < 0 || remaining_ > p_.parent_lots)
    return "parent order remainder " + std::to_string(remaining_) + " is outside [0, parent_lots]";
  if (side_ != Side::Buy && side_ != Side::Sell) return "unknown side " + std::to_string(byte_of(side_));
  if (cooldown_until_ns_ < 0) return "negative cool-down time";
  return {};
}

}  // namespace taosim
