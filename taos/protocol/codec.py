"""MessagePack encoding of states and replies, and the one error a bad body raises.

Decoding never runs anything from the payload: msgspec builds the declared
structs and nothing else. Every failure (too large, not MessagePack, wrong
shape or types, wrong protocol version) raises ``ProtocolError`` with a message
that says what is wrong.

The books of a state are the same for every miner; ``encode_shared`` encodes
them once per step and ``encode_state_for`` splices those bytes into each
miner's request, giving the same bytes as ``encode_state`` of the full state.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import msgspec

from taos.protocol.events import RECORD_SIZE, check_records
from taos.protocol.instructions import MAX_INSTRUCTIONS, BookEvents, Instruction, Reply
from taos.protocol.levels import check_side
from taos.protocol.notices import Notice
from taos.protocol.state import Account, BookState, MarketState, SimulationInfo

PROTOCOL_VERSION = 3
DEFAULT_MAX_BYTES = 16 * 1024 * 1024
CONTENT_TYPE = "application/msgpack"
STATE_PATH = "/state"
"""The path a miner serves states on (HTTP POST)."""


class ProtocolError(ValueError):
    """A body that cannot be accepted: too large, malformed, or of another protocol version."""


class _Envelope(msgspec.Struct):
    protocol_version: int | None = None


class _StateWire(msgspec.Struct, frozen=True):
    """MarketState with its books already encoded: same fields, same order."""

    protocol_version: int
    timestamp_ns: int
    simulation: SimulationInfo
    books: msgspec.Raw
    accounts: tuple[Account, ...]
    notices: tuple[Notice, ...]


class _OwnWire(msgspec.Struct, frozen=True):
    """A miner's own part of a state (MarketState without its books), for a reader that has the
    step's shared part already (``StateDecoder.decode_parts``)."""

    protocol_version: int
    timestamp_ns: int
    simulation: SimulationInfo
    accounts: tuple[Account, ...]
    notices: tuple[Notice, ...]


@dataclass(frozen=True)
class SharedState:
    """The part of a step's state that every miner receives, encoded once (and compressed once,
    for the miners that take zstd bodies)."""

    timestamp_ns: int
    books: msgspec.Raw

    @functools.cached_property
    def zstd_books(self) -> bytes:
        """A zstd frame of the encoded books (``taos.protocol.compression``)."""
        from taos.protocol.compression import compress

        return compress(bytes(self.books))


@dataclass(frozen=True)
class StateRequest:
    """One miner's state as the validator hands it to a transport: the step's shared part (encoded
    once for all miners) and the miner's own part. ``body()`` is the ``MarketState`` body a remote
    miner receives (byte for byte ``encode_state`` of the full state); ``own()`` encodes only the own
    part, for a reader in this process that decodes the shared part once per step
    (``StateDecoder.decode_parts``)."""

    shared: SharedState
    simulation: SimulationInfo
    accounts: tuple[Account, ...] | msgspec.Raw = ()  # Raw: encoded already (a tuple of Account)
    notices: tuple[Notice, ...] | msgspec.Raw = ()  # Raw: encoded already (a tuple of Notice)

    def body(self, coding: str = "identity") -> bytes:
        """The body for a miner: ``identity`` (MessagePack) or ``zstd`` (frames that decompress to
        exactly the identity body: the miner's own parts around the step's books, compressed once
        for all miners; ``taos.protocol.compression``)."""
        if coding == "identity":
            return encode_state_for(self.shared, self.simulation, self.accounts, self.notices)
        from taos.protocol.compression import ZSTD, compress

        if coding != ZSTD:
            raise ValueError(f"unknown content coding {coding!r}")
        ts, sim = self.shared.timestamp_ns, self.simulation
        at, head, zstd_head = _head(ts, sim)
        # the fields before the books are every miner's: only the bytes after them are this miner's
        a = _encoder.encode(
            _StateWire(
                PROTOCOL_VERSION, ts, sim, msgspec.Raw(b"\xc0"), _parts(self.accounts), _parts(self.notices)
            )
        )
        if a[at] != 0xC0 or a[:at] != head:  # never: the books' place depends on those fields alone
            raise AssertionError("a state's bytes before its books differ between miners")
        return zstd_head + self.shared.zstd_books + compress(a[at + 1 :])

    def own(self) -> bytes:
        wire = _OwnWire(
            PROTOCOL_VERSION,
            self.shared.timestamp_ns,
            self.simulation,
            _parts(self.accounts),  # a Raw is written as it is
            _parts(self.notices),
        )
        return _encoder.encode(wire)


_encoder = msgspec.msgpack.Encoder()


