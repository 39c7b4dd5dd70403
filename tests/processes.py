"""Test helper: ending a child process the way an operator would."""

from __future__ import annotations

import signal
import subprocess


def terminate(proc: subprocess.Popen, timeout_s: float = 10.0) -> None:  # type: ignore[type-arg]
    """SIGTERM, then SIGKILL if ``proc`` has not ended within ``timeout_s``; waits for it."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
