// Plain configuration structs of a simulation. Python reads and validates the
// TOML file and fills these; the core parses no files. The constructor of
// Simulation checks them again and throws std::invalid_argument naming the field.
#pragma once

#include <string>
#include <vector>

#include "taosim/agents/params.hpp"
#include "taosim/exchange/fees.hpp"
#include "taosim/sim/fundamental.hpp"

namespace taosim {

struct PopulationConfig {
  std::string model;       // a name known to the agent registry
  std::uint32_t count = 0;
  Lots base_lots = 0;      // starting balances of each agent, per book
  Quote quote = 0;
  AgentParams params;
  TimeNs latency_min_ns = 1'000'000;   // each instruction's delay is uniform in [min, max]
  TimeNs latency_max_ns = 10'000'000;
};

struct SimulationConfig {
  std::uint32_t books = 1;
  // The global id of this simulation's book 0, when one market is split over several simulations
  // (e.g. Ray actors): random streams are keyed by the global id, so book k here behaves exactly as
  // book first_book + k of the whole market. Events and the API use local ids 0 .. books-1.
  std::uint32_t first_book = 0;
  std::uint64_t seed = 1;
  std::uint32_t threads = 0;  // 0 = one per core
  // Agent ids: miners are 0 .. miner_slots-1 (id = uid); background agents follow.
  std::uint32_t miner_slots = 0;
  Lots miner_base_lots = 0;
  Quote miner_quote = 0;
  std::vector<FeeTier> miner_fee_tiers{FeeTier{}};
  std::vector<FeeTier> background_fee_tiers{FeeTier{}};
  std::uint32_t volume_window_buckets = 24;
  TimeNs volume_bucket_ns = 3'600'000'000'000LL;
  FundamentalConfig fundamental;
  // The external signal followed by signal traders: a second seeded process of the
  // same kind (or a replayed series), independent of the fundamental.
  FundamentalConfig signal;
  std::vector<PopulationConfig> populations;
};

}  // namespace taosim
