"""Crafted checkpoints: a small real market, mutations of its checkpoint's body with the checksum
recomputed (so the header check passes), and the engine invariants a restored simulation must keep.

Every mutated checkpoint must either be refused with CheckpointError at restore, or give a
simulation whose invariants hold and which steps on without crashing. test_checkpoint_fuzz.py
runs a fixed, seeded set of tries in the test process. Run as a script, each try runs in a forked
child, so that a crash or a hang counts instead of ending the run (this measures any build, e.g.
one before the restore checks)::

    PYTHONPATH=. python3 tests/checkpoint_fuzz.py [--tries 600] [--seed 1] [--timeout 20]
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import struct
import sys
from collections import Counter
from dataclasses import dataclass

import numpy as np

from taos.config import loads, to_core
from taos.simulator import (
    CheckpointError,
    Currency,
    InstructionKind,
    Side,
    Simulation,
    SimulationConfig,
    Stp,
    TimeInForce,
    instruction_array,
)

S = 1_000_000_000
STEP_NS = 5 * S
SLOTS = 4
BOOKS = 2
SETUP_STEPS = 12  # steps before the checkpoint
AFTER_STEPS = 3  # steps of a restored simulation

# Every background model, in small numbers, so that the body is mostly structure (books,
# accounts, queues, agents) rather than bulk, and a random offset often hits something that matters.
MARKET_TOML = f"""
[simulation]
books = {BOOKS}
seed = 11
threads = 1
duration_s = 3600.0
publish_interval_s = 5.0
grace_period_s = 0.0
[miners]
slots = {SLOTS}
[[population]]
model = "initialization"
count = 6
base = 50.0
quote = 15000.0
[population.params]
orders = 4
tau_s = 30.0
[[population]]
model = "stylized_trader"
count = 10
base = 50.0
quote = 15000.0
latency_s = [0.001, 0.05]
[population.params]
mean_wakeup_s = 2.0
[[population]]
model = "market_maker"
count = 2
base = 200.0
quote = 60000.0
[[population]]
model = "random_trader"
count = 5
base = 50.0
quote = 15000.0
[population.params]
mean_wakeup_s = 1.0
max_offset_ticks = 30
[[population]]
model = "signal_trader"
count = 2
base = 50.0
quote = 15000.0
[[population]]
model = "imbalance_trader"
count = 1
base = 200.0
quote = 60000.0
[population.params]
threshold_lots = 200.0
parent_lots = 400
child_lots = 100
child_interval_s = 0.5
[[population]]
model = "latent_book"
count = 1
base = 5000.0
quote = 1500000.0
[population.params]
density = 20.0
density2 = 20.0
memory2_s = 600.0
grid_ticks = 10
max_show = 5.0
"""

# The checkpoint layout around the body (simulation.cpp): magic, format version, config
# fingerprint, body size; then the body; then the body's FNV-1a checksum.
MAGIC = b"TAOSCKPT"
HEADER = struct.calcsize("<8sIQQ")
_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = (1 << 64) - 1
_CHUNK = 1024  # the checksum of the unchanged prefix is resumed from the last chunk boundary


def market_config() -> SimulationConfig:
    return to_core(loads(MARKET_TOML))


def _fnv1a(data: bytes | bytearray | memoryview, h: int = _FNV_OFFSET) -> int:
    for c in data:
        h = ((h ^ c) * _FNV_PRIME) & _MASK
    return h


def miner_instructions(sim: Simulation, step: int) -> np.ndarray:
    """What the miners send in a step: resting buys below and sells above the touch (GTC and
    GTT), an order that crosses, a market order, a cancel of their oldest order, now and then a
    reset, and one order that arrives after the step (so that instructions are still queued at a
    checkpoint). ``ts_ns`` is when each reaches its book."""
    rows: list[dict] = []
    for book in range(BOOKS):
        bid, ask = sim.best(book)
        mid = (bid + ask) // 2 if bid and ask else 30_000
        for m in range(SLOTS):
            k = step + m
            base = {"book": book, "agent": m, "stp": Stp.CANCEL_OLDEST}
            base["ts_ns"] = sim.time_ns + (k % 7 + 1) * 100_000_000
            rows.append(
                base
                | {"kind": InstructionKind.PLACE_LIMIT, "side": Side.BUY, "price_ticks": mid - 20 - k % 9}
                | {"qty_lots": 3 + k % 5, "tif": TimeInForce.GTC}
            )
            rows.append(
                base
                | {"kind": InstructionKind.PLACE_LIMIT, "side": Side.SELL, "price_ticks": mid + 20 + k % 11}
                | {
                    "qty_lots": 2 + k % 4,
                    "tif": TimeInForce.GTT,
                    "expiry_ns": sim.time_ns + (2 + k % 4) * STEP_NS,
                }
            )
            cross = Side.BUY if k % 2 else Side.SELL
            price = mid + 40 if cross == Side.BUY else mid - 40
            rows.append(
                base
                | {"kind": InstructionKind.PLACE_LIMIT, "side": cross, "price_ticks": price, "qty_lots": 4}
                | {"tif": TimeInForce.GTC if k % 3 else TimeInForce.IOC}
            )
            rows.append(
                base
                | {"kind": InstructionKind.PLACE_MARKET, "side": Side.SELL if k % 2 else Side.BUY}
                | {"currency": Currency.BASE, "qty_lots": 2}
            )
            if book == 0 and step % 6 == 5 and m == SLOTS - 1:  # one miner starts over now and then
                rows.append(base | {"kind": InstructionKind.RESET_AGENT})
            own = sim.open_orders(book, m)
            if len(own):
                rows.append(base | {"kind": InstructionKind.CANCEL, "order_id": int(own["order_id"].min())})
            rows.append(
                base
                | {
                    "kind": InstructionKind.PLACE_LIMIT,
                    "side": Side.BUY,
                    "price_ticks": mid - 60,
                    "qty_lots": 1,
                }
                | {"tif": TimeInForce.GTC, "ts_ns": sim.time_ns + STEP_NS + 2 * S}
            )
    arr = instruction_array(len(rows))
    for i, row in enumerate(rows):
        for key, value in row.items():
            arr[i][key] = value
    return arr


def make_checkpoint() -> tuple[SimulationConfig, bytes]:
    """The config and a checkpoint of the market after SETUP_STEPS steps with miner activity."""
    config = market_config()
    sim = Simulation(config)
    for step in range(SETUP_STEPS):
        sim.step((step + 1) * STEP_NS, miner_instructions(sim, step))
    return config, sim.save_state()


@dataclass
class Checkpoint:
    """A valid checkpoint split into header fields and body, with the checksum of every
    _CHUNK-byte prefix of the body."""

    magic: bytes
    version: int
    fingerprint: int
    body: bytes
    prefix_hashes: list[int]

    @classmethod
    def parse(cls, state: bytes) -> Checkpoint:
        magic, version, fingerprint, size = struct.unpack_from("<8sIQQ", state)
        assert magic == MAGIC and size == len(state) - HEADER - 8
        body = state[HEADER : HEADER + size]
        hashes = [_FNV_OFFSET]
        for start in range(0, len(body), _CHUNK):
            hashes.append(_fnv1a(body[start : start + _CHUNK], hashes[-1]))
        return cls(magic, version, fingerprint, body, hashes)

    def with_body(self, body: bytes, first_change: int) -> bytes:
        """A checkpoint of this header with `body` (equal to this body before `first_change`)
        and its recomputed checksum."""
        chunk = min(first_change, len(self.body), len(body)) // _CHUNK
        checksum = _fnv1a(memoryview(body)[chunk * _CHUNK :], self.prefix_hashes[chunk])
        header = struct.pack("<8sIQQ", self.magic, self.version, self.fingerprint, len(body))
        return header + body + struct.pack("<Q", checksum)


_EXTREMES = {
    1: [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x02"],
    2: [b"\x00\x00", b"\xff\xff", b"\xff\x7f", b"\x00\x80"],
    4: [b"\x00" * 4, b"\xff" * 4, b"\xff\xff\xff\x7f", b"\x00\x00\x00\x80", struct.pack("<I", 9001)],
    8: [
        b"\x00" * 8,
        b"\xff" * 8,
        b"\xff" * 7 + b"\x7f",
        b"\x00" * 7 + b"\x80",
        struct.pack("<q", -1),
        struct.pack("<q", 1 << 40),
        struct.pack("<d", float("nan")),
        struct.pack("<d", float("inf")),
    ],
}


def mutate(body: bytes, rng: random.Random) -> tuple[bytes, int, str]:
    """One random mutation of a checkpoint body: (new body, first changed offset, description)."""
    b = bytearray(body)
    n = len(b)
    kind = rng.choice(
        ["flip", "flip", "extreme", "extreme", "extreme", "small", "copy", "swap", "resize", "length"]
    )
    if kind == "flip":
        offsets = sorted(rng.randrange(n) for _ in range(rng.randint(1, 3)))
        for off in offsets:
            b[off] ^= 1 << rng.randrange(8)
        return bytes(b), offsets[0], f"flip bits at {offsets}"
    if kind == "extreme":
        width = rng.choice([1, 2, 4, 8, 8])
        off = rng.randrange(n - width)
        value = rng.choice(_EXTREMES[width])
        b[off : off + width] = value
        return bytes(b), off, f"write {value.hex()} at {off}"
    if kind == "small":  # a nearby integer: off-by-one counts, indices, ids and prices
        width = rng.choice([4, 8])
        off = rng.randrange(n - width)
        fmt = "<i" if width == 4 else "<q"
        old = struct.unpack_from(fmt, b, off)[0]
        new = max(
            -(1 << (8 * width - 1)), min((1 << (8 * width - 1)) - 1, old + rng.choice([-2, -1, 1, 2, 7]))
        )
        struct.pack_into(fmt, b, off, new)
        return bytes(b), off, f"{old} -> {new} at {off}"
    if kind == "copy":  # bytes of one place written over another (e.g. one record over another)
        width = rng.choice([8, 16, 24, 40, 56])
        src, dst = rng.randrange(n - width), rng.randrange(n - width)
        b[dst : dst + width] = body[src : src + width]
        return bytes(b), dst, f"copy {width} bytes {src} -> {dst}"
    if kind == "swap":
        width = rng.choice([4, 8, 16])
        x, y = sorted(rng.sample(range(0, n - width, width), 2))
        b[x : x + width], b[y : y + width] = body[y : y + width], body[x : x + width]
        return bytes(b), x, f"swap {width} bytes at {x} and {y}"
    if kind == "resize":  # bytes inserted or removed somewhere
        off = rng.randrange(n)
        k = rng.choice([1, 4, 8, 24, 40])
        if rng.random() < 0.5:
            b[off:off] = bytes(rng.randrange(256) for _ in range(k))
            return bytes(b), off, f"insert {k} bytes at {off}"
        del b[off : off + k]
        return bytes(b), off, f"delete {k} bytes at {off}"
    # "length": a small 8-byte count grows or shrinks and the bytes after it follow (a vector
    # longer or shorter by a few elements, when the count is a vector's length).
    candidates = [
        o for o in rng.sample(range(n - 8), min(n - 8, 4000)) if struct.unpack_from("<Q", b, o)[0] < 5000
    ]
    off = candidates[0] if candidates else rng.randrange(n - 8)
    old = struct.unpack_from("<Q", b, off)[0]
    delta = rng.choice([-2, -1, 1, 2])
    new = max(0, old + delta)
    struct.pack_into("<Q", b, off, new)
    k = abs(new - old) * rng.choice([4, 8, 24, 40, 56, 104])
    if new > old:
        b[off + 8 : off + 8] = bytes(rng.randrange(256) for _ in range(k))
    else:
        del b[off + 8 : off + 8 + k]
    return bytes(b), off, f"count {old} -> {new} at {off} with {k} bytes"


def reserve_rates(config: SimulationConfig) -> tuple[int, int]:
    """The reservation rate (ppb) of a miner and of a background agent: the highest rate of
    their tiers, never below 0."""

    def rate(tiers: list) -> int:
        return max([0] + [max(t.maker_ppb, t.taker_ppb) for t in tiers])

    return rate(config.miner_fee_tiers), rate(config.background_fee_tiers)


def invariant_problems(sim: Simulation, config: SimulationConfig) -> list[str]:
    """The engine invariants a simulation between steps keeps (empty when all hold): accounts of
    every agent with balances >= 0, reservations equal to what the resting orders need, open order
    counts, base and quote conserved per book, levels ordered and uncrossed, each level's total
    and count equal to its orders, and every resting order owned by an agent with an account."""
    problems: list[str] = []
    agents = config.miner_slots + sum(p.count for p in config.populations)
    miner_rate, background_rate = reserve_rates(config)
    for book in range(config.books):
        acc = sim.accounts(book)
        if len(acc) != agents:
            problems.append(f"book {book}: {len(acc)} accounts, expected {agents}")
        for col in ("base_free", "base_reserved", "quote_free", "quote_reserved"):
            if (acc[col] < 0).any():
                problems.append(f"book {book}: negative {col}")
        base = int(acc["base_free"].astype(object).sum() + acc["base_reserved"].astype(object).sum())
        quote = int(acc["quote_free"].astype(object).sum() + acc["quote_reserved"].astype(object).sum())
        if base != sim.supply_base(book):
            problems.append(f"book {book}: base totals {base} != supply {sim.supply_base(book)}")
        if quote + sim.fees_collected(book) != sim.supply_quote(book):
            problems.append(f"book {book}: quote totals + fees != supply")
        orders = 0
        for row in acc:
            agent = int(row["agent"])
            own = sim.open_orders(book, agent)
            orders += len(own)
            rate = miner_rate if agent < config.miner_slots else background_rate
            buys = own[own["side"] == Side.BUY]
            need = sum(
                int(o["price_ticks"]) * int(o["qty_lots"])
                + int(o["price_ticks"]) * int(o["qty_lots"]) * rate // 1_000_000_000
                for o in buys
            )
            if int(row["quote_reserved"]) != need:
                problems.append(
                    f"book {book}: agent {agent} quote reserved {int(row['quote_reserved'])} != {need}"
                )
            sells = int(own[own["side"] == Side.SELL]["qty_lots"].astype(object).sum())
            if int(row["base_reserved"]) != sells:
                problems.append(
                    f"book {book}: agent {agent} base reserved {int(row['base_reserved'])} != {sells}"
                )
            if int(row["open_orders"]) != len(own):
                problems.append(
                    f"book {book}: agent {agent} open_orders {int(row['open_orders'])} != {len(own)}"
                )
            if ((own["qty_lots"] < 1) | (own["price_ticks"] < 1)).any():
                problems.append(f"book {book}: agent {agent} has an order of quantity or price < 1")
        levels = sim.levels(book, depth=1 << 30, detail_depth=1 << 30)
        in_levels = 0
        for side, lv_key, ord_key, sign in (
            (Side.BUY, "bids", "bid_orders", -1),
            (Side.SELL, "asks", "ask_orders", 1),
        ):
            lv, od = getattr(levels, lv_key), getattr(levels, ord_key)
            in_levels += len(od)
            prices = lv["price_ticks"].astype(object)
            if any(sign * (prices[i + 1] - prices[i]) <= 0 for i in range(len(prices) - 1)):
                problems.append(f"book {book}: {lv_key} not strictly ordered")
            for i, level in enumerate(lv):
                mine = od[od["level"] == i]
                if int(level["count"]) != len(mine) or int(level["qty_lots"]) != int(
                    mine["qty_lots"].astype(object).sum()
                ):
                    problems.append(f"book {book}: {lv_key}[{i}] total or count differs from its orders")
                if (mine["price_ticks"] != level["price_ticks"]).any() or (mine["side"] != side).any():
                    problems.append(f"book {book}: {lv_key}[{i}] holds an order of another price or side")
        if in_levels != orders:
            problems.append(
                f"book {book}: {in_levels} resting orders, {orders} owned by agents with accounts"
            )
        bid, ask = sim.best(book)
        if bid and ask and bid >= ask:
            problems.append(f"book {book}: crossed ({bid} >= {ask})")
    return problems


def restored_outcome(config: SimulationConfig, state: bytes) -> tuple[str, str]:
    """("refused", message) when restore raises CheckpointError; ("broken", problems) when the
    restored simulation breaks an invariant or a step raises; ("ok", "") otherwise. A crash or a
    hang does not return."""
    try:
        sim = Simulation.restore(config, state)
    except CheckpointError as e:
        return "refused", str(e)
    problems = invariant_problems(sim, config)
    if problems:
        return "broken", "after restore: " + "; ".join(problems[:3])
    t = sim.time_ns
    for k in range(AFTER_STEPS):
        try:
            sim.step(t + (k + 1) * STEP_NS, miner_instructions(sim, SETUP_STEPS + k))
        except Exception as e:  # any exception out of a step is a finding
            return "broken", f"step {k}: {type(e).__name__}: {e}"
        problems = invariant_problems(sim, config)
        if problems:
            return "broken", f"after step {k}: " + "; ".join(problems[:3])
    return "ok", ""


def tries(checkpoint: Checkpoint, count: int, seed: int) -> list[tuple[bytes, str]]:
    """`count` mutated checkpoints (state, description), seeded."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        body, first, what = mutate(checkpoint.body, rng)
        out.append((checkpoint.with_body(body, first), what))
    return out


