"""`@kimi_lab.tool`: a Python function becomes a tool the model can call."""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, TypeVar, overload

from kimi_lab.tools.schema import ToolDefinitionError, build_model

__all__ = ["Tool", "ToolDefinitionError", "ToolRegistry", "registry", "tool"]

F = TypeVar("F", bound=Callable[..., Any])


class Tool:
    """A callable function plus what the model needs to call it: a name, a description and
    a JSON schema; arguments are validated (and coerced) by a pydantic model before the call."""

    def __init__(
        self,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        ask: bool = False,
        timeout: float | None = None,
        builtin: bool = False,
        skip: tuple[str, ...] = (),
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        if not self.name.replace("_", "a").replace("-", "a").replace(".", "a").isalnum():
            raise ToolDefinitionError(f"tool name {self.name!r}: use letters, digits, '_', '-' or '.'")
        self.description, self.parameters, self.model = build_model(fn, self.name, skip)
        self._fields = tuple(self.model.model_fields)
        self.ask = ask
        self.timeout = timeout
        self.builtin = builtin
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<kimi_lab tool {self.name}{' (asks first)' if self.ask else ''}>"

    def openai_schema(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Validated keyword arguments; raises pydantic.ValidationError."""
        parsed = self.model.model_validate(arguments)
        return {field: getattr(parsed, field) for field in self._fields}


class ToolRegistry:
    """The user's tools by name; registering a name again replaces it (re-running a cell)."""

    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}
        self._lock = threading.Lock()

    def add(self, t: Tool) -> Tool:
        with self._lock:
            self._tools[t.name] = t
        return t

    def remove(self, name: str) -> None:
        with self._lock:
            self._tools.pop(name, None)

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def all(self) -> dict[str, Tool]:
        with self._lock:
            return dict(self._tools)

    def clear(self) -> None:
        with self._lock:
            self._tools.clear()


registry = ToolRegistry()


@overload
def tool(fn: F) -> Tool: ...
@overload
def tool(
    fn: None = None, *, name: str | None = None, ask: bool = False, timeout: float | None = None
) -> Callable[[F], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    ask: bool = False,
    timeout: float | None = None,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Register a function as a tool the model may call.

    Use as `@kimi_lab.tool`, `@kimi_lab.tool(ask=True, timeout=60)` or `kimi_lab.tool(fn)`.
    The function needs a docstring (summary, and per-argument descriptions in Google, NumPy or
    Sphinx style) and type hints on every parameter (pydantic models, Literal, Optional and
    defaults all work). `ask=True` asks you before each call. The returned Tool is still callable
    like the function.
    """

    def register(f: Callable[..., Any]) -> Tool:
        return registry.add(Tool(f, name=name, ask=ask, timeout=timeout))

    return register(fn) if fn is not None else register
