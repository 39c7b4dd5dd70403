"""Hand-built protocol messages shared by the protocol, agent and miner tests."""

from taos.protocol import (
    PROTOCOL_VERSION,
    Account,
    AccountReset,
    Balance,
    BookState,
    CancelReason,
    Capital,
    Direction,
    FeeTier,
    Level,
    LevelOrder,
    MarketState,
    OpenOrder,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderPlaced,
    OrderRejected,
    OrderRemoved,
    RejectReason,
    ReplyRejected,
    Side,
    SimulationEnded,
    SimulationInfo,
    SimulationStarted,
    TargetAccepted,
    TimeInForce,
    Trade,
)

SECOND = 1_000_000_000


START = Capital(100.0, 30_000.0)


def simulation(books: int = 2, capital: Capital = START) -> SimulationInfo:
    return SimulationInfo(
        simulation_id="test-sim",
        books=books,
        tick_size=0.01,
        lot_size=0.0001,
        duration_ns=86_400 * SECOND,
        publish_interval_ns=5 * SECOND,
        capital=(capital,) * books,
        fee_tiers=(FeeTier(0.0, 0.005, 0.005), FeeTier(200_000.0, 0.0025, 0.003)),
    )


def book(index: int, mid_ticks: int = 30_000, depth: int = 21) -> BookState:
    """A book with ``depth`` levels each side around ``mid_ticks`` (tick 0.01)."""
    bids = tuple(
        Level(
            (mid_ticks - 1 - i) / 100,
            1.0 + i,
            tuple(LevelOrder(1000 * index + 10 * i + k, 0.5) for k in range(2)) if i < 5 else (),
        )
        for i in range(depth)
    )
    asks = tuple(
        Level(
            (mid_ticks + 1 + i) / 100,
            2.0 + i,
            tuple(LevelOrder(5000 * index + 10 * i + k, 1.0) for k in range(2)) if i < 5 else (),
        )
        for i in range(depth)
    )
    events = (
        OrderPlaced(1, 10, 77, Side.BUY, (mid_ticks - 1) / 100, 0.5),
        OrderPlaced(2, 11, 78, Side.SELL, None, 0.25),
        Trade(3, 11, 78, 55, Side.SELL, (mid_ticks - 1) / 100, 0.25),
        OrderRemoved(4, 12, 79, Side.BUY, 0.5, 0.0, CancelReason.EXPIRED),
    )
    return BookState.build(index, bids, asks, events)


def accounts(books: int = 2) -> tuple[Account, ...]:
    return tuple(
        Account(
            b,
            Balance(99.5, 0.5),
            Balance(29_000.0, 1_000.0),
            (
                OpenOrder(
                    42, Side.SELL, 300.5, 0.5, TimeInForce.GTT, client_order_id=7, expiry_ns=60 * SECOND
                ),
            ),
            fee_tier=0,
            volume=1234.5,
        )
        for b in range(books)
    )


def all_notices() -> tuple:
    return (
        SimulationStarted(0, "test-sim"),
        OrderAccepted(0, 5, 42, Side.SELL, 300.5, 0.5, client_order_id=7, time_in_force=TimeInForce.GTT),
        OrderRejected(1, 6, RejectReason.INSUFFICIENT_QUOTE, client_order_id=8, detail="not enough quote"),
        OrderFilled(0, 7, 42, Side.SELL, 300.5, 0.25, 0.375, True, 0.25, client_order_id=7),
        OrderCancelled(0, 8, 42, 0.25, 0.0, CancelReason.REQUESTED, client_order_id=7),
        AccountReset(1, 9),
        ReplyRejected(10, "reply did not decode"),
        TargetAccepted(1, 10, Direction.SHORT, 2.0, -0.75, client_order_id=9),
        SimulationEnded(11, "test-sim"),
    )


def state(timestamp_ns: int = 60 * SECOND, books: int = 2, notices: tuple = ()) -> MarketState:
    return MarketState(
        PROTOCOL_VERSION,
        timestamp_ns,
        simulation(books),
        tuple(book(b) for b in range(books)),
        accounts(books),
        notices,
    )
