"""The stubs of the C++ extension (``taos/_simulator.pyi``) describe the module as built: every
name, every function's parameters (from the signatures pybind11 writes into the docstrings) and
every enum value. ``mypy.stubtest`` checks the names; pybind11 functions carry no introspectable
signature, so their parameters and the enum values are compared here."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import taos
import taos._simulator as ext

STUB = Path(taos.__file__).with_name("_simulator.pyi")
ALLOWLIST = Path(__file__).with_name("stubtest_allowlist.txt")


def stub_classes() -> dict[str, ast.ClassDef]:
    tree = ast.parse(STUB.read_text())
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


def test_stubtest_finds_the_stub_and_the_module_alike() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "taos._simulator", "--allowlist", str(ALLOWLIST)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def _runtime_parameters(function: object) -> list[str] | None:
    """Parameter names from pybind11's docstring signature (None for an overloaded function)."""
    doc = (getattr(function, "__doc__", None) or "").strip()
    first = doc.splitlines()[0] if doc else ""
    m = re.match(r"^\w+\((.*)\) ->", first)
    if m is None:
        return None
    return [name for name in re.findall(r"(?:^|, )(\w+): ", m.group(1)) if name != "self"]


def test_every_function_of_the_stub_has_the_modules_parameters() -> None:
    checked = 0
    for name, cls in stub_classes().items():
        runtime_cls = getattr(ext, name)
        for node in cls.body:
            if not isinstance(node, ast.FunctionDef) or node.name.startswith("__"):
                continue
            if any(isinstance(d, ast.Name) and d.id == "property" for d in node.decorator_list):
                continue
            expected = _runtime_parameters(getattr(runtime_cls, node.name))
            assert expected is not None, f"{name}.{node.name}: no signature in its docstring"
            params = [a.arg for a in node.args.args if a.arg != "self"]
            assert params == expected, f"{name}.{node.name}: stub {params}, module {expected}"
            checked += 1
    assert checked >= 30


def test_every_enum_of_the_stub_has_the_modules_values() -> None:
    enums = 0
    for name, cls in stub_classes().items():
        if not any(isinstance(b, ast.Attribute) and b.attr == "IntEnum" for b in cls.bases):
            continue
        stub = {
            t.id: ast.literal_eval(n.value)
            for n in cls.body
            if isinstance(n, ast.Assign)
            for t in n.targets
            if isinstance(t, ast.Name)
        }
        runtime = {m.name: int(m) for m in getattr(ext, name)}
        assert stub == runtime, name
        enums += 1
    assert enums == 8


def test_the_package_says_it_is_typed() -> None:
    assert Path(taos.__file__).with_name("py.typed").exists()
