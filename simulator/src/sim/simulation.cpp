#include "taosim/sim/simulation.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
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

// The longest delay the engine schedules from a configuration: 100 (Julian) years in ns. A
// simulation time and a delay, each at most this, add up below 2^63 ns (taos/config.py refuses
// longer durations and delays first).
constexpr TimeNs kMaxConfigDelayNs = 3'155'760'000LL * 1'000'000'000LL;
// The shortest update period of a price process: one of 0 ns (update_s * 1e9 truncated) would
// never let a book's clock advance, and a few ns would make one step's work unbounded.
constexpr double kMinUpdateS = 1e-3;

void check_process(const FundamentalConfig& f, const std::string& name) {
  if (!(f.start_price_ticks >= 1.0)) throw std::invalid_argument(name + ".start_price_ticks must be >= 1");
  if (!(f.update_s >= kMinUpdateS && f.update_s * 1e9 <= static_cast<double>(kMaxConfigDelayNs)))
    throw std::invalid_argument(name + ".update_s must be in [0.001, 3155760000] seconds (1 ms to 100 years), got " +
                                std::to_string(f.update_s));
  if (!(f.sigma_per_sqrt_day >= 0.0)) throw std::invalid_argument(name + ".sigma_per_sqrt_day must be >= 0");
  if (!(f.jump_rate >= 0.0 && f.jump_rate <= 1.0)) throw std::invalid_argument(name + ".jump_rate must be in [0, 1]");
  if (!(f.jump_sigma >= 0.0)) throw std::invalid_argument(name + ".jump_sigma must be >= 0");
  if (!(f.intensity_sigma >= 0.0 && f.intensity_sigma <= 5.0))
    throw std::invalid_argument(name + ".intensity_sigma must be in [0, 5]");
  if (!(f.intensity_time_s >= kMinUpdateS && f.intensity_time_s * 1e9 <= static_cast<double>(kMaxConfigDelayNs)))
    throw std::invalid_argument(name + ".intensity_time_s must be in [0.001, 3155760000] seconds");
  if (f.intensity_sigma > 0.0 && f.intensity_time_s < f.update_s)
    throw std::invalid_argument(name + ".intensity_time_s must be >= update_s (the intensity changes once per update)");
  if (!(f.intensity_jump_power >= 0.0 && f.intensity_jump_power <= 4.0))
    throw std::invalid_argument(name + ".intensity_jump_power must be in [0, 4]");
  if (f.replay_ts_ns.size() != f.replay_price_ticks.size())
    throw std::invalid_argument(name + ".replay: times and prices differ in length");
  for (std::size_t i = 0; i < f.replay_ts_ns.size(); ++i) {
    if (!(f.replay_price_ticks[i] > 0.0 && std::isfinite(f.replay_price_ticks[i])))
      throw std::invalid_argument(name + ".replay: price " + std::to_string(i) + " must be finite and > 0");
    if (f.replay_ts_ns[i] < 0 || (i > 0 && f.replay_ts_ns[i] <= f.replay_ts_ns[i - 1]))
      throw std::invalid_argument(name + ".replay: times must be >= 0 and increasing (point " + std::to_string(i) + ")");
  }
}

void validate(const SimulationConfig& c) {
  if (c.first_book > std::numeric_limits<std::uint32_t>::max() - c.books)
    throw std::invalid_argument("first_book + books must fit in 32 bits");
  std::uint64_t agents = c.miner_slots;
  for (std::size_t i = 0; i < c.populations.size(); ++i) {
    const PopulationConfig& p = c.populations[i];
    const std::string where = "populations[" + std::to_string(i) + "] (" + p.model + ")";
    validate_agent_params(p.model, p.params);
    if (p.base_lots < 0 || p.quote < 0) throw std::invalid_argument(where + ": balances must be >= 0");
    if (p.latency_min_ns < 0 || p.latency_max_ns < p.latency_min_ns || p.latency_max_ns > kMaxConfigDelayNs)
      throw std::invalid_argument(where +
                                  ": latency must satisfy 0 <= latency_min_ns <= latency_max_ns <= 100 years in ns");
    agents += p.count;
  }
  if (agents >= kMaxAgents) throw std::invalid_argument("too many agents per book (miner slots + populations)");
  if (c.miner_base_lots < 0 || c.miner_quote < 0) throw std::invalid_argument("miner balances must be >= 0");
  check_process(c.fundamental, "fundamental");
  check_process(c.signal, "signal");
}

}  // namespace

