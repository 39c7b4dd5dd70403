// A small, portable, seedable random generator (xoshiro256**, seeded by
// splitmix64), so that a seed gives the same numbers on every platform and
// standard library. Uniform integers use Lemire's multiply-shift rejection.
#pragma once

#include <cmath>
#include <cstdint>
#include <initializer_list>

#include "taosim/state.hpp"

namespace taosim {

inline std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) {
    for (auto& s : s_) s = splitmix64(seed);
  }
  // A stream for a tuple of keys, e.g. (seed, book) or (seed, book, agent):
  // each key is folded in through splitmix64, so nearby tuples get unrelated streams.
  static Rng for_keys(std::initializer_list<std::uint64_t> keys) {
    std::uint64_t h = 0x243F6A8885A308D3ull;
    for (std::uint64_t k : keys) {
      std::uint64_t x = h ^ k;
      h = splitmix64(x);
    }
    return Rng(h);
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n), n > 0.
  std::uint64_t below(std::uint64_t n) {
    unsigned __int128 m = static_cast<unsigned __int128>(next()) * n;
    auto low = static_cast<std::uint64_t>(m);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = static_cast<unsigned __int128>(next()) * n;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }
  // Uniform in [lo, hi].
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  // Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  // Standard normal (Box–Muller; one draw per call, two uniforms consumed).
  double normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  // Exponential with the given mean.
  double exponential(double mean) { return -mean * std::log(1.0 - uniform()); }
  // False for the all-zero state, the one xoshiro never leaves (every draw would be 0 and
  // below() would never return): no seed gives it, so a loaded one is corrupt.
  bool usable() const { return (s_[0] | s_[1] | s_[2] | s_[3]) != 0; }
  void save(StateWriter& w) const {
    for (std::uint64_t s : s_) w.pod(s);
  }
  void load(StateReader& r) {
    for (std::uint64_t& s : s_) r.pod(s);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

}  // namespace taosim
