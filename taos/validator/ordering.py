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
"""

from __future__ import annotations

import numpy as np

ORDER_STREAM = 0x6F_72_64_65_72  # "order": keeps this stream apart from any other drawn from the seed


def miner_order(seed: int, step_index: int, slots: int) -> np.ndarray:
    """The place of each miner slot (``[slots]``, a permutation of ``0..slots-1``) in the order of
    step ``step_index``, drawn from ``seed``."""
    if isinstance(step_index, bool) or not isinstance(step_index, int | np.integer) or step_index < 0:
        raise ValueError(f"step_index must be an integer >= 0, got {step_index!r}")
    if isinstance(slots, bool) or not isinstance(slots, int | np.integer) or slots < 0:
        raise ValueError(f"slots must be an integer >= 0, got {slots!r}")
    entropy = [int(seed) % (1 << 64), int(step_index), ORDER_STREAM]
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))
    return rng.permutation(int(slots))


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


__all__ = ["ORDER_STREAM", "fair_order", "miner_order"]
