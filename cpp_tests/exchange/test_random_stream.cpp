// A seeded stream of mixed instructions (the benchmark's) keeps every invariant,
// and the book path and the exchange path match the same trades.
#include <cstring>

#include "support/exchange_fixture.hpp"
#include "taosim/testing/instruction_stream.hpp"

namespace taosim::test {

class RandomStream : public ExchangeTest {
 protected:
  RandomStream() : ExchangeTest(config_with_fees(default_miner_fee_tiers(1'000'000))) {}
};

TEST_F(RandomStream, InvariantsHoldAndCancelsSucceed) {
  for (AgentId a = 100; a < 120; ++a) ex.open_account(0, a, kMiner, 1'000'000'000, 1'000'000'000'000'000LL);
  testing::StreamConfig sc;
  sc.count = 20'000;
  sc.agents = 20;
  sc.seed = 7;
  auto stream = testing::random_instruction_stream(sc);
  for (auto& r : stream) r.agent += 100;
  std::size_t trades = 0, cancels = 0, rejects = 0;
  for (std::size_t i = 0; i < stream.size(); i += 500) {
    ex.submit_batch(stream.data() + i, std::min<std::size_t>(500, stream.size() - i));
    for (const auto& e : ex.take_events()) {
      trades += e.kind == static_cast<std::uint8_t>(EventKind::Trade);
      cancels += e.kind == static_cast<std::uint8_t>(EventKind::OrderCancelled) &&
                 e.reason == static_cast<std::uint8_t>(CancelReason::Requested);
      // the only refusals the stream provokes: market orders into an empty side
      rejects += e.kind == static_cast<std::uint8_t>(EventKind::CancelRejected) ||
                 (e.kind == static_cast<std::uint8_t>(EventKind::OrderRejected) &&
                  e.reason != static_cast<std::uint8_t>(RejectReason::NoLiquidity));
    }
    check_invariants();
  }
  EXPECT_GT(trades, 1'000u);
  EXPECT_GT(cancels, 3'000u);
  EXPECT_EQ(rejects, 0u);  // the generator predicts ids and only cancels live orders
  EXPECT_GT(ex.fees_collected(0), 0);
}

TEST(RandomStreamDeterminism, SameSeedSameStream) {
  testing::StreamConfig sc;
  sc.count = 5'000;
  auto a = testing::random_instruction_stream(sc);
  auto b = testing::random_instruction_stream(sc);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(InstructionRecord)), 0);
  sc.seed = 2;
  auto c = testing::random_instruction_stream(sc);
  EXPECT_NE(std::memcmp(a.data(), c.data(), a.size() * sizeof(InstructionRecord)), 0);
}

}  // namespace taosim::test
