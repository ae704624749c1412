"""Tools the model can call: your own functions (`@kimi_lab.tool`) and the notebook built-ins."""

from kimi_lab.tools.registry import Tool, ToolDefinitionError, registry, tool

__all__ = ["Tool", "ToolDefinitionError", "registry", "tool"]
