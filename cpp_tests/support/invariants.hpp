// Test support: the engine invariants of an exchange between instructions, seen only through its
// public views, as a list of problems (empty when all hold).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "taosim/exchange/exchange.hpp"

namespace taosim::test {

// Balances >= 0; reservations equal to what the resting orders need; open order counts; base
// conserved and quote conserved up to fees per book; levels strictly ordered and uncrossed, each
// level's count and total equal to its orders of its price and side; every resting order owned by
// an agent with an account.
inline std::vector<std::string> exchange_problems(const Exchange& ex) {
  std::vector<std::string> out;
  for (BookId b = 0; b < ex.num_books(); ++b) {
    const std::string where = "book " + std::to_string(b) + ": ";
    const OrderBook& book = ex.book(b);
    std::map<AgentId, __int128> sells, buys;
    std::map<AgentId, std::uint64_t> count;
    for (Side s : {Side::Buy, Side::Sell}) {
      for (std::size_t i = 0; i < book.level_count(s); ++i) {
        const PriceLevel& lvl = book.level(s, i);
        if (i > 0 && (s == Side::Buy ? lvl.price_ticks >= book.level(s, i - 1).price_ticks
                                     : lvl.price_ticks <= book.level(s, i - 1).price_ticks))
          out.push_back(where + "levels out of order");
        Lots qty = 0;
        std::uint32_t n = 0;
        book.for_each_order_at(s, i, [&](const RestingOrder& o) {
          qty += o.qty_lots;
          ++n;
          if (o.price_ticks != lvl.price_ticks || o.side != s || o.qty_lots < 1)
            out.push_back(where + "order " + std::to_string(o.id) + " does not fit its level");
          const Account* a = ex.account(b, o.agent);
          if (!a) {
            out.push_back(where + "order " + std::to_string(o.id) + " of unknown agent");
            return;
          }
          ++count[o.agent];
          if (s == Side::Sell)
            sells[o.agent] += o.qty_lots;
          else
            buys[o.agent] += buy_reservation(o.price_ticks, o.qty_lots, ex.fee_schedule(a->agent_class).reserve_rate());
        });
        if (qty != lvl.qty_lots || n != lvl.count) out.push_back(where + "level total or count differs");
      }
    }
    if (!book.empty(Side::Buy) && !book.empty(Side::Sell) && book.best(Side::Buy) >= book.best(Side::Sell))
      out.push_back(where + "crossed");
    __int128 base = 0, quote = 0;
    ex.for_each_account(b, [&](AgentId id, const Account& a) {
      const std::string who = where + "agent " + std::to_string(id) + ": ";
      if (a.base.free < 0 || a.base.reserved < 0 || a.quote.free < 0 || a.quote.reserved < 0)
        out.push_back(who + "negative balance");
      if (a.base.reserved != sells[id]) out.push_back(who + "base reserved differs from its sells");
      if (a.quote.reserved != buys[id]) out.push_back(who + "quote reserved differs from its buys");
      if (a.open_orders != count[id]) out.push_back(who + "open order count differs");
      base += a.base.total();
      quote += a.quote.total();
    });
    if (base != ex.supply_base(b)) out.push_back(where + "base not conserved");
    if (quote + ex.fees_collected(b) != ex.supply_quote(b)) out.push_back(where + "quote not conserved");
  }
  return out;
}

}  // namespace taosim::test
