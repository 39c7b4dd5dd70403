"""Test helpers: a copy of the repository as a fresh clone has it, and one of its scripts loaded as a
module."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def copy_repository(root: Path) -> Path:
    """Copies the repository's files as git knows them (tracked, and untracked ones it does not
    ignore) to ``root``, or, outside a git checkout, the tree without what a build or a run left
    (no build/, runs/, caches or built extension); returns ``root``."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True, check=True,
        ).stdout.decode().split("\0")  # fmt: skip
    except (OSError, subprocess.CalledProcessError):  # not a git checkout
        ignored = shutil.ignore_patterns(".git", "build*", "runs", "__pycache__", "*.so", ".*cache")
        shutil.copytree(ROOT, root, ignore=ignored, dirs_exist_ok=True)
        listed = []
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / name)
    return root


def load_script(path: Path, name: str) -> ModuleType:
    """The script at ``path`` (a file of the repository, not a package module) loaded as the module
    ``name``, so that a test can call its functions. The module is registered under ``name`` before
    it runs, as an import would, so that its dataclasses can resolve their annotations."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
