"""Is the installed τaos the one built from this source tree? run_demo.sh asks before it installs.

    python scripts/install_stamp.py check   # exit 0: up to date; exit 3 and the reason: install
    python scripts/install_stamp.py write   # after an install: remember what was installed

The stamp (``build/install-stamp.json``, per interpreter) pairs the hash of the source tree's
content (every file that goes into the package: pyproject.toml, CMakeLists.txt, the C++ sources
in simulator/, the Python package taos/, the example configs and agents; not the files a build or
a run leaves there: __pycache__, *.pyc, built extensions) with the hash of the installed
distribution's RECORD (its list of files and their hashes). An install is needed when there is no
stamp, when a source file changed (content, not time: a checkout that touches files without
changing them reinstalls nothing), or when the installed package is not the stamped one (removed,
reinstalled by hand, another virtual environment). Standard library only: it runs before τaos is
installed, with the interpreter that is to run it.
"""

from __future__ import annotations

import hashlib
import json
import sys
from importlib import metadata
from pathlib import Path

SOURCES = ("pyproject.toml", "CMakeLists.txt", "simulator", "taos", "configs", "agents")
"""What goes into the package (relative to the source root): files and folders."""
SKIPPED_DIRS = {"__pycache__", "build"}
SKIPPED_SUFFIXES = {".pyc", ".pyo", ".so", ".pyd", ".dylib"}
STAMP = Path("build") / "install-stamp.json"
NEEDS_INSTALL = 3
"""The exit code of ``check`` when an install is needed."""


def source_files(root: Path) -> list[Path]:
    """The files of the source tree that go into the package, sorted."""
    files: list[Path] = []
    for name in SOURCES:
        path = root / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix not in SKIPPED_SUFFIXES
                and not SKIPPED_DIRS.intersection(p.relative_to(root).parts)
                and not any(part.startswith(".") for part in p.relative_to(root).parts)
            ]
    return sorted(files)


def source_hash(root: Path) -> str:
    """SHA-256 over the relative paths and contents of ``source_files(root)``."""
    h = hashlib.sha256()
    for p in source_files(root):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def installed_record() -> str | None:
    """SHA-256 of the RECORD of the installed distribution ``taos``, None if there is none."""
    try:
        text = metadata.distribution("taos").read_text("RECORD")
    except metadata.PackageNotFoundError:
        return None
    return None if text is None else hashlib.sha256(text.encode()).hexdigest()


def _stamps(stamp: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(stamp.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def install_reason(root: Path, stamp: Path, record: str | None, python: str) -> str | None:
    """Why ``python`` needs an install of the source tree ``root``; None if it is up to date."""
    if record is None:
        return "taos is not installed"
    entry = _stamps(stamp).get(python)
    if not isinstance(entry, dict):
        return "no install of these sources is recorded"
    if entry.get("record") != record:
        return "the installed taos is not the one installed from these sources"
    if entry.get("source") != source_hash(root):
        return "the sources changed since the last install"
    return None


def write_stamp(root: Path, stamp: Path, record: str | None, python: str) -> None:
    """Records that ``python``'s installed taos (``record``) is the one built from ``root`` now."""
    if record is None:
        raise SystemExit("install_stamp: taos is not installed: nothing to record")
    stamps = _stamps(stamp)
    stamps[python] = {"source": source_hash(root), "record": record}
    stamp.parent.mkdir(parents=True, exist_ok=True)
    tmp = stamp.with_suffix(".tmp")
    tmp.write_text(json.dumps(stamps, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(stamp)


def main(argv: list[str]) -> int:
    if argv not in (["check"], ["write"]):
        print("usage: install_stamp.py check|write", file=sys.stderr)
        return 2
    root = Path(__file__).resolve().parents[1]
    stamp, record, python = root / STAMP, installed_record(), sys.executable
    if argv == ["write"]:
        write_stamp(root, stamp, record, python)
        return 0
    reason = install_reason(root, stamp, record, python)
    if reason is None:
        return 0
    print(reason)
    return NEEDS_INSTALL


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
