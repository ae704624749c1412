"""Estimators for calls on arrays and frames whose result can outgrow their inputs, in bytes, before they run.

Where pandas multiplies: merges and joins on duplicated keys (every pair of matching rows), reshapes
(distinct row keys times distinct column keys), alignment of duplicated labels, concatenation along the
axis that is unioned, a Series given many shift periods, fixed-width text dtypes (the width for every
element), Python objects made from every cell (`tolist`), text tables (`to_string`), resampling a long
span at a tiny step, pairwise window statistics (columns squared), products and correlations.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from kimi_lab.tools.safe_eval import _limits
from kimi_lab.tools.safe_eval._callsite import CallSite, Estimator, row_bytes, rows_of
from kimi_lab.tools.safe_eval._kinds import Guarded, kind_of
from kimi_lab.tools.safe_eval._messages import UnsafeExpression, limit_message
from kimi_lab.tools.safe_eval._sizes import POINTER, SCALAR_BYTES, Sizes, held

CELL = 16  # a numeric cell of a result, with its share of the index
_FRAMES = ("DataFrame", "Series")


def _elements(value: Any) -> int:
    kind = kind_of(value)
    if kind in ("DataFrame", "ndarray"):
        return int(value.size)
    return rows_of(value)


def _leaves(items: Any, memo: dict[int, int] | None = None, depth: int = 0) -> int:
    """Elements of a nested list as numpy would lay them out: [[a, b], [c]] holds three. Shared sublists
    count every time they appear (memoised, so a list aliased a million times is counted once)."""
    memo = {} if memo is None else memo
    if id(items) in memo:
        return memo[id(items)]
    count = 0
    for item in items:
        count += _leaves(item, memo, depth + 1) if kind_of(item) in ("list", "tuple") and depth < 32 else 1
    memo[id(items)] = count
    return count


def _longest_text(items: Any, depth: int = 0) -> int:
    """Characters of the longest string in a (nested) list: numpy gives every element that width."""
    longest = 0
    for item in items:
        kind = kind_of(item)
        if kind in ("str", "bytes", "npscalar"):
            longest = max(longest, len(str(item)))
        elif kind in ("list", "tuple") and depth < 8:
            longest = max(longest, _longest_text(item, depth + 1))
    return longest


def _width(dtype: Any, source: Any, sizes: Sizes, fixed: bool = False) -> int:
    """Bytes an element of `dtype` takes; for unsized text dtypes, the longest text in `source`. With
    `fixed` (numpy is converting), `str` means numpy's fixed-width text: the longest text for every
    element, as pandas' `to_numpy(dtype=str)` and `np.array(..., dtype=str)` do."""
    if dtype is None:
        return 16
    if isinstance(dtype, Guarded):
        dtype = dtype.target
    if (dtype is str or dtype == "str") and fixed:
        dtype = "U"
    elif dtype is str or (isinstance(dtype, str) and dtype in ("str", "string", "object", "O")):
        return 64
    np = sys.modules.get("numpy")
    try:
        resolved = np.dtype(dtype) if np is not None else None
    except Exception:
        return 16
    if resolved is None:
        return 16
    if resolved.kind in "US":
        per_char = 4 if resolved.kind == "U" else 1
        if resolved.itemsize:
            return int(resolved.itemsize)
        longest = _longest_text(source) if kind_of(source) in ("list", "tuple") else sizes.chars(source)
        return per_char * max(longest, 32)
    return max(int(resolved.itemsize), 8)


def estimate_astype(call: CallSite, sizes: Sizes) -> int:
    """Fixed-width text dtypes allocate their width for every element; a list of strings converted to an
    array gets the width of its longest string for every element."""
    if call.name in ("array", "asarray"):
        source, dtype = call.arg(0, "object" if call.name == "array" else "a"), call.arg(1, "dtype")
    elif call.name == "Series":
        source, dtype = call.arg(0, "data"), call.arg(2, "dtype")
    else:
        source, dtype = call.owner, call.arg(0, "dtype")
    if kind_of(source) in ("list", "tuple"):
        count = _leaves(source)
        # numpy gives every element of a list of strings the longest one's width; pandas keeps objects
        fixed = call.name in ("array", "asarray")
        longest = _longest_text(source) * 4 * count if fixed and dtype is None else 0
        return max(count * _width(dtype, source, sizes, fixed), sizes.expanded(source), longest)
    fixed = call.name in ("array", "asarray", "to_numpy") or kind_of(source) == "ndarray"
    return _elements(source) * _width(dtype, source, sizes, fixed) + sizes.text(source)


