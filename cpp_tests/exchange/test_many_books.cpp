// Many books in one exchange: independent books, accounts, ids and sequences.
#include "support/exchange_fixture.hpp"

namespace taosim::test {

class ManyBooks : public ExchangeTest {
 protected:
  ManyBooks() : ExchangeTest(config_with_fees({FeeTier{}}, 3)) {}
};

TEST_F(ManyBooks, BooksAreIndependent) {
  limit(1, Side::Sell, 100, 5, TimeInForce::GTC, Stp::CancelOldest, false, 0, 0);
  auto ev = limit(2, Side::Buy, 100, 5, TimeInForce::GTC, Stp::CancelOldest, false, 0, 1);
  EXPECT_TRUE(of_kind(ev, EventKind::Trade).empty());
  EXPECT_EQ(ev[0].book, 1u);
  EXPECT_EQ(ev[0].seq, 1u);  // each book numbers its own events
  EXPECT_EQ(acc(1, 0).base.reserved, 5);
  EXPECT_EQ(acc(1, 1).base.reserved, 0);
  EXPECT_EQ(ex.book(2).order_count(), 0u);
}

TEST_F(ManyBooks, TakeEventsReturnsBooksInOrderWithIncreasingSequences) {
  for (BookId b : {2u, 0u, 1u}) {
    limit(1, Side::Buy, 100, 1, TimeInForce::GTC, Stp::CancelOldest, false, 0, b);
    limit(1, Side::Buy, 101, 1, TimeInForce::GTC, Stp::CancelOldest, false, 0, b);
  }
  for (BookId b : {2u, 0u, 1u}) {
    ex.submit(PlaceLimit{b, 2, Side::Sell, 101, 1, TimeInForce::GTC, false, Stp::CancelOldest, 0, 0}, now);
  }
  auto ev = ex.take_events();
  ASSERT_EQ(ev.size(), 6u);  // OrderPlaced + Trade per book
  for (std::size_t i = 0; i < ev.size(); ++i) EXPECT_EQ(ev[i].book, i / 2);
  EXPECT_EQ(ev[0].seq, 3u);
  EXPECT_EQ(ev[1].seq, 4u);
  EXPECT_TRUE(ex.take_events().empty());
}

}  // namespace taosim::test
