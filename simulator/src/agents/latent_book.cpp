#include "taosim/agents/latent_book.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace taosim {

namespace {
constexpr double kEps = 1e-9;  // lots: less than this is no latent volume
}

LatentBook::Params LatentBook::Params::from(const AgentParams& params) {
  Params p;
  ParamReader r("latent_book", params);
  const char* memories[kComponents] = {"memory_s", "memory2_s", "memory3_s"};
  const char* densities[kComponents] = {"density", "density2", "density3"};
  for (std::size_t k = 0; k < kComponents; ++k) {
    r.read(memories[k], p.memory_s[k], 1.0, 1e9);
    r.read(densities[k], p.density[k], 0.0, 1e9);
  }
  r.read("width_ticks", p.width_ticks, 0.1, 1e5);
  r.read("grid_ticks", p.grid_ticks, 10.0, 100'000.0);
  r.read("period_s", p.period_s, 1e-3, 86'400.0);
  r.read("show_ticks", p.show_ticks, 0.0, 10'000.0);
  r.read("max_levels", p.max_levels, 1.0, 1'000.0);
  r.read("max_show", p.max_show, 0.0, 1e12);
  r.read("tolerance", p.tolerance, 0.0, 1.0);
  r.read("lot_size", p.lot_size, 1e-12, 1e6);
  r.done();
  if (std::none_of(p.density.begin(), p.density.end(), [](double d) { return d > 0.0; }))
    throw std::invalid_argument("latent_book: at least one of density, density2, density3 must be > 0");
  double longest = 0.0;
  for (std::size_t k = 0; k < kComponents; ++k) {
    if (p.density[k] / p.lot_size > static_cast<double>(kMaxQtyLots))
      throw std::invalid_argument(std::string("latent_book: ") + densities[k] + " = " + std::to_string(p.density[k]) +
                                  " base is more than an order can hold (10^12 lots of lot_size " +
                                  std::to_string(p.lot_size) + ")");
    if (p.density[k] > 0.0) longest = std::max(longest, p.memory_s[k]);
  }
  // The diffusion runs in explicit steps of at most a quarter of a tick² each: bound the steps per update.
  const double per_update = p.width_ticks * p.width_ticks / longest * p.period_s;
  if (per_update > kMaxDiffusionPerUpdate)
    throw std::invalid_argument("latent_book: width_ticks² / the longest memory x period_s = " +
                                std::to_string(per_update) + " ticks² of diffusion per update, more than " +
                                std::to_string(kMaxDiffusionPerUpdate));
  return p;
}

LatentBook::LatentBook(const Params& p) : p_(p) {
  double longest = 0.0;
  for (std::size_t k = 0; k < kComponents; ++k)
    if (p_.density[k] > 0.0) {
      active_.push_back(k);
      longest = std::max(longest, p_.memory_s[k]);
    }
  diffusion_ = p_.width_ticks * p_.width_ticks / longest;
  // The stationary profile of a book whose price has stayed at the fundamental: buys below,
  // sells above, vanishing linearly at the price over each component's width √(D·M).
  const auto n = cells();
  const auto centre = static_cast<std::int64_t>(p_.grid_ticks);
  phi_.assign(active_.size() * n, 0.0);
  for (std::size_t c = 0; c < active_.size(); ++c) {
    const std::size_t k = active_[c];
    const double d = p_.density[k] / p_.lot_size;
    const double width = std::sqrt(diffusion_ * p_.memory_s[k]);
    for (std::size_t i = 0; i < n; ++i) {
      const double x = static_cast<double>(static_cast<std::int64_t>(i) - centre);
      phi_[c * n + i] = -d * ((x > 0) - (x < 0)) * (1.0 - std::exp(-std::abs(x) / width));
    }
  }
}

double LatentBook::total(std::size_t cell) const {
  double s = 0.0;
  for (std::size_t c = 0; c < active_.size(); ++c) s += phi_[c * cells() + cell];
  return s;
}

double LatentBook::net_at(std::int64_t offset) const {
  const std::int64_t cell = offset + static_cast<std::int64_t>(p_.grid_ticks);
  if (cell < 0 || cell >= static_cast<std::int64_t>(cells())) return 0.0;
  return total(static_cast<std::size_t>(cell));
}

std::pair<std::int64_t, std::int64_t> LatentBook::latent_quotes() const {
  const auto n = static_cast<std::int64_t>(cells());
  std::int64_t bid = -1;
  for (std::int64_t i = n - 1; i >= 0; --i)
    if (total(static_cast<std::size_t>(i)) > kEps) {
      bid = i;
      break;
    }
  std::int64_t ask = n;
  for (std::int64_t i = bid + 1; i < n; ++i)
    if (total(static_cast<std::size_t>(i)) < -kEps) {
      ask = i;
      break;
    }
  return {bid, ask};
}

double LatentBook::latent_price_offset() const {
  const auto [bid, ask] = latent_quotes();
  return 0.5 * static_cast<double>(bid + ask) - static_cast<double>(p_.grid_ticks);
}

void LatentBook::annihilate() {
  // Buyers and sellers at one price trade: each cell keeps only its net side, shared among the
  // components in proportion to what they held of that side.
  if (active_.size() < 2) return;
  const std::size_t n = cells();
  for (std::size_t i = 0; i < n; ++i) {
    double pos = 0.0, neg = 0.0;
    for (std::size_t c = 0; c < active_.size(); ++c) {
      const double v = phi_[c * n + i];
      (v > 0 ? pos : neg) += std::abs(v);
    }
    if (pos <= 0.0 || neg <= 0.0) continue;
    const double keep_buys = pos > neg ? (pos - neg) / pos : 0.0;
    const double keep_sells = neg > pos ? (neg - pos) / neg : 0.0;
    for (std::size_t c = 0; c < active_.size(); ++c) {
      double& v = phi_[c * n + i];
      v *= v > 0 ? keep_buys : keep_sells;
    }
  }
}

void LatentBook::evolve(double dt_s, double mid_offset) {
  if (!(dt_s > 0.0)) return;
  // The agent updates every period_s; a longer gap (only a hand-made checkpoint has one) counts as
  // kMaxGapPeriods periods, which keeps the diffusion's steps bounded.
  dt_s = std::min(dt_s, kMaxGapPeriods * p_.period_s);
  const std::size_t n = cells();
  // Diffusion: explicit steps, each stable (at most a quarter of a cell² per step).
  const auto substeps = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(diffusion_ * dt_s / 0.25)));
  const double k = diffusion_ * dt_s / static_cast<double>(substeps);
  std::vector<double>& before = scratch_;
  before.resize(n);
  for (std::size_t c = 0; c < active_.size(); ++c) {
    double* row = phi_.data() + c * n;
    for (std::size_t s = 0; s < substeps; ++s) {
      std::copy(row, row + n, before.begin());
      for (std::size_t i = 1; i + 1 < n; ++i) row[i] += k * (before[i + 1] - 2.0 * before[i] + before[i - 1]);
    }
    // Cancellation at the rate 1/M and deposition on each side of the market's price.
    const std::size_t comp = active_[c];
    const double relax = 1.0 - std::exp(-dt_s / p_.memory_s[comp]);
    const double d = p_.density[comp] / p_.lot_size;
    const double centre = static_cast<double>(p_.grid_ticks) + mid_offset;
    for (std::size_t i = 0; i < n; ++i) {
      const double x = static_cast<double>(i);
      const double side = x < centre ? 1.0 : (x > centre ? -1.0 : 0.0);
      row[i] += relax * (d * side - row[i]);
    }
  }
  annihilate();
}

void LatentBook::consume(Side side, std::int64_t offset, double lots) {
  const std::int64_t cell = offset + static_cast<std::int64_t>(p_.grid_ticks);
  if (cell < 0 || cell >= static_cast<std::int64_t>(cells()) || !(lots > 0.0)) return;
  const std::size_t n = cells(), i = static_cast<std::size_t>(cell);
  const double sign = side == Side::Buy ? 1.0 : -1.0;
  double held = 0.0;
  for (std::size_t c = 0; c < active_.size(); ++c) held += std::max(0.0, sign * phi_[c * n + i]);
  if (held <= 0.0) return;
  const double keep = 1.0 - std::min(1.0, lots / held);
  for (std::size_t c = 0; c < active_.size(); ++c) {
    double& v = phi_[c * n + i];
    if (sign * v > 0.0) v *= keep;
  }
}

void LatentBook::forget(OrderId id) {
  const auto it = std::find_if(shown_.begin(), shown_.end(), [id](const Shown& s) { return s.id == id; });
  if (it != shown_.end()) shown_.erase(it);
}

void LatentBook::on_event(AgentContext& ctx, const Event& e) {
  const AgentId self = ctx.agent_id();
  const auto fundamental = static_cast<Ticks>(std::llround(ctx.fundamental_ticks()));
  switch (static_cast<EventKind>(e.kind)) {
    case EventKind::OrderPlaced:
      if (e.agent == self && e.price_ticks != 0)
        shown_.push_back(Shown{e.order_id, e.price_ticks, static_cast<Side>(e.side), {}});
      break;
    case EventKind::Trade: {
      const Side aggressor = static_cast<Side>(e.side);
      if (e.agent == self) {  // the agent's order took liquidity: its latent volume is traded
        Ticks price = e.price_ticks;
        for (const Shown& s : shown_)
          if (s.id == e.order_id) price = s.price;  // the latent order sat at its limit
        consume(aggressor, price - fundamental, static_cast<double>(e.qty_lots));
      }
      if (e.other_agent == self) {
        consume(aggressor == Side::Buy ? Side::Sell : Side::Buy, e.price_ticks - fundamental,
                static_cast<double>(e.qty_lots));
        if (e.remaining_lots == 0) forget(e.other_order_id);
      }
      break;
    }
    case EventKind::OrderCancelled:
      if (e.remaining_lots == 0) forget(e.order_id);
      break;
    default:
      break;
  }
}

void LatentBook::requote(AgentContext& ctx) {
  const OrderBook& book = ctx.book();
  const auto fundamental = static_cast<Ticks>(std::llround(ctx.fundamental_ticks()));
  const Ticks best_bid = book.best(Side::Buy), best_ask = book.best(Side::Sell);
  const double mid = (best_bid && best_ask) ? 0.5 * static_cast<double>(best_bid + best_ask) - static_cast<double>(fundamental)
                                            : latent_price_offset();
  evolve(static_cast<double>(ctx.now() - last_ns_) * 1e-9, mid);
  last_ns_ = ctx.now();

  // What to show: the latent buys from the best one down to show_ticks below the mid, the
  // latent sells from the best one up to show_ticks above it, one order per tick.
  struct Want {
    Ticks price;
    Side side;
    Lots lots;
  };
  std::vector<Want> want;
  const auto centre = static_cast<std::int64_t>(p_.grid_ticks);
  const auto last = static_cast<std::int64_t>(cells()) - 1;
  const auto [bid, ask] = latent_quotes();
  const double cap = std::min(p_.max_show > 0.0 ? p_.max_show / p_.lot_size : std::numeric_limits<double>::infinity(),
                              static_cast<double>(kMaxQtyLots));
  // One side's orders, from cell `from` one tick at a time (step -1 for buys, +1 for sells) up to
  // cell `to`, at most max_levels of them.
  auto show = [&](Side side, std::int64_t from, std::int64_t to, std::int64_t step) {
    const double sign = side == Side::Buy ? 1.0 : -1.0;
    for (std::int64_t i = from, k = 0; (i - to) * step <= 0 && k < p_.max_levels; i += step, ++k) {
      const double v = std::min(cap, sign * total(static_cast<std::size_t>(i)));
      const Ticks price = fundamental + i - centre;
      if (v >= 1.0 && price >= 1) want.push_back(Want{price, side, static_cast<Lots>(v)});
    }
  };
  const auto reach = static_cast<std::int64_t>(p_.show_ticks);
  show(Side::Buy, bid, std::max<std::int64_t>(0, static_cast<std::int64_t>(std::floor(mid)) + centre - reach), -1);
  show(Side::Sell, ask, std::min(last, static_cast<std::int64_t>(std::ceil(mid)) + centre + reach), 1);

  // Keep a resting order where one of the same side and nearly the wanted size is, cancel the
  // rest, then place what is missing.
  std::vector<bool> kept(want.size(), false);
  std::vector<Shown> still;
  for (const Shown& s : shown_) {
    const RestingOrder* o = book.find(s.id);
    if (o == nullptr) continue;  // filled or gone
    bool keep = false;
    for (std::size_t j = 0; j < want.size() && !keep; ++j)
      if (!kept[j] && want[j].price == s.price && want[j].side == s.side &&
          std::abs(static_cast<double>(o->qty_lots - want[j].lots)) <= p_.tolerance * static_cast<double>(want[j].lots))
        keep = kept[j] = true;
    if (keep)
      still.push_back(s);
    else
      ctx.submit(Cancel{0, 0, s.id, 0, 0});
  }
  shown_ = std::move(still);
  for (std::size_t j = 0; j < want.size(); ++j) {
    if (kept[j]) continue;
    PlaceLimit o;
    o.side = want[j].side;
    o.price_ticks = want[j].price;
    o.qty_lots = want[j].lots;
    ctx.submit(o);
  }
}

void LatentBook::on_start(AgentContext& ctx) {
  last_ns_ = ctx.now();
  requote(ctx);
  ctx.wake_after(std::max<TimeNs>(1, static_cast<TimeNs>(p_.period_s * 1e9)));
}

void LatentBook::on_wakeup(AgentContext& ctx) {
  requote(ctx);
  ctx.wake_after(std::max<TimeNs>(1, static_cast<TimeNs>(p_.period_s * 1e9)));
}

void LatentBook::save(StateWriter& w) const {
  w.vec(phi_);
  w.vec(shown_);
  w.pod(last_ns_);
}

void LatentBook::load(StateReader& r) {
  r.vec(phi_);
  r.vec(shown_);
  r.pod(last_ns_);
}

std::string LatentBook::check_loaded(const LoadedContext& ctx) const {
  if (phi_.size() != active_.size() * cells())
    return "latent book has " + std::to_string(phi_.size()) + " cells, its parameters make " +
           std::to_string(active_.size() * cells());
  for (std::size_t c = 0; c < active_.size(); ++c) {
    // every step keeps each component within its density: relaxation toward ±d, diffusion (an
    // average), trades and fills (which only take volume away)
    const double bound = p_.density[active_[c]] / p_.lot_size * (1.0 + 1e-9);
    for (std::size_t i = 0; i < cells(); ++i) {
      const double v = phi_[c * cells() + i];
      if (!std::isfinite(v)) return "latent volume " + std::to_string(v) + " is not finite";
      if (std::abs(v) > bound)
        return "latent volume " + std::to_string(v) + " lots is beyond its component's density of " +
               std::to_string(bound) + " lots";
    }
  }
  if (last_ns_ < 0 || last_ns_ > ctx.now) return "last update at " + std::to_string(last_ns_) + ", after the clock";
  for (const Shown& s : shown_) {
    if (s.side != Side::Buy && s.side != Side::Sell) return "shown order " + std::to_string(s.id) + " has no side";
    if (auto why = check_own_order(s.id, ctx); !why.empty()) return why;
  }
  return {};
}

}  // namespace taosim
