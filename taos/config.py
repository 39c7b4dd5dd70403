"""Simulation configuration: a TOML file → typed, validated objects → the core's plain structs.

``load(path)`` (or ``loads(text)``) reads and checks every value: an unknown key, a value of the
wrong type or out of range raises ``ConfigError`` with a one-line message naming the key, the value,
the limit and why. The limits are derived from what the engine and the wire can represent (int64
ticks, lots, quote units and nanoseconds; ``taos.protocol.limits``) and from an estimate of the
memory the configuration needs (``estimate_memory``), refused when larger than the memory this
process may use (``memory_limit``). ``to_core(config)`` converts decimals to the engine's integer
units (see ``docs/config.md``) and returns the ``taos.simulator.SimulationConfig`` the C++ core
runs; the core parses no files.

This module never imports the C++ extension at import time: ``to_core`` needs it, and
``from_dict`` uses it when it is installed to let the engine check each model's parameters early.
The engine limits this module needs are mirrored below (``tests/test_config_bounds.py`` checks them
against the extension).
"""

from __future__ import annotations

import contextlib
import math
import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taos.protocol.limits import MAX_BOOKS, MAX_FEE_TIERS, max_reply_bytes, max_state_bytes

if TYPE_CHECKING:
    from taos.simulator import SimulationConfig

NS_PER_S = 1_000_000_000

# --- the engine's limits (simulator/include/taosim/types.hpp, exchange/exchange.hpp, exchange.cpp) ---
MAX_PRICE_TICKS = 10**12
"""``kMaxPriceTicks``: the highest order price, in ticks."""
MAX_NOTIONAL = 10**18
"""``kMaxNotional``: the largest price x quantity, in quote units."""
RATE_SCALE = 10**9
"""A fee rate of 1.0 in parts per billion; rates lie strictly inside (-RATE_SCALE, RATE_SCALE)."""
MAX_AGENTS = 2**24
"""``kMaxAgents``: agent ids (miner slots, then background agents) are below this."""
MAX_SUPPLY = 2**62
"""``kMaxSupply``: the sum of one book's base balances (in lots), and of its quote balances (in quote
units), is at most this, so that no balance or sum of balances can overflow int64."""
MAX_WINDOW_BUCKETS = 100_000
"""The engine's largest fee volume window, in buckets."""
MAX_INT64 = 2**63 - 1

# --- this layer's limits (docs/config.md explains each) ---
MAX_TIME_S = 3_155_760_000
"""100 (Julian) years. Times are int64 nanoseconds in the engine and on the wire (at most 2^63 - 1 ns,
292 years); every scheduled time is a simulation time plus a delay, each at most this, so the sum
always fits."""
MIN_INTERVAL_S = 0.001
"""1 ms: the shortest publish interval, fundamental/signal update interval and fee bucket."""
MAX_UPDATES_PER_STEP = 1_000_000
"""Price-process updates per book in one step (publish_interval_s / update_s)."""
MAX_SLOTS = 65_536
"""Miner slots are subnet uids, 16-bit numbers."""
MAX_THREADS = 1_024
MAX_CONFIG_BYTES = 1 << 20
"""A config file is a few KiB; a larger one is refused before it is parsed."""
MAX_DEPTH = 8
"""Nesting of tables and arrays (a config needs 4: population → [i] → params → value)."""
MAX_REPLAY_POINTS = 10_000_000
MAX_REPLAY_BYTES = 512 << 20
PRICE_BAND_SD = 10.0
"""Standard deviations of the price process's log that must stay inside the representable range."""
MAX_LOG_FUNDAMENTAL_TICKS = math.log(2.0**62)
"""Agents round the fundamental (in ticks) to int64 when a book is empty: it must stay below 2^62."""
MAX_LOG_SIGNAL = 700.0
"""The signal is only used through ratios and logs: it must stay a finite, nonzero double."""
MAX_NAME_CHARS = 64
"""Model and parameter names (the engine's names are short identifiers)."""


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range. The message
    is always one line (control characters are escaped, long messages shortened)."""

    def __init__(self, message: str) -> None:
        super().__init__(_one_line(message))


def _one_line(message: str, limit: int = 2_000) -> str:
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(message))
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(v: Any) -> str:
    """A value for a message: short, one line, never raising (a 5,000-digit integer cannot be
    printed by default)."""
    if isinstance(v, bool):
        return repr(v)
    if isinstance(v, int):
        if abs(v) < 10**30:
            return f"{v:,}"
        digits = int(abs(v).bit_length() * math.log10(2)) + 1
        return f"{'-' if v < 0 else ''}an integer of about {digits:,} digits"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e16:
            return f"{int(v):,}" if v or math.copysign(1.0, v) > 0 else "-0.0"
        return repr(v)
    if isinstance(v, str):
        r = repr(v)
        return r if len(r) <= 80 else r[:77] + "..."
    if isinstance(v, (list, dict, tuple)):
        return f"a {type(v).__name__} of {len(v):,} items"
    return type(v).__name__


def _gib(n: float) -> str:
    """A size for a message: GiB with one decimal, or MiB below 1 GiB."""
    return f"{n / 2**30:,.1f} GiB" if abs(n) >= 2**30 else f"{n / 2**20:,.0f} MiB"


@dataclass(frozen=True)
class Bound:
    """The range of one numeric key and why."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # lo itself is refused
    hi_open: bool = False  # hi itself is refused
    integer: bool = False
    why: str = ""

    def check(self, key: str, v: Any) -> Any:
        """``v`` as a float (an int for integer keys); ConfigError naming ``key`` otherwise."""
        kind = "an integer" if self.integer else "a number"
        if isinstance(v, bool) or not isinstance(v, int if self.integer else (int, float)):
            raise ConfigError(f"{key} must be {kind}, got {type(v).__name__} {_show(v)}")
        if not self.integer:
            if isinstance(v, int) and abs(v) > 2**1000:  # float(v) would raise
                raise ConfigError(f"{key} must be a finite number, got {_show(v)}")
            v = float(v)
            if not math.isfinite(v):
                raise ConfigError(f"{key} must be finite, got {_show(v)}")
        below = self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo)
        above = self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi)
        if below or above:
            raise ConfigError(
                f"{key} must be {self.describe()}{f' ({self.why})' if self.why else ''}, got {_show(v)}"
            )
        return v

    def describe(self) -> str:
        """The range as text: ">= 0", "<= 1", "in [1, 10,000]", "in (-1, 1)"."""
        if self.lo is not None and self.hi is not None:
            return f"in {'(' if self.lo_open else '['}{_show(self.lo)}, {_show(self.hi)}{')' if self.hi_open else ']'}"
        if self.lo is not None:
            return f"{'>' if self.lo_open else '>='} {_show(self.lo)}"
        if self.hi is not None:
            return f"{'<' if self.hi_open else '<='} {_show(self.hi)}"
        return "a finite number"