@functools.lru_cache(maxsize=4)
def _head(timestamp_ns: int, simulation: SimulationInfo) -> tuple[int, bytes, bytes]:
    """Where the books start in a state body of this time and simulation, the bytes before them
    and their zstd frame: the same for every miner of a step (the fields before the books are
    the version, the time and the simulation). A body encoded with two one-byte placeholders for
    the books differs first where they start."""
    from taos.protocol.compression import compress

    a, b = (
        _encoder.encode(_StateWire(PROTOCOL_VERSION, timestamp_ns, simulation, msgspec.Raw(x), (), ()))
        for x in (b"\xc0", b"\xc2")
    )
    at = next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)
    return at, a[:at], compress(a[:at])


_state_decoder = msgspec.msgpack.Decoder(MarketState)
_reply_decoder = msgspec.msgpack.Decoder(Reply)
_envelope_decoder = msgspec.msgpack.Decoder(_Envelope)
_state_head_decoder = msgspec.msgpack.Decoder(_StateWire)
_books_decoder = msgspec.msgpack.Decoder(tuple[BookState, ...])
_own_decoder = msgspec.msgpack.Decoder(_OwnWire)


def encode_state(state: MarketState) -> bytes:
    return _encoder.encode(state)


def encode_shared(timestamp_ns: int, books: Sequence[BookState]) -> SharedState:
    return SharedState(timestamp_ns, msgspec.Raw(_encoder.encode(tuple(books))))


def encode_state_for(
    shared: SharedState,
    simulation: SimulationInfo,
    accounts: Iterable[Account] | msgspec.Raw = (),
    notices: Iterable[Notice] | msgspec.Raw = (),
) -> bytes:
    """One miner's request: the shared books plus its own simulation info,
    accounts and notices (objects, or their encoding as a ``msgspec.Raw``)."""
    wire = _StateWire(
        PROTOCOL_VERSION,
        shared.timestamp_ns,
        simulation,
        shared.books,
        _parts(accounts),  # a Raw is written as it is
        _parts(notices),
    )
    return _encoder.encode(wire)


def _parts(items: Iterable[Any] | msgspec.Raw) -> Any:
    """Accounts or notices as a wire struct holds them for encoding: a tuple, or the Raw encoding
    of one (msgspec writes a Raw's bytes as they are, so the body is the same)."""
    return items if isinstance(items, msgspec.Raw) else tuple(items)


class StateDecoder:
    """``decode_state`` that remembers the books of the last state it decoded: the states a
    validator sends its miners in one step share their books byte for byte, so a process that reads
    several of them (in-process agents) decodes the books once. The result equals
    ``decode_state(body)``; the books are reused only when their bytes are identical."""

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._raw: msgspec.Raw | None = None
        self._books: tuple[BookState, ...] = ()
        # the books of the last few SharedState objects (one per kind of book events asked for)
        self._shared: list[tuple[SharedState, tuple[BookState, ...]]] = []

    def decode(self, body: bytes) -> MarketState:
        try:
            head = _state_head_decoder.decode(body) if len(body) <= self.max_bytes else None
        except (msgspec.DecodeError, ValueError, TypeError, OverflowError, RecursionError):
            head = None
        if head is None or head.protocol_version != PROTOCOL_VERSION:
            return decode_state(body, max_bytes=self.max_bytes)  # the error, or a body of another shape
        raw = head.books  # a view of the body: compared without a copy
        if self._raw is None or raw != self._raw:
            try:
                books = _books_decoder.decode(head.books)
            except (msgspec.DecodeError, ValueError, TypeError, OverflowError, RecursionError):
                return decode_state(body, max_bytes=self.max_bytes)  # raises with the full path
            _check_books(books, "market state")
            self._raw, self._books = raw, books
        return MarketState(
            head.protocol_version,
            head.timestamp_ns,
            head.simulation,
            self._books,
            head.accounts,
            head.notices,
        )

    def decode_parts(self, shared: SharedState, own: bytes, *, check_books: bool = True) -> MarketState:
        """The state of ``shared`` (a step's books) and ``own`` (``StateRequest.own()``): what
        ``decode_state`` gives for the full body. The books of the same ``shared`` object are
        decoded once; the size cap applies to the whole state. ``check_books=False`` skips the
        checks of the books' record strings, for a reader in the process that packed them (there is
        no outside input to check; the own part is always checked)."""
        size = len(shared.books) + len(own)
        if size > self.max_bytes:
            raise ProtocolError(f"market state: body is {size} bytes, over the limit of {self.max_bytes}")
        books = next((b for s, b in self._shared if s is shared), None)
        if books is None:
            try:
                books = _books_decoder.decode(shared.books)
            except (msgspec.DecodeError, ValueError, TypeError, OverflowError, RecursionError) as e:
                raise ProtocolError(f"market state: malformed books: {e}") from None
            if check_books:
                _check_books(books, "market state")
            self._shared = [(shared, books), *self._shared[: len(BookEvents) - 1]]
        part = _decode(own, _own_decoder, "market state", self.max_bytes)
        return MarketState(
            part.protocol_version,
            part.timestamp_ns,
            part.simulation,
            books,
            part.accounts,
            part.notices,
        )


