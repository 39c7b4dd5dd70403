"""Scoring schemes are plug-ins: a third one is registered and used by the validator without any
change to it (scores, weights, exclusion, its state through the store), and the two presets are
the two schemes."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from test_validator_loop import make

from taos.validator.history import ScoreParams, ScoreState
from taos.validator.loop import run
from taos.validator.persisted import Stored, load_state, state_of
from taos.validator.policy import ScoringSettings
from taos.validator.schemes import (
    Observation,
    PtnScheme,
    ScoringScheme,
    TaosScheme,
    default_scheme,
    make_scheme,
    register_scheme,
    scheme_names,
)
from taos.validator.schemes.ptn.common import Elimination
from taos.validator.store import ValidatorStore
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings


class EveryoneEqual(ScoringScheme):
    """Equal weights for the tracked miners except uid 2, which it excludes; counts its steps."""

    name = "equal-test"

    def __init__(self, settings: ScoringSettings, params: ScoreParams, slots: int, books: int) -> None:
        super().__init__(settings, params, slots, books)
        self.steps = np.zeros(1, dtype=np.int64)
        self.tracked_seen: set[int] = set()

    def observe(self, obs: Observation) -> list[Elimination]:
        super().observe(obs)
        self.steps[0] += 1
        self.tracked_seen |= {int(u) for u in np.flatnonzero(obs.tracked)}
        return []

    def scores(self, now_ns: int, tracked: np.ndarray) -> np.ndarray:
        return tracked.astype(np.float64)

    def weights(self, uids: Sequence[int], now_ns: int, exclude: int | None) -> tuple[np.ndarray, np.ndarray]:
        scores = np.array([0.0 if u in (exclude, 2) else 1.0 for u in uids])
        return scores / max(scores.sum(), 1.0), scores

    def excluded(self) -> np.ndarray:
        out = np.zeros(self.slots, dtype=np.bool_)
        out[2] = True
        return out

    # its own state, declared once: saved and restored with the history by the validator's store
    STORED: ClassVar[dict[str, Stored]] = {"steps": Stored("int64", ("1",))}
    ATTR_PREFIX: ClassVar[str] = ""

    def sizes(self) -> dict[str, int]:
        return {"1": 1}


register_scheme(EveryoneEqual)


def test_a_third_scheme_is_used_by_the_validator_without_changing_it(tmp_path: Path) -> None:
    base, _, chain = make(tmp_path)
    store = ValidatorStore(tmp_path / "state")
    settings = ValidatorSettings(weights_interval_s=0.0, scheme="equal-test")
    v = Validator(base.config, chain, base.transport, settings, store=store)
    v.sync_chain()
    steps = asyncio.run(run(v, max_steps=30))
    scheme = v.scheme
    assert isinstance(scheme, EveryoneEqual) and scheme.name in scheme_names()
    assert 0 < scheme.steps[0] < steps  # observed every step after the grace period
    assert scheme.tracked_seen == {1, 2, 3}  # the registered uids, not the validator's own (0)
    assert 2 not in v.serving() and 1 in v.serving()  # excluded: not queried
    assert v.miner_scores().tolist() == [0.0, 1.0, 1.0, 1.0]
    v.sync_chain(force_weights=True)
    last = chain.weight_calls[-1]
    assert last.uids == (0, 1, 2, 3) and list(last.weights) == pytest.approx([0, 0.5, 0, 0.5])
    store.close()
    # its state goes through the store: a validator built with the same settings resumes it
    with ValidatorStore(tmp_path / "state") as again:
        resumed = Validator(v.config, chain, InProcessTransport({}), v.settings, store=again)
    assert isinstance(resumed.scheme, EveryoneEqual) and resumed.scheme.steps[0] == scheme.steps[0]


def test_the_presets_are_the_two_schemes_and_unknown_names_are_refused() -> None:
    params = ScoreParams(starting_wealth=100.0)
    taos, ptn = ScoringSettings.preset("taos"), ScoringSettings.preset("ptn")
    assert (default_scheme(taos), default_scheme(ptn)) == ("taos", "ptn")
    assert isinstance(make_scheme(None, taos, params, 3, 2), TaosScheme)
    assert isinstance(make_scheme(None, ptn, params, 3, 2), PtnScheme)
    with pytest.raises(ValueError, match=r"unknown scoring scheme 'nope'; known: .*ptn, taos"):
        make_scheme("nope", taos, params, 3, 2)

    class Nameless(TaosScheme):
        name = ""

    class Twin(TaosScheme):
        name = "taos"

    with pytest.raises(ValueError, match="has no scheme name"):
        register_scheme(Nameless)
    with pytest.raises(ValueError, match="a scheme named 'taos' is registered already"):
        register_scheme(Twin)


def test_a_scheme_refuses_a_stored_history_of_another_size() -> None:
    params = ScoreParams(starting_wealth=100.0)
    scheme = make_scheme(None, ScoringSettings.preset("taos"), params, 3, 2)

    def stored(slots: int) -> dict[str, np.ndarray]:
        return {f"history/{k}": a for k, a in state_of(ScoreState(params, slots, 2)).items()}

    with pytest.raises(
        ValueError, match=r"array history/values must be float64\[3, 2, 720\], got float64\[4, 2, 720\]"
    ):
        load_state(scheme, stored(4))
    load_state(scheme, stored(3))  # the right size is taken
    # a history kept with another window is taken with it (the window is its own parameter)
    other = ScoreState(dataclasses.replace(params, window=10), 3, 2)
    load_state(scheme, {f"history/{k}": a for k, a in state_of(other).items()})
    assert scheme.history.params.window == 10
