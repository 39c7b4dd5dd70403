// taos._simulator: the private compiled module under taos.simulator.
#include "register.hpp"

PYBIND11_MODULE(_simulator, m) {
  m.doc() = "τaos exchange engine (C++ core). Use it through taos.simulator.";
  taosim::bindings::register_enums(m);
  taosim::bindings::register_records(m);
  taosim::bindings::register_exchange(m);
  taosim::bindings::register_simulation(m);
  taosim::bindings::register_packing(m);
  taosim::bindings::register_replies(m);
  auto testing = m.def_submodule("testing", "Seeded instruction streams for benchmarks and stress tests.");
  taosim::bindings::register_testing(testing);
}