_TIME = "time is int64 ns in the engine and on the wire; a time plus a delay must fit"
_PROCESS = {
    "model": None,
    "sigma": Bound(0),
    "mu": Bound(),
    "jump_rate": Bound(0, 1, why="a probability per update"),
    "jump_sigma": Bound(0),
    "intensity_sigma": Bound(0, 5, why="the s.d. of the log news intensity"),
    "intensity_time_s": Bound(MIN_INTERVAL_S, MAX_TIME_S, why="the news intensity's mean-reversion time"),
    "intensity_jump_power": Bound(0, 4, why="the jump rate grows with the news intensity to this power"),
    "update_s": Bound(
        MIN_INTERVAL_S,
        MAX_TIME_S,
        why="1 ms to 100 years: each update is an event in every book and a 0 ns period never "
        "advances; " + _TIME,
    ),
}
BOUNDS: dict[str, Bound] = {
    "simulation.books": Bound(
        1, MAX_BOOKS, integer=True, why="a market state on the wire lists at most 10,000 books"
    ),
    "simulation.seed": Bound(0, MAX_INT64, integer=True, why="stored as a signed 64-bit integer"),
    "simulation.threads": Bound(0, MAX_THREADS, integer=True),
    "simulation.duration_s": Bound(MIN_INTERVAL_S, MAX_TIME_S, why="1 ms to 100 years: " + _TIME),
    "simulation.publish_interval_s": Bound(
        MIN_INTERVAL_S,
        MAX_TIME_S,
        why="1 ms to 100 years: a 0 ns step never advances and shorter steps cost the validator more "
        "than they simulate; " + _TIME,
    ),
    "simulation.grace_period_s": Bound(0, MAX_TIME_S, why="at most 100 years: " + _TIME),
    "market.tick_size": Bound(0, lo_open=True),
    "market.lot_size": Bound(0, lo_open=True),
    "market.start_price": Bound(0, lo_open=True),
    "miners.slots": Bound(0, MAX_SLOTS, integer=True, why="miner slots are 16-bit subnet uids"),
    "miners.wealth": Bound(0),
    "miners.base_fraction": Bound(0, 1),
    "fees.window_buckets": Bound(1, MAX_WINDOW_BUCKETS, integer=True, why="the engine's largest window"),
    "fees.bucket_s": Bound(MIN_INTERVAL_S, MAX_TIME_S, why="1 ms to 100 years: " + _TIME),
    "fees.volume": Bound(0),
    "fees.rate": Bound(-1, 1, lo_open=True, hi_open=True, why="a fraction of the notional"),
    **{f"{s}.{k}": b for s in ("fundamental", "signal") for k, b in _PROCESS.items() if b is not None},
    "population.count": Bound(0, MAX_AGENTS - 1, integer=True, why="agent ids are below 2^24"),
    "population.base": Bound(0),
    "population.quote": Bound(0),
    "population.latency_s": Bound(0, MAX_TIME_S, why="at most 100 years: " + _TIME),
    "population.params": Bound(),
}
"""Every numeric key's own range (``population.latency_s`` for each end, ``fees.volume`` and
``fees.rate`` for the tiers' columns, ``population.params`` for every parameter: the engine checks
each parameter's range). Checks across keys (money and prices in the engine's units, the price
process's range, agent ids, work per step, memory) come on top: see ``check``."""


_REQUIRED = object()


class _Table:
    """One TOML table being read: typed getters with ranges, and a check for unknown keys."""

    def __init__(self, data: Any, path: str, kind: str | None = None) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{path or 'the config'} must be a table, got {type(data).__name__}")
        self.data = data
        self.path = path
        self.kind = kind if kind is not None else path
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{_key_name(name)}" if self.path else _key_name(name)

    def number(self, name: str, default: Any = _REQUIRED) -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is _REQUIRED:
                raise ConfigError(f"{self.key(name)} is required")
            return default
        return BOUNDS[f"{self.kind}.{name}"].check(self.key(name), self.data[name])

    def integer(self, name: str, default: Any = _REQUIRED) -> int:
        return int(self.number(name, default))

    def string(self, name: str, default: Any = _REQUIRED, *, choices: tuple[str, ...] | None = None) -> str:
        self.used.add(name)
        if name not in self.data:
            if default is _REQUIRED:
                raise ConfigError(f"{self.key(name)} is required")
            return str(default)
        v = self.data[name]
        if not isinstance(v, str):
            raise ConfigError(f"{self.key(name)} must be a string, got {type(v).__name__} {_show(v)}")
        if choices is not None and v not in choices:
            raise ConfigError(f"{self.key(name)} must be one of {', '.join(choices)}, got {_show(v)}")
        return v

    def table(self, name: str, kind: str | None = None) -> _Table:
        self.used.add(name)
        return _Table(self.data.get(name, {}), self.key(name), kind)

    def raw(self, name: str, default: Any) -> Any:
        self.used.add(name)
        return self.data.get(name, default)

    def done(self) -> None:
        unknown = sorted((k for k in self.data if k not in self.used), key=str)
        if unknown:
            raise ConfigError(f"{self.key(unknown[0])}: unknown key")


def _key_name(name: Any) -> str:
    """A key for a message: as written when it is a plain name, else quoted (and shortened)."""
    if (
        isinstance(name, str)
        and 0 < len(name) <= MAX_NAME_CHARS
        and all(c.isalnum() or c in "_-" for c in name)
    ):
        return name
    return _show(name)


@dataclass(frozen=True)
class SimulationSection:
    books: int = 20
    seed: int = 1
    threads: int = 0  # 0 = one per core
    duration_s: float = 86_400.0
    publish_interval_s: float = 5.0
    grace_period_s: float = 600.0


@dataclass(frozen=True)
class MarketSection:
    tick_size: float = 0.01
    lot_size: float = 0.0001
    start_price: float = 300.0


@dataclass(frozen=True)
class MinersSection:
    slots: int = 256
    wealth: float = 100_000.0  # per book, in quote currency
    base_fraction: float = 0.5  # share of the wealth held as base at the start price


@dataclass(frozen=True)
class FeeTier:
    volume: float  # rolling traded volume (quote currency) at which the tier starts
    maker: float  # rate as a fraction: 0.005 = 0.5 %
    taker: float


# SPEC §3.2: the default miner tiers (volume → maker / taker).
DEFAULT_MINER_TIERS = (
    FeeTier(0, 0.005, 0.005),
    FeeTier(200_000, 0.0025, 0.003),
    FeeTier(400_000, 0.00125, 0.0018),
    FeeTier(800_000, 0.00063, 0.00108),
    FeeTier(1_600_000, 0.00031, 0.00064),
    FeeTier(3_200_000, 0.00016, 0.00038),
)


@dataclass(frozen=True)
class FeesSection:
    miner: tuple[FeeTier, ...] = DEFAULT_MINER_TIERS
    background: tuple[FeeTier, ...] = (FeeTier(0, 0.0, 0.0),)
    window_buckets: int = 24
    bucket_s: float = 3_600.0


