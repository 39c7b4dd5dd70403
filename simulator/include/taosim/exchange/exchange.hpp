// Exchange: many independent books, each with its accounts, around the matching core.
//
// For every instruction: validate → reserve → match (OrderBook) → settle the
// book's events (balances, fees, volume) → rest or discard the remainder.
// Invalid input never throws: it becomes an OrderRejected or CancelRejected event
// with a fixed reason. Only configuration errors (constructor, open_account) throw.
//
// Reservations
// - sell: the order's remaining base lots;
// - buy limit: reserve(P, rem) = P*rem + fee(P*rem, R) where P is the order's
//   limit and R the agent class's reservation rate (its highest maker or taker
//   rate, never below 0). A fill of q lots at price p <= P releases
//   reserve(P, rem) - reserve(P, rem - q) and charges p*q + fee(p*q, r), which
//   never exceeds it; the difference returns to free.
// - market buy sized in base: nothing is reserved; it may spend at most the
//   notional n with n + fee(n, R) <= free quote (its budget).
// - market buy sized in quote: requires notional + fee(notional, R) <= free quote.
//
// Events of a book are in its own EventLog; instructions that name no valid book
// are answered in a separate log whose events carry book = kNoBook.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "taosim/book/order_book.hpp"
#include "taosim/events.hpp"
#include "taosim/exchange/accounts.hpp"
#include "taosim/exchange/fees.hpp"
#include "taosim/instructions.hpp"
#include "taosim/min_heap.hpp"
#include "taosim/state.hpp"

namespace taosim {

inline constexpr BookId kNoBook = 0xFFFFFFFFu;
inline constexpr AgentId kMaxAgents = 1u << 24;  // agent ids are < this

struct AgentClass {
  std::string name;
  FeeSchedule fees;
  bool may_self_trade = false;  // allows Stp::None
};

struct ExchangeConfig {
  std::uint32_t books = 1;
  std::vector<AgentClass> agent_classes{AgentClass{"default", FeeSchedule{}, false}};
  std::uint32_t volume_window_buckets = 24;
  TimeNs volume_bucket_ns = 3'600'000'000'000LL;  // 1 h
};

// The default miner fee tiers (volume in quote currency -> maker / taker):
// 0 → 0.50/0.50 %, 200k → 0.25/0.30 %, 400k → 0.125/0.18 %, 800k → 0.063/0.108 %,
// 1.6M → 0.031/0.064 %, 3.2M → 0.016/0.038 %. `quote_units_per_currency` is
// 1 / (tick size x lot size).
std::vector<FeeTier> default_miner_fee_tiers(Quote quote_units_per_currency);

class Exchange {
 public:
  explicit Exchange(ExchangeConfig config);

  // Opens (or re-opens with new starting balances) an agent's account on a book.
  // Throws std::invalid_argument on a bad book, agent, class or balance.
  void open_account(BookId book, AgentId agent, std::uint32_t agent_class, Lots base_lots, Quote quote);

  // Applies one instruction arriving at `now`. Times earlier than the book's
  // clock are treated as the book's clock (a book's time never goes back).
  void submit(const Instruction& instruction, TimeNs now);
  void submit(const InstructionRecord& record);
  void submit_batch(const InstructionRecord* records, std::size_t n);

  // Cancels the agent's orders on every book (reason Reset), restores its
  // starting balances and clears its fee volume; one AccountReset event per
  // book. Returns the number of books on which the agent had an account.
  std::size_t reset_agent(AgentId agent, TimeNs now);
  // The same on one book; false when the agent has no account there. Touches
  // only that book, so shards may call it in parallel for different books.
  bool reset_account(BookId book, AgentId agent, TimeNs now);

  // Expires GTT orders due by `now` on every book and advances the clocks.
  void advance_to(TimeNs now);
  // The same for one book (touches nothing else).
  void advance_book_to(BookId book, TimeNs now) { advance_book(books_.at(book), now); }

  std::uint32_t num_books() const { return static_cast<std::uint32_t>(books_.size()); }
  const OrderBook& book(BookId b) const { return books_.at(b).book; }
  // nullptr when the agent has no account on the book (or the book is unknown).
  const Account* account(BookId b, AgentId agent) const;
  // Every open account of a book, by agent id.
  template <class F>
  void for_each_account(BookId b, F&& f) const {
    const auto& accs = books_.at(b).accounts;
    for (std::size_t a = 0; a < accs.size(); ++a)
      if (accs[a].open) f(static_cast<AgentId>(a), accs[a]);
  }
  const FeeSchedule& fee_schedule(std::uint32_t agent_class) const { return config_.agent_classes.at(agent_class).fees; }
  // Fee tier the agent would pay at the book's current time.
  std::size_t fee_tier(BookId b, AgentId agent);
  // The window volume used for fee tiers, at the book's current time.
  Quote window_volume(BookId b, AgentId agent);

  // Quote collected as fees on a book (negative when rebates exceed charges).
  Quote fees_collected(BookId b) const { return books_.at(b).fees_collected; }
  // Base and quote put into a book's accounts by open_account and resets. The
  // sum of all accounts' base totals equals supply_base; the quote totals plus
  // fees_collected equal supply_quote.
  Lots supply_base(BookId b) const { return books_.at(b).supply_base; }
  Quote supply_quote(BookId b) const { return books_.at(b).supply_quote; }
  TimeNs time(BookId b) const { return books_.at(b).log.time(); }

