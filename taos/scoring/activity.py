"""Activity factor and activity-weighted Sharpe per book (SPEC §9, preset ``taos``).

Both functions are elementwise: pass one entry per miner (or per miner and book) and get an array
of the broadcast shape back. The activity factor is state carried from one observation to the next;
the caller stores it and passes it back as ``prev``.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from taos.scoring._arrays import (
    FloatArray,
    any_above,
    any_below,
    as_bool,
    as_float,
    broadcast_shape,
    positive_scalar,
)

ACTIVITY_MAX = 2.0


def activity_factor(
    prev: ArrayLike,
    volume_in_window: ArrayLike,
    cap: float,
    traded_in_latest_bucket: ArrayLike,
    window_len: float,
    reset: ArrayLike | None = None,
) -> FloatArray:
    """One update of the activity factor ``a`` (one call per observation step).

    ``a ← min(1 + v / cap, 2)`` where the miner traded in the latest 10-minute bucket, otherwise
    ``a ← a · 2^(-1/L)``, so an idle miner's factor halves over one Sharpe window of ``L``
    observations. New or reset miners start at 0: pass ``prev = 0`` for them, or mark them in
    ``reset`` (their previous factor is then taken as 0). A miner that never trades stays at 0.
    Reference: the subnet-79 τaos reference scoring as described in SPEC §9; the cap is
    10 times the starting wealth there.

    Args:
        prev: previous factors, each in [0, 2].
        volume_in_window: traded volume ``v ≥ 0`` in the Sharpe window (quote currency, like ``cap``).
        cap: volume at which the factor reaches its maximum 2 (> 0).
        traded_in_latest_bucket: boolean, whether the miner traded in the latest bucket.
        window_len: ``L``, the Sharpe window length in observations (> 0).
        reset: optional boolean mask of miners whose previous factor is replaced by 0.

    Rules: NaN propagates elementwise (a NaN ``prev`` stays NaN unless the miner traded; a NaN
    volume gives NaN where the miner traded). Shapes broadcast.

    Returns:
        float64 array of the broadcast shape of the array arguments.

    Raises:
        ValueError: ``prev`` outside [0, 2], a negative volume, ``cap`` or ``window_len`` not a
        positive number, a non-boolean mask, or shapes that do not broadcast.
    """
    a = as_float(prev, "prev")
    v = as_float(volume_in_window, "volume_in_window")
    traded = as_bool(traded_in_latest_bucket, "traded_in_latest_bucket")
    cap_v = positive_scalar(cap, "cap")
    length = positive_scalar(window_len, "window_len")
    if any_below(a, 0.0) or any_above(a, ACTIVITY_MAX):
        raise ValueError("prev must lie in [0, 2]")
    if any_below(v, 0.0):
        raise ValueError("volume_in_window must be >= 0")
    broadcast_shape("prev", a, "volume_in_window", v)
    broadcast_shape("prev", a, "traded_in_latest_bucket", traded)
    broadcast_shape("volume_in_window", v, "traded_in_latest_bucket", traded)
    if reset is not None:
        was_reset = as_bool(reset, "reset")
        broadcast_shape("prev", a, "reset", was_reset)
        a = np.where(was_reset, 0.0, a)
    decayed = a * 2.0 ** (-1.0 / length)
    boosted = np.minimum(1.0 + v / cap_v, ACTIVITY_MAX)
    out: FloatArray = np.where(traded, boosted, decayed).astype(np.float64)
    return out


def activity_weighted(a: ArrayLike, s_hat: ArrayLike) -> FloatArray:
    """Activity-weighted normalised Sharpe ``w`` per book, elementwise.

    ``w = a · Ŝ`` when ``a < 1`` or ``Ŝ > 0.5``, else ``w = (2 - a) · Ŝ``.
    With a positive Sharpe (Ŝ > 0.5) more activity raises the score; with a zero or negative one
    (Ŝ ≤ 0.5) an active miner (a ≥ 1) is scaled down by ``2 - a`` instead, so volume cannot
    inflate a losing book. The rule is continuous in ``a`` at ``a = 1`` but not in Ŝ at Ŝ = 0.5
    (as specified). Reference: the subnet-79 τaos reference scoring as described in SPEC §9.

    Rules: NaN propagates. Shapes broadcast.

    Raises:
        ValueError: ``a`` outside [0, 2], ``s_hat`` outside [0, 1], or shapes that do not broadcast.
    """
    act = as_float(a, "a")
    s = as_float(s_hat, "s_hat")
    if any_below(act, 0.0) or any_above(act, ACTIVITY_MAX):
        raise ValueError("a must lie in [0, 2]")
    if any_below(s, 0.0) or any_above(s, 1.0):
        raise ValueError("s_hat must lie in [0, 1]")
    broadcast_shape("a", act, "s_hat", s)
    out: FloatArray = np.where((act < 1.0) | (s > 0.5), act * s, (2.0 - act) * s).astype(np.float64)
    return out
