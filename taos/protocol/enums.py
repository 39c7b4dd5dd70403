"""The closed vocabulary of the engine, numbered once.

These values are the ones of ``simulator/include/taosim/types.hpp``;
``tests/test_enum_parity.py`` checks that every member matches the C++ enums
exposed by ``taos._simulator``. Never renumber a member or reuse a retired value.
"""

from enum import IntEnum


class Side(IntEnum):
    BUY = 1
    SELL = 2


class TimeInForce(IntEnum):
    GTC = 1  # good till cancelled
    GTT = 2  # good till time: cancelled by the exchange at its expiry
    IOC = 3  # immediate or cancel
    FOK = 4  # fill or kill


class Stp(IntEnum):
    """Self-trade prevention mode of an aggressing order."""

    NONE = 0  # background agents only
    CANCEL_OLDEST = 1
    CANCEL_NEWEST = 2
    CANCEL_BOTH = 3
    DECREMENT_AND_CANCEL = 4


class Currency(IntEnum):
    BASE = 1
    QUOTE = 2


class InstructionKind(IntEnum):
    PLACE_LIMIT = 1
    PLACE_MARKET = 2
    CANCEL = 3
    RESET_AGENT = 4


class EventKind(IntEnum):
    ORDER_PLACED = 1
    ORDER_REJECTED = 2
    TRADE = 3
    ORDER_CANCELLED = 4
    CANCEL_REJECTED = 5
    ACCOUNT_RESET = 6


class RejectReason(IntEnum):
    NONE = 0
    UNKNOWN_BOOK = 1
    UNKNOWN_AGENT = 2
    INVALID_SIDE = 3
    INVALID_PRICE = 4
    INVALID_QUANTITY = 5
    INVALID_TIME_IN_FORCE = 6
    INVALID_EXPIRY = 7
    INVALID_STP = 8
    INVALID_CURRENCY = 9
    POST_ONLY_NOT_ALLOWED = 10
    WOULD_TAKE_LIQUIDITY = 11
    NO_LIQUIDITY = 12
    FOK_NOT_FILLABLE = 13
    INSUFFICIENT_BASE = 14
    INSUFFICIENT_QUOTE = 15
    NOTIONAL_TOO_LARGE = 16
    UNKNOWN_ORDER = 17
    NOT_OWNER = 18
    INVALID_INSTRUCTION = 19
    BOOK_FULL = 20
    MARKET_CLOSED = 21


class CancelReason(IntEnum):
    REQUESTED = 0
    EXPIRED = 1
    IOC_REST = 2
    STP = 3
    RESET = 4
    MARKET_REST = 5
    INSUFFICIENT_FUNDS = 6
