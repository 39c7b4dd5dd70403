"""The contract a miner's trading agent implements.

Lifecycle, for one validator's stream of states::

    __init__(uid, params)            once, when the miner starts serving that validator
    self.validator = hotkey          set by the miner before the first state
    on_start(simulation)             before the first state, and whenever the simulation changes
    on_order_accepted(notice) ...    one hook call per notice of the state, in order
    on_state(state) -> instructions  every state (required)
    on_end()                         when the miner stops

``handle(state)`` runs the middle three; the miner calls it with a time budget.
The helpers (``self.limit`` ...) build instructions and raise ``ValueError``
for a combination the validator would reject.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar, TypeVar, cast

from taos.agents import helpers
from taos.protocol import (
    AccountReset,
    BookEvents,
    Cancel,
    Currency,
    Direction,
    Instruction,
    MarketState,
    Notice,
    OrderAccepted,
    OrderCancelled,
    OrderFilled,
    OrderRejected,
    PlaceLimit,
    PlaceMarket,
    ReplyRejected,
    Side,
    SimulationEnded,
    SimulationInfo,
    SimulationStarted,
    Stp,
    TargetAccepted,
    TargetPosition,
    TimeInForce,
)

Param = bool | int | float | str
_P = TypeVar("_P", bool, int, float, str)
_MISSING = object()


class Agent(ABC):
    """Base class of miner agents. Subclasses implement ``on_state``; every other
    hook does nothing by default."""

    shared_process: ClassVar[bool] = False
    """The miner runs each validator's instance in its own worker process. An agent whose instances
    share state through their process (a module-level store, as ``SignalAgent``) sets this to True:
    all its instances then run in one worker process, each call in a thread there."""

    book_events: ClassVar[BookEvents] = BookEvents.ALL
    """The books' public events this agent reads in ``state.books[b].events``: ``ALL`` (every L3
    event), ``TRADES`` (the trades only) or ``NONE`` (the levels alone). Every reply asks the
    validator for them (``Reply.book_events``); an agent that reads fewer gets smaller states,
    sooner (on the default market the events are most of a state's bytes)."""

    def __init__(self, uid: int, params: Mapping[str, Param] | None = None) -> None:
        self.uid = uid
        self.params: dict[str, Param] = dict(params or {})
        self.validator: str | None = None
        """The hotkey of the validator this instance serves, set by the miner when it assigns the
        instance (``"local"`` or the validator's hotkey in process); None until then."""
        self.simulation: SimulationInfo | None = None
        self.now_ns = 0
        self._params_read: set[str] = set()

    # --- lifecycle -------------------------------------------------------------------------------

    def on_start(self, simulation: SimulationInfo) -> None:
        """A (new) simulation: its books, tick and lot sizes, fees, own starting capital."""

    @abstractmethod
    def on_state(self, state: MarketState) -> Sequence[Instruction]:
        """The instructions to send for this state (may be empty)."""

    def on_end(self) -> None:
        """The miner is stopping."""

    # --- notices ---------------------------------------------------------------------------------

    def on_order_accepted(self, notice: OrderAccepted) -> None:
        """An own order got its order id (``notice.client_order_id`` tells which)."""

    def on_order_rejected(self, notice: OrderRejected) -> None:
        """An own placement or cancel was refused (``notice.reason``)."""

    def on_trade(self, notice: OrderFilled) -> None:
        """An own order was filled, in part or whole (price, quantity, fee)."""

    def on_order_cancelled(self, notice: OrderCancelled) -> None:
        """An own order was cancelled or reduced (``notice.reason``: requested, expired, ...)."""

    def on_reset(self, notice: AccountReset) -> None:
        """The account on ``notice.book`` was reset to the starting balances."""

    def on_simulation_start(self, notice: SimulationStarted) -> None:
        """A simulation started."""

    def on_simulation_end(self, notice: SimulationEnded) -> None:
        """A simulation ended."""

    def on_reply_rejected(self, notice: ReplyRejected) -> None:
        """The previous reply was dropped as a whole (``notice.detail`` says why)."""

    def on_target_accepted(self, notice: TargetAccepted) -> None:
        """The validator accepted a ``TargetPosition`` (``notice.client_order_id`` names it)."""

    # --- driving ---------------------------------------------------------------------------------

    def handle(self, state: MarketState) -> list[Instruction]:
        """Runs ``on_start`` if the simulation is new, each notice's hook, then ``on_state``."""
        if state.simulation != self.simulation:
            self.simulation = state.simulation
            self.on_start(state.simulation)
        self.now_ns = state.timestamp_ns
        for notice in state.notices:
            self.dispatch(notice)
        return list(self.on_state(state))

    def dispatch(self, notice: Notice) -> None:
        match notice:
            case OrderAccepted():
                self.on_order_accepted(notice)
            case OrderRejected():
                self.on_order_rejected(notice)
            case OrderFilled():
                self.on_trade(notice)
            case OrderCancelled():
                self.on_order_cancelled(notice)
            case AccountReset():
                self.on_reset(notice)
            case SimulationStarted():
                self.on_simulation_start(notice)
            case SimulationEnded():
                self.on_simulation_end(notice)
            case ReplyRejected():
                self.on_reply_rejected(notice)
            case TargetAccepted():
                self.on_target_accepted(notice)
            case _:
                raise TypeError(f"not a notice: {type(notice).__name__}")

    # --- parameters ------------------------------------------------------------------------------

    def param(self, name: str, default: _P) -> _P:
        """The parameter ``name`` with the type of ``default`` (an int is taken for a
        float); ``ValueError`` for a value of another type."""
        self._params_read.add(name)
        value = self.params.get(name, _MISSING)
        if value is _MISSING:
            return default
        assert isinstance(value, bool | int | float | str)
        if isinstance(default, bool) or isinstance(value, bool):
            ok = isinstance(default, bool) and isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, int | float)
            value = float(value) if ok else value
        else:
            ok = type(value) is type(default)
        if not ok:
            raise ValueError(f"parameter {name} must be {type(default).__name__}, got {value!r}")
        return cast(_P, value)

    def reject_unknown_params(self) -> None:
        """Raises ``ValueError`` naming the parameters that no ``param()`` call read."""
        unknown = sorted(set(self.params) - self._params_read)
        if unknown:
            raise ValueError(f"unknown parameter(s): {', '.join(unknown)}")

    # --- instruction helpers ---------------------------------------------------------------------

    def limit(
        self,
        book: int,
        side: Side,
        price: float,
        quantity: float,
        *,
        time_in_force: TimeInForce = TimeInForce.GTC,
        expiry_ns: int | None = None,
        post_only: bool = False,
        stp: Stp = Stp.CANCEL_OLDEST,
        client_order_id: int | None = None,
        delay_ns: int = 0,
    ) -> PlaceLimit:
        return helpers.limit(
            book,
            side,
            price,
            quantity,
            time_in_force=time_in_force,
            expiry_ns=expiry_ns,
            post_only=post_only,
            stp=stp,
            client_order_id=client_order_id,
            delay_ns=delay_ns,
            simulation=self.simulation,
            now_ns=self.now_ns if self.simulation is not None else None,
        )

    def market(
        self,
        book: int,
        side: Side,
        quantity: float,
        *,
        currency: Currency = Currency.BASE,
        stp: Stp = Stp.CANCEL_OLDEST,
        client_order_id: int | None = None,
        delay_ns: int = 0,
    ) -> PlaceMarket:
        return helpers.market(
            book,
            side,
            quantity,
            currency=currency,
            stp=stp,
            client_order_id=client_order_id,
            delay_ns=delay_ns,
            simulation=self.simulation,
        )

    def cancel(self, book: int, order_id: int, quantity: float | None = None, *, delay_ns: int = 0) -> Cancel:
        return helpers.cancel(book, order_id, quantity, delay_ns=delay_ns, simulation=self.simulation)

    def target(
        self,
        book: int,
        direction: Direction,
        leverage: float = 1.0,
        *,
        client_order_id: int | None = None,
        delay_ns: int = 0,
    ) -> TargetPosition:
        return helpers.target(
            book,
            direction,
            leverage,
            client_order_id=client_order_id,
            delay_ns=delay_ns,
            simulation=self.simulation,
        )

    def snap_price(self, price: float, side: Side) -> float:
        """``price`` on the tick, not worse for ``side``; needs the simulation."""
        return helpers.snap_price(price, self._known().tick_size, side)

    def snap_quantity(self, quantity: float) -> float:
        """``quantity`` rounded down to the lot; needs the simulation."""
        return helpers.snap_quantity(quantity, self._known().lot_size)

    def _known(self) -> SimulationInfo:
        if self.simulation is None:
            raise ValueError("the simulation is not known before the first state")
        return self.simulation
