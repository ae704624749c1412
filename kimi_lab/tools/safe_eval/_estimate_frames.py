"""Estimators for calls that combine, align or print frames and series, in bytes, before they run.

Where pandas multiplies: merges and joins on duplicated keys (every pair of matching rows), frames
built from Series whose labels are unioned, concatenation along the axis that is unioned, alignment
of duplicated labels, a Series given many shift periods, text tables (`to_string`), resampling a long
span at a tiny step, pairwise window statistics (columns squared) and correlations.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from kimi_lab.tools.safe_eval import _limits
from kimi_lab.tools.safe_eval._callsite import CELL, CallSite, Estimator, row_bytes, rows_of
from kimi_lab.tools.safe_eval._kinds import kind_of
from kimi_lab.tools.safe_eval._messages import UnsafeExpression
from kimi_lab.tools.safe_eval._sizes import Sizes, held

_FRAMES = ("DataFrame", "Series")


def estimate_to_string(call: CallSite, sizes: Sizes) -> int:
    owner = call.owner
    rows = rows_of(owner)
    max_rows = call.arg(0, "max_rows")
    if isinstance(max_rows, int) and 0 < max_rows < rows:
        rows = max_rows
    if rows > _limits.MAX_TEXT_ROWS:
        raise UnsafeExpression(
            f"{call.name}() of {rows:,} rows is over evaluate's limit of {_limits.MAX_TEXT_ROWS:,}; use head() or "
            "max_rows= first"
        )
    formatter = (call.arg(0, "float_format"), call.arg(0, "formatters"))
    if any(kind_of(f) == "function" for f in formatter) or (
        kind_of(formatter[1]) in ("dict", "list", "tuple")
        and any(kind_of(f) == "function" for f in (formatter[1].values() if kind_of(formatter[1]) == "dict"
                                                   else formatter[1]))
    ):
        raise UnsafeExpression(
            f"{call.name}() with a function as formatter cannot be priced in evaluate; use a format string such as "
            "float_format='{:.2f}'"
        )
    frame = owner if kind_of(owner) == "DataFrame" else sys.modules["pandas"].DataFrame({"": owner})
    col_space = call.arg(0, "col_space") if isinstance(call.arg(0, "col_space"), int) else 0
    colwidth = call.arg(0, "max_colwidth")
    fmt = call.arg(0, "float_format")
    fmt_width = sum(int(n) for n in re.findall(r"\d+", fmt)) + len(fmt) if isinstance(fmt, str) else 0
    titles = title_widths(call.arg(0, "header", True), frame)
    index = sizes.chars(frame.index) if call.arg(0, "index", True) else 0  # labels are never cut
    widths = index
    for position, (_, column) in enumerate(frame.head(rows).items()):
        text = sizes.chars(column)
        if isinstance(colwidth, int) and colwidth > 0:
            text = min(text, colwidth)
        title = titles[position] if position < len(titles) else 0
        widths += max(text, title, col_space, 32) + fmt_width + 2
    return (rows + 2) * (widths + 40) * 4


def title_widths(header: Any, frame: Any) -> list[int]:
    """Widths of the column titles: pandas pads every row of a column to its title's width."""
    if kind_of(header) in ("list", "tuple"):
        return [len(str(title)) for title in header]
    return [len(str(label)) for label in frame.columns] if header else []


def _key_counts(frame: Any, key: Any, use_index: bool) -> Any:
    pandas = sys.modules["pandas"]
    if use_index or key is None:
        return pandas.Series(frame.index, copy=False).value_counts(dropna=False)
    if kind_of(frame) == "Series":
        frame = frame.to_frame()
    return pandas.Series(frame[key], copy=False).value_counts(dropna=False)


def _matches(left_counts: Any, right_counts: Any, how: str) -> int:
    both = left_counts.index.intersection(right_counts.index)
    rows = int((left_counts.loc[both] * right_counts.loc[both]).sum()) if len(both) else 0
    if how in ("left", "outer"):
        rows += int(left_counts.drop(both).sum())
    if how in ("right", "outer"):
        rows += int(right_counts.drop(both).sum())
    return rows


