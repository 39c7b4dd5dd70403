// Declarations shared by the binding translation units. Bindings only convert:
// no business logic lives here.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "taosim/events.hpp"
#include "taosim/instructions.hpp"

namespace taosim::bindings {

namespace py = pybind11;

// Flat records that cross the boundary as numpy structured arrays.
struct LevelRecord {
  std::int64_t price_ticks;
  std::int64_t qty_lots;
  std::uint32_t count;
  std::uint32_t pad;
};
struct OrderRecord {  // per-order detail of the top levels, and open orders
  std::uint64_t order_id;
  std::int64_t price_ticks;
  std::int64_t qty_lots;
  std::uint32_t level;  // 0 = best level
  std::uint8_t side;
  std::uint8_t pad[3];
};
struct AccountRecord {
  std::uint32_t agent;
  std::uint32_t open_orders;
  std::int64_t base_free;
  std::int64_t base_reserved;
  std::int64_t quote_free;
  std::int64_t quote_reserved;
  std::int64_t fees_paid;
  std::int64_t traded_quote;
};

// One book's view after a step: its top levels per side (best first) and the orders of its first
// levels (in time priority), as numpy arrays of LEVEL_DTYPE and ORDER_DTYPE.
struct BookLevels {
  py::array_t<LevelRecord> bids;
  py::array_t<LevelRecord> asks;
  py::array_t<OrderRecord> bid_orders;
  py::array_t<OrderRecord> ask_orders;
};

void register_enums(py::module_& m);
void register_records(py::module_& m);
void register_exchange(py::module_& m);
void register_testing(py::module_& m);
void register_simulation(py::module_& m);
void register_packing(py::module_& m);
void register_replies(py::module_& m);

// An array of exactly INSTRUCTION_DTYPE: the array itself, or a copy of one with the same fields in
// another layout (numpy drops the padding when it concatenates or stacks structured arrays).
// Raises TypeError/ValueError for anything else.
inline py::array instruction_records(const py::object& obj) {
  py::array a = py::array::ensure(obj);
  if (!a) throw py::type_error("instructions must be a numpy array of INSTRUCTION_DTYPE (see taos.simulator.instruction_array)");
  const py::dtype want = py::dtype::of<InstructionRecord>();
  if (!a.dtype().attr("__eq__")(want).cast<bool>()) {
    const py::object names = a.dtype().attr("names");
    if (names.is_none() || !names.attr("__eq__")(want.attr("names")).cast<bool>())
      throw py::type_error("instructions must be a numpy array of INSTRUCTION_DTYPE (see taos.simulator.instruction_array)");
    a = a.attr("astype")(want);
  }
  if (a.ndim() != 1) throw py::value_error("instructions must be a one-dimensional array");
  if (!(a.flags() & py::array::c_style)) throw py::value_error("instructions must be C-contiguous");
  return a;
}

inline const InstructionRecord* records_of(const py::array& a) { return static_cast<const InstructionRecord*>(a.data()); }

// Moves a vector into a numpy array without copying.
template <class T>
py::array_t<T> to_numpy(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>({static_cast<py::ssize_t>(heap->size())}, {static_cast<py::ssize_t>(sizeof(T))},
                        heap->data(), owner);
}

}  // namespace taosim::bindings
