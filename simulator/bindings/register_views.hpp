// Read-only views of an exchange's books and accounts, defined on every class
// that holds one (Exchange itself, Simulation). `get` maps the Python object to
// its Exchange.
#pragma once

#include <algorithm>
#include <exception>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "register.hpp"
#include "taosim/exchange/exchange.hpp"

namespace taosim::bindings {

inline py::array_t<LevelRecord> side_levels(const OrderBook& book, Side side, std::size_t depth) {
  std::vector<LevelRecord> out;
  const std::size_t n = std::min(depth, book.level_count(side));
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const PriceLevel& l = book.level(side, i);
    out.push_back(LevelRecord{l.price_ticks, l.qty_lots, l.count, 0});
  }
  return to_numpy(std::move(out));
}

inline py::array_t<OrderRecord> side_orders(const OrderBook& book, Side side, std::size_t depth) {
  std::vector<OrderRecord> out;
  const std::size_t n = std::min(depth, book.level_count(side));
  for (std::size_t i = 0; i < n; ++i) {
    book.for_each_order_at(side, i, [&](const RestingOrder& o) {
      out.push_back(OrderRecord{o.id, o.price_ticks, o.qty_lots, static_cast<std::uint32_t>(i),
                                static_cast<std::uint8_t>(side), {0, 0, 0}});
    });
  }
  return to_numpy(std::move(out));
}

// A book's top `depth` levels per side and the orders of its first `detail_depth` levels.
inline BookLevels book_levels(const OrderBook& book, std::size_t depth, std::size_t detail_depth) {
  return BookLevels{side_levels(book, Side::Buy, depth), side_levels(book, Side::Sell, depth),
                    side_orders(book, Side::Buy, detail_depth), side_orders(book, Side::Sell, detail_depth)};
}

