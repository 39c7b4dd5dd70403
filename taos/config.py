"""Simulation configuration: a TOML file → typed, validated objects → the core's plain structs.

``load(path)`` (or ``loads(text)``) reads and checks every value: an unknown key, a value of the
wrong type or out of range raises ``ConfigError`` with a message naming the key. ``to_core(config)``
converts decimals to the engine's integer units (see ``docs/config.md``) and returns the
``taos.simulator.SimulationConfig`` the C++ core runs; the core parses no files.

This module imports the C++ extension only inside ``to_core``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import tomllib

if TYPE_CHECKING:
    from taos.simulator import SimulationConfig


class ConfigError(ValueError):
    """A configuration value is missing, unknown, of the wrong type or out of range."""


_REQUIRED = object()


class _Table:
    """One TOML table being read: typed getters with ranges, and a check for unknown keys."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must be a table")
        self.data = data
        self.path = path
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.path}.{name}" if self.path else name

    def number(
        self,
        name: str,
        default: Any = _REQUIRED,
        *,
        lo: float | None = None,
        hi: float | None = None,
        lo_open: bool = False,
        integer: bool = False,
    ) -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is _REQUIRED:
                raise ConfigError(f"{self.key(name)} is required")
            return default
        v = self.data[name]
        kind = "an integer" if integer else "a number"
        if isinstance(v, bool) or not isinstance(v, int if integer else (int, float)):
            raise ConfigError(f"{self.key(name)} must be {kind}, got {type(v).__name__} {v!r}")
        if not integer and not math.isfinite(v):
            raise ConfigError(f"{self.key(name)} must be finite, got {v!r}")
        if lo is not None and (v <= lo if lo_open else v < lo):
            raise ConfigError(f"{self.key(name)} must be {'>' if lo_open else '>='} {lo}, got {v!r}")
        if hi is not None and v > hi:
            raise ConfigError(f"{self.key(name)} must be <= {hi}, got {v!r}")
        return int(v) if integer else float(v)

    def integer(
        self, name: str, default: Any = _REQUIRED, *, lo: int | None = None, hi: int | None = None
    ) -> int:
        return int(self.number(name, default, lo=lo, hi=hi, integer=True))

    def string(self, name: str, default: Any = _REQUIRED, *, choices: tuple[str, ...] | None = None) -> str:
        self.used.add(name)
        if name not in self.data:
            if default is _REQUIRED:
                raise ConfigError(f"{self.key(name)} is required")
            return str(default)
        v = self.data[name]
        if not isinstance(v, str):
            raise ConfigError(f"{self.key(name)} must be a string, got {type(v).__name__} {v!r}")
        if choices is not None and v not in choices:
            raise ConfigError(f"{self.key(name)} must be one of {', '.join(choices)}, got {v!r}")
        return v

    def table(self, name: str) -> _Table:
        self.used.add(name)
        return _Table(self.data.get(name, {}), self.key(name))

    def raw(self, name: str, default: Any) -> Any:
        self.used.add(name)
        return self.data.get(name, default)

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(f"{self.key(unknown[0])}: unknown key")


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


def load(path: str | Path) -> Config:
    """Reads and validates a TOML config file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"{p}: cannot read: {e.strerror or e}") from e
    return loads(text, source=str(p))


def loads(text: str, source: str = "<config>") -> Config:
    """Validates a config given as TOML text."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{source}: not valid TOML: {e}") from e
    return from_dict(data, source)


def from_dict(data: dict[str, Any], source: str = "<config>") -> Config:
    """Validates a config given as the dict a TOML file parses to (e.g. after overriding keys).
    Relative replay files are resolved against ``source``'s folder (the working folder for
    ``"<config>"``)."""
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
    return config


def _simulation(t: _Table) -> SimulationSection:
    d = SimulationSection()
    s = SimulationSection(
        books=t.integer("books", d.books, lo=1, hi=100_000),
        seed=t.integer("seed", d.seed, lo=0, hi=2**63 - 1),
        threads=t.integer("threads", d.threads, lo=0, hi=1_024),
        duration_s=t.number("duration_s", d.duration_s, lo=0, lo_open=True),
        publish_interval_s=t.number("publish_interval_s", d.publish_interval_s, lo=0, lo_open=True),
        grace_period_s=t.number("grace_period_s", d.grace_period_s, lo=0),
    )
    t.done()
    return s


