#include "taosim/instructions.hpp"

namespace taosim {

InstructionRecord to_record(const Instruction& instruction, TimeNs ts_ns) {
  InstructionRecord r{};
  r.ts_ns = ts_ns;
  std::visit(Overloaded{[&](const PlaceLimit& o) {
                          r.kind = byte_of(InstructionKind::PlaceLimit);
                          r.book = o.book;
                          r.agent = o.agent;
                          r.side = byte_of(o.side);
                          r.price_ticks = o.price_ticks;
                          r.qty_lots = o.qty_lots;
                          r.tif = byte_of(o.tif);
                          r.post_only = o.post_only ? 1 : 0;
                          r.stp = byte_of(o.stp);
                          r.expiry_ns = o.expiry_ns;
                          r.client_order_id = o.client_order_id;
                        },
                        [&](const PlaceMarket& o) {
                          r.kind = byte_of(InstructionKind::PlaceMarket);
                          r.book = o.book;
                          r.agent = o.agent;
                          r.side = byte_of(o.side);
                          r.currency = byte_of(o.currency);
                          r.qty_lots = o.qty_lots;
                          r.notional_quote = o.notional_quote;
                          r.stp = byte_of(o.stp);
                          r.client_order_id = o.client_order_id;
                        },
                        [&](const Cancel& c) {
                          r.kind = byte_of(InstructionKind::Cancel);
                          r.book = c.book;
                          r.agent = c.agent;
                          r.order_id = c.order_id;
                          r.qty_lots = c.qty_lots;
                          r.client_order_id = c.client_order_id;
                        },
                        [&](const ResetAgent& x) {
                          r.kind = byte_of(InstructionKind::ResetAgent);
                          r.agent = x.agent;
                        }},
             instruction);
  return r;
}

}  // namespace taosim
