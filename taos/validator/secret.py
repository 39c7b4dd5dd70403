"""The validator's simulation seed is secret.

Everything random in a simulation is drawn from its seed, including each book's fundamental price
path, which has a random stream of its own: whoever knows the config and the seed can run a twin
simulation and read every book's fundamental price hours ahead (what the league's informed
reference agent is handed as a research instrument). The config files are public, so a validator
never runs the config's seed as it is: it runs ``secret_seed(config seed, secret)``, a hash of the
two, and tells the miners only an opaque ``simulation_id`` (a hash of the config with that seed).

The secret comes from the environment variable ``TAOS_SIMULATION_SECRET`` (validators that want to
run the same simulations share it), else from the file ``simulation-secret`` in the state folder,
written with 32 random bytes (hex, mode 0600) at the first start and read at every restart, so
that a restarted validator resumes the same simulation. ``taos local`` and the other research
tools run the config's seed as it is.

A validator runs simulation after simulation: the k-th runs ``simulation_seed(first seed, k)``, so
validators with the same config and secret run the same sequence.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from taos.config import Config

SECRET_ENV = "TAOS_SIMULATION_SECRET"
SECRET_FILE = "simulation-secret"
MIN_SECRET_CHARS = 16


class SecretError(ValueError):
    """A simulation secret that is missing, too short or unreadable."""


def _checked(secret: str, where: str) -> str:
    secret = secret.strip()
    if len(secret) < MIN_SECRET_CHARS:
        raise SecretError(f"{where}: the simulation secret must have at least {MIN_SECRET_CHARS} characters")
    return secret


def simulation_secret(state: Path, env: Mapping[str, str] = os.environ) -> str:
    """The secret of the validator whose state folder is ``state``: ``$TAOS_SIMULATION_SECRET``,
    else the folder's ``simulation-secret`` file, created (32 random bytes, hex, mode 0600) when
    absent.

    Raises:
        SecretError: the variable or the file holds fewer than 16 characters, or the file cannot
        be read or written."""
    if env.get(SECRET_ENV):
        return _checked(env[SECRET_ENV], SECRET_ENV)
    path = state / SECRET_FILE
    try:
        if not path.exists():
            state.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32) + "\n")
                f.flush()
                os.fsync(f.fileno())
        return _checked(path.read_text(), str(path))
    except OSError as e:
        raise SecretError(f"{path}: {e.strerror or e}") from None


def secret_seed(seed: int, secret: str) -> int:
    """The seed a validator runs: sha256 of the config's seed and the secret, as an integer in
    ``[0, 2^63)``."""
    digest = hashlib.sha256(f"taos-seed:{int(seed)}:{secret}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def simulation_seed(seed: int, simulation: int) -> int:
    """The seed of the ``simulation``-th simulation (0: the first) of a validator whose first
    simulation runs ``seed``: ``seed`` itself for the first, then sha256 of both, as an integer in
    ``[0, 2^63)``. Validators that run the same first seed (the same config and secret) run the
    same sequence; without the secret the sequence is as unknown as the first seed."""
    if isinstance(simulation, bool) or not isinstance(simulation, int) or simulation < 0:
        raise ValueError(f"simulation must be an integer >= 0, got {simulation!r}")
    if simulation == 0:
        return int(seed)
    digest = hashlib.sha256(f"taos-simulation:{int(seed)}:{simulation}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def with_seed(config: Config, seed: int) -> Config:
    """``config`` with ``simulation.seed`` replaced."""
    return replace(config, simulation=replace(config.simulation, seed=int(seed)))


def with_secret_seed(config: Config, secret: str) -> Config:
    """``config`` with its seed replaced by ``secret_seed(config seed, secret)``."""
    return with_seed(config, secret_seed(config.simulation.seed, secret))


__all__ = [
    "SECRET_ENV",
    "SECRET_FILE",
    "SecretError",
    "secret_seed",
    "simulation_secret",
    "simulation_seed",
    "with_secret_seed",
    "with_seed",
]
