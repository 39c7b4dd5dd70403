// taos._simulator.Simulation and its configuration structs.
#include <pybind11/stl.h>

#include "register.hpp"
#include "register_views.hpp"
#include "taosim/agents/registry.hpp"
#include "taosim/sim/simulation.hpp"

namespace taosim::bindings {

void register_simulation(py::module_& m) {
  py::class_<FundamentalConfig>(m, "FundamentalConfig")
      .def(py::init<>())
      .def_readwrite("start_price_ticks", &FundamentalConfig::start_price_ticks)
      .def_readwrite("sigma_per_sqrt_day", &FundamentalConfig::sigma_per_sqrt_day)
      .def_readwrite("mu_per_day", &FundamentalConfig::mu_per_day)
      .def_readwrite("jump_rate", &FundamentalConfig::jump_rate)
      .def_readwrite("jump_sigma", &FundamentalConfig::jump_sigma)
      .def_readwrite("update_s", &FundamentalConfig::update_s)
      .def_readwrite("replay_ts_ns", &FundamentalConfig::replay_ts_ns)
      .def_readwrite("replay_price_ticks", &FundamentalConfig::replay_price_ticks);

  py::class_<PopulationConfig>(m, "PopulationConfig")
      .def(py::init([](std::string model, std::uint32_t count, Lots base_lots, Quote quote, AgentParams params,
                       TimeNs latency_min_ns, TimeNs latency_max_ns) {
             return PopulationConfig{std::move(model), count, base_lots, quote, std::move(params), latency_min_ns,
                                     latency_max_ns};
           }),
           py::arg("model"), py::arg("count"), py::arg("base_lots"), py::arg("quote"),
           py::arg("params") = AgentParams{}, py::arg("latency_min_ns") = 1'000'000,
           py::arg("latency_max_ns") = 10'000'000)
      .def_readwrite("model", &PopulationConfig::model)
      .def_readwrite("count", &PopulationConfig::count)
      .def_readwrite("base_lots", &PopulationConfig::base_lots)
      .def_readwrite("quote", &PopulationConfig::quote)
      .def_readwrite("params", &PopulationConfig::params)
      .def_readwrite("latency_min_ns", &PopulationConfig::latency_min_ns)
      .def_readwrite("latency_max_ns", &PopulationConfig::latency_max_ns);

  py::class_<SimulationConfig>(m, "SimulationConfig")
      .def(py::init<>())
      .def_readwrite("books", &SimulationConfig::books)
      .def_readwrite("seed", &SimulationConfig::seed)
      .def_readwrite("threads", &SimulationConfig::threads)
      .def_readwrite("miner_slots", &SimulationConfig::miner_slots)
      .def_readwrite("miner_base_lots", &SimulationConfig::miner_base_lots)
      .def_readwrite("miner_quote", &SimulationConfig::miner_quote)
      .def_readwrite("miner_fee_tiers", &SimulationConfig::miner_fee_tiers)
      .def_readwrite("background_fee_tiers", &SimulationConfig::background_fee_tiers)
      .def_readwrite("volume_window_buckets", &SimulationConfig::volume_window_buckets)
      .def_readwrite("volume_bucket_ns", &SimulationConfig::volume_bucket_ns)
      .def_readwrite("fundamental", &SimulationConfig::fundamental)
      .def_readwrite("signal", &SimulationConfig::signal)
      .def_readwrite("populations", &SimulationConfig::populations);

  m.def("agent_models", &agent_models, "Names of the background agent models the core knows.");
  m.def("validate_agent_params", &validate_agent_params, py::arg("model"), py::arg("params"),
        "Raises ValueError naming the model and parameter when the parameters are not valid for it.");

  py::register_exception<CheckpointError>(m, "CheckpointError", PyExc_ValueError);

  py::class_<Simulation> sim(m, "Simulation");
  sim.def(py::init<SimulationConfig>(), py::arg("config"))
      .def(
          "step",
          [](Simulation& s, TimeNs until_ns, const py::object& instructions) {
            const InstructionRecord* p = nullptr;
            std::size_t n = 0;
            py::array arr;
            if (!instructions.is_none()) {
              arr = py::array::ensure(instructions);
              if (!arr) throw py::type_error("instructions must be a numpy array of INSTRUCTION_DTYPE or None");
              p = records_of(arr);
              n = static_cast<std::size_t>(arr.shape(0));
            }
            py::gil_scoped_release release;
            s.step(until_ns, p, n);
          },
          py::arg("until_ns"), py::arg("instructions") = py::none(),
          "Runs every book up to until_ns with the GIL released. Each instruction's ts_ns is its delay from\n"
          "the step start; it reaches its book at time + delay, interleaved with the background flow.")
      .def_property_readonly("time_ns", &Simulation::time)
      .def_property_readonly("threads", &Simulation::threads)
      .def_property_readonly("num_books", [](const Simulation& s) { return s.exchange().num_books(); })
      .def_property_readonly("first_background_agent", &Simulation::first_background_agent)
      .def("fundamental_ticks", &Simulation::fundamental_ticks, py::arg("book"))
      .def("signal_price", &Simulation::signal_price, py::arg("book"))
      .def(
          "save_state",
          [](const Simulation& s) {
            std::string state;
            {
              py::gil_scoped_release release;
              state = s.save_state();
            }
            return py::bytes(state);
          },
          "The whole simulation state as bytes (see taos.simulator.save_checkpoint).")
      .def_static(
          "restore",
          [](SimulationConfig config, const py::bytes& state) {
            const std::string_view view = state;
            py::gil_scoped_release release;
            return Simulation::restore(std::move(config), view);
          },
          py::arg("config"), py::arg("state"),
          "A simulation continuing from save_state() bytes; raises CheckpointError for a foreign,\n"
          "truncated or corrupt state.")
      .def(
          "take_events", [](Simulation& s) { return to_numpy(s.take_events()); },
          "Events since the last call as a numpy array of EVENT_DTYPE, book by book.");
  def_exchange_views(sim, [](Simulation& s) -> Exchange& { return s.exchange(); });
}

}  // namespace taosim::bindings
