"""What the benchmark scripts share: one timer (scripts run as `python benchmarks/bench_x.py`, so this
folder is on sys.path)."""

from __future__ import annotations

import time
from typing import Any, Callable


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(seconds, value) of one call."""
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value
