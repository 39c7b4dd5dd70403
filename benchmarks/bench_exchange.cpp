// Engine benchmark: replays one seeded stream of mixed instructions through
//   (a) the full exchange: validation, reservations, matching, settlement, fees, events;
//   (b) the order book alone: matching and events only (ids and ownership checks
//       done inline, no accounts or fees);
// and prints ns per instruction and instructions per second for each, plus
// their ratio. Events are drained every `--drain` instructions, as a simulation
// step would. The two paths run alternately `--repeat` times each; the best
// (least disturbed) and the median run of each are shown, and the ratios are
// taken between figures of the same kind from this one run.
//
//   bench_exchange [--count N] [--seed S] [--agents A] [--drain D] [--repeat R] [--path both|exchange|book]
//
// Wall-clock figures on a shared machine vary from run to run; instruction
// counts do not. To count instructions of one path, for example:
//   valgrind --tool=callgrind --toggle-collect='*run_exchange*' bench_exchange --count 400000 --repeat 1 --path exchange
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "taosim/book/order_book.hpp"
#include "taosim/exchange/exchange.hpp"
#include "taosim/testing/instruction_stream.hpp"

using namespace taosim;
using Clock = std::chrono::steady_clock;

namespace {

struct Figures {
  double seconds = 0;
  std::size_t events = 0;
  std::size_t trades = 0;
};

__attribute__((noinline)) Figures run_exchange(const std::vector<InstructionRecord>& stream, std::uint32_t agents, std::size_t drain) {
  Exchange ex(testing::bench_exchange_config());
  testing::open_bench_accounts(ex, agents);
  const auto t0 = Clock::now();
  const testing::ReplayCounts c = testing::replay(ex, stream, drain);
  return Figures{std::chrono::duration<double>(Clock::now() - t0).count(), c.events, c.trades};
}

__attribute__((noinline)) Figures run_book(const std::vector<InstructionRecord>& stream, std::size_t drain) {
  OrderBook book;
  EventLog log(0);
  Figures f;
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < stream.size(); ++i) {
    const InstructionRecord& r = stream[i];
    log.set_time(r.ts_ns);
    const auto kind = static_cast<InstructionKind>(r.kind);
    const auto side = static_cast<Side>(r.side);
    if (kind == InstructionKind::Cancel) {
      const RestingOrder* o = book.find(r.order_id);
      if (o && o->agent == r.agent) book.reduce(r.order_id, r.qty_lots == 0 ? o->qty_lots : r.qty_lots,
                                                CancelReason::Requested, log);
    } else {
      const bool market = kind == InstructionKind::PlaceMarket;
      if (market && book.empty(opposite(side))) continue;  // the exchange rejects these
      Aggressor a{book.assign_id(), r.agent, side, r.price_ticks, market, r.qty_lots, kMaxNotional,
                  static_cast<Stp>(r.stp)};
      if (market || book.crosses(side, r.price_ticks)) book.match(a, log);
      if (!market && a.qty_lots > 0) book.rest(a.id, a.agent, side, r.price_ticks, a.qty_lots);
      else book.discard(a.id);
    }
    if ((i + 1) % drain == 0 || i + 1 == stream.size()) {
      f.events += log.size();
      for (const Event& e : log.events()) f.trades += e.kind == static_cast<std::uint8_t>(EventKind::Trade);
      log.clear();
    }
  }
  f.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return f;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}
double best(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

}  // namespace

int main(int argc, char** argv) {
  testing::StreamConfig sc;
  sc.count = 10'000'000;
  std::size_t drain = 10'000;
  int repeat = 5;
  std::string path = "both";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const long long v = std::atoll(argv[i + 1]);
    if (k == "--path") path = argv[i + 1];
    else if (k == "--count") sc.count = static_cast<std::size_t>(v);
    else if (k == "--seed") sc.seed = static_cast<std::uint64_t>(v);
    else if (k == "--agents") sc.agents = static_cast<std::uint32_t>(v);
    else if (k == "--drain") drain = static_cast<std::size_t>(v);
    else if (k == "--repeat") repeat = static_cast<int>(v);
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (path != "both" && path != "exchange" && path != "book") {
    std::fprintf(stderr, "--path must be both, exchange or book\n");
    return 2;
  }
  if (sc.count == 0 || drain == 0 || repeat < 1 || sc.agents == 0) {
    std::fprintf(stderr, "--count, --drain, --repeat and --agents must be positive\n");
    return 2;
  }
  const auto stream = testing::random_instruction_stream(sc);
  std::size_t limits = 0, cancels = 0, markets = 0;
  for (const auto& r : stream) {
    limits += r.kind == static_cast<std::uint8_t>(InstructionKind::PlaceLimit);
    cancels += r.kind == static_cast<std::uint8_t>(InstructionKind::Cancel);
    markets += r.kind == static_cast<std::uint8_t>(InstructionKind::PlaceMarket);
  }
  std::printf("stream: %zu instructions (seed %llu, %u agents, one book): %.1f%% limit, %.1f%% cancel, %.1f%% market\n",
              stream.size(), static_cast<unsigned long long>(sc.seed), sc.agents, 100.0 * limits / stream.size(),
              100.0 * cancels / stream.size(), 100.0 * markets / stream.size());

  std::vector<double> ex_s, book_s;
  Figures ex_f, book_f;
  for (int k = 0; k < repeat; ++k) {
    if (path != "book") {
      ex_f = run_exchange(stream, sc.agents, drain);
      ex_s.push_back(ex_f.seconds);
    }
    if (path != "exchange") {
      book_f = run_book(stream, drain);
      book_s.push_back(book_f.seconds);
    }
  }
  if (path != "both") {
    const auto& s = path == "exchange" ? ex_s : book_s;
    std::printf("%s: best %.1f ns/instr, median %.1f ns/instr\n", path.c_str(), best(s) * 1e9 / stream.size(),
                median(s) * 1e9 / stream.size());
    return 0;
  }
  const double n = static_cast<double>(stream.size());
  std::printf("%-10s %14s %14s %16s %12s %10s\n", "path", "best ns/instr", "median ns/instr", "best instr/s",
              "events", "trades");
  std::printf("%-10s %14.1f %14.1f %16.0f %12zu %10zu\n", "exchange", best(ex_s) * 1e9 / n, median(ex_s) * 1e9 / n,
              n / best(ex_s), ex_f.events, ex_f.trades);
  std::printf("%-10s %14.1f %14.1f %16.0f %12zu %10zu\n", "book", best(book_s) * 1e9 / n, median(book_s) * 1e9 / n,
              n / best(book_s), book_f.events, book_f.trades);
  std::printf("exchange/book throughput ratio: %.3f (best runs), %.3f (median runs); %d runs each\n",
              best(book_s) / best(ex_s), median(book_s) / median(ex_s), repeat);
  return 0;
}
