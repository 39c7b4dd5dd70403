"""The league of reference agents: does a scoring preset pay for trading skill?

Reference agents of known skill (``agents/league/``: informed, market maker, momentum, mean
reversion, random, holder, dust, do-nothing, spread burner, two colluding wash traders) trade
through the real validator loop (in process) on the default market, shortened, for several seeds.
Every preset scores the same run: ``taos`` drives the validator, ``sn79`` and ``ptn`` observe every
step beside it (``ptn`` with its challenge period off: a league lasts hours, not 30 days; its
elimination marks a miner, whose weight is then 0, but the shared market keeps the taos rules). For
each preset and seed the runner prints every agent's rank, score, weight and trading PnL, and a
verdict. An agent's weight is its mean weight over the run after one Sharpe window (read once a
simulated minute: what it would have earned), its rank the order of those weights, its score the
scheme's score at the end. The verdict:

1. the informed agent ranks first;
2. do-nothing, holder and dust never rank above an agent whose trading PnL is positive, and get at
   most 5 % of the weight together;
3. the spread burner ranks last among the agents that trade: no more weight than any of them (agents
   of equal weight are listed in uid order, so a tie is not a rank above);
4. neither wash trader gets more weight than the random trader (the same random trades, drawn from
   the same seed, without the wash trades).

Checks 3 and 4 compare weights as the chain stores them: in units of 1/65,535 of the largest
(``CHAIN_UNITS``), so the remnant of an EMA that decayed for hours (1e-37) is 0, as on the chain.

The informed agent is handed the fundamental price path (a research instrument, never available on
the subnet): a twin simulation with the same seed and one background agent per book runs ahead
and records it (the fundamental has its own random stream per book; the runner checks, at every
step, that the twin's path is the market's).

The miners pay the default market's fees (``--fees default``: 0.5 % a side until 200 k of volume),
at which no strategy earns its fees back in a few hours, not even one that knows the fundamental's
whole move in advance: skill there is losing least for the volume the score asks. ``--fees
exchange`` (0.02 % maker, 0.05 % taker, a liquid exchange's) is a market where skill earns money.

    taos league [--seeds 1,2,3,4,5] [--hours 3] [--books 4] [--fees default|exchange] [--json FILE]
    python -m taos.local.league ...   (the same)
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from taos.agents.loader import create_agent, load_agent_class
from taos.chain import LocalChain, Neuron
from taos.config import Config, from_dict, parse_toml, read_config_text, to_core
from taos.local.data import data_dir
from taos.validator.history import ScoreParams
from taos.validator.loop import run
from taos.validator.policy import ScoringSettings
from taos.validator.schemes import Observation, ScoringScheme, make_scheme
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

NS = 1_000_000_000
RANDOM_SEED = 7
LEAGUE: tuple[tuple[str, str, dict[str, Any]], ...] = (
    ("informed", "InformedAgent", {}),
    ("market-maker", "MarketMakerAgent", {}),
    ("momentum", "MomentumAgent", {}),
    ("mean-reversion", "MeanReversionAgent", {}),
    ("random", "RandomAgent", {"seed": RANDOM_SEED}),
    ("holder", "HolderAgent", {}),
    ("dust", "DustAgent", {}),
    ("do-nothing", "DoNothingAgent", {}),
    ("spread-burner", "SpreadBurnerAgent", {}),
    ("wash-a", "WashTraderAgent", {"partner": 11, "seed": RANDOM_SEED}),
    ("wash-b", "WashTraderAgent", {"partner": 10, "seed": RANDOM_SEED}),
)
"""(name, class in agents/league/, parameters); uid = place + 1 (uid 0 is the validator). The random
trader and the two wash traders draw the same random trades (``RANDOM_SEED``): a wash trader is the
random trader plus its wash trades, so comparing them measures what the wash trades bring."""
PASSIVE = ("do-nothing", "holder", "dust")
TRADING = (
    "informed",
    "market-maker",
    "momentum",
    "mean-reversion",
    "random",
    "spread-burner",
    "wash-a",
    "wash-b",
)
PRESETS = ("taos", "sn79", "ptn")
PASSIVE_WEIGHT = 0.05
FEES: dict[str, list[list[float]] | None] = {"default": None, "exchange": [[0.0, 0.0002, 0.0005]]}
"""The miners' fee tiers of a league (``[volume, maker, taker]``): ``default``, the default
market's (SPEC §3.2: 0.5 % both ways until 200 k of volume), at which no strategy earns its fees
back in a few hours of this market; ``exchange``, one tier of 0.02 % maker and 0.05 % taker (a
liquid exchange's), at which skill can earn money (docs/scoring.md, "The league")."""


def preset_settings(name: str) -> ScoringSettings:
    """A preset's scoring settings in the league (``ptn``: its challenge period off)."""
    settings = ScoringSettings.preset(name)
    return replace(settings, challenge=False) if name == "ptn" else settings


def league_config(
    seed: int, hours: float, books: int, *, twin: bool = False, fees: str = "default"
) -> Config:
    """The default market, ``books`` books for ``hours`` (plus an hour for the twin, which keeps one
    market maker per book), with one slot per league agent and the validator, and the miners' fee
    tiers ``FEES[fees]``."""
    if fees not in FEES:
        raise ValueError(f"fees must be one of {', '.join(FEES)}, got {fees!r}")
    text = read_config_text(data_dir("configs") / "default.toml")
    data = parse_toml(text, "default.toml")
    data["simulation"].update(seed=seed, books=books, duration_s=(hours + (1.0 if twin else 0.0)) * 3_600.0)
    data.setdefault("miners", {})["slots"] = len(LEAGUE) + 1
    tiers = FEES[fees]
    if tiers is not None:
        data.setdefault("fees", {})["miner"] = tiers
    if twin:
        maker = next(p for p in data["population"] if p["model"] == "market_maker")
        data["population"] = [{**maker, "count": 1}]
    return from_dict(data, "default.toml")


@dataclass
class FundamentalPath:
    """The fundamental price of every book at each step time of a twin run (price units)."""

    times: list[int]
    prices: np.ndarray  # [steps, books]

    @classmethod
    def of(cls, config: Config) -> FundamentalPath:
        from taos.simulator import Simulation, instruction_array

        sim = Simulation(to_core(config))
        step_ns = round(config.simulation.publish_interval_s * NS)
        end = round(config.simulation.duration_s * NS)
        books, tick = config.simulation.books, config.market.tick_size
        times, prices = [0], [[sim.fundamental_ticks(b) * tick for b in range(books)]]
        none = instruction_array(0)
        while times[-1] < end:
            t = min(end, times[-1] + step_ns)
            sim.step(t, none, 1, 0)
            times.append(t)
            prices.append([sim.fundamental_ticks(b) * tick for b in range(books)])
        return cls(times, np.array(prices))

    def at(self, book: int, time_ns: int) -> float:
        """The price at the last recorded time at or before ``time_ns``."""
        i = max(0, bisect.bisect_right(self.times, time_ns) - 1)
        return float(self.prices[i, book])


class Beside:
    """The validator's scheme, with other schemes observing every step beside it."""

    def __init__(self, primary: ScoringScheme, others: Mapping[str, ScoringScheme]) -> None:
        self.primary, self.others = primary, dict(others)

    def observe(self, obs: Observation) -> list[Any]:
        for scheme in self.others.values():
            scheme.observe(obs)
        return self.primary.observe(obs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.primary, name)


@dataclass
class Standing:
    name: str
    uid: int
    rank: int
    score: float
    weight: float
    pnl: float  # trading PnL against holding the starting inventory, summed over books (quote)
    volume: float  # traded quote volume since the start, summed over books


@dataclass
class SeedResult:
    seed: int
    standings: dict[str, list[Standing]]  # by preset
    verdicts: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)


