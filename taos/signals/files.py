"""Durable file operations of the signal bridge.

- ``write_json_atomic``: the JSON goes to a temporary file in the same folder, which is flushed to
  disk (``fsync``), renamed over the target (``os.replace``, atomic on POSIX file systems) and the
  folder is flushed, so that after a crash the target holds either the old or the new content, and
  the rename itself survives a power loss.
- ``move_atomic``: a rename into another folder of the same file system, both folders flushed; the
  file is in exactly one of the two folders at every moment.
- ``DirLock``: an exclusive ``flock`` on a file, released by the kernel when the process dies
  (also on ``kill -9``), so that a restarted process is never locked out by its dead predecessor.

Temporary files start with a dot and end with ``.tmp``; readers of the folders skip such names.
"""

from __future__ import annotations

import fcntl
import json
import os
import uuid
from pathlib import Path
from typing import Any

TMP_SUFFIX = ".tmp"


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_atomic(path: Path, data: bytes, *, prefix: str = ".") -> None:
    """``data`` into ``path`` atomically and durably (see the module doc)."""
    tmp = path.with_name(f"{prefix}{path.name}.{uuid.uuid4().hex}{TMP_SUFFIX}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_json_atomic(path: Path, doc: Any, *, prefix: str = ".") -> None:
    write_bytes_atomic(path, (json.dumps(doc, indent=2) + "\n").encode("utf-8"), prefix=prefix)


def move_atomic(source: Path, target: Path) -> None:
    """Renames ``source`` to ``target`` (another folder of the same file system) and flushes both
    folders. ``FileExistsError`` if ``target`` exists: nothing is ever overwritten."""
    if target.exists():
        raise FileExistsError(f"{target} exists already")
    os.replace(source, target)
    fsync_dir(target.parent)
    if source.parent != target.parent:
        fsync_dir(source.parent)


def is_temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(TMP_SUFFIX)


class LockedError(Exception):
    """Another live process holds the lock."""


class DirLock:
    """An exclusive, non-blocking ``flock`` on ``path`` (created if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            self._fd = None
            raise LockedError(f"{path} is locked by another process") from None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