def encode_reply(instructions: Iterable[Instruction], book_events: BookEvents = BookEvents.ALL) -> bytes:
    """A reply of ``instructions`` that asks for ``book_events`` in the next states."""
    items = tuple(instructions)
    if len(items) > MAX_INSTRUCTIONS:
        raise ProtocolError(f"a reply holds at most {MAX_INSTRUCTIONS} instructions, got {len(items)}")
    return _encoder.encode(Reply(PROTOCOL_VERSION, items, BookEvents(book_events)))


def decode_state(body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> MarketState:
    """Decodes a validator's request; raises ProtocolError when it is not acceptable."""
    return _decode(body, _state_decoder, "market state", max_bytes)


def decode_reply(
    body: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, max_instructions: int = MAX_INSTRUCTIONS
) -> Reply:
    """Decodes a miner's reply; raises ProtocolError when it is not acceptable. A body over
    ``max_bytes`` is refused before decoding and a list of more than ``max_instructions``
    instructions as soon as its length is read (``taos.protocol.limits`` gives both for a market)."""
    if max_instructions >= MAX_INSTRUCTIONS:
        return _decode(body, _reply_decoder, "reply", max_bytes)
    try:
        capped = _decode(body, _capped_reply_decoder(max_instructions), "reply", max_bytes)
    except ProtocolError as e:
        if str(e).endswith(f"of length <= {max_instructions} - at `$.instructions`"):
            raise ProtocolError(
                f"reply: more than {max_instructions} instructions, the most that can be kept "
                "(books x max_instructions_per_book)"
            ) from None
        raise
    return Reply(capped.protocol_version, capped.instructions, capped.book_events)


@functools.lru_cache(maxsize=32)
def _capped_reply_decoder(max_instructions: int) -> msgspec.msgpack.Decoder[Any]:
    """A decoder of ``Reply``'s shape whose instruction list holds at most ``max_instructions``."""
    if max_instructions < 0:
        raise ValueError(f"max_instructions must be >= 0, got {max_instructions}")
    shape = msgspec.defstruct(
        "Reply",
        [
            ("protocol_version", int),
            (
                "instructions",
                Annotated[tuple[Instruction, ...], msgspec.Meta(max_length=max_instructions)],
                (),
            ),
            ("book_events", BookEvents, BookEvents.ALL),
        ],
        frozen=True,
    )
    return msgspec.msgpack.Decoder(shape)


_T = TypeVar("_T")


def _decode(body: bytes, decoder: msgspec.msgpack.Decoder[_T], what: str, max_bytes: int) -> _T:
    if not isinstance(body, bytes | bytearray | memoryview):
        raise ProtocolError(f"{what}: body must be bytes, got {type(body).__name__}")
    size = len(body)
    if size > max_bytes:
        raise ProtocolError(f"{what}: body is {size} bytes, over the limit of {max_bytes}")
    if size == 0:
        raise ProtocolError(f"{what}: body is empty")
    try:
        message = decoder.decode(body)
    except msgspec.DecodeError as e:
        _check_version(body, what)
        raise ProtocolError(f"{what}: malformed: {e}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as e:  # defensive: never leak others
        raise ProtocolError(f"{what}: malformed: {type(e).__name__}: {e}") from None
    version = getattr(message, "protocol_version", None)
    if version != PROTOCOL_VERSION:
        raise ProtocolError(_version_message(what, version))
    if isinstance(message, MarketState):
        _check_books(message.books, what)
    return message


def _check_books(books: Sequence[BookState], what: str) -> None:
    events = b"".join([b.event_records for b in books])  # the usual case: one check of all events
    lengths_ok = all(len(b.event_records) % RECORD_SIZE == 0 for b in books)
    events_ok = lengths_ok and check_records(events) is None
    for i, book in enumerate(books):
        field, problem = "bid_levels", check_side(book.bid_levels, book.bid_orders)
        if problem is None:
            field, problem = "ask_levels", check_side(book.ask_levels, book.ask_orders)
        if problem is None and not events_ok:
            field, problem = "event_records", check_records(book.event_records)
        if problem is not None:
            raise ProtocolError(f"{what}: malformed: {problem} - at `$.books[{i}].{field}`")


def _check_version(body: bytes, what: str) -> None:
    """After a failed decode: if the body is a map of another protocol version, say so."""
    try:
        envelope = _envelope_decoder.decode(body)
    except (msgspec.DecodeError, ValueError, TypeError, OverflowError, RecursionError):
        return
    version = envelope.protocol_version
    if version is None:
        raise ProtocolError(f"{what}: no protocol_version field")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(_version_message(what, version))


def _version_message(what: str, version: object) -> str:
    return f"{what}: protocol_version {version!r} is not supported (this side speaks {PROTOCOL_VERSION})"