def estimate_concatenate(call: CallSite, sizes: Sizes) -> int:
    arrays = call.arg(0, "arrays")
    if kind_of(arrays) not in ("list", "tuple"):
        return 0
    total = sum(_elements(a) if kind_of(a) != "list" else len(a) for a in arrays)
    return total * _width(call.arg(2, "dtype"), list(arrays), sizes) + sum(sizes.expanded(a) for a in arrays)


def estimate_tolist(call: CallSite, sizes: Sizes) -> int:
    """Python objects for every element: a boxed number each, lists or dicts around them."""
    owner = call.owner
    cells = _elements(owner) + (len(owner.columns) if kind_of(owner) == "DataFrame" else 0)
    return cells * (SCALAR_BYTES + POINTER + (100 if call.name == "to_dict" else 0))


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


def _categories(values: Any) -> int | None:
    """Categories of a categorical key, seen or not (a reshape or an unobserved groupby makes a row for
    each), plus one for missing values; None for other keys."""
    categories = getattr(getattr(values, "dtype", None), "categories", None)
    return None if categories is None else len(categories) + 1


def _levels(values: Any) -> int:
    counted = _categories(values)
    if counted is not None:
        return counted
    return max(int(sys.modules["pandas"].Series(values).nunique(dropna=False)), 1)


def _nunique(frame: Any, keys: Any) -> int:
    if keys is None:
        return 1
    keys = list(keys) if isinstance(keys, (list, tuple)) else [keys]
    total = 1
    for key in keys:
        try:
            values = frame[key]
        except Exception:
            values = frame.index.get_level_values(key) if hasattr(frame, "index") else []
        total *= _levels(values)
    return total


def _distinct(values: Any) -> int:
    if kind_of(values) in ("list", "tuple"):
        total = 1
        for item in values:
            total *= _distinct(item)
        return total
    try:
        return _levels(values)
    except Exception:
        return max(rows_of(values), 1)


def estimate_pivot(call: CallSite, sizes: Sizes) -> int:
    """Cells of a reshape: distinct row keys times distinct column keys (times value columns)."""
    owner = call.owner
    if call.name == "unstack":
        return _unstack(owner, call.arg(0, "level", -1))
    if kind_of(owner) == "module":
        if call.name == "crosstab":
            return _distinct(call.arg(0, "index")) * _distinct(call.arg(1, "columns")) * CELL
        owner = call.arg(0, "data")
    values, index, columns = call.arg(0, "values"), call.arg(1, "index"), call.arg(2, "columns")
    value_columns = len(values) if isinstance(values, (list, tuple)) else 1
    if values is None and kind_of(owner) == "DataFrame":
        value_columns = len(owner.columns)
    return _nunique(owner, index) * _nunique(owner, columns) * value_columns * CELL


def _key_columns(owner: Any, keys: Any) -> list[Any]:
    """The values of groupby keys: column names, arrays, or (for a Series) its index levels."""
    parts = keys if isinstance(keys, (list, tuple)) else [keys]
    found = []
    for part in parts:
        if kind_of(part) in ("Series", "Index", "ndarray", "Categorical"):
            found.append(part)
        elif kind_of(owner) == "DataFrame" and not isinstance(part, (list, dict)) and part in owner.columns:
            found.append(owner[part])
    return found


def estimate_categories(call: CallSite, sizes: Sizes) -> int:
    """Grouping by categorical keys with observed=False, and a frame's value_counts, make a row for every
    combination of categories, seen or not: two keys of 5,000 categories are 25 million rows."""
    owner = call.owner
    if call.name == "groupby":
        if call.arg(5, "observed") is not False:
            return 0
        columns = _key_columns(owner, call.arg(0, "by"))
    else:
        subset = call.arg(0, "subset")
        frame = owner if subset is None else owner[list(subset) if isinstance(subset, (list, tuple)) else [subset]]
        columns = [column for _, column in frame.items()]
    product, others = 1, 1
    for column in columns:
        counted = _categories(column)
        if counted is None:
            others = min(others * _levels(column), max(len(owner), 1))
        else:
            product *= counted
    if product == 1:
        return 0
    return product * others * CELL * max(len(columns), 1)


def _unstack(owner: Any, level: Any) -> int:
    index = owner.index
    if getattr(index, "nlevels", 1) < 2:
        return held(owner) * 2
    levels = level if isinstance(level, (list, tuple)) else [level]
    try:
        moved = 1
        for lev in levels:
            moved *= max(index.get_level_values(lev).nunique(), 1)
        kept = max(index.droplevel(levels).nunique(), 1)
    except Exception:
        return held(owner) * 2
    columns = len(owner.columns) if kind_of(owner) == "DataFrame" else 1
    return kept * moved * columns * CELL


