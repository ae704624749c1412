"""`{name}` in a prompt becomes a summary of the notebook variable `name`.

Only a bare identifier that names an existing variable is replaced, so JSON, dicts, LaTeX
and f-string examples pass through untouched. `{{name}}` writes a literal `{name}`.
A variable the tools may not show (`kimi_lab.tools.visibility`: IPython's history, `_` names, modules,
secrets by name or by value) is left as text too, with a note saying why: what the model may not read
through a tool must not reach it through the prompt either.
"""

from __future__ import annotations

import re
from typing import Any, Mapping

from kimi_lab.common.summarize import summarize
from kimi_lab.tools.visibility import hidden_reason, known_secrets

__all__ = ["interpolate"]

_FIELD = re.compile(r"\{\{([A-Za-z_]\w*)\}\}|\{([A-Za-z_]\w*)\}")


def interpolate(prompt: str, namespace: Mapping[str, Any], limit: int = 4_000) -> tuple[str, list[str]]:
    """The prompt with variables filled in, and notes for anything deliberately left alone."""
    notes: list[str] = []
    known: list[str] | None = None

    def fill(match: re.Match[str]) -> str:
        escaped, name = match.group(1), match.group(2)
        if escaped:
            return "{" + escaped + "}"
        nonlocal known
        if name not in namespace:
            return match.group(0)
        known = known_secrets() if known is None else known
        reason = hidden_reason(name, namespace[name], known=known)
        if reason is not None:
            notes.append(f"left {{{name}}} as text: {reason}")
            return match.group(0)
        return summarize(namespace[name], limit)

    return _FIELD.sub(fill, prompt), notes
