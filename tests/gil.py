"""Test helpers: does Python code run while a call is inside C++? And a call that holds the GIL."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import threading
import time
from collections.abc import Callable


def python_ran_during(call: Callable[[], object]) -> bool:
    """Runs `call` while another thread records timestamps every half millisecond; true when
    one was taken strictly during the call, which is only possible if the call released the
    GIL (a thread that wakes while the GIL is held can record only after the call returns)."""
    ticks: list[float] = []
    stop = threading.Event()

    def tick() -> None:
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.0005)

    t = threading.Thread(target=tick)
    t.start()
    time.sleep(0.01)
    start = time.perf_counter()
    try:
        call()
    finally:
        end = time.perf_counter()
        stop.set()
        t.join()
    return any(start < x < end for x in ticks)


def hold_gil(seconds: float) -> None:
    """One C call that keeps the GIL for ``seconds``: libc's ``usleep`` called through
    ``ctypes.PyDLL``, which (unlike ``ctypes.CDLL``) does not release the GIL around the call. No
    other thread of the process runs Python code until it returns."""
    _libc().usleep(ctypes.c_uint(int(seconds * 1_000_000)))


@functools.cache
def _libc() -> ctypes.PyDLL:
    return ctypes.PyDLL(ctypes.util.find_library("c"))
