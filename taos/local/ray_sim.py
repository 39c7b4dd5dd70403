"""One simulation whose books are spread over Ray actors, behind the ``Simulation`` interface.

``RaySimulation(core_config, shards)`` splits the books ``0 .. books-1`` into ``shards`` contiguous
ranges and gives each to a Ray actor holding a ``taos.simulator.Simulation`` of just those books.
``step()`` sends every actor its instructions (an instruction goes to the actor owning its book; a
ResetAgent goes to every actor, as the core sends it to every book; one for an unknown book goes to
the last actor, whose exchange refuses it as UNKNOWN_BOOK like the local simulation does), runs the
actors concurrently and merges their results in book order, so a validator loop written against
``Simulation`` runs unchanged on a cluster.

Books share nothing during a step (SPEC §4), so splitting them changes nothing, provided each
actor's books draw the random streams of their *global* ids: the core keys a book's streams by
``(seed, book)`` and its agents' by ``(seed, book, agent)``. Each actor's simulation is therefore
configured with ``first_book`` = the global id of its first book (``SimulationConfig.first_book``:
the core keys the streams of its local book ``b`` by ``first_book + b`` and uses local ids
``0 .. books-1`` everywhere else); the actor turns the ``book`` field of its events into global ids
and this class translates book ids in instructions and queries.

Costs: every step is one round trip to every actor; per-book queries (``best``, ``account``,
``open_orders``, ...) are one round trip each.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from taos.simulator import (
    INSTRUCTION_DTYPE,
    BookLevels,
    CheckpointError,
    EventKind,
    FeeTier,
    FundamentalConfig,
    InstructionKind,
    PopulationConfig,
    Simulation,
    SimulationConfig,
    notices,
)

_MAGIC = b"TAOSRAYS"
_VERSION = 1
_HEADER = struct.Struct("<8sII")  # magic, version, shards
_SHARD = struct.Struct("<IIQ")  # first book, books, state length

_FUNDAMENTAL_FIELDS = (
    "start_price_ticks",
    "sigma_per_sqrt_day",
    "mu_per_day",
    "jump_rate",
    "jump_sigma",
    "update_s",
    "intensity_sigma",
    "intensity_time_s",
    "intensity_jump_power",
    "replay_ts_ns",
    "replay_price_ticks",
)
_SCALAR_FIELDS = (
    "books",
    "seed",
    "threads",
    "miner_slots",
    "miner_base_lots",
    "miner_quote",
    "volume_window_buckets",
    "volume_bucket_ns",
)


def supports_book_offset() -> bool:
    """Whether this build of the core can run a subset of books with their global ids."""
    return hasattr(SimulationConfig(), "first_book")


def config_to_dict(c: SimulationConfig) -> dict[str, Any]:
    """A core config as plain data (the core's structs do not pickle)."""
    out: dict[str, Any] = {name: getattr(c, name) for name in _SCALAR_FIELDS}
    if supports_book_offset():
        out["first_book"] = c.first_book
    for name in ("miner_fee_tiers", "background_fee_tiers"):
        out[name] = [(t.volume_quote, t.maker_ppb, t.taker_ppb) for t in getattr(c, name)]
    for name in ("fundamental", "signal"):
        f = getattr(c, name)
        out[name] = {k: getattr(f, k) for k in _FUNDAMENTAL_FIELDS}
    out["populations"] = [
        {
            "model": p.model,
            "count": p.count,
            "base_lots": p.base_lots,
            "quote": p.quote,
            "params": list(p.params),
            "latency_min_ns": p.latency_min_ns,
            "latency_max_ns": p.latency_max_ns,
        }
        for p in c.populations
    ]
    return out


def config_from_dict(d: dict[str, Any]) -> SimulationConfig:
    """The inverse of ``config_to_dict``."""
    c = SimulationConfig()
    for name in _SCALAR_FIELDS:
        setattr(c, name, d[name])
    if d.get("first_book", 0):
        if not supports_book_offset():
            raise RuntimeError(_NO_OFFSET)
        c.first_book = d["first_book"]
    for name in ("miner_fee_tiers", "background_fee_tiers"):
        setattr(c, name, [FeeTier(*t) for t in d[name]])
    for name in ("fundamental", "signal"):
        f = FundamentalConfig()
        for k, v in d[name].items():
            setattr(f, k, v)
        setattr(c, name, f)
    c.populations = [
        PopulationConfig(
            p["model"],
            p["count"],
            p["base_lots"],
            p["quote"],
            p["params"],
            p["latency_min_ns"],
            p["latency_max_ns"],
        )
        for p in d["populations"]
    ]
    return c


_NO_OFFSET = (
    "this build of the core cannot run a subset of books with their global ids "
    "(SimulationConfig has no first_book): only shards=1 is possible"
)


def split_books(books: int, shards: int) -> list[tuple[int, int]]:
    """Contiguous ranges ``(first_book, count)`` covering ``0 .. books-1``, sizes differing by at
    most one (the larger ones first)."""
    if shards < 1:
        raise ValueError(f"shards must be >= 1, got {shards}")
    if shards > books:
        raise ValueError(f"shards must be <= the number of books ({books}), got {shards}")
    size, extra = divmod(books, shards)
    out, first = [], 0
    for i in range(shards):
        n = size + (1 if i < extra else 0)
        out.append((first, n))
        first += n
    return out


class ShardWorker:
    """What one Ray actor holds: a Simulation of books ``first_book .. first_book+books-1``."""

    def __init__(
        self, config: dict[str, Any], first_book: int, books: int, state: bytes | None = None
    ) -> None:
        local = dict(config, books=books, first_book=first_book)
        core = config_from_dict(local)
        self.sim = Simulation.restore(core, state) if state is not None else Simulation(core)
        self.first_book = first_book
        self.books = books

    def step(
        self, until_ns: int, instructions: np.ndarray | None, depth: int, detail_depth: int
    ) -> tuple[int, np.ndarray, list[BookLevels], list[np.ndarray]]:
        r = self.sim.step(until_ns, instructions, depth, detail_depth)
        events = r.events
        if self.first_book:
            # the core numbers its books from 0; refusals for unknown books keep their own field
            events = events.copy()
            local = events["book"] < self.books
            events["book"][local] += self.first_book
        return r.time_ns, events, list(r.books), list(r.accounts)

    def call(self, name: str, *args: Any) -> Any:
        return getattr(self.sim, name)(*args)

    def time_ns(self) -> int:
        return int(self.sim.time_ns)

    def save_state(self) -> bytes:
        return bytes(self.sim.save_state())


@dataclass(frozen=True)
class RayStepResult:
    """The merged result of one step: the attributes of ``taos.simulator`` StepResult."""

    time_ns: int
    miner_slots: int
    events: np.ndarray  # EVENT_DTYPE, book by book, then refused instructions for unknown books
    books: list[BookLevels] = field(default_factory=list)
    accounts: list[np.ndarray] = field(default_factory=list)

    def notices(self, miner: int) -> np.ndarray:
        """The step's events addressed to a miner, in event order (as StepResult.notices)."""
        if not 0 <= miner < self.miner_slots:
            raise IndexError(f"miner {miner} is not a miner slot (0..{self.miner_slots})")
        return notices(self.events, miner)

    def notice_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(offsets, indices): miner m's notices are ``events[indices[offsets[m]:offsets[m + 1]]]``,
        as ``notices(m)`` gives them (as StepResult.notice_index)."""
        ev, slots = self.events, self.miner_slots
        rows = np.arange(len(ev), dtype=np.uint32)
        own = ev["agent"] < slots
        maker = (
            (ev["kind"] == EventKind.TRADE) & (ev["other_agent"] < slots) & (ev["other_agent"] != ev["agent"])
        )
        who = np.concatenate((ev["agent"][own], ev["other_agent"][maker])).astype(np.int64)
        rows = np.concatenate((rows[own], rows[maker]))
        order = np.lexsort((rows, who))  # miner by miner, each in event order
        offsets = np.zeros(slots + 1, dtype=np.uint32)
        np.cumsum(np.bincount(who, minlength=slots), out=offsets[1:])
        return offsets, rows[order]


def _joined(arrays: list[np.ndarray]) -> np.ndarray:
    """The arrays one after the other along their first axis, in their own dtype (concatenating
    structured arrays would drop their padding; it stays zero, as the engine writes it)."""
    out = np.zeros((sum(len(a) for a in arrays), *arrays[0].shape[1:]), dtype=arrays[0].dtype)
    at = 0
    for a in arrays:
        out[at : at + len(a)] = a
        at += len(a)
    return out


class RaySimulation:
    """A simulation of ``core_config.books`` books spread over ``shards`` Ray actors; the same
    ``step()`` and queries as ``taos.simulator.Simulation``. Uses the Ray instance already
    initialized in this process, else connects to ``address``, else starts a local one."""

    def __init__(
        self,
        core_config: SimulationConfig,
        shards: int,
        address: str | None = None,
        *,
        cpus_per_shard: float = 1.0,
        _states: Sequence[bytes] | None = None,
    ) -> None:
        try:
            import ray
        except ImportError:
            raise ImportError(
                "RaySimulation needs Ray: pip install 'ray[default]' (the 'ray' extra)"
            ) from None
        self.ranges = split_books(core_config.books, shards)
        if getattr(core_config, "first_book", 0):
            raise ValueError("core_config.first_book must be 0: RaySimulation numbers the books itself")
        if shards > 1 and not supports_book_offset():
            raise NotImplementedError(_NO_OFFSET)
        self._config = config_to_dict(core_config)
        self._ray = ray
        self._started_ray = False
        if not ray.is_initialized():
            ray.init(address=address)
            self._started_ray = True
        actor: Any = ray.remote(num_cpus=cpus_per_shard)(ShardWorker)
        states = list(_states) if _states is not None else [None] * shards
        self._actors: list[Any] = [
            actor.remote(self._config, first, n, state)
            for (first, n), state in zip(self.ranges, states, strict=True)
        ]
        times = ray.get([a.time_ns.remote() for a in self._actors])
        self._time_ns = int(times[0])
        self.num_books = int(core_config.books)
        self.first_background_agent = int(core_config.miner_slots)

    # --- time ----------------------------------------------------------------------------------

    @property
    def time_ns(self) -> int:
        return self._time_ns

    @property
    def shards(self) -> int:
        return len(self._actors)

    def step(
        self, until_ns: int, instructions: np.ndarray | None = None, depth: int = 21, detail_depth: int = 5
    ) -> RayStepResult:
        """Runs every book up to ``until_ns`` (all actors at once) and returns the merged result."""
        parts = self._route(instructions)
        futures = [
            a.step.remote(until_ns, part, depth, detail_depth)
            for a, part in zip(self._actors, parts, strict=True)
        ]
        results = self._ray.get(futures)
        events = [r[1] for r in results]
        merged = np.concatenate(events) if len(events) > 1 else events[0]
        books: list[BookLevels] = []
        accounts: list[np.ndarray] = []
        for r in results:
            books.extend(r[2])
            accounts.extend(r[3])
        self._time_ns = int(results[0][0])
        return RayStepResult(self._time_ns, self.first_background_agent, merged, books, accounts)

    def _route(self, instructions: np.ndarray | None) -> list[np.ndarray | None]:
        if instructions is None:
            return [None] * len(self._actors)
        if not isinstance(instructions, np.ndarray) or instructions.dtype.names != INSTRUCTION_DTYPE.names:
            raise TypeError(
                "instructions must be a numpy array of INSTRUCTION_DTYPE (see taos.simulator.instruction_array)"
            )
        if instructions.ndim != 1:
            raise ValueError("instructions must be a one-dimensional array")
        records = instructions.astype(INSTRUCTION_DTYPE)
        book = records["book"].astype(np.int64)
        reset = records["kind"] == int(InstructionKind.RESET_AGENT)
        unknown = ~reset & (book >= self.num_books)
        parts: list[np.ndarray | None] = []
        last = len(self.ranges) - 1
        for i, (first, n) in enumerate(self.ranges):
            mine = ~reset & (book >= first) & (book < first + n)
            take = mine | reset | (unknown if i == last else False)
            part = records[take].copy()
            local = mine[take]
            part["book"][local] -= first  # the actor's books are numbered from 0
            parts.append(part)
        return parts

    # --- queries (book ids are global) -----------------------------------------------------------

    def _owner(self, book: int) -> tuple[Any, int]:
        for actor, (first, n) in zip(self._actors, self.ranges, strict=True):
            if first <= book < first + n:
                return actor, book - first
        raise IndexError(f"unknown book {book}")

    def _call(self, name: str, book: int, *args: Any) -> Any:
        actor, local = self._owner(book)
        return self._ray.get(actor.call.remote(name, local, *args))

    def best(self, book: int) -> tuple[int, int]:
        return tuple(self._call("best", book))  # type: ignore[return-value]

    def fundamental_ticks(self, book: int) -> float:
        return float(self._call("fundamental_ticks", book))

    def signal_price(self, book: int) -> float:
        return float(self._call("signal_price", book))

    def account(self, book: int, agent: int) -> dict[str, int] | None:
        result: dict[str, int] | None = self._call("account", book, agent)
        return result

    def accounts(self, book: int) -> np.ndarray:
        return np.asarray(self._call("accounts", book))

    def open_orders(self, book: int, agent: int) -> np.ndarray:
        return np.asarray(self._call("open_orders", book, agent))

    def miner_orders(self, book: int, agents: int) -> tuple[np.ndarray, np.ndarray]:
        owners, records = self._call("miner_orders", book, agents)
        return np.asarray(owners), np.asarray(records)

    def miner_accounts(self, agents: int) -> tuple[np.ndarray, ...]:
        """As ``Simulation.miner_accounts``: one call per actor, its books in place."""
        parts = self._ray.get([actor.call.remote("miner_accounts", agents) for actor in self._actors])
        records, tiers, volumes, order_books, owners, orders = (list(x) for x in zip(*parts, strict=True))
        for k, (first, _) in enumerate(self.ranges):
            order_books[k] = np.asarray(order_books[k]) + np.uint32(first)
        return tuple(_joined(x) for x in (records, tiers, volumes, order_books, owners, orders))

    def miner_fees(self, book: int, agents: int) -> tuple[np.ndarray, np.ndarray]:
        tiers, volumes = self._call("miner_fees", book, agents)
        return np.asarray(tiers), np.asarray(volumes)

    def levels(self, book: int, depth: int = 21, detail_depth: int = 5) -> dict[str, np.ndarray]:
        result: dict[str, np.ndarray] = self._call("levels", book, depth, detail_depth)
        return result

    def fees_collected(self, book: int) -> int:
        return int(self._call("fees_collected", book))

    # --- checkpoints -----------------------------------------------------------------------------

    def save_state(self) -> bytes:
        """Every actor's state in one composite: a header (magic, version, shard count), then per
        shard its first book, book count and the length of its ``Simulation.save_state()`` bytes,
        then those bytes in shard order."""
        states = self._ray.get([a.save_state.remote() for a in self._actors])
        head = _HEADER.pack(_MAGIC, _VERSION, len(states))
        table = b"".join(
            _SHARD.pack(first, n, len(s)) for (first, n), s in zip(self.ranges, states, strict=True)
        )
        return head + table + b"".join(states)

    @classmethod
    def restore(
        cls,
        core_config: SimulationConfig,
        state: bytes,
        address: str | None = None,
        *,
        cpus_per_shard: float = 1.0,
    ) -> RaySimulation:
        """A RaySimulation continuing from ``save_state()`` bytes, with the shards they were saved
        with. Raises CheckpointError for a composite that is not one or does not fit the config;
        each shard's own state is checked by the core."""
        if len(state) < _HEADER.size:
            raise CheckpointError("not a sharded τaos simulation checkpoint")
        magic, version, shards = _HEADER.unpack_from(state)
        if magic != _MAGIC:
            raise CheckpointError("not a sharded τaos simulation checkpoint")
        if version != _VERSION:
            raise CheckpointError(
                f"sharded checkpoint version {version}, this build reads version {_VERSION}"
            )
        offset = _HEADER.size + shards * _SHARD.size
        if shards < 1 or len(state) < offset:
            raise CheckpointError("sharded checkpoint is truncated or corrupt")
        table = [_SHARD.unpack_from(state, _HEADER.size + i * _SHARD.size) for i in range(shards)]
        if shards > core_config.books or [(f, n) for f, n, _ in table] != split_books(
            core_config.books, shards
        ):
            raise CheckpointError("sharded checkpoint was written for a different number of books")
        states = []
        for _, _, length in table:
            if len(state) < offset + length:
                raise CheckpointError("sharded checkpoint is truncated or corrupt")
            states.append(state[offset : offset + length])
            offset += length
        if offset != len(state):
            raise CheckpointError("sharded checkpoint is truncated or corrupt (trailing data)")
        return cls(core_config, shards, address, cpus_per_shard=cpus_per_shard, _states=states)

    # --- lifetime --------------------------------------------------------------------------------

    def close(self) -> None:
        """Stops the actors (and the Ray instance if this object started it)."""
        for a in self._actors:
            self._ray.kill(a)
        self._actors = []
        if self._started_ray:
            self._ray.shutdown()
            self._started_ray = False

    def __enter__(self) -> RaySimulation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