@dataclass(frozen=True)
class FundamentalSection:
    """A price process: the fundamental of every book, or the external signal."""

    model: str = "jump_diffusion"  # or "gbm" (no jumps) or "replay" (a price file)
    sigma: float = 0.012  # per sqrt(day)
    mu: float = 0.0  # per day
    jump_rate: float = 0.002  # probability of a jump per update
    jump_sigma: float = 0.00335
    update_s: float = 10.0
    # Clustered news: diffusion variance and jump rate scale with exp(x), x an OU process of
    # s.d. intensity_sigma and time constant intensity_time_s (docs/models.md); 0 = constant.
    intensity_sigma: float = 0.0
    intensity_time_s: float = 3600.0
    intensity_jump_power: float = 1.0  # jump rate ∝ intensity^p (same mean rate)
    replay_file: str = ""  # model "replay": CSV (or Parquet) with columns timestamp_s, price
    # The replayed series as read from replay_file: seconds from the start, prices.
    replay_times_s: tuple[float, ...] = ()
    replay_prices: tuple[float, ...] = ()


@dataclass(frozen=True)
class Population:
    model: str
    count: int
    base: float  # starting base per agent per book (base currency)
    quote: float  # starting quote per agent per book (quote currency)
    latency_s: tuple[float, float] = (0.001, 0.01)
    params: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    simulation: SimulationSection
    market: MarketSection
    miners: MinersSection
    fees: FeesSection
    fundamental: FundamentalSection
    populations: tuple[Population, ...]
    signal: FundamentalSection = FundamentalSection()


def load(path: str | Path, *, memory_limit: int | None = None) -> Config:
    """Reads and validates a TOML config file (at most ``MAX_CONFIG_BYTES``). ``memory_limit``:
    the bytes the configuration may need (default: ``memory_limit()``, this process's)."""
    return loads(read_config_text(path), source=str(path), memory_limit=memory_limit)


