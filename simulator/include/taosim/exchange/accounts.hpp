// Per-agent, per-book accounts. Base balances are in lots, quote balances in
// quote units (tick x lot). The exchange moves amounts between `free` and
// `reserved`; total = free + reserved is derived, never stored.
//
// Room for margin trading (a later phase): a loan balance and a maintenance
// margin would be further fields here, settled by the same exchange layer.
#pragma once

#include <cstdint>

#include "taosim/exchange/fees.hpp"
#include "taosim/types.hpp"

namespace taosim {

struct Balance {
  std::int64_t free = 0;
  std::int64_t reserved = 0;
  std::int64_t total() const { return free + reserved; }
};

// The fee rates of an account's current tier, valid while the clock stays in
// `bucket` and the window volume stays below `next_volume`.
struct TierCache {
  std::int64_t bucket = -1;
  Quote next_volume = 0;
  RatePpb maker_ppb = 0;
  RatePpb taker_ppb = 0;
};

struct Account {
  bool open = false;
  std::uint32_t agent_class = 0;
  Balance base;
  Balance quote;
  Lots start_base_lots = 0;
  Quote start_quote = 0;
  std::uint32_t open_orders = 0;
  Quote fees_paid = 0;       // since open or the last reset; negative = net rebates
  Quote traded_quote = 0;    // all-time traded notional since open or the last reset
  VolumeWindow volume;       // rolling window for fee tiers
  TierCache tier;
};

}  // namespace taosim