def estimate_stack(call: CallSite, sizes: Sizes) -> int:
    """Stacking a frame whose columns are a MultiIndex spreads rows over every combination of its levels."""
    owner = call.owner
    levels = getattr(owner.columns, "levels", None)
    combinations = 1
    for level in levels or [owner.columns]:
        combinations *= max(len(level), 1)
    return len(owner) * combinations * CELL


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


def estimate_dot(call: CallSite, sizes: Sizes) -> int:
    other = call.arg(0, "other" if kind_of(call.owner) != "ndarray" else "b")
    left, right = getattr(call.owner, "shape", ()), getattr(other, "shape", ())
    rows = left[0] if len(left) > 1 else 1
    columns = right[-1] if len(right) > 1 else 1
    return rows * columns * CELL


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


def estimate_melt(call: CallSite, sizes: Sizes) -> int:
    """Every value column becomes rows that repeat all the id columns."""
    frame = call.arg(0, "frame") if kind_of(call.owner) == "module" else call.owner
    if kind_of(frame) != "DataFrame":
        return 0
    ids = call.arg(0, "id_vars")
    id_count = len(ids) if isinstance(ids, (list, tuple)) else (0 if ids is None else 1)
    values = max(frame.shape[1] - id_count, 1)
    return len(frame) * values * (id_count + 2) * CELL


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


def estimate_broadcast(call: CallSite, sizes: Sizes) -> int:
    """np.maximum / np.where / np.clip / a.clip: the result has the broadcast shape of all array arguments."""
    from kimi_lab.tools.safe_eval._operators import broadcast_size

    operands = (call.owner, *call.args, *call.kwargs.values())
    shapes = [tuple(a.shape) for a in operands if kind_of(a) in ("ndarray", "Series")]
    return broadcast_size(shapes) * CELL if len(shapes) > 1 else 0


def estimate_nonzero(call: CallSite, sizes: Sizes) -> int:
    """One index array per dimension, as long as the number of nonzero elements (at most all of them)."""
    array = call.owner if kind_of(call.owner) == "ndarray" else call.arg(0, "a")
    if kind_of(array) != "ndarray":
        return 0
    return max(array.ndim, 1) * int(array.size) * 8


def estimate_take(call: CallSite, sizes: Sizes) -> int:
    """`a.take(indices, axis)`: a slice of the array for every index, repeats included."""
    owner, indices, axis = call.owner, call.arg(0, "indices"), call.arg(1, "axis")
    # a nested list of indices holds at least one 28-byte int object per index
    count = int(indices.size) if kind_of(indices) == "ndarray" else max(sizes.expanded(indices) // 28, 1)
    if axis is None or owner.ndim <= 1:
        return count * owner.itemsize
    slab = int(owner.size // max(owner.shape[axis], 1))
    return count * slab * owner.itemsize


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


def estimate_factorial(call: CallSite, sizes: Sizes) -> int:
    if any(isinstance(a, int) and a > _limits.MAX_EXPONENT for a in (*call.args, *call.kwargs.values())):
        raise UnsafeExpression(
            f"math.{call.name} is limited to arguments up to {_limits.MAX_EXPONENT:,} in evaluate; use math.lgamma "
            "for large values"
        )
    return 0


def estimate_diff(call: CallSite, sizes: Sizes) -> int:
    n = call.arg(1, "n", 1)
    if isinstance(n, int) and n > _limits.MAX_EXPONENT:
        raise UnsafeExpression(
            f"np.diff with n above {_limits.MAX_EXPONENT:,} is not allowed in evaluate; use a smaller n"
        )
    return 0


def estimate_quantiles(call: CallSite, sizes: Sizes) -> int:
    n = call.arg(1, "n", 4)
    if isinstance(n, int) and n > _limits.MAX_BINS:
        raise UnsafeExpression(limit_message("statistics.quantiles n", n, _limits.MAX_BINS))
    return max(n, 0) * SCALAR_BYTES if isinstance(n, int) else 0


DATA_ESTIMATORS: dict[str, Estimator] = {
    "astype": estimate_astype,
    "concatenate": estimate_concatenate,
    "tolist": estimate_tolist,
    "to_string": estimate_to_string,
    "merge": estimate_merge,
    "pivot": estimate_pivot,
    "stack": estimate_stack,
    "corr": estimate_corr,
    "pairwise": estimate_pairwise,
    "dot": estimate_dot,
    "frame": estimate_frame,
    "concat": estimate_concat,
    "melt": estimate_melt,
    "shift": estimate_shift,
    "aligned": estimate_aligned,
    "broadcast": estimate_broadcast,
    "resample": estimate_resample,
    "nonzero": estimate_nonzero,
    "categories": estimate_categories,
    "take": estimate_take,
    "factorial": estimate_factorial,
    "diff": estimate_diff,
    "quantiles": estimate_quantiles,
}