def _pairs(left_keys: Any, right_keys: Any) -> list[tuple[Any, Any]]:
    lefts = list(left_keys) if isinstance(left_keys, (list, tuple)) else [left_keys]
    rights = list(right_keys) if isinstance(right_keys, (list, tuple)) else [right_keys]
    return list(zip(lefts, rights, strict=False)) or [(None, None)]


def estimate_merge(call: CallSite, sizes: Sizes) -> int:
    """Rows of a merge from the key counts on both sides (duplicated keys multiply), before pandas builds it.

    With several keys a row pair must match on each, so the rows are at most the fewest any single key
    allows; keys of different dtypes (1 and 1.0) are matched as pandas matches them.
    """
    if kind_of(call.owner) == "module":
        left, right = call.arg(0, "left"), call.arg(1, "right")
    else:
        left, right = call.owner, call.arg(0, "right" if call.name == "merge" else "other")
    if kind_of(right) in ("list", "tuple"):
        raise UnsafeExpression("join() with a list of frames is not allowed in evaluate; join one frame at a time")
    if kind_of(right) not in _FRAMES or kind_of(left) not in _FRAMES:
        return 0
    how = call.arg(1, "how", "inner" if call.name == "merge" else "left") or "inner"
    width = row_bytes(left, sizes) + row_bytes(right, sizes)
    if how == "cross":
        return len(left) * len(right) * width
    if call.name == "join":
        on = call.arg(1, "on")
        pairs = _pairs(on, [None] * (len(on) if isinstance(on, (list, tuple)) else 1))
        counts = [(_key_counts(left, l_key, l_key is None), _key_counts(right, None, True)) for l_key, _ in pairs]
    else:
        on = call.arg(2, "on")
        left_index, right_index = bool(call.arg(5, "left_index")), bool(call.arg(6, "right_index"))
        left_on, right_on = call.arg(3, "left_on", on), call.arg(4, "right_on", on)
        if left_on is None and right_on is None and not left_index and not right_index:
            right_columns = set(right.columns) if kind_of(right) == "DataFrame" else set()
            common = [c for c in (left.columns if kind_of(left) == "DataFrame" else []) if c in right_columns]
            left_on = right_on = common or None
        counts = [
            (_key_counts(left, l_key, left_index), _key_counts(right, r_key, right_index))
            for l_key, r_key in _pairs(left_on, right_on)
        ]
    return min(_matches(lc, rc, how) for lc, rc in counts) * width


def estimate_corr(call: CallSite, sizes: Sizes) -> int:
    owner = call.owner
    if kind_of(owner) == "module":
        data = call.arg(0, "x" if call.name == "corrcoef" else "m")
        shape = getattr(data, "shape", None) or (len(data) if kind_of(data) == "list" else 1,)
        rowvar = call.arg(2, "rowvar", True)
        variables = shape[0] if rowvar or len(shape) < 2 else shape[1]
        return variables * variables * 8
    columns = owner.shape[1] if len(getattr(owner, "shape", ())) == 2 else 1
    return columns * columns * 8 + estimate_aligned(call, sizes)


def estimate_pairwise(call: CallSite, sizes: Sizes) -> int:
    """Rolling/expanding cov and corr of a frame, pairwise: every pair of columns, every row, in Python loops."""
    data = call.data
    columns = data.shape[1] if kind_of(data) == "DataFrame" else 1
    if columns * columns > _limits.MAX_PAIRS:
        raise UnsafeExpression(
            f"pairwise window statistics over {columns:,} columns ({columns * columns:,} pairs) are over evaluate's "
            f"limit of {_limits.MAX_PAIRS:,} pairs; select fewer columns"
        )
    return rows_of(data) * columns * columns * CELL