def read_config_text(path: str | Path) -> str:
    """A config file's text: at most ``MAX_CONFIG_BYTES`` of UTF-8, else ConfigError."""
    p = Path(path)
    where = _show_path(p)
    try:
        with open(p, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except OSError as e:
        raise ConfigError(f"{where}: cannot read: {e.strerror or e}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_CONFIG_BYTES:,} bytes; a config is a few KiB")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{where}: not UTF-8 text (byte {e.start:,})") from None


def loads(text: str, source: str = "<config>", *, memory_limit: int | None = None) -> Config:
    """Validates a config given as TOML text."""
    return from_dict(parse_toml(text, source), source, memory_limit=memory_limit)


def parse_toml(text: str, source: str = "<config>") -> dict[str, Any]:
    """TOML text as a dict, or ConfigError: not valid TOML, larger than ``MAX_CONFIG_BYTES``,
    nested deeper than ``MAX_DEPTH`` (the parser is recursive: deeper input would raise
    RecursionError), or holding an integer too long to read."""
    where = _show_path(Path(source)) if source != "<config>" else source
    if not isinstance(text, str):
        raise ConfigError(f"{where}: a config is text, got {type(text).__name__}")
    if len(text) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_CONFIG_BYTES:,} characters; a config is a few KiB")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{where}: not valid TOML: {e}") from None
    except RecursionError:
        raise ConfigError(f"{where}: not valid TOML here: nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as e:  # an integer of more than sys.get_int_max_str_digits() digits
        raise ConfigError(f"{where}: not valid TOML here: {str(e).split(':')[0]}") from None
    _check_depth(data, where)
    return data


def _check_depth(data: Any, where: str) -> None:
    """Refuses tables and arrays nested deeper than MAX_DEPTH (without recursing)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            children: Any = value.values()
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            continue
        if depth >= MAX_DEPTH:
            raise ConfigError(f"{where}: tables and arrays are nested deeper than {MAX_DEPTH} levels")
        stack.extend((c, depth + 1) for c in children)


def _show_path(p: Path) -> str:
    s = str(p)
    return s if s.isprintable() and len(s) <= 300 else _show(s)


def from_dict(data: dict[str, Any], source: str = "<config>", *, memory_limit: int | None = None) -> Config:
    """Validates a config given as the dict a TOML file parses to (e.g. after overriding keys).
    Relative replay files are resolved against ``source``'s folder (the working folder for
    ``"<config>"``). Checks every key (``BOUNDS``), the keys together (``check``) and the memory
    the configuration needs (``check_memory`` against ``memory_limit``, default this process's)."""
    if not isinstance(data, dict):
        raise ConfigError(f"the config must be a table, got {type(data).__name__}")
    _check_depth(data, "the config")
    root = _Table(data, "")
    base = Path(source).parent if source != "<config>" else Path.cwd()
    config = Config(
        simulation=_simulation(root.table("simulation")),
        market=_market(root.table("market")),
        miners=_miners(root.table("miners")),
        fees=_fees(root.table("fees")),
        fundamental=_fundamental(root.table("fundamental"), base),
        populations=_populations(root.raw("population", [])),
        signal=_fundamental(root.table("signal"), base),
    )
    root.done()
    check(config)
    with contextlib.suppress(ImportError):  # without the extension (a miner-only install), to_core checks
        _core_params(config)  # the engine's own check of each model's parameters
    check_memory(config, memory_limit)
    return config


def _simulation(t: _Table) -> SimulationSection:
    d = SimulationSection()
    s = SimulationSection(
        books=t.integer("books", d.books),
        seed=t.integer("seed", d.seed),
        threads=t.integer("threads", d.threads),
        duration_s=t.number("duration_s", d.duration_s),
        publish_interval_s=t.number("publish_interval_s", d.publish_interval_s),
        grace_period_s=t.number("grace_period_s", d.grace_period_s),
    )
    t.done()
    return s


def _market(t: _Table) -> MarketSection:
    d = MarketSection()
    m = MarketSection(
        tick_size=t.number("tick_size", d.tick_size),
        lot_size=t.number("lot_size", d.lot_size),
        start_price=t.number("start_price", d.start_price),
    )
    t.done()
    return m


def _miners(t: _Table) -> MinersSection:
    d = MinersSection()
    m = MinersSection(
        slots=t.integer("slots", d.slots),
        wealth=t.number("wealth", d.wealth),
        base_fraction=t.number("base_fraction", d.base_fraction),
    )
    t.done()
    return m


def _tiers(value: Any, key: str) -> tuple[FeeTier, ...]:
    if not isinstance(value, (list, tuple)) or not value:
        raise ConfigError(f"{key} must be a non-empty list of [volume, maker, taker]")
    if len(value) > MAX_FEE_TIERS:
        raise ConfigError(
            f"{key} has {len(value):,} tiers; at most {MAX_FEE_TIERS} (a market state on the wire lists "
            "at most 32 fee tiers)"
        )
    tiers: list[FeeTier] = []
    for i, row in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(row, (list, tuple)) or len(row) != 3:
            raise ConfigError(f"{where} must be [volume, maker, taker]")
        volume = BOUNDS["fees.volume"].check(f"{where}: volume", row[0])
        maker = BOUNDS["fees.rate"].check(f"{where}: maker rate", row[1])
        taker = BOUNDS["fees.rate"].check(f"{where}: taker rate", row[2])
        if i == 0 and volume != 0:
            raise ConfigError(f"{where}: the first tier must start at volume 0")
        if i > 0 and volume <= tiers[-1].volume:
            raise ConfigError(f"{where}: volume must be greater than the previous tier's")
        tiers.append(FeeTier(volume, maker, taker))
    return tuple(tiers)


def _fees(t: _Table) -> FeesSection:
    d = FeesSection()
    f = FeesSection(
        miner=_tiers(t.raw("miner", None), t.key("miner")) if "miner" in t.data else d.miner,
        background=_tiers(t.raw("background", None), t.key("background"))
        if "background" in t.data
        else d.background,
        window_buckets=t.integer("window_buckets", d.window_buckets),
        bucket_s=t.number("bucket_s", d.bucket_s),
    )
    t.used.update({"miner", "background"})
    t.done()
    return f


def _fundamental(t: _Table, base: Path) -> FundamentalSection:
    d = FundamentalSection()
    model = t.string("model", d.model, choices=("jump_diffusion", "gbm", "replay"))
    replay_file = t.string("replay_file", "")
    times: tuple[float, ...] = ()
    prices: tuple[float, ...] = ()
    if model == "replay":
        if not replay_file:
            raise ConfigError(f"{t.key('replay_file')} is required when model = 'replay'")
        path = Path(replay_file)
        times, prices = read_price_series(path if path.is_absolute() else base / path, t.key("replay_file"))
    elif replay_file:
        raise ConfigError(f"{t.key('replay_file')} is only used with model = 'replay'")
    f = FundamentalSection(
        model=model,
        sigma=t.number("sigma", d.sigma),
        mu=t.number("mu", d.mu),
        jump_rate=t.number("jump_rate", d.jump_rate),
        jump_sigma=t.number("jump_sigma", d.jump_sigma),
        update_s=t.number("update_s", d.update_s),
        intensity_sigma=t.number("intensity_sigma", d.intensity_sigma),
        intensity_time_s=t.number("intensity_time_s", d.intensity_time_s),
        intensity_jump_power=t.number("intensity_jump_power", d.intensity_jump_power),
        replay_file=replay_file,
        replay_times_s=times,
        replay_prices=prices,
    )
    t.done()
    return f


_MAX_LINE = 256  # characters of a line of a price series file, newline included


def read_price_series(path: Path, key: str = "replay_file") -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A replayed price series: a CSV file with a header ``timestamp_s,price`` (seconds from the
    simulation start, increasing; prices > 0), or a Parquet file with those columns (needs pyarrow).
    The first price is the series' value from the start. At most ``MAX_REPLAY_POINTS`` points (and a
    CSV file of at most ``MAX_REPLAY_BYTES``)."""
    where = f"{key} ({_show_path(path)})"
    rows: list[tuple[Any, Any]] = []
    try:
        if not path.is_file():  # a device or a pipe could be read forever
            raise ConfigError(
                f"{where}: cannot read: {'not a regular file' if path.exists() else 'no such file'}"
            )
        if path.suffix == ".parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError as e:
                raise ConfigError(f"{where}: reading Parquet needs pyarrow (pip install pyarrow)") from e
            try:
                n = pq.ParquetFile(path).metadata.num_rows
                if n > MAX_REPLAY_POINTS:
                    raise ConfigError(f"{where}: {n:,} rows; at most {MAX_REPLAY_POINTS:,}")
                table = pq.read_table(path)
            except (OSError, ValueError) as e:  # pyarrow's errors derive from these
                if isinstance(e, ConfigError):
                    raise
                raise ConfigError(f"{where}: not a readable Parquet file: {e}") from None
            missing = {"timestamp_s", "price"} - set(table.column_names)
            if missing:
                raise ConfigError(f"{where}: missing column(s) {', '.join(sorted(missing))}")
            rows = list(
                zip(table.column("timestamp_s").to_pylist(), table.column("price").to_pylist(), strict=True)
            )
        else:
            size = path.stat().st_size
            if size > MAX_REPLAY_BYTES:
                raise ConfigError(
                    f"{where}: {size:,} bytes; a price series file is at most {MAX_REPLAY_BYTES:,}"
                )
            with open(path, encoding="utf-8") as f:
                header = [c.strip() for c in f.readline(_MAX_LINE).split(",")]
                if header != ["timestamp_s", "price"]:
                    raise ConfigError(f"{where}: the first line must be the header 'timestamp_s,price'")
                n = 1
                while line := f.readline(_MAX_LINE):
                    n += 1
                    if len(line) >= _MAX_LINE:
                        raise ConfigError(f"{where}: line {n:,} is longer than {_MAX_LINE - 1} characters")
                    if not line.strip():
                        continue
                    if len(rows) >= MAX_REPLAY_POINTS:
                        raise ConfigError(f"{where}: more than {MAX_REPLAY_POINTS:,} rows")
                    cells = line.split(",")
                    try:
                        if len(cells) != 2:
                            raise ValueError
                        rows.append((float(cells[0]), float(cells[1])))
                    except ValueError:
                        raise ConfigError(
                            f"{where}: line {n:,} is not 'timestamp_s,price': {_show(line.rstrip())}"
                        ) from None
    except OSError as e:
        raise ConfigError(f"{where}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{where}: not UTF-8 text") from None
    if not rows:
        raise ConfigError(f"{where}: the series is empty")
    previous = -math.inf
    for i, (ts, price) in enumerate(rows):
        if not (_real(ts) and 0 <= ts <= MAX_TIME_S and ts > previous):
            raise ConfigError(
                f"{where}: row {i + 1:,}: timestamps must be >= 0, increasing and at most 100 years "
                f"({MAX_TIME_S:,} s), got {_show(ts)}"
            )
        if not (_real(price) and price > 0):
            raise ConfigError(
                f"{where}: row {i + 1:,}: price must be a finite number > 0, got {_show(price)}"
            )
        previous = ts
    return tuple(float(r[0]) for r in rows), tuple(float(r[1]) for r in rows)


def _real(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and abs(x) < 2**1000 and math.isfinite(x)


def _populations(value: Any) -> tuple[Population, ...]:
    if not isinstance(value, (list, tuple)):
        raise ConfigError("population must be an array of tables ([[population]])")
    out = []
    for i, raw in enumerate(value):
        t = _Table(raw, f"population[{i}]", "population")
        model = t.string("model")
        if not _is_name(model):
            raise ConfigError(
                f"{t.key('model')} must be a model name (taos.simulator.agent_models()), got {_show(model)}"
            )
        latency = t.raw("latency_s", [0.001, 0.01])
        if not isinstance(latency, (list, tuple)) or len(latency) != 2:
            raise ConfigError(f"{t.key('latency_s')} must be [min, max] seconds with 0 <= min <= max")
        lat = tuple(
            BOUNDS["population.latency_s"].check(f"{t.key('latency_s')}[{k}]", latency[k]) for k in (0, 1)
        )
        if lat[0] > lat[1]:
            raise ConfigError(f"{t.key('latency_s')} must be [min, max] seconds with 0 <= min <= max")
        params_table = t.table("params", "population.params")
        params = {}
        for name in params_table.data:
            if not _is_name(name):
                raise ConfigError(f"{params_table.key(name)}: not a parameter name")
            params[name] = BOUNDS["population.params"].check(params_table.key(name), params_table.data[name])
        out.append(
            Population(
                model=model,
                count=t.integer("count"),
                base=t.number("base"),
                quote=t.number("quote"),
                latency_s=(float(lat[0]), float(lat[1])),
                params=params,
            )
        )
        t.done()
    return tuple(out)


def _is_name(s: Any) -> bool:
    return (
        isinstance(s, str) and 0 < len(s) <= MAX_NAME_CHARS and s.isascii() and s.replace("_", "a").isalnum()
    )


# --- checks across keys ---------------------------------------------------------------------------


def check(config: Config) -> None:
    """Checks a typed config: every key's own range again (a Config may be built without
    ``from_dict``) and the checks across keys: the market's units, money and prices in the engine's
    integer units, fee tiers, the price processes' range, agent ids and the work of one step. Not
    the memory: see ``check_memory``. ``to_core`` calls it, so a config it accepts converts without
    overflow."""
    for key, bound, value in _numeric_values(config):
        BOUNDS[bound].check(key, value)
    for i, p in enumerate(config.populations):
        if not _is_name(p.model):
            raise ConfigError(f"population[{i}].model must be a model name, got {_show(p.model)}")
        if p.latency_s[0] > p.latency_s[1]:
            raise ConfigError(f"population[{i}].latency_s must be [min, max] seconds with 0 <= min <= max")
    m = config.market
    units = quote_units(m)
    start_ticks = m.start_price / m.tick_size
    if not (math.isfinite(start_ticks) and 1 <= start_ticks <= MAX_PRICE_TICKS):
        raise ConfigError(
            f"market.start_price / market.tick_size = {_show(start_ticks)} ticks must be in [1, "
            f"{MAX_PRICE_TICKS:,}] (the engine's order prices), with start_price = {_show(m.start_price)} "
            f"and tick_size = {_show(m.tick_size)}"
        )
    _check_agents(config)
    _check_supply(config, units)
    for name in ("miner", "background"):
        _core_tiers(getattr(config.fees, name), f"fees.{name}", units)
    window_s = config.fees.window_buckets * config.fees.bucket_s
    if window_s > MAX_TIME_S:
        raise ConfigError(
            f"fees.window_buckets x fees.bucket_s = {config.fees.window_buckets:,} x {_show(config.fees.bucket_s)} s "
            f"= {_show(window_s)} s must be <= {MAX_TIME_S:,} s (100 years; the fee window travels as int64 ns)"
        )
    for name, max_log in (("fundamental", MAX_LOG_FUNDAMENTAL_TICKS), ("signal", MAX_LOG_SIGNAL)):
        _check_process(getattr(config, name), name, config, max_log)


def _numeric_values(config: Config) -> Iterator[tuple[str, str, Any]]:
    """(key, its BOUNDS entry, value) for every numeric value of a typed config."""
    for section in ("simulation", "market", "miners"):
        obj = getattr(config, section)
        for name in obj.__dataclass_fields__:
            yield f"{section}.{name}", f"{section}.{name}", getattr(obj, name)
    for name in ("window_buckets", "bucket_s"):
        yield f"fees.{name}", f"fees.{name}", getattr(config.fees, name)
    for tiers in ("miner", "background"):
        ts = getattr(config.fees, tiers)
        if not isinstance(ts, tuple) or not ts or len(ts) > MAX_FEE_TIERS:
            raise ConfigError(f"fees.{tiers} must hold 1 to {MAX_FEE_TIERS} tiers")
        for i, t in enumerate(ts):
            yield f"fees.{tiers}[{i}]: volume", "fees.volume", t.volume
            yield f"fees.{tiers}[{i}]: maker rate", "fees.rate", t.maker
            yield f"fees.{tiers}[{i}]: taker rate", "fees.rate", t.taker
    for section in ("fundamental", "signal"):
        obj = getattr(config, section)
        for name, bound in _PROCESS.items():
            if bound is not None:
                yield f"{section}.{name}", f"{section}.{name}", getattr(obj, name)
    for i, p in enumerate(config.populations):
        for name in ("count", "base", "quote"):
            yield f"population[{i}].{name}", f"population.{name}", getattr(p, name)
        for k in (0, 1):
            yield f"population[{i}].latency_s[{k}]", "population.latency_s", p.latency_s[k]
        for name, v in p.params.items():
            yield f"population[{i}].params.{_key_name(name)}", "population.params", v


def quote_units(market: MarketSection) -> int:
    """Quote units per unit of quote currency: 1 / (tick_size x lot_size), which must be a whole
    number in [1, MAX_NOTIONAL]."""
    unit = market.tick_size * market.lot_size
    exact = 1.0 / unit if unit > 0 else math.inf
    where = f"market.tick_size = {_show(market.tick_size)}, market.lot_size = {_show(market.lot_size)}"
    if not math.isfinite(exact) or exact > MAX_NOTIONAL:
        raise ConfigError(
            f"market: 1 / (tick_size x lot_size) must be at most {MAX_NOTIONAL:,} quote units per unit of "
            f"currency (the engine's largest notional), got {_show(exact)} ({where})"
        )
    units = round(exact)
    if units < 1 or abs(exact - units) > 1e-6 * units:
        raise ConfigError(f"market: 1 / (tick_size x lot_size) must be a whole number, got {exact} ({where})")
    return units


def _int_of(x: float) -> int | None:
    """round(x), or None when x is not finite (the conversion would raise)."""
    return round(x) if math.isfinite(x) else None


def _miner_balances(config: Config, units: int) -> tuple[int | None, int | None]:
    """Each miner's starting base (lots) and quote (quote units) per book."""
    m, market = config.miners, config.market
    base = _int_of(m.wealth * m.base_fraction / market.start_price / market.lot_size)
    quote = _int_of(m.wealth * (1 - m.base_fraction) * units)
    return base, quote


