"""When a latent order book gives the square-root impact law: a model of the theory, not of τaos.

    python benchmarks/latent_book.py [--runs 160] [--hours 8] [--json]

The locally linear order book of Donier, Bonart, Mastromatteo & Bouchaud (2015): the net latent
demand φ(x) (buy volume minus sell volume investors would trade at price x, per tick) diffuses with
a coefficient D, is cancelled at the rate 1/M (M: the book's memory) and deposited on each side of
the price (buys below it, sells above it) so that away from the price |φ| → d. Where buyers and
sellers meet they trade, so φ vanishes at the price and grows linearly next to it over a width
ξ = √(D·M), with slope L = d/ξ. Market orders (a metaorder and, optionally, an exogenous white order
flow with no memory) take the latent volume beyond the price.

A metaorder buys Q (as a fraction of the hourly volume) over T = 10 minutes in 120 equal child
orders; its impact is the price at its end against the same book and flow without it. The sizes are
those of benchmarks/realism.py (0.1 % to 10 %), and the fitted exponent is printed for each case.

The square root I = √(2Q/L) needs two things (docs/models.md, "What a latent book needs"):
the metaorder must outrun the latent flux J = D·L = d·ξ/M through the price (Q_min/T ≫ J), and the
largest impact must stay within the linear part (I(Q_max) ≤ ξ, so Q_max ≤ d·ξ/2); together
T/M ≪ Q_min/(2·Q_max). For sizes 100 apart over 10 minutes the memory M must be much longer than
33 hours. The cases below vary the memory and the exogenous flow around one book (ξ = 40 ticks,
d = 0.0075 of the hourly volume per tick, a 10 % metaorder of about 37 ticks), and two books of
three memories (hours to days; Benzaquen & Bouchaud, arXiv:1710.03734).

A latent book also pushes a displaced price back. For the cases with a flow, one book runs for
--hours under the flow alone, and the report gives its price's 1-minute changes (s.d. and lag-1
autocorrelation) and the lag-1 autocorrelation of 1-minute returns of a price that also moves with
the default market's fundamental: whether the bounce would break the realism target |ρ₁| ≤ 0.10.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import time
from dataclasses import dataclass

import numpy as np

from taos.analysis.realism import Impact, bootstrap_se
from taos.analysis.stylized import autocorrelation

STEP_S = 5.0
METAORDER_S = 600.0
SIZES = (0.001, 0.003, 0.01, 0.03, 0.1)  # fractions of the hourly volume
GRID = 3000  # ticks
EPS = 1e-12


@dataclass(frozen=True)
class Case:
    name: str
    # (M, d) per component: latent volume cancelled at the rate 1/M and deposited so that |φ| → d
    # (hourly volume per tick) away from the price
    components: tuple[tuple[float, float], ...]
    noise: float  # s.d. of the exogenous net flow over 10 minutes, fraction of the hourly volume
    width_ticks: float = 40.0  # ξ of the longest-lived component; all share its diffusion D


class LatentBook:
    """φ per component on a grid of ticks, with the price between the best latent buy and the best
    latent sell of their sum. Components share the diffusion; a buy of one and a sell of another at
    the same price trade with each other, as within one component."""

    def __init__(self, case: Case):
        memories = np.array([m for m, _ in case.components], dtype=float)
        self.rates = 1.0 / memories
        self.densities = np.array([d for _, d in case.components], dtype=float)
        self.diffusion = case.width_ticks**2 / memories.max()
        self.x = np.arange(GRID, dtype=float)
        self.price = GRID / 2 + 0.5
        y = self.x - self.price
        widths = np.sqrt(self.diffusion * memories)
        self.phi = -self.densities[:, None] * np.sign(y) * (1.0 - np.exp(-np.abs(y) / widths[:, None]))

    def copy(self) -> LatentBook:
        other = copy.copy(self)
        other.phi = self.phi.copy()  # the only state that changes
        return other

    def _reprice(self) -> None:
        total = self.phi.sum(axis=0)
        buys = np.flatnonzero(total > EPS)
        bid = int(buys[-1]) if len(buys) else 0
        sells = np.flatnonzero(total[bid + 1 :] < -EPS)
        ask = bid + 1 + int(sells[0]) if len(sells) else GRID - 1
        self.price = 0.5 * (bid + ask)

    def _annihilate(self) -> None:
        """Buys and sells at the same price trade: each level keeps only its net side, shared among
        the components in proportion to what they held of that side."""
        phi = self.phi
        if len(phi) == 1:
            return
        pos = np.maximum(phi, 0.0).sum(axis=0)
        neg = np.maximum(-phi, 0.0).sum(axis=0)
        net = pos - neg
        keep_buys = np.divide(net, pos, out=np.zeros_like(net), where=(net > 0) & (pos > 0))
        keep_sells = np.divide(-net, neg, out=np.zeros_like(net), where=(net < 0) & (neg > 0))
        self.phi = np.maximum(phi, 0.0) * keep_buys + np.minimum(phi, 0.0) * keep_sells

    def evolve(self, dt: float) -> None:
        """Diffusion (explicit, stable substeps), then cancellation and deposition over dt."""
        substeps = max(1, math.ceil(self.diffusion * dt / 0.25))
        k = self.diffusion * dt / substeps
        phi = self.phi
        for _ in range(substeps):
            phi[:, 1:-1] += k * (phi[:, 2:] - 2.0 * phi[:, 1:-1] + phi[:, :-2])
        side = np.sign(self.price - self.x)
        relax = 1.0 - np.exp(-self.rates * dt)
        phi += relax[:, None] * (self.densities[:, None] * side - phi)
        self._annihilate()
        self._reprice()

    def step(self, volume: float) -> None:
        """One step of the model: STEP_S of evolution, then a market order of this volume."""
        self.evolve(STEP_S)
        self.trade(volume)

    def trade(self, volume: float) -> None:
        """A market order: buys (> 0) take latent sells above the price, sells take buys below."""
        if volume == 0.0:
            return
        total = self.phi.sum(axis=0)
        if volume > 0:
            start = math.floor(self.price) + 1
            levels = np.arange(start, GRID)
            available = np.maximum(-total[start:], 0.0)
        else:
            start = math.ceil(self.price) - 1
            levels = np.arange(start, -1, -1)
            available = np.maximum(total[: start + 1][::-1], 0.0)
        taken = np.cumsum(available)
        full = int(np.searchsorted(taken, abs(volume)))  # levels emptied
        self.phi[:, levels[:full]] = 0.0  # each level holds one side only (see _annihilate)
        if full < len(levels) and available[full] > 0:
            rest = abs(volume) - (taken[full - 1] if full else 0.0)
            self.phi[:, levels[full]] *= 1.0 - rest / available[full]
        self._reprice()


def flow_per_step(case: Case) -> float:
    """s.d. of the exogenous net flow in one step (its 10-minute s.d. is case.noise)."""
    return case.noise / math.sqrt(METAORDER_S / STEP_S)


def warmed_book(case: Case, rng: np.random.Generator, warmup_s: float) -> LatentBook:
    """A book from its stationary profile, run for warmup_s under the exogenous flow."""
    book = LatentBook(case)
    for _ in range(int(warmup_s / STEP_S)):
        book.step(rng.normal() * flow_per_step(case))
    return book


def mean_and_se(found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean impact per size and its standard error (0 for a single book)."""
    se = found.std(axis=0) / math.sqrt(len(found)) if len(found) > 1 else np.zeros(found.shape[1])
    return found.mean(axis=0), se


