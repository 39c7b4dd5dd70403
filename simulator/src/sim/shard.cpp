#include "taosim/sim/shard.hpp"

#include <algorithm>

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
  for (const Item& it : queue_.items()) {
    const bool ok = it.kind == ItemKind::Fundamental || it.kind == ItemKind::Signal ||
                    (it.kind == ItemKind::Wakeup && it.index < agents_.size()) ||
                    (it.kind == ItemKind::Instruction && it.index < pending_.size());
    if (!ok) throw CheckpointError("checkpoint is truncated or corrupt");
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
