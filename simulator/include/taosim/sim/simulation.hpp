// Simulation: the exchange, one shard per book and a pool of threads.
//
// step(until, instructions) runs every shard up to `until` (simulated ns) and
// returns when all are done; the events of the step are then in the exchange's
// logs (take_events). The same config, seed and instructions give the same
// events byte for byte whatever the number of threads.
#pragma once

#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <string_view>
#include <vector>

#include "taosim/exchange/exchange.hpp"
#include "taosim/sim/config.hpp"
#include "taosim/sim/shard.hpp"

namespace taosim {

// A fingerprint of everything in a config that shapes the simulation (all but the
// thread count).
std::uint64_t config_fingerprint(const SimulationConfig& config);

class Simulation {
 public:
  explicit Simulation(SimulationConfig config);
  ~Simulation();
  Simulation(const Simulation&) = delete;
  Simulation& operator=(const Simulation&) = delete;

  // Instructions (typically from miners) carry in ts_ns the simulated time at
  // which they reach their book (an earlier time than time() counts as time()),
  // interleaved with the background flow; one at or after until_ns waits for a
  // later step. A ResetAgent reaches every book. Throws std::invalid_argument
  // when until_ns is before time().
  void step(TimeNs until_ns, const InstructionRecord* instructions, std::size_t count);

  TimeNs time() const { return now_; }
  std::uint32_t threads() const { return threads_; }
  const SimulationConfig& config() const { return config_; }
  Exchange& exchange() { return exchange_; }
  const Exchange& exchange() const { return exchange_; }
  double fundamental_ticks(BookId book) const { return shards_.at(book)->fundamental_ticks(); }
  double signal_price(BookId book) const { return shards_.at(book)->signal_price(); }
  std::vector<Event> take_events() { return exchange_.take_events(); }
  // Agent id of the first background agent (miners come first).
  AgentId first_background_agent() const { return config_.miner_slots; }

  // Checkpoints. save_state() returns the whole state (books, accounts, event
  // logs, queues, clocks, random streams, agents) with a header naming the
  // format version and the configuration's fingerprint, and a checksum.
  // restore() builds a simulation from the same configuration (the thread count
  // may differ) and that state; it throws CheckpointError for a foreign,
  // truncated or corrupt checkpoint. A restored run continues exactly as the
  // saved one would have.
  std::string save_state() const;
  static std::unique_ptr<Simulation> restore(SimulationConfig config, std::string_view state);

 private:
  // Checks a restored state against the configuration and across its parts (the exchange and
  // the shards check their own on loading); throws CheckpointError naming the problem.
  void check_loaded() const;
  void run_shards(TimeNs until_ns);
  // Worker w runs shards w, w + workers, ... for every step until shutdown.
  void worker_loop(std::size_t w);
  void run_part(std::size_t w, TimeNs until_ns);

  SimulationConfig config_;
  Exchange exchange_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::uint32_t threads_ = 1;
  TimeNs now_ = 0;
  bool started_ = false;

  // A persistent pool: workers 1..n-1 are threads, worker 0 is the caller of step().
  std::size_t workers_ = 1;
  std::vector<std::thread> pool_;
  std::mutex mutex_;
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  std::uint64_t generation_ = 0;  // incremented for every step the pool runs
  std::size_t pending_ = 0;       // workers still running the current step
  std::atomic<std::size_t> next_book_{0};  // the next shard a worker takes (books vary in load)
  TimeNs target_ns_ = 0;
  bool shutdown_ = false;
  std::vector<std::exception_ptr> errors_;
};

}  // namespace taosim
