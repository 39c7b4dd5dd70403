"""Analysis of simulated markets: the stylized facts of SPEC §5, and run folders read back.

The run-folder functions (``load_run``, ``run_stylized_facts``, ``plot_run``) need pandas, pyarrow
and matplotlib (the ``local`` extra); they are imported on first use, so the statistics work
without them.
"""

from typing import Any

from taos.analysis.stylized import (
    StylizedFacts,
    autocorrelation,
    excess_kurtosis,
    log_returns,
    stylized_facts,
)

_LAZY = {
    "Run": "taos.analysis.run",
    "RunFolderError": "taos.analysis.run",
    "load_run": "taos.analysis.run",
    "run_stylized_facts": "taos.analysis.run",
    "sampled_mid": "taos.analysis.run",
    "plot_run": "taos.analysis.plots",
}

__all__ = [
    "Run",
    "RunFolderError",
    "StylizedFacts",
    "autocorrelation",
    "excess_kurtosis",
    "load_run",
    "log_returns",
    "plot_run",
    "run_stylized_facts",
    "sampled_mid",
    "stylized_facts",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'taos.analysis' has no attribute {name!r}")
