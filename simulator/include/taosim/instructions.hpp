// Instructions: the commands agents send to the exchange.
//
// The typed structs are what C++ code builds; `InstructionRecord` is the flat,
// fixed-layout form used to move batches across the Python boundary (a numpy
// structured array with the same layout). Enum fields of a record are raw bytes:
// the exchange validates every value, so any bit pattern is a safe input.
#pragma once

#include <cstdint>
#include <variant>

#include "taosim/types.hpp"

namespace taosim {

struct PlaceLimit {
  BookId book = 0;
  AgentId agent = 0;
  Side side = Side::Buy;
  Ticks price_ticks = 0;
  Lots qty_lots = 0;
  TimeInForce tif = TimeInForce::GTC;
  bool post_only = false;
  Stp stp = Stp::CancelOldest;
  TimeNs expiry_ns = 0;  // GTT only: the order is cancelled by the exchange at this time
  std::uint64_t client_order_id = 0;
};

struct PlaceMarket {
  BookId book = 0;
  AgentId agent = 0;
  Side side = Side::Buy;
  Currency currency = Currency::Base;
  Lots qty_lots = 0;         // used when currency == Base
  Quote notional_quote = 0;  // used when currency == Quote
  Stp stp = Stp::CancelOldest;
  std::uint64_t client_order_id = 0;
};

struct Cancel {
  BookId book = 0;
  AgentId agent = 0;
  OrderId order_id = kNoOrder;
  Lots qty_lots = 0;  // 0 cancels the whole remaining quantity; otherwise reduce by this much
  std::uint64_t client_order_id = 0;
};

// Cancel every order of the agent on every book and restore its starting balances.
struct ResetAgent {
  AgentId agent = 0;
};

using Instruction = std::variant<PlaceLimit, PlaceMarket, Cancel, ResetAgent>;

#pragma pack(push, 1)
struct InstructionRecord {
  std::int64_t ts_ns;  // simulated time at which it reaches the exchange (its book)
  std::int64_t price_ticks;
  std::int64_t qty_lots;
  std::int64_t notional_quote;
  std::int64_t expiry_ns;
  std::uint64_t order_id;
  std::uint64_t client_order_id;
  std::uint32_t book;
  std::uint32_t agent;
  std::uint8_t kind;  // InstructionKind
  std::uint8_t side;  // Side
  std::uint8_t tif;   // TimeInForce
  std::uint8_t stp;   // Stp
  std::uint8_t currency;
  std::uint8_t post_only;
  std::uint8_t pad[2];
};
#pragma pack(pop)
static_assert(sizeof(InstructionRecord) == 72);

InstructionRecord to_record(const Instruction& instruction, TimeNs ts_ns);

}  // namespace taosim
