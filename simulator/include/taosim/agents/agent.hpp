// Background agents: plug-ins with a small lifecycle and a narrow context.
//
// An agent never sees the exchange, the simulation or other agents. It acts
// through its AgentContext: submit an instruction (which reaches the exchange
// after the agent's latency), ask to be woken later, read the clock, its own
// random stream, a read-only view of its book and its own account. The kernel
// owns the clock: an agent cannot stamp its own times.
#pragma once

#include <cmath>
#include <initializer_list>
#include <string>
#include <utility>

#include "taosim/book/order_book.hpp"
#include "taosim/events.hpp"
#include "taosim/exchange/accounts.hpp"
#include "taosim/instructions.hpp"
#include "taosim/random.hpp"

namespace taosim {

class AgentContext {
 public:
  virtual ~AgentContext() = default;
  virtual TimeNs now() const = 0;
  virtual AgentId agent_id() const = 0;
  virtual BookId book_id() const = 0;
  virtual Rng& rng() = 0;
  virtual const OrderBook& book() const = 0;
  virtual const Account& account() const = 0;
  // The book's fundamental price, in ticks (a real number).
  virtual double fundamental_ticks() const = 0;
  // The external signal's current value (its own units; SimulationConfig::signal).
  virtual double signal_price() const = 0;
  // The instruction's book and agent fields are filled in by the kernel.
  virtual void submit(Instruction instruction) = 0;
  virtual void wake_after(TimeNs delay_ns) = 0;
};

// A trade on the agent's book as the public tape shows it: no agent ids.
struct PublicTrade {
  TimeNs ts_ns;
  Ticks price_ticks;
  Lots qty_lots;
  Side aggressor;
};

// What a loaded agent's state is checked against: the shard's clock, the agent's id, its book,
// whether on_start has run, and the signal the agent will next compare its observations with.
struct LoadedContext {
  TimeNs now;
  AgentId self;
  const OrderBook& book;
  bool started;
  double signal_price;
};

class BackgroundAgent {
 public:
  virtual ~BackgroundAgent() = default;
  virtual void on_start(AgentContext& ctx) = 0;
  virtual void on_wakeup(AgentContext& ctx) = 0;
  // Events about the agent's own orders (placed, rejected, fills, cancellations).
  virtual void on_event(AgentContext& ctx, const Event& event) = 0;
  // Models that follow the public trade tape of their book say so here; they are
  // then given every trade (in the book's event order) through on_market_trade.
  virtual bool watches_trades() const { return false; }
  virtual void on_market_trade(AgentContext& /*ctx*/, const PublicTrade& /*trade*/) {}
  // The agent's internal state, for checkpoints (parameters come from the config).
  virtual void save(StateWriter& w) const = 0;
  virtual void load(StateReader& r) = 0;
  // What is wrong with a loaded state (empty when nothing): values the agent could never have
  // reached (times after the clock, non-finite or negative estimates, indices out of range,
  // orders of other agents).
  virtual std::string check_loaded(const LoadedContext& /*ctx*/) const { return {}; }
};

// "" when every value is finite, else a message naming the first that is not.
inline std::string check_finite(std::initializer_list<std::pair<const char*, double>> values) {
  for (const auto& [name, v] : values)
    if (!std::isfinite(v)) return std::string(name) + " is not finite";
  return {};
}

// "" when `seen`, a signal value an agent observed earlier, can be compared with the current one
// `now`: both > 0 and their log ratio finite (what on_start leaves; any real signal keeps it).
inline std::string check_observed_signal(double seen, double now) {
  if (!(seen > 0.0) || !std::isfinite(std::log(now / seen)))
    return "last signal seen " + std::to_string(seen) + " cannot be compared with the current " + std::to_string(now);
  return {};
}

}  // namespace taosim
