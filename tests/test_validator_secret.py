"""The validator's secret seed (taos.validator.secret): a miner who knows the config cannot compute
the fundamental price path of the validator's simulation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from taos.chain import LocalChain, Neuron
from taos.config import Config, loads, to_core
from taos.simulator import Simulation, instruction_array
from taos.validator.secret import (
    SECRET_ENV,
    SECRET_FILE,
    SecretError,
    secret_seed,
    simulation_secret,
    with_secret_seed,
)
from taos.validator.store import config_hash
from taos.validator.transport import InProcessTransport
from taos.validator.validator import Validator, ValidatorSettings

CONFIG = """
[simulation]
books = 2
seed = 5
duration_s = 600.0
[miners]
slots = 2
[[population]]
model = "market_maker"
count = 2
base = 200.0
quote = 60000.0
"""


def fundamental_path(config: Config, seconds: int = 300) -> list[list[int]]:
    """Every book's fundamental price (ticks) each 10 s of a twin run of ``config``."""
    sim = Simulation(to_core(config))
    out = []
    for t in range(10, seconds + 1, 10):
        sim.step(t * 10**9, instruction_array(0), 1, 0)
        out.append([sim.fundamental_ticks(b) for b in range(2)])
    return out


def test_the_secret_file_is_made_once_private_and_kept(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = simulation_secret(state, env={})
    path = state / SECRET_FILE
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first) == 64 and int(first, 16) >= 0
    assert simulation_secret(state, env={}) == first  # read back at a restart
    assert simulation_secret(tmp_path / "other", env={}) != first  # another validator draws its own


def test_the_environment_secret_comes_first_and_must_be_long(tmp_path: Path) -> None:
    shared = "shared-by-a-group-of-validators"
    assert simulation_secret(tmp_path, env={SECRET_ENV: shared}) == shared
    assert not (tmp_path / SECRET_FILE).exists()
    with pytest.raises(SecretError, match=f"{SECRET_ENV}: the simulation secret must have at least 16"):
        simulation_secret(tmp_path, env={SECRET_ENV: "short"})
    (tmp_path / SECRET_FILE).write_text("too short\n")
    with pytest.raises(SecretError, match="at least 16 characters"):
        simulation_secret(tmp_path, env={})


def test_an_unwritable_state_folder_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:  # root writes anywhere: a file where the folder should be instead
        (tmp_path / "state").write_text("")
        with pytest.raises(SecretError, match="state"):
            simulation_secret(tmp_path / "state", env={})
        return
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(SecretError, match="state"):
            simulation_secret(tmp_path / "state", env={})
    finally:
        tmp_path.chmod(0o700)


def test_the_seed_mixes_the_secret_in() -> None:
    a, b = secret_seed(5, "x" * 16), secret_seed(5, "y" * 16)
    assert a != b and a == secret_seed(5, "x" * 16) and secret_seed(6, "x" * 16) != a
    assert all(0 <= s < 2**63 for s in (a, b))
    config = loads(CONFIG)
    mixed = with_secret_seed(config, "x" * 16)
    assert mixed.simulation.seed == a
    assert mixed.simulation.books == config.simulation.books and mixed.populations == config.populations


def test_knowing_the_config_does_not_give_the_fundamental_path() -> None:
    config = loads(CONFIG)
    twin = fundamental_path(config)  # what a miner computes from the public config
    assert twin == fundamental_path(config)  # (the path is the seed's alone: a twin reproduces it)
    assert fundamental_path(with_secret_seed(config, "the validator's own secret")) != twin


def test_the_miners_are_told_an_opaque_simulation_id() -> None:
    config = with_secret_seed(loads(CONFIG), "z" * 16)
    chain = LocalChain("v", [Neuron(0, "v", True, 1.0, None), Neuron(1, "m", False, 0.0, None)])
    v = Validator(config, chain, InProcessTransport({}), ValidatorSettings())
    sid = v.info.simulation_id
    assert sid == config_hash(config)[:16] and str(config.simulation.seed) not in sid
