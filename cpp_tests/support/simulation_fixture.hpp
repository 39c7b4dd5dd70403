// Test support: a small seeded market configuration.
#pragma once

#include "taosim/sim/simulation.hpp"

namespace taosim::test {

inline SimulationConfig small_market(std::uint32_t books = 3, std::uint32_t threads = 1, std::uint64_t seed = 7) {
  SimulationConfig c;
  c.books = books;
  c.seed = seed;
  c.threads = threads;
  c.miner_slots = 4;
  c.miner_base_lots = 10'000;
  c.miner_quote = 300'000'000;
  c.populations = {
      PopulationConfig{"initialization", 20, 20'000, 600'000'000, {{"orders", 4}, {"tau_s", 300}}, 1'000'000, 5'000'000},
      PopulationConfig{"random_trader", 50, 20'000, 600'000'000, {{"mean_wakeup_s", 2.0}}, 1'000'000, 20'000'000},
  };
  return c;
}

// Every background model of the default market, in small numbers, with the balances
// of configs/small.toml (50 base and 15 000 quote per agent; 1 quote = 10^6 units) (1 000 agents per
// book would make the tests slow without testing more).
inline SimulationConfig full_market(std::uint32_t books = 3, std::uint32_t threads = 1, std::uint64_t seed = 7) {
  SimulationConfig c = small_market(books, threads, seed);
  c.signal.jump_rate = 0.02;
  c.signal.jump_sigma = 0.005;
  c.populations = {
      PopulationConfig{"initialization", 100, 500'000, 15'000'000'000, {{"orders", 4}, {"tau_s", 300}}, 1'000'000,
                       5'000'000},
      PopulationConfig{"stylized_trader", 200, 500'000, 15'000'000'000, {}, 1'000'000, 50'000'000},
      PopulationConfig{"market_maker", 5, 2'000'000, 60'000'000'000, {}, 500'000, 2'000'000},
      PopulationConfig{"signal_trader", 20, 500'000, 15'000'000'000, {}, 1'000'000, 50'000'000},
      PopulationConfig{"imbalance_trader", 2, 2'000'000, 60'000'000'000, {}, 1'000'000,
                       10'000'000},
  };
  return c;
}

}  // namespace taosim::test
