// numpy dtypes of the flat records (same byte layout as the C++ structs).
#include <string>

#include "register.hpp"

namespace taosim::bindings {

void register_records(py::module_& m) {
  PYBIND11_NUMPY_DTYPE(InstructionRecord, ts_ns, price_ticks, qty_lots, notional_quote, expiry_ns, order_id,
                       client_order_id, book, agent, kind, side, tif, stp, currency, post_only);
  PYBIND11_NUMPY_DTYPE(Event, seq, ts_ns, order_id, other_order_id, client_order_id, price_ticks, qty_lots,
                       remaining_lots, notional_quote, maker_fee, taker_fee, book, agent, other_agent, kind, side, reason,
                       tif);
  PYBIND11_NUMPY_DTYPE(LevelRecord, price_ticks, qty_lots, count);
  PYBIND11_NUMPY_DTYPE(OrderRecord, order_id, price_ticks, qty_lots, level, side);
  PYBIND11_NUMPY_DTYPE(AccountRecord, agent, open_orders, base_free, base_reserved, quote_free,
                       quote_reserved, fees_paid, traded_quote);
  m.attr("INSTRUCTION_DTYPE") = py::dtype::of<InstructionRecord>();
  m.attr("EVENT_DTYPE") = py::dtype::of<Event>();
  m.attr("LEVEL_DTYPE") = py::dtype::of<LevelRecord>();
  m.attr("ORDER_DTYPE") = py::dtype::of<OrderRecord>();
  m.attr("ACCOUNT_DTYPE") = py::dtype::of<AccountRecord>();
  // The arrays of a BookLevels given from Python (constructor, unpickling): 1-d, of the right dtype.
  const auto records = [](const py::handle& obj, const py::dtype& want, const char* name) {
    const py::array a = py::array::ensure(obj);
    if (!a || !a.dtype().attr("__eq__")(want).cast<bool>() || a.ndim() != 1)
      throw py::value_error(std::string("BookLevels: ") + name + " must be a 1-d array of " +
                            py::str(want).cast<std::string>());
    return a;
  };
  py::class_<BookLevels>(m, "BookLevels",
                         "One book's view after a step: `bids` and `asks` (LEVEL_DTYPE, best first) and the\n"
                         "orders of the first levels, `bid_orders` and `ask_orders` (ORDER_DTYPE).")
      .def(py::init([records](const py::object& bids, const py::object& asks, const py::object& bid_orders,
                              const py::object& ask_orders) {
             const py::dtype level = py::dtype::of<LevelRecord>(), order = py::dtype::of<OrderRecord>();
             return BookLevels{records(bids, level, "bids"), records(asks, level, "asks"),
                               records(bid_orders, order, "bid_orders"), records(ask_orders, order, "ask_orders")};
           }),
           py::arg("bids"), py::arg("asks"), py::arg("bid_orders"), py::arg("ask_orders"))
      .def_readonly("bids", &BookLevels::bids)
      .def_readonly("asks", &BookLevels::asks)
      .def_readonly("bid_orders", &BookLevels::bid_orders)
      .def_readonly("ask_orders", &BookLevels::ask_orders)
      .def("__repr__",
           [](const BookLevels& b) {
             return "BookLevels(" + std::to_string(b.bids.size()) + " bids, " + std::to_string(b.asks.size()) +
                    " asks, " + std::to_string(b.bid_orders.size() + b.ask_orders.size()) + " orders)";
           })
      .def(py::pickle(  // Ray carries a shard's views to the driver
          [](const BookLevels& b) { return py::make_tuple(b.bids, b.asks, b.bid_orders, b.ask_orders); },
          [records](const py::tuple& t) {
            if (t.size() != 4) throw py::value_error("BookLevels state must hold 4 arrays");
            const py::dtype level = py::dtype::of<LevelRecord>(), order = py::dtype::of<OrderRecord>();
            return BookLevels{records(t[0], level, "bids"), records(t[1], level, "asks"),
                              records(t[2], order, "bid_orders"), records(t[3], order, "ask_orders")};
          }));
  m.attr("MAX_PRICE_TICKS") = kMaxPriceTicks;
  m.attr("MAX_QTY_LOTS") = kMaxQtyLots;
  m.attr("MAX_NOTIONAL") = kMaxNotional;
  m.attr("RATE_SCALE") = kRateScale;
}

}  // namespace taosim::bindings
