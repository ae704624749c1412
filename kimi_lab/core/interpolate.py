"""`{name}` in a prompt becomes a summary of the notebook variable `name`; `{In[3]}`, `{Out[3]}`, `{Err[3]}`
and `{_}` bring in cell 3's source, its output, its error, and the last output.

Only a bare identifier that names an existing variable, or one of those cell references, is replaced, so
JSON, dicts, LaTeX and f-string examples pass through untouched. `{{name}}` and `{{In[3]}}` write them literally.
A variable the tools may not show (`kimi_lab.tools.visibility`: IPython's history, `_` names, modules,
secrets by name or by value) is left as text too, with a note saying why: what the model may not read
through a tool must not reach it through the prompt either. A cell reference goes through the same value
rule (an output that is a key stays out) and is scrubbed of secrets: a cell that typed a key must not send it.
A reference to a cell that does not exist, has no output or raised nothing is left as text with a note.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

from kimi_lab.common.secrets import scrub
from kimi_lab.common.summarize import cap, summarize
from kimi_lab.core.cell_errors import CellError, cell_errors
from kimi_lab.tools.visibility import hidden_reason, known_secrets

__all__ = ["interpolate", "variable_summary"]

_REF = r"(?:In|Out|Err)\[\d+\]"
_FIELD = re.compile(rf"\{{\{{([A-Za-z_]\w*|{_REF})\}}\}}|\{{([A-Za-z_]\w*|{_REF})\}}")
_CELL = re.compile(r"(In|Out|Err)\[(\d+)\]")

Filled = tuple[str, None] | tuple[None, str]  # (the text, no note) or (nothing, why it was left alone)


def variable_summary(name: str, value: Any, known: Sequence[str], limit: int = 4_000) -> Filled:
    """The summary `{name}` puts in a prompt, or why the variable stays out (`kimi_lab.tools.visibility`)."""
    reason = hidden_reason(name, value, known=known)
    return (None, reason) if reason is not None else (summarize(value, limit), None)


def _output(label: str, value: Any, known: Sequence[str], limit: int) -> Filled:
    """An output, summarised like a variable; hidden by the value rule (a key printed by a cell stays out)."""
    text, reason = variable_summary(label, value, known, limit)
    return (None, reason) if text is None else (scrub(text, known), None)


def _source(inputs: Any, n: int) -> str | None:
    if isinstance(inputs, Sequence) and not isinstance(inputs, str) and 0 < n < len(inputs):
        source = inputs[n]
        return source if isinstance(source, str) else None
    return None


def _cell_ref(kind: str, n: int, namespace: Mapping[str, Any], errors: Mapping[int, CellError],
              known: Sequence[str], limit: int) -> Filled:
    source, outputs = _source(namespace.get("In"), n), namespace.get("Out")
    has_output = isinstance(outputs, Mapping) and n in outputs
    if source is None and not has_output and n not in errors:
        return None, f"there is no cell {n}"
    if kind == "In":
        return (None, f"the source of cell {n} is not in the input history") if source is None else (
            cap(scrub(source.rstrip("\n"), known), limit), None)
    if kind == "Out":
        return _output(f"Out[{n}]", outputs[n], known, limit) if has_output else (None, f"cell {n} has no output")
    error = errors.get(n)
    if error is None:
        return None, f"cell {n} raised no error"
    return cap(scrub(error.traceback, known), limit), None


def _last_output(outputs: Mapping[Any, Any], known: Sequence[str], limit: int) -> Filled:
    if not outputs:
        return None, "no cell has an output yet"
    n = max(outputs)
    return _output(f"Out[{n}]", outputs[n], known, limit)


def interpolate(prompt: str, namespace: Mapping[str, Any], limit: int = 4_000,
                errors: Mapping[int, CellError] | None = None) -> tuple[str, list[str]]:
    """The prompt with variables and cell references filled in, and notes for anything deliberately left
    alone. `errors`: the failing cells by number (default: those this kernel recorded)."""
    notes: list[str] = []
    known: list[str] | None = None

    def secrets() -> list[str]:  # read once, and only when a field needs it
        nonlocal known
        known = known_secrets() if known is None else known
        return known

    def fill(match: re.Match[str]) -> str:
        escaped, field = match.group(1), match.group(2)
        if escaped:
            return "{" + escaped + "}"
        ref = _CELL.fullmatch(field)
        outputs = namespace.get("Out")
        if ref is not None:
            history = cell_errors() if errors is None else errors
            text, reason = _cell_ref(ref[1], int(ref[2]), namespace, history, secrets(), limit)
        elif field == "_" and isinstance(outputs, Mapping):  # IPython's last output, not the variable `_`
            text, reason = _last_output(outputs, secrets(), limit)
        elif field in namespace:
            text, reason = variable_summary(field, namespace[field], secrets(), limit)
        else:
            return match.group(0)
        if text is None:
            notes.append(f"left {{{field}}} as text: {reason}")
            return match.group(0)
        return text

    return _FIELD.sub(fill, prompt), notes
