// Basic vocabulary of the engine: identifiers, integer units and the closed enums.
//
// Money, quantities and time are integers with the unit in the name:
//   *_ticks  price in multiples of the book's tick size
//   *_lots   quantity in multiples of the book's lot size
//   quote    quote-currency amounts in units of (tick size x lot size), so that
//            price_ticks * qty_lots is exactly a quote amount
//   *_ns     simulated time in nanoseconds
//   *_ppb    rates in parts per billion (1e-9)
//
// Every enum has explicit values. The same numbers are declared in
// taos/protocol/enums.py and a test checks that both agree member by member.
#pragma once

#include <cstdint>
#include <limits>

namespace taosim {

using AgentId = std::uint32_t;
using BookId = std::uint32_t;
using OrderId = std::uint64_t;
using Ticks = std::int64_t;
using Lots = std::int64_t;
using Quote = std::int64_t;
using TimeNs = std::int64_t;
using RatePpb = std::int64_t;

inline constexpr OrderId kNoOrder = 0;  // never a valid order id
inline constexpr Ticks kMaxPriceTicks = 1'000'000'000'000LL;  // 1e12
inline constexpr Lots kMaxQtyLots = 1'000'000'000'000LL;      // 1e12
inline constexpr Quote kMaxNotional = 1'000'000'000'000'000'000LL;  // 1e18 = price x qty cap
inline constexpr RatePpb kRateScale = 1'000'000'000LL;  // 1.0 in ppb
inline constexpr TimeNs kNever = std::numeric_limits<TimeNs>::max();

enum class Side : std::uint8_t { Buy = 1, Sell = 2 };

enum class TimeInForce : std::uint8_t { GTC = 1, GTT = 2, IOC = 3, FOK = 4 };

// Self-trade prevention, chosen per aggressing order.
enum class Stp : std::uint8_t {
  None = 0,                // trade with yourself (background agents only)
  CancelOldest = 1,        // cancel the resting order, keep matching
  CancelNewest = 2,        // cancel the aggressor's remainder
  CancelBoth = 3,          // cancel both
  DecrementAndCancel = 4,  // reduce both by the smaller size; the smaller one is cancelled
};

enum class Currency : std::uint8_t { Base = 1, Quote = 2 };

enum class InstructionKind : std::uint8_t {
  PlaceLimit = 1,
  PlaceMarket = 2,
  Cancel = 3,
  ResetAgent = 4,
};

enum class EventKind : std::uint8_t {
  OrderPlaced = 1,
  OrderRejected = 2,
  Trade = 3,
  OrderCancelled = 4,
  CancelRejected = 5,
  AccountReset = 6,
};

// Why an order or a cancel was refused. Fixed numbers; never reuse a retired value.
enum class RejectReason : std::uint8_t {
  None = 0,
  UnknownBook = 1,
  UnknownAgent = 2,         // the agent has no account on this book
  InvalidSide = 3,
  InvalidPrice = 4,         // not in [1, kMaxPriceTicks]
  InvalidQuantity = 5,      // not in [1, kMaxQtyLots] (or a negative partial-cancel size)
  InvalidTimeInForce = 6,
  InvalidExpiry = 7,        // GTT whose expiry is not after the arrival time
  InvalidStp = 8,           // unknown mode, or None for an agent class that may not self-trade
  InvalidCurrency = 9,
  PostOnlyNotAllowed = 10,  // post-only together with IOC or FOK
  WouldTakeLiquidity = 11,  // post-only order that would cross
  NoLiquidity = 12,         // market order into an empty side; IOC with nothing matchable
  FokNotFillable = 13,
  InsufficientBase = 14,
  InsufficientQuote = 15,
  NotionalTooLarge = 16,    // price x quantity above kMaxNotional
  UnknownOrder = 17,        // cancel of an order that is not resting on this book
  NotOwner = 18,            // cancel of another agent's order
  InvalidInstruction = 19,  // unknown instruction kind
  BookFull = 20,            // the book holds its maximum number of resting orders
  MarketClosed = 21,        // outside the book's trading session (set by the validator, not the engine)
};

// Why (part of) an order left the book without trading.
enum class CancelReason : std::uint8_t {
  Requested = 0,          // the owner cancelled it (fully or partially)
  Expired = 1,            // GTT expiry reached
  IocRest = 2,            // unfilled rest of an IOC order
  Stp = 3,                // self-trade prevention
  Reset = 4,              // the owner's account was reset
  MarketRest = 5,         // unfilled rest of a market order: the opposite side ran out
  InsufficientFunds = 6,  // unfilled rest of a market order: the agent's balance ran out
};

inline constexpr Side opposite(Side s) { return s == Side::Buy ? Side::Sell : Side::Buy; }

// The byte an enum is stored as in the flat records.
template <class E>
constexpr std::uint8_t byte_of(E e) {
  return static_cast<std::uint8_t>(e);
}

// Visitor of several lambdas for std::visit.
template <class... Fs>
struct Overloaded : Fs... {
  using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;

}  // namespace taosim
