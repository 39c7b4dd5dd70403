// taos._simulator.Exchange: conversion between Python and taosim::Exchange.
#include <pybind11/stl.h>

#include <algorithm>

#include "register.hpp"
#include "taosim/exchange/exchange.hpp"

namespace taosim::bindings {

namespace {

// Enum arguments arrive as Python ints; a value outside a byte becomes 255,
// which no enum uses, so the exchange rejects it with the matching reason.
std::uint8_t enum_byte(std::int64_t v) { return (v < 0 || v > 255) ? 255 : static_cast<std::uint8_t>(v); }

py::array_t<LevelRecord> side_levels(const OrderBook& book, Side side, std::size_t depth) {
  std::vector<LevelRecord> out;
  const std::size_t n = std::min(depth, book.level_count(side));
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const PriceLevel& l = book.level(side, i);
    out.push_back(LevelRecord{l.price_ticks, l.qty_lots, l.count, 0});
  }
  return to_numpy(std::move(out));
}

py::array_t<OrderRecord> side_orders(const OrderBook& book, Side side, std::size_t depth) {
  std::vector<OrderRecord> out;
  const std::size_t n = std::min(depth, book.level_count(side));
  for (std::size_t i = 0; i < n; ++i) {
    book.for_each_order_at(side, i, [&](const RestingOrder& o) {
      out.push_back(OrderRecord{o.id, o.price_ticks, o.qty_lots, static_cast<std::uint32_t>(i),
                                static_cast<std::uint8_t>(side), {0, 0, 0}});
    });
  }
  return to_numpy(std::move(out));
}

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

  py::class_<Exchange>(m, "Exchange")
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
          [](Exchange& ex, const py::array& instructions) {
            const InstructionRecord* p = records_of(instructions);
            const auto n = static_cast<std::size_t>(instructions.shape(0));
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
      .def(
          "levels",
          [](const Exchange& ex, BookId book, std::size_t depth, std::size_t detail_depth) {
            if (book >= ex.num_books()) throw py::index_error("unknown book " + std::to_string(book));
            const OrderBook& b = ex.book(book);
            py::dict d;
            d["bids"] = side_levels(b, Side::Buy, depth);
            d["asks"] = side_levels(b, Side::Sell, depth);
            d["bid_orders"] = side_orders(b, Side::Buy, detail_depth);
            d["ask_orders"] = side_orders(b, Side::Sell, detail_depth);
            return d;
          },
          py::arg("book"), py::arg("depth") = 21, py::arg("detail_depth") = 5,
          "Top `depth` levels per side and the orders of the first `detail_depth` levels.")
      .def(
          "best",
          [](const Exchange& ex, BookId book) {
            if (book >= ex.num_books()) throw py::index_error("unknown book " + std::to_string(book));
            return py::make_tuple(ex.book(book).best(Side::Buy), ex.book(book).best(Side::Sell));
          },
          py::arg("book"), "(best bid, best ask) in ticks; 0 for an empty side.")
      .def(
          "accounts",
          [](const Exchange& ex, BookId book) {
            if (book >= ex.num_books()) throw py::index_error("unknown book " + std::to_string(book));
            std::vector<AccountRecord> out;
            ex.for_each_account(book, [&](AgentId a, const Account& acc) {
              out.push_back(AccountRecord{a, acc.open_orders, acc.base.free, acc.base.reserved, acc.quote.free,
                                          acc.quote.reserved, acc.fees_paid, acc.traded_quote});
            });
            return to_numpy(std::move(out));
          },
          py::arg("book"), "Every open account of a book as a numpy array of ACCOUNT_DTYPE.")
      .def(
          "account",
          [](Exchange& ex, BookId book, AgentId agent) -> py::object {
            const Account* acc = ex.account(book, agent);
            if (!acc) return py::none();
            py::dict d;
            d["base_free"] = acc->base.free;
            d["base_reserved"] = acc->base.reserved;
            d["base_total"] = acc->base.total();
            d["quote_free"] = acc->quote.free;
            d["quote_reserved"] = acc->quote.reserved;
            d["quote_total"] = acc->quote.total();
            d["open_orders"] = acc->open_orders;
            d["fees_paid"] = acc->fees_paid;
            d["traded_quote"] = acc->traded_quote;
            d["window_volume"] = ex.window_volume(book, agent);
            d["fee_tier"] = ex.fee_tier(book, agent);
            d["agent_class"] = acc->agent_class;
            return d;
          },
          py::arg("book"), py::arg("agent"), "The agent's account on a book as a dict, or None.")
      .def(
          "open_orders",
          [](const Exchange& ex, BookId book, AgentId agent) {
            if (book >= ex.num_books()) throw py::index_error("unknown book " + std::to_string(book));
            std::vector<OrderRecord> out;
            const OrderBook& b = ex.book(book);
            for (Side s : {Side::Buy, Side::Sell})
              for (std::size_t i = 0; i < b.level_count(s); ++i)
                b.for_each_order_at(s, i, [&](const RestingOrder& o) {
                  if (o.agent == agent)
                    out.push_back(OrderRecord{o.id, o.price_ticks, o.qty_lots, static_cast<std::uint32_t>(i),
                                              static_cast<std::uint8_t>(s), {0, 0, 0}});
                });
            return to_numpy(std::move(out));
          },
          py::arg("book"), py::arg("agent"))
      .def("fees_collected", &Exchange::fees_collected, py::arg("book"))
      .def("supply_base", &Exchange::supply_base, py::arg("book"))
      .def("supply_quote", &Exchange::supply_quote, py::arg("book"))
      .def("time", &Exchange::time, py::arg("book"));
}

}  // namespace taosim::bindings
