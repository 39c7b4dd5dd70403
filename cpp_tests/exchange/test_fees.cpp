// Maker/taker fees, volume tiers over a rolling window, rebates, rounding.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

namespace {
// volume → maker / taker, in ppb (1 % = 10'000'000)
std::vector<FeeTier> test_tiers() {
  return {FeeTier{0, 10'000'000, 20'000'000}, FeeTier{10'000, 0, 10'000'000},
          FeeTier{20'000, -5'000'000, 5'000'000}};
}
ExchangeConfig fee_config() {
  ExchangeConfig c = config_with_fees(test_tiers());
  c.volume_window_buckets = 3;
  c.volume_bucket_ns = 1'000'000;
  return c;
}
}  // namespace

class Fees : public ExchangeTest {
 protected:
  Fees() : ExchangeTest(fee_config()) {}
};

TEST(FeeArithmetic, TruncatesTowardZero) {
  EXPECT_EQ(fee_for(1'000, 10'000'000), 10);
  EXPECT_EQ(fee_for(150, 10'000'000), 1);    // 1.5 → 1
  EXPECT_EQ(fee_for(150, -10'000'000), -1);  // rebate -1.5 → -1
  EXPECT_EQ(fee_for(99, 10'000'000), 0);
  EXPECT_EQ(fee_for(kMaxNotional, 999'999'999), 999'999'999'000'000'000LL);
  EXPECT_EQ(fee_for(123'456'789'012'345LL, 0), 0);
}

TEST(FeeArithmetic, DefaultMinerTiers) {
  const auto t = default_miner_fee_tiers(1'000'000);
  ASSERT_EQ(t.size(), 6u);
  EXPECT_EQ(t[0].volume_quote, 0);
  EXPECT_EQ(t[0].maker_ppb, 5'000'000);  // 0.50 %
  EXPECT_EQ(t[0].taker_ppb, 5'000'000);
  EXPECT_EQ(t[1].volume_quote, 200'000LL * 1'000'000);
  EXPECT_EQ(t[1].maker_ppb, 2'500'000);
  EXPECT_EQ(t[1].taker_ppb, 3'000'000);
  EXPECT_EQ(t[3].maker_ppb, 630'000);  // 0.063 %
  EXPECT_EQ(t[3].taker_ppb, 1'080'000);
  EXPECT_EQ(t[5].volume_quote, 3'200'000LL * 1'000'000);
  EXPECT_EQ(t[5].maker_ppb, 160'000);
  EXPECT_EQ(t[5].taker_ppb, 380'000);
  EXPECT_EQ(FeeSchedule(t).reserve_rate(), 5'000'000);
}

TEST(FeeArithmetic, InvalidSchedulesAreRefused) {
  EXPECT_THROW(FeeSchedule(std::vector<FeeTier>{}), std::invalid_argument);
  EXPECT_THROW(FeeSchedule({FeeTier{5, 0, 0}}), std::invalid_argument);
  EXPECT_THROW(FeeSchedule({FeeTier{0, 0, 0}, FeeTier{0, 0, 0}}), std::invalid_argument);
  EXPECT_THROW(FeeSchedule({FeeTier{0, 1'000'000'000, 0}}), std::invalid_argument);
  EXPECT_THROW(FeeSchedule({FeeTier{0, 0, -1'000'000'000}}), std::invalid_argument);
  EXPECT_NO_THROW(FeeSchedule({FeeTier{0, -999'999'999, 999'999'999}}));
}

TEST_F(Fees, MakerAndTakerPayTheirRates) {
  limit(1, Side::Sell, 100, 10);
  auto t = of_kind(limit(2, Side::Buy, 100, 10), EventKind::Trade);
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].maker_fee, 10);  // 1 % of 1000
  EXPECT_EQ(t[0].taker_fee, 20);  // 2 %
  EXPECT_EQ(acc(1).quote.total(), 100'000'000 + 1'000 - 10);
  EXPECT_EQ(acc(2).quote.total(), 100'000'000 - 1'000 - 20);
  EXPECT_EQ(acc(2).fees_paid, 20);
  EXPECT_EQ(ex.fees_collected(0), 30);
}

TEST_F(Fees, BuyReservationIncludesTheFeeAtTheHighestRate) {
  limit(1, Side::Buy, 100, 10);
  EXPECT_EQ(acc(1).quote.reserved, 1'000 + 20);  // 2 % is the highest rate in the schedule
}

TEST_F(Fees, TierUsesVolumeBeforeTheTradeAndMovesUp) {
  limit(1, Side::Sell, 100, 200);
  auto t1 = of_kind(limit(2, Side::Buy, 100, 100), EventKind::Trade);  // 10'000 notional at tier 0
  EXPECT_EQ(t1[0].taker_fee, 200);
  EXPECT_EQ(ex.fee_tier(0, 2), 1u);
  auto t2 = of_kind(limit(2, Side::Buy, 100, 100), EventKind::Trade);  // tier 1: taker 1 %
  EXPECT_EQ(t2[0].taker_fee, 100);
  EXPECT_EQ(t2[0].maker_fee, 0);  // the maker also reached tier 1
  EXPECT_EQ(ex.fee_tier(0, 2), 2u);
}

TEST_F(Fees, RebatesAreCreditedToTheMaker) {
  limit(1, Side::Sell, 100, 500);
  limit(2, Side::Buy, 100, 200);  // both reach 20'000 volume: tier 2
  const Quote before = acc(1).quote.total();
  auto t = of_kind(limit(2, Side::Buy, 100, 100), EventKind::Trade);
  EXPECT_EQ(t[0].maker_fee, -50);  // -0.5 % of 10'000
  EXPECT_EQ(acc(1).quote.total(), before + 10'000 + 50);
}

TEST_F(Fees, VolumeRollsOutOfTheWindow) {
  limit(1, Side::Sell, 100, 300);
  limit(2, Side::Buy, 100, 100);
  EXPECT_EQ(ex.window_volume(0, 2), 10'000);
  now = 2'500'000;  // buckets 0..2: still inside
  limit(3, Side::Buy, 99, 1);
  EXPECT_EQ(ex.window_volume(0, 2), 10'000);
  now = 3'000'000;  // bucket 3: bucket 0 has left the window
  limit(3, Side::Buy, 99, 1);
  EXPECT_EQ(ex.window_volume(0, 2), 0);
  EXPECT_EQ(ex.fee_tier(0, 2), 0u);
  auto t = of_kind(limit(2, Side::Buy, 100, 1), EventKind::Trade);
  EXPECT_EQ(t[0].taker_fee, 2);  // tier 0 again
}

TEST_F(Fees, LongGapClearsTheWholeWindow) {
  limit(1, Side::Sell, 100, 300);
  limit(2, Side::Buy, 100, 150);
  now = 1'000'000'000;
  ex.advance_to(now);
  EXPECT_EQ(ex.window_volume(0, 2), 0);
}

}  // namespace taosim::test

namespace taosim::test {

TEST_F(Fees, AggressorKeepsItsArrivalTierForAllItsFills) {
  limit(1, Side::Sell, 100, 100);
  limit(3, Side::Sell, 100, 100);
  // One order of 20'000 notional crosses two makers; agent 2 starts at tier 0
  // (taker 2 %), and its first fill alone would lift it to tier 1.
  auto t = of_kind(limit(2, Side::Buy, 100, 200), EventKind::Trade);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].taker_fee, 200);
  EXPECT_EQ(t[1].taker_fee, 200);
  EXPECT_EQ(ex.window_volume(0, 2), 20'000);
  EXPECT_EQ(ex.fee_tier(0, 2), 2u);  // the next order pays the new tier
}

}  // namespace taosim::test
