"""Layering rules of DESIGN.md that a test can check."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.MULTILINE)


def _includes(path: Path) -> list[str]:
    return [m.group(2) for m in INCLUDE.finditer(path.read_text())]


def _core_files() -> list[Path]:
    return [
        p
        for d in ("include", "src")
        for p in (ROOT / "simulator" / d).rglob("*")
        if p.suffix in {".hpp", ".cpp"}
    ]


def test_pybind11_only_in_bindings() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "simulator").rglob("*")
        if p.suffix in {".hpp", ".cpp", ".h"}
        and "bindings" not in p.parts
        and any(i.startswith("pybind11") for i in _includes(p))
    ]
    assert offenders == []


def test_core_uses_only_the_standard_library_and_itself() -> None:
    files = _core_files()
    assert len(files) > 5
    for p in files:
        for inc in _includes(p):
            assert inc.startswith("taosim/") or re.fullmatch(r"[a-z_]+", inc), f"{p.name} includes <{inc}>"


def test_book_does_not_depend_on_the_exchange() -> None:
    for p in (ROOT / "simulator" / "include" / "taosim" / "book").glob("*.hpp"):
        for inc in _includes(p):
            if inc.startswith("taosim/"):
                # state.hpp: the std-only (de)serialisation used by checkpoints
                allowed = {"types.hpp", "events.hpp", "state.hpp", "book"}
                assert inc.split("/")[1] in allowed, f"{p.name} includes {inc}"


def test_protocol_imports_without_extension_or_bittensor() -> None:
    code = (
        "import sys\n"
        "sys.modules['taos._simulator'] = None\n"
        "sys.modules['bittensor'] = None\n"
        "import taos.protocol\n"
        "assert taos.protocol.Side.BUY == 1\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok"


def test_simulator_import_explains_a_missing_extension() -> None:
    code = (
        "import sys\n"
        "sys.modules['taos._simulator'] = None\n"
        "try:\n"
        "    import taos.simulator\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "TAOS_NO_SIMULATOR" in out.stdout


def test_agents_see_only_their_context() -> None:
    """Background agents act through AgentContext: no Exchange, Simulation or Shard."""
    files = [
        *(ROOT / "simulator" / "include" / "taosim" / "agents").glob("*.hpp"),
        *(ROOT / "simulator" / "src" / "agents").glob("*.cpp"),
    ]
    assert files
    for p in files:
        for inc in _includes(p):
            assert inc not in {"taosim/exchange/exchange.hpp"} and not inc.startswith("taosim/sim/"), (
                f"{p.name} includes {inc}"
            )
