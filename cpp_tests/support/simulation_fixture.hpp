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

}  // namespace taosim::test