Simulation::Simulation(SimulationConfig config)
    : config_((validate(config), std::move(config))), exchange_(exchange_config(config_)) {
  threads_ = config_.threads ? config_.threads : std::max(1u, std::thread::hardware_concurrency());
  workers_ = std::min<std::size_t>(threads_, config_.books);
  for (BookId b = 0; b < config_.books; ++b) {
    for (AgentId m = 0; m < config_.miner_slots; ++m)
      exchange_.open_account(b, m, kMinerClass, config_.miner_base_lots, config_.miner_quote);
    AgentId id = first_background_agent();
    for (const PopulationConfig& p : config_.populations)
      for (std::uint32_t k = 0; k < p.count; ++k) exchange_.open_account(b, id++, kBackgroundClass, p.base_lots, p.quote);
    shards_.push_back(std::make_unique<Shard>(b, config_, exchange_, first_background_agent()));
  }
}

std::uint64_t config_fingerprint(const SimulationConfig& c) {
  StateWriter w;
  w.pod(c.books);
  w.pod(c.first_book);
  w.pod(c.seed);
  w.pod(c.miner_slots);
  w.pod(c.miner_base_lots);
  w.pod(c.miner_quote);
  w.vec(c.miner_fee_tiers);
  w.vec(c.background_fee_tiers);
  w.pod(c.volume_window_buckets);
  w.pod(c.volume_bucket_ns);
  for (const FundamentalConfig* f : {&c.fundamental, &c.signal}) {
    w.pod(f->start_price_ticks);
    w.pod(f->sigma_per_sqrt_day);
    w.pod(f->mu_per_day);
    w.pod(f->jump_rate);
    w.pod(f->jump_sigma);
    w.pod(f->update_s);
    w.pod(f->intensity_sigma);
    w.pod(f->intensity_time_s);
    w.pod(f->intensity_jump_power);
    w.vec(f->replay_ts_ns);
    w.vec(f->replay_price_ticks);
  }
  for (const PopulationConfig& p : c.populations) {
    w.str(p.model);
    w.pod(p.count);
    w.pod(p.base_lots);
    w.pod(p.quote);
    w.pod(p.latency_min_ns);
    w.pod(p.latency_max_ns);
    for (const auto& [name, value] : p.params) {
      w.str(name);
      w.pod(value);
    }
  }
  return fnv1a(w.buffer());
}

namespace {
constexpr char kMagic[8] = {'T', 'A', 'O', 'S', 'C', 'K', 'P', 'T'};
constexpr std::uint32_t kFormatVersion = 3;  // 2: process stream keys, no padding bytes; 3: process intensity
}  // namespace

std::string Simulation::save_state() const {
  StateWriter body;
  body.pod(now_);
  body.pod(started_);
  exchange_.save(body);
  for (const auto& s : shards_) s->save(body);
  StateWriter out;
  out.buffer().append(kMagic, sizeof kMagic);
  out.pod(kFormatVersion);
  out.pod(config_fingerprint(config_));
  out.pod<std::uint64_t>(body.buffer().size());
  out.buffer().append(body.buffer());
  out.pod(fnv1a(body.buffer()));
  return std::move(out.buffer());
}

std::unique_ptr<Simulation> Simulation::restore(SimulationConfig config, std::string_view state) {
  constexpr std::size_t kHeader = sizeof kMagic + sizeof(std::uint32_t) + 2 * sizeof(std::uint64_t);
  if (state.size() < kHeader || std::memcmp(state.data(), kMagic, sizeof kMagic) != 0)
    throw CheckpointError("not a τaos simulation checkpoint");
  StateReader header(state.substr(sizeof kMagic, kHeader - sizeof kMagic));
  const auto version = header.pod<std::uint32_t>();
  if (version != kFormatVersion)
    throw CheckpointError("checkpoint format version " + std::to_string(version) + ", this build reads version " +
                          std::to_string(kFormatVersion));
  if (header.pod<std::uint64_t>() != config_fingerprint(config))
    throw CheckpointError("checkpoint was written by a simulation with a different configuration");
  const auto body_size = header.pod<std::uint64_t>();
  if (state.size() < kHeader + sizeof(std::uint64_t) || body_size != state.size() - kHeader - sizeof(std::uint64_t))
    throw CheckpointError("checkpoint is truncated or corrupt (size)");
  const std::string_view body = state.substr(kHeader, body_size);
  std::uint64_t checksum;
  std::memcpy(&checksum, state.data() + kHeader + body_size, sizeof checksum);
  if (checksum != fnv1a(body)) throw CheckpointError("checkpoint is corrupt (checksum mismatch)");

  auto sim = std::make_unique<Simulation>(std::move(config));
  StateReader r(body);
  r.pod(sim->now_);
  r.pod(sim->started_);
  sim->exchange_.load(r);
  for (auto& s : sim->shards_) s->load(r);
  if (r.remaining() != 0) throw CheckpointError("checkpoint is truncated or corrupt (trailing data)");
  sim->check_loaded();
  return sim;
}

