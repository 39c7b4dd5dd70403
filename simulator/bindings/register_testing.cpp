#include <chrono>

#include "register.hpp"
#include "taosim/testing/instruction_stream.hpp"

namespace taosim::bindings {

void register_testing(py::module_& m) {
  m.def(
      "random_instruction_stream",
      [](std::uint64_t seed, std::size_t count, std::uint32_t agents, BookId book, Ticks start_price_ticks) {
        if (agents == 0) throw py::value_error("agents must be positive");
        if (start_price_ticks < 100) throw py::value_error("start_price_ticks must be >= 100");
        testing::StreamConfig c;
        c.seed = seed;
        c.count = count;
        c.agents = agents;
        c.book = book;
        c.start_price_ticks = start_price_ticks;
        std::vector<InstructionRecord> v;
        {
          py::gil_scoped_release release;
          v = testing::random_instruction_stream(c);
        }
        return to_numpy(std::move(v));
      },
      py::arg("seed"), py::arg("count"), py::arg("agents") = 100, py::arg("book") = 0,
      py::arg("start_price_ticks") = 30'000,
      "The seeded benchmark stream (same generator as benchmarks/bench_exchange.cpp).");

  m.def("bench_exchange", []() { return std::make_unique<Exchange>(testing::bench_exchange_config()); },
        "An exchange configured as the engine benchmark's (one book, default miner fee tiers).");
  m.def("open_bench_accounts", &testing::open_bench_accounts, py::arg("exchange"), py::arg("agents"));
  m.def(
      "replay_in_cpp",
      [](const py::object& instructions, std::uint32_t agents, std::size_t batch) {
        if (batch == 0) throw py::value_error("batch must be positive");
        const py::array records = instruction_records(instructions);
        const InstructionRecord* p = records_of(records);
        const std::vector<InstructionRecord> stream(p, p + records.shape(0));
        py::gil_scoped_release release;
        Exchange ex(testing::bench_exchange_config());
        testing::open_bench_accounts(ex, agents);
        const auto t0 = std::chrono::steady_clock::now();
        const testing::ReplayCounts c = testing::replay(ex, stream, batch);
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        py::gil_scoped_acquire acquire;
        return py::make_tuple(seconds, c.events, c.trades);
      },
      py::arg("instructions"), py::arg("agents"), py::arg("batch"),
      "Replays a stream through a benchmark exchange entirely in C++; returns (seconds, events, trades).");
}

}  // namespace taosim::bindings
