"""The numbers that bound what one expression may cost.

Guards read them as `_limits.NAME` when they run, never as imported copies, so a limit set on the
package (which forwards it here) reaches every guard.
"""

from __future__ import annotations

import os
import time

MAX_EXPRESSION_CHARS = 10_000
MAX_DEPTH = 100  # syntax-tree levels; keeps both walkers far from Python's recursion limit
MAX_STEPS = 1_000_000  # node evaluations per call, lambdas and comprehensions included
MAX_SECONDS = 20.0  # wall time one evaluation may spend in its own steps (the tool's limit stops library calls)
MAX_SORT_WORK = 50_000_000_000  # bytes compared when sorting text: about ten seconds of memcmp, never interrupted
MAX_PAIRS = 10_000  # column pairs of pairwise window statistics (pandas loops over them in Python)
MAX_ITEMS = 10_000_000  # iterations one evaluation may run (a CPU bound; memory is MAX_BYTES)
MAX_BIG_INTS = 10_000  # ints beyond 61 bits handed to hashing code (they can all collide: quadratic time)
MAX_EXPONENT = 10_000
MAX_INT_BITS = 100_000
MAX_SHIFT = 100_000
MAX_MODPOW_WORK = 10**8  # exponent bits x modulus bits for pow(a, b, m)
MAX_WIDTH = 1_000  # format widths and precisions, column widths, round() digits
MAX_BINS = 10_000  # histogram bins and quantiles: pandas builds an interval per bin (1M bins take a minute)
MAX_DTYPE_SIZE = 256  # the width in dtypes such as "U256"; bigger ones multiply memory per row
MAX_FORMAT_CHARS = 200  # a format string (float_format, strftime, %-template passed to a library)
MAX_PATTERN_CHARS = 500  # a regular expression
MAX_TEXT_ROWS = 100_000  # rows a to_string / to_markdown may print; head() first
MAX_FAILED_RESULTS = 64  # library errors swallowed inside one call before evaluate gives up
SMALL_BYTES = 4_096  # values smaller than this are not charged to the byte budget


def _available_memory() -> int | None:
    """Bytes the machine could still give this process (Linux MemAvailable; else physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


_measured: list[float] = [0.0, 0.0]  # [when, bytes]: /proc/meminfo costs about a millisecond to read


def default_max_bytes() -> int:
    """A quarter of the memory still available, between 256 MiB and 4 GiB (read at most once a second).

    What one expression may allocate. A fixed number would either refuse ordinary work on a big
    frame or let a small machine run out: an out-of-memory kill loses every variable in the kernel.
    """
    now = time.monotonic()
    if now - _measured[0] > 1.0:
        available = _available_memory()
        _measured[:] = [now, float(1 << 30 if available is None else max(256 << 20, min(available // 4, 4 << 30)))]
    return int(_measured[1])


MAX_BYTES: int | None = None  # None: default_max_bytes() at the start of each evaluation


def max_bytes() -> int:
    return MAX_BYTES if MAX_BYTES is not None else default_max_bytes()