def run_seed(seed: int, hours: float, books: int, fees: str = "default") -> SeedResult:
    config = league_config(seed, hours, books, fees=fees)
    path = FundamentalPath.of(league_config(seed, hours, books, twin=True))
    folder = data_dir("agents") / "league"
    agents = {}
    for i, (_, cls_name, params) in enumerate(LEAGUE):
        agents[i + 1] = create_agent(load_agent_class(folder, cls_name), i + 1, params)
        if hasattr(agents[i + 1], "oracle"):  # the informed reference: handed the fundamental path
            agents[i + 1].oracle = path.at  # type: ignore[attr-defined]
    neurons = [Neuron(0, "validator", True, 1.0, None)] + [
        Neuron(u, f"agent-{u}", False, 0.0, None) for u in agents
    ]
    chain = LocalChain("validator", neurons)
    settings = ValidatorSettings(weights_interval_s=1e9, scoring=preset_settings("taos"))
    v = Validator(config, chain, InProcessTransport(agents, validator=chain.hotkey), settings)
    score_params = ScoreParams.from_core(v.core)
    others = {p: make_scheme(None, preset_settings(p), score_params, v.slots, v.books) for p in PRESETS[1:]}
    schemes = {"taos": v.scheme, **others}
    v.scheme = Beside(v.scheme, others)  # type: ignore[assignment]
    v.sync_chain()
    for scheme in others.values():
        scheme.register(list(agents), 0, 0.0)
    tick = config.market.tick_size

    uids = list(agents)
    warmup_ns = v.grace_ns + v.scheme.history.params.window * v.publish_ns  # one Sharpe window
    every = max(1, round(60 * NS / v.publish_ns))  # weights read once a simulated minute
    earned = {p: np.zeros(len(uids)) for p in schemes}
    reads = [0]
    last: list[Any] = [None]

    def check(result: Any) -> None:
        last[0] = result
        if result.time_ns > warmup_ns and v.step_index % every == 0:
            reads[0] += 1
            for preset, scheme in schemes.items():
                earned[preset] += scheme.weights(uids, int(result.time_ns), exclude=0)[0]
        for b in range(books):
            want = path.at(b, int(result.time_ns))
            if not math.isclose(v.sim.fundamental_ticks(b) * tick, want, rel_tol=1e-12):
                raise RuntimeError(f"the twin's fundamental path differs from the market's on book {b}")

    asyncio.run(run(v, on_step=check))
    market = v.market
    assert market is not None
    holding = float(v.core.miner_quote) + market.mid_ticks * float(v.neutral_lots)
    pnl = (market.equity_units() - holding[None, :]) / v.units.quote_units
    totals = v.traded_totals(last[0]) / v.units.quote_units
    out: dict[str, list[Standing]] = {}
    for preset, scheme in schemes.items():
        scores = scheme.weights(uids, v.sim.time_ns, exclude=0)[1]
        weights = earned[preset] / max(1, reads[0])  # the mean weight over the run after the warm-up
        order = sorted(range(len(uids)), key=lambda i: (-weights[i], -scores[i], uids[i]))
        rank = {uids[i]: r + 1 for r, i in enumerate(order)}
        out[preset] = [
            Standing(
                name,
                uid,
                rank[uid],
                float(scores[i]),
                float(weights[i]),
                float(np.nansum(pnl[uid])),
                float(totals[uid].sum()),
            )
            for i, (uid, (name, _, _)) in enumerate(zip(uids, LEAGUE, strict=True))
        ]
    result = SeedResult(seed, out)
    result.verdicts = {p: verdict(s) for p, s in out.items()}
    return result


