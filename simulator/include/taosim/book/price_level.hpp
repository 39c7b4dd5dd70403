// The two records the book is made of: a resting order and a price level.
// Orders of one level form a doubly linked FIFO through handles into the book's
// order pool, so a cancel unlinks in O(1) and keeps everyone else's place.
// Levels live in a pool too; each order knows its level's handle.
#pragma once

#include <cstdint>

#include "taosim/types.hpp"

namespace taosim {

using OrderHandle = std::uint32_t;
using LevelHandle = std::uint32_t;
inline constexpr OrderHandle kNullHandle = 0xFFFFFFFFu;

struct RestingOrder {
  OrderId id;
  Ticks price_ticks;
  Lots qty_lots;  // remaining
  AgentId agent;
  OrderHandle prev;
  OrderHandle next;
  LevelHandle level;  // the level it rests in, so a cancel needs no price search
  Side side;
  std::uint8_t pad[7] = {};  // explicit, so that saved bytes are determined
};

struct PriceLevel {
  Ticks price_ticks;
  Lots qty_lots;  // sum of the orders' remaining quantity
  OrderHandle head;
  OrderHandle tail;
  std::uint32_t count;
  std::uint32_t pad = 0;  // explicit, so that saved bytes are determined
};

}  // namespace taosim
