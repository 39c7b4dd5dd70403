"""When the validator sets weights: only with a validator permit (one warning without), and a
failing chain call backs off instead of being retried at every step."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import pytest
from clocks import ManualClock
from markets import loop_market

from taos.chain import ChainError, LocalChain
from taos.config import loads
from taos.validator.transport import InProcessTransport
from taos.validator.validator import WEIGHTS_RETRY_S, Validator, ValidatorSettings


def chain_file(path: Path, *, permit: bool) -> Path:
    neurons = [{"hotkey": "v", "validator_permit": permit, "stake": 5.0}, {"hotkey": "m"}]
    path.write_text(json.dumps({"neurons": neurons}))
    return path


def make(chain: LocalChain, interval_s: float, clock: ManualClock) -> Validator:
    config = loads(loop_market(slots=2, grace_period_s=0.0, duration_s=600.0))
    settings = ValidatorSettings(weights_interval_s=interval_s)
    return Validator(config, chain, InProcessTransport({}), settings, clock=clock)


def test_without_a_permit_no_weights_are_set_and_it_is_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = chain_file(tmp_path / "chain.json", permit=False)
    chain = LocalChain.from_file(path, "v")
    v = make(chain, 0.0, ManualClock(0.0))
    with caplog.at_level(logging.INFO, logger="taos.validator"):
        for _ in range(5):
            v.sync_chain()
        assert chain.weight_calls == []
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert warnings == [
            "hotkey v has no validator permit (stake 5): weights are not set until it has one"
        ]
        chain_file(path, permit=True)
        v.sync_chain()
    assert len(chain.weight_calls) == 1 and chain.weight_calls[0].uids == (0, 1)
    assert "hotkey v has a validator permit now: weights are set again" in caplog.text


class Failing(LocalChain):
    failing = True

    def set_weights(self, uids: Sequence[int], weights: Sequence[float]) -> None:
        if self.failing:
            raise ChainError("the node refused the extrinsic")
        super().set_weights(uids, weights)


def test_a_failing_set_weights_backs_off_up_to_the_interval(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = chain_file(tmp_path / "chain.json", permit=True)
    chain = Failing.from_file(path, "v")
    attempts: list[float] = []
    clock = ManualClock(0.0)
    real = Failing.set_weights

    def counted(self: Failing, uids: Sequence[int], weights: Sequence[float]) -> None:
        attempts.append(clock.now)
        real(self, uids, weights)

    monkeypatch.setattr(Failing, "set_weights", counted)
    v = make(chain, 300.0, clock)
    with caplog.at_level(logging.INFO, logger="taos.validator"):
        for t in range(0, 1000, 5):  # a sync every 5 s, as steps at pace 1
            clock.now = float(t)
            v.sync_chain()
    assert WEIGHTS_RETRY_S == 30.0
    # 0, then 30, 60, 120, 240 s later, then every 300 s (the interval)
    assert attempts == [0.0, 30.0, 90.0, 210.0, 450.0, 750.0]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "retrying in 30 s" in warnings[0].getMessage()
    assert "set_weights failed 5 times in a row" in caplog.text
    Failing.failing = False
    try:
        clock.now = 1110.0
        with caplog.at_level(logging.INFO, logger="taos.validator"):
            v.sync_chain()
        assert chain.weight_calls and "set_weights works again after 6 failures" in caplog.text
        clock.now = 1400.0
        v.sync_chain()  # 290 s later: not due yet
        assert len(chain.weight_calls) == 1
    finally:
        Failing.failing = True


def test_the_local_chain_keeps_the_weights_in_its_file(tmp_path: Path) -> None:
    path = chain_file(tmp_path / "chain.json", permit=True)
    chain = LocalChain.from_file(path, "v")
    chain.set_weights([0, 1], [0.25, 0.75])
    written = json.loads(path.read_text())["weights"]
    assert written == {"v": {"block": 0, "uids": [0, 1], "weights": [0.25, 0.75]}}
    assert LocalChain.from_file(path, "m").metagraph().neurons[1].hotkey == "m"  # still a chain file
    chain.set_weights([0, 1], [1.0, 0.0])  # replaced, not appended
    assert json.loads(path.read_text())["weights"]["v"]["weights"] == [1.0, 0.0]
    bad = json.loads(path.read_text())
    bad["weights"] = ["not", "an", "object"]
    path.write_text(json.dumps(bad))
    with pytest.raises(ChainError, match="weights: must be an object"):
        LocalChain.from_file(path, "v")
