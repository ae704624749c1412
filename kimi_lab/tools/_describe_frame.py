"""DataFrame and Series descriptions: per-column nulls and stats, the index, and a head/tail preview.

Over SAMPLE_ROWS rows the stats come from a seeded random sample (and say so), and exact null counting
stops after a fixed time, so describing a 100M-row frame costs about the same as a small one.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from kimi_lab.common.summarize import cap
from kimi_lab.tools._describe_brief import (
    TYPE_SCAN,
    brief,
    format_number,
    is_instance_of,
    label_of,
    memory_text,
    one_line,
)

SAMPLE_ROWS = 100_000  # stats over more rows than this come from a seeded random sample
SAMPLE_SEED = 0
MAX_COLUMNS = 40
_NULL_SCAN_SECONDS = 0.25  # after this much exact null counting, estimate the rest from the sample


def _sample_positions(n: int) -> Any:
    """Sorted, seeded random row positions, or None when the data is small enough to use whole."""
    if n <= SAMPLE_ROWS:
        return None
    import numpy as np  # already loaded with pandas; needed for a seeded sample without a full shuffle

    return np.sort(np.random.default_rng(SAMPLE_SEED).choice(n, SAMPLE_ROWS, replace=False))


def _cheap_nulls(dtype: Any) -> bool:
    """isna() is a fast vectorised scan for these dtypes; on object and python-backed strings it is not."""
    if getattr(dtype, "name", "") == "category" or "pyarrow" in str(getattr(dtype, "storage", "")):
        return True
    return getattr(dtype, "kind", "O") != "O"


def _nulls(col: Any, sample: Any, sampled: bool, deadline: float) -> str:
    dtype = col.dtype
    if type(dtype).__module__.startswith("numpy") and dtype.kind in "iub":
        return "0"  # numpy ints and bools cannot hold nulls
    if not sampled or (_cheap_nulls(dtype) and time.perf_counter() < deadline):
        return f"{int(col.isna().sum()):,}"
    share = float(sample.isna().mean()) if len(sample) else 0.0
    return f"≈{round(share * len(col)):,}"


def _top_values(valid: Any, sampled: bool) -> str:
    try:
        counts, note = valid.value_counts(), ""
        counts = counts[counts > 0]  # categoricals list unused categories with count 0
        keys = [brief(v, 30) for v in counts.index[:3]]
    except TypeError:  # unhashable cells such as lists or dicts
        counts, note = valid.map(repr).value_counts(), " (unhashable values, counted by repr)"
        keys = [one_line(k, 30) for k in counts.index[:3]]
    top = ", ".join(f"{k} ×{int(c):,}" for k, c in zip(keys, counts.iloc[:3], strict=True))
    scope = " in sample" if sampled else ""
    return f"distinct{scope} {len(counts):,}; top {top}{note}"


def _stats(col: Any, sample: Any, sampled: bool, deadline: float) -> str:
    """Null count plus numeric stats or top values for one column or Series."""
    dtype = col.dtype
    kind = getattr(dtype, "kind", "O")
    is_category = getattr(dtype, "name", "") == "category"
    parts = [f"nulls {_nulls(col, sample, sampled, deadline)}"]
    valid = sample.dropna()
    if is_category:
        parts.append(f"{len(dtype.categories):,} categories")
    if len(sample) == 0:
        parts.append("empty")
    elif len(valid) == 0:
        parts.append("all null" + (" in sample" if sampled else ""))
    elif kind in "iuf" and not is_category:
        parts.append(f"min {format_number(valid.min())}, mean {format_number(valid.mean())}, "
                     f"std {format_number(valid.std())}, max {format_number(valid.max())}")
    elif kind in "mM" and not is_category:
        parts.append(f"min {valid.min()}, max {valid.max()}")
    elif kind == "c":
        parts.append(f"mean {valid.mean()}")
    else:
        parts.append(_top_values(valid, sampled))
        if kind == "O" and not is_category and str(dtype) == "object":
            kinds = Counter(type(v).__name__ for v in valid.iloc[:TYPE_SCAN])
            if len(kinds) > 1:
                parts.append("mixed types " + ", ".join(f"{t} {c:,}" for t, c in kinds.most_common(4)))
    return "; ".join(parts)


def _index_info(index: Any) -> str:
    name = type(index).__name__
    if name == "RangeIndex":
        return f"RangeIndex(start={index.start:,}, stop={index.stop:,}, step={index.step})"
    names = [n for n in index.names if n is not None]
    named = f" named {', '.join(map(label_of, names))}" if names else ""
    if len(index) == 0:
        return f"{name}{named}, empty"
    return f"{name}{named} dtype {index.dtype}, first {brief(index[0], 40)}, last {brief(index[-1], 40)}"


def sample_note(sampled: bool, total: int, unit: str,
                what: str = "stats, distinct counts and top values") -> list[str]:
    if not sampled:
        return []
    return [f"{what} are from a random sample of {SAMPLE_ROWS:,} of {total:,} {unit} (seed {SAMPLE_SEED}); "
            "≈ marks a count estimated from that sample"]


def _preview(frame: Any, room: int) -> str:
    """head(5) and tail(3), narrowed until they fit in `room` characters (or dropped)."""
    if len(frame) == 0:
        return "(no rows)"
    for max_cols, width in ((12, 30), (8, 20), (5, 14)):
        try:
            if len(frame) <= 8:
                text = "rows:\n" + frame.to_string(max_cols=max_cols, max_colwidth=width)
            else:
                text = (f"head(5):\n{frame.head(5).to_string(max_cols=max_cols, max_colwidth=width)}\n"
                        f"tail(3):\n{frame.tail(3).to_string(max_cols=max_cols, max_colwidth=width)}")
        except Exception as exc:
            return f"(rows could not be rendered: {type(exc).__name__}: {one_line(str(exc), 80)})"
        if len(text) <= room:
            return text
    return "(row preview left out to fit the budget)"


def describe_frame(df: Any, limit: int) -> str:
    rows, ncols = df.shape
    shown = df.iloc[:, :MAX_COLUMNS]
    positions = _sample_positions(rows)
    sampled = positions is not None
    sample = shown.take(positions) if sampled else shown
    lines = [f"DataFrame: {rows:,} rows × {ncols:,} columns; memory {memory_text(df, 'dataframe')} "
             "(shallow, memory_usage(deep=False))",
             f"index: {_index_info(df.index)}", *sample_note(sampled, rows, "rows")]
    if is_instance_of(df.columns, "pandas", "MultiIndex"):
        lines.append(f"columns are a MultiIndex with {df.columns.nlevels} levels; names shown as tuples")
    if not df.columns.is_unique:
        dups = df.columns[df.columns.duplicated()].unique()
        lines.append("duplicate column names: " + ", ".join(label_of(c) for c in dups[:10]))
    lines.append("columns (name, dtype: nulls; stats):")
    deadline = time.perf_counter() + _NULL_SCAN_SECONDS
    for i in range(shown.shape[1]):
        col, label = shown.iloc[:, i], label_of(shown.columns[i])
        try:
            stats = _stats(col, sample.iloc[:, i], sampled, deadline)
        except Exception as exc:
            stats = f"stats unavailable ({type(exc).__name__})"
        lines.append(f"- {label} ({col.dtype}): {stats}")
    if ncols > MAX_COLUMNS:
        rest = ", ".join(label_of(c) for c in df.columns[MAX_COLUMNS:MAX_COLUMNS + 200])
        lines.append(f"… {ncols - MAX_COLUMNS:,} more columns: {cap(rest, 600)}")
    body = "\n".join(lines)
    return body + "\n" + _preview(df, limit - len(body) - 1)


def describe_series(s: Any, limit: int) -> str:
    positions = _sample_positions(len(s))
    sampled = positions is not None
    sample = s.take(positions) if sampled else s
    title = "(unnamed)" if s.name is None else label_of(s.name)
    lines = [f"Series {title}: {len(s):,} values, dtype {s.dtype}; memory {memory_text(s, 'series')} "
             "(shallow, memory_usage(deep=False))",
             f"index: {_index_info(s.index)}", *sample_note(sampled, len(s), "values")]
    try:
        lines.append(_stats(s, sample, sampled, time.perf_counter() + _NULL_SCAN_SECONDS))
    except Exception as exc:
        lines.append(f"stats unavailable ({type(exc).__name__})")
    body = "\n".join(lines)
    return body + "\n" + _preview(s.to_frame(), limit - len(body) - 1)

