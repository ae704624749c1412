"""Loaded GGUF models, kept in memory across cells (keyed by files and load options), with
the pre-flight memory check and progress a user sees before a long load."""

from __future__ import annotations

import gc
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

from kimi_lab.common.errors import KimiConfigError
from kimi_lab.common.events import Status

__all__ = ["LoadOptions", "LoadedModel", "load", "loaded", "unload"]

INSTALL_HINT = (
    "the local backend needs llama-cpp-python: pip install 'kimi_lab[local]' "
    "(it compiles llama.cpp from source, about 6 minutes on 2 cores)"
)


@dataclass(frozen=True)
class LoadOptions:
    n_ctx: int = 16_384
    n_threads: int | None = None
    n_gpu_layers: int = 0
    cpu_moe: bool = False
    force: bool = False


@dataclass
class LoadedModel:
    llm: Any
    label: str
    path: str
    native: bool  # the vocabulary has Kimi's markers as single tokens
    load_seconds: float


_cache: dict[tuple[Any, ...], LoadedModel] = {}
_lock = threading.Lock()


def _gb(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n < 10e9 else f"{n / 1e9:.0f} GB"


def _has_kimi_markers(llm: Any) -> bool:
    try:
        return all(
            len(llm.tokenize(m.encode(), add_bos=False, special=True)) == 1
            for m in ("<|im_middle|>", "<|im_end|>", "<|tool_call_begin|>", "<think>")
        )
    except Exception:
        return False


def _llama_kwargs(llama_cpp: Any, path: str, opts: LoadOptions) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "model_path": path,
        "n_ctx": opts.n_ctx,
        "n_gpu_layers": opts.n_gpu_layers,
        "verbose": False,
    }
    if opts.n_threads:
        kwargs["n_threads"] = opts.n_threads
    if opts.cpu_moe and opts.n_gpu_layers != 0:
        # Keeping MoE expert tensors in host memory needs llama.cpp's tensor buffer-type
        # overrides; with no GPU layers every tensor is on the CPU already.
        import inspect

        if "tensor_buft_overrides" not in inspect.signature(llama_cpp.Llama.__init__).parameters:
            raise KimiConfigError(
                f"--cpu-moe with GPU layers needs tensor buffer overrides, which llama-cpp-python "
                f"{getattr(llama_cpp, '__version__', '?')} does not expose: drop --cpu-moe, or offload fewer "
                f"layers with --gpu-layers"
            )
        kwargs["tensor_buft_overrides"] = [r"\.ffn_.*_exps\.=CPU"]
    return kwargs


def load(spec: str, opts: LoadOptions) -> Iterator[Status | LoadedModel]:
    """Yield progress as Status events, then the model (from the cache when already loaded)."""
    from kimi_lab.backends._hub import download, resolve
    from kimi_lab.backends._preflight import check_fits

    files = resolve(spec)
    key = (files.repo_id, files.files, opts.n_ctx, opts.n_threads, opts.n_gpu_layers, opts.cpu_moe)
    with _lock:
        cached = _cache.get(key)
    if cached is not None:
        yield cached
        return
    warning = check_fits(files, force=opts.force)
    if warning:
        yield Status(warning, "warning")
    try:
        import llama_cpp
    except ImportError:
        raise KimiConfigError(INSTALL_HINT) from None
    size = _gb(files.total_bytes) if files.total_bytes else "size unknown"
    if files.repo_id is not None:
        yield Status(f"downloading {files.label} ({size}, {len(files.files)} file(s)) into the Hugging Face cache…")
        path = str(download(files))
    else:
        path = files.files[0]
    yield Status(f"loading {files.label} ({size}): big models take minutes, small ones seconds…")
    started = time.perf_counter()
    try:
        llm = llama_cpp.Llama(**_llama_kwargs(llama_cpp, path, opts))
    except KimiConfigError:
        raise
    except Exception as exc:  # llama.cpp reports a failed load as ValueError / RuntimeError
        raise KimiConfigError(f"llama.cpp could not load {path}: {exc}") from None
    model = LoadedModel(llm, files.label, path, _has_kimi_markers(llm), time.perf_counter() - started)
    with _lock:
        _cache[key] = model
    yield Status(f"loaded {files.label} in {model.load_seconds:.1f} s")
    yield model


def loaded() -> list[LoadedModel]:
    with _lock:
        return list(_cache.values())


def unload() -> int:
    """Free every loaded model; returns how many were freed."""
    with _lock:
        models = list(_cache.values())
        _cache.clear()
    count = len(models)
    for model in models:
        close = getattr(model.llm, "close", None)
        if close is not None:
            close()
    del models
    gc.collect()
    return count
