"""Refuse a GGUF that cannot fit before llama.cpp spends ten minutes loading it.

The smallest Kimi K2 Thinking quant is about 245 GB: on a laptop, a clear one-line refusal is worth
far more than a swap storm or an out-of-memory kill halfway through loading.
"""

from __future__ import annotations

import os

from kimi_lab.backends._hub import ModelFiles
from kimi_lab.common.errors import KimiConfigError

__all__ = ["check_fits", "memory"]

#: Context (KV cache) and compute buffers on top of the weights.
OVERHEAD = 0.10


def memory() -> tuple[int, int]:
    """(total, available) bytes of RAM: /proc/meminfo on Linux, os.sysconf elsewhere."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = {k: int(v.split()[0]) * 1024 for k, _, v in (line.partition(":") for line in f) if v.strip()}
        total = info["MemTotal"]
        return total, info.get("MemAvailable", info.get("MemFree", total))
    except (OSError, KeyError, ValueError):
        page = os.sysconf("SC_PAGE_SIZE")
        total = page * os.sysconf("SC_PHYS_PAGES")
        try:
            available = page * os.sysconf("SC_AVPHYS_PAGES")
        except (ValueError, OSError):  # macOS has no SC_AVPHYS_PAGES
            available = total
        return total, available


def _gb(n: float) -> str:
    """Decimal GB as Hugging Face shows file sizes; one decimal below 10."""
    g = n / 1e9
    return f"{g:.1f} GB" if g < 10 else f"{g:.0f} GB"


def check_fits(model: ModelFiles, *, force: bool = False, gpu_bytes: int = 0) -> str | None:
    """Raise KimiConfigError if `model` cannot fit in RAM plus `gpu_bytes`, unless `force`.

    Returns a warning when it fits the machine but not the memory free right now (loading will
    swap or evict the page cache), or when `force` overrides a refusal; None when all is well.
    """
    need = model.total_bytes * (1 + OVERHEAD)
    total, available = memory()
    gpu = f" and {_gb(gpu_bytes)} of GPU memory" if gpu_bytes else ""
    machine = f"this machine has {_gb(total)} of RAM ({_gb(available)} available){gpu}"
    if need > total + gpu_bytes:
        if not force:
            raise KimiConfigError(
                f"{model.label} is {_gb(model.total_bytes)}; {machine}, so it cannot load it: pick a smaller GGUF, "
                "or pass --force-load to try anyway (llama.cpp will page it from disk, very slowly)"
            )
        return f"{model.label} is {_gb(model.total_bytes)}; {machine}: loading anyway, llama.cpp will page it from disk"
    if need > available + gpu_bytes:
        return (
            f"{model.label} is {_gb(model.total_bytes)}; {machine}: it fits, but close other programs "
            "or loading will swap"
        )
    return None