def _market(t: _Table) -> MarketSection:
    d = MarketSection()
    m = MarketSection(
        tick_size=t.number("tick_size", d.tick_size, lo=0, lo_open=True),
        lot_size=t.number("lot_size", d.lot_size, lo=0, lo_open=True),
        start_price=t.number("start_price", d.start_price, lo=0, lo_open=True),
    )
    t.done()
    return m


def _miners(t: _Table) -> MinersSection:
    d = MinersSection()
    m = MinersSection(
        slots=t.integer("slots", d.slots, lo=0, hi=65_536),
        wealth=t.number("wealth", d.wealth, lo=0),
        base_fraction=t.number("base_fraction", d.base_fraction, lo=0, hi=1),
    )
    t.done()
    return m


def _tiers(value: Any, key: str) -> tuple[FeeTier, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{key} must be a non-empty list of [volume, maker, taker]")
    tiers: list[FeeTier] = []
    for i, row in enumerate(value):
        where = f"{key}[{i}]"
        if not isinstance(row, list) or len(row) != 3:
            raise ConfigError(f"{where} must be [volume, maker, taker]")
        if any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in row):
            raise ConfigError(f"{where} must hold three numbers")
        volume, maker, taker = (float(x) for x in row)
        if volume < 0:
            raise ConfigError(f"{where}: volume must be >= 0")
        for name, rate in (("maker", maker), ("taker", taker)):
            if not -1 < rate < 1:
                raise ConfigError(f"{where}: {name} rate must be in (-1, 1), got {rate}")
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
        window_buckets=t.integer("window_buckets", d.window_buckets, lo=1, hi=100_000),
        bucket_s=t.number("bucket_s", d.bucket_s, lo=0, lo_open=True),
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
        sigma=t.number("sigma", d.sigma, lo=0),
        mu=t.number("mu", d.mu),
        jump_rate=t.number("jump_rate", d.jump_rate, lo=0, hi=1),
        jump_sigma=t.number("jump_sigma", d.jump_sigma, lo=0),
        update_s=t.number("update_s", d.update_s, lo=0, lo_open=True),
        replay_file=replay_file,
        replay_times_s=times,
        replay_prices=prices,
    )
    t.done()
    return f


def read_price_series(path: Path, key: str = "replay_file") -> tuple[tuple[float, ...], tuple[float, ...]]:
    """A replayed price series: a CSV file with a header ``timestamp_s,price`` (seconds from the
    simulation start, increasing; prices > 0), or a Parquet file with those columns (needs pyarrow).
    The first price is the series' value from the start."""
    where = f"{key} ({path})"
    try:
        if path.suffix == ".parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError as e:
                raise ConfigError(f"{where}: reading Parquet needs pyarrow (pip install pyarrow)") from e
            table = pq.read_table(path)
            missing = {"timestamp_s", "price"} - set(table.column_names)
            if missing:
                raise ConfigError(f"{where}: missing column(s) {', '.join(sorted(missing))}")
            rows = list(
                zip(table.column("timestamp_s").to_pylist(), table.column("price").to_pylist(), strict=True)
            )
        else:
            lines = path.read_text(encoding="utf-8").splitlines()
            header = [c.strip() for c in lines[0].split(",")] if lines else []
            if header != ["timestamp_s", "price"]:
                raise ConfigError(f"{where}: the first line must be the header 'timestamp_s,price'")
            rows = []
            for n, line in enumerate(lines[1:], start=2):
                if not line.strip():
                    continue
                cells = line.split(",")
                try:
                    if len(cells) != 2:
                        raise ValueError
                    rows.append((float(cells[0]), float(cells[1])))
                except ValueError:
                    raise ConfigError(f"{where}: line {n} is not 'timestamp_s,price': {line!r}") from None
    except OSError as e:
        raise ConfigError(f"{where}: cannot read: {e.strerror or e}") from e
    if not rows:
        raise ConfigError(f"{where}: the series is empty")
    previous = -math.inf
    for i, (ts, price) in enumerate(rows):
        if not (isinstance(ts, (int, float)) and math.isfinite(ts) and ts >= 0 and ts > previous):
            raise ConfigError(f"{where}: row {i + 1}: timestamps must be >= 0 and increasing, got {ts!r}")
        if not (isinstance(price, (int, float)) and math.isfinite(price) and price > 0):
            raise ConfigError(f"{where}: row {i + 1}: price must be a finite number > 0, got {price!r}")
        previous = ts
    return tuple(float(r[0]) for r in rows), tuple(float(r[1]) for r in rows)


