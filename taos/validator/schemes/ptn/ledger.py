"""The checkpoint ledger of preset ``ptn`` (summed log gains, log losses, time in market per
checkpoint period of sim time), built step by step and kept for the decay window only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

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
from taos.validator.schemes.ptn.common import (
    NS_PER_HOUR,
    FloatArray,
    IntArray,
    LedgerSettingsChanged,
    _count,
    _load,
    _mask,
    _time,
    _uid,
    _vector,
)


class LedgerTracker:
    """The checkpoint ledger of every miner (SPEC §9 preset ``ptn``), built step by step.

    Checkpoint ``k`` covers ``[k·P, (k+1)·P)`` of sim time (``P`` = 6 h), as in
    :func:`taos.scoring.checkpoint_ledger`: the interval from one observation to the next, with log
    change ``c = ln(V / V_prev)``, is booked whole in the checkpoint of its start, into
    ``gains += max(c, 0)``, ``losses += min(c, 0)`` and ``time_in_market += τ``, where ``τ`` is the
    growth of the miner's hours in positions over the interval (:class:`PositionStats`), clipped to
    ``[0, interval]``. Only the checkpoints younger than the decay window are kept (a ring of
    ``⌊window / P⌋ + 2`` checkpoints shared by all miners): an older one has age weight 0.
    """

    _FIELDS = (
        "gains",
        "losses",
        "time_in_market_ns",
        "checkpoint",
        "prev_value",
        "prev_time_ns",
        "prev_hours",
    )

    def __init__(self, miners: int, period_ns: int = 6 * NS_PER_HOUR, window_ns: int = 30 * DAY_NS) -> None:
        self.miners = _count(miners, "miners")
        self.period_ns = _count(period_ns, "period_ns")
        self.window_ns = _count(window_ns, "window_ns")
        self.slots = self.window_ns // self.period_ns + 2
        m, k = self.miners, self.slots
        self._gains: FloatArray = np.zeros((m, k))
        self._losses: FloatArray = np.zeros((m, k))
        self._time_in_market_ns: IntArray = np.zeros((m, k), dtype=np.int64)
        self._checkpoint: IntArray = np.full(k, -1, dtype=np.int64)  # checkpoint index of each slot
        self._prev_value: FloatArray = np.full(m, np.nan)
        self._prev_time_ns: IntArray = np.full(m, -1, dtype=np.int64)
        self._prev_hours: FloatArray = np.full(m, np.nan)

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

    def metrics(self, uids: Sequence[int], now_ns: int, decay_exponent: float = 4.0) -> dict[str, FloatArray]:
        """``return``, ``omega`` and ``sortino`` of each of ``uids``' ledgers, every checkpoint
        weighted by its age (:func:`taos.scoring.ledger_age_weights` over the window)."""
        out = {name: np.zeros(len(uids)) for name in ("return", "omega", "sortino")}
        for i, uid in enumerate(uids):
            ledger = self.ledger(uid)
            w = ledger_age_weights(ledger, now_ns, self.window_ns, decay_exponent)
            out["return"][i] = ledger_return(ledger, w)
            out["omega"][i] = ledger_omega(ledger, w)
            out["sortino"][i] = ledger_sortino(ledger, w)
        return out

    def reset_uid(self, uid: int) -> None:
        u = _uid(uid, self.miners)
        self._gains[u] = 0.0
        self._losses[u] = 0.0
        self._time_in_market_ns[u] = 0
        self._prev_value[u] = np.nan
        self._prev_time_ns[u] = -1
        self._prev_hours[u] = np.nan

    def to_state(self) -> dict[str, np.ndarray]:
        out = {name: getattr(self, f"_{name}").copy() for name in self._FIELDS}
        out["params"] = np.array([self.period_ns, self.window_ns], dtype=np.int64)
        return out

    @classmethod
    def from_state(
        cls, state: Mapping[str, np.ndarray], miners: int, period_ns: int, window_ns: int
    ) -> LedgerTracker:
        out = cls(miners, period_ns, window_ns)
        m, k = out.miners, out.slots
        layout = {
            "gains": ("float64", (m, k)),
            "losses": ("float64", (m, k)),
            "time_in_market_ns": ("int64", (m, k)),
            "checkpoint": ("int64", (k,)),
            "prev_value": ("float64", (m,)),
            "prev_time_ns": ("int64", (m,)),
            "prev_hours": ("float64", (m,)),
            "params": ("int64", (2,)),
        }
        params = np.asarray(state.get("params", np.zeros(0)))
        if params.shape == (2,) and (int(params[0]), int(params[1])) != (out.period_ns, out.window_ns):
            raise LedgerSettingsChanged(
                f"ledger state was kept with checkpoint period {int(params[0])} ns and window "
                f"{int(params[1])} ns, not {out.period_ns} ns and {out.window_ns} ns"
            )
        arrays = _load(state, layout, "ledger")
        del arrays["params"]
        for name, a in arrays.items():
            setattr(out, f"_{name}", a)
        return out


# --- the policies together --------------------------------------------------------------------------
