// Binary state for checkpoints: a writer that appends plain values and vectors
// of trivially copyable values, and a reader that checks every read against the
// end of its input. The format is the machine's native layout; a checkpoint is
// restored by the same build on the same kind of machine.
#pragma once

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace taosim {

class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A type whose bytes say exactly its value: no padding (whose bytes are indeterminate and would make
// two saves of the same state differ). Floating-point values are allowed as they are.
template <class T>
inline constexpr bool kSavable =
    std::is_trivially_copyable_v<T> && (std::is_floating_point_v<T> || std::has_unique_object_representations_v<T>);

class StateWriter {
 public:
  template <class T>
  void pod(const T& v) {
    static_assert(kSavable<T>, "saved types must have no padding: add explicit, zeroed pad fields");
    buf_.append(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  template <class T>
  void vec(const std::vector<T>& v) {
    static_assert(kSavable<T>, "saved types must have no padding: add explicit, zeroed pad fields");
    pod<std::uint64_t>(v.size());
    if (!v.empty()) buf_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  void str(const std::string& s) {
    pod<std::uint64_t>(s.size());
    buf_.append(s);
  }
  // field() is pod() under a name StateReader shares, so one list of fields can
  // both save and load (see Exchange::transfer).
  template <class T>
  void field(const T& v) {
    pod(v);
  }
  std::string& buffer() { return buf_; }

 private:
  std::string buf_;
};

class StateReader {
 public:
  explicit StateReader(std::string_view data) : p_(data.data()), end_(data.data() + data.size()) {}
  template <class T>
  void pod(T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    need(sizeof(T));
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
  }
  // A bool is one byte that must be 0 or 1 (any other byte is not a bool value).
  void pod(bool& v) {
    std::uint8_t b;
    pod(b);
    if (b > 1) fail();
    v = b != 0;
  }
  template <class T>
  void field(T& v) {
    pod(v);
  }
  template <class T>
  T pod() {
    T v;
    pod(v);
    return v;
  }
  template <class T>
  void vec(std::vector<T>& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto n = pod<std::uint64_t>();
    if (n > remaining() / (sizeof(T) ? sizeof(T) : 1)) fail();
    v.resize(n);
    if (n) std::memcpy(v.data(), p_, n * sizeof(T));  // an empty vector may have no storage
    p_ += n * sizeof(T);
  }
  void str(std::string& s) {
    const auto n = pod<std::uint64_t>();
    need(n);
    s.assign(p_, n);
    p_ += n;
  }
  std::size_t remaining() const { return static_cast<std::size_t>(end_ - p_); }

 private:
  void need(std::size_t n) const {
    if (n > remaining()) fail();
  }
  [[noreturn]] static void fail() { throw CheckpointError("checkpoint is truncated or corrupt"); }
  const char* p_;
  const char* end_;
};

// A checkpoint that reads fine but whose state breaks an invariant of the engine: the message
// names what is wrong, e.g. "checkpoint: book 3: order 123 at price 29999 belongs to unknown agent 9001".
[[noreturn]] inline void corrupt_state(const std::string& what) { throw CheckpointError("checkpoint: " + what); }

// FNV-1a, 64 bit: the checksum of a checkpoint's body and the fingerprint of a config.
inline std::uint64_t fnv1a(std::string_view data) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

}  // namespace taosim