CHAIN_UNITS = 65_535  # the chain keeps a weight as a 16-bit fraction of the largest


def chain_units(standings: Sequence[Standing]) -> dict[str, int]:
    """Each agent's weight as the chain stores it: a whole number of 1/65,535 of the largest."""
    top = max((s.weight for s in standings), default=0.0)
    return {s.name: round(CHAIN_UNITS * s.weight / top) if top > 0 else 0 for s in standings}


def verdict(standings: Sequence[Standing]) -> list[tuple[str, bool]]:
    """The league's four checks for one preset and seed (see the module doc)."""
    by = {s.name: s for s in standings}
    units = chain_units(standings)
    passive = [by[n] for n in PASSIVE]
    earners = [s for s in standings if s.pnl > 0 and s.name not in PASSIVE]
    trading = [by[n] for n in TRADING]
    return [
        ("informed first", by["informed"].rank == 1),
        (
            "passive below every earner, <= 5 % of the weight",
            all(p.rank > e.rank for p in passive for e in earners)
            and sum(p.weight for p in passive) <= PASSIVE_WEIGHT,
        ),
        # ties are ties: agents of equal weight (often 0) are listed in uid order, which says nothing
        (
            "spread burner last of the traders",
            units["spread-burner"] <= min(units[s.name] for s in trading if s.name != "spread-burner"),
        ),
        (
            "wash traders no better than trading alone",
            all(units[w] <= units["random"] for w in ("wash-a", "wash-b")),
        ),
    ]


