// A miner's reply, read from its MessagePack into one record per instruction (taos.validator.batch):
// a conversion of the form msgspec writes, without a Python object per instruction. Only that form
// is read; for anything else (another layout, a value out of its range, an instruction this reader
// does not know) the reader answers None and msgspec decodes the reply, so every reply decodes to
// the same instructions, or is refused with msgspec's message, either way.
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <cstring>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "register.hpp"

namespace taosim::bindings {

namespace {

// One instruction as columns (REPLY_INSTRUCTION_DTYPE): a field its kind lacks is 0, a price or
// quantity it lacks NaN.
struct ReplyInstruction {
  std::int64_t book;
  std::int64_t delay_ns;
  double price;
  double quantity;
  std::int64_t expiry_ns;
  std::uint64_t order_id;
  std::uint64_t client_order_id;
  std::uint8_t kind;
  std::uint8_t side;
  std::uint8_t tif;
  std::uint8_t stp;
  std::uint8_t currency;
  std::uint8_t post_only;
  std::uint8_t has_expiry;
  std::uint8_t no_quantity;
};

// An integer as MessagePack holds it: its value, and whether it is negative.
struct Integer {
  bool negative = false;
  std::uint64_t bits = 0;  // the value (two's complement when negative)
};

// A bounds-checked cursor over MessagePack bytes: a read that does not find what it asks for
// returns false (or nothing) and the whole reply is left to msgspec.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}

  bool at_end() const { return p_ == end_; }

  std::optional<std::uint32_t> map_header() { return header(0x80, 0xDE); }
  std::optional<std::uint32_t> array_header() { return header(0x90, 0xDC); }

  std::optional<std::string_view> str() {
    if (left() < 1) return std::nullopt;
    const std::uint8_t b = *p_;
    std::size_t n, head;
    if ((b & 0xE0) == 0xA0) {
      n = b & 0x1F, head = 1;
    } else if (b == 0xD9 && left() >= 2) {
      n = p_[1], head = 2;
    } else {
      return std::nullopt;
    }
    if (left() < head + n) return std::nullopt;
    std::string_view out(reinterpret_cast<const char*>(p_ + head), n);
    p_ += head + n;
    return out;
  }

  std::optional<Integer> integer() {
    if (left() < 1) return std::nullopt;
    const std::uint8_t b = *p_;
    if (b <= 0x7F) {
      ++p_;
      return Integer{false, b};
    }
    if (b >= 0xE0) {
      ++p_;
      return Integer{true, static_cast<std::uint64_t>(static_cast<std::int64_t>(static_cast<std::int8_t>(b)))};
    }
    if (b < 0xCC || b > 0xD3) return std::nullopt;
    const bool is_signed = b >= 0xD0;
    const int size = 1 << ((b - (is_signed ? 0xD0 : 0xCC)));  // 1, 2, 4 or 8 bytes
    const auto read = payload(size);
    if (!read) return std::nullopt;
    std::uint64_t v = *read;
    bool negative = false;
    if (is_signed && ((v >> (8 * size - 1)) & 1)) {
      negative = true;
      if (size < 8) v |= ~std::uint64_t{0} << (8 * size);  // sign extension
    }
    return Integer{negative, v};
  }

  // A float 64 or float 32: what msgspec reads as a float without converting an integer.
  std::optional<double> real() {
    if (left() < 1 || (*p_ != 0xCB && *p_ != 0xCA)) return std::nullopt;
    const bool wide = *p_ == 0xCB;
    const auto bits = payload(wide ? 8 : 4);
    if (!bits) return std::nullopt;
    if (wide) {
      double out;
      std::memcpy(&out, &*bits, sizeof out);
      return out;
    }
    const auto narrow = static_cast<std::uint32_t>(*bits);
    float out;
    std::memcpy(&out, &narrow, sizeof out);
    return static_cast<double>(out);
  }

  std::optional<bool> boolean() {
    if (left() < 1 || (*p_ != 0xC2 && *p_ != 0xC3)) return std::nullopt;
    return *p_++ == 0xC3;
  }

  bool nil() {
    if (left() < 1 || *p_ != 0xC0) return false;
    ++p_;
    return true;
  }

 private:
  std::size_t left() const { return static_cast<std::size_t>(end_ - p_); }

  std::optional<std::uint32_t> header(std::uint8_t fix, std::uint8_t b16) {
    if (left() < 1) return std::nullopt;
    const std::uint8_t b = *p_;
    if ((b & 0xF0) == fix) {
      ++p_;
      return static_cast<std::uint32_t>(b & 0x0F);
    }
    const int size = b == b16 ? 2 : b == b16 + 1 ? 4 : 0;
    const auto n = size ? payload(size) : std::nullopt;
    if (!n) return std::nullopt;
    return static_cast<std::uint32_t>(*n);
  }