def _representable(amount: int | None, what: str) -> int:
    """A balance known to fit (a loaded config passed ``_check_supply``)."""
    if amount is None:
        raise ValueError(f"{what}: a starting balance is too large to be represented")
    return amount


def _agent_balances(p: Population, market: MarketSection, units: int) -> tuple[int | None, int | None]:
    return _int_of(p.base / market.lot_size), _int_of(p.quote * units)


def _check_supply(config: Config, units: int) -> None:
    """One book's base (lots) and quote (quote units), summed over every account, stay below
    MAX_SUPPLY (the engine refuses to open an account beyond it: no balance can then overflow)."""
    slots, m = config.miners.slots, config.market
    mb, mq = _miner_balances(config, units)
    lots = (
        f"lots of market.lot_size = {_show(m.lot_size)}; a miner's base is its wealth x miners.base_fraction "
        f"at market.start_price = {_show(m.start_price)}"
    )
    quote = f"quote units of market.tick_size x market.lot_size = {_show(m.tick_size)} x {_show(m.lot_size)}"
    for what, unit, k, miner in (("base", lots, 0, mb), ("quote", quote, 1, mq)):
        total: int | None = None if miner is None else slots * miner
        parts = [f"miners.slots x miners.wealth ({slots:,} x {_show(config.miners.wealth)})"]
        for i, p in enumerate(config.populations):
            each = _agent_balances(p, config.market, units)[k]
            total = None if total is None or each is None else total + p.count * each
            parts.append(f"population[{i}].count x .{what} ({p.count:,} x {_show(getattr(p, what))})")
        if total is None or total > MAX_SUPPLY:
            shown = "more than can be represented" if total is None else _show(total)
            raise ConfigError(
                f"the {what} balances of one book add up to {shown} ({unit}): {' + '.join(parts)}; the "
                f"engine keeps a book's total at most 2^62 = {MAX_SUPPLY:,} so that no balance can overflow int64"
            )


