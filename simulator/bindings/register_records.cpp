// numpy dtypes of the flat records (same byte layout as the C++ structs).
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
  m.attr("MAX_PRICE_TICKS") = kMaxPriceTicks;
  m.attr("MAX_QTY_LOTS") = kMaxQtyLots;
  m.attr("MAX_NOTIONAL") = kMaxNotional;
  m.attr("RATE_SCALE") = kRateScale;
}

}  // namespace taosim::bindings
