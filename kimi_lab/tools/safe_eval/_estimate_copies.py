"""What pandas copies into Arrow buffers, or makes as Python objects from them, while one call runs.

An object column repeats a value by pointing to it again; an Arrow buffer copies it. With pyarrow
installed, pandas 3 keeps text in Arrow buffers (its default `str` dtype), so a call that fills,
broadcasts or repeats cells costs each cell's size once per row it lands in: `s.fillna(text)`,
`s.where(mask, text)`, `pd.Series(text, index=...)`, `pd.Series(s, index=[0] * n)`, a forward fill or
`cummax` of one long cell, a transform that broadcasts each group's value. And a call that falls back
to Python (`apply`, `map`, many `.str` methods) first makes a Python string of every cell.

`estimate_copies` bounds these for every library call, and the call is refused before it runs when
the bound does not fit in what is left of the budget (a peak: what the result finally holds is
charged once it exists). `returned_copies` bounds the values an expression's function hands back to
pandas, which a transform broadcasts over each group's rows.
"""

from __future__ import annotations

from typing import Any

from kimi_lab.tools.safe_eval._callsite import CallSite, rows_of
from kimi_lab.tools.safe_eval._kinds import ARRAYS, kind_of
from kimi_lab.tools.safe_eval._sizes import Sizes, payload_bytes

# Calls whose values (a fill value, a replacement, a mapping's values) can land in every row: the parameters
# that hold them, by position and name (`assign` takes them as keywords).
FILLS: dict[str, tuple[tuple[int, str], ...]] = {
    "fillna": ((0, "value"),),
    "where": ((1, "other"),),
    "mask": ((1, "other"),),
    "replace": ((1, "value"),),
    "shift": ((3, "fill_value"),),
    "clip": ((0, "lower"), (1, "upper")),
    "add": ((0, "other"), (2, "fill_value")),
    "radd": ((0, "other"), (2, "fill_value")),
    "map": ((0, "arg"),),
    "align": ((5, "fill_value"),),
    "asfreq": ((4, "fill_value"),),
    "Series": ((0, "data"),),
    "DataFrame": ((0, "data"),),
}
# Calls that copy existing cells into other rows (forward fills, running maxima, broadcasts, reindexing).
REPEATS = frozenset("ffill bfill interpolate nearest asfreq cummax cummin transform".split())
# Calls that hand every cell to Python code (the expression's functions, or pandas' own fallbacks).
PYTHON = frozenset("apply map agg aggregate transform filter".split())
# Calls that broadcast what a function returns over many rows (a group's value to each of its rows).
BROADCASTS = frozenset("transform assign where mask apply".split())


def estimate_copies(call: CallSite, sizes: Sizes) -> int:
    """Bytes the call may copy or make on top of what its estimator priced: text arguments filled into every
    row, existing cells repeated into other rows, every Arrow cell made a Python string."""
    data = call.data if kind_of(call.data) in ARRAYS else None
    rows = rows_out(call)
    copies = 0
    values = [call.arg(position, name) for position, name in FILLS.get(call.name, ())]
    if call.name == "replace" and kind_of(call.arg(0, "to_replace")) in ("dict", "counter"):
        values.append(call.arg(0, "to_replace"))  # replace({'north': text}): the mapping's values go in
    if call.name == "assign":
        values = list(call.kwargs.values())
    elif call.name in ("Series", "DataFrame"):  # scalars are broadcast; lists give one item a row (priced)
        source = values[0] if values else None
        if kind_of(source) in ("dict", "counter"):
            values = [item for item in source.values() if kind_of(item) in ("str", "bytes")]
        else:  # pd.DataFrame(text, index=..., columns=...): every cell of every column
            columns = max(rows_of(call.arg(2, "columns")), 1) if call.name == "DataFrame" else 1
            values = [source] * columns if kind_of(source) in ("str", "bytes") else []
    copies += rows * sum(_fill_text(value, sizes, call.name == "map") for value in values)
    if call.name in REPEATS and data is not None:
        copies += rows * sizes.widest(data)
    if call.name == "Series" and kind_of(call.owner) == "module" and call.arg(1, "index") is not None:
        source = call.arg(0, "data")  # a Series or dict given an index is reindexed: its rows repeat
        copies += rows * (sizes.widest(source) if kind_of(source) in ARRAYS else 0)
    if data is not None and (
        kind_of(call.owner) == "StringMethods"
        or (call.name in PYTHON and any(kind_of(value) == "function" for value in _arguments(call)))
    ):
        copies += sizes.fresh(data)
    return copies


def rows_out(call: CallSite) -> int:
    """Rows a call's result can have without multiplying them (those that do are priced by their estimator)."""
    owner = call.owner
    if kind_of(owner) == "module":
        index = call.arg(1, "index")
        counted = [rows_of(index)] if index is not None else []
        counted += [rows_of(value) for value in _arguments(call) if kind_of(value) in ARRAYS]
        data = call.arg(0, "data")
        if kind_of(data) in ("dict", "counter"):  # pd.DataFrame({'a': text, 'b': column}): text in every row
            counted += [rows_of(value) for value in data.values() if kind_of(value) in (*ARRAYS, "list", "tuple")]
        return max(counted, default=1)
    if kind_of(owner) == "Resampler":
        try:
            return max(int(owner.ngroups), rows_of(call.data))  # every bin of the span gets a row
        except Exception:
            return rows_of(call.data)
    counted = [rows_of(call.data)] + [rows_of(value) for value in _arguments(call) if kind_of(value) in ARRAYS]
    return max(counted)


def returned_copies(call: CallSite) -> int:
    """How many rows one value a function returns to pandas may be copied into (1: it is placed once)."""
    return max(rows_out(call), 1) if call.name in BROADCASTS else 1


def _arguments(call: CallSite) -> list[Any]:
    return [*call.args, *call.kwargs.values()]


def _fill_text(value: Any, sizes: Sizes, mapper: bool, depth: int = 0) -> int:
    """The text one row of the result can receive from this argument: a string; a mapping's or list's values
    (summed: `fillna({'a': t, 'b': u})` fills a row of each column); the biggest of a mapper's values or
    cells (`s.map(other)` puts one of other's cells into every row that names it)."""
    kind = kind_of(value)
    if kind in ("str", "bytes"):
        return payload_bytes(value) + 8  # its characters and an offset (Arrow) or a pointer (object) a row
    if kind in ("dict", "counter", "list", "tuple") and depth < 2:
        items = [_fill_text(item, sizes, mapper, depth + 1) for item in (value.values() if kind in (
            "dict", "counter") else value)]
        return max(items, default=0) if mapper else sum(items)  # a mapper gives each row one of its values
    if kind in ("Series", "DataFrame") and mapper:
        return sizes.widest(value)
    return 0