def _check_agents(config: Config) -> None:
    total = config.miners.slots + sum(p.count for p in config.populations)
    if total >= MAX_AGENTS:
        counts = ", ".join(f"population[{i}].count = {p.count:,}" for i, p in enumerate(config.populations))
        raise ConfigError(
            f"miners.slots = {config.miners.slots:,} and {counts} make {total:,} agents per book; agent ids "
            f"must be below 2^24 = {MAX_AGENTS:,}"
        )


def _core_tiers(tiers: tuple[FeeTier, ...], key: str, units: int) -> list[tuple[int, int, int]]:
    """Tiers in engine units (volume in quote units, rates in ppb), checked as the engine checks them."""
    out: list[tuple[int, int, int]] = []
    for i, t in enumerate(tiers):
        volume = _int_of(t.volume * units)
        if volume is None or volume > MAX_INT64:
            raise ConfigError(
                f"{key}[{i}]: volume {_show(t.volume)} is {_show(t.volume * units)} quote units; the engine's "
                f"volumes are int64 (at most {MAX_INT64:,})"
            )
        maker, taker = round(t.maker * RATE_SCALE), round(t.taker * RATE_SCALE)
        for name, ppb, rate in (("maker", maker, t.maker), ("taker", taker, t.taker)):
            if not -RATE_SCALE < ppb < RATE_SCALE:
                raise ConfigError(
                    f"{key}[{i}]: {name} rate {_show(rate)} rounds to {ppb:,} ppb; it must be in (-1, 1), "
                    "i.e. strictly between -1e9 and 1e9 ppb"
                )
        if i > 0 and volume <= out[-1][0]:
            raise ConfigError(
                f"{key}[{i}]: volume {_show(t.volume)} is not above the previous tier's once rounded to quote "
                f"units ({volume:,})"
            )
        out.append((volume, maker, taker))
    lm = min(range(len(out)), key=lambda k: out[k][1])
    lt = min(range(len(out)), key=lambda k: out[k][2])
    if out[lm][1] + out[lt][2] < 0:
        raise ConfigError(
            f"{key}: the lowest maker rate ({key}[{lm}] maker {_show(tiers[lm].maker)}) plus the lowest taker "
            f"rate ({key}[{lt}] taker {_show(tiers[lt].taker)}) is below 0: two agents of this class trading "
            "with each other would create money at every trade until the balances overflow; a rebate must be "
            "paid for by the other side's fee"
        )
    return out


def _check_process(f: FundamentalSection, key: str, config: Config, max_log: float) -> None:
    """A price process (the fundamental or the signal): its replayed series in engine units, its
    updates per step, and its range over the duration."""
    s, m = config.simulation, config.market
    if f.model not in ("jump_diffusion", "gbm", "replay"):
        raise ConfigError(f"{key}.model must be one of jump_diffusion, gbm, replay, got {_show(f.model)}")
    updates = s.publish_interval_s / f.update_s
    if updates > MAX_UPDATES_PER_STEP:
        raise ConfigError(
            f"simulation.publish_interval_s / {key}.update_s = {_show(s.publish_interval_s)} / {_show(f.update_s)} "
            f"= {updates:,.0f} updates per book in one step; at most {MAX_UPDATES_PER_STEP:,} keep a step short "
            "(the validator answers signals and miners between steps)"
        )
    if f.intensity_sigma > 0 and f.intensity_time_s < f.update_s:
        raise ConfigError(
            f"{key}.intensity_time_s = {_show(f.intensity_time_s)} must be >= {key}.update_s = "
            f"{_show(f.update_s)}: the news intensity changes once per update"
        )
    if f.model == "replay":
        times, prices = f.replay_times_s, f.replay_prices
        if len(times) != len(prices) or not times or len(times) > MAX_REPLAY_POINTS:
            raise ConfigError(
                f"{key}.replay_file: 1 to {MAX_REPLAY_POINTS:,} points of (time, price) are required"
            )
        previous = -1
        for i, (ts, price) in enumerate(zip(times, prices, strict=True)):
            ns = round(ts * NS_PER_S) if _real(ts) and 0 <= ts <= MAX_TIME_S else None
            if ns is None or ns <= previous:
                raise ConfigError(
                    f"{key}.replay_file: row {i + 1:,}: time {_show(ts)} s must be in [0, {MAX_TIME_S:,}] and "
                    "above the previous row's once rounded to nanoseconds"
                )
            ticks = price / m.tick_size if _real(price) else math.nan
            if not (ticks > 0 and ticks <= MAX_PRICE_TICKS):
                raise ConfigError(
                    f"{key}.replay_file: row {i + 1:,}: price {_show(price)} is {_show(ticks)} ticks; it must be "
                    f"in (0, {MAX_PRICE_TICKS:,}] ticks (the engine's order prices)"
                )
            previous = ns
        return
    # The log price after the whole duration has mean log(start) + (mu - sigma^2/2) days and
    # variance sigma^2 days + jump_rate x updates x jump_sigma^2 (independent Gaussian steps).
    days = s.duration_s / 86_400
    jump_rate = f.jump_rate if f.model == "jump_diffusion" else 0.0
    variance = f.sigma * f.sigma * days
    if jump_rate > 0:
        variance += jump_rate * (s.duration_s / f.update_s) * f.jump_sigma * f.jump_sigma
    # A news intensity keeps the mean variance but makes it vary: bounded by E[λ²] = exp(s²) times it.
    variance *= math.exp(f.intensity_sigma * f.intensity_sigma)
    drift = (f.mu - 0.5 * f.sigma * f.sigma) * days
    start = math.log(m.start_price / m.tick_size)
    reach = abs(drift) + PRICE_BAND_SD * math.sqrt(variance)
    room = max_log - start if key == "fundamental" else max_log - abs(start)
    if not (math.isfinite(reach) and reach <= room):
        what = (
            "the fundamental in ticks must stay below 2^62 (agents round it to int64)"
            if key == "fundamental"
            else "the signal must stay a finite nonzero double (within e^±700)"
        )
        raise ConfigError(
            f"{key}: with {key}.sigma = {_show(f.sigma)}, {key}.mu = {_show(f.mu)}, {key}.jump_rate = "
            f"{_show(jump_rate)}, {key}.jump_sigma = {_show(f.jump_sigma)}, {key}.update_s = {_show(f.update_s)} "
            f"and simulation.duration_s = {_show(s.duration_s)}, the log price may move by {reach:,.4g} (drift + "
            f"{PRICE_BAND_SD:g} standard deviations) from its start; at most {room:,.4g}: {what}"
        )


# --- memory ---------------------------------------------------------------------------------------