template <class Cls, class Get>
void def_exchange_views(Cls& cls, Get get) {
  using Self = typename Cls::type;
  cls.def(
          "levels",
          [get](Self& self, BookId book, std::size_t depth, std::size_t detail_depth) {
            Exchange& ex = get(self);
            if (book >= ex.num_books()) throw py::index_error("unknown book " + std::to_string(book));
            return book_levels(ex.book(book), depth, detail_depth);
          },
          py::arg("book"), py::arg("depth") = 21, py::arg("detail_depth") = 5,
          "Top `depth` levels per side and the orders of the first `detail_depth` levels (a BookLevels).")
      .def(
          "best",
          [get](Self& self, BookId book) {
            Exchange& ex = get(self);
            if (book >= ex.num_books()) throw py::index_error("unknown book " + std::to_string(book));
            return py::make_tuple(ex.book(book).best(Side::Buy), ex.book(book).best(Side::Sell));
          },
          py::arg("book"), "(best bid, best ask) in ticks; 0 for an empty side.")
      .def(
          "accounts",
          [get](Self& self, BookId book) {
            Exchange& ex = get(self);
            if (book >= ex.num_books()) throw py::index_error("unknown book " + std::to_string(book));
            std::vector<AccountRecord> out;
            ex.for_each_account(book, [&](AgentId a, const Account& acc) {
              out.push_back(AccountRecord{a, acc.open_orders, acc.base.free, acc.base.reserved, acc.quote.free,
                                          acc.quote.reserved, acc.fees_paid, acc.traded_quote});
            });
            return to_numpy(std::move(out));
          },
          py::arg("book"), "Every open account of a book as a numpy array of ACCOUNT_DTYPE.")
      .def(
          "account",
          [get](Self& self, BookId book, AgentId agent) -> py::object {
            Exchange& ex = get(self);
            const Account* acc = ex.account(book, agent);
            if (!acc) return py::none();
            py::dict d;
            d["base_free"] = acc->base.free;
            d["base_reserved"] = acc->base.reserved;
            d["base_total"] = acc->base.total();
            d["quote_free"] = acc->quote.free;
            d["quote_reserved"] = acc->quote.reserved;
            d["quote_total"] = acc->quote.total();
            d["open_orders"] = acc->open_orders;
            d["fees_paid"] = acc->fees_paid;
            d["traded_quote"] = acc->traded_quote;
            d["window_volume"] = ex.window_volume(book, agent);
            d["fee_tier"] = ex.fee_tier(book, agent);
            d["agent_class"] = acc->agent_class;
            return d;
          },
          py::arg("book"), py::arg("agent"), "The agent's account on a book as a dict, or None.")
      .def(
          "open_orders",
          [get](Self& self, BookId book, AgentId agent) {
            Exchange& ex = get(self);
            if (book >= ex.num_books()) throw py::index_error("unknown book " + std::to_string(book));
            std::vector<OrderRecord> out;
            const OrderBook& b = ex.book(book);
            for (Side s : {Side::Buy, Side::Sell})
              for (std::size_t i = 0; i < b.level_count(s); ++i)
                b.for_each_order_at(s, i, [&](const RestingOrder& o) {
                  if (o.agent == agent)
                    out.push_back(OrderRecord{o.id, o.price_ticks, o.qty_lots, static_cast<std::uint32_t>(i),
                                              static_cast<std::uint8_t>(s), {0, 0, 0}});
                });
            return to_numpy(std::move(out));
          },
          py::arg("book"), py::arg("agent"))
      .def(
          "miner_orders",
          [get](Self& self, BookId book, AgentId agents) {
            Exchange& ex = get(self);
            if (book >= ex.num_books()) throw py::index_error("unknown book " + std::to_string(book));
            std::vector<std::pair<AgentId, OrderRecord>> found;
            const OrderBook& b = ex.book(book);
            for (Side s : {Side::Buy, Side::Sell})
              for (std::size_t i = 0; i < b.level_count(s); ++i)
                b.for_each_order_at(s, i, [&](const RestingOrder& o) {
                  if (o.agent < agents)
                    found.emplace_back(o.agent,
                                       OrderRecord{o.id, o.price_ticks, o.qty_lots, static_cast<std::uint32_t>(i),
                                                   static_cast<std::uint8_t>(s), {0, 0, 0}});
                });
            std::stable_sort(found.begin(), found.end(),
                             [](const auto& x, const auto& y) { return x.first < y.first; });
            std::vector<AgentId> owners;
            std::vector<OrderRecord> orders;
            owners.reserve(found.size());
            orders.reserve(found.size());
            for (const auto& [a, o] : found) {
              owners.push_back(a);
              orders.push_back(o);
            }
            return py::make_tuple(to_numpy(std::move(owners)), to_numpy(std::move(orders)));
          },
          py::arg("book"), py::arg("agents"),
          "The open orders of every agent below `agents` in one scan of the book: (their agents, "
          "ORDER_DTYPE records), grouped by agent in increasing order; within an agent, as open_orders "
          "lists them.")
      .def(
          "miner_accounts",
          [get](Self& self, AgentId agents, std::size_t threads) {
            Exchange& ex = get(self);
            const std::size_t books = ex.num_books(), n = static_cast<std::size_t>(agents);
            std::vector<AccountRecord> records(books * n, AccountRecord{});
            std::vector<std::int32_t> tiers(books * n, -1);
            std::vector<Quote> volumes(books * n, 0);
            struct Found {  // the open orders of a run of books, in book order
              std::vector<std::uint32_t> books, owners;
              std::vector<OrderRecord> orders;
            };
            // one run of books per thread: each book is its own shard (as in a step), and each
            // thread writes its own books' cells and its own Found
            const auto collect = [&](BookId first, BookId last, Found& out) {
              std::vector<std::pair<AgentId, OrderRecord>> found;
              for (BookId b = first; b < last; ++b) {
                for (AgentId a = 0; a < agents; ++a) {
                  const Account* acc = ex.account(b, a);
                  if (!acc) continue;
                  const std::size_t at = b * n + a;
                  records[at] = AccountRecord{a, acc->open_orders, acc->base.free, acc->base.reserved,
                                              acc->quote.free, acc->quote.reserved, acc->fees_paid, acc->traded_quote};
                  volumes[at] = ex.window_volume(b, a);
                  tiers[at] = static_cast<std::int32_t>(ex.fee_tier(b, a));
                }
                found.clear();
                const OrderBook& book = ex.book(b);
                for (Side s : {Side::Buy, Side::Sell})
                  for (std::size_t i = 0; i < book.level_count(s); ++i)
                    book.for_each_order_at(s, i, [&](const RestingOrder& o) {
                      if (o.agent < agents)
                        found.emplace_back(o.agent, OrderRecord{o.id, o.price_ticks, o.qty_lots,
                                                                static_cast<std::uint32_t>(i),
                                                                static_cast<std::uint8_t>(s), {0, 0, 0}});
                    });
                std::stable_sort(found.begin(), found.end(),
                                 [](const auto& x, const auto& y) { return x.first < y.first; });
                for (const auto& [a, o] : found) {
                  out.books.push_back(b);
                  out.owners.push_back(a);
                  out.orders.push_back(o);
                }
              }
            };
            if (threads == 0)  // automatic: a thread per 8 books, at most 4 and the machine's cores
              threads = std::min<std::size_t>({std::thread::hardware_concurrency(), books / 8, 4});
            threads = std::clamp<std::size_t>(threads, 1, std::max<std::size_t>(books, 1));
            std::vector<Found> parts(threads);
            {
              py::gil_scoped_release free;
              std::vector<std::thread> pool;
              std::exception_ptr error;
              std::mutex lock;
              for (std::size_t t = 1; t < threads; ++t)
                pool.emplace_back([&, t] {
                  try {
                    collect(static_cast<BookId>(books * t / threads), static_cast<BookId>(books * (t + 1) / threads),
                            parts[t]);
                  } catch (...) {
                    std::lock_guard<std::mutex> held(lock);
                    error = std::current_exception();
                  }
                });
              try {
                collect(0, static_cast<BookId>(books / threads), parts[0]);
              } catch (...) {
                std::lock_guard<std::mutex> held(lock);
                error = std::current_exception();
              }
              for (auto& thread : pool) thread.join();
              if (error) std::rethrow_exception(error);
            }
            std::vector<std::uint32_t> order_books, owners;
            std::vector<OrderRecord> orders;
            for (Found& part : parts) {
              order_books.insert(order_books.end(), part.books.begin(), part.books.end());
              owners.insert(owners.end(), part.owners.begin(), part.owners.end());
              orders.insert(orders.end(), part.orders.begin(), part.orders.end());
            }
            const auto grid = [&](auto&& v) {
              return to_numpy(std::move(v)).attr("reshape")(static_cast<py::ssize_t>(books),
                                                            static_cast<py::ssize_t>(n));
            };
            return py::make_tuple(grid(std::move(records)), grid(std::move(tiers)), grid(std::move(volumes)),
                                  to_numpy(std::move(order_books)), to_numpy(std::move(owners)),
                                  to_numpy(std::move(orders)));
          },
          py::arg("agents"), py::arg("threads") = 0,
          "Every account of the agents below `agents` on every book, in one call: (accounts: ACCOUNT_DTYPE\n"
          "(books, agents), zero without an account; fee tiers: int32 (books, agents), -1 without an\n"
          "account; window volumes: int64 (books, agents); then their open orders: books (uint32),\n"
          "agents (uint32) and ORDER_DTYPE records, grouped by book, then agent, in increasing order;\n"
          "within an agent, as open_orders lists them). The books are read on `threads` threads (0: one\n"
          "per 8 books, at most 4 and the machine's cores), without the GIL; the result is the same.")
      .def(
          "miner_fees",
          [get](Self& self, BookId book, AgentId agents) {
            Exchange& ex = get(self);
            if (book >= ex.num_books()) throw py::index_error("unknown book " + std::to_string(book));
            std::vector<std::int32_t> tiers(agents, -1);
            std::vector<Quote> volumes(agents, 0);
            for (AgentId a = 0; a < agents; ++a) {
              if (!ex.account(book, a)) continue;
              volumes[a] = ex.window_volume(book, a);
              tiers[a] = static_cast<std::int32_t>(ex.fee_tier(book, a));
            }
            return py::make_tuple(to_numpy(std::move(tiers)), to_numpy(std::move(volumes)));
          },
          py::arg("book"), py::arg("agents"),
          "The fee tier (int32; -1 without an account) and rolling window volume (int64 quote units) "
          "of every agent below `agents` on a book, as `account` gives them one at a time.")
      .def("fees_collected", [get](Self& self, BookId b) { return get(self).fees_collected(b); }, py::arg("book"))
      .def("supply_base", [get](Self& self, BookId b) { return get(self).supply_base(b); }, py::arg("book"))
      .def("supply_quote", [get](Self& self, BookId b) { return get(self).supply_quote(b); }, py::arg("book"));
}

}  // namespace taosim::bindings
