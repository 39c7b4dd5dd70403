"""The largest messages the protocol allows, derived from the market's size.

Both sides bound what they read *before* reading it: a miner refuses a state body larger than
``max_state_bytes(books)`` and a validator a reply body larger than ``max_reply_bytes(books)``. The
validator never sends more than these limits allow: it lists at most ``MAX_EVENTS_PER_BOOK``
events per book in a state (the newest), ``MAX_LEVEL_ORDERS`` orders per detailed level,
``MAX_ACCOUNT_ORDERS`` open orders per account (the oldest), ``MAX_NOTICES`` notices, each
``detail`` at most ``MAX_DETAIL_CHARS`` characters, and ``MAX_FEE_TIERS`` fee tiers. A miner's
reply holds at most ``books x max_instructions_per_book`` instructions: no more can be kept.

The byte bounds add up the largest MessagePack encoding of every part (each integer at its widest,
9 bytes; each float 9 bytes; each string at 4 bytes per character), so an encoded message that
respects the count limits always fits; ``tests/test_protocol_limits.py`` builds such worst-case
messages and checks it.
"""

from __future__ import annotations

from taos.protocol.events import RECORD_SIZE
from taos.protocol.levels import LEVEL_SIZE, ORDER_SIZE
from taos.protocol.state import DETAILED_LEVELS, LEVELS

MAX_EVENTS_PER_BOOK = 8_192
"""L3 events listed per book in one state; older ones of a busier interval are left out (and
counted in ``BookState.events_dropped``)."""
MAX_LEVEL_ORDERS = 100
"""Orders listed per detailed level (the first in time priority)."""
MAX_ACCOUNT_ORDERS = 1_000
"""Open orders listed per account (the oldest first); ``Account.orders_total`` counts them all."""
MAX_NOTICES = 1_000
"""Notices in one state; beyond, the last one says how many were left out."""
MAX_DETAIL_CHARS = 300
"""Characters of a notice's ``detail``."""
MAX_FEE_TIERS = 32
"""Fee tiers of a simulation."""
MAX_ID_CHARS = 64
"""Characters of a ``simulation_id``."""
MAX_BOOKS = 10_000
"""Books of one simulation on the wire (a state lists every book)."""
PER_BOOK_INSTRUCTIONS = 20
"""The default per-book cap of instructions in one reply (``SimulationInfo.max_instructions_per_book``)."""

_INT = 9  # the widest MessagePack integer or float
_HEADER = 5  # the widest array, map, str or bin header
_KEY = 1 + 32  # a map key: a short str header and at most 32 characters (our field names are shorter)

_LEVELS_BYTES = 2 * (_HEADER + LEVELS * LEVEL_SIZE)
_LEVEL_ORDERS_BYTES = 2 * (_HEADER + DETAILED_LEVELS * MAX_LEVEL_ORDERS * ORDER_SIZE)
_EVENTS_BYTES = _HEADER + MAX_EVENTS_PER_BOOK * RECORD_SIZE
_BOOK_BYTES = _HEADER + 7 * (_KEY + _INT) + _LEVELS_BYTES + _LEVEL_ORDERS_BYTES + _EVENTS_BYTES
"""A ``BookState``: its map, seven scalar fields at their widest, its record strings."""
_OPEN_ORDER_BYTES = _HEADER + 7 * _INT
_BALANCE_BYTES = _HEADER + 2 * _INT
_ACCOUNT_BYTES = (
    _HEADER + 8 * (_KEY + _INT) + 2 * _BALANCE_BYTES + _HEADER + MAX_ACCOUNT_ORDERS * _OPEN_ORDER_BYTES
)
_CAPITAL_BYTES = _HEADER + 2 * _INT
_NOTICE_BYTES = _HEADER + 12 * _INT + _HEADER + 4 * MAX_DETAIL_CHARS
_SIMULATION_BYTES = (
    _HEADER
    + 12 * (_KEY + _INT)
    + _HEADER
    + 4 * MAX_ID_CHARS
    + _HEADER
    + MAX_FEE_TIERS * (_HEADER + 3 * (_KEY + _INT))
)
_STATE_FIXED = _HEADER + 8 * (_KEY + _INT) + 3 * _HEADER + _SIMULATION_BYTES + MAX_NOTICES * _NOTICE_BYTES

# One instruction at its widest: a PlaceLimit map with its 11 fields present (every key of an
# instruction has at most 15 characters).
_INSTRUCTION_BYTES = _HEADER + 11 * (1 + 15 + _INT)


def _books(books: int) -> int:
    if isinstance(books, bool) or not isinstance(books, int) or not 1 <= books <= MAX_BOOKS:
        raise ValueError(f"books must be an integer in [1, {MAX_BOOKS}], got {books!r}")
    return books


def max_state_bytes(books: int) -> int:
    """The largest encoded ``MarketState`` of a simulation of ``books`` books."""
    per_book = _BOOK_BYTES + _ACCOUNT_BYTES + _CAPITAL_BYTES
    return _STATE_FIXED + _books(books) * per_book


def max_reply_instructions(books: int, per_book: int = PER_BOOK_INSTRUCTIONS) -> int:
    """Instructions a reply may hold: all that could be kept (``per_book`` on every book)."""
    if isinstance(per_book, bool) or not isinstance(per_book, int) or per_book < 0:
        raise ValueError(f"per_book must be an integer >= 0, got {per_book!r}")
    return _books(books) * per_book


def max_reply_bytes(books: int, per_book: int = PER_BOOK_INSTRUCTIONS) -> int:
    """The largest encoded ``Reply`` of ``max_reply_instructions(books, per_book)`` instructions."""
    return (
        _HEADER + 2 * (_KEY + _INT) + _HEADER + max_reply_instructions(books, per_book) * _INSTRUCTION_BYTES
    )
