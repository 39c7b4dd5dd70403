// Market orders: sweep, empty side, unfilled rest, quote-sized orders, budgets.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using MarketOrders = ExchangeTest;

TEST_F(MarketOrders, SweepsLevelsUntilFilled) {
  limit(1, Side::Sell, 100, 2);
  limit(2, Side::Sell, 101, 2);
  limit(3, Side::Sell, 102, 2);
  auto ev = market(4, Side::Buy, 5);
  auto trades = of_kind(ev, EventKind::Trade);
  ASSERT_EQ(trades.size(), 3u);
  EXPECT_EQ(trades[2].price_ticks, 102);
  EXPECT_EQ(trades[2].qty_lots, 1);
  EXPECT_TRUE(of_kind(ev, EventKind::OrderCancelled).empty());
  EXPECT_EQ(acc(4).quote.total(), 100'000'000 - (200 + 202 + 102));
}

TEST_F(MarketOrders, AgainstAnEmptySideIsRejected) {
  EXPECT_EQ(reject_reason(market(1, Side::Buy, 1)), RejectReason::NoLiquidity);
  EXPECT_EQ(reject_reason(market(1, Side::Sell, 1)), RejectReason::NoLiquidity);
}

TEST_F(MarketOrders, UnfilledRestIsCancelledWhenTheSideRunsOut) {
  limit(1, Side::Buy, 100, 3);
  auto ev = market(2, Side::Sell, 5);
  auto c = of_kind(ev, EventKind::OrderCancelled);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].qty_lots, 2);
  EXPECT_EQ(c[0].reason, static_cast<std::uint8_t>(CancelReason::MarketRest));
  EXPECT_TRUE(ex.book(0).empty(Side::Sell));  // a market order never rests
}

TEST_F(MarketOrders, BuySizedInQuoteSpendsTheNotionalToTheLot) {
  limit(1, Side::Sell, 100, 10);
  auto ev = market_quote(2, Side::Buy, 550);
  auto trades = of_kind(ev, EventKind::Trade);
  ASSERT_EQ(trades.size(), 1u);
  EXPECT_EQ(trades[0].qty_lots, 5);  // 550 buys 5 lots at 100; 50 cannot buy a lot
  EXPECT_TRUE(of_kind(ev, EventKind::OrderCancelled).empty());
  EXPECT_EQ(placed_id(ev) != kNoOrder, true);
  EXPECT_EQ(of_kind(ev, EventKind::OrderPlaced)[0].notional_quote, 550);
}

TEST_F(MarketOrders, QuoteSizedReportsUnspentNotionalWhenLiquidityEnds) {
  limit(1, Side::Sell, 100, 2);
  auto c = of_kind(market_quote(2, Side::Buy, 1'000), EventKind::OrderCancelled);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].notional_quote, 800);
  EXPECT_EQ(c[0].reason, static_cast<std::uint8_t>(CancelReason::MarketRest));
}

TEST_F(MarketOrders, SellSizedInQuoteStopsWhenBaseRunsOut) {
  limit(1, Side::Buy, 100, 5'000);
  auto ev = market_quote(2, Side::Sell, 10'000'000);  // agent 2 holds 1000 lots
  EXPECT_EQ(acc(2).base.total(), 0);
  auto c = of_kind(ev, EventKind::OrderCancelled);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].reason, static_cast<std::uint8_t>(CancelReason::InsufficientFunds));
  EXPECT_EQ(c[0].notional_quote, 10'000'000 - 100'000);
}

TEST_F(MarketOrders, BuyInBaseIsLimitedByTheBalance) {
  ex.open_account(0, 20, kMiner, 0, 350);  // can afford 3 lots at 100
  limit(1, Side::Sell, 100, 10);
  auto ev = market(20, Side::Buy, 10);
  EXPECT_EQ(acc(20).base.total(), 3);
  EXPECT_EQ(acc(20).quote.total(), 50);
  auto c = of_kind(ev, EventKind::OrderCancelled);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].qty_lots, 7);
  EXPECT_EQ(c[0].reason, static_cast<std::uint8_t>(CancelReason::InsufficientFunds));
}

TEST_F(MarketOrders, BuyThatCannotAffordOneLotIsRejected) {
  ex.open_account(0, 20, kMiner, 0, 99);
  limit(1, Side::Sell, 100, 10);
  EXPECT_EQ(reject_reason(market(20, Side::Buy, 1)), RejectReason::InsufficientQuote);
}

TEST_F(MarketOrders, SellNeedsTheBase) {
  limit(1, Side::Buy, 100, 5'000);
  EXPECT_EQ(reject_reason(market(2, Side::Sell, 1'001)), RejectReason::InsufficientBase);
}

TEST_F(MarketOrders, QuoteSizedWithDecrementAndCancelIsRejected) {
  limit(1, Side::Sell, 100, 5);
  EXPECT_EQ(reject_reason(market_quote(2, Side::Buy, 500, Stp::DecrementAndCancel)), RejectReason::InvalidStp);
}

}  // namespace taosim::test
