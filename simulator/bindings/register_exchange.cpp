// taos._simulator.Exchange: conversion between Python and taosim::Exchange.
#include <pybind11/stl.h>

#include <algorithm>

#include "register.hpp"
#include "register_views.hpp"
#include "taosim/exchange/exchange.hpp"

namespace taosim::bindings {

namespace {

// Enum arguments arrive as Python ints; a value outside a byte becomes 255,
// which no enum uses, so the exchange rejects it with the matching reason.
std::uint8_t enum_byte(std::int64_t v) { return (v < 0 || v > 255) ? 255 : static_cast<std::uint8_t>(v); }

}  // namespace

void register_exchange(py::module_& m) {
  py::class_<FeeTier>(m, "FeeTier")
      .def(py::init([](Quote volume_quote, RatePpb maker_ppb, RatePpb taker_ppb) {
             return FeeTier{volume_quote, maker_ppb, taker_ppb};
           }),
           py::arg("volume_quote"), py::arg("maker_ppb"), py::arg("taker_ppb"))
      .def_readonly("volume_quote", &FeeTier::volume_quote)
      .def_readonly("maker_ppb", &FeeTier::maker_ppb)
      .def_readonly("taker_ppb", &FeeTier::taker_ppb)
      .def("__repr__", [](const FeeTier& t) {
        return "FeeTier(volume_quote=" + std::to_string(t.volume_quote) + ", maker_ppb=" + std::to_string(t.maker_ppb) +
               ", taker_ppb=" + std::to_string(t.taker_ppb) + ")";
      });

  py::class_<AgentClass>(m, "AgentClass")
      .def(py::init([](std::string name, std::vector<FeeTier> tiers, bool may_self_trade) {
             return AgentClass{std::move(name), FeeSchedule(std::move(tiers)), may_self_trade};
           }),
           py::arg("name"), py::arg("fee_tiers") = std::vector<FeeTier>{FeeTier{}},
           py::arg("may_self_trade") = false)
      .def_readonly("name", &AgentClass::name)
      .def_readonly("may_self_trade", &AgentClass::may_self_trade)
      .def_property_readonly("fee_tiers", [](const AgentClass& c) { return c.fees.tiers(); })
      .def_property_readonly("reserve_rate_ppb", [](const AgentClass& c) { return c.fees.reserve_rate(); });

  m.def("default_miner_fee_tiers", &default_miner_fee_tiers, py::arg("quote_units_per_currency"),
        "The default miner fee tiers, with volumes in quote units (1 / (tick x lot) per unit of currency).");

  py::class_<Exchange> exchange(m, "Exchange");
  exchange
      .def(py::init([](std::uint32_t books, std::vector<AgentClass> agent_classes, std::uint32_t volume_window_buckets,
                       TimeNs volume_bucket_ns) {
             return std::make_unique<Exchange>(
                 ExchangeConfig{books, std::move(agent_classes), volume_window_buckets, volume_bucket_ns});
           }),
           py::arg("books"), py::arg("agent_classes"), py::arg("volume_window_buckets") = 24,
           py::arg("volume_bucket_ns") = 3'600'000'000'000LL)
      .def_property_readonly("num_books", &Exchange::num_books)
      .def("open_account", &Exchange::open_account, py::arg("book"), py::arg("agent"), py::arg("agent_class"),
           py::arg("base_lots"), py::arg("quote"))
      .def(
          "submit_batch",
          [](Exchange& ex, const py::object& instructions) {
            const py::array records = instruction_records(instructions);
            const InstructionRecord* p = records_of(records);
            const auto n = static_cast<std::size_t>(records.shape(0));
            py::gil_scoped_release release;
            ex.submit_batch(p, n);
          },
          py::arg("instructions"), "Applies a numpy array of INSTRUCTION_DTYPE records in order, without the GIL.")
      .def(
          "submit_limit",
          [](Exchange& ex, BookId book, AgentId agent, std::int64_t side, Ticks price_ticks, Lots qty_lots,
             std::int64_t tif, bool post_only, std::int64_t stp, TimeNs expiry_ns, std::uint64_t client_order_id,
             TimeNs ts_ns) {
            InstructionRecord r{};
            r.kind = static_cast<std::uint8_t>(InstructionKind::PlaceLimit);
            r.book = book;
            r.agent = agent;
            r.side = enum_byte(side);
            r.price_ticks = price_ticks;
            r.qty_lots = qty_lots;
            r.tif = enum_byte(tif);
            r.post_only = post_only;
            r.stp = enum_byte(stp);
            r.expiry_ns = expiry_ns;
            r.client_order_id = client_order_id;
            r.ts_ns = ts_ns;
            ex.submit(r);
          },
          py::arg("book"), py::arg("agent"), py::arg("side"), py::arg("price_ticks"), py::arg("qty_lots"),
          py::arg("tif") = static_cast<int>(TimeInForce::GTC), py::arg("post_only") = false,
          py::arg("stp") = static_cast<int>(Stp::CancelOldest), py::arg("expiry_ns") = 0,
          py::arg("client_order_id") = 0, py::arg("ts_ns") = 0)
      .def(
          "submit_market",
          [](Exchange& ex, BookId book, AgentId agent, std::int64_t side, Lots qty_lots, Quote notional_quote,
             std::int64_t currency, std::int64_t stp, std::uint64_t client_order_id, TimeNs ts_ns) {
            InstructionRecord r{};
            r.kind = static_cast<std::uint8_t>(InstructionKind::PlaceMarket);
            r.book = book;
            r.agent = agent;
            r.side = enum_byte(side);
            r.qty_lots = qty_lots;
            r.notional_quote = notional_quote;
            r.currency = enum_byte(currency);
            r.stp = enum_byte(stp);
            r.client_order_id = client_order_id;
            r.ts_ns = ts_ns;
            ex.submit(r);
          },
          py::arg("book"), py::arg("agent"), py::arg("side"), py::arg("qty_lots") = 0, py::arg("notional_quote") = 0,
          py::arg("currency") = static_cast<int>(Currency::Base), py::arg("stp") = static_cast<int>(Stp::CancelOldest),
          py::arg("client_order_id") = 0, py::arg("ts_ns") = 0)
      .def(
          "cancel",
          [](Exchange& ex, BookId book, AgentId agent, OrderId order_id, Lots qty_lots, std::uint64_t client_order_id,
             TimeNs ts_ns) {
            InstructionRecord r{};
            r.kind = static_cast<std::uint8_t>(InstructionKind::Cancel);
            r.book = book;
            r.agent = agent;
            r.order_id = order_id;
            r.qty_lots = qty_lots;
            r.client_order_id = client_order_id;
            r.ts_ns = ts_ns;
            ex.submit(r);
          },
          py::arg("book"), py::arg("agent"), py::arg("order_id"), py::arg("qty_lots") = 0,
          py::arg("client_order_id") = 0, py::arg("ts_ns") = 0)
      .def("reset_agent", &Exchange::reset_agent, py::arg("agent"), py::arg("ts_ns") = 0)
      .def("advance_to", &Exchange::advance_to, py::arg("ts_ns"))
      .def(
          "take_events", [](Exchange& ex) { return to_numpy(ex.take_events()); },
          "Events since the last call as a numpy array of EVENT_DTYPE (book by book, then unrouted).")
      .def("time", &Exchange::time, py::arg("book"));
  def_exchange_views(exchange, [](Exchange& ex) -> Exchange& { return ex; });
}

}  // namespace taosim::bindings