def _run_isolated(config: SimulationConfig, state: bytes, timeout_s: float) -> tuple[str, str]:
    """restored_outcome in a forked child: ("crash", signal) or ("hang", "") when the child dies
    by a signal or does not finish within timeout_s."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        signal.alarm(max(1, int(timeout_s)))
        outcome, detail = restored_outcome(config, state)
        os.write(write_fd, f"{outcome}\n{detail}".encode()[:60_000])
        os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as r:
        data = r.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return ("hang", "") if sig == signal.SIGALRM else ("crash", signal.Signals(sig).name)
    outcome, _, detail = data.decode(errors="replace").partition("\n")
    return (outcome, detail) if outcome else ("crash", f"exit status {status}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tries", type=int, default=600)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds before a try counts as a hang")
    p.add_argument("--verbose", action="store_true", help="print every try that is not refused or ok")
    a = p.parse_args(argv)
    config, state = make_checkpoint()
    checkpoint = Checkpoint.parse(state)
    print(f"checkpoint: {len(state)} bytes, body {len(checkpoint.body)}", flush=True)
    counts: Counter[str] = Counter()
    for i, (mutated, what) in enumerate(tries(checkpoint, a.tries, a.seed)):
        outcome, detail = _run_isolated(config, mutated, a.timeout)
        counts[outcome] += 1
        if a.verbose and outcome not in ("refused", "ok"):
            print(f"try {i}: {outcome}: {what}: {detail[:300]}", flush=True)
    print(
        f"{a.tries} tries: "
        + ", ".join(f"{counts[k]} {k}" for k in ("crash", "hang", "broken", "refused", "ok")),
        flush=True,
    )
    return 1 if counts["crash"] or counts["hang"] or counts["broken"] else 0


if __name__ == "__main__":
    sys.exit(main())
