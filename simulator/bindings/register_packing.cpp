// MessagePack of many records at once, from numpy columns (taos.validator.packing): a conversion
// of whole columns to the bytes msgspec writes, without a Python object per record.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "register.hpp"

namespace taosim::bindings {

namespace {

// The kinds of a field, numbered as taos.validator.packing numbers them.
enum class FieldKind : int { Constant = 0, Integer = 1, Unsigned = 2, Float = 3, ArrayHeader = 4, Spans = 5 };

struct Field {
  FieldKind kind;
  std::string constant;                            // Constant
  const std::int64_t* ints = nullptr;              // Integer, ArrayHeader
  const std::uint64_t* uints = nullptr;            // Unsigned
  const double* floats = nullptr;                  // Float
  const bool* present = nullptr;                   // Integer, Unsigned, Float: nil where false (optional)
  const std::uint8_t* bytes = nullptr;             // Spans: record i is bytes[starts[i]:ends[i]]
  const std::int64_t* starts = nullptr;
  const std::int64_t* ends = nullptr;
  std::vector<py::array> keep;                     // the arrays the pointers read
};

// Big-endian `size` bytes of `v` after `header`; returns the end.
std::uint8_t* put_be(std::uint8_t* out, std::uint8_t header, std::uint64_t v, int size) {
  *out++ = header;
  for (int s = size - 1; s >= 0; --s) *out++ = static_cast<std::uint8_t>(v >> (8 * s));
  return out;
}

// The bytes after the header of the shortest form of an int, as msgspec writes it (0: a fixint).
int int_size(std::int64_t v) {
  if (v >= 0) {
    const auto u = static_cast<std::uint64_t>(v);
    return u < 128 ? 0 : u <= 0xFF ? 1 : u <= 0xFFFF ? 2 : u <= 0xFFFF'FFFFULL ? 4 : 8;
  }
  return v >= -32 ? 0 : v >= -128 ? 1 : v >= -32'768 ? 2 : v >= -(1LL << 31) ? 4 : 8;
}

std::uint8_t* put_int(std::uint8_t* out, std::int64_t v) {
  const int size = int_size(v);
  if (size == 0) {
    *out++ = static_cast<std::uint8_t>(v);  // positive fixint, or the two's complement byte
    return out;
  }
  const int form = size == 1 ? 0 : size == 2 ? 1 : size == 4 ? 2 : 3;
  return put_be(out, static_cast<std::uint8_t>((v >= 0 ? 0xCC : 0xD0) + form), static_cast<std::uint64_t>(v), size);
}

int array_header_size(std::int64_t c) { return c < 16 ? 0 : c <= 0xFFFF ? 2 : 4; }

std::uint8_t* put_array_header(std::uint8_t* out, std::int64_t count) {
  const auto c = static_cast<std::uint64_t>(count);
  if (c < 16) {
    *out++ = static_cast<std::uint8_t>(0x90 | c);
    return out;
  }
  return c <= 0xFFFF ? put_be(out, 0xDC, c, 2) : put_be(out, 0xDD, c, 4);
}

constexpr std::uint64_t kInt64Max = static_cast<std::uint64_t>(INT64_MAX);

std::size_t field_size(const Field& f, std::size_t i) {
  if (f.present != nullptr && !f.present[i]) return 1;
  switch (f.kind) {
    case FieldKind::Constant: return f.constant.size();
    case FieldKind::Integer: return 1 + static_cast<std::size_t>(int_size(f.ints[i]));
    case FieldKind::Unsigned:
      return f.uints[i] > kInt64Max ? 9 : 1 + static_cast<std::size_t>(int_size(static_cast<std::int64_t>(f.uints[i])));
    case FieldKind::Float: return 9;
    case FieldKind::ArrayHeader: return 1 + static_cast<std::size_t>(array_header_size(f.ints[i]));
    case FieldKind::Spans: return static_cast<std::size_t>(f.ends[i] - f.starts[i]);
  }
  return 0;
}

std::uint8_t* put_field(std::uint8_t* out, const Field& f, std::size_t i) {
  if (f.present != nullptr && !f.present[i]) {
    *out++ = 0xC0;  // nil
    return out;
  }
  switch (f.kind) {
    case FieldKind::Constant: return std::copy(f.constant.begin(), f.constant.end(), out);
    case FieldKind::Integer: return put_int(out, f.ints[i]);
    case FieldKind::Unsigned:
      return f.uints[i] > kInt64Max ? put_be(out, 0xCF, f.uints[i], 8) : put_int(out, static_cast<std::int64_t>(f.uints[i]));
    case FieldKind::Float: {
      std::uint64_t bits;
      std::memcpy(&bits, &f.floats[i], sizeof bits);
      return put_be(out, 0xCB, bits, 8);
    }
    case FieldKind::ArrayHeader: return put_array_header(out, f.ints[i]);
    case FieldKind::Spans: return std::copy(f.bytes + f.starts[i], f.bytes + f.ends[i], out);
  }
  return out;
}

template <class T>
const T* column(Field& f, const py::handle& obj, std::size_t n, const char* what) {
  auto a = py::array_t<T, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!a || a.ndim() != 1 || static_cast<std::size_t>(a.shape(0)) != n)
    throw py::value_error(std::string("pack_records: ") + what + " must be a 1-d array of " + std::to_string(n) +
                          " values");
  f.keep.push_back(a);
  return a.data();
}

Field read_field(const py::handle& spec, std::size_t n) {
  const auto t = py::reinterpret_borrow<py::tuple>(spec);
  if (!py::isinstance<py::tuple>(spec) || t.size() < 2)
    throw py::value_error("pack_records: a field is a tuple (kind, values, ...)");
  Field f;
  f.kind = static_cast<FieldKind>(t[0].cast<int>());
  const auto present = [&](std::size_t at) {
    if (t.size() > at && !t[at].is_none()) f.present = column<bool>(f, t[at], n, "a field's presence");
  };
  switch (f.kind) {
    case FieldKind::Constant:
      f.constant = t[1].cast<std::string>();
      break;
    case FieldKind::Integer:
      f.ints = column<std::int64_t>(f, t[1], n, "an integer field");
      present(2);
      break;
    case FieldKind::Unsigned:
      f.uints = column<std::uint64_t>(f, t[1], n, "an unsigned field");
      present(2);
      break;
    case FieldKind::Float:
      f.floats = column<double>(f, t[1], n, "a float field");
      present(2);
      break;
    case FieldKind::ArrayHeader:
      f.ints = column<std::int64_t>(f, t[1], n, "an array length field");
      for (std::size_t i = 0; i < n; ++i)
        if (f.ints[i] < 0 || f.ints[i] > 0xFFFF'FFFFLL)
          throw py::value_error("pack_records: an array's length must lie in [0, 2**32)");
      break;
    case FieldKind::Spans: {
      if (t.size() != 4) throw py::value_error("pack_records: a spans field is (kind, bytes, starts, ends)");
      auto data = py::array_t<std::uint8_t, py::array::c_style>::ensure(t[1]);
      if (!data || data.ndim() != 1) throw py::value_error("pack_records: spans must read a 1-d uint8 array");
      f.keep.push_back(data);
      f.bytes = data.data();
      f.starts = column<std::int64_t>(f, t[2], n, "the spans' starts");
      f.ends = column<std::int64_t>(f, t[3], n, "the spans' ends");
      const auto size = static_cast<std::int64_t>(data.shape(0));
      for (std::size_t i = 0; i < n; ++i)
        if (f.starts[i] < 0 || f.starts[i] > f.ends[i] || f.ends[i] > size)
          throw py::value_error("pack_records: a span lies outside its bytes");
      break;
    }
    default:
      throw py::value_error("pack_records: unknown field kind " + py::str(t[0]).cast<std::string>());
  }
  return f;
}

}  // namespace

void register_packing(py::module_& m) {
  m.def(
      "pack_records",
      [](std::size_t n, const py::list& specs) {
        std::vector<Field> fields;
        fields.reserve(specs.size());
        for (const auto& spec : specs) fields.push_back(read_field(spec, n));
        std::vector<std::int64_t> offsets(n + 1, 0);
        std::vector<std::uint8_t> out;
        {
          py::gil_scoped_release release;
          std::size_t total = 0;  // first the sizes, then the bytes into their exact room
          for (std::size_t i = 0; i < n; ++i) {
            for (const Field& f : fields) total += field_size(f, i);
            offsets[i + 1] = static_cast<std::int64_t>(total);
          }
          out.resize(total);
          std::uint8_t* at = out.data();
          for (std::size_t i = 0; i < n; ++i)
            for (const Field& f : fields) at = put_field(at, f, i);
        }
        return py::make_tuple(to_numpy(std::move(out)), to_numpy(std::move(offsets)));
      },
      py::arg("n"), py::arg("fields"),
      "n records, each the MessagePack of its `fields` one after the other: (bytes as a uint8 array,\n"
      "offsets: record i is bytes[offsets[i]:offsets[i + 1]]). A field is (kind, values[, present]):\n"
      "0 constant bytes, 1 int64 and 2 uint64 (shortest form), 3 float64, 4 array header of a length,\n"
      "5 spans (kind, uint8 bytes, starts, ends); nil where `present` is false.");
}

}  // namespace taosim::bindings
