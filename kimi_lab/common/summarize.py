"""Short, size-capped text forms of notebook values, for prompts and tool results.

pandas and numpy are never imported here: a value is recognised by its type's module.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cap", "summarize"]


def cap(text: str, limit: int) -> str:
    """Keep the head and tail of a long text, with a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    keep = max(limit - 60, 20)
    head, tail = text[: keep * 2 // 3], text[-(keep // 3):]
    return f"{head}\n… [{len(text) - len(head) - len(tail):,} characters cut] …\n{tail}"


def _kind(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__.split('.')[0]}.{cls.__name__}"


def summarize(value: Any, limit: int = 4_000) -> str:
    kind = _kind(value)
    if isinstance(value, str):
        return cap(value, limit)
    if kind == "pandas.DataFrame":
        rows, cols = value.shape
        dtypes = ", ".join(f"{c} ({t})" for c, t in list(value.dtypes.items())[:40])
        more = f", … {cols - 40} more" if cols > 40 else ""
        table = value.head(5).to_string(max_cols=20, max_colwidth=40)
        return cap(f"DataFrame with {rows:,} rows × {cols} columns: {dtypes}{more}\nfirst rows:\n{table}", limit)
    if kind == "pandas.Series":
        head = value.head(10).to_string(max_rows=10)
        return cap(f"Series {value.name!r} of {len(value):,} values ({value.dtype}):\n{head}", limit)
    if kind == "numpy.ndarray":
        import numpy as np

        body = np.array2string(value, threshold=60, edgeitems=3, max_line_width=100)
        return cap(f"array shape={value.shape} dtype={value.dtype}:\n{body}", limit)
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__ must not break the prompt
        text = f"<{type(value).__name__} (repr failed: {type(exc).__name__})>"
    return cap(text, limit)
