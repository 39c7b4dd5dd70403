// A shard: one book of the exchange, its background agents, its event queue and
// its random streams. Shards share nothing mutable, so the simulation runs them
// on different threads; a shard touches only its own book of the exchange.
//
// The queue orders items by arrival time, then by insertion order. Items are
// agent wake-ups, instructions (from agents after their latency, or from miners
// at step start + delay) and updates of the fundamental price and the signal.
#pragma once

#include <memory>
#include <vector>

#include "taosim/agents/agent.hpp"
#include "taosim/exchange/exchange.hpp"
#include "taosim/min_heap.hpp"
#include "taosim/sim/config.hpp"
#include "taosim/sim/fundamental.hpp"

namespace taosim {

class Shard final : private AgentContext {
 public:
  // Background agents get ids first_agent, first_agent + 1, ... in population order.
  Shard(BookId book, const SimulationConfig& config, Exchange& exchange, AgentId first_agent);

  // Calls every agent's on_start at time `now` and schedules the fundamental updates.
  void start(TimeNs now);
  // Queues an instruction to reach the book at `at` (its book field must be this shard's).
  void schedule(TimeNs at, const InstructionRecord& record);
  // Processes every queued item due at or before `until`, then expires GTT orders up to it.
  void run_until(TimeNs until);

  double fundamental_ticks() const override { return fundamental_.price_ticks(); }
  double signal_price() const override { return signal_.price_ticks(); }
  std::size_t agent_count() const { return agents_.size(); }
  std::size_t queued() const { return queue_.size(); }

  // The shard's own state (queue, pending instructions, clock, streams, agents);
  // the book itself is saved with the exchange.
  void save(StateWriter& w) const;
  void load(StateReader& r);
  // Checks a loaded shard against the simulation's clock `now` (after its book was loaded) and
  // throws CheckpointError naming the problem unless: its clock is `now`; nothing is queued
  // before the start; the queue is a heap of items due at or after the clock, numbered below the
  // counter, each a wake-up of one of its agents, an instruction for its book in a pending slot
  // of its own (every slot is either queued once or free), or one of the single fundamental and
  // signal updates; the prices are finite and > 0; no random stream is all zero; and every
  // agent's state passes its own check (BackgroundAgent::check_loaded).
  void check_loaded(TimeNs now, bool started) const;

 private:
  enum class ItemKind : std::uint8_t { Wakeup, Instruction, Fundamental, Signal };
  struct Item {
    TimeNs at;
    std::uint64_t seq;
    ItemKind kind;
    std::uint8_t pad[3] = {};  // explicit, so that saved bytes are determined
    std::uint32_t index;  // agent (Wakeup) or pending slot (Instruction)
    bool operator>(const Item& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  struct AgentSlot {
    std::unique_ptr<BackgroundAgent> agent;
    Rng rng;
    TimeNs latency_min_ns;
    TimeNs latency_max_ns;
  };

  // AgentContext, for the agent being called (current_).
  TimeNs now() const override { return now_; }
  AgentId agent_id() const override { return first_agent_ + current_; }
  BookId book_id() const override { return book_; }
  Rng& rng() override { return agents_[current_].rng; }
  const OrderBook& book() const override { return exchange_.book(book_); }
  const Account& account() const override { return *exchange_.account(book_, agent_id()); }
  void submit(Instruction instruction) override;
  void wake_after(TimeNs delay_ns) override;

  void push(TimeNs at, ItemKind kind, std::uint32_t index);
  void apply(const InstructionRecord& record);
  // Hands the book's events from index `from` on to the background agents they concern.
  void dispatch(std::size_t from);

  BookId book_;
  Exchange& exchange_;
  AgentId first_agent_;
  std::vector<AgentSlot> agents_;
  std::vector<std::uint32_t> trade_watchers_;  // agents that follow the trade tape, in index order
  FundamentalProcess fundamental_;
  Rng rng_;  // the shard's own stream (fundamental price)
  FundamentalProcess signal_;
  Rng signal_rng_;
  MinHeap<Item> queue_;
  std::vector<InstructionRecord> pending_;
  std::vector<std::uint32_t> free_pending_;
  TimeNs now_ = 0;
  std::uint64_t seq_ = 0;
  std::uint32_t current_ = 0;
};

}  // namespace taosim
