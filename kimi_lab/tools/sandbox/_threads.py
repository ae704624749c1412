"""Worker threads in the child: keep BLAS and malloc from spending the memory budget on address space.

RLIMIT_AS counts address space, and threads reserve a lot of it that is never data: OpenBLAS maps a
32 MB buffer and a stack for each worker thread it starts (lazily, on the first BLAS call after fork,
since its fork handler stopped them in the parent), and glibc reserves a 64 MB heap for each thread that
mallocs. On a 64-core machine a single matrix product would need 2 GB of budget; under a small budget
OpenBLAS cannot start its workers and spins until the deadline. So the child runs BLAS single-threaded
(through OpenBLAS's own set_num_threads, found among the libraries already loaded) and keeps one malloc
arena. The evaluations this layer serves are not BLAS-bound; threads still work (seccomp allows clone
for threads), they just do not multiply the reservations.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

__all__ = ["blas_setters", "single_threaded"]

SETTERS = ("openblas_set_num_threads", "openblas_set_num_threads64_", "scipy_openblas_set_num_threads",
           "scipy_openblas_set_num_threads64_")
M_ARENA_MAX = -8

_found: list[Any] = []


def _loaded_openblas() -> list[str]:
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split(maxsplit=5)[-1].strip() for line in f if "openblas" in line.lower()}
    except OSError:
        return []
    return sorted(p for p in paths if p.startswith("/") and ".so" in os.path.basename(p))


def blas_setters() -> list[Any]:
    """OpenBLAS set_num_threads functions of the libraries loaded now (looked up in the parent, cached)."""
    if _found:
        return _found
    for path in _loaded_openblas():
        try:
            lib = ctypes.CDLL(path, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)  # only if already loaded
        except OSError:
            continue
        for name in SETTERS:
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.argtypes, fn.restype = [ctypes.c_int], None
                _found.append(fn)
    return _found


def single_threaded(setters: list[Any]) -> None:
    """In the child: one BLAS thread, one malloc arena."""
    for fn in setters:
        fn(1)
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is not None:
        mallopt(ctypes.c_int(M_ARENA_MAX), ctypes.c_int(1))
