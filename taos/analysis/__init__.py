"""Analysis of simulated markets: the stylized facts of SPEC §5."""

from taos.analysis.stylized import (
    StylizedFacts,
    autocorrelation,
    excess_kurtosis,
    log_returns,
    stylized_facts,
)

__all__ = ["StylizedFacts", "autocorrelation", "excess_kurtosis", "log_returns", "stylized_facts"]
