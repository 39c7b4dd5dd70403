"""Test helper: does Python code run while a call is inside C++?"""

from __future__ import annotations

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
