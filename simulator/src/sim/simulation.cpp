#include "taosim/sim/simulation.hpp"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <string>
#include <thread>

#include "taosim/agents/registry.hpp"

namespace taosim {

namespace {

constexpr std::uint32_t kMinerClass = 0;
constexpr std::uint32_t kBackgroundClass = 1;

ExchangeConfig exchange_config(const SimulationConfig& c) {
  ExchangeConfig e;
  e.books = c.books;
  e.agent_classes = {AgentClass{"miner", FeeSchedule(c.miner_fee_tiers), false},
                     AgentClass{"background", FeeSchedule(c.background_fee_tiers), true}};
  e.volume_window_buckets = c.volume_window_buckets;
  e.volume_bucket_ns = c.volume_bucket_ns;
  return e;
}

void validate(const SimulationConfig& c) {
  std::uint64_t agents = c.miner_slots;
  for (std::size_t i = 0; i < c.populations.size(); ++i) {
    const PopulationConfig& p = c.populations[i];
    const std::string where = "populations[" + std::to_string(i) + "] (" + p.model + ")";
    validate_agent_params(p.model, p.params);
    if (p.base_lots < 0 || p.quote < 0) throw std::invalid_argument(where + ": balances must be >= 0");
    if (p.latency_min_ns < 0 || p.latency_max_ns < p.latency_min_ns)
      throw std::invalid_argument(where + ": latency must satisfy 0 <= latency_min_ns <= latency_max_ns");
    agents += p.count;
  }
  if (agents >= kMaxAgents) throw std::invalid_argument("too many agents per book (miner slots + populations)");
  if (c.miner_base_lots < 0 || c.miner_quote < 0) throw std::invalid_argument("miner balances must be >= 0");
  if (!(c.fundamental.start_price_ticks >= 1.0)) throw std::invalid_argument("fundamental.start_price_ticks must be >= 1");
  if (!(c.fundamental.update_s > 0.0)) throw std::invalid_argument("fundamental.update_s must be > 0");
  if (!(c.fundamental.sigma_per_sqrt_day >= 0.0)) throw std::invalid_argument("fundamental.sigma_per_sqrt_day must be >= 0");
  if (!(c.fundamental.jump_rate >= 0.0 && c.fundamental.jump_rate <= 1.0))
    throw std::invalid_argument("fundamental.jump_rate must be in [0, 1]");
  if (!(c.fundamental.jump_sigma >= 0.0)) throw std::invalid_argument("fundamental.jump_sigma must be >= 0");
}

}  // namespace

Simulation::Simulation(SimulationConfig config)
    : config_((validate(config), std::move(config))), exchange_(exchange_config(config_)) {
  threads_ = config_.threads ? config_.threads : std::max(1u, std::thread::hardware_concurrency());
  for (BookId b = 0; b < config_.books; ++b) {
    for (AgentId m = 0; m < config_.miner_slots; ++m)
      exchange_.open_account(b, m, kMinerClass, config_.miner_base_lots, config_.miner_quote);
    AgentId id = first_background_agent();
    for (const PopulationConfig& p : config_.populations)
      for (std::uint32_t k = 0; k < p.count; ++k) exchange_.open_account(b, id++, kBackgroundClass, p.base_lots, p.quote);
    shards_.push_back(std::make_unique<Shard>(b, config_, exchange_, first_background_agent()));
  }
}

void Simulation::step(TimeNs until_ns, const InstructionRecord* instructions, std::size_t count) {
  if (until_ns < now_)
    throw std::invalid_argument("step: until_ns " + std::to_string(until_ns) + " is before the simulation time " +
                                std::to_string(now_));
  if (!started_) {
    for (auto& s : shards_) s->start(now_);
    started_ = true;
  }
  for (std::size_t i = 0; i < count; ++i) {
    InstructionRecord r = instructions[i];
    const TimeNs at = now_ + std::max<TimeNs>(0, r.ts_ns);
    if (r.kind == byte_of(InstructionKind::ResetAgent)) {
      for (BookId b = 0; b < shards_.size(); ++b) {
        r.book = b;
        shards_[b]->schedule(at, r);
      }
    } else if (r.book < shards_.size()) {
      shards_[r.book]->schedule(at, r);
    } else {
      r.ts_ns = at;
      exchange_.submit(r);  // refused as UNKNOWN_BOOK in the exchange's unrouted log
    }
  }
  run_shards(until_ns);
  now_ = until_ns;
}

void Simulation::run_shards(TimeNs until_ns) {
  const std::size_t n = shards_.size();
  const std::size_t workers = std::min<std::size_t>(threads_, n);
  if (workers <= 1) {
    for (auto& s : shards_) s->run_until(until_ns);
    return;
  }
  std::vector<std::exception_ptr> errors(workers);
  auto work = [&](std::size_t w) {
    try {
      for (std::size_t b = w; b < n; b += workers) shards_[b]->run_until(until_ns);
    } catch (...) {
      errors[w] = std::current_exception();
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (std::size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace taosim