def _populations(value: Any) -> tuple[Population, ...]:
    if not isinstance(value, list):
        raise ConfigError("population must be an array of tables ([[population]])")
    out = []
    for i, raw in enumerate(value):
        t = _Table(raw, f"population[{i}]")
        latency = t.raw("latency_s", [0.001, 0.01])
        if (
            not isinstance(latency, list)
            or len(latency) != 2
            or any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in latency)
            or not 0 <= latency[0] <= latency[1]
        ):
            raise ConfigError(f"{t.key('latency_s')} must be [min, max] seconds with 0 <= min <= max")
        params_table = t.table("params")
        params = {}
        for name in params_table.data:
            params[name] = params_table.number(name)
        out.append(
            Population(
                model=t.string("model"),
                count=t.integer("count", lo=0, hi=1_000_000),
                base=t.number("base", lo=0),
                quote=t.number("quote", lo=0),
                latency_s=(float(latency[0]), float(latency[1])),
                params=params,
            )
        )
        t.done()
    return tuple(out)


def quote_units(market: MarketSection) -> int:
    """Quote units per unit of quote currency: 1 / (tick_size x lot_size), which must be whole."""
    exact = 1.0 / (market.tick_size * market.lot_size)
    units = round(exact)
    if units < 1 or abs(exact - units) > 1e-6 * units:
        raise ConfigError(f"market: 1 / (tick_size x lot_size) must be a whole number, got {exact}")
    return units


# Models that convert between ticks/lots and currency/base units; unless a population
# sets them, they receive the market's tick and lot sizes.
MODELS_WITH_MARKET_UNITS = frozenset({"market_maker", "stylized_trader"})


def _process(core: Any, section: FundamentalSection, market: MarketSection) -> Any:
    """Fills a core FundamentalConfig from a process section (prices in ticks)."""
    core.start_price_ticks = market.start_price / market.tick_size
    core.sigma_per_sqrt_day = section.sigma
    core.mu_per_day = section.mu
    core.jump_rate = section.jump_rate if section.model == "jump_diffusion" else 0.0
    core.jump_sigma = section.jump_sigma
    core.update_s = section.update_s
    core.replay_ts_ns = [round(ts * 1e9) for ts in section.replay_times_s]
    core.replay_price_ticks = [p / market.tick_size for p in section.replay_prices]
    return core


def to_core(config: Config) -> SimulationConfig:
    """The core's SimulationConfig for a validated Config (decimals → integer units).

    Rounding: balances and volumes to the nearest lot / quote unit; the start price stays a real
    number of ticks (the fundamental process is continuous); rates to the nearest ppb."""
    from taos.simulator import FeeTier as CoreTier
    from taos.simulator import (
        PopulationConfig,
        SimulationConfig,
        rate_to_ppb,
        validate_agent_params,
    )

    units = quote_units(config.market)
    lot = config.market.lot_size

    def tiers(ts: tuple[FeeTier, ...]) -> list[CoreTier]:
        return [CoreTier(round(t.volume * units), rate_to_ppb(t.maker), rate_to_ppb(t.taker)) for t in ts]

    c = SimulationConfig()
    c.books = config.simulation.books
    c.seed = config.simulation.seed
    c.threads = config.simulation.threads
    c.miner_slots = config.miners.slots
    m = config.miners
    c.miner_base_lots = round(m.wealth * m.base_fraction / config.market.start_price / lot)
    c.miner_quote = round(m.wealth * (1 - m.base_fraction) * units)
    c.miner_fee_tiers = tiers(config.fees.miner)
    c.background_fee_tiers = tiers(config.fees.background)
    c.volume_window_buckets = config.fees.window_buckets
    c.volume_bucket_ns = round(config.fees.bucket_s * 1e9)
    c.fundamental = _process(c.fundamental, config.fundamental, config.market)
    c.signal = _process(c.signal, config.signal, config.market)
    pops = []
    for i, p in enumerate(config.populations):
        given = dict(p.params)
        if p.model in MODELS_WITH_MARKET_UNITS:
            given.setdefault("tick_size", config.market.tick_size)
            given.setdefault("lot_size", config.market.lot_size)
        params = list(given.items())
        try:
            validate_agent_params(p.model, params)
        except ValueError as e:
            raise ConfigError(f"population[{i}]: {e}") from e
        pops.append(
            PopulationConfig(
                p.model,
                p.count,
                round(p.base / lot),
                round(p.quote * units),
                params,
                round(p.latency_s[0] * 1e9),
                round(p.latency_s[1] * 1e9),
            )
        )
    c.populations = pops
    return c
