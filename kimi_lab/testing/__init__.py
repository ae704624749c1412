"""Test doubles for kimi_lab: a scripted loopback OpenAI-compatible server, and its demo mode.

Exports are resolved lazily so `python -m kimi_lab.testing.server` does not import
the module twice (which would make runpy warn).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kimi_lab.testing.demo import start_demo_if_no_key
    from kimi_lab.testing.server import (
        DIALECTS,
        LoopbackServer,
        RecordedRequest,
        Reply,
        ToolCall,
        Usage,
    )

__all__ = [
    "DIALECTS",
    "LoopbackServer",
    "RecordedRequest",
    "Reply",
    "ToolCall",
    "Usage",
    "start_demo_if_no_key",
]
_MODULES = {"start_demo_if_no_key": ".demo"}


def __getattr__(name: str) -> Any:
    """Import kimi_lab.testing.server (or .demo) on first use of one of its names."""
    if name in __all__:
        return getattr(importlib.import_module(_MODULES.get(name, ".server"), __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
