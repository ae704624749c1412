"""What the model sees of the user's live variables: a listing and type-aware, budget-sized descriptions.

Everything here only reads. pandas and numpy are never imported at module import: values are recognised
by their class's module and name, so a kernel that never loaded pandas does not pay for it. Big data is
never scanned in full where a sample answers the question, and every output says when it used one.

The per-type describers live in `_describe_frame` (DataFrame, Series) and `_describe_other`; the
one-line forms they share with the listing live in `_describe_brief`.
"""

from __future__ import annotations

import difflib
import itertools
from typing import Any, Mapping

from kimi_lab.common.secrets import looks_secret
from kimi_lab.common.summarize import cap
from kimi_lab.common.tables import Table
from kimi_lab.tools._describe_brief import brief, kind_of, label_of, memory_text, one_line, shape_text
from kimi_lab.tools._describe_frame import MAX_COLUMNS as MAX_COLUMNS
from kimi_lab.tools._describe_frame import SAMPLE_ROWS as SAMPLE_ROWS
from kimi_lab.tools._describe_frame import SAMPLE_SEED as SAMPLE_SEED
from kimi_lab.tools._describe_frame import describe_frame, describe_series
from kimi_lab.tools._describe_other import (
    describe_array,
    describe_callable,
    describe_class,
    describe_dict,
    describe_object,
    describe_sequence,
    describe_text,
)
from kimi_lab.tools.visibility import SECRET_NAME, hidden_reason, refusal, user_variables

__all__ = ["describe_variable", "list_variables", "user_variables"]

MIN_BUDGET_TOKENS = 16
_SUMMARY_WIDTH = 60


# --------------------------------------------------------------------------------------------------- list_variables


def _size(value: Any, kind: str) -> str:
    if kind == "dataframe":
        return shape_text(value.shape)
    if kind in ("series", "dict", "sequence", "set", "str", "bytes"):
        return f"{len(value):,}"
    if kind == "ndarray":
        return shape_text(value.shape)
    return ""


def _summary(value: Any, kind: str) -> str:
    """What the type and shape columns do not already say."""
    try:
        if kind == "dataframe" and not len(value.columns):
            return "no columns"
        if kind == "dataframe":
            return one_line("columns: " + ", ".join(label_of(c) for c in value.columns[:12]), _SUMMARY_WIDTH)
        if kind in ("series", "ndarray"):
            named = kind == "series" and value.name is not None
            return f"dtype {value.dtype}" + (f", name {label_of(value.name)}" if named else "")
    except Exception:
        return "?"
    return brief(value, _SUMMARY_WIDTH)


def list_variables(namespace: Mapping[str, Any], limit: int = 200) -> str:
    """One aligned row per user variable, so the model can pick what to describe; never scans big data."""
    found = user_variables(namespace)
    if not found:
        return "No user variables yet."
    rows = []
    for name, value in itertools.islice(found.items(), max(limit, 0)):
        kind = kind_of(value)
        try:
            size = _size(value, kind)
        except Exception:
            size = "?"
        type_name = "class" if kind == "class" else type(value).__name__
        rows.append([name, type_name, size, memory_text(value, kind), _summary(value, kind)])
    header = (f"{len(found)} user variables. memory is shallow: pandas memory_usage(deep=False), numpy nbytes, "
              "else sys.getsizeof (objects referenced from a value are not counted).")
    out = [header, Table(["name", "type", "shape/len", "memory", "summary"], rows).text()]
    if len(found) > len(rows):
        out.append(f"… {len(found) - len(rows):,} more variables not shown (limit={limit}).")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------ describe_variable


def _describe(value: Any, limit: int) -> str:
    kind = kind_of(value)
    if kind == "dataframe":
        return describe_frame(value, limit)
    if kind == "series":
        return describe_series(value, limit)
    if kind == "ndarray":
        return describe_array(value, limit)
    if kind == "dict":
        return describe_dict(value)
    if kind in ("sequence", "set"):
        return describe_sequence(value, kind)
    if kind in ("str", "bytes"):
        return describe_text(value)
    if kind == "class":
        return describe_class(value)
    if kind == "callable":
        return describe_callable(value)
    return describe_object(value)


def describe_variable(namespace: Mapping[str, Any], name: str, budget_tokens: int = 2000) -> str:
    """A type-aware description of one variable, at most `budget_tokens` × 4 characters.

    Raises ValueError for a variable the listing hides (`kimi_lab.tools.visibility`; a secret-looking name
    whether or not it exists) and KeyError, with close matches, for an unknown one: both messages tell the
    model what to do next.
    """
    if looks_secret(name):
        raise ValueError(refusal(name, SECRET_NAME))
    if name not in namespace:
        close = difflib.get_close_matches(name, list(user_variables(namespace)), n=5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        raise KeyError(f"No variable named {name!r}.{hint} Call list_variables to see the available names.")
    value = namespace[name]
    reason = hidden_reason(name, value)
    if reason is not None:
        raise ValueError(refusal(name, reason))
    if budget_tokens < MIN_BUDGET_TOKENS:
        raise ValueError(f"budget_tokens must be at least {MIN_BUDGET_TOKENS}")
    limit, prefix = budget_tokens * 4, f"{name} = "
    try:
        text = _describe(value, limit - len(prefix))
    except Exception as exc:  # a half-broken object must not break the model's turn
        text = f"{type(value).__name__} (description failed: {type(exc).__name__}: {one_line(str(exc), 200)})"
    return cap(prefix + text, limit)[:limit]  # the forms size themselves; this is the hard guarantee
