// Reservations on placement, release on fill and cancel, insufficient funds.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

using Reservations = ExchangeTest;

TEST_F(Reservations, BuyReservesQuoteSellReservesBase) {
  limit(1, Side::Buy, 100, 10);
  EXPECT_EQ(acc(1).quote.reserved, 1'000);
  EXPECT_EQ(acc(1).quote.free, 100'000'000 - 1'000);
  limit(2, Side::Sell, 105, 7);
  EXPECT_EQ(acc(2).base.reserved, 7);
  EXPECT_EQ(acc(2).base.free, 993);
}

TEST_F(Reservations, InsufficientBalancesAreRejected) {
  EXPECT_EQ(reject_reason(limit(1, Side::Sell, 100, 1'001)), RejectReason::InsufficientBase);
  EXPECT_EQ(reject_reason(limit(1, Side::Buy, 100'001, 1'000)), RejectReason::InsufficientQuote);
  limit(1, Side::Sell, 100, 600);
  EXPECT_EQ(reject_reason(limit(1, Side::Sell, 100, 401)), RejectReason::InsufficientBase);
  EXPECT_EQ(reject_reason(limit(1, Side::Sell, 100, 400)), RejectReason::None);
}

TEST_F(Reservations, FillAtABetterPriceReleasesTheDifference) {
  limit(1, Side::Sell, 95, 10);
  limit(2, Side::Buy, 100, 10);  // reserves 1000, pays 950
  EXPECT_EQ(acc(2).quote.reserved, 0);
  EXPECT_EQ(acc(2).quote.total(), 100'000'000 - 950);
}

TEST_F(Reservations, PartialFillKeepsTheRestReserved) {
  limit(1, Side::Sell, 100, 4);
  limit(2, Side::Buy, 100, 10);
  EXPECT_EQ(acc(2).quote.reserved, 600);
  EXPECT_EQ(acc(1).base.reserved, 0);
}

TEST_F(Reservations, CancelReleasesEverything) {
  const OrderId b = placed_id(limit(1, Side::Buy, 100, 10));
  const OrderId s = placed_id(limit(1, Side::Sell, 110, 10));
  cancel(1, b);
  cancel(1, s);
  EXPECT_EQ(acc(1).quote.reserved, 0);
  EXPECT_EQ(acc(1).base.reserved, 0);
  EXPECT_EQ(acc(1).quote.free, 100'000'000);
  EXPECT_EQ(acc(1).base.free, 1'000);
}

TEST_F(Reservations, ReservedFundsCannotBeSpentTwice) {
  ex.open_account(0, 20, kMiner, 0, 1'000);
  limit(20, Side::Buy, 100, 10);
  EXPECT_EQ(reject_reason(limit(20, Side::Buy, 1, 1)), RejectReason::InsufficientQuote);
  limit(1, Side::Sell, 90, 5);  // fills at 100: the buyer's resting order is the maker
  EXPECT_EQ(acc(20).base.free, 5);
  EXPECT_EQ(acc(20).quote.reserved, 500);
}

}  // namespace taosim::test
