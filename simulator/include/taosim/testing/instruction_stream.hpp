// A seeded stream of mixed instructions for one book, used by the engine
// benchmarks (C++ and Python replay the same stream) and by stress tests.
//
// Mix: `limit_share` passive limit orders near the touch, `cancel_share` cancels
// of recently placed orders by their owners (some already filled: those are
// rejected as unknown, as in a real feed), the rest aggressive: half market
// orders, half limit orders priced through the touch.
#pragma once

#include <cstdint>
#include <vector>

#include "taosim/exchange/exchange.hpp"
#include "taosim/instructions.hpp"

namespace taosim::testing {

struct StreamConfig {
  std::uint64_t seed = 1;
  std::size_t count = 1'000'000;
  std::uint32_t agents = 100;
  BookId book = 0;
  Ticks start_price_ticks = 30'000;
  TimeNs start_ns = 0;
  TimeNs step_ns = 1'000;
  double limit_share = 0.5;
  double cancel_share = 0.3;
  Lots aggressive_max_lots = 100;  // passive orders are 1..100 lots
};

std::vector<InstructionRecord> random_instruction_stream(const StreamConfig& config);

// The benchmark market: one book, one agent class with the default miner fee
// tiers (tick 0.01 x lot 0.0001 = 1e-6 quote per unit), agents 0..agents-1 with
// balances large enough never to run out.
ExchangeConfig bench_exchange_config();
void open_bench_accounts(Exchange& ex, std::uint32_t agents);

struct ReplayCounts {
  std::size_t events = 0;
  std::size_t trades = 0;
};
// Submits the stream in batches and drains book 0's events after each batch,
// as a simulation step would.
ReplayCounts replay(Exchange& ex, const std::vector<InstructionRecord>& stream, std::size_t batch);

}  // namespace taosim::testing
