"""Pacing the validator loop to wall time (taos.validator.loop.Pacer, run(pace=...)): on a clock the
test moves by hand, so nothing here depends on the machine's speed."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from clocks import ManualClock
from markets import loop_market

from taos.chain import LocalChain
from taos.config import loads
from taos.validator.loop import SLOW_LOG_S, Pacer, run
from taos.validator.metrics import ValidatorMetrics
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings


def test_a_step_waits_for_the_rest_of_its_period_and_a_slow_one_does_not() -> None:
    clock = ManualClock(100.0)
    p = Pacer(5.0, 1.0, clock)  # 5 s of sim time a step, at pace 1: a step every 5 s
    p.started()
    clock.now += 1.5  # the step took 1.5 s
    assert p.wait_s(1) == pytest.approx(3.5) and p.lag_s == 0.0
    clock.now += 3.5
    p.started()
    clock.now += 7.0  # 2 s over its period: the next starts at once, no catching up afterwards
    assert p.wait_s(2) == 0.0 and p.lag_s == pytest.approx(2.0)
    p.started()
    clock.now += 1.0
    assert p.wait_s(3) == pytest.approx(4.0)  # a full period from the late start
    p2 = Pacer(5.0, 2.0, clock)  # pace 2: twice as fast as the wall clock
    p2.started()
    clock.now += 1.0
    assert p2.wait_s(1) == pytest.approx(1.5)


def test_unpaced_never_waits_and_a_bad_pace_is_refused() -> None:
    clock = ManualClock(100.0)
    p = Pacer(5.0, 0.0, clock)
    p.started()
    clock.now += 1_000.0
    assert p.wait_s(1) == 0.0 and p.lag_s == 0.0
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="pace must be a finite number >= 0"):
            Pacer(5.0, bad, clock)


def test_slow_steps_are_logged_once_a_minute_with_their_count(caplog: pytest.LogCaptureFixture) -> None:
    clock = ManualClock(100.0)
    p = Pacer(5.0, 1.0, clock)
    with caplog.at_level(logging.WARNING, logger="taos.validator"):
        for step in range(1, 31):  # 30 steps of 6 s: each 1 s over, 180 s in all
            p.started()
            clock.now += 6.0
            assert p.wait_s(step) == 0.0
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3  # at 6 s, 66 s and 126 s: once a minute (SLOW_LOG_S)
    assert SLOW_LOG_S == 60.0
    assert "step 1 took 6.00 s, more than its 5.00 s at this pace (1 slow step(s)" in lines[0]
    assert "(10 slow step(s) since the last such line)" in lines[1]


def validator(tmp_path: Path, metrics: ValidatorMetrics | None = None) -> Validator:
    chain = tmp_path / "chain.json"
    chain.write_text(json.dumps({"neurons": [{"hotkey": "v", "validator_permit": True}]}))
    config = loads(loop_market(slots=2, grace_period_s=0.0, duration_s=600.0))
    settings = ValidatorSettings(weights_interval_s=1e9)
    return Validator(
        config, LocalChain.from_file(chain, "v"), InProcessTransport({}), settings, metrics=metrics
    )


def test_a_paced_loop_is_stopped_while_it_waits(tmp_path: Path) -> None:
    """At pace 0.001 a step of 5 s waits 5,000 s of wall time for the next: setting the stop event
    ends the wait at once (the run would not end in 30 s otherwise)."""
    v = validator(tmp_path)

    async def main() -> int:
        stop = asyncio.Event()
        return await asyncio.wait_for(run(v, stop=stop, pace=0.001, on_step=lambda _: stop.set()), 30)

    assert asyncio.run(main()) == 1


def test_the_pace_lag_is_a_metric(tmp_path: Path) -> None:
    """The loop reports each step's overrun: on a clock that jumps 10 s a reading, every step of a
    5 s period at pace 1 is late."""
    metrics = ValidatorMetrics(process_metrics=False)
    v = validator(tmp_path, metrics)
    ticks = iter(range(0, 10_000, 10))
    assert asyncio.run(run(v, max_steps=3, pace=1.0, clock=lambda: float(next(ticks)))) == 3
    assert metrics.registry.get_sample_value("taos_validator_pace_lag_seconds") == pytest.approx(5.0)
    assert asyncio.run(run(v, max_steps=2)) == 2  # unpaced (taos local): no lag
    assert metrics.registry.get_sample_value("taos_validator_pace_lag_seconds") == 0.0