void Simulation::check_loaded() const {
  if (now_ < 0) corrupt_state("negative simulation time " + std::to_string(now_));
  if (!started_ && now_ != 0) corrupt_state("the simulation has not started but its time is " + std::to_string(now_));
  // Every book holds the accounts the configuration opens (miners, then each population), each
  // with its class and starting balances, and no other; its clock is the simulation's.
  const AgentId agents = first_background_agent() + static_cast<AgentId>(shards_.front()->agent_count());
  for (BookId b = 0; b < exchange_.num_books(); ++b) {
    const std::string where = "book " + std::to_string(b);
    if (exchange_.time(b) != now_)
      corrupt_state(where + ": its clock is " + std::to_string(exchange_.time(b)) + ", the simulation's " +
                    std::to_string(now_));
    std::size_t open = 0;
    exchange_.for_each_account(b, [&](AgentId, const Account&) { ++open; });
    if (open != agents)
      corrupt_state(where + ": " + std::to_string(open) + " accounts, the configuration opens " +
                    std::to_string(agents));
    AgentId id = 0;
    auto expect = [&](std::uint32_t agent_class, Lots base, Quote quote) {
      const Account* a = exchange_.account(b, id);
      if (!a || a->agent_class != agent_class || a->start_base_lots != base || a->start_quote != quote)
        corrupt_state(where + ": agent " + std::to_string(id) + " has no account of its class and starting balances");
      ++id;
    };
    for (AgentId m = 0; m < config_.miner_slots; ++m) expect(kMinerClass, config_.miner_base_lots, config_.miner_quote);
    for (const PopulationConfig& p : config_.populations)
      for (std::uint32_t k = 0; k < p.count; ++k) expect(kBackgroundClass, p.base_lots, p.quote);
  }
  for (const auto& s : shards_) s->check_loaded(now_, started_);
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
    // ts_ns is when the instruction reaches its book; an earlier time than the step start counts as
    // the step start (kNever: it never arrives).
    const TimeNs at = std::max(now_, r.ts_ns);
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

Simulation::~Simulation() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    shutdown_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : pool_) t.join();
}

void Simulation::run_part(std::size_t w, TimeNs until_ns) {
  try {
    // Shards share nothing, so which worker runs which does not change any result; taking
    // them one at a time balances books of different activity.
    for (std::size_t b = next_book_.fetch_add(1); b < shards_.size(); b = next_book_.fetch_add(1))
      shards_[b]->run_until(until_ns);
  } catch (...) {
    errors_[w] = std::current_exception();
  }
}

void Simulation::worker_loop(std::size_t w) {
  std::uint64_t seen = 0;
  for (;;) {
    TimeNs until;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_cv_.wait(lock, [&] { return shutdown_ || generation_ != seen; });
      if (shutdown_) return;
      seen = generation_;
      until = target_ns_;
    }
    run_part(w, until);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (--pending_ == 0) done_cv_.notify_one();
    }
  }
}

void Simulation::run_shards(TimeNs until_ns) {
  if (workers_ <= 1) {
    for (auto& s : shards_) s->run_until(until_ns);
    return;
  }
  if (pool_.empty()) {  // started on the first parallel step
    errors_.assign(workers_, nullptr);
    for (std::size_t w = 1; w < workers_; ++w) pool_.emplace_back(&Simulation::worker_loop, this, w);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    target_ns_ = until_ns;
    pending_ = workers_ - 1;
    next_book_.store(0);
    ++generation_;
  }
  start_cv_.notify_all();
  run_part(0, until_ns);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_cv_.wait(lock, [&] { return pending_ == 0; });
  }
  for (auto& e : errors_) {
    if (e) {
      const std::exception_ptr first = e;
      std::fill(errors_.begin(), errors_.end(), nullptr);
      std::rethrow_exception(first);
    }
  }
}

}  // namespace taosim
