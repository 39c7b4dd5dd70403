#include "taosim/exchange/exchange.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>

namespace taosim {

namespace {

bool valid_side(Side s) { return s == Side::Buy || s == Side::Sell; }
bool valid_tif(TimeInForce t) { return t >= TimeInForce::GTC && t <= TimeInForce::FOK; }
bool valid_stp(Stp s) { return byte_of(s) <= byte_of(Stp::DecrementAndCancel); }
bool valid_currency(Currency c) { return c == Currency::Base || c == Currency::Quote; }

// Supply per book is kept below this so no balance or sum of balances can overflow.
constexpr std::int64_t kMaxSupply = std::int64_t{1} << 62;

}  // namespace

std::vector<FeeTier> default_miner_fee_tiers(Quote quote_units_per_currency) {
  if (quote_units_per_currency <= 0) throw std::invalid_argument("quote_units_per_currency must be positive");
  // volume in quote currency, maker %, taker % expressed in ppb (1 % = 1e7 ppb)
  const struct {
    std::int64_t volume;
    RatePpb maker, taker;
  } table[] = {{0, 5'000'000, 5'000'000},          {200'000, 2'500'000, 3'000'000},
               {400'000, 1'250'000, 1'800'000},    {800'000, 630'000, 1'080'000},
               {1'600'000, 310'000, 640'000},      {3'200'000, 160'000, 380'000}};
  std::vector<FeeTier> tiers;
  for (const auto& t : table) tiers.push_back(FeeTier{t.volume * quote_units_per_currency, t.maker, t.taker});
  return tiers;
}

Exchange::Exchange(ExchangeConfig config) : config_(std::move(config)) {
  if (config_.books < 1 || config_.books > 1'000'000)
    throw std::invalid_argument("books must be in [1, 1000000], got " + std::to_string(config_.books));
  if (config_.agent_classes.empty()) throw std::invalid_argument("agent_classes must not be empty");
  if (config_.volume_window_buckets < 1 || config_.volume_window_buckets > 100'000)
    throw std::invalid_argument("volume_window_buckets must be in [1, 100000]");
  if (config_.volume_bucket_ns <= 0) throw std::invalid_argument("volume_bucket_ns must be positive");
  for (const auto& c : config_.agent_classes) reserve_rates_.push_back(c.fees.reserve_rate());
  books_.reserve(config_.books);
  for (std::uint32_t b = 0; b < config_.books; ++b) books_.emplace_back(b);
}

void Exchange::open_account(BookId book, AgentId agent, std::uint32_t agent_class, Lots base_lots, Quote quote) {
  if (book >= books_.size()) throw std::invalid_argument("open_account: unknown book " + std::to_string(book));
  if (agent >= kMaxAgents) throw std::invalid_argument("open_account: agent id must be < 2^24");
  if (agent_class >= config_.agent_classes.size())
    throw std::invalid_argument("open_account: unknown agent class " + std::to_string(agent_class));
  if (base_lots < 0 || quote < 0) throw std::invalid_argument("open_account: balances must be >= 0");
  BookState& bs = books_[book];
  if (base_lots > kMaxSupply - bs.supply_base || quote > kMaxSupply - bs.supply_quote)
    throw std::invalid_argument("open_account: the book's total balances would exceed 2^62");
  if (agent >= bs.accounts.size()) bs.accounts.resize(agent + 1);
  Account& acc = bs.accounts[agent];
  if (acc.open)
    throw std::invalid_argument("open_account: agent " + std::to_string(agent) + " already has an account on book " +
                                std::to_string(book));
  acc = Account{};
  acc.open = true;
  acc.agent_class = agent_class;
  acc.base.free = acc.start_base_lots = base_lots;
  acc.quote.free = acc.start_quote = quote;
  acc.volume = VolumeWindow(config_.volume_window_buckets);
  bs.supply_base += base_lots;
  bs.supply_quote += quote;
}

const Account* Exchange::account(BookId b, AgentId agent) const {
  if (b >= books_.size()) return nullptr;
  const auto& accs = books_[b].accounts;
  return agent < accs.size() && accs[agent].open ? &accs[agent] : nullptr;
}

bool Exchange::stp_allowed(const Account& acc, Stp stp) const {
  return valid_stp(stp) && (stp != Stp::None || config_.agent_classes[acc.agent_class].may_self_trade);
}

Account* Exchange::find_account(BookState& bs, AgentId agent) {
  return agent < bs.accounts.size() && bs.accounts[agent].open ? &bs.accounts[agent] : nullptr;
}

std::size_t Exchange::fee_tier(BookId b, AgentId agent) {
  const Account* acc = account(b, agent);
  if (!acc) throw std::invalid_argument("fee_tier: no such account");
  return fee_schedule(acc->agent_class).tier_for(window_volume(b, agent));
}

Quote Exchange::window_volume(BookId b, AgentId agent) {
  if (!account(b, agent)) throw std::invalid_argument("window_volume: no such account");
  BookState& bs = books_[b];
  return bs.accounts[agent].volume.total(bs.bucket);
}

// ------------------------------------------------------------------ submit

void Exchange::submit(const Instruction& instruction, TimeNs now) {
  std::visit(Overloaded{[&](const PlaceLimit& o) { place_limit(o, now); },
                        [&](const PlaceMarket& o) { place_market(o, now); },
                        [&](const Cancel& c) { cancel(c, now); },
                        [&](const ResetAgent& r) { reset_agent(r.agent, now); }},
             instruction);
}

void Exchange::submit(const InstructionRecord& r) {
  switch (static_cast<InstructionKind>(r.kind)) {
    case InstructionKind::PlaceLimit:
      place_limit(PlaceLimit{r.book, r.agent, static_cast<Side>(r.side), r.price_ticks, r.qty_lots,
                             static_cast<TimeInForce>(r.tif), r.post_only != 0, static_cast<Stp>(r.stp), r.expiry_ns,
                             r.client_order_id},
                  r.ts_ns);
      return;
    case InstructionKind::PlaceMarket:
      place_market(PlaceMarket{r.book, r.agent, static_cast<Side>(r.side), static_cast<Currency>(r.currency),
                               r.qty_lots, r.notional_quote, static_cast<Stp>(r.stp), r.client_order_id},
                   r.ts_ns);
      return;
    case InstructionKind::Cancel:
      cancel(Cancel{r.book, r.agent, r.order_id, r.qty_lots, r.client_order_id}, r.ts_ns);
      return;
    case InstructionKind::ResetAgent:
      reset_agent(r.agent, r.ts_ns);
      return;
  }
  EventLog* log = &unrouted_;
  if (r.book < books_.size()) {
    advance_book(books_[r.book], r.ts_ns);
    log = &books_[r.book].log;
  } else {
    unrouted_.set_time(std::max(unrouted_.time(), r.ts_ns));
  }
  reject_order(*log, r.agent, static_cast<Side>(r.side), r.price_ticks, r.qty_lots, r.notional_quote, r.tif,
               r.client_order_id, RejectReason::InvalidInstruction);
}

void Exchange::submit_batch(const InstructionRecord* records, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) submit(records[i]);
}

void Exchange::advance_to(TimeNs now) {
  for (auto& bs : books_) advance_book(bs, now);
}

void Exchange::expire_due(BookState& bs, TimeNs now) {
  while (!bs.expiries.empty() && bs.expiries.top().at <= now) {
    const Expiry x = bs.expiries.top();
    bs.expiries.pop();
    if (!bs.book.find(x.id)) continue;  // filled or cancelled meanwhile
    if (x.at > bs.log.time()) set_clock(bs, x.at);
    const std::size_t from = bs.log.size();
    bs.book.reduce(x.id, kMaxQtyLots, CancelReason::Expired, bs.log);
    settle(bs, from, nullptr);
  }
}

// ------------------------------------------------------------------ events

void Exchange::reject_order(EventLog& log, AgentId agent, Side side, Ticks price, Lots qty, Quote notional,
                            std::uint8_t tif, std::uint64_t client_order_id, RejectReason reason) {
  Event e{};
  e.kind = byte_of(EventKind::OrderRejected);
  e.agent = agent;
  e.side = byte_of(side);
  e.price_ticks = price;
  e.qty_lots = qty;
  e.notional_quote = notional;
  e.tif = tif;
  e.client_order_id = client_order_id;
  e.reason = byte_of(reason);
  log.push(e);
}

void Exchange::reject_cancel(EventLog& log, AgentId agent, OrderId order, Lots qty, std::uint64_t client_order_id,
                             RejectReason reason) {
  Event e{};
  e.kind = byte_of(EventKind::CancelRejected);
  e.agent = agent;
  e.order_id = order;
  e.qty_lots = qty;
  e.client_order_id = client_order_id;
  e.reason = byte_of(reason);
  log.push(e);
}

void Exchange::emit_placed(BookState& bs, OrderId id, AgentId agent, Side side, Ticks price, Lots qty, Quote notional,
                           std::uint8_t tif, std::uint64_t client_order_id) {
  bs.log.push(Event{.order_id = id,
                    .client_order_id = client_order_id,
                    .price_ticks = price,
                    .qty_lots = qty,
                    .remaining_lots = qty,
                    .notional_quote = notional,
                    .agent = agent,
                    .kind = byte_of(EventKind::OrderPlaced),
                    .side = byte_of(side),
                    .tif = tif});
}

// -------------------------------------------------------------- settlement

void Exchange::refresh_tier(Account& acc, std::int64_t bucket) const {
  const FeeSchedule& fs = config_.agent_classes[acc.agent_class].fees;
  const std::size_t t = fs.tier_for(acc.volume.total(bucket));
  const FeeTier& tier = fs.tier(t);
  acc.tier = TierCache{bucket,
                       t + 1 < fs.tiers().size() ? fs.tier(t + 1).volume_quote : std::numeric_limits<Quote>::max(),
                       tier.maker_ppb, tier.taker_ppb};
}

void Exchange::settle(BookState& bs, std::size_t from, TakerFills* taker) {
  // Settling appends nothing, so the range is fixed. Trades only follow a match,
  // so `taker` is set whenever there is one (cancels, expiries and resets pass null).
  Event* const end = bs.log.events().data() + bs.log.size();
  for (Event* it = bs.log.events().data() + from; it != end; ++it) {
    Event& e = *it;
    if (e.kind == byte_of(EventKind::Trade)) {
      settle_trade(bs, e, *taker);
    } else if (e.kind == byte_of(EventKind::OrderCancelled) && !(taker && e.order_id == taker->id)) {
      release_resting(bs.accounts[e.agent], e);
    }
  }
}

void Exchange::settle_trade(BookState& bs, Event& e, TakerFills& taker) {
  Account& mk = bs.accounts[e.other_agent];
  const std::int64_t bucket = bs.bucket;
  const Quote n = e.notional_quote;
  const Lots q = e.qty_lots;
  const Quote fm = fee_for(n, tier_rates(mk, bucket).maker_ppb);
  const Quote ft = fee_for(n, taker.rate_ppb);

  // The maker rests on the opposite side and fills at its own price.
  if (e.side == byte_of(Side::Buy)) {
    mk.base.reserved -= q;
    mk.quote.free += n - fm;
  } else {
    const Lots after = e.remaining_lots;
    const Quote released =
        buy_reservation(e.price_ticks, after + q, reserve_rate(mk)) - buy_reservation(e.price_ticks, after, reserve_rate(mk));
    mk.quote.reserved -= released;
    mk.quote.free += released - n - fm;
    mk.base.free += q;
  }
  if (e.remaining_lots == 0) --mk.open_orders;
  mk.volume.add(bucket, n);
  mk.traded_quote += n;
  mk.fees_paid += fm;
  // The taker's balances and volume are settled once, after matching (settle_taker).
  taker.lots += q;
  taker.notional += n;
  taker.fees += ft;
  bs.fees_collected += fm + ft;
  e.maker_fee = fm;
  e.taker_fee = ft;
}

void Exchange::release_resting(Account& acc, const Event& e) {
  const Lots q = e.qty_lots;
  const Lots after = e.remaining_lots;
  if (e.side == byte_of(Side::Buy)) {
    const Quote released =
        buy_reservation(e.price_ticks, after + q, reserve_rate(acc)) - buy_reservation(e.price_ticks, after, reserve_rate(acc));
    acc.quote.reserved -= released;
    acc.quote.free += released;
  } else {
    acc.base.reserved -= q;
    acc.base.free += q;
  }
  if (after == 0) --acc.open_orders;
}

void Exchange::settle_taker(BookState& bs, Account& acc, Side side, const TakerFills& f, Quote reserved_before,
                            Quote reserved_after) {
  if (f.lots > 0) {
    acc.volume.add(bs.bucket, f.notional);
    acc.traded_quote += f.notional;
    acc.fees_paid += f.fees;
  }
  if (side == Side::Buy) {
    const Quote released = reserved_before - reserved_after;
    acc.quote.reserved -= released;
    acc.quote.free += released - f.notional - f.fees;
    acc.base.free += f.lots;
  } else {
    acc.base.reserved -= reserved_before - reserved_after;
    acc.base.free += reserved_before - reserved_after - f.lots;
    acc.quote.free += f.notional - f.fees;
  }
}

// ------------------------------------------------------------ instructions

void Exchange::place_limit(const PlaceLimit& o, TimeNs now) {
  const std::uint8_t tif = byte_of(o.tif);
  if (o.book >= books_.size()) {
    unrouted_.set_time(std::max(unrouted_.time(), now));
    reject_order(unrouted_, o.agent, o.side, o.price_ticks, o.qty_lots, 0, tif, o.client_order_id,
                 RejectReason::UnknownBook);
    return;
  }
  BookState& bs = books_[o.book];
  advance_book(bs, now);
  auto reject = [&](RejectReason r) {
    reject_order(bs.log, o.agent, o.side, o.price_ticks, o.qty_lots, 0, tif, o.client_order_id, r);
  };
  Account* acc = find_account(bs, o.agent);
  if (!acc) return reject(RejectReason::UnknownAgent);
  if (!valid_side(o.side)) return reject(RejectReason::InvalidSide);
  if (!valid_tif(o.tif)) return reject(RejectReason::InvalidTimeInForce);
  if (o.price_ticks < 1 || o.price_ticks > kMaxPriceTicks) return reject(RejectReason::InvalidPrice);
  if (o.qty_lots < 1 || o.qty_lots > kMaxQtyLots) return reject(RejectReason::InvalidQuantity);
  if (static_cast<__int128>(o.qty_lots) * o.price_ticks > kMaxNotional) return reject(RejectReason::NotionalTooLarge);
  if (!stp_allowed(*acc, o.stp)) return reject(RejectReason::InvalidStp);
  if (o.post_only && (o.tif == TimeInForce::IOC || o.tif == TimeInForce::FOK))
    return reject(RejectReason::PostOnlyNotAllowed);
  if (o.tif == TimeInForce::GTT && o.expiry_ns <= bs.log.time()) return reject(RejectReason::InvalidExpiry);

  const bool buy = o.side == Side::Buy;
  const Quote reservation = buy ? buy_reservation(o.price_ticks, o.qty_lots, reserve_rate(*acc)) : 0;
  if (buy ? acc->quote.free < reservation : acc->base.free < o.qty_lots)
    return reject(buy ? RejectReason::InsufficientQuote : RejectReason::InsufficientBase);
  const bool crosses = bs.book.crosses(o.side, o.price_ticks);
  if (o.post_only && crosses) return reject(RejectReason::WouldTakeLiquidity);
  if (o.tif == TimeInForce::IOC && !crosses) return reject(RejectReason::NoLiquidity);
  if (o.tif == TimeInForce::FOK && !bs.book.can_fill(o.side, o.price_ticks, o.qty_lots, o.agent, o.stp))
    return reject(RejectReason::FokNotFillable);

  const OrderId id = bs.book.assign_id();
  if (id == kNoOrder) return reject(RejectReason::BookFull);
  emit_placed(bs, id, o.agent, o.side, o.price_ticks, o.qty_lots, 0, tif, o.client_order_id);
  if (buy) {
    acc->quote.free -= reservation;
    acc->quote.reserved += reservation;
  } else {
    acc->base.free -= o.qty_lots;
    acc->base.reserved += o.qty_lots;
  }

  const bool can_rest = o.tif == TimeInForce::GTC || o.tif == TimeInForce::GTT;
  if (!crosses) {  // (IOC and FOK that do not cross were rejected above)
    rest(bs, *acc, o, id, o.qty_lots);
    return;
  }
  Aggressor a{id, o.agent, o.side, o.price_ticks, false, o.qty_lots, kMaxNotional, o.stp};
  TakerFills fills{id, tier_rates(*acc, bs.bucket).taker_ppb};
  const std::size_t from = bs.log.size();
  bs.book.match(a, bs.log);
  settle(bs, from, &fills);
  const bool rests = a.qty_lots > 0 && can_rest;
  if (a.qty_lots > 0 && !rests) {
    // IOC (or a FOK cut short, which can_fill rules out): the rest is cancelled.
    bs.log.push(Event{.order_id = id,
                      .price_ticks = o.price_ticks,
                      .qty_lots = a.qty_lots,
                      .agent = o.agent,
                      .kind = byte_of(EventKind::OrderCancelled),
                      .side = byte_of(o.side),
                      .reason = byte_of(CancelReason::IocRest)});
  }
  const Lots resting = rests ? a.qty_lots : 0;
  // Events may have grown the log, but accounts never move: acc is still valid.
  settle_taker(bs, *acc, o.side, fills, buy ? reservation : o.qty_lots,
               buy ? buy_reservation(o.price_ticks, resting, reserve_rate(*acc)) : resting);
  if (rests) rest(bs, *acc, o, id, resting); else bs.book.discard(id);
}

void Exchange::rest(BookState& bs, Account& acc, const PlaceLimit& o, OrderId id, Lots qty) {
  bs.book.rest(id, o.agent, o.side, o.price_ticks, qty);
  ++acc.open_orders;
  if (o.tif == TimeInForce::GTT) bs.expiries.push(Expiry{o.expiry_ns, id});
}

void Exchange::place_market(const PlaceMarket& o, TimeNs now) {
  const bool by_quote = o.currency == Currency::Quote;
  const Lots req_qty = by_quote ? 0 : o.qty_lots;
  const Quote req_notional = by_quote ? o.notional_quote : 0;
  if (o.book >= books_.size()) {
    unrouted_.set_time(std::max(unrouted_.time(), now));
    reject_order(unrouted_, o.agent, o.side, 0, o.qty_lots, o.notional_quote, 0, o.client_order_id,
                 RejectReason::UnknownBook);
    return;
  }
  BookState& bs = books_[o.book];
  advance_book(bs, now);
  auto reject = [&](RejectReason r) {
    reject_order(bs.log, o.agent, o.side, 0, o.qty_lots, o.notional_quote, 0, o.client_order_id, r);
  };
  Account* acc = find_account(bs, o.agent);
  if (!acc) return reject(RejectReason::UnknownAgent);
  if (!valid_side(o.side)) return reject(RejectReason::InvalidSide);
  if (!valid_currency(o.currency)) return reject(RejectReason::InvalidCurrency);
  if (by_quote ? (o.notional_quote < 1 || o.notional_quote > kMaxNotional)
               : (o.qty_lots < 1 || o.qty_lots > kMaxQtyLots))
    return reject(RejectReason::InvalidQuantity);
  if (!stp_allowed(*acc, o.stp) || (by_quote && o.stp == Stp::DecrementAndCancel))
    return reject(RejectReason::InvalidStp);
  if (bs.book.empty(opposite(o.side))) return reject(RejectReason::NoLiquidity);

  const bool buy = o.side == Side::Buy;
  const RatePpb rate = reserve_rate(*acc);
  Lots qty = req_qty;
  Quote budget = kMaxNotional;
  if (buy && !by_quote) {
    // the largest notional n with n + fee(n, rate) <= free quote
    const auto n = static_cast<Quote>((static_cast<__int128>(acc->quote.free) * kRateScale) / (kRateScale + rate));
    budget = std::min<Quote>(n, kMaxNotional - 1);
    if (budget < bs.book.best(Side::Sell)) return reject(RejectReason::InsufficientQuote);
  } else if (buy) {
    if (acc->quote.free < o.notional_quote + fee_for(o.notional_quote, rate))
      return reject(RejectReason::InsufficientQuote);
    qty = kMaxQtyLots;
    budget = o.notional_quote;
  } else if (!by_quote) {
    if (acc->base.free < o.qty_lots) return reject(RejectReason::InsufficientBase);
  } else {
    if (acc->base.free < 1) return reject(RejectReason::InsufficientBase);
    qty = acc->base.free;
    budget = o.notional_quote;
  }

  const OrderId id = bs.book.assign_id();
  if (id == kNoOrder) return reject(RejectReason::BookFull);
  emit_placed(bs, id, o.agent, o.side, 0, req_qty, req_notional, 0, o.client_order_id);
  Aggressor a{id, o.agent, o.side, 0, true, qty, budget, o.stp};
  TakerFills fills{id, tier_rates(*acc, bs.bucket).taker_ppb};
  const std::size_t from = bs.log.size();
  const MatchResult r = bs.book.match(a, bs.log);
  settle(bs, from, &fills);
  bs.book.discard(id);
  settle_taker(bs, *acc, o.side, fills, 0, 0);  // nothing was reserved: fills move free balances

  // A market order never rests; say why it stopped short, if it did.
  Event e{};
  e.kind = byte_of(EventKind::OrderCancelled);
  e.order_id = id;
  e.agent = o.agent;
  e.side = byte_of(o.side);
  if (!by_quote) {
    if (a.qty_lots == 0 || r.stop == MatchStop::SelfTrade) return;
    e.qty_lots = a.qty_lots;
    e.reason = byte_of(r.stop == MatchStop::Budget ? CancelReason::InsufficientFunds : CancelReason::MarketRest);
  } else {
    if (r.stop == MatchStop::Budget || r.stop == MatchStop::SelfTrade) return;
    e.notional_quote = o.notional_quote - r.filled_notional;
    e.reason = byte_of(r.stop == MatchStop::Liquidity ? CancelReason::MarketRest : CancelReason::InsufficientFunds);
  }
  bs.log.push(e);
}

void Exchange::cancel(const Cancel& c, TimeNs now) {
  if (c.book >= books_.size()) {
    unrouted_.set_time(std::max(unrouted_.time(), now));
    reject_cancel(unrouted_, c.agent, c.order_id, c.qty_lots, c.client_order_id, RejectReason::UnknownBook);
    return;
  }
  BookState& bs = books_[c.book];
  advance_book(bs, now);
  auto reject = [&](RejectReason r) { reject_cancel(bs.log, c.agent, c.order_id, c.qty_lots, c.client_order_id, r); };
  if (!find_account(bs, c.agent)) return reject(RejectReason::UnknownAgent);
  if (c.qty_lots < 0) return reject(RejectReason::InvalidQuantity);
  const RestingOrder* o = bs.book.find(c.order_id);
  if (!o) return reject(RejectReason::UnknownOrder);
  if (o->agent != c.agent) return reject(RejectReason::NotOwner);
  const Lots q = (c.qty_lots == 0 || c.qty_lots >= o->qty_lots) ? o->qty_lots : c.qty_lots;
  const std::size_t from = bs.log.size();
  bs.book.reduce(c.order_id, q, CancelReason::Requested, bs.log);
  settle(bs, from, nullptr);
}

std::size_t Exchange::reset_agent(AgentId agent, TimeNs now) {
  std::size_t books_reset = 0;
  for (BookId b = 0; b < books_.size(); ++b) books_reset += reset_account(b, agent, now) ? 1 : 0;
  return books_reset;
}

bool Exchange::reset_account(BookId book, AgentId agent, TimeNs now) {
  if (book >= books_.size()) return false;
  BookState& bs = books_[book];
  advance_book(bs, now);
  Account* acc = find_account(bs, agent);
  if (!acc) return false;
  std::vector<OrderId> ids;
  bs.book.for_each_order([&](const RestingOrder& o) {
    if (o.agent == agent) ids.push_back(o.id);
  });
  std::sort(ids.begin(), ids.end());
  const std::size_t from = bs.log.size();
  for (OrderId id : ids) bs.book.reduce(id, kMaxQtyLots, CancelReason::Reset, bs.log);
  settle(bs, from, nullptr);
  bs.supply_base += acc->start_base_lots - acc->base.total();
  bs.supply_quote += acc->start_quote - acc->quote.total();
  acc->base = Balance{acc->start_base_lots, 0};
  acc->quote = Balance{acc->start_quote, 0};
  acc->open_orders = 0;
  acc->fees_paid = 0;
  acc->traded_quote = 0;
  acc->volume.clear();
  acc->tier = TierCache{};
  bs.log.push(Event{.agent = agent, .kind = byte_of(EventKind::AccountReset)});
  return true;
}

namespace {

// The plain fields a checkpoint carries for an account and for a book, in order:
// one list serves both saving (StateWriter) and loading (StateReader).
template <class Archive, class AccountT>
void transfer_account(Archive& ar, AccountT& a) {
  ar.field(a.open);
  ar.field(a.agent_class);
  ar.field(a.base);
  ar.field(a.quote);
  ar.field(a.start_base_lots);
  ar.field(a.start_quote);
  ar.field(a.open_orders);
  ar.field(a.fees_paid);
  ar.field(a.traded_quote);
  ar.field(a.tier);
}

template <class Archive, class BookStateT>
void transfer_book_scalars(Archive& ar, BookStateT& bs) {
  ar.field(bs.bucket);
  ar.field(bs.next_bucket_ns);
  ar.field(bs.fees_collected);
  ar.field(bs.supply_base);
  ar.field(bs.supply_quote);
}

}  // namespace

void Exchange::save(StateWriter& w) const {
  w.pod<std::uint64_t>(books_.size());
  for (const BookState& bs : books_) {
    bs.book.save(w);
    bs.log.save(w);
    w.pod<std::uint64_t>(bs.accounts.size());
    for (const Account& a : bs.accounts) {
      transfer_account(w, a);
      a.volume.save(w);
    }
    w.vec(bs.expiries.items());
    transfer_book_scalars(w, bs);
  }
  unrouted_.save(w);
}

void Exchange::load(StateReader& r) {
  if (r.pod<std::uint64_t>() != books_.size()) throw CheckpointError("checkpoint has a different number of books");
  for (BookState& bs : books_) {
    bs.book.load(r);
    bs.log.load(r);
    const auto n = r.pod<std::uint64_t>();
    // Each saved account takes well over 64 bytes: a count the rest cannot hold is refused
    // before anything is allocated for it.
    if (n > kMaxAgents || n > r.remaining() / 64) throw CheckpointError("checkpoint is truncated or corrupt");
    bs.accounts.assign(n, Account{});
    for (Account& a : bs.accounts) {
      transfer_account(r, a);
      a.volume.load(r);
      if (a.agent_class >= config_.agent_classes.size()) throw CheckpointError("checkpoint is truncated or corrupt");
    }
    r.vec(bs.expiries.items());
    transfer_book_scalars(r, bs);
  }
  unrouted_.load(r);
  check_loaded();
}

namespace {

// What is wrong with a log's untaken events (empty when nothing): they are the last ones the
// log numbered, in order, stamped with its book and no later than its clock, of known kinds.
std::string check_events(const EventLog& log, BookId book) {
  const auto& ev = log.events();
  for (std::size_t i = 0; i < ev.size(); ++i) {
    const Event& e = ev[i];
    auto at = [i] { return "untaken event " + std::to_string(i); };
    if (e.book != book) return at() + " names book " + std::to_string(e.book);
    if (e.seq != log.last_seq() - (ev.size() - 1 - i)) return at() + " is out of sequence";
    if (e.ts_ns > log.time() || (i > 0 && e.ts_ns < ev[i - 1].ts_ns)) return at() + " is out of time order";
    if (e.kind < byte_of(EventKind::OrderPlaced) || e.kind > byte_of(EventKind::AccountReset))
      return at() + " has unknown kind " + std::to_string(e.kind);
  }
  return {};
}

}  // namespace

void Exchange::check_loaded() const {
  for (BookId b = 0; b < books_.size(); ++b) check_book(b);
  if (unrouted_.book() != kNoBook)
    corrupt_state("the log of unrouted events names book " + std::to_string(unrouted_.book()));
  if (unrouted_.time() < 0) corrupt_state("the log of unrouted events has a negative clock");
  if (const std::string why = check_events(unrouted_, kNoBook); !why.empty()) corrupt_state("unrouted events: " + why);
}

void Exchange::check_book(BookId b) const {
  const BookState& bs = books_[b];
  const std::string where = "book " + std::to_string(b);
  auto fail = [&](const std::string& what) { corrupt_state(where + ": " + what); };
  const TimeNs now = bs.log.time();
  if (bs.log.book() != b) fail("its event log names book " + std::to_string(bs.log.book()));
  if (now < 0) fail("negative clock " + std::to_string(now));
  const bool bucket_ok = (bs.next_bucket_ns == 0 && bs.bucket == 0) ||
                         (bs.bucket == now / config_.volume_bucket_ns &&
                          bs.next_bucket_ns == (bs.bucket + 1) * config_.volume_bucket_ns);
  if (!bucket_ok) fail("fee bucket " + std::to_string(bs.bucket) + " does not match the clock " + std::to_string(now));
  if (const std::string why = check_events(bs.log, b); !why.empty()) fail(why);
  if (bs.supply_base < 0 || bs.supply_quote < 0) fail("negative supply");
  bs.book.check_loaded(where);

  // What the resting orders of each agent hold: lots of sells, reservations of buys, count.
  struct Held {
    __int128 sell_lots = 0;
    __int128 buy_quote = 0;
    std::uint64_t orders = 0;
  };
  std::vector<Held> held(bs.accounts.size());
  bs.book.for_each_order([&](const RestingOrder& o) {
    if (o.agent >= bs.accounts.size() || !bs.accounts[o.agent].open)
      fail("order " + std::to_string(o.id) + " at price " + std::to_string(o.price_ticks) +
           " belongs to unknown agent " + std::to_string(o.agent));
    Held& h = held[o.agent];
    ++h.orders;
    if (o.side == Side::Sell)
      h.sell_lots += o.qty_lots;
    else
      h.buy_quote += buy_reservation(o.price_ticks, o.qty_lots, reserve_rate(bs.accounts[o.agent]));
  });

  __int128 base = 0, quote = 0;
  for (std::size_t a = 0; a < bs.accounts.size(); ++a) {
    const Account& acc = bs.accounts[a];
    if (!acc.open) continue;
    auto bad = [&](const std::string& what) { fail("agent " + std::to_string(a) + ": " + what); };
    for (const auto& [name, v] :
         {std::pair{"base free", acc.base.free}, std::pair{"base reserved", acc.base.reserved},
          std::pair{"quote free", acc.quote.free}, std::pair{"quote reserved", acc.quote.reserved},
          std::pair{"starting base", acc.start_base_lots}, std::pair{"starting quote", acc.start_quote},
          std::pair{"traded volume", acc.traded_quote}})
      if (v < 0) bad(std::string(name) + " balance " + std::to_string(v) + " is negative");
    const Held& h = held[a];
    if (acc.base.reserved != h.sell_lots)
      bad("base reserved " + std::to_string(acc.base.reserved) + ", its resting sells hold " +
          std::to_string(static_cast<long long>(h.sell_lots)));
    if (acc.quote.reserved != h.buy_quote)
      bad("quote reserved " + std::to_string(acc.quote.reserved) + ", its resting buys need " +
          std::to_string(static_cast<long long>(h.buy_quote)));
    if (acc.open_orders != h.orders)
      bad(std::to_string(acc.open_orders) + " open orders counted, " + std::to_string(h.orders) + " resting");
    if (const std::string why = acc.volume.check_loaded(config_.volume_window_buckets, bs.bucket); !why.empty())
      bad(why);
    // The cached tier, when set, is one of the schedule's tiers, cached in a bucket that has begun.
    if (acc.tier.bucket != -1) {
      const auto& tiers = config_.agent_classes[acc.agent_class].fees.tiers();
      bool known = false;
      for (std::size_t t = 0; t < tiers.size() && !known; ++t) {
        const Quote next = t + 1 < tiers.size() ? tiers[t + 1].volume_quote : std::numeric_limits<Quote>::max();
        known = acc.tier.maker_ppb == tiers[t].maker_ppb && acc.tier.taker_ppb == tiers[t].taker_ppb &&
                acc.tier.next_volume == next;
      }
      if (!known || acc.tier.bucket < 0 || acc.tier.bucket > bs.bucket)
        bad("the cached fee tier is not one of its schedule");
    }
    base += acc.base.total();
    quote += acc.quote.total();
  }
  if (base != bs.supply_base)
    fail("base balances add up to " + std::to_string(static_cast<long long>(base)) + ", the book's supply is " +
         std::to_string(bs.supply_base));
  if (quote + bs.fees_collected != bs.supply_quote)
    fail("quote balances plus fees collected add up to " +
         std::to_string(static_cast<long long>(quote + bs.fees_collected)) + ", the book's supply is " +
         std::to_string(bs.supply_quote));

  // GTT expiries: a heap, all due after the clock (due ones were processed when the clock moved).
  const auto& ex = bs.expiries.items();
  if (!std::is_heap(ex.begin(), ex.end(), std::greater<>{})) fail("the expiry queue is not in heap order");
  for (const Expiry& x : ex)
    if (x.at <= now)
      fail("order " + std::to_string(x.id) + " expires at " + std::to_string(x.at) + ", before the clock");
}

std::vector<Event> Exchange::take_events() {
  std::vector<EventLog*> logs;
  for (auto& bs : books_)
    if (bs.log.size()) logs.push_back(&bs.log);
  if (unrouted_.size()) logs.push_back(&unrouted_);
  if (logs.empty()) return {};
  if (logs.size() == 1) return logs.front()->take();  // no copy
  std::size_t total = 0;
  for (const EventLog* l : logs) total += l->size();
  std::vector<Event> out;
  out.reserve(total);
  for (EventLog* l : logs) {
    out.insert(out.end(), l->events().begin(), l->events().end());
    l->clear();
  }
  return out;
}

}  // namespace taosim