def estimate_frame(call: CallSite, sizes: Sizes) -> int:
    """A frame from scalars broadcast over an index, or from Series and dicts whose labels are unioned."""
    data, index, columns = call.arg(0, "data"), call.arg(1, "index"), call.arg(2, "columns")
    kind = kind_of(data)
    rows = rows_of(index) if index is not None else 0
    cols = rows_of(columns) if columns is not None else 0
    if kind in ("dict", "counter"):
        parts = list(data.values())
        cols = cols or len(parts)
        labelled = [rows_of(p) for p in parts if kind_of(p) in _FRAMES]
        plain = [rows_of(p) for p in parts if kind_of(p) not in ("str", "bytes", *_FRAMES)]
        rows = rows or sum(labelled) + max(plain, default=1)  # Series are aligned: their labels are unioned
    elif kind in ("list", "tuple"):
        rows = rows or len(data)
        labelled = [rows_of(p) for p in data if kind_of(p) in ("Series", "dict")]
        shaped = [rows_of(p) for p in data[:1000] if kind_of(p) in ("list", "tuple", "ndarray")]
        cols = cols or sum(labelled) + max(shaped, default=1)
    return max(rows, 1) * max(cols, 1) * CELL + sizes.expanded(data)


def estimate_concat(call: CallSite, sizes: Sizes) -> int:
    """pd.concat: rows add up along the axis, and the other axis is the union of the parts' labels."""
    parts = call.arg(0, "objs")
    if kind_of(parts) in ("dict", "counter"):
        parts = list(parts.values())
    if kind_of(parts) not in ("list", "tuple"):
        return 0
    frames = [p for p in parts if kind_of(p) in _FRAMES]
    axis = call.arg(1, "axis", 0)
    if axis in (1, "columns"):
        rows = sum(rows_of(p) for p in frames)  # a bound of the index union
        columns = sum(p.shape[1] if kind_of(p) == "DataFrame" else 1 for p in frames)
    else:
        rows = sum(rows_of(p) for p in frames)
        columns = len(set().union(*(list(p.columns) if kind_of(p) == "DataFrame" else [None] for p in frames)))
    return rows * max(columns, 1) * CELL + sum(sizes.text(p) for p in frames)


def estimate_shift(call: CallSite, sizes: Sizes) -> int:
    periods = call.arg(0, "periods", 1)
    count = len(periods) if kind_of(periods) in ("list", "tuple", "range") else 1
    return (held(call.owner) + sizes.text(call.owner)) * count


def estimate_aligned(call: CallSite, sizes: Sizes) -> int:
    """`s.add(other)`, `s.corr(other)`: pandas aligns both on their labels first (duplicates multiply)."""
    other = call.arg(0, "other")
    if kind_of(other) not in _FRAMES or kind_of(call.owner) not in _FRAMES:
        return 0
    from kimi_lab.tools.safe_eval._operators import aligned_size

    return aligned_size(call.owner, other) * CELL


def estimate_resample(call: CallSite, sizes: Sizes) -> int:
    """A tiny rule over a long time span makes billions of empty bins: count them before pandas does."""
    pandas = sys.modules["pandas"]
    rule = call.arg(0, "rule" if call.name == "resample" else "freq")
    data = call.data
    try:
        offset = pandas.tseries.frequencies.to_offset(rule)
        try:
            step = offset.nanos
        except ValueError:  # calendar offsets (months, business days): at least about a day
            step = 86_400 * 10**9
        on, level = call.arg(2, "on"), call.arg(3, "level")
        index = data[on] if on is not None else data.index
        if level is not None:
            index = index.get_level_values(level)
        span = pandas.Timedelta(index.max() - index.min()).value
    except Exception:
        return 0  # not a time index: pandas itself will refuse
    if step <= 0:
        return 0
    columns = data.shape[1] if len(getattr(data, "shape", ())) == 2 else 1
    return (span // step + 1) * (columns + 1) * CELL


def estimate_transpose(call: CallSite, sizes: Sizes) -> int:
    """`df.transpose()` builds what `df.T` does: every cell boxed when the columns differ in type, and a Python
    string of every Arrow-backed cell."""
    from kimi_lab.tools.safe_eval._calls import attribute_estimate

    return attribute_estimate(call.owner, kind_of(call.owner), "T", sizes)


FRAME_ESTIMATORS: dict[str, Estimator] = {
    "to_string": estimate_to_string,
    "merge": estimate_merge,
    "corr": estimate_corr,
    "pairwise": estimate_pairwise,
    "frame": estimate_frame,
    "concat": estimate_concat,
    "shift": estimate_shift,
    "aligned": estimate_aligned,
    "resample": estimate_resample,
    "transpose": estimate_transpose,
}
