// The events of a step addressed to each miner (SPEC §4): the events of its own
// orders (placed, rejected, cancelled, cancel refused, its fills as taker) and the
// trades in which it was the maker. Kept as one index per miner into the step's
// event list (compressed rows: miner m's events are indices[offsets[m] .. offsets[m+1])).
#pragma once

#include <cstdint>
#include <vector>

#include "taosim/events.hpp"

namespace taosim {

struct NoticeIndex {
  std::vector<std::uint32_t> offsets;  // miner_slots + 1 entries
  std::vector<std::uint32_t> indices;  // into the event list, in event order per miner
};

inline NoticeIndex index_notices(const std::vector<Event>& events, AgentId miner_slots) {
  NoticeIndex out;
  out.offsets.assign(static_cast<std::size_t>(miner_slots) + 1, 0);
  auto for_each_addressee = [&](const Event& e, auto&& f) {
    if (e.agent < miner_slots) f(e.agent);
    if (e.kind == byte_of(EventKind::Trade) && e.other_agent < miner_slots && e.other_agent != e.agent)
      f(e.other_agent);
  };
  for (const Event& e : events) for_each_addressee(e, [&](AgentId m) { ++out.offsets[m + 1]; });
  for (std::size_t m = 0; m < miner_slots; ++m) out.offsets[m + 1] += out.offsets[m];
  out.indices.resize(out.offsets.back());
  std::vector<std::uint32_t> fill(out.offsets.begin(), out.offsets.end() - 1);
  for (std::uint32_t i = 0; i < events.size(); ++i)
    for_each_addressee(events[i], [&](AgentId m) { out.indices[fill[m]++] = i; });
  return out;
}

}  // namespace taosim
