"""kimi_lab: Kimi K2 Thinking in Jupyter, with its reasoning beside every answer.

Importing this package is cheap: openai, pandas, numpy, llama_cpp, huggingface_hub and
ipywidgets load only when first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .faces.ipython.extension import load_ipython_extension, unload_ipython_extension

if TYPE_CHECKING:
    from .common.errors import KimiError
    from .common.result import Result, ToolCall
    from .faces.widget.panel import ChatPanel, chat
    from .services.ask import ask
    from .services.mapping import map_rows as map
    from .settings.config import KimiLab
    from .settings.providers import PRESETS, Provider
    from .tools.registry import Tool, tool

__version__ = "0.1.0"

__all__ = [
    "PRESETS",
    "ChatPanel",
    "KimiError",
    "KimiLab",
    "Provider",
    "Result",
    "Tool",
    "ToolCall",
    "__version__",
    "ask",
    "chat",
    "load_ipython_extension",
    "map",
    "tool",
    "unload_ipython_extension",
]

_LAZY = {
    "ask": ("services.ask", "ask"),
    "map": ("services.mapping", "map_rows"),
    "chat": ("faces.widget.panel", "chat"),
    "ChatPanel": ("faces.widget.panel", "ChatPanel"),
    "KimiLab": ("settings.config", "KimiLab"),
    "KimiError": ("common.errors", "KimiError"),
    "PRESETS": ("settings.providers", "PRESETS"),
    "Provider": ("settings.providers", "Provider"),
    "Result": ("common.result", "Result"),
    "ToolCall": ("common.result", "ToolCall"),
    "Tool": ("tools.registry", "Tool"),
    "tool": ("tools.registry", "tool"),
}


_SUBPACKAGES = ("native", "tools", "testing")


def __getattr__(name: str) -> Any:
    from importlib import import_module

    if name in _SUBPACKAGES:  # `kimi_lab.native.parse(...)` without importing it first
        return import_module(f".{name}", __name__)
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(import_module(f".{module}", __name__), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'kimi_lab' has no attribute {name!r}")