# Calibration (docs/config.md, "Memory"): bytes measured with the engine of this repository and
# rounded up. ACCOUNT: one account (176 bytes, its volume window's vector and the allocator's
# overhead) plus 8 bytes per fee window bucket. SCORING: the validator's per-(miner slot, book)
# state at its default settings (720 history columns of values and 720 of step volumes, 144 volume
# buckets, 8 bytes each, positions, snapshots): measured 7,144 before the step volumes, + 5,760. AGENT: a background agent object with its queue entries (measured
# 121-360 by model). EVENT: one event of a step, held by the engine's log, the step result, the
# notice index and the validator's copy (measured 190-230 in the engine alone). ORDER: a resting
# order with its queued instruction.
_ACCOUNT_BYTES = 240
_BUCKET_BYTES = 8
_SCORING_BYTES = 13_000
_AGENT_BYTES = 400
_EVENT_BYTES = 250
_ORDER_BYTES = 200
_BOOK_BYTES = 16_384
_THREAD_BYTES = 8 << 20  # a worker thread's stack
_REPLAY_POINT_BYTES = 16  # a time and a price, copied into every book's process
_REPLAY_PYTHON_BYTES = 96  # the same point in the Python tuples and the core config's lists

# Activity: events per wake-up (an upper figure: measured 1.5-3 in the default market) and the
# parameter that sets the wake-up period, with its default in the engine.
_ACTIVITY: dict[str, tuple[str, float, float]] = {
    "random_trader": ("mean_wakeup_s", 10.0, 3.0),
    "signal_trader": ("mean_wakeup_s", 10.0, 3.0),
    "stylized_trader": ("mean_wakeup_s", 90.0, 4.0),
    "market_maker": ("period_s", 1.0, 6.0),
    "imbalance_trader": ("child_interval_s", 1.0, 3.0),
    "initialization": ("tau_s", 300.0, 0.0),  # its events: `orders` placements, cancelled after tau_s
    # its shown orders replaced and filled (measured about 10 per wake-up in the default market)
    "latent_book": ("period_s", 1.0, 24.0),
}
_INIT_ORDERS = 4  # initialization.orders by default
_LATENT_GRID, _LATENT_LEVELS = 400, 40  # latent_book.grid_ticks and max_levels by default
# Stylized traders wake 1 + activity_gain·n times as often under news n (docs/models.md); in the
# default market n stays mostly below this level, at which the estimate is taken.
_NEWS_LEVEL = 0.004
_ACTIVITY_GAIN = 1_000.0  # stylized_trader.activity_gain by default
_STYLIZED_HISTORY = (20.0, 0.01, 10_000)  # history, sigma_f by default; the engine's cap on the memory


@dataclass(frozen=True)
class MemoryEstimate:
    """The memory a configuration needs at most, about: ``total`` bytes, and ``parts``, each
    (what, bytes), largest first."""

    total: int
    parts: tuple[tuple[str, int], ...]


def _events_per_second(p: Population) -> float:
    """Background events per second of one agent of ``p`` in steady state (an upper estimate)."""
    name, default, per_wake = _ACTIVITY.get(p.model, ("", 1.0, 6.0))
    given = p.params.get(name, default)
    period = given if given > 0 else default  # the engine refuses periods <= 0 (to_core)
    if p.model == "initialization":
        return 2 * _param(p, "orders", _INIT_ORDERS, 1, 1_000) / max(period, MIN_INTERVAL_S)
    if p.model == "stylized_trader":
        per_wake *= 1 + _param(p, "activity_gain", _ACTIVITY_GAIN, 0, 1e9) * _NEWS_LEVEL
    return per_wake / max(period, 1e-9)


def events_per_second(config: Config) -> float:
    """About the most background events one book produces per simulated second in steady state:
    per agent, events per wake-up (an upper figure per model) over its wake-up period (from its
    parameters, else the engine's default). Initialization agents' first placements come on top
    in the first step. Stylized traders' news-driven activity is taken at a high news level of the
    default market (``_NEWS_LEVEL``)."""
    return sum(p.count * _events_per_second(p) for p in config.populations)


def _param(p: Population, name: str, default: float, lo: float, hi: float) -> float:
    """A parameter for the estimate, in the engine's range (out-of-range values are refused by
    ``to_core``)."""
    return min(hi, max(lo, p.params.get(name, default)))


def _agent_bytes(p: Population) -> float:
    extra = 0.0
    if p.model == "stylized_trader":
        history, sigma_f, cap = _STYLIZED_HISTORY
        h = _param(p, "history", history, 1, cap) * (1 + 1.4 * _param(p, "sigma_f", sigma_f, 0, 1e6))
        extra = 8 * min(cap, max(2.0, h))
    elif p.model == "initialization":
        extra = (_ORDER_BYTES + 8) * _param(p, "orders", _INIT_ORDERS, 1, 1_000)
    elif p.model == "latent_book":
        # its grid (8 bytes per tick and component, at most three) and its shown orders
        cells = 2 * _param(p, "grid_ticks", _LATENT_GRID, 10, 100_000) + 1
        extra = 8 * 3 * cells + (_ORDER_BYTES + 24) * 2 * _param(p, "max_levels", _LATENT_LEVELS, 1, 1_000)
    return _AGENT_BYTES + extra


def estimate_memory(config: Config) -> MemoryEstimate:
    """About the most memory a validator (or ``taos local``) running ``config`` needs beyond the
    interpreter: accounts, the scoring state, background agents and their orders, one step's events,
    the largest state and replies the protocol allows, replayed series and worker threads."""
    s, fees = config.simulation, config.fees
    books, slots = s.books, config.miners.slots
    account = _ACCOUNT_BYTES + _BUCKET_BYTES * fees.window_buckets
    agents = sum(p.count for p in config.populations)
    parts: list[tuple[str, float]] = []
    parts.append(
        (
            f"miner accounts and scoring state (simulation.books = {books:,} x miners.slots = {slots:,}, "
            f"fees.window_buckets = {fees.window_buckets:,})",
            books * slots * (account + _SCORING_BYTES),
        )
    )
    counts = ", ".join(f"population[{i}].count = {p.count:,}" for i, p in enumerate(config.populations))
    parts.append(
        (
            f"background agents ({agents:,} per book: {counts})",
            books * sum(p.count * (account + _agent_bytes(p)) for p in config.populations),
        )
    )
    rate = events_per_second(config)
    burst = sum(
        p.count * 2 * _param(p, "orders", _INIT_ORDERS, 1, 1_000)
        for p in config.populations
        if p.model == "initialization"
    )
    fast = [
        f"population[{i}].params.{_ACTIVITY[p.model][0]} = {_show(p.params[_ACTIVITY[p.model][0]])}"
        for i, p in enumerate(config.populations)
        if p.model in _ACTIVITY and _ACTIVITY[p.model][0] in p.params
    ]
    parts.append(
        (
            f"one step's events (simulation.publish_interval_s = {_show(s.publish_interval_s)}, about "
            f"{rate:,.0f} events per book per second{': ' + ', '.join(fast) if fast else ''})",
            books * (rate * s.publish_interval_s + burst) * _EVENT_BYTES,
        )
    )
    parts.append(
        (
            f"the largest state and miner replies of one step ({books:,} books, {slots:,} slots)",
            max_state_bytes(books) + slots * max_reply_bytes(books),
        )
    )
    for name in ("fundamental", "signal"):
        f = getattr(config, name)
        if f.replay_times_s:
            n = len(f.replay_times_s)
            parts.append(
                (
                    f"{name}.replay_file ({n:,} points in each of {books:,} books)",
                    n * (_REPLAY_POINT_BYTES * (books + 2) + _REPLAY_PYTHON_BYTES),
                )
            )
    workers = min(s.threads or (os.cpu_count() or 1), books)
    parts.append((f"books and {workers} worker threads", workers * _THREAD_BYTES + books * _BOOK_BYTES))
    ordered = sorted(((what, int(min(b, 2**62))) for what, b in parts), key=lambda x: -x[1])
    return MemoryEstimate(sum(b for _, b in ordered), tuple(ordered))


