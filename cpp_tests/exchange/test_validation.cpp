// Every bad input is rejected with its own reason and changes nothing.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using Validation = ExchangeTest;

TEST_F(Validation, LimitOrderFields) {
  EXPECT_EQ(reject_reason(limit(99, Side::Buy, 100, 1)), RejectReason::UnknownAgent);
  EXPECT_EQ(reject_reason(limit(1, static_cast<Side>(0), 100, 1)), RejectReason::InvalidSide);
  EXPECT_EQ(reject_reason(limit(1, static_cast<Side>(7), 100, 1)), RejectReason::InvalidSide);
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, 0, 1)), RejectReason::InvalidPrice);
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, -5, 1)), RejectReason::InvalidPrice);
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, kMaxPriceTicks + 1, 1)), RejectReason::InvalidPrice);
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, 100, 0)), RejectReason::InvalidQuantity);
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, 100, -3)), RejectReason::InvalidQuantity);
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, 100, kMaxQtyLots + 1)), RejectReason::InvalidQuantity);
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, kMaxPriceTicks, kMaxQtyLots)), RejectReason::NotionalTooLarge);
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, 100, 1, static_cast<TimeInForce>(0))),
            RejectReason::InvalidTimeInForce);
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, 100, 1, static_cast<TimeInForce>(9))),
            RejectReason::InvalidTimeInForce);
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, 100, 1, TimeInForce::GTC, static_cast<Stp>(200))),
            RejectReason::InvalidStp);
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, 100, 1, TimeInForce::GTC, Stp::CancelOldest, false, 0, 5)),
            RejectReason::UnknownBook);
  EXPECT_EQ(ex.book(0).order_count(), 0u);
  EXPECT_EQ(acc(1).quote.reserved, 0);
}

TEST_F(Validation, MarketOrderFields) {
  limit(2, Side::Sell, 100, 5);
  PlaceMarket m;
  m.agent = 1;
  m.side = Side::Buy;
  m.currency = static_cast<Currency>(0);
  m.qty_lots = 1;
  EXPECT_EQ(reject_reason(run(m)), RejectReason::InvalidCurrency);
  m.currency = Currency::Quote;
  m.notional_quote = 0;
  EXPECT_EQ(reject_reason(run(m)), RejectReason::InvalidQuantity);
  m.notional_quote = -10;
  EXPECT_EQ(reject_reason(run(m)), RejectReason::InvalidQuantity);
  m.currency = Currency::Base;
  m.qty_lots = 0;
  EXPECT_EQ(reject_reason(run(m)), RejectReason::InvalidQuantity);
  EXPECT_EQ(ex.book(0).level(Side::Sell, 0).qty_lots, 5);
}

TEST_F(Validation, UnknownInstructionKindInARecord) {
  InstructionRecord r{};
  r.kind = 42;
  r.book = 0;
  r.agent = 1;
  ex.submit(r);
  auto ev = ex.take_events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].reason, static_cast<std::uint8_t>(RejectReason::InvalidInstruction));
  r.book = 77;
  ex.submit(r);
  ev = ex.take_events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].book, kNoBook);
}

TEST_F(Validation, RecordsRoundTripThroughTheTypedForm) {
  PlaceLimit o;
  o.book = 0;
  o.agent = 1;
  o.side = Side::Sell;
  o.price_ticks = 123;
  o.qty_lots = 4;
  o.tif = TimeInForce::GTT;
  o.expiry_ns = 99'999;
  o.client_order_id = 77;
  const InstructionRecord r = to_record(o, 5'000);
  ex.submit(r);
  auto ev = ex.take_events();
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].kind, static_cast<std::uint8_t>(EventKind::OrderPlaced));
  EXPECT_EQ(ev[0].price_ticks, 123);
  EXPECT_EQ(ev[0].client_order_id, 77u);
  EXPECT_EQ(ev[0].tif, static_cast<std::uint8_t>(TimeInForce::GTT));
  EXPECT_EQ(ev[0].ts_ns, 5'000);
}

TEST_F(Validation, TimeNeverGoesBack) {
  now = 10'000;
  limit(1, Side::Buy, 100, 1);
  now = 5'000;
  auto ev = limit(1, Side::Buy, 100, 1);
  EXPECT_EQ(ev[0].ts_ns, 10'000);
}

TEST(ExchangeConfigValidation, BadConfigsThrow) {
  ExchangeConfig c;
  c.books = 0;
  EXPECT_THROW(Exchange{c}, std::invalid_argument);
  c.books = 1;
  c.agent_classes.clear();
  EXPECT_THROW(Exchange{c}, std::invalid_argument);
  c = ExchangeConfig{};
  c.volume_bucket_ns = 0;
  EXPECT_THROW(Exchange{c}, std::invalid_argument);
  Exchange ex{ExchangeConfig{}};
  EXPECT_THROW(ex.open_account(1, 0, 0, 0, 0), std::invalid_argument);
  EXPECT_THROW(ex.open_account(0, 0, 3, 0, 0), std::invalid_argument);
  EXPECT_THROW(ex.open_account(0, 0, 0, -1, 0), std::invalid_argument);
  EXPECT_THROW(ex.open_account(0, kMaxAgents, 0, 0, 0), std::invalid_argument);
  ex.open_account(0, 0, 0, 1, 1);
  EXPECT_THROW(ex.open_account(0, 0, 0, 1, 1), std::invalid_argument);
  EXPECT_THROW(ex.open_account(0, 1, 0, std::int64_t{1} << 62, 0), std::invalid_argument);
}

}  // namespace taosim::test
