#include "taosim/sim/shard.hpp"

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "taosim/agents/registry.hpp"

namespace taosim {

namespace {
// The shard's own streams are keyed (seed, book, kProcessStreams, n): four keys and a
// third key beyond any agent id, so they never coincide with an agent's (seed, book, id).
constexpr std::uint64_t kProcessStreams = 0xFFFF'FFFF'0000'0000ull;
}

Shard::Shard(BookId book, const SimulationConfig& config, Exchange& exchange, AgentId first_agent)
    : book_(book),
      exchange_(exchange),
      first_agent_(first_agent),
      fundamental_(config.fundamental),
      rng_(Rng::for_keys({config.seed, config.first_book + book, kProcessStreams, 0})),
      signal_(config.signal),
      signal_rng_(Rng::for_keys({config.seed, config.first_book + book, kProcessStreams, 1})) {
  AgentId id = first_agent;
  for (const PopulationConfig& pop : config.populations) {
    for (std::uint32_t k = 0; k < pop.count; ++k, ++id) {
      agents_.push_back(AgentSlot{make_agent(pop.model, pop.params), Rng::for_keys({config.seed, config.first_book + book, id}),
                                  pop.latency_min_ns, pop.latency_max_ns});
      if (agents_.back().agent->watches_trades())
        trade_watchers_.push_back(static_cast<std::uint32_t>(agents_.size() - 1));
    }
  }
}

void Shard::save(StateWriter& w) const {
  w.vec(queue_.items());
  w.vec(pending_);
  w.vec(free_pending_);
  w.pod(now_);
  w.pod(seq_);
  fundamental_.save(w);
  rng_.save(w);
  signal_.save(w);
  signal_rng_.save(w);
  w.pod<std::uint64_t>(agents_.size());
  for (const AgentSlot& a : agents_) {
    a.rng.save(w);
    a.agent->save(w);
  }
}

void Shard::load(StateReader& r) {
  r.vec(queue_.items());
  r.vec(pending_);
  r.vec(free_pending_);
  r.pod(now_);
  r.pod(seq_);
  fundamental_.load(r);
  rng_.load(r);
  signal_.load(r);
  signal_rng_.load(r);
  if (r.pod<std::uint64_t>() != agents_.size()) throw CheckpointError("checkpoint has different agent populations");
  for (AgentSlot& a : agents_) {
    a.rng.load(r);
    a.agent->load(r);
  }
}

void Shard::check_loaded(TimeNs now, bool started) const {
  const std::string where = "book " + std::to_string(book_);
  auto fail = [&](const std::string& what) { corrupt_state(where + ": " + what); };
  if (now_ != now) fail("the agents' clock is " + std::to_string(now_) + ", the simulation's " + std::to_string(now));
  if (!started && (!queue_.empty() || !pending_.empty() || !free_pending_.empty()))
    fail("work is queued although the simulation has not started");
  const auto& items = queue_.items();
  if (!std::is_heap(items.begin(), items.end(), std::greater<>{})) fail("the event queue is not in heap order");
  // Pending instruction slots: 1 = free, 2 = queued.
  std::vector<std::uint8_t> slot(pending_.size(), 0);
  for (std::uint32_t s : free_pending_) {
    if (s >= pending_.size()) fail("free instruction slot " + std::to_string(s) + " does not exist");
    if (slot[s]) fail("instruction slot " + std::to_string(s) + " is free twice");
    slot[s] = 1;
  }
  std::size_t fundamental = 0, signal = 0;
  for (const Item& it : items) {
    if (it.at < now_)
      fail("a queued item is due at " + std::to_string(it.at) + ", before the clock " + std::to_string(now_));
    if (it.seq >= seq_) fail("queued item " + std::to_string(it.seq) + " is numbered beyond the queue's counter");
    switch (it.kind) {
      case ItemKind::Wakeup:
        if (it.index >= agents_.size())
          fail("a wake-up for unknown agent " + std::to_string(first_agent_ + std::uint64_t{it.index}));
        break;
      case ItemKind::Instruction: {
        auto s = [&] { return "instruction slot " + std::to_string(it.index); };
        if (it.index >= pending_.size()) fail("a queued " + s() + " does not exist");
        if (slot[it.index]) fail(s() + (slot[it.index] == 1 ? " is queued but free" : " is queued twice"));
        slot[it.index] = 2;
        if (pending_[it.index].book != book_) fail(s() + " is for book " + std::to_string(pending_[it.index].book));
        break;
      }
      case ItemKind::Fundamental:
        ++fundamental;
        break;
      case ItemKind::Signal:
        ++signal;
        break;
      default:
        fail("a queued item has unknown kind " + std::to_string(static_cast<unsigned>(it.kind)));
    }
  }
  for (std::size_t s = 0; s < slot.size(); ++s)
    if (!slot[s]) fail("instruction slot " + std::to_string(s) + " is neither queued nor free");
  if (started && (fundamental != 1 || signal != 1))
    fail("the queue holds " + std::to_string(fundamental) + " fundamental and " + std::to_string(signal) +
         " signal updates, one of each is expected");
  // Prices of the processes: > 0 and finite; the fundamental (in ticks, which agents round to
  // prices) also at most 1000 times the highest order price.
  if (!(fundamental_.price_ticks() > 0 && fundamental_.price_ticks() <= 1e3 * static_cast<double>(kMaxPriceTicks)))
    fail("the fundamental price " + std::to_string(fundamental_.price_ticks()) + " is out of range");
  if (!(signal_.price_ticks() > 0 && std::isfinite(signal_.price_ticks())))
    fail("the signal " + std::to_string(signal_.price_ticks()) + " is not finite and > 0");
  if (!rng_.usable() || !signal_rng_.usable()) fail("a random stream of the price processes is all zero");
  const OrderBook& book = exchange_.book(book_);
  for (std::size_t i = 0; i < agents_.size(); ++i) {
    const AgentId id = first_agent_ + static_cast<AgentId>(i);
    if (!agents_[i].rng.usable()) fail("agent " + std::to_string(id) + ": its random stream is all zero");
    const LoadedContext ctx{now_, id, book, started, signal_.price_ticks()};
    if (const std::string why = agents_[i].agent->check_loaded(ctx); !why.empty())
      fail("agent " + std::to_string(id) + ": " + why);
  }
}

void Shard::push(TimeNs at, ItemKind kind, std::uint32_t index) { queue_.push(Item{at, seq_++, kind, {}, index}); }

void Shard::start(TimeNs now) {
  now_ = now;
  push(now + fundamental_.update_ns(), ItemKind::Fundamental, 0);
  push(now + signal_.update_ns(), ItemKind::Signal, 0);
  for (std::uint32_t i = 0; i < agents_.size(); ++i) {
    current_ = i;
    agents_[i].agent->on_start(*this);
  }
}

void Shard::schedule(TimeNs at, const InstructionRecord& record) {
  std::uint32_t slot;
  if (!free_pending_.empty()) {
    slot = free_pending_.back();
    free_pending_.pop_back();
    pending_[slot] = record;
  } else {
    slot = static_cast<std::uint32_t>(pending_.size());
    pending_.push_back(record);
  }
  push(at, ItemKind::Instruction, slot);
}

void Shard::run_until(TimeNs until) {
  while (!queue_.empty() && queue_.top().at <= until) {
    const Item item = queue_.top();
    queue_.pop();
    now_ = std::max(now_, item.at);
    switch (item.kind) {
      case ItemKind::Wakeup:
        current_ = item.index;
        agents_[item.index].agent->on_wakeup(*this);
        break;
      case ItemKind::Fundamental:
        fundamental_.update(rng_, now_);
        push(now_ + fundamental_.update_ns(), ItemKind::Fundamental, 0);
        break;
      case ItemKind::Signal:
        signal_.update(signal_rng_, now_);
        push(now_ + signal_.update_ns(), ItemKind::Signal, 0);
        break;
      case ItemKind::Instruction: {
        InstructionRecord r = pending_[item.index];
        free_pending_.push_back(item.index);
        r.ts_ns = now_;
        apply(r);
        break;
      }
    }
  }
  const std::size_t from = exchange_.log(book_).size();
  exchange_.advance_book_to(book_, until);
  dispatch(from);
  now_ = std::max(now_, until);
}

void Shard::apply(const InstructionRecord& r) {
  const std::size_t from = exchange_.log(book_).size();
  if (r.kind == byte_of(InstructionKind::ResetAgent)) {
    exchange_.reset_account(book_, r.agent, r.ts_ns);
  } else {
    exchange_.submit(r);
  }
  dispatch(from);
}

void Shard::dispatch(std::size_t from) {
  const EventLog& log = exchange_.log(book_);
  const AgentId end = first_agent_ + static_cast<AgentId>(agents_.size());
  auto deliver = [&](AgentId owner, const Event& e) {
    if (owner < first_agent_ || owner >= end) return;  // a miner's, or nobody's
    current_ = owner - first_agent_;
    agents_[current_].agent->on_event(*this, e);
  };
  for (std::size_t i = from; i < log.size(); ++i) {
    const Event e = log.events()[i];  // a copy: agents only queue work, but keep them off the log
    deliver(e.agent, e);
    if (e.kind != byte_of(EventKind::Trade)) continue;
    if (e.other_agent != e.agent) deliver(e.other_agent, e);
    const PublicTrade trade{e.ts_ns, e.price_ticks, e.qty_lots, static_cast<Side>(e.side)};
    for (std::uint32_t w : trade_watchers_) {
      current_ = w;
      agents_[w].agent->on_market_trade(*this, trade);
    }
  }
}

void Shard::submit(Instruction instruction) {
  InstructionRecord r = to_record(instruction, 0);
  r.book = book_;
  r.agent = agent_id();
  const AgentSlot& slot = agents_[current_];
  const TimeNs latency = agents_[current_].rng.between(slot.latency_min_ns, slot.latency_max_ns);
  schedule(now_ + latency, r);
}

void Shard::wake_after(TimeNs delay_ns) { push(now_ + std::max<TimeNs>(1, delay_ns), ItemKind::Wakeup, current_); }

}  // namespace taosim
