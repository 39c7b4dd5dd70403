// taos._simulator.Simulation and its configuration structs.
#include <pybind11/stl.h>

#include "register.hpp"
#include "register_views.hpp"
#include "taosim/agents/registry.hpp"
#include "taosim/sim/notices.hpp"
#include "taosim/sim/simulation.hpp"

namespace taosim::bindings {

namespace {

// What Simulation.step returns: the step's events, every book's top levels, the miners'
// accounts and an index of the events addressed to each miner.
struct StepResult {
  TimeNs time_ns = 0;
  AgentId miner_slots = 0;
  py::array_t<Event> events;
  NoticeIndex index;
  py::list books;     // per book: BookLevels
  py::list accounts;  // per book: ACCOUNT_DTYPE array of the miners' accounts

  py::array_t<Event> notices(AgentId miner) const {
    if (miner >= miner_slots)
      throw py::index_error("miner " + std::to_string(miner) + " is not a miner slot (0.." +
                            std::to_string(miner_slots) + ")");
    const auto* all = events.data();
    std::vector<Event> out;
    for (std::uint32_t k = index.offsets[miner]; k < index.offsets[miner + 1]; ++k) out.push_back(all[index.indices[k]]);
    return to_numpy(std::move(out));
  }
};

StepResult make_step_result(Simulation& s, std::vector<Event>&& events, NoticeIndex&& index, std::size_t depth,
                            std::size_t detail_depth) {
  StepResult r;
  r.time_ns = s.time();
  r.miner_slots = s.first_background_agent();
  r.events = to_numpy(std::move(events));
  r.index = std::move(index);
  const Exchange& ex = s.exchange();
  for (BookId b = 0; b < ex.num_books(); ++b) {
    r.books.append(book_levels(ex.book(b), depth, detail_depth));
    std::vector<AccountRecord> acc;
    acc.reserve(r.miner_slots);
    for (AgentId m = 0; m < r.miner_slots; ++m) {
      const Account* a = ex.account(b, m);
      if (a)
        acc.push_back(AccountRecord{m, a->open_orders, a->base.free, a->base.reserved, a->quote.free,
                                    a->quote.reserved, a->fees_paid, a->traded_quote});
    }
    r.accounts.append(to_numpy(std::move(acc)));
  }
  return r;
}

}  // namespace

void register_simulation(py::module_& m) {
  py::class_<FundamentalConfig>(m, "FundamentalConfig")
      .def(py::init<>())
      .def_readwrite("start_price_ticks", &FundamentalConfig::start_price_ticks)
      .def_readwrite("sigma_per_sqrt_day", &FundamentalConfig::sigma_per_sqrt_day)
      .def_readwrite("mu_per_day", &FundamentalConfig::mu_per_day)
      .def_readwrite("jump_rate", &FundamentalConfig::jump_rate)
      .def_readwrite("jump_sigma", &FundamentalConfig::jump_sigma)
      .def_readwrite("update_s", &FundamentalConfig::update_s)
      .def_readwrite("intensity_sigma", &FundamentalConfig::intensity_sigma)
      .def_readwrite("intensity_time_s", &FundamentalConfig::intensity_time_s)
      .def_readwrite("intensity_jump_power", &FundamentalConfig::intensity_jump_power)
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
      .def_readwrite("first_book", &SimulationConfig::first_book)
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

  py::class_<StepResult>(m, "StepResult")
      .def_readonly("time_ns", &StepResult::time_ns)
      .def_readonly("events", &StepResult::events, "The step's L3 events (EVENT_DTYPE), book by book.")
      .def_readonly("books", &StepResult::books,
                    "Per book a BookLevels: bids/asks (LEVEL_DTYPE) and bid_orders/ask_orders (ORDER_DTYPE).")
      .def_readonly("accounts", &StepResult::accounts, "Per book the miners' accounts (ACCOUNT_DTYPE).")
      .def_readonly("miner_slots", &StepResult::miner_slots)
      .def("notices", &StepResult::notices, py::arg("miner"),
           "The step's events addressed to a miner: its own orders' events and the trades in which it\n"
           "was the maker, in event order.")
      .def(
          "notice_index",
          [](const StepResult& r) {
            return py::make_tuple(to_numpy(std::vector<std::uint32_t>(r.index.offsets)),
                                  to_numpy(std::vector<std::uint32_t>(r.index.indices)));
          },
          "(offsets, indices): miner m's notices are events[indices[offsets[m]:offsets[m + 1]]], as\n"
          "notices(m) gives them, for every miner at once.");

  py::class_<Simulation> sim(m, "Simulation");
  sim.def(py::init<SimulationConfig>(), py::arg("config"))
      .def(
          "step",
          [](Simulation& s, TimeNs until_ns, const py::object& instructions, std::size_t depth,
             std::size_t detail_depth) {
            const InstructionRecord* p = nullptr;
            std::size_t n = 0;
            py::array arr;
            if (!instructions.is_none()) {
              arr = instruction_records(instructions);
              p = records_of(arr);
              n = static_cast<std::size_t>(arr.shape(0));
            }
            std::vector<Event> events;
            NoticeIndex index;
            {
              py::gil_scoped_release release;
              s.step(until_ns, p, n);
              events = s.take_events();
              index = index_notices(events, s.first_background_agent());
            }
            return make_step_result(s, std::move(events), std::move(index), depth, detail_depth);
          },
          py::arg("until_ns"), py::arg("instructions") = py::none(), py::arg("depth") = 21,
          py::arg("detail_depth") = 5,
          "Runs every book up to until_ns with the GIL released and returns a StepResult: the step's\n"
          "events, each book's top `depth` levels (orders of the first `detail_depth`), the miners'\n"
          "accounts and the notices addressed to each miner. Each instruction reaches its book at its\n"
          "ts_ns (simulated time; an earlier one than the step start counts as the start),\n"
          "interleaved with the background flow.")
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