  EventLog& log(BookId b) { return books_.at(b).log; }
  // Moves out every event since the last call: each book in book order, then
  // the unrouted ones.
  std::vector<Event> take_events();

  // The whole state (books, accounts, logs, expiries); the configuration is not
  // part of it and must be the same when loading. load() checks the loaded state
  // (check_loaded) and throws CheckpointError naming the first problem.
  void save(StateWriter& w) const;
  void load(StateReader& r);

 private:
  struct Expiry {
    TimeNs at;
    OrderId id;
    bool operator>(const Expiry& o) const { return at != o.at ? at > o.at : id > o.id; }
  };
  struct BookState {
    explicit BookState(BookId id) : log(id) {}
    OrderBook book;
    EventLog log;
    std::vector<Account> accounts;  // indexed by agent id
    MinHeap<Expiry> expiries;
    std::int64_t bucket = 0;  // log.time() / volume_bucket_ns
    TimeNs next_bucket_ns = 0;  // start of bucket + 1; 0 forces the first computation
    Quote fees_collected = 0;
    Lots supply_base = 0;
    Quote supply_quote = 0;
  };
  // The aggressor's fills, summed while its trades are settled; its balances
  // and volume are then updated once (settle_taker). Its fee rate is its
  // tier's taker rate at arrival.
  struct TakerFills {
    OrderId id = kNoOrder;
    RatePpb rate_ppb = 0;
    Lots lots = 0;
    Quote notional = 0;
    Quote fees = 0;
  };

  void place_limit(const PlaceLimit& o, TimeNs now);
  void rest(BookState& bs, Account& acc, const PlaceLimit& o, OrderId id, Lots qty);
  void place_market(const PlaceMarket& o, TimeNs now);
  void cancel(const Cancel& c, TimeNs now);

  // Sets the book clock to max(clock, now) after expiring what is due.
  void advance_book(BookState& bs, TimeNs now) {
    if (!bs.expiries.empty() && bs.expiries.top().at <= now) expire_due(bs, now);
    if (now > bs.log.time()) set_clock(bs, now);
  }
  void expire_due(BookState& bs, TimeNs now);
  void set_clock(BookState& bs, TimeNs t) {
    bs.log.set_time(t);
    if (t >= bs.next_bucket_ns) {  // a bucket boundary was crossed: one division
      bs.bucket = t / config_.volume_bucket_ns;
      bs.next_bucket_ns = (bs.bucket + 1) * config_.volume_bucket_ns;
    }
  }
  Account* find_account(BookState& bs, AgentId agent);
  // A known mode, and None only for agent classes that may self-trade.
  bool stp_allowed(const Account& acc, Stp stp) const;
  void reject_order(EventLog& log, AgentId agent, Side side, Ticks price, Lots qty, Quote notional, std::uint8_t tif,
                    std::uint64_t client_order_id, RejectReason reason);
  void reject_cancel(EventLog& log, AgentId agent, OrderId order, Lots qty, std::uint64_t client_order_id,
                     RejectReason reason);
  // Settles the events from index `from`: trades (maker side now, taker side
  // summed into `taker`) and cancellations of resting orders. Events about the
  // aggressor itself are left to settle_taker.
  void settle(BookState& bs, std::size_t from, TakerFills* taker);
  void settle_trade(BookState& bs, Event& e, TakerFills& taker);
  void release_resting(Account& acc, const Event& e);
  // Moves the aggressor's balances: its reservation shrinks from
  // `reserved_before` to `reserved_after` (what its resting rest needs) and
  // pays for / is paid for its fills.
  void settle_taker(BookState& bs, Account& acc, Side side, const TakerFills& f, Quote reserved_before,
                    Quote reserved_after);
  void emit_placed(BookState& bs, OrderId id, AgentId agent, Side side, Ticks price, Lots qty, Quote notional,
                            std::uint8_t tif, std::uint64_t client_order_id);
  RatePpb reserve_rate(const Account& acc) const { return reserve_rates_[acc.agent_class]; }
  // The account's current tier rates (cached until the bucket or the tier changes).
  const TierCache& tier_rates(Account& acc, std::int64_t bucket) const {
    if (acc.tier.bucket != bucket || acc.volume.last_total() >= acc.tier.next_volume) refresh_tier(acc, bucket);
    return acc.tier;
  }
  void refresh_tier(Account& acc, std::int64_t bucket) const;
  // The invariants settlement keeps, checked on a loaded state: every book's structure
  // (OrderBook::check_loaded); the clock, its fee bucket and the untaken events; every resting
  // order owned by an agent with an account; every open account's balances >= 0, reservations
  // equal to what its resting orders need (sells: their lots; buys: buy_reservation at their
  // price), its open order count, fee window and cached tier; base totals equal to the book's
  // supply and quote totals plus fees collected equal to its quote supply; the GTT expiry heap.
  void check_loaded() const;
  void check_book(BookId b) const;

  ExchangeConfig config_;
  std::vector<RatePpb> reserve_rates_;  // per agent class
  std::vector<BookState> books_;
  EventLog unrouted_{kNoBook};
};

}  // namespace taosim
