// Maker/taker fees with volume tiers over a rolling window.
//
// A fee is computed per trade in quote units, truncated toward zero:
//   fee = trunc(notional * rate_ppb / 1e9)
// so a charge never exceeds the exact amount and a rebate (negative rate) never
// exceeds it either. A maker pays its tier's rate just before each fill; an
// aggressor pays its tier's taker rate at arrival for all of its fills (see
// docs/matching.md).
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "taosim/state.hpp"
#include "taosim/types.hpp"

namespace taosim {

struct FeeTier {
  Quote volume_quote = 0;  // window volume at which this tier starts
  RatePpb maker_ppb = 0;
  RatePpb taker_ppb = 0;
};

// trunc(notional * rate / 1e9) without 128-bit division; requires
// 0 <= notional <= kMaxNotional and |rate| < 1e9.
inline Quote fee_for(Quote notional, RatePpb rate_ppb) {
  if (rate_ppb == 0) return 0;
  const bool negative = rate_ppb < 0;
  const std::int64_t r = negative ? -rate_ppb : rate_ppb;
  Quote fee;
  if (notional <= std::numeric_limits<std::int64_t>::max() / kRateScale) {
    fee = notional * r / kRateScale;  // the product fits: one division by a constant
  } else {
    const std::int64_t hi = notional / kRateScale;
    const std::int64_t lo = notional % kRateScale;
    fee = hi * r + (lo * r) / kRateScale;
  }
  return negative ? -fee : fee;
}

// What a buy of `qty` at `price` can cost at most: notional plus the fee at the
// agent's reservation rate (the highest maker or taker rate of its tiers).
inline Quote buy_reservation(Ticks price_ticks, Lots qty_lots, RatePpb reserve_rate_ppb) {
  const Quote notional = price_ticks * qty_lots;
  return notional + fee_for(notional, reserve_rate_ppb);
}

// A fee schedule: tiers sorted by volume, first tier at volume 0.
class FeeSchedule {
 public:
  FeeSchedule() : tiers_{FeeTier{}} {}
  explicit FeeSchedule(std::vector<FeeTier> tiers) : tiers_(std::move(tiers)) { validate(); }

  std::size_t tier_for(Quote window_volume) const {
    std::size_t t = 0;
    while (t + 1 < tiers_.size() && tiers_[t + 1].volume_quote <= window_volume) ++t;
    return t;
  }
  const FeeTier& tier(std::size_t i) const { return tiers_[i]; }
  const std::vector<FeeTier>& tiers() const { return tiers_; }
  // Highest rate any trade of this agent can be charged (never below 0).
  RatePpb reserve_rate() const {
    RatePpb r = 0;
    for (const auto& t : tiers_) r = std::max({r, t.maker_ppb, t.taker_ppb});
    return r;
  }

 private:
  void validate() const {
    if (tiers_.empty()) throw std::invalid_argument("fee tiers: at least one tier is required");
    if (tiers_.front().volume_quote != 0)
      throw std::invalid_argument("fee tiers: the first tier must start at volume 0");
    for (std::size_t i = 0; i < tiers_.size(); ++i) {
      const auto& t = tiers_[i];
      if (i > 0 && t.volume_quote <= tiers_[i - 1].volume_quote)
        throw std::invalid_argument("fee tiers: tier " + std::to_string(i) +
                                    " volume must be greater than the previous tier's");
      for (RatePpb r : {t.maker_ppb, t.taker_ppb})
        if (r <= -kRateScale || r >= kRateScale)
          throw std::invalid_argument("fee tiers: tier " + std::to_string(i) +
                                      " rate must be in (-1, 1), i.e. (-1e9, 1e9) ppb");
    }
  }
  std::vector<FeeTier> tiers_;
};

// Traded quote volume in a rolling window of `buckets` slots. Time is given as
// a bucket index (time / bucket length, computed once per clock change by the
// caller); the window at bucket b covers b and the buckets-1 before it.
class VolumeWindow {
 public:
  VolumeWindow() = default;
  explicit VolumeWindow(std::uint32_t buckets) : slots_(buckets, 0) {}

  Quote total(std::int64_t bucket) {
    roll(bucket);
    return sum_;
  }
  void add(std::int64_t bucket, Quote volume) {
    roll(bucket);
    slots_[pos_] += volume;
    sum_ += volume;
  }
  void clear() {
    std::fill(slots_.begin(), slots_.end(), 0);
    sum_ = 0;
  }
  // The window volume as of the last total() or add().
  Quote last_total() const { return sum_; }

  void save(StateWriter& w) const {
    w.vec(slots_);
    w.pod(sum_);
    w.pod(last_);
    w.pod(pos_);
  }
  void load(StateReader& r) {
    r.vec(slots_);
    r.pod(sum_);
    r.pod(last_);
    r.pod(pos_);
  }
  // What is wrong with a loaded window of `buckets` slots at the book's bucket `now_bucket`
  // (empty when nothing): the slot count, the position (always last_ mod buckets), the last
  // bucket (in [0, now_bucket]), volumes >= 0 and their sum.
  std::string check_loaded(std::size_t buckets, std::int64_t now_bucket) const {
    if (slots_.size() != buckets)
      return "fee volume window has " + std::to_string(slots_.size()) + " slots, the config says " +
             std::to_string(buckets);
    if (last_ < 0 || last_ > now_bucket)
      return "fee volume window was last moved in bucket " + std::to_string(last_) + ", the book is in bucket " +
             std::to_string(now_bucket);
    if (pos_ != static_cast<std::size_t>(last_ % static_cast<std::int64_t>(buckets)))
      return "fee volume window position " + std::to_string(pos_) + " does not match its bucket";
    __int128 sum = 0;
    for (Quote v : slots_) {
      if (v < 0) return "fee volume window holds a negative volume";
      sum += v;
    }
    if (sum != sum_) return "fee volume window total " + std::to_string(sum_) + " differs from its slots";
    return {};
  }

 private:
  void roll(std::int64_t b) {
    if (b <= last_) return;
    const auto n = static_cast<std::int64_t>(slots_.size());
    if (b - last_ >= n) {
      clear();
      pos_ = static_cast<std::size_t>(b % n);
    } else {
      for (std::int64_t k = last_; k < b; ++k) {
        if (++pos_ == slots_.size()) pos_ = 0;
        sum_ -= slots_[pos_];
        slots_[pos_] = 0;
      }
    }
    last_ = b;
  }
  std::vector<Quote> slots_;
  Quote sum_ = 0;
  std::int64_t last_ = 0;  // bucket index of slots_[pos_]
  std::size_t pos_ = 0;
};

}  // namespace taosim
