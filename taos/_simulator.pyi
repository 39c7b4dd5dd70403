"""Types of the C++ extension (``simulator/bindings``). Checked against the built module by
``tests/test_stubs.py`` (``mypy.stubtest``). Structured arrays are ``numpy.ndarray`` of the named
dtype (``EVENT_DTYPE`` and so on)."""

import enum
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

ACCOUNT_DTYPE: np.dtype[np.void]
EVENT_DTYPE: np.dtype[np.void]
INSTRUCTION_DTYPE: np.dtype[np.void]
LEVEL_DTYPE: np.dtype[np.void]
ORDER_DTYPE: np.dtype[np.void]
MAX_NOTIONAL: int
MAX_PRICE_TICKS: int
MAX_QTY_LOTS: int
RATE_SCALE: int
REPLY_INSTRUCTION_DTYPE: np.dtype[np.void]

_Records = NDArray[np.void]  # a structured array of one of the dtypes above

class Side(enum.IntEnum):
    BUY = 1
    SELL = 2

class TimeInForce(enum.IntEnum):
    GTC = 1
    GTT = 2
    IOC = 3
    FOK = 4

class Stp(enum.IntEnum):
    NONE = 0
    CANCEL_OLDEST = 1
    CANCEL_NEWEST = 2
    CANCEL_BOTH = 3
    DECREMENT_AND_CANCEL = 4

class Currency(enum.IntEnum):
    BASE = 1
    QUOTE = 2

class EventKind(enum.IntEnum):
    ORDER_PLACED = 1
    ORDER_REJECTED = 2
    TRADE = 3
    ORDER_CANCELLED = 4
    CANCEL_REJECTED = 5
    ACCOUNT_RESET = 6

class CancelReason(enum.IntEnum):
    REQUESTED = 0
    EXPIRED = 1
    IOC_REST = 2
    STP = 3
    RESET = 4
    MARKET_REST = 5
    INSUFFICIENT_FUNDS = 6

class RejectReason(enum.IntEnum):
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

class InstructionKind(enum.IntEnum):
    PLACE_LIMIT = 1
    PLACE_MARKET = 2
    CANCEL = 3
    RESET_AGENT = 4

class CheckpointError(ValueError): ...

class FeeTier:
    def __init__(self, volume_quote: int, maker_ppb: int, taker_ppb: int) -> None: ...
    @property
    def maker_ppb(self) -> int: ...
    @property
    def taker_ppb(self) -> int: ...
    @property
    def volume_quote(self) -> int: ...

class AgentClass:
    def __init__(self, name: str, fee_tiers: Sequence[FeeTier] = ..., may_self_trade: bool = ...) -> None: ...
    @property
    def fee_tiers(self) -> list[FeeTier]: ...
    @property
    def may_self_trade(self) -> bool: ...
    @property
    def name(self) -> str: ...
    @property
    def reserve_rate_ppb(self) -> int: ...

class FundamentalConfig:
    intensity_jump_power: float
    intensity_sigma: float
    intensity_time_s: float
    jump_rate: float
    jump_sigma: float
    mu_per_day: float
    replay_price_ticks: list[float]
    replay_ts_ns: list[int]
    sigma_per_sqrt_day: float
    start_price_ticks: float
    update_s: float
    def __init__(self) -> None: ...

class PopulationConfig:
    base_lots: int
    count: int
    latency_max_ns: int
    latency_min_ns: int
    model: str
    params: list[tuple[str, float]]
    quote: int
    def __init__(
        self,
        model: str,
        count: int,
        base_lots: int,
        quote: int,
        params: Sequence[tuple[str, float]] = ...,
        latency_min_ns: int = ...,
        latency_max_ns: int = ...,
    ) -> None: ...

class SimulationConfig:
    background_fee_tiers: list[FeeTier]
    books: int
    first_book: int
    fundamental: FundamentalConfig
    miner_base_lots: int
    miner_fee_tiers: list[FeeTier]
    miner_quote: int
    miner_slots: int
    populations: list[PopulationConfig]
    seed: int
    signal: FundamentalConfig
    threads: int
    volume_bucket_ns: int
    volume_window_buckets: int
    def __init__(self) -> None: ...

class BookLevels:
    """One book's view after a step: ``bids``/``asks`` LEVEL_DTYPE records (best first) and
    ``bid_orders``/``ask_orders`` ORDER_DTYPE records (the orders of the first levels)."""

    def __init__(
        self, bids: _Records, asks: _Records, bid_orders: _Records, ask_orders: _Records
    ) -> None: ...
    @property
    def bids(self) -> _Records: ...
    @property
    def asks(self) -> _Records: ...
    @property
    def bid_orders(self) -> _Records: ...
    @property
    def ask_orders(self) -> _Records: ...
    def __getstate__(self) -> tuple[_Records, _Records, _Records, _Records]: ...
    def __setstate__(self, state: tuple[_Records, _Records, _Records, _Records]) -> None: ...

