// The engine's enums as real Python enums (enum.IntEnum). Values must equal
// those of taos.protocol.enums; tests/test_enum_parity.py checks every member.
#include <pybind11/native_enum.h>

#include "register.hpp"

namespace taosim::bindings {

void register_enums(py::module_& m) {
  py::native_enum<Side>(m, "Side", "enum.IntEnum").value("BUY", Side::Buy).value("SELL", Side::Sell).finalize();
  py::native_enum<TimeInForce>(m, "TimeInForce", "enum.IntEnum")
      .value("GTC", TimeInForce::GTC)
      .value("GTT", TimeInForce::GTT)
      .value("IOC", TimeInForce::IOC)
      .value("FOK", TimeInForce::FOK)
      .finalize();
  py::native_enum<Stp>(m, "Stp", "enum.IntEnum")
      .value("NONE", Stp::None)
      .value("CANCEL_OLDEST", Stp::CancelOldest)
      .value("CANCEL_NEWEST", Stp::CancelNewest)
      .value("CANCEL_BOTH", Stp::CancelBoth)
      .value("DECREMENT_AND_CANCEL", Stp::DecrementAndCancel)
      .finalize();
  py::native_enum<Currency>(m, "Currency", "enum.IntEnum")
      .value("BASE", Currency::Base)
      .value("QUOTE", Currency::Quote)
      .finalize();
  py::native_enum<InstructionKind>(m, "InstructionKind", "enum.IntEnum")
      .value("PLACE_LIMIT", InstructionKind::PlaceLimit)
      .value("PLACE_MARKET", InstructionKind::PlaceMarket)
      .value("CANCEL", InstructionKind::Cancel)
      .value("RESET_AGENT", InstructionKind::ResetAgent)
      .finalize();
  py::native_enum<EventKind>(m, "EventKind", "enum.IntEnum")
      .value("ORDER_PLACED", EventKind::OrderPlaced)
      .value("ORDER_REJECTED", EventKind::OrderRejected)
      .value("TRADE", EventKind::Trade)
      .value("ORDER_CANCELLED", EventKind::OrderCancelled)
      .value("CANCEL_REJECTED", EventKind::CancelRejected)
      .value("ACCOUNT_RESET", EventKind::AccountReset)
      .finalize();
  py::native_enum<RejectReason>(m, "RejectReason", "enum.IntEnum")
      .value("NONE", RejectReason::None)
      .value("UNKNOWN_BOOK", RejectReason::UnknownBook)
      .value("UNKNOWN_AGENT", RejectReason::UnknownAgent)
      .value("INVALID_SIDE", RejectReason::InvalidSide)
      .value("INVALID_PRICE", RejectReason::InvalidPrice)
      .value("INVALID_QUANTITY", RejectReason::InvalidQuantity)
      .value("INVALID_TIME_IN_FORCE", RejectReason::InvalidTimeInForce)
      .value("INVALID_EXPIRY", RejectReason::InvalidExpiry)
      .value("INVALID_STP", RejectReason::InvalidStp)
      .value("INVALID_CURRENCY", RejectReason::InvalidCurrency)
      .value("POST_ONLY_NOT_ALLOWED", RejectReason::PostOnlyNotAllowed)
      .value("WOULD_TAKE_LIQUIDITY", RejectReason::WouldTakeLiquidity)
      .value("NO_LIQUIDITY", RejectReason::NoLiquidity)
      .value("FOK_NOT_FILLABLE", RejectReason::FokNotFillable)
      .value("INSUFFICIENT_BASE", RejectReason::InsufficientBase)
      .value("INSUFFICIENT_QUOTE", RejectReason::InsufficientQuote)
      .value("NOTIONAL_TOO_LARGE", RejectReason::NotionalTooLarge)
      .value("UNKNOWN_ORDER", RejectReason::UnknownOrder)
      .value("NOT_OWNER", RejectReason::NotOwner)
      .value("INVALID_INSTRUCTION", RejectReason::InvalidInstruction)
      .value("BOOK_FULL", RejectReason::BookFull)
      .value("MARKET_CLOSED", RejectReason::MarketClosed)
      .finalize();
  py::native_enum<CancelReason>(m, "CancelReason", "enum.IntEnum")
      .value("REQUESTED", CancelReason::Requested)
      .value("EXPIRED", CancelReason::Expired)
      .value("IOC_REST", CancelReason::IocRest)
      .value("STP", CancelReason::Stp)
      .value("RESET", CancelReason::Reset)
      .value("MARKET_REST", CancelReason::MarketRest)
      .value("INSUFFICIENT_FUNDS", CancelReason::InsufficientFunds)
      .finalize();
}

}  // namespace taosim::bindings
