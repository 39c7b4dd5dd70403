"""Layering rules of DESIGN.md that a test can check."""

import ast
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


def _imported_names(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            names.append(node.module or "")
    return names


def test_scoring_imports_only_numpy_and_the_standard_library() -> None:
    """taos.scoring is pure maths: numpy and the standard library, no validator, network or I/O."""
    files = sorted((ROOT / "taos" / "scoring").glob("*.py"))
    assert len(files) > 3
    for p in files:
        for name in _imported_names(p):
            top = name.split(".")[0]
            ok = top == "numpy" or name.startswith("taos.scoring") or top in sys.stdlib_module_names
            assert ok, f"{p.name} imports {name}"
    # Importing it loads nothing but numpy, the standard library and taos.scoring itself.
    code = (
        "import sys\n"
        "sys.modules['taos._simulator'] = None\n"
        "sys.modules['bittensor'] = None\n"
        "import numpy\n"
        "before = set(sys.modules)\n"
        "import taos.scoring\n"
        "print(taos.scoring.sharpe([100, 101, 103, 102]) > 0)\n"
        "print(' '.join(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    verdict, loaded = out.stdout.splitlines()
    assert verdict == "True"
    modules = loaded.split()
    assert "taos.scoring.sharpe" in modules
    offenders = [
        m
        for m in modules
        if m != "taos"
        and not m.startswith("taos.scoring")
        and m.split(".")[0] not in {"numpy", *sys.stdlib_module_names}
    ]
    assert offenders == []


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


def _imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside functions (``from . import`` resolved)."""
    out: set[str] = set()
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            out.add(base)
            out.update(f"{base}.{a.name}" for a in node.names)
    return out


def _imports_of(package: str) -> dict[str, set[str]]:
    folder = ROOT.joinpath(*package.split("."))
    files = [folder.with_suffix(".py")] if folder.with_suffix(".py").exists() else list(folder.rglob("*.py"))
    assert files, package
    return {str(p.relative_to(ROOT)): _imported_modules(p) for p in files}


def _offenders(package: str, forbidden: str) -> list[str]:
    return [
        f"{path} imports {name}"
        for path, names in _imports_of(package).items()
        for name in sorted(names)
        if name == forbidden or name.startswith(forbidden + ".")
    ]


def test_package_boundaries_of_the_validator_core() -> None:
    """The validator never imports the miner; the run-folder reader (taos.analysis) does not import
    the research runner (taos.local), which imports it; the packed levels and events of the
    protocol do not import the state that is built from them."""
    assert _offenders("taos.validator", "taos.miner") == []
    assert _offenders("taos.analysis", "taos.local") == []
    assert _offenders("taos.protocol.events", "taos.protocol.state") == []
    assert _offenders("taos.protocol.levels", "taos.protocol.state") == []
    assert _offenders("taos.local", "taos.analysis")  # the direction that is allowed, and used
