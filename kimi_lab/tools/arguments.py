"""Reading a model's tool-call arguments: JSON, with a minimal repair for common slips.

Arguments nested deeper than MAX_DEPTH are refused before they are decoded: tool schemas are flat
or a few levels deep, and 100,000 levels would exhaust the recursion of `json` (and of everything
that walks the value later: validation, display, the transcript) instead of becoming an error the
model can read and correct.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["MAX_DEPTH", "ArgumentsError", "parse_arguments"]

MAX_DEPTH = 64
TOO_DEEP = f"the arguments are nested too deeply (more than {MAX_DEPTH} levels); send flat JSON"

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")


class ArgumentsError(ValueError):
    pass


def _open_brackets(text: str) -> tuple[list[str], bool]:
    """The closers a JSON text leaves open at its end, and whether it ends inside a string
    (string-aware); ArgumentsError as soon as more than MAX_DEPTH are open at once."""
    stack: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "{[":
            stack.append("}" if ch == "{" else "]")
            if len(stack) > MAX_DEPTH:
                raise ArgumentsError(TOO_DEEP)
        elif ch in "}]" and stack:
            stack.pop()
    return stack, in_string


def _close_brackets(text: str) -> str:
    """Append the closers a truncated JSON object is missing."""
    stack, in_string = _open_brackets(text)
    return text + ('"' if in_string else "") + "".join(reversed(stack))


def parse_arguments(raw: str) -> tuple[dict[str, Any], bool]:
    """(arguments, repaired?) from a tool call's argument text; raises ArgumentsError."""
    text = (raw or "").strip()
    if not text:
        return {}, False
    if text.count("{") + text.count("[") > MAX_DEPTH:  # only then can the nesting be too deep: scan it
        _open_brackets(text)
    try:
        value = json.loads(text)
        repaired = False
    except ValueError as first:
        candidate = text
        fence = _FENCE.match(candidate)
        if fence:
            candidate = fence.group(1)
        candidate = _close_brackets(_TRAILING_COMMA.sub(r"\1", candidate))
        try:
            value = json.loads(candidate)
        except ValueError:
            raise ArgumentsError(f"arguments are not valid JSON ({first}); send a JSON object") from None
        repaired = True
    if not isinstance(value, dict):
        raise ArgumentsError(f"arguments must be a JSON object, got {type(value).__name__}")
    return value, repaired
