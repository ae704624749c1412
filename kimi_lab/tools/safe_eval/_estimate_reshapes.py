"""Estimators for reshapes of frames, in bytes, before they run: every combination of keys becomes a cell.

Where pandas multiplies: pivots and crosstabs (distinct row keys times distinct column keys), unstack
and stack (every combination of the levels moved), melt (every value column repeats the id columns),
and categorical keys, whose every category makes a row seen or not (an unobserved groupby, a frame's
value_counts).
"""

from __future__ import annotations

import sys
from typing import Any

from kimi_lab.tools.safe_eval._callsite import CELL, CallSite, Estimator, rows_of
from kimi_lab.tools.safe_eval._kinds import kind_of
from kimi_lab.tools.safe_eval._sizes import Sizes, held, payload_bytes


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
        return _filled(_unstack(owner, call.arg(0, "level", -1)), call.arg(1, "fill_value"))
    if kind_of(owner) == "module":
        if call.name == "crosstab":
            return _distinct(call.arg(0, "index")) * _distinct(call.arg(1, "columns")) * CELL
        owner = call.arg(0, "data")
    values, index, columns = call.arg(0, "values"), call.arg(1, "index"), call.arg(2, "columns")
    value_columns = len(values) if isinstance(values, (list, tuple)) else 1
    if values is None and kind_of(owner) == "DataFrame":
        value_columns = len(owner.columns)
    cells = _nunique(owner, index) * _nunique(owner, columns) * value_columns * CELL
    return _filled(cells, call.arg(4, "fill_value"))


def _filled(cells_bytes: int, fill_value: Any) -> int:
    """A text `fill_value` goes into every empty cell of the reshape: copied into each, in an Arrow buffer."""
    if kind_of(fill_value) not in ("str", "bytes"):
        return cells_bytes
    return cells_bytes + cells_bytes // CELL * (payload_bytes(fill_value) + 8)


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


def estimate_melt(call: CallSite, sizes: Sizes) -> int:
    """Every value column becomes rows that repeat all the id columns."""
    frame = call.arg(0, "frame") if kind_of(call.owner) == "module" else call.owner
    if kind_of(frame) != "DataFrame":
        return 0
    ids = call.arg(0, "id_vars")
    id_count = len(ids) if isinstance(ids, (list, tuple)) else (0 if ids is None else 1)
    values = max(frame.shape[1] - id_count, 1)
    return len(frame) * values * (id_count + 2) * CELL


RESHAPE_ESTIMATORS: dict[str, Estimator] = {
    "pivot": estimate_pivot,
    "stack": estimate_stack,
    "melt": estimate_melt,
    "categories": estimate_categories,
}
