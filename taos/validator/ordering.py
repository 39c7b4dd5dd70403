"""Fair ordering of the miners' instructions that reach a book at the same time.

The engine applies the instructions of a step in time order, and instructions with the same arrival
time in the order they are handed to it. That order must not favour any miner: not by uid, not by
the order of the replies. Before each step the validator orders the step's records by a
permutation of the miner slots drawn for that step from the simulation's seed (``miner_order``), and
keeps each miner's own records in the order the miner sent them (a cancel before the order that
replaces it stays before it). Every validator with the same seed draws the same permutation, so the
journal, a replay and another validator agree.

The ordering is idempotent: ordering records that are ordered already leaves them as they are, so
the validator can order its pending records both when it stores them and when it runs them.

Arrival jitter (``arrival_jitter``): each accepted instruction reaches its book a little later
than the latency model says, by an amount drawn from the same seed, uniform over the background
agents' latency range, so that the miners' instructions neither share one timestamp per reply nor
sit on the latency model's grid (e.g. all at the 10 ms floor), where an observer of the public
stream could tell them from the background agents' and group them by miner. A miner's instructions
that had the same time keep their order: the k-th gets the k-th smallest of their jitters.
"""

from __future__ import annotations

import numpy as np

ORDER_STREAM = 0x6F_72_64_65_72  # "order": keeps this stream apart from any other drawn from the seed
JITTER_STREAM = 0x6A_69_74_74_65_72  # "jitter"
SPREAD_STREAM = 0x73_70_72_65_61_64  # "spread": the times of the cancellations the validator makes


def _rng(seed: int, step_index: int, stream: int, *more: int) -> np.random.Generator:
    if isinstance(step_index, bool) or not isinstance(step_index, int | np.integer) or step_index < 0:
        raise ValueError(f"step_index must be an integer >= 0, got {step_index!r}")
    entropy = [int(seed) % (1 << 64), int(step_index), stream, *(int(x) for x in more)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def miner_order(seed: int, step_index: int, slots: int) -> np.ndarray:
    """The place of each miner slot (``[slots]``, a permutation of ``0..slots-1``) in the order of
    step ``step_index``, drawn from ``seed``."""
    if isinstance(slots, bool) or not isinstance(slots, int | np.integer) or slots < 0:
        raise ValueError(f"slots must be an integer >= 0, got {slots!r}")
    return _rng(seed, step_index, ORDER_STREAM).permutation(int(slots))


def fair_order(records: np.ndarray, seed: int, step_index: int, slots: int) -> np.ndarray:
    """``records`` (engine instruction records, field ``agent``) ordered by their miner's place in
    step ``step_index``'s order, each miner's records in their own order (a stable sort). Records of
    an agent outside ``0..slots-1`` (none in a validator's step) come last, in their order."""
    if len(records) < 2:
        return records
    place = miner_order(seed, step_index, slots)
    agent = records["agent"].astype(np.int64)
    inside = (agent >= 0) & (agent < slots)
    key = np.where(inside, place[np.where(inside, agent, 0)], slots)
    if (key[1:] >= key[:-1]).all():
        return records  # in this order already (e.g. stored, then run)
    if slots < np.iinfo(np.int16).max:
        key = key.astype(np.int16)  # a stable sort of 16-bit keys is a radix sort: several times faster
    order = np.argsort(key, kind="stable")
    if not records.flags.c_contiguous:
        return records[order]
    rows = records.view(np.dtype((np.void, records.dtype.itemsize)))  # whole records, as bytes:
    out: np.ndarray = rows[order].view(records.dtype)  # far cheaper than indexing the fields
    return out


def arrival_jitter(records: np.ndarray, seed: int, step_index: int, low_ns: int, high_ns: int) -> np.ndarray:
    """A copy of ``records`` (engine instruction records: ``agent``, ``ts_ns``) in which each
    record reaches its book later by a jitter uniform over ``[low_ns, high_ns]``, drawn for step
    ``step_index`` from ``seed``. The records of one agent that had the same time get that agent's
    jitters in increasing order, so they still reach the book in the order they were sent."""
    low, high = int(low_ns), int(high_ns)
    if not 0 <= low <= high:
        raise ValueError(f"need 0 <= low_ns <= high_ns, got {low_ns} and {high_ns}")
    rng = _rng(seed, step_index, JITTER_STREAM)
    # a copy as bytes: numpy copies structured records field by field, thirty times slower
    out = np.ascontiguousarray(records).view(np.uint8).copy().view(records.dtype)
    n = len(out)
    if n == 0 or high == 0:
        return out
    jitter = rng.integers(low, high, size=n, endpoint=True, dtype=np.int64)
    ts = out["ts_ns"].astype(np.int64)
    agent = out["agent"].astype(np.int64)
    span = int(ts.max() - ts.min())
    if span < 1 << 34 and int(agent.min()) >= 0 and int(agent.max()) < 1 << 28:  # a step's times
        group = (agent << 34) | (ts - ts.min())  # (agent, time) in one integer
    else:
        _, ts_rank = np.unique(ts, return_inverse=True)
        group = agent * (int(ts_rank.max()) + 1) + ts_rank
    sent = np.argsort(group, kind="stable")  # each group together, its records in the order sent
    grouped = group[sent]
    first = np.ones(n, dtype=np.bool_)
    first[1:] = grouped[1:] != grouped[:-1]
    # the group's own jitters, ascending within it: one sort of (group number, jitter)
    drawn = jitter[sent]
    key = (np.cumsum(first) - 1) * (high - low + 1) + (drawn - low)
    ordered = np.empty(n, dtype=np.int64)
    ordered[sent] = drawn[np.argsort(key, kind="stable")]
    out["ts_ns"] = ts + ordered
    return out


def spread_times(seed: int, step_index: int, uid: int, start_ns: int, end_ns: int, n: int) -> np.ndarray:
    """``n`` times drawn for step ``step_index`` and miner ``uid`` from ``seed``, each uniform over
    ``[start_ns, end_ns)``: when the validator's own cancellations of a miner's orders (a reset, an
    elimination) reach their books, spread over the step like other agents' cancellations instead
    of one burst at one instant."""
    start, end = int(start_ns), int(end_ns)
    if end <= start:
        raise ValueError(f"need start_ns < end_ns, got {start_ns} and {end_ns}")
    return _rng(seed, step_index, SPREAD_STREAM, uid).integers(start, end, size=int(n), dtype=np.int64)


__all__ = [
    "JITTER_STREAM",
    "ORDER_STREAM",
    "SPREAD_STREAM",
    "arrival_jitter",
    "fair_order",
    "miner_order",
    "spread_times",
]