def parser() -> argparse.ArgumentParser:
    """The parser of ``taos league``."""
    p = argparse.ArgumentParser(
        prog="taos league", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--seeds", default="1,2,3,4,5")
    p.add_argument("--hours", type=float, default=3.0)
    p.add_argument("--books", type=int, default=4)
    p.add_argument(
        "--fees",
        choices=sorted(FEES),
        default="default",
        help="the miners' fee tiers (see FEES; default: the default market's)",
    )
    p.add_argument("--json", type=Path, default=None)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    p = parser()
    a = p.parse_args(argv)
    try:
        seeds = [int(x) for x in a.seeds.split(",")]
    except ValueError:
        p.error(f"--seeds must be integers separated by commas, got {a.seeds!r}")
    if any(x < 0 for x in seeds) or len(set(seeds)) != len(seeds):
        p.error(f"--seeds must be different integers >= 0, got {a.seeds!r}")
    if not (math.isfinite(a.hours) and 0.25 <= a.hours <= 24 * 30):
        p.error(
            f"--hours must lie in [0.25, 720] (a league needs a Sharpe window after the grace period), got {a.hours}"
        )
    if not 1 <= a.books <= 100:
        p.error(f"--books must lie in [1, 100], got {a.books}")
    results = []
    for seed in seeds:
        started = time.perf_counter()
        r = run_seed(seed, a.hours, a.books, a.fees)
        results.append(r)
        print(f"seed {seed}: {time.perf_counter() - started:.0f} s", file=sys.stderr)
        for preset, standings in r.standings.items():
            print(f"\npreset {preset}, seed {seed}")
            print(f"{'agent':>16} {'rank':>4} {'score':>8} {'weight':>7} {'trading PnL':>12} {'volume':>12}")
            for s in sorted(standings, key=lambda s: s.rank):
                print(
                    f"{s.name:>16} {s.rank:4d} {s.score:8.4f} {s.weight:7.3f} {s.pnl:12.2f} {s.volume:12.0f}"
                )
            for text, ok in r.verdicts[preset]:
                print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    print("\nverdict over the seeds")
    ok_all = True
    for preset in PRESETS:
        checks = [r.verdicts[preset] for r in results]
        for i, (text, _) in enumerate(checks[0]):
            passed = sum(c[i][1] for c in checks)
            ok_all &= preset == "sn79" or passed == len(checks)
            print(f"  {preset:>5}  {passed}/{len(checks)}  {text}")
    if a.json is not None:
        a.json.write_text(
            json.dumps(
                [
                    {
                        "seed": r.seed,
                        "standings": {p: [s.__dict__ for s in st] for p, st in r.standings.items()},
                        "verdicts": r.verdicts,
                    }
                    for r in results
                ],
                indent=1,
            )
        )
    return 0 if ok_all else 1


if __name__ == "__main__":
    raise SystemExit(main())
