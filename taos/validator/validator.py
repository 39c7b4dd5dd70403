"""The validator's parts, one method per hop of the loop (``taos/validator/loop.py``).

A ``Validator`` owns the simulation, the miners' view of it, the scores and the chain link. Each
method does one thing: ``step`` runs the simulator to the next publish time with the instructions
accepted last time; ``requests`` builds every miner's state (the shared part encoded once);
``query`` asks the miners; ``accept`` validates the answers (with the trading rules of
``taos.validator.rules``) and turns them into the next step's instructions, ``TargetPosition``
included (``taos.validator.targets``); ``score`` updates the scores; ``sync_chain`` handles
deregistrations and weights; ``persist`` saves the state. Every step's result also updates the
miners' positions (``taos.validator.positions``).

Scores and weights come from the scoring scheme (``taos.validator.schemes``), a plug-in chosen by
``ValidatorSettings.scheme`` or by the scoring settings: preset ``taos`` (EMA scores) or ``ptn``
(eliminations, challenge periods, checkpoint ledgers). The validator only calls its hooks: it
observes every step, its excluded miners (eliminated ones) are not queried and their open orders
are cancelled in the next step, and ``set_weights`` takes its weights from it.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, ClassVar

import msgspec
import numpy as np

from taos.chain import Chain, ChainError
from taos.config import Config, to_core
from taos.protocol import (
    BookEvents,
    Capital,
    FeeTier,
    Instruction,
    Notice,
    OrderRejected,
    PlaceMarket,
    RejectReason,
    ReplyRejected,
    Side,
    SimulationInfo,
    StateRequest,
    TargetAccepted,
    TargetPosition,
    encode_shared,
)
from taos.protocol.limits import MAX_DETAIL_CHARS, MAX_NOTICES
from taos.protocol.state import DETAILED_LEVELS, LEVELS
from taos.simulator import InstructionKind, Simulation, instruction_array
from taos.validator.batch import Admitted, read_reply_columns, validate_batch
from taos.validator.convert import (
    MinerAccountData,
    MinerEvents,
    PackedNotices,
    Units,
    book_state_variants,
    joined_records,
    miner_accounts,
    pack_miner_notices,
    to_records,
)
from taos.validator.history import ScoreParams, ScoreState
from taos.validator.latency import LatencyModel, LinearLatency, instruction_delay_ns
from taos.validator.metrics import NullMetrics, StepMetrics
from taos.validator.ordering import arrival_jitter, fair_order, spread_times
from taos.validator.outcome import ANSWERED, QueryOutcome
from taos.validator.packing import array_header
from taos.validator.persisted import Persisted, Stored, committed, layout, load_state, state_of, written_of
from taos.validator.policy import ScoringSettings
from taos.validator.positions import PositionTracker
from taos.validator.rules import RateLimiter, RulesSettings, closed_books
from taos.validator.schemes import Observation, ScoringScheme, make_scheme
from taos.validator.schemes.ptn import Elimination, PositionStats
from taos.validator.secret import simulation_seed, with_seed
from taos.validator.steplog import StepStats, log_weights
from taos.validator.store import (
    KEEP_SIMULATIONS,
    JournalEntry,
    SimulationIdentity,
    SimulationRecord,
    StoredVolumeLog,
    config_hash,
    simulation_identity,
)
from taos.validator.targets import plan_target
from taos.validator.transport import Answer, Transport
from taos.validator.validation import (
    Rejection,
    RejectRule,
    ValidationContext,
    as_reply,
    validate_instructions,
)

log = logging.getLogger("taos.validator")
S = 1_000_000_000


@dataclass(frozen=True)
class ValidatorSettings:
    timeout_s: float = 3.0  # miner query timeout (-t)
    weights_interval_s: float = 1_200.0  # wall seconds between set_weights calls
    depth: int = 21  # levels per side in a state
    detail_depth: int = 5  # levels per side with per-order detail
    persist_every: int = 1  # steps between commits of the state (with a store)
    scheme: str | None = None  # a scoring scheme by name; None: taos.validator.schemes.default_scheme
    # a full simulation checkpoint every this many steps or wall seconds, whichever comes first;
    # the commits in between journal the steps' instructions (resume = checkpoint + replay)
    checkpoint_steps: int = 120
    checkpoint_interval_s: float = 600.0
    scoring: ScoringSettings = field(default_factory=ScoringSettings)  # preset taos by default
    rules: RulesSettings = field(default_factory=RulesSettings)  # SPEC §10.2; preset taos: off
    # how many simulations the loop runs, one after the other: 1 (taos local), N, or None: without
    # end (taos validator); at the end of one the next starts (Validator.next_simulation)
    simulations: int | None = 1
    keep_simulations: int = KEEP_SIMULATIONS  # ended simulations whose summaries are kept

    def __post_init__(self) -> None:
        if self.persist_every < 1 or self.checkpoint_steps < 1:
            raise ValueError(
                f"persist_every and checkpoint_steps must be >= 1, got {self.persist_every} and "
                f"{self.checkpoint_steps}"
            )
        if isinstance(self.keep_simulations, bool) or not (
            isinstance(self.keep_simulations, int) and self.keep_simulations >= 1
        ):
            raise ValueError(f"keep_simulations must be an integer >= 1, got {self.keep_simulations!r}")
        if self.simulations is not None and (
            isinstance(self.simulations, bool)
            or not isinstance(self.simulations, int)
            or self.simulations < 1
        ):
            raise ValueError(
                f"simulations must be an integer >= 1 or None (without end), got {self.simulations!r}"
            )
        if not self.checkpoint_interval_s > 0:
            raise ValueError(f"checkpoint_interval_s must be > 0, got {self.checkpoint_interval_s}")
        # the depths bound the states' size (taos.protocol.limits counts on them)
        if not 1 <= self.depth <= LEVELS:
            raise ValueError(f"depth must be in [1, {LEVELS}], got {self.depth}")
        if not 0 <= self.detail_depth <= min(self.depth, DETAILED_LEVELS):
            raise ValueError(
                f"detail_depth must be in [0, {min(self.depth, DETAILED_LEVELS)}], got {self.detail_depth}"
            )


NEVER = np.iinfo(np.int64).min
"""``last_target_ns`` of a book without an accepted target."""


@dataclass(frozen=True)
class MarketSnapshot:
    """What the validator keeps of the latest ``StepResult`` to size targets and apply the rules
    (engine units): the mid price per book in ticks (NaN when a side is empty), and per miner and
    book the base in lots (total and free), the quote in quote units (total) and the open orders."""

    time_ns: int
    mid_ticks: np.ndarray  # [books] float64
    base_lots: np.ndarray  # [slots, books] int64, free + reserved
    free_base_lots: np.ndarray  # [slots, books] int64
    quote_units: np.ndarray  # [slots, books] int64, free + reserved
    open_orders: np.ndarray  # [slots, books] int64

    def equity_units(self) -> np.ndarray:
        """``quote + mid x base`` per miner and book in quote units; NaN where there is no mid."""
        return self.quote_units + self.mid_ticks[None, :] * self.base_lots


@dataclass
class MinerView:
    """What the validator keeps per miner slot between steps."""

    hotkey: str | None = None
    notices: list[Notice] = field(default_factory=list)  # for its next state


class Validator(Persisted):
    """The validator's loop, one hop per method (see docs/validator.md). Persisted as the scoring
    scheme (part ``scheme``), the position tracker (``positions``), the last accepted
    ``TargetPosition`` time per slot and book (``last_target_ns``) and the book events each miner
    asked for in its last reply (``book_events``)."""

    STORED: ClassVar[dict[str, Stored]] = {
        "last_target_ns": Stored("int64", ("slots", "books"), NEVER),
        "book_events": Stored("uint8", ("slots",), BookEvents.ALL, optional=True, values=BookEvents),
        # the running simulation's index (0: the first) and the validator time at its start
        "epoch": Stored("int64", ("epoch",), 0, optional=True),
    }
    PARTS: ClassVar[dict[str, str]] = {"scheme": "scheme", "positions": "positions"}
    ATTR_PREFIX: ClassVar[str] = ""

    def __init__(
        self,
        config: Config,
        chain: Chain,
        transport: Transport,
        settings: ValidatorSettings | None = None,
        *,
        latency: LatencyModel | None = None,
        metrics: StepMetrics | None = None,
        store: Any = None,
        simulation: Callable[[Any], Any] | None = None,
        restore: Callable[[Any, bytes], Any] | None = None,
        positions: PositionStats | None = None,
        wall_clock: Callable[[], float] = time.time,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``simulation(core_config)`` and ``restore(core_config, state)`` build the simulator
        (default: ``Simulation`` and ``Simulation.restore``; e.g. ``RaySimulation`` to spread the
        books over a Ray cluster with the loop unchanged). ``positions`` answers the challenge
        period's and the ledger's questions about positions (default: the validator's own
        ``PositionTracker``); ``wall_clock`` gives the wall time in seconds (challenge periods in
        wall time, elimination records); ``clock`` is the wall clock of the request rate limit, the weights schedule and the checkpoint interval."""
        self.base_config = config  # the first simulation's; the k-th runs simulation_seed(seed, k)
        self.config = config
        self.chain = chain
        self.transport = transport
        self.settings = settings or ValidatorSettings()
        self.latency = latency or LinearLatency(timeout_s=self.settings.timeout_s)
        self.metrics: StepMetrics = metrics if metrics is not None else NullMetrics()
        self.store = store
        self.core = to_core(config)
        self.units = Units(config.market.tick_size, config.market.lot_size)
        self.slots = config.miners.slots
        self.books = config.simulation.books
        self.miners = [MinerView() for _ in range(self.slots)]
        self.pending = instruction_array(0)  # engine records for the next step (ts_ns: arrival time)
        self.publish_ns = round(config.simulation.publish_interval_s * S)
        self.grace_ns = round(config.simulation.grace_period_s * S)
        self.end_ns = round(config.simulation.duration_s * S)
        self.jitter_ns = background_latency_ns(config)  # the range of the arrival jitter
        self._resets: dict[int, int] = {}  # uid → time of its reset, in the step last run
        self.info = self._simulation_info()
        self.step_index = 0
        self.stats = StepStats()  # the counts of the step under way (taos.validator.steplog)
        self.encode_s = 0.0  # wall seconds spent encoding the shared part of the states
        # the scoring regime (taos.validator.schemes): preset taos, ptn, or a registered other
        self.scheme: ScoringScheme = make_scheme(
            self.settings.scheme,
            self.settings.scoring,
            ScoreParams.from_core(self.core),
            self.slots,
            self.books,
        )
        self.rules = self.settings.rules
        self.rules.check_books(self.books)
        self.neutral_lots = int(self.core.miner_base_lots)  # = SimulationInfo.capital[b].base in lots
        self.positions = PositionTracker(
            self.slots,
            self.books,
            config.market.lot_size,
            min_notional=self.settings.scoring.min_position_notional,
        )
        self.last_target_ns = np.full((self.slots, self.books), NEVER, dtype=np.int64)
        self.book_events = np.full(self.slots, BookEvents.ALL, dtype=np.uint8)  # Reply.book_events
        self.epoch = np.zeros(2, dtype=np.int64)  # [simulation index, validator time at its start]
        # the summaries of the latest ended simulations (also in the store's history, with one)
        self.past_simulations: list[SimulationRecord] = []
        self._simulation_started = wall_clock()
        self._first_step = 1
        self.rate = RateLimiter(self.rules.rate_limit, self.rules.rate_window_s, clock)
        self.market: MarketSnapshot | None = None
        self._restore = restore or Simulation.restore
        self._make_simulation = simulation or Simulation
        self.sim = self._make_simulation(self.core)
        self._next_weights = -float("inf")  # when weights are due next (the clock's time)
        self._weights_failures = 0  # set_weights failures in a row (the retries back off)
        self._permit: bool | None = None  # whether this validator's hotkey has a permit (None: not seen yet)
        self._registered: list[int] = []
        self._own_uid: int | None = None
        self._position_stats = positions
        self._failed_miners: set[tuple[int, str | None]] = set()  # replies we failed to apply: logged
        self._batch_failed = False  # validate_batch raised once (logged)
        self.wall_clock = wall_clock
        self._journal: list[JournalEntry] = []  # the steps since the last commit
        self._checkpoint_step: int | None = None  # the step of the last checkpoint (None: none yet)
        self._checkpoint_wall = clock()
        self._clock = clock
        if store is not None:
            self._resume()
            # the step volumes of the 24 h horizon wait in the store, not in memory
            self.scheme.history.use_log(StoredVolumeLog(store))

    @property
    def scores(self) -> ScoreState:
        """The preset ``taos`` history every scoring scheme keeps (EMA scores, value windows,
        volumes)."""
        return self.scheme.history

    @property
    def position_stats(self) -> PositionStats:
        """What the challenge period and the ledger read of positions: the validator's own tracker
        unless another was given."""
        return self._position_stats if self._position_stats is not None else self.positions

    # --- 1. the simulator -------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """The running simulation has reached its end (the loop then starts the next one, unless
        it ran ``ValidatorSettings.simulations`` of them: :meth:`next_simulation`)."""
        return self.sim.time_ns >= self.end_ns

    @property
    def last_simulation(self) -> bool:
        """The running simulation is the last the loop runs (``ValidatorSettings.simulations``)."""
        n = self.settings.simulations
        return n is not None and self.simulation_index + 1 >= n

    @property
    def simulation_index(self) -> int:
        """Which simulation runs: 0 for the first this validator (its state folder) ran."""
        return int(self.epoch[0])

    @property
    def epoch_ns(self) -> int:
        """The validator time at which the running simulation started: the durations of the
        simulations before it."""
        return int(self.epoch[1])

    @property
    def clock_ns(self) -> int:
        """The validator time: simulation time that keeps running from one simulation to the next
        (the epoch plus the running simulation's time). Scores, volume windows, positions, ledgers
        and challenges are kept on it; the books, the miners' states and notices use simulation
        time."""
        return self.epoch_ns + int(self.sim.time_ns)

    @property
    def in_grace(self) -> bool:
        return self.sim.time_ns < self.grace_ns

    def step(self) -> Any:
        """Runs every book to the next publish time with the pending instructions; a StepResult."""
        until = min(self.end_ns, self.sim.time_ns + self.publish_ns)
        records, self.pending = self._ordered_pending(), instruction_array(0)
        self.step_index += 1
        result = self.sim.step(until, records, self.settings.depth, self.settings.detail_depth)
        self.stats = StepStats(self.step_index, int(result.time_ns) / S, events=len(result.events))
        resets = records[records["kind"] == InstructionKind.RESET_AGENT]
        self._resets = dict(zip(resets["agent"].tolist(), resets["ts_ns"].tolist(), strict=True))
        if self.store is not None:
            self._journal.append(JournalEntry(self.step_index, until, records))
        self.market = self.snapshot(result)
        lot = self.units.lot_size
        self.positions.observe(
            self.epoch_ns + int(result.time_ns),
            self.market.base_lots * lot,
            self.neutral_lots * lot,
            self.market.equity_units() / self.units.quote_units,
            self.market.mid_ticks * self.units.tick_size,
        )
        return result

    def _ordered_pending(self) -> np.ndarray:
        """The pending records in the next step's fair order (``taos.validator.ordering``): same-time
        instructions never run in uid order."""
        return fair_order(self.pending, self.config.simulation.seed, self.step_index + 1, self.slots)

    def snapshot(self, result: Any) -> MarketSnapshot:
        shape = (self.slots, self.books)
        mid = np.full(self.books, np.nan)
        base, free, quote, orders = (np.zeros(shape, dtype=np.int64) for _ in range(4))
        for b in range(self.books):
            book, acc = result.books[b], result.accounts[b]
            if len(book.bids) and len(book.asks):
                mid[b] = (int(book.bids["price_ticks"][0]) + int(book.asks["price_ticks"][0])) / 2
            rows = acc["agent"]
            free[rows, b] = acc["base_free"]
            base[rows, b] = acc["base_free"] + acc["base_reserved"]
            quote[rows, b] = acc["quote_free"] + acc["quote_reserved"]
            orders[rows, b] = acc["open_orders"]
        return MarketSnapshot(int(result.time_ns), mid, base, free, quote, orders)

    # --- 2. the miners' states ----------------------------------------------------------------------

    def _simulation_info(self) -> SimulationInfo:
        market = self.config.market
        # the engine's starting balances, on the lot grid: the neutral inventory of a position
        capital = Capital(self.units.qty(self.core.miner_base_lots), self.units.quote(self.core.miner_quote))
        return SimulationInfo(
            # opaque: the seed would let a miner compute every book's fundamental price path ahead
            # (taos.validator.secret); validators with the same config and seed send the same id
            simulation_id=config_hash(self.config)[:16],
            books=self.config.simulation.books,
            tick_size=market.tick_size,
            lot_size=market.lot_size,
            duration_ns=self.end_ns,
            publish_interval_ns=self.publish_ns,
            capital=(capital,) * self.config.simulation.books,
            fee_tiers=tuple(FeeTier(t.volume, t.maker, t.taker) for t in self.config.fees.miner),
            fee_window_ns=int(self.core.volume_window_buckets) * int(self.core.volume_bucket_ns),
        )

    def serving(self) -> list[int]:
        """The uids to query: registered slots the transport can reach, except this validator's own
        and eliminated miners."""
        own = self.chain.own_uid()
        excluded = self.scheme.excluded()
        return [
            uid
            for uid, m in enumerate(self.miners)
            if m.hotkey is not None and uid != own and not excluded[uid] and self.transport.serves(uid)
        ]

    def requests(self, result: Any) -> dict[int, StateRequest]:
        """Each serving miner's state: the shared books (encoded once), its own accounts and notices
        (encoded by the transport). Empty during the grace period (miners are not queried then)."""
        serving = self.serving()
        if self.in_grace or not serving:
            return {}
        # the shared part, once for each kind of book events that a serving miner asked for
        wanted = np.unique(self.book_events[serving]).tolist()
        variants = book_state_variants(result.books, result.events, self.units, map(BookEvents, wanted))
        t0 = time.perf_counter()
        shared = {w: encode_shared(result.time_ns, books) for w, books in variants.items()}
        self.encode_s += time.perf_counter() - t0
        data = MinerAccountData.of(self.sim, len(self.miners))  # one call for every book
        accounts = miner_accounts(serving, data, self.units)  # encoded, from whole columns
        events = MinerEvents.of_step(result, serving)
        if self._resets:  # a reset miner is told of its reset, not of its predecessor's orders
            events = events.from_time(self._resets)
        engine = pack_miner_notices(events, self.units)
        for reason, count in engine.rejections.items():
            self.metrics.count_rejection(reason, count)
            self.stats.engine_rejected += count
        out = {}
        for uid in serving:
            view = self.miners[uid]
            notices = capped_notices(view.notices, engine, uid, result.time_ns)
            view.notices = []
            out[uid] = StateRequest(
                shared[BookEvents(self.book_events[uid])], self.info, accounts[uid], notices
            )
        self.stats.queried = len(out)
        return out

    # --- 3. the queries -------------------------------------------------------------------------------

    async def query(self, requests: Mapping[int, StateRequest]) -> dict[int, Answer]:
        if self.in_grace or not requests:
            return {}
        return await self.transport.query(requests, self.settings.timeout_s)

    # --- 4. validation and latency -------------------------------------------------------------------

    def accept(self, answers: Mapping[int, Answer]) -> None:
        """Each answer → validated instructions with their delays (the next step's records) and the
        notices that tell the miner what was refused. One miner's reply can never stop the loop: a
        reply whose handling raises is dropped with a notice (and logged once per miner), and the
        other miners' replies are applied as usual.

        The replies are first admitted one by one (on time, within the rate limit, decodable);
        the admitted ones are judged together on columns where only the per-book cap can refuse
        anything (``taos.validator.batch``), the others instruction by instruction."""
        now = self.sim.time_ns
        capped = self.scheme.history.over_volume_cap(self.clock_ns)
        market = self.market
        closed = closed_books(self.rules.sessions, now, self.books)
        no_mid = frozenset(range(self.books))
        open_count = self.positions.open_counts()
        if market is not None:
            no_mid = frozenset(int(b) for b in np.flatnonzero(~np.isfinite(market.mid_ticks)))
            open_count = open_count + market.open_orders.sum(axis=1)
        excluded = self.scheme.excluded()
        capped_books = {
            int(u): tuple(np.flatnonzero(capped[u]).tolist()) for u in np.flatnonzero(capped.any(axis=1))
        }
        admitted: list[Admitted] = []
        typed: list[Admitted] = []  # decoded from bytes: the batch may judge them
        contexts: dict[tuple[Any, ...], ValidationContext] = {}  # miners in the same situation share one
        for uid, answer in sorted(answers.items()):
            if excluded[uid]:
                continue  # not queried; an answer that comes anyway is ignored
            try:
                rules = self._rule_context(uid, now, closed, no_mid, int(open_count[uid]))
                key = (
                    capped_books.get(uid, ()),
                    tuple(rules["last_target_ns"].items()),
                    tuple(rules["position_sides"].items()),
                    rules["open_count"],
                )
                if key not in contexts:
                    contexts[key] = ValidationContext.for_simulation(
                        self.info, now, volume_capped_books=frozenset(key[0]), **rules
                    )
                ctx = contexts[key]
                notices, instructions, delay = self._admit(uid, answer, ctx)
            except Exception as e:  # a bug of ours that this reply found: drop it, keep the loop
                notices, instructions, delay = [self._internal_failure(uid, e, now)], None, 0
            self.miners[uid].notices.extend(notices)
            if instructions is not None:
                admitted.append(Admitted(uid, instructions, ctx, delay))
                if isinstance(answer.body, bytes | bytearray | memoryview):
                    typed.append(admitted[-1])
        try:
            fast = validate_batch(typed, self.units)
        except Exception as e:  # a bug of ours: every reply is judged one by one instead
            if not self._batch_failed:
                self._batch_failed = True
                log.error(
                    "judging the replies on columns raised %s; they are judged one by one (logged once)",
                    type(e).__name__,
                    exc_info=e,
                )
            fast = {}
        batches = []
        for a in admitted:
            judged = fast.get(a.uid)
            records: np.ndarray | None
            if judged is not None:
                self._count_rejections(judged.rejected)
                self.stats.accepted += len(judged.records)
                notices, records = list(judged.notices), judged.records
            else:
                last_targets = self.last_target_ns[a.uid].copy()
                try:
                    notices, records = self._judge(a)
                except Exception as e:  # a bug of ours that this reply found: drop it, keep the loop
                    self.last_target_ns[a.uid] = last_targets
                    notices, records = [self._internal_failure(a.uid, e, now)], None
            self.miners[a.uid].notices.extend(notices)
            if records is not None and len(records):
                batches.append(records)
        seed, (low, high) = self.config.simulation.seed, self.jitter_ns
        self.pending = arrival_jitter(_concat(batches), seed, self.step_index + 1, low, high)

    def _admit(
        self, uid: int, answer: Answer, ctx: ValidationContext
    ) -> tuple[list[Notice], Sequence[Instruction] | None, int]:
        """One miner's answer → the notices of a reply dropped whole, or its instructions (read
        into columns, or decoded) and the latency model's delay for it."""
        now = ctx.now_ns
        delay = None if answer.error else self.latency.delay_ns(answer.response_time_s)
        if delay is None:  # no reply, or one after the timeout: dropped whole
            outcome = answer.outcome if answer.error else QueryOutcome.TIMEOUT
            error = answer.error or f"answered after the timeout of {self.settings.timeout_s:g} s"
            self._count_query(uid, answer, outcome, error)
            return [ReplyRejected(ts_ns=now, detail=f"{outcome.value}: {error}")], None, 0
        if not self.rate.allow(self.miners[uid].hotkey or f"uid {uid}"):
            self._count_query(uid, answer, QueryOutcome.OK)
            self.metrics.count_rejection(RejectRule.RATE_LIMIT.value)
            self.stats.rate_limited += 1
            rules = self.rules
            return (
                [
                    ReplyRejected(
                        ts_ns=now,
                        detail=f"{RejectRule.RATE_LIMIT.value}: more than {rules.rate_limit} replies from "
                        f"this hotkey within {rules.rate_window_s:g} s: this reply is ignored",
                    )
                ],
                None,
                0,
            )
        read: tuple[BookEvents, Sequence[Instruction]] | None = read_reply_columns(answer.body, ctx)
        if read is None:
            reply = as_reply(answer.body, ctx)
            if isinstance(reply, str):  # did not decode
                self._count_query(uid, answer, QueryOutcome.DECODE_ERROR, reply)
                return (
                    [ReplyRejected(ts_ns=now, detail=f"{QueryOutcome.DECODE_ERROR.value}: {reply}")],
                    None,
                    0,
                )
            read = (reply.book_events, reply.instructions)
        self._count_query(uid, answer, QueryOutcome.OK)
        events, instructions = read  # the common form is read straight into columns
        self.book_events[uid] = events  # for its next states
        return [], instructions, delay

    def _judge(self, a: Admitted) -> tuple[list[Notice], np.ndarray | None]:
        """One admitted reply judged instruction by instruction → its notices and its engine
        records (None when nothing is kept)."""
        uid, ctx, now = a.uid, a.context, a.context.now_ns
        result = validate_instructions(uid, a.instructions, ctx)
        notices = list(result.notices)
        self._count_rejections(result.rejected)
        items = []
        refused = 0  # targets refused when sized
        for accepted in result.accepted:
            instruction = accepted.instruction
            if isinstance(instruction, TargetPosition):
                order, notice = self._target(uid, instruction, now)
                notices.append(notice)
                if isinstance(notice, OrderRejected):
                    self.metrics.count_rejection(notice.reason.name)
                    refused += 1
                if order is None:
                    continue
                instruction = order
            extra = instruction_delay_ns(0, accepted.instruction, max_extra_delay_ns=ctx.max_extra_delay_ns)
            items.append((instruction, now + a.delay_ns + extra))  # when it reaches its book
        records = to_records(uid, items, self.units) if items else None
        self.stats.accepted += len(result.accepted) - refused
        self.stats.rejected += refused
        return notices, records

    def _count_rejections(self, rejected: tuple[Rejection, ...]) -> None:
        """Each refusal counted by the engine's reason, or the validator rule that refused it."""
        self.stats.rejected += len(rejected)
        for r in rejected:
            self.metrics.count_rejection(r.reason.name if r.rule == RejectRule.CHECK else r.rule.value)

    def _internal_failure(self, uid: int, error: Exception, now: int) -> Notice:
        """The notice for a reply the validator failed to apply; the error is logged with its
        traceback the first time for this miner, then counted only."""
        hotkey = self.miners[uid].hotkey
        if (uid, hotkey) not in self._failed_miners:
            self._failed_miners.add((uid, hotkey))
            log.error(
                "uid %d: applying its reply raised %s; the reply is dropped (logged once per miner)",
                uid,
                type(error).__name__,
                exc_info=error,
            )
        self.metrics.observe_query(uid, None, QueryOutcome.INTERNAL)
        self.stats.outcome(uid, QueryOutcome.INTERNAL, f"applying its reply raised {type(error).__name__}")
        return ReplyRejected(
            ts_ns=now,
            detail=f"{QueryOutcome.INTERNAL.value}: the validator could not apply this reply; it is dropped",
        )

    def _rule_context(
        self, uid: int, now: int, closed: frozenset[int], no_mid: frozenset[int], open_count: int
    ) -> dict[str, Any]:
        """The rule fields of a miner's ``ValidationContext`` (only the books that matter)."""
        rules, market = self.rules, self.market
        interval = rules.position_interval_ns
        recent: dict[int, int] = {}
        if interval:
            last = self.last_target_ns[uid]
            recent = {int(b): int(last[b]) for b in np.flatnonzero(last > now - interval)}
        sides: dict[int, int] = {}  # read only by the max_open rule
        if market is not None and rules.max_open:
            deviation = market.base_lots[uid] - self.neutral_lots
            sides = {int(b): 1 if deviation[b] > 0 else -1 for b in np.flatnonzero(np.abs(deviation) > 1)}
        return {
            "closed_books": closed,
            "no_mid_books": no_mid,
            "position_interval_ns": interval,
            "last_target_ns": recent,
            "max_open": rules.max_open,
            "open_count": open_count if rules.max_open else 0,  # read only by the max_open rule
            "position_sides": sides,
        }

    def _target(self, uid: int, target: TargetPosition, now: int) -> tuple[PlaceMarket | None, Notice]:
        """A validated target → its market order (None when nothing is to be traded) and the notice
        for the miner. Validation refused targets on books without a mid price."""
        market = self.market
        assert market is not None
        b = target.book
        plan = plan_target(
            target.direction,
            target.leverage,
            max_leverage=self.rules.max_leverage,
            base_lots=int(market.base_lots[uid, b]),
            free_base_lots=int(market.free_base_lots[uid, b]),
            neutral_lots=self.neutral_lots,
            quote_units=int(market.quote_units[uid, b]),
            mid_ticks=float(market.mid_ticks[b]),
        )
        if plan.capped and plan.order_lots == 0:
            return None, OrderRejected(
                b,
                now,
                RejectReason.INSUFFICIENT_BASE,
                client_order_id=target.client_order_id,
                detail="target_position: the target needs a sell, but no base is free "
                "(it may be reserved by resting sell orders)",
            )
        self.last_target_ns[uid, b] = now
        notice = TargetAccepted(
            b, now, plan.direction, plan.leverage, self.units.qty(plan.order_lots), target.client_order_id
        )
        if plan.order_lots == 0:
            return None, notice
        order = PlaceMarket(
            b,
            Side.BUY if plan.order_lots > 0 else Side.SELL,
            self.units.qty(abs(plan.order_lots)),
            client_order_id=target.client_order_id,
            delay_ns=target.delay_ns,
        )
        return order, notice

    def _count_query(self, uid: int, answer: Answer, outcome: QueryOutcome, error: str | None = None) -> None:
        timed = outcome in ANSWERED or outcome is QueryOutcome.AGENT_ERROR
        self.metrics.observe_query(uid, answer.response_time_s if timed else None, outcome)
        self.stats.outcome(uid, outcome, error or answer.error)

    # --- 5. scores -----------------------------------------------------------------------------------

    def inventory_values(self, result: Any) -> np.ndarray:
        """V = quote + mid x base per miner and book, in quote units (NaN for a one-sided book)."""
        market = self.market if self.market is not None and self.market.time_ns == result.time_ns else None
        return (market or self.snapshot(result)).equity_units()

    def holding_values(self, result: Any) -> np.ndarray:
        """``quote0 + mid x base0`` per book in quote units: what a miner's starting inventory is
        worth now (NaN for a one-sided book)."""
        market = self.market if self.market is not None and self.market.time_ns == result.time_ns else None
        return self._holding((market or self.snapshot(result)).mid_ticks)

    def _holding(self, mid_ticks: np.ndarray) -> np.ndarray:
        """``quote0 + mid x base0`` per book in quote units, at the mids ``mid_ticks``."""
        out: np.ndarray = float(self.core.miner_quote) + mid_ticks * float(self.neutral_lots)
        return out

    def traded_totals(self, result: Any) -> np.ndarray:
        totals = np.zeros((self.slots, self.books), dtype=np.int64)
        for b in range(self.books):
            acc = result.accounts[b]
            totals[acc["agent"], b] = acc["traded_quote"]
        return totals

    def score(self, result: Any) -> None:
        if self.sim.time_ns <= self.grace_ns:
            return
        observation = Observation(
            self.step_index,
            self.epoch_ns + int(result.time_ns),
            self.wall_clock(),
            self.inventory_values(result),
            self.holding_values(result),
            self.traded_totals(result),
            self._tracked(),
            self.position_stats,
        )
        for e in self.scheme.observe(observation):
            self._on_eliminated(e)
        self._cancel_excluded_orders(result)

    def _tracked(self) -> np.ndarray:
        """Mask of the slots the policies watch: the registered uids except this validator's own."""
        tracked = np.zeros(self.slots, dtype=np.bool_)
        tracked[self._registered] = True
        if self._own_uid is not None:
            tracked[self._own_uid] = False
        return tracked

    def _on_eliminated(self, e: Elimination) -> None:
        log.warning(
            "uid %d eliminated (%s) at validator time %.1f s: portfolio value %.6g, reference %.6g",
            e.uid,
            e.reason.text,
            e.sim_time_ns / S,
            e.value,
            e.reference,
        )
        # its instructions accepted this turn are dropped (a RESET_AGENT of the validator stays)
        keep = (self.pending["agent"] != e.uid) | (self.pending["kind"] == InstructionKind.RESET_AGENT)
        self.pending = _concat([self.pending[keep]])
        self.miners[e.uid].notices = []

    def _cancel_excluded_orders(self, result: Any) -> None:
        """A Cancel record, for the start of the next step, for every open order of an excluded
        (eliminated) miner (also orders that reached the book after the elimination, e.g. with a
        long delay)."""
        eliminated = self.scheme.excluded()
        if not eliminated.any():
            return
        agents: set[int] = set()
        for b in range(self.books):
            acc = result.accounts[b]
            agents.update(acc["agent"][(acc["open_orders"] > 0) & eliminated[acc["agent"]]].tolist())
        self.pending = _concat(
            [self.pending, *(self._withdrawal(uid, reset=False) for uid in sorted(agents))]
        )

    def _withdrawal(self, uid: int, *, reset: bool) -> np.ndarray:
        """Records that cancel every open order of ``uid`` at times spread over the next step
        (``taos.validator.ordering.spread_times``), then, with ``reset``, reset its accounts at the
        end of that step. In the public stream the orders leave one by one among other agents'
        cancellations, not as one burst of reset cancellations that would mark them as one
        agent's."""
        start = self.sim.time_ns
        end = max(start + 2, min(self.end_ns, start + self.publish_ns))
        found = [(b, self.sim.open_orders(b, uid)["order_id"]) for b in range(self.books)]
        out = instruction_array(sum(len(ids) for _, ids in found) + int(reset))
        out["agent"] = uid
        out["kind"] = InstructionKind.CANCEL
        at = 0
        for b, ids in found:
            out["book"][at : at + len(ids)] = b
            out["order_id"][at : at + len(ids)] = ids
            at += len(ids)
        out["ts_ns"][:at] = spread_times(
            self.config.simulation.seed, self.step_index + 1, uid, start, end - 1, at
        )
        if reset:
            out["kind"][at] = InstructionKind.RESET_AGENT
            out["ts_ns"][at] = end - 1
        return out[np.argsort(out["ts_ns"], kind="stable")]

    def miner_scores(self) -> np.ndarray:
        """The score of every slot that its weight comes from: the EMA scores (weights ``taos``)
        or the ledger's ``ptn_score`` among the registered competing miners (weights ``ptn``; 0
        for a miner in its challenge period, eliminated or not registered)."""
        return self.scheme.scores(self.clock_ns, self._tracked())

    # --- 6. the chain --------------------------------------------------------------------------------

    def sync_chain(self, *, force_weights: bool = False) -> None:
        """Follows the metagraph: a uid whose hotkey changed is reset (scores, history, accounts; the
        new miner gets reset notices); weights are set every ``weights_interval_s``."""
        try:
            graph = self.chain.metagraph()
        except ChainError as e:
            log.warning("metagraph not readable, keeping the last one: %s", e)
            return
        resets = []
        for n in graph.neurons:
            if n.uid >= self.slots:
                continue
            view = self.miners[n.uid]
            if view.hotkey is not None and view.hotkey != n.hotkey:
                resets.append(n.uid)
                # what was kept per hotkey goes with it: memory stays bounded over any number of
                # registrations
                self.rate.forget(view.hotkey)
                self._failed_miners.discard((n.uid, view.hotkey))
            view.hotkey = n.hotkey
        for uid in resets:
            self.reset_uid(uid)
        self._registered = [n.uid for n in graph.neurons if n.uid < self.slots]
        own = graph.by_hotkey(self.chain.hotkey)
        self._own_uid = own.uid if own is not None and own.uid < self.slots else None
        uids = [u for u in self._registered if u != self._own_uid]
        for uid in self.scheme.register(uids, self.clock_ns, self.wall_clock()):
            log.info("uid %d: hotkey %s starts its challenge period", uid, self.miners[uid].hotkey)
        self.transport.follow(graph)
        permitted = own is not None and own.validator_permit
        if permitted != self._permit:
            if not permitted:
                log.warning(
                    "hotkey %s has no validator permit (stake %s): weights are not set until it has one",
                    self.chain.hotkey,
                    "unregistered" if own is None else f"{own.stake:g}",
                )
            elif self._permit is False:
                log.info("hotkey %s has a validator permit now: weights are set again", self.chain.hotkey)
            self._permit = permitted
        if force_weights or self._clock() >= self._next_weights:
            self.set_weights(permitted=permitted)

    def reset_uid(self, uid: int) -> None:
        log.info("uid %d has a new hotkey: resetting its score and accounts", uid)
        self.scheme.reset_uid(uid)
        self.positions.reset_uid(uid)
        self.last_target_ns[uid] = NEVER
        self.book_events[uid] = BookEvents.ALL
        self.miners[uid].notices = []
        # the old miner's accepted instructions are dropped; its orders leave over the next step
        self.pending = _concat(
            [self.pending[self.pending["agent"] != uid], self._withdrawal(uid, reset=True)]
        )
        self.metrics.forget_uid(uid)

    def set_weights(self, *, permitted: bool = True) -> None:
        """Weights for the registered uids, from the scoring scheme (preset ``taos``: in proportion
        to the EMA scores; ``ptn``: eliminated 0, challenge miners a fixed weight, the rest by rank
        or score), set on the chain when this validator has a permit. A failure is retried after
        ``WEIGHTS_RETRY_S``, then twice as long each time, up to the weights interval (one
        warning, then a line at INFO per attempt). Every update is one line
        (``taos.validator.steplog.log_weights``): uids, top weights, set / failed / skipped."""
        uids = list(self._registered)
        weights, scores = self.scheme.weights(uids, self.clock_ns, exclude=self._own_uid)
        self.metrics.set_scores(uids, scores.tolist(), weights.tolist())
        interval, now = self.settings.weights_interval_s, self._clock()
        listed = weights.tolist()
        if not permitted:
            self._next_weights = now + interval
            log_weights(uids, listed, "skipped", "no validator permit")
            return
        try:
            self.chain.set_weights(uids, listed)
        except ChainError as e:
            self._weights_failures += 1
            wait = min(interval, WEIGHTS_RETRY_S * 2 ** min(self._weights_failures - 1, 30))
            self._next_weights = now + wait
            first = self._weights_failures == 1
            log_weights(
                uids,
                listed,
                "failed",
                str(e),
                level=logging.WARNING if first else logging.INFO,
                note=f"; retrying in {wait:.0f} s, then less often"
                if first
                else f"; next try in {wait:.0f} s",
                failures=self._weights_failures,
            )
            return
        if self._weights_failures:
            log.info("set_weights works again after %d failures", self._weights_failures)
        self._weights_failures = 0
        self._next_weights = now + interval
        log_weights(uids, listed, "set")

    # --- 8. one simulation after another ---------------------------------------------------------------

    def config_of(self, simulation: int) -> Config:
        """The config of the ``simulation``-th simulation: the first one's, with the seed
        ``simulation_seed(first seed, simulation)`` (``taos.validator.secret``)."""
        seed = simulation_seed(self.base_config.simulation.seed, simulation)
        return self.base_config if simulation == 0 else with_seed(self.base_config, seed)

    def summary_of_simulation(self) -> dict[str, Any]:
        """What each registered miner did in the running simulation, for the store's history: its
        trading PnL (its inventory value minus that of its starting inventory at the same mid,
        summed over books, in quote), its traded volume (quote) and its score now."""
        market = self.market
        scores = self.miner_scores()
        traded = self.scheme.history.traded_totals_sum()
        # (slots, books) trading PnL in quote units; NaN where a book has no mid
        pnl = None if market is None else market.equity_units() - self._holding(market.mid_ticks)[None, :]
        miners = []
        for uid in self._registered:
            if uid == self._own_uid:
                continue
            row = None if pnl is None else pnl[uid]
            miners.append(
                {
                    "uid": int(uid),
                    "hotkey": self.miners[uid].hotkey,
                    "pnl": None
                    if row is None or not np.isfinite(row).any()
                    else float(np.nansum(row)) / self.units.quote_units,
                    "volume": float(traded[uid]) / self.units.quote_units,
                    "score": float(scores[uid]),
                }
            )
        return {"time_s": int(self.sim.time_ns) / S, "miners": miners}

    def next_simulation(self) -> None:
        """Ends the running simulation and starts the next one (``ValidatorSettings.simulations``):
        a new simulator with the next seed, every account anew; the scores, histories, ledgers,
        eliminations and challenges carry over (the scheme's :meth:`~ScoringScheme.boundary`: no
        return spans the boundary), open positions close at the last values, pending instructions
        are dropped. With a store, the new simulation's checkpoint, the state and the ended
        simulation's summary are one commit: a crash before it resumes at the end of the old
        simulation and starts the same next one again."""
        old, k = self.config, self.simulation_index + 1
        if self.market is None:  # resumed at the end of the simulation: no step has run since
            self.market = self._market_now()
        ended = SimulationRecord(
            k - 1,
            config_hash(old),
            int(old.simulation.seed),
            self._simulation_started,
            self._first_step,
            self.wall_clock(),
            self.step_index,
            self.summary_of_simulation(),
        )
        if self.market is not None:
            self.positions.close_all(self.market.equity_units() / self.units.quote_units)
        self.scheme.boundary()
        self.epoch[:] = (k, self.epoch_ns + int(self.sim.time_ns))
        self._set_config(self.config_of(k))
        self.sim = None  # the old simulation's memory goes before the new one takes its own
        self.sim = self._make_simulation(self.core)
        self.step_index += 1  # the boundary: its own step (and checkpoint file)
        self.pending = instruction_array(0)
        self._resets = {}
        self.market = None
        self.last_target_ns[:] = NEVER
        for m in self.miners:
            m.notices = []
        self._journal = []
        self._simulation_started, self._first_step = self.wall_clock(), self.step_index
        self.past_simulations = [*self.past_simulations, ended][-self.settings.keep_simulations :]
        if self.store is not None:
            self._commit(ended)
        log.info(
            "simulation %d ended at step %d; simulation %d starts (config %s)",
            k - 1,
            ended.last_step,
            k,
            self.identity.config_hash[:16],
        )

    def _market_now(self) -> MarketSnapshot:
        """The snapshot of the simulation as it stands (what the last step's result gave)."""
        accounts = [self.sim.accounts(b) for b in range(self.books)]
        view = SimpleNamespace(
            time_ns=int(self.sim.time_ns),
            books=[self.sim.levels(b, 1, 0) for b in range(self.books)],
            accounts=[a[a["agent"] < self.slots] for a in accounts],
        )
        return self.snapshot(view)

    def _set_config(self, config: Config) -> None:
        """The running simulation's config (and what is derived from it)."""
        self.config = config
        self.core = to_core(config)
        self.info = self._simulation_info()
        self.__dict__.pop("identity", None)

    # --- 7. persistence and metrics ------------------------------------------------------------------

    def persist(self) -> None:
        if self.store is None or self.step_index % self.settings.persist_every:
            return
        self._commit()

    def _commit(self, ended: SimulationRecord | None = None) -> None:
        """One commit of the whole state; with a checkpoint when one is due (or a simulation
        ``ended``: the new one starts from its checkpoint)."""
        settings = self.settings
        due = (
            self._checkpoint_step is None  # the store's first commit
            or ended is not None
            or self.step_index - self._checkpoint_step >= settings.checkpoint_steps
            or self._clock() - self._checkpoint_wall >= settings.checkpoint_interval_s
        )
        checkpoint = self.store.write_checkpoint(self.sim, self.step_index) if due else None
        self.pending = self._ordered_pending()  # stored as the next step will run them
        self.store.commit(
            checkpoint,
            identity=self.identity,
            step_index=self.step_index,
            time_ns=int(self.sim.time_ns),
            arrays=state_of(self, copy=False),
            written=written_of(self),
            hotkeys={uid: m.hotkey for uid, m in enumerate(self.miners) if m.hotkey is not None},
            journal=self._journal,
            pending=JournalEntry(
                self.step_index + 1, min(self.end_ns, self.sim.time_ns + self.publish_ns), self.pending
            ),
            volume_log=self.scheme.history.log
            if isinstance(self.scheme.history.log, StoredVolumeLog)
            else None,
            simulation=self.simulation_index,
            ended=ended,
            keep_simulations=settings.keep_simulations,
        )
        committed(self)
        self._journal = []
        if checkpoint is not None:
            self._checkpoint_step, self._checkpoint_wall = self.step_index, self._clock()

    @functools.cached_property
    def identity(self) -> SimulationIdentity:
        """The simulation this validator runs (its configuration's hash and seed), hashed once."""
        return simulation_identity(self.config)

    def sizes(self) -> dict[str, int]:
        return {"slots": self.slots, "books": self.books, "epoch": 2}

    def _resume(self) -> None:
        from taos.validator.store import StoreError

        stored = self.store.load()
        if stored is None:
            return
        epoch = stored.arrays.get("epoch")
        k = int(epoch[0]) if epoch is not None and epoch.shape == (2,) and epoch.dtype == np.int64 else 0
        if k < 0:
            raise StoreError(f"the stored simulation index is {k}, not an integer >= 0")
        if k:
            self._set_config(self.config_of(k))
        if stored.identity != self.identity:
            raise StoreError(
                "the stored state belongs to another simulation (config or seed differ): start with "
                "--fresh to keep it aside and start anew"
            )
        self.sim = stored.restore_simulation(self.core, self._restore)  # checkpoint + journal replay
        arrays = dict(stored.arrays)
        old_pending = arrays.pop("pending", None)  # a store of schema 1 kept the next step's records here
        unknown = sorted(set(arrays) - set(layout(self)))
        if unknown:  # e.g. a scoring scheme's state, resumed with another scheme
            log.warning(
                "stored arrays that no part of this validator keeps are left out: %s", ", ".join(unknown)
            )
            arrays = {k: a for k, a in arrays.items() if k not in unknown}
        try:
            load_state(self, arrays, "the stored state")
        except ValueError as e:
            raise StoreError(f"{e} (scoring scheme {self.scheme.name})") from None
        self.step_index = stored.step_index
        self._checkpoint_step = stored.checkpoint.step_index
        for uid, hotkey in stored.hotkeys.items():
            if uid < self.slots:
                self.miners[uid].hotkey = hotkey
        if stored.pending is not None:
            self.pending = stored.pending.records
        elif old_pending is not None:  # delays from the committed time
            records = np.frombuffer(old_pending.tobytes(), dtype=instruction_array(0).dtype)
            entry = JournalEntry(stored.step_index + 1, 0, records, delays=True)
            self.pending = entry.arriving(stored.time_ns).records
        for r in reversed(self.store.simulations()):
            if r.simulation == k:
                self._simulation_started, self._first_step = r.started_unix, r.first_step
            elif r.ended_unix is not None:
                self.past_simulations.insert(0, r)
        self.past_simulations = self.past_simulations[-self.settings.keep_simulations :]
        log.info(
            "resumed at step %d (simulation %d, sim time %.1f s)",
            self.step_index,
            k,
            self.sim.time_ns / S,
        )

    def observe(self, result: Any, duration_s: float) -> None:
        self.metrics.observe_step(
            duration_s,
            self.publish_ns / S,
            len(result.events),
            step_index=self.step_index,
            sim_time_s=result.time_ns / S,
        )
        self.metrics.observe_market(self, result, self._registered)  # book and miner gauges


WEIGHTS_RETRY_S = 30.0
"""A failed ``set_weights`` is tried again after this many seconds, then twice as long each time (up
to the weights interval)."""


def background_latency_ns(config: Config) -> tuple[int, int]:
    """The range of the background agents' latencies (the smallest lower end and the largest upper
    end over the populations), in ns: the range of the miners' arrival jitter. (0, 0) without
    background agents."""
    ranges = [p.latency_s for p in config.populations if p.count > 0]
    if not ranges:
        return 0, 0
    return round(min(r[0] for r in ranges) * S), round(max(r[1] for r in ranges) * S)


def _concat(batches: list[np.ndarray]) -> np.ndarray:
    """One array of engine records. The records are joined as bytes: concatenating structured
    arrays would drop numpy's padded record layout, and assigning them batch by batch is slow."""
    dtype = instruction_array(0).dtype
    if not batches or any(b.dtype != dtype for b in batches):
        out = instruction_array(sum(len(b) for b in batches))
        i = 0
        for b in batches:
            out[i : i + len(b)] = b
            i += len(b)
        return out
    return joined_records(batches, dtype)


def capped_notices(own: list[Notice], engine: PackedNotices, uid: int, now_ns: int) -> msgspec.Raw:
    """uid's notices for its state, encoded: the validator's ``own`` notices, then the ``engine``'s
    (``pack_miner_notices``). At most ``MAX_NOTICES`` (beyond, the last one says how many were
    left out), each ``detail`` at most ``MAX_DETAIL_CHARS`` characters: a state never outgrows what
    the miner takes (``taos.protocol.limits``). The engine's notices carry no detail."""
    if not own and engine.count(uid) <= MAX_NOTICES:  # most miners: the engine's notices alone
        return msgspec.Raw(array_header(engine.count(uid)) + engine.span(uid))
    mine = [_short_detail(n) for n in own]
    total = len(mine) + engine.count(uid)
    if total <= MAX_NOTICES:
        return msgspec.Raw(array_header(total) + b"".join(map(_encode, mine)) + engine.span(uid))
    keep = MAX_NOTICES - 1
    mine = mine[:keep]
    left_out = OrderRejected(
        -1, now_ns, RejectReason.INVALID_INSTRUCTION, detail=f"notices: {total - keep} more left out"
    )
    body = b"".join(map(_encode, mine)) + engine.span(uid, keep - len(mine)) + _encode(left_out)
    return msgspec.Raw(array_header(MAX_NOTICES) + body)


_encode = msgspec.msgpack.Encoder().encode


def _short_detail(notice: Notice) -> Notice:
    if isinstance(notice, OrderRejected | ReplyRejected) and len(notice.detail) > MAX_DETAIL_CHARS:
        return msgspec.structs.replace(notice, detail=notice.detail[: MAX_DETAIL_CHARS - 3] + "...")
    return notice
