#include "taosim/instructions.hpp"

namespace taosim {

namespace {
template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;
std::uint8_t u8(auto e) { return static_cast<std::uint8_t>(e); }
}  // namespace

InstructionRecord to_record(const Instruction& instruction, TimeNs ts_ns) {
  InstructionRecord r{};
  r.ts_ns = ts_ns;
  std::visit(Overloaded{[&](const PlaceLimit& o) {
                          r.kind = u8(InstructionKind::PlaceLimit);
                          r.book = o.book;
                          r.agent = o.agent;
                          r.side = u8(o.side);
                          r.price_ticks = o.price_ticks;
                          r.qty_lots = o.qty_lots;
                          r.tif = u8(o.tif);
                          r.post_only = o.post_only ? 1 : 0;
                          r.stp = u8(o.stp);
                          r.expiry_ns = o.expiry_ns;
                          r.client_order_id = o.client_order_id;
                        },
                        [&](const PlaceMarket& o) {
                          r.kind = u8(InstructionKind::PlaceMarket);
                          r.book = o.book;
                          r.agent = o.agent;
                          r.side = u8(o.side);
                          r.currency = u8(o.currency);
                          r.qty_lots = o.qty_lots;
                          r.notional_quote = o.notional_quote;
                          r.stp = u8(o.stp);
                          r.client_order_id = o.client_order_id;
                        },
                        [&](const Cancel& c) {
                          r.kind = u8(InstructionKind::Cancel);
                          r.book = c.book;
                          r.agent = c.agent;
                          r.order_id = c.order_id;
                          r.qty_lots = c.qty_lots;
                          r.client_order_id = c.client_order_id;
                        },
                        [&](const ResetAgent& x) {
                          r.kind = u8(InstructionKind::ResetAgent);
                          r.agent = x.agent;
                        }},
             instruction);
  return r;
}

}  // namespace taosim
