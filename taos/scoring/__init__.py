"""Scoring: pure functions on numpy arrays, one metric per function (SPEC §9, §10; docs/scoring.md).

No validator state, network or I/O: every function maps arrays to numbers. Conventions:

- *Reductions* (one series → one number: :func:`sharpe`, :func:`omega`, :func:`taos_score`, …)
  return a Python ``float``.
- *Elementwise* functions (one value per miner: :func:`inventory_value`, :func:`activity_factor`,
  :func:`normalize_sharpe`, :func:`ema`, …) accept scalars or arrays that broadcast and return a
  float64 ndarray of the broadcast shape (0-d for scalar input; ``float()`` gives the number).
- ``*_batch`` functions apply a reduction along the last axis of an array at once, with exactly the
  rules of the one-series form.
- Each function documents its rule for empty, constant, one-sample and NaN input, and raises
  ``ValueError`` naming the argument for malformed input; none emits a numpy warning.
"""

from taos.scoring.activity import activity_factor, activity_weighted
from taos.scoring.inventory import INVENTORY_METHODS, InventoryMethod, inventory_value
from taos.scoring.ledger import (
    CHECKPOINT_NS,
    CheckpointLedger,
    age_decay_weight,
    checkpoint_ledger,
    ledger_age_weights,
    ledger_omega,
    ledger_return,
    ledger_sortino,
)
from taos.scoring.presets import (
    PTN_METRIC_WEIGHTS,
    ChallengeThresholds,
    challenge_passed,
    outlier_penalty,
    ptn_score,
    rank_percentiles,
    taos_score,
    taos_score_batch,
)
from taos.scoring.risk import (
    DAY_NS,
    calmar,
    max_drawdown,
    omega,
    sortino_time_adjusted,
    total_return,
)
from taos.scoring.sharpe import normalize_sharpe, penalize_noisy_losses, sharpe, sharpe_batch, typical_std
from taos.scoring.weights import challenge_weights, ema, exponential_rank_weights, weights_from_scores

__all__ = [
    "CHECKPOINT_NS",
    "DAY_NS",
    "INVENTORY_METHODS",
    "PTN_METRIC_WEIGHTS",
    "ChallengeThresholds",
    "CheckpointLedger",
    "InventoryMethod",
    "activity_factor",
    "activity_weighted",
    "age_decay_weight",
    "calmar",
    "challenge_passed",
    "challenge_weights",
    "checkpoint_ledger",
    "ema",
    "exponential_rank_weights",
    "inventory_value",
    "ledger_age_weights",
    "ledger_omega",
    "ledger_return",
    "ledger_sortino",
    "max_drawdown",
    "normalize_sharpe",
    "omega",
    "outlier_penalty",
    "penalize_noisy_losses",
    "ptn_score",
    "rank_percentiles",
    "sharpe",
    "sharpe_batch",
    "sortino_time_adjusted",
    "taos_score",
    "taos_score_batch",
    "total_return",
    "typical_std",
    "weights_from_scores",
]