def _status_bytes(field_name: str) -> int:
    """A field of /proc/self/status in bytes (0 where there is none)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def memory_limit() -> tuple[int, str]:
    """The bytes this process may still use, and what limits it: the smallest of the machine's
    physical memory, its cgroup's memory limit (both less this process's resident memory) and its
    address-space and data limits (``ulimit -v``, ``ulimit -d``, less what it has mapped)."""
    rss = _status_bytes("VmRSS")
    limits: list[tuple[int, str]] = []
    try:
        physical = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        limits.append(
            (
                physical - rss,
                f"the machine's physical memory ({_gib(physical)}) less this process's {_gib(rss)}",
            )
        )
    except (ValueError, OSError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:
            limits.append(
                (
                    int(text) - rss,
                    f"the cgroup's memory limit ({_gib(int(text))}) less this process's {_gib(rss)}",
                )
            )
        break
    try:
        import resource

        for rlimit, used_field, what in (
            (resource.RLIMIT_AS, "VmSize", "the address-space limit (ulimit -v)"),
            (resource.RLIMIT_DATA, "VmData", "the data limit (ulimit -d)"),
        ):
            soft = resource.getrlimit(rlimit)[0]
            if soft != resource.RLIM_INFINITY:
                used = _status_bytes(used_field)
                limits.append((soft - used, f"{what} of {_gib(soft)} less the {_gib(used)} mapped"))
    except ImportError:  # not on Unix
        pass
    if not limits:
        return 2**63, "no limit known"
    return min(limits)


def check_memory(config: Config, limit: int | None = None) -> MemoryEstimate:
    """Refuses a configuration whose ``estimate_memory`` exceeds ``limit`` bytes (default: what
    ``memory_limit()`` finds for this process) with a ConfigError naming the keys and the parts."""
    estimate = estimate_memory(config)
    what = "given by the caller"
    if limit is None:
        limit, what = memory_limit()
    if estimate.total > limit:
        parts = "; ".join(f"{p}: {_gib(b)}" for p, b in estimate.parts if b >= estimate.total / 100)
        raise ConfigError(
            f"memory: this configuration needs about {_gib(estimate.total)}, more than the limit of "
            f"{_gib(max(limit, 0))} ({what}): {parts}"
        )
    return estimate


# --- conversion -----------------------------------------------------------------------------------

# Models that convert between ticks/lots and currency/base units, and the sizes they take; unless a
# population sets them, they receive the market's.
MODELS_WITH_MARKET_UNITS: dict[str, tuple[str, ...]] = {
    "latent_book": ("lot_size",),
    "market_maker": ("tick_size", "lot_size"),
    "stylized_trader": ("tick_size", "lot_size"),
}


def _process(core: Any, section: FundamentalSection, market: MarketSection) -> Any:
    """Fills a core FundamentalConfig from a process section (prices in ticks)."""
    core.start_price_ticks = market.start_price / market.tick_size
    core.sigma_per_sqrt_day = section.sigma
    core.mu_per_day = section.mu
    core.jump_rate = section.jump_rate if section.model == "jump_diffusion" else 0.0
    core.jump_sigma = section.jump_sigma
    core.update_s = section.update_s
    live = section.model != "replay"
    core.intensity_sigma = section.intensity_sigma if live else 0.0
    core.intensity_time_s = section.intensity_time_s
    core.intensity_jump_power = section.intensity_jump_power
    core.replay_ts_ns = [round(ts * NS_PER_S) for ts in section.replay_times_s]
    core.replay_price_ticks = [p / market.tick_size for p in section.replay_prices]
    return core


def _core_params(config: Config) -> list[list[tuple[str, float]]]:
    """Each population's parameters as the engine takes them, checked by the engine (ImportError
    without the extension)."""
    from taos.simulator import agent_models, validate_agent_params

    models = agent_models()
    out = []
    for i, p in enumerate(config.populations):
        if p.model not in models:
            raise ConfigError(
                f"population[{i}].model: unknown agent model {_show(p.model)} (known: {', '.join(models)})"
            )
        given = dict(p.params)
        for unit in MODELS_WITH_MARKET_UNITS.get(p.model, ()):
            given.setdefault(unit, getattr(config.market, unit))
        params = list(given.items())
        try:
            validate_agent_params(p.model, params)
        except ValueError as e:
            raise ConfigError(f"population[{i}].params: {e}") from None
        out.append(params)
    return out


def to_core(config: Config) -> SimulationConfig:
    """The core's SimulationConfig for a validated Config (decimals → integer units); ``check``
    runs first, so every converted value fits the engine's types.

    Rounding: balances and volumes to the nearest lot / quote unit; the start price stays a real
    number of ticks (the fundamental process is continuous); rates to the nearest ppb."""
    from taos.simulator import FeeTier as CoreTier
    from taos.simulator import PopulationConfig, SimulationConfig

    check(config)
    units = quote_units(config.market)

    def tiers(ts: tuple[FeeTier, ...], key: str) -> list[CoreTier]:
        return [CoreTier(*t) for t in _core_tiers(ts, key, units)]

    c = SimulationConfig()
    c.books = config.simulation.books
    c.seed = config.simulation.seed
    c.threads = config.simulation.threads
    c.miner_slots = config.miners.slots
    miner_base, miner_quote = _miner_balances(config, units)
    c.miner_base_lots, c.miner_quote = (
        _representable(miner_base, "miners"),
        _representable(miner_quote, "miners"),
    )
    c.miner_fee_tiers = tiers(config.fees.miner, "fees.miner")
    c.background_fee_tiers = tiers(config.fees.background, "fees.background")
    c.volume_window_buckets = config.fees.window_buckets
    c.volume_bucket_ns = round(config.fees.bucket_s * NS_PER_S)
    c.fundamental = _process(c.fundamental, config.fundamental, config.market)
    c.signal = _process(c.signal, config.signal, config.market)
    pops = []
    for p, params in zip(config.populations, _core_params(config), strict=True):
        base_lots, quote = _agent_balances(p, config.market, units)
        pops.append(
            PopulationConfig(
                p.model,
                p.count,
                _representable(base_lots, f"population {p.model}"),
                _representable(quote, f"population {p.model}"),
                params,
                round(p.latency_s[0] * NS_PER_S),
                round(p.latency_s[1] * NS_PER_S),
            )
        )
    c.populations = pops
    return c
