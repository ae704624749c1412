"""A prompt template filled from each row of a table: `"Classify: {text} (tier {tier})"`.

`{column}` takes the row's value; `{{` and `}}` write a literal brace. A field that looks like a name
but is not a column is an error that names the columns (a typo would otherwise send thousands of
prompts without their data); anything else in braces, such as JSON in the instructions, is left as it is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from kimi_lab.common.errors import KimiConfigError

__all__ = ["VALUE", "RowTemplate"]

#: The field name a Series' or a list's values go by (`{}` is the same field).
VALUE = "value"

# `{{`, `}}`, or one `{…}` without braces inside; names are what a column is usually called.
_PART = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_NAME = re.compile(r"^\s*[^\W\d][\w .\-]*\s*$")


class RowTemplate:
    """A template parsed once; `render(row)` per row."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip():
            raise KimiConfigError("the template is empty: write the prompt, with {column} where each row's value goes")
        self.text = text
        self._parts: list[tuple[str, str | None]] = []  # (literal text, field or None)
        fields: list[str] = []
        pos = 0
        for match in _PART.finditer(text):
            literal = text[pos:match.start()]
            token = match.group(0)
            pos = match.end()
            if token in ("{{", "}}"):
                self._parts.append((literal + token[0], None))
                continue
            inner = match.group(1)
            if inner == "" or _NAME.match(inner):
                name = inner.strip() or VALUE
                self._parts.append((literal, name))
                if name not in fields:
                    fields.append(name)
            else:  # JSON, code, a set literal: not a field
                self._parts.append((literal + token, None))
        self._parts.append((text[pos:], None))
        self.fields = tuple(fields)

    def check(self, columns: Iterable[Any]) -> None:
        """Fail in one line when a field is not among `columns`, naming the ones there are."""
        names = [str(c) for c in columns]
        missing = [f for f in self.fields if f not in names]
        if missing:
            shown = ", ".join(names[:30]) + (f" … ({len(names)} in all)" if len(names) > 30 else "")
            raise KimiConfigError(
                f"the template names {', '.join('{' + m + '}' for m in missing)}, which "
                f"{'is not a column' if len(missing) == 1 else 'are not columns'}; the columns are: {shown} "
                f"(write {{{{ and }}}} for literal braces)"
            )

    def render(self, row: Mapping[str, Any]) -> str:
        out: list[str] = []
        for literal, name in self._parts:
            out.append(literal)
            if name is not None:
                try:
                    out.append(_text(row.get(name)))
                except Exception as exc:  # a cell whose str() raises: name it instead of a traceback
                    raise KimiConfigError(
                        f"column {name!r} holds a value that cannot be written as text ({type(exc).__name__}): "
                        f"convert the column first, e.g. .astype(str)") from None
        return "".join(out)


def _text(value: Any) -> str:
    """A cell as the prompt shows it: missing values (None, NaN, pandas' NA) are empty."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if type(value).__name__ in ("NAType", "NaTType"):
        return ""
    return str(value)
