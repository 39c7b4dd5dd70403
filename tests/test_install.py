"""TAOS_NO_SIMULATOR=1 pip install . gives the pure-Python package (miners)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_install_without_simulator(tmp_path: Path) -> None:
    target = tmp_path / "site"
    env = dict(os.environ, TAOS_NO_SIMULATOR="1")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(ROOT),
        ],
        check=True,
        env=env,
        cwd=tmp_path,
        capture_output=True,
    )
    installed = {p.name for p in (target / "taos").iterdir()}
    assert {"protocol", "simulator", "agents", "chain", "miner", "signals", "__init__.py"} <= installed
    assert not [p for p in (target / "taos").rglob("*") if p.suffix in {".so", ".pyd"}], (
        "an extension was built"
    )
    code = (
        "import taos.protocol as p, taos.agents, taos.chain, taos.miner, taos.signals.server\n"
        "print(p.Side.SELL.value)\n"
        "try:\n    import taos.simulator\nexcept ImportError as e:\n    print('no simulator')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, PYTHONPATH=str(target)),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["2", "no", "simulator"]
