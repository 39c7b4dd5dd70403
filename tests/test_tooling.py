"""House tooling: ruff (lint and format) and mypy pass on the Python code."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY_DIRS = ["taos", "tests", "benchmarks", "agents", "mining"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_ruff_lint() -> None:
    out = run("ruff", "check", *PY_DIRS)
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_format() -> None:
    out = run("ruff", "format", "--check", *PY_DIRS)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy() -> None:
    out = run("mypy", "taos")
    assert out.returncode == 0, out.stdout + out.stderr
