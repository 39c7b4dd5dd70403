// Test support: an AgentContext over a real book and account, recording what the
// agent submits and when it asks to be woken, with no exchange or kernel around it.
#pragma once

#include <vector>

#include "taosim/agents/agent.hpp"

namespace taosim::test {

class FakeContext final : public AgentContext {
 public:
  TimeNs now() const override { return now_; }
  AgentId agent_id() const override { return 7; }
  BookId book_id() const override { return 0; }
  Rng& rng() override { return rng_; }
  const OrderBook& book() const override { return book_; }
  const Account& account() const override { return account_; }
  double fundamental_ticks() const override { return fundamental_; }
  double signal_price() const override { return signal_; }
  void submit(Instruction i) override { submitted.push_back(i); }
  void wake_after(TimeNs d) override { wakeups.push_back(d); }

  // Rests an order of another agent in the book, for the agent to see.
  void rest(Side side, Ticks price, Lots qty) {
    const OrderId id = book_.assign_id();
    book_.rest(id, 99, side, price, qty);
  }
  // Rests an order of the agent itself (as if its placement had arrived) and returns its id.
  OrderId rest_own(Side side, Ticks price, Lots qty) {
    const OrderId id = book_.assign_id();
    book_.rest(id, agent_id(), side, price, qty);
    return id;
  }
  std::vector<Cancel> cancels() const {
    std::vector<Cancel> out;
    for (const auto& i : submitted)
      if (const auto* c = std::get_if<Cancel>(&i)) out.push_back(*c);
    return out;
  }
  std::vector<PlaceLimit> limits() const {
    std::vector<PlaceLimit> out;
    for (const auto& i : submitted)
      if (const auto* p = std::get_if<PlaceLimit>(&i)) out.push_back(*p);
    return out;
  }

  TimeNs now_ = 1'000'000'000;
  double fundamental_ = 30'000.0;
  double signal_ = 100.0;
  Account account_;
  std::vector<Instruction> submitted;
  std::vector<TimeNs> wakeups;
  Rng rng_{42};

 private:
  OrderBook book_;
};

}  // namespace taosim::test
