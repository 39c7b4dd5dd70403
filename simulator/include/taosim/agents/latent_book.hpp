// The latent order book (one agent per book): the trading intentions of slow investors that are
// not shown in the book until the price comes near them, after J. Donier, J. Bonart,
// I. Mastromatteo, J.-P. Bouchaud, "A fully consistent, minimal model for non-linear market
// impact", Quantitative Finance 15 (2015), with several memories after M. Benzaquen and
// J.-P. Bouchaud, "Market impact with multi-timescale liquidity" (arXiv:1710.03734).
//
// The agent holds the net latent demand φ (buy minus sell volume, lots per tick) of up to three
// components on a grid of ticks around the fundamental, in the fundamental's frame: the latent
// orders move with the fundamental (the investors' information). Each component diffuses (a
// coefficient shared by all, set by the width ξ of the longest-lived one), is cancelled at the
// rate 1/M of its memory M and redeposited on each side of the market's mid, so that far from the
// price |φ| → its density; buyers and sellers of different components at one price trade with
// each other. Every period the agent shows its latent volume from its best latent buy and sell
// out to show_ticks beyond the mid as limit orders, one per tick: latent buys above the market
// take what is offered up to them, as the latent buyers would. Its fills remove the latent volume
// they came from, so a metaorder eats a hole in the latent book that is refilled only as fast as
// the memories allow, which is what makes its impact concave. See docs/models.md.
#pragma once

#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "taosim/agents/agent.hpp"
#include "taosim/agents/own_orders.hpp"
#include "taosim/agents/params.hpp"

namespace taosim {

class LatentBook final : public BackgroundAgent {
 public:
  static constexpr std::size_t kComponents = 3;
  static constexpr double kMaxDiffusionPerUpdate = 100.0;  // ticks² per update: at most 400 steps
  static constexpr double kMaxGapPeriods = 100.0;          // a longer gap between updates counts as this
  struct Params {
    // Component k: memory (seconds) and density far from the price (base units per tick); a
    // component with density 0 is off. Parameters memory_s/density, memory2_s/density2, ...
    std::array<double, kComponents> memory_s = {2'592'000.0, 86'400.0, 3'600.0};
    std::array<double, kComponents> density = {0.0, 0.0, 0.0};
    double width_ticks = 40.0;      // ξ of the longest-lived component: D = ξ² / its memory
    std::uint32_t grid_ticks = 400;  // the grid spans this many ticks each side of the fundamental
    double period_s = 1.0;           // between two updates of the shown orders
    std::uint32_t show_ticks = 10;   // shown this far beyond the mid on each side
    std::uint32_t max_levels = 40;   // at most this many shown orders per side
    double max_show = 0.0;           // base units shown at most per tick (0: all of it)
    double tolerance = 0.2;          // a shown order is kept while its size is within this fraction
    double lot_size = 0.0001;        // base units per lot
    static Params from(const AgentParams& p);
  };
  explicit LatentBook(const Params& p);
  void on_start(AgentContext& ctx) override;
  void on_wakeup(AgentContext& ctx) override;
  void on_event(AgentContext& ctx, const Event& e) override;
  void save(StateWriter& w) const override;
  void load(StateReader& r) override;
  std::string check_loaded(const LoadedContext& ctx) const override;

  // For tests: the net latent demand at offset x ticks from the (rounded) fundamental, in lots
  // (0 outside the grid), and the offset of the latent price (between the best latent buy and
  // the best latent sell).
  double net_at(std::int64_t offset) const;
  double latent_price_offset() const;
  // Runs the latent book's own dynamics over dt_s with the market's mid at offset mid_offset.
  void evolve(double dt_s, double mid_offset);
  // Removes `lots` of latent volume of `side` at offset x, as a fill does.
  void consume(Side side, std::int64_t offset, double lots);
  std::size_t components() const { return active_.size(); }

 private:
  struct Shown {
    OrderId id;
    Ticks price;
    Side side;
    std::uint8_t pad[7] = {};  // explicit, so that saved bytes are determined
  };
  std::size_t cells() const { return 2 * static_cast<std::size_t>(p_.grid_ticks) + 1; }
  double total(std::size_t cell) const;
  std::pair<std::int64_t, std::int64_t> latent_quotes() const;  // best buy and sell cells (-1/cells())
  void annihilate();
  void forget(OrderId id);
  void requote(AgentContext& ctx);
  Params p_;
  std::vector<std::size_t> active_;   // the components with a density
  double diffusion_ = 0.0;            // D = ξ² / the longest memory, ticks² per second
  std::vector<double> phi_;           // component-major, lots per tick
  std::vector<Shown> shown_;          // the agent's live orders
  TimeNs last_ns_ = 0;
  std::vector<double> scratch_;       // the diffusion's previous step (not state: rewritten each step)
};

}  // namespace taosim