def impacts(
    case: Case, runs: int, warmup_s: float = 4 * 3600.0, seed: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Mean impact (ticks) and its standard error per size, over `runs` independent books."""
    return mean_and_se(impacts_per_run(case, runs, warmup_s, seed))


def impacts_per_run(case: Case, runs: int, warmup_s: float = 4 * 3600.0, seed: int = 1) -> np.ndarray:
    """Each book's impact (ticks) per size: one row per book (one book without an exogenous flow)."""
    rng = np.random.default_rng(seed)
    steps = int(METAORDER_S / STEP_S)
    runs = runs if case.noise > 0 else 1  # without exogenous flow every run is the same
    found = np.zeros((runs, len(SIZES)))
    for r in range(runs):
        book = warmed_book(case, rng, warmup_s)
        flow = rng.normal(size=steps) * flow_per_step(case)
        control = book.copy()
        for v in flow:
            control.step(v)
        for j, size in enumerate(SIZES):
            treated = book.copy()
            for v in flow:
                treated.step(v + size / steps)
            found[r, j] = treated.price - control.price
    return found


# The default market's fundamental moves 1.2 % a day at a price of 300 with a tick of 0.01: a
# 1-minute s.d. of 300 * 0.012 * sqrt(60 / 86400) / 0.01 = 9.49 ticks.
FUNDAMENTAL_MINUTE_TICKS = 300 * 0.012 * math.sqrt(60 / 86400) / 0.01


@dataclass(frozen=True)
class Bounce:
    """How the price moves in the book's own frame under the exogenous flow alone (ticks)."""

    minute_sd: float  # s.d. of its 1-minute change
    acf1: float  # lag-1 autocorrelation of that change (NaN if it never moved)
    level_sd: float  # s.d. of the price itself: how far it strays from the book's frame


def bounce(case: Case, hours: float = 8.0, warmup_s: float = 4 * 3600.0, seed: int = 2) -> Bounce:
    """The price in the book's own frame, once a minute for `hours` after the warm-up."""
    rng = np.random.default_rng(seed)
    book = warmed_book(case, rng, warmup_s)
    prices = []
    per_minute = int(60 / STEP_S)
    for k in range(int(hours * 3600 / STEP_S)):
        book.step(rng.normal() * flow_per_step(case))
        if k % per_minute == per_minute - 1:
            prices.append(book.price)
    changes = np.diff(prices)
    return Bounce(float(changes.std()), float(autocorrelation(changes, 1)[0]), float(np.std(prices)))


def implied_rho1(sd: float, acf1: float, fundamental_sd: float = FUNDAMENTAL_MINUTE_TICKS) -> float:
    """Lag-1 autocorrelation of 1-minute returns of a price that is a fundamental (independent
    1-minute moves of s.d. fundamental_sd) plus a book-frame part with these 1-minute changes."""
    if sd == 0:
        return 0.0
    return acf1 * sd**2 / (sd**2 + fundamental_sd**2)


def local_exponents(means: np.ndarray) -> list[float]:
    """The exponent between each pair of neighbouring sizes (NaN where an impact is not positive)."""
    out = []
    for j in range(len(SIZES) - 1):
        a, b = means[j], means[j + 1]
        out.append(math.log(b / a) / math.log(SIZES[j + 1] / SIZES[j]) if a > 0 and b > 0 else float("nan"))
    return out


def exponent(means: np.ndarray) -> float:
    """The realism benchmark's power-law fit, but NaN unless every impact is positive (a size that
    does not move the price is no point on a power law)."""
    if np.any(means <= 0):
        return float("nan")
    return Impact.fit(SIZES, means.tolist()).exponent


DAY = 86400.0
SLOW = ((30 * DAY, 0.0075),)  # one component with a 30-day memory
CASES = (
    Case("memory 30 days, no exogenous flow", SLOW, 0.0),
    Case("memory 1 day, no exogenous flow", ((DAY, 0.0075),), 0.0),
    Case("memory 1 hour, no exogenous flow", ((3600.0, 0.0075),), 0.0),
    Case("memory 30 days, exogenous flow 0.05 %", SLOW, 0.0005),
    Case("memory 30 days, exogenous flow 0.1 %", SLOW, 0.001),
    Case("memory 30 days, exogenous flow 0.47 % (the default market's)", SLOW, 0.0047),
    Case(
        "memories 30 days + 1 day + 1 hour, exogenous flow 0.47 %",
        ((30 * DAY, 0.004), (DAY, 0.004), (3600.0, 0.004)),
        0.0047,
    ),
    Case(
        "memories 30 days + 1 day + 1 hour (d = 0.015 each), flow 0.47 %",
        ((30 * DAY, 0.015), (DAY, 0.015), (3600.0, 0.015)),
        0.0047,
    ),
)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--runs", type=int, default=160, help="books per case with an exogenous flow (default 160)"
    )
    ap.add_argument(
        "--hours", type=float, default=8.0, help="hours of flow for the bounce figures (default 8)"
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    args = ap.parse_args(argv)
    if args.runs < 2:
        ap.error("--runs must be at least 2")
    if not 0.5 <= args.hours <= 1000:
        ap.error("--hours must be between 0.5 and 1000")
    results = []
    for case in CASES:
        t0 = time.perf_counter()
        found = impacts_per_run(case, args.runs)
        means, se = mean_and_se(found)
        moves = bounce(case, args.hours) if case.noise > 0 else None
        fit = (exponent(means), bootstrap_se(found, exponent) if len(found) > 1 else 0.0)
        results.append((case, means, se, fit, moves, time.perf_counter() - t0))
    if args.json:

        def num(x: float) -> float | None:
            return None if math.isnan(x) else x

        cases = [
            {
                "case": case.name,
                "components": [list(c) for c in case.components],
                "noise": case.noise,
                "impact_ticks": means.tolist(),
                "se_ticks": se.tolist(),
                "exponent": num(ex[0]),
                "exponent_se": num(ex[1]),
                "local_exponents": [num(e) for e in local_exponents(means)],
                "bounce": None
                if moves is None
                else {
                    "minute_sd_ticks": moves.minute_sd,
                    "acf1": num(moves.acf1),
                    "implied_rho1": implied_rho1(moves.minute_sd, moves.acf1),
                    "level_sd_ticks": moves.level_sd,
                },
                "seconds": secs,
            }
            for case, means, se, ex, moves, secs in results
        ]
        print(
            json.dumps(
                {"sizes": list(SIZES), "fundamental_minute_ticks": FUNDAMENTAL_MINUTE_TICKS, "cases": cases}
            )
        )
        return 0
    print(
        "latent order book: impact (ticks) of metaorders of 0.1 / 0.3 / 1 / 3 / 10 % of the hourly volume over 10 min"
    )
    for case, means, _, ex, _, secs in results:
        imp = " ".join(f"{m:6.2f}" for m in means)
        shown = "n/a (an impact <= 0)" if math.isnan(ex[0]) else f"{ex[0]:.2f} ± {ex[1]:.2f}"
        local = " ".join("  n/a" if math.isnan(e) else f"{e:5.2f}" for e in local_exponents(means))
        print(f"  {case.name:<66} {imp}   exponent {shown}   between sizes {local}   ({secs:.0f} s)")
    print(
        f"the price in the book's frame under the exogenous flow alone ({args.hours:g} h): s.d. of its 1-minute change,"
        f" that change's lag-1 autocorrelation, the lag-1 autocorrelation of 1-minute returns of a price that"
        f" also moves with a fundamental of {FUNDAMENTAL_MINUTE_TICKS:.2f} ticks a minute (the default market's),"
        f" and the s.d. of the price itself (how far it strays from a book that moves with the fundamental)"
    )
    for case, _, _, _, moves, _ in results:
        if moves is not None:
            ac = "n/a (it does not move)" if math.isnan(moves.acf1) else f"{moves.acf1:+.2f}"
            rho1 = implied_rho1(moves.minute_sd, moves.acf1)
            print(
                f"  {case.name:<66} s.d. {moves.minute_sd:6.2f} ticks   acf {ac}   rho1 {rho1:+.3f}"
                f"   level s.d. {moves.level_sd:6.1f} ticks"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