class StepResult:
    """One step's output. ``books[b]`` is a :class:`BookLevels`; ``accounts[b]`` is ACCOUNT_DTYPE
    records of the miner slots; ``events`` EVENT_DTYPE records."""

    def __init__(self, *args: Any, **kwargs: Any) -> None: ...
    def notices(self, miner: int) -> _Records: ...
    def notice_index(self) -> tuple[NDArray[np.uint32], NDArray[np.uint32]]: ...
    @property
    def accounts(self) -> list[_Records]: ...
    @property
    def books(self) -> list[BookLevels]: ...
    @property
    def events(self) -> _Records: ...
    @property
    def miner_slots(self) -> int: ...
    @property
    def time_ns(self) -> int: ...

class Simulation:
    def __init__(self, config: SimulationConfig) -> None: ...
    def account(self, book: int, agent: int) -> dict[str, int] | None: ...
    def accounts(self, book: int) -> _Records: ...
    def best(self, book: int) -> tuple[int, int]: ...
    def fees_collected(self, book: int) -> int: ...
    def fundamental_ticks(self, book: int) -> float: ...
    def levels(self, book: int, depth: int = ..., detail_depth: int = ...) -> BookLevels: ...
    def miner_accounts(
        self, agents: int, threads: int = 0
    ) -> tuple[
        _Records, NDArray[np.int32], NDArray[np.int64], NDArray[np.uint32], NDArray[np.uint32], _Records
    ]: ...
    def miner_fees(self, book: int, agents: int) -> tuple[NDArray[np.int32], NDArray[np.int64]]: ...
    def miner_orders(self, book: int, agents: int) -> tuple[NDArray[np.uint32], _Records]: ...
    def open_orders(self, book: int, agent: int) -> _Records: ...
    @staticmethod
    def restore(config: SimulationConfig, state: bytes) -> Simulation: ...
    def save_state(self) -> bytes: ...
    def signal_price(self, book: int) -> float: ...
    def step(
        self, until_ns: int, instructions: _Records | None = ..., depth: int = ..., detail_depth: int = ...
    ) -> StepResult: ...
    def supply_base(self, book: int) -> int: ...
    def supply_quote(self, book: int) -> int: ...
    def take_events(self) -> _Records: ...
    @property
    def first_background_agent(self) -> int: ...
    @property
    def num_books(self) -> int: ...
    @property
    def threads(self) -> int: ...
    @property
    def time_ns(self) -> int: ...

class Exchange:
    def __init__(
        self,
        books: int,
        agent_classes: Sequence[AgentClass],
        volume_window_buckets: int = ...,
        volume_bucket_ns: int = ...,
    ) -> None: ...
    def account(self, book: int, agent: int) -> dict[str, int] | None: ...
    def accounts(self, book: int) -> _Records: ...
    def advance_to(self, ts_ns: int) -> None: ...
    def best(self, book: int) -> tuple[int, int]: ...
    def cancel(
        self,
        book: int,
        agent: int,
        order_id: int,
        qty_lots: int = ...,
        client_order_id: int = ...,
        ts_ns: int = ...,
    ) -> None: ...
    def fees_collected(self, book: int) -> int: ...
    def levels(self, book: int, depth: int = ..., detail_depth: int = ...) -> BookLevels: ...
    def miner_accounts(
        self, agents: int, threads: int = 0
    ) -> tuple[
        _Records, NDArray[np.int32], NDArray[np.int64], NDArray[np.uint32], NDArray[np.uint32], _Records
    ]: ...
    def miner_fees(self, book: int, agents: int) -> tuple[NDArray[np.int32], NDArray[np.int64]]: ...
    def miner_orders(self, book: int, agents: int) -> tuple[NDArray[np.uint32], _Records]: ...
    def open_account(self, book: int, agent: int, agent_class: int, base_lots: int, quote: int) -> None: ...
    def open_orders(self, book: int, agent: int) -> _Records: ...
    def reset_agent(self, agent: int, ts_ns: int = ...) -> int: ...
    def submit_batch(self, instructions: _Records) -> None: ...
    def submit_limit(
        self,
        book: int,
        agent: int,
        side: int,
        price_ticks: int,
        qty_lots: int,
        tif: int = ...,
        post_only: bool = ...,
        stp: int = ...,
        expiry_ns: int = ...,
        client_order_id: int = ...,
        ts_ns: int = ...,
    ) -> None: ...
    def submit_market(
        self,
        book: int,
        agent: int,
        side: int,
        qty_lots: int = ...,
        notional_quote: int = ...,
        currency: int = ...,
        stp: int = ...,
        client_order_id: int = ...,
        ts_ns: int = ...,
    ) -> None: ...
    def supply_base(self, book: int) -> int: ...
    def supply_quote(self, book: int) -> int: ...
    def take_events(self) -> _Records: ...
    def time(self, book: int) -> int: ...
    @property
    def num_books(self) -> int: ...

def agent_models() -> list[str]: ...
def default_miner_fee_tiers(quote_units_per_currency: int) -> list[FeeTier]: ...
def pack_records(
    n: int, fields: Sequence[tuple[object, ...]]
) -> tuple[NDArray[np.uint8], NDArray[np.int64]]: ...
def reply_columns(
    body: bytes, protocol_version: int, max_instructions: int
) -> tuple[int, _Records] | None: ...
def validate_agent_params(model: str, params: Sequence[tuple[str, float]]) -> None: ...
