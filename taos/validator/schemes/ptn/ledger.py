"""The checkpoint ledger of preset ``ptn`` (summed log gains, log losses, time in market per
checkpoint period of sim time), built step by step and kept for the decay window only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from taos.scoring import (
    DAY_NS,
    CheckpointLedger,
    ledger_age_weights,
    ledger_omega,
    ledger_return,
    ledger_sortino,
)
from taos.validator.persisted import Persisted, Stored
from taos.validator.schemes.ptn.common import (
    NS_PER_HOUR,
    FloatArray,
    IntArray,
    _count,
    _mask,
    _time,
    _uid,
    _vector,
    log,
)


class LedgerTracker(Persisted):
    """The checkpoint ledger of every miner (SPEC §9 preset ``ptn``), built step by step.

    Checkpoint ``k`` covers ``[k·P, (k+1)·P)`` of sim time (``P`` = 6 h), as in
    :func:`taos.scoring.checkpoint_ledger`: the interval from one observation to the next, with log
    change ``c = ln(V / V_prev)``, is booked whole in the checkpoint of its start, into
    ``gains += max(c, 0)``, ``losses += min(c, 0)`` and ``time_in_market += τ``, where ``τ`` is the
    growth of the miner's hours in positions over the interval (:class:`PositionStats`), clipped to
    ``[0, interval]``. Only the checkpoints younger than the decay window are kept (a ring of
    ``⌊window / P⌋ + 2`` checkpoints shared by all miners): an older one has age weight 0.

    ``params`` keeps the period and window the ledger was built with. A ledger kept with other
    ones cannot be carried over: it is left out with a warning and the ledgers start anew (as from
    a state without them: ``OPTIONAL``).
    """

    STORED: ClassVar[dict[str, Stored]] = {
        "gains": Stored("float64", ("miners", "slots")),
        "losses": Stored("float64", ("miners", "slots")),
        "time_in_market_ns": Stored("int64", ("miners", "slots")),
        "checkpoint": Stored("int64", ("slots",), -1),  # checkpoint index of each slot
        "prev_value": Stored("float64", ("miners",), np.nan),
        "prev_time_ns": Stored("int64", ("miners",), -1),
        "prev_hours": Stored("float64", ("miners",), np.nan),
        "params": Stored("int64", ("2",)),  # period_ns, window_ns
    }
    OPTIONAL: ClassVar[bool] = True

    def __init__(self, miners: int, period_ns: int = 6 * NS_PER_HOUR, window_ns: int = 30 * DAY_NS) -> None:
        self.miners = _count(miners, "miners")
        self.period_ns = _count(period_ns, "period_ns")
        self.window_ns = _count(window_ns, "window_ns")
        self.slots = self.window_ns // self.period_ns + 2
        self._gains: FloatArray
        self._losses: FloatArray
        self._time_in_market_ns: IntArray
        self._checkpoint: IntArray
        self._prev_value: FloatArray
        self._prev_time_ns: IntArray
        self._prev_hours: FloatArray
        self._params: IntArray
        self.allocate()
        self._params[:] = (self.period_ns, self.window_ns)

    def sizes(self) -> dict[str, int]:
        return {"miners": self.miners, "slots": self.slots, "2": 2}

    def before_load(self, arrays: Mapping[str, np.ndarray]) -> Mapping[str, np.ndarray]:
        params = np.asarray(arrays.get("params", np.zeros(0)))
        if params.shape == (2,) and (int(params[0]), int(params[1])) != (self.period_ns, self.window_ns):
            log.warning(
                "ledger state was kept with checkpoint period %d ns and window %d ns, not %d ns and %d ns: "
                "the ledgers start anew",
                int(params[0]),
                int(params[1]),
                self.period_ns,
                self.window_ns,
            )
            return {}
        return arrays

    def observe(
        self, time_ns: int, values: ArrayLike, hours_in_positions: ArrayLike, active: ArrayLike
    ) -> None:
        """Books the interval since each ``active`` miner's previous value. A NaN value books
        nothing and leaves the previous observation in place; an interval whose checkpoint has left
        the ring (older than the window) is not booked.

        Raises:
            ValueError: time before a miner's previous observation, a value ≤ 0, wrong shapes.
        """
        t = _time(time_ns, "time_ns")
        v = _vector(values, self.miners, "values")
        h = _vector(hours_in_positions, self.miners, "hours_in_positions")
        ok = _mask(active, self.miners, "active") & np.isfinite(v)
        if (v[ok] <= 0).any():
            raise ValueError("values must be > 0 (log changes are taken)")
        if (ok & (self._prev_time_ns > t)).any():
            raise ValueError(f"time_ns {t} is before a miner's previous observation")
        idx = np.flatnonzero(ok & np.isfinite(self._prev_value) & (self._prev_time_ns < t))
        if idx.size:
            start = self._prev_time_ns[idx]
            cp = start // self.period_ns
            slot = cp % self.slots
            for s, c in zip(*np.unique(np.stack([slot, cp]), axis=1), strict=True):
                if self._checkpoint[s] < c:  # a new checkpoint takes over the slot of an expired one
                    self._checkpoint[s] = c
                    self._gains[:, s] = 0.0
                    self._losses[:, s] = 0.0
                    self._time_in_market_ns[:, s] = 0
            keep = self._checkpoint[slot] == cp  # an interval older than the ring's is not booked
            idx, start, slot = idx[keep], start[keep], slot[keep]
            change = np.log(v[idx] / self._prev_value[idx])
            np.add.at(self._gains, (idx, slot), np.maximum(change, 0.0))
            np.add.at(self._losses, (idx, slot), np.minimum(change, 0.0))
            with np.errstate(invalid="ignore"):
                dh = np.nan_to_num(h[idx] - self._prev_hours[idx], nan=0.0, posinf=0.0, neginf=0.0)
            tau = np.minimum(np.round(np.maximum(dh, 0.0) * NS_PER_HOUR), t - start).astype(np.int64)
            np.add.at(self._time_in_market_ns, (idx, slot), tau)
        self._prev_value = np.where(ok, v, self._prev_value)
        self._prev_time_ns = np.where(ok, t, self._prev_time_ns)
        self._prev_hours = np.where(ok, h, self._prev_hours)

    def ledger(self, uid: int) -> CheckpointLedger:
        """The miner's checkpoints in time order (the slots in use; zeros where it had no data)."""
        u = _uid(uid, self.miners)
        used = np.flatnonzero(self._checkpoint >= 0)
        order = used[np.argsort(self._checkpoint[used])]
        return CheckpointLedger(
            self._checkpoint[order] * self.period_ns,
            self._gains[u, order].copy(),
            self._losses[u, order].copy(),
            self._time_in_market_ns[u, order].copy(),
            self.period_ns,
        )

    def exposed(self, ledger: CheckpointLedger, now_ns: int, min_exposure: float) -> np.ndarray:
        """Which checkpoints of ``ledger`` count: those where the miner was in the market at least
        ``min_exposure`` of the checkpoint (of the part of it up to ``now_ns`` for the current one),
        and for some time at all."""
        covered = np.clip(now_ns - ledger.start_ns, 0, self.period_ns)
        out: np.ndarray = (ledger.time_in_market_ns >= min_exposure * covered) & (
            ledger.time_in_market_ns > 0
        )
        return out

    def counted(self, uids: Sequence[int], now_ns: int, min_exposure: float) -> IntArray:
        """The number of checkpoints that count (:meth:`exposed`) of each of ``uids``."""
        return np.array(
            [int(self.exposed(self.ledger(u), now_ns, min_exposure).sum()) for u in uids], dtype=np.int64
        )

    def metrics(
        self, uids: Sequence[int], now_ns: int, decay_exponent: float = 4.0, min_exposure: float = 0.0
    ) -> dict[str, FloatArray]:
        """``return``, ``omega`` and ``sortino`` of each of ``uids``' ledgers, every checkpoint
        weighted by its age (:func:`taos.scoring.ledger_age_weights` over the window); with a
        ``min_exposure`` the checkpoints that do not count (:meth:`exposed`) weigh 0."""
        out = {name: np.zeros(len(uids)) for name in ("return", "omega", "sortino")}
        for i, uid in enumerate(uids):
            ledger = self.ledger(uid)
            w = ledger_age_weights(ledger, now_ns, self.window_ns, decay_exponent)
            if min_exposure > 0:
                w = np.where(self.exposed(ledger, now_ns, min_exposure), w, 0.0)
            out["return"][i] = ledger_return(ledger, w)
            out["omega"][i] = ledger_omega(ledger, w)
            out["sortino"][i] = ledger_sortino(ledger, w)
        return out

    def reset_uid(self, uid: int) -> None:
        self.reset_entry(_uid(uid, self.miners))


# --- the policies together --------------------------------------------------------------------------