  // The `size` big-endian bytes after a header byte, which are then passed over.
  std::optional<std::uint64_t> payload(int size) {
    if (left() < static_cast<std::size_t>(1 + size)) return std::nullopt;
    std::uint64_t v = 0;
    for (int i = 1; i <= size; ++i) v = (v << 8) | p_[i];
    p_ += 1 + size;
    return v;
  }

  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

constexpr std::uint64_t kInt64Max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

// An int field held in an int64 column.
std::optional<std::int64_t> signed_value(Reader& r) {
  const auto v = r.integer();
  if (!v || (!v->negative && v->bits > kInt64Max)) return std::nullopt;
  return static_cast<std::int64_t>(v->bits);
}

// An int field held in a uint64 column (order ids): never negative.
std::optional<std::uint64_t> unsigned_value(Reader& r) {
  const auto v = r.integer();
  if (!v || v->negative) return std::nullopt;
  return v->bits;
}

// An IntEnum field: one of the values lo..hi.
std::optional<std::uint8_t> member(Reader& r, std::uint64_t lo, std::uint64_t hi) {
  const auto v = r.integer();
  if (!v || v->negative || v->bits < lo || v->bits > hi) return std::nullopt;
  return static_cast<std::uint8_t>(v->bits);
}

// Stores a value that was read; false (nothing stored) for one that was not.
template <class T, class U>
bool put(const std::optional<T>& v, U& out) {
  if (!v) return false;
  out = static_cast<U>(*v);
  return true;
}

// The fields of each instruction kind in declaration order (taos.protocol.instructions): msgspec
// writes the tag, then the fields that differ from their default, in this order.
enum Field : int { Book, Side, Price, Quantity, Tif, Expiry, PostOnly, Stp, Currency, OrderId, ClientId, Delay, None };

constexpr Field kLimitFields[] = {Book, Side, Price, Quantity, Tif, Expiry, PostOnly, Stp, ClientId, Delay};
constexpr Field kMarketFields[] = {Book, Side, Quantity, Currency, Stp, ClientId, Delay};
constexpr Field kCancelFields[] = {Book, OrderId, Quantity, Delay};

Field field_of(std::string_view key) {
  static constexpr std::pair<std::string_view, Field> names[] = {
      {"book", Book},      {"side", Side},          {"price", Price},
      {"quantity", Quantity}, {"time_in_force", Tif}, {"expiry_ns", Expiry},
      {"post_only", PostOnly}, {"stp", Stp},          {"currency", Currency},
      {"order_id", OrderId}, {"client_order_id", ClientId}, {"delay_ns", Delay}};
  for (const auto& [name, f] : names)
    if (name == key) return f;
  return None;
}

// One instruction (a map whose first key is the tag "kind"), or nothing.
std::optional<ReplyInstruction> read_instruction(Reader& r) {
  const auto n = r.map_header();
  if (!n || *n == 0) return std::nullopt;
  const auto tag_key = r.str();
  if (!tag_key || *tag_key != "kind") return std::nullopt;
  const auto tag = r.integer();
  if (!tag || tag->negative || tag->bits < 1 || tag->bits > 3) return std::nullopt;  // 5 (a target): msgspec's
  ReplyInstruction out{};
  out.kind = static_cast<std::uint8_t>(tag->bits);
  out.price = std::numeric_limits<double>::quiet_NaN();
  out.quantity = std::numeric_limits<double>::quiet_NaN();
  const Field* fields = kLimitFields;
  std::size_t count = std::size(kLimitFields);
  if (out.kind == 2) fields = kMarketFields, count = std::size(kMarketFields);
  if (out.kind == 3) fields = kCancelFields, count = std::size(kCancelFields);
  // the defaults of the fields a kind has (taos.protocol.instructions)
  if (out.kind == 1) out.tif = 1, out.stp = 1;        // GTC, CANCEL_OLDEST
  if (out.kind == 2) out.currency = 1, out.stp = 1;   // BASE, CANCEL_OLDEST
  if (out.kind == 3) out.no_quantity = 1;             // quantity None: the whole order
  std::uint32_t seen = 0;  // the fields given, as bits
  std::size_t next = 0;    // the fields come in declaration order, each at most once
  for (std::uint32_t i = 1; i < *n; ++i) {
    const auto key = r.str();
    if (!key) return std::nullopt;
    const Field f = field_of(*key);
    while (next < count && fields[next] != f) ++next;
    if (next == count) return std::nullopt;  // unknown to this kind, repeated or out of order
    ++next;
    seen |= 1u << f;
    bool ok = false;
    switch (f) {
      case Book: ok = put(signed_value(r), out.book); break;
      case Side: ok = put(member(r, 1, 2), out.side); break;
      case Price: ok = put(r.real(), out.price); break;
      case Quantity:
        if (out.kind == 3 && r.nil()) {  // Cancel.quantity: None, the whole order
          ok = true;
        } else {
          ok = put(r.real(), out.quantity);
          out.no_quantity = 0;
        }
        break;
      case Tif: ok = put(member(r, 1, 4), out.tif); break;
      case Expiry:
        if (r.nil()) {
          ok = true;
        } else {
          ok = put(signed_value(r), out.expiry_ns);
          out.has_expiry = 1;
        }
        break;
      case PostOnly: ok = put(r.boolean(), out.post_only); break;
      case Stp: ok = put(member(r, 0, 4), out.stp); break;
      case Currency: ok = put(member(r, 1, 2), out.currency); break;
      case OrderId: ok = put(unsigned_value(r), out.order_id); break;
      case ClientId: ok = r.nil() || put(unsigned_value(r), out.client_order_id); break;
      case Delay: ok = put(signed_value(r), out.delay_ns); break;
      case None: break;
    }
    if (!ok) return std::nullopt;
  }
  const auto bits = [](std::initializer_list<Field> required) {
    std::uint32_t b = 0;
    for (Field f : required) b |= 1u << f;
    return b;
  };
  const std::uint32_t required = out.kind == 1   ? bits({Book, Side, Price, Quantity})
                                 : out.kind == 2 ? bits({Book, Side, Quantity})
                                                 : bits({Book, OrderId});
  if ((seen & required) != required) return std::nullopt;
  return out;
}

}  // namespace

void register_replies(py::module_& m) {
  PYBIND11_NUMPY_DTYPE(ReplyInstruction, book, delay_ns, price, quantity, expiry_ns, order_id, client_order_id, kind,
                       side, tif, stp, currency, post_only, has_expiry, no_quantity);
  m.attr("REPLY_INSTRUCTION_DTYPE") = py::dtype::of<ReplyInstruction>();
  m.def(
      "reply_columns",
      [](const py::bytes& body, std::int64_t protocol_version, std::uint32_t max_instructions) -> py::object {
        const std::string_view bytes(body);
        std::vector<ReplyInstruction> out;
        std::int64_t book_events = 0;  // ALL
        bool ok = false;
        {
          py::gil_scoped_release release;
          Reader r(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
          // Reply: a map of protocol_version, then instructions and book_events (each may be absent)
          const auto n = r.map_header();
          const auto version_key = n && *n >= 1 && *n <= 3 ? r.str() : std::nullopt;
          const auto version = version_key && *version_key == "protocol_version" ? signed_value(r) : std::nullopt;
          ok = version && *version == protocol_version;
          for (std::uint32_t i = 1; ok && i < *n; ++i) {
            const auto key = r.str();
            if (key && *key == "instructions" && i == 1) {
              const auto count = r.array_header();
              ok = count && *count <= max_instructions;
              if (ok) out.reserve(std::min<std::size_t>(*count, bytes.size() / 8));  // an instruction takes more
              for (std::uint32_t k = 0; ok && k < *count; ++k) {
                const auto ins = read_instruction(r);
                ok = ins.has_value();
                if (ok) out.push_back(*ins);
              }
            } else if (key && *key == "book_events" && (i == 2 || (i == 1 && *n == 2))) {
              const auto v = member(r, 0, 2);
              ok = v.has_value();
              if (ok) book_events = *v;
            } else {
              ok = false;
            }
          }
          ok = ok && r.at_end();
        }
        if (!ok) return py::none();
        return py::make_tuple(book_events, to_numpy(std::move(out)));
      },
      py::arg("body"), py::arg("protocol_version"), py::arg("max_instructions"),
      "A reply (MessagePack of taos.protocol.Reply) as (book_events, REPLY_INSTRUCTION_DTYPE records,\n"
      "one per instruction), when it is in the form msgspec writes (fields in declaration order, the\n"
      "tag first) and holds only limit orders, market orders and cancels with values in range, its\n"
      "version `protocol_version` and at most `max_instructions` of them; None otherwise.");
}

}  // namespace taosim::bindings
