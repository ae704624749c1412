"""The text the model reads for evaluate's value: bounded in size whatever the value holds.

A plain repr() is not bounded: a list holding one long string many times, a column of long texts or
a million-element list print as gigabytes. Here every level is cut: frames and series print through
pandas with row, column and cell-width limits, arrays through numpy's summarising printer with each
text element cut, containers show their first and last items, and strings their head and tail.
"""

from __future__ import annotations

import sys
from typing import Any

from kimi_lab.tools.safe_eval import _arrow
from kimi_lab.tools.safe_eval._kinds import kind_of

MAX_ITEMS = 40  # per container: the first and last half of these are shown
MAX_TEXT = 300  # characters of one string inside a container or array
MAX_DEPTH = 6


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    keep = max(limit - 40, 10)
    return f"{text[: keep * 2 // 3]}…[{len(text) - keep:,} characters cut]…{text[-(keep // 3):]}"


def render(value: Any, limit: int = 16_000) -> str:
    """Text for `value`, at most about `limit` characters."""
    kind = kind_of(value)
    if kind == "str":
        return _cut(value, limit)
    if kind in ("DataFrame", "Series"):
        text = _table(value)
    elif kind == "ndarray":
        np = sys.modules["numpy"]
        text = np.array2string(
            value,
            threshold=200,
            edgeitems=5,
            max_line_width=120,
            formatter={"numpystr": lambda v: repr(_cut(str(v), MAX_TEXT)), "object": _short},
        )
        if value.ndim > 1 or value.size > 10:
            text = f"array(shape={value.shape}, dtype={value.dtype}):\n{text}"
    elif kind in ("Index", "Categorical", "ExtensionArray"):
        half = MAX_ITEMS // 2
        items = _items(value, MAX_TEXT)[0] if len(value) <= MAX_ITEMS else [
            *_items(value[:half], MAX_TEXT)[0], ..., *_items(value[-half:], MAX_TEXT)[0]]
        text = f"{type(value).__name__}({_short(items)}, dtype={value.dtype}, length={len(value):,})"
    else:
        text = _short(value)
    return _cut(text, limit)


MAX_LABEL = 100  # characters of a row or column label
_FLAT = (str, bytes, int, float, bool, type(None))


def _table(value: Any) -> str:
    """A frame or series through pandas' printer, after cutting what that printer prints whole: labels
    (a column named by a million characters), long strings in a series, and cells holding lists or dicts
    (pandas prints their full repr, however deeply they nest or alias)."""
    shown = _cut_cells(value)
    if shown is None:
        if kind_of(value) == "DataFrame":
            return value.to_string(max_rows=60, max_cols=20, max_colwidth=50, show_dimensions=True)
        return value.to_string(max_rows=60, length=len(value) > 60, dtype=True, name=True)
    note = f"[the first and last 30 of {len(value):,} rows]\n" if len(value) > 60 else ""
    if kind_of(shown) == "DataFrame":
        columns = f", the first and last 10 of {value.shape[1]:,} columns" if value.shape[1] > 20 else ""
        return f"{note}{shown.to_string()}\n\n[{value.shape[0]:,} rows x {value.shape[1]:,} columns{columns}]"
    return f"{note}{shown.to_string(name=True)}\nLength: {len(value):,}, dtype: {value.dtype}"


def _cut_cells(value: Any) -> Any:
    """The rows and columns pandas would show, with long labels, long text and nested cells cut; None
    when nothing needed cutting (then pandas prints the original with its own "..." markers)."""
    pandas = sys.modules["pandas"]
    rows = value if len(value) <= 60 else pandas.concat([value.iloc[:30], value.iloc[-30:]])
    if kind_of(value) == "DataFrame" and value.shape[1] > 20:
        rows = pandas.concat([rows.iloc[:, :10], rows.iloc[:, -10:]], axis=1)
    frame = kind_of(rows) == "DataFrame"
    (index, cut_index), (titles, cut_titles) = _items(rows.index, MAX_LABEL), (
        _items(rows.columns, MAX_LABEL) if frame else ([rows.name], False))
    pairs = list(rows.items()) if frame else [(rows.name, rows)]
    read = [_items(column, 50, cell=True) for _, column in pairs]
    columns = [items for items, _ in read]
    long_labels = cut_index or cut_titles or any(
        label is not None and len(str(label)) > MAX_LABEL for label in (*index, *titles))
    long_cells = any(cut for _, cut in read) or any(
        getattr(column.dtype, "kind", "") == "O" and any(map(_needs_cut, items))
        for (_, column), items in zip(pairs, columns, strict=True))
    if not long_labels and not long_cells:
        return None
    labels = pandas.Index([_label(label) for label in index], dtype=object)
    if not frame:
        return pandas.Series([_cell(cell) for cell in columns[0]], index=labels, name=_label(titles[0]), dtype=object)
    shown = pandas.DataFrame({n: [_cell(cell) for cell in column] for n, column in enumerate(columns)}, dtype=object)
    shown.index, shown.columns = labels, pandas.Index([_label(title) for title in titles], dtype=object)
    return shown


MAX_READ = 20_000  # bytes of an Arrow cell that may be read whole into a Python object to be shown


def _items(values: Any, limit: int, cell: bool = False) -> tuple[list[Any], bool]:
    """The items of a short array-like (at most 60) as Python values, and whether any was cut. Text over
    `limit` characters is cut where it is stored: reading an Arrow cell copies it whole, so a cell of a
    gigabyte is cut before it becomes a str (to `limit - 3` characters and "..." for a cell, as pandas
    does; to its head and tail for a label). Big Arrow lists and structs are described, not read."""
    pandas = sys.modules["pandas"]
    dtype = values.dtype
    if kind_of(values) == "Index" and values.nlevels > 1:  # a MultiIndex: each level's values used, cut once
        levels = [_coded(level, codes, limit, cell) for level, codes in zip(values.levels, values.codes, strict=True)]
        return list(zip(*(items for items, _ in levels), strict=True)), any(cut for _, cut in levels)
    categories = getattr(dtype, "categories", None)
    if categories is not None:
        return _coded(categories, values.array.codes if kind_of(values) == "Series" else values.codes, limit, cell)
    if _arrow.is_string(dtype):
        # the cells alone: numpy probing a Series for attributes looks them up among its labels, which makes pandas
        # build a table of Python strings of an Arrow-backed index
        series = pandas.Series(values.array if kind_of(values) in ("Series", "Index") else values, copy=False)
        lengths = series.str.len().to_numpy(dtype="float64", na_value=-1.0).tolist()  # -1: a missing cell
        whole = series.str.slice(0, limit).tolist()
        long = [n > limit for n in lengths]
        if not any(long):
            return whole, False
        if cell:
            return [f"{w[: limit - 3]}..." if cut else w for w, cut in zip(whole, long, strict=True)], True
        keep = max(limit - 40, 10)
        tails = series.str.slice(-(keep // 3)).tolist()
        return [
            f"{w[: keep * 2 // 3]}…[{int(n) - keep:,} characters cut]…{t}" if cut else w
            for w, t, n, cut in zip(whole, tails, lengths, long, strict=True)
        ], True
    data = _arrow.chunks(values)
    if data is not None:  # binary, lists, structs: read cell by cell, a big one described instead
        items = []
        for position in range(len(values)):
            piece = data.slice(position, 1)
            size = _arrow.python_bytes(piece, nested=True)
            items.append(piece.to_pylist()[0] if size <= MAX_READ else f"<{size:,} bytes of {str(dtype)[:60]}>")
        return items, True  # pandas would read every shown cell whole
    return list(values), False  # Python objects or numbers already: nothing is copied


def _coded(values: Any, codes: Any, limit: int, cell: bool) -> tuple[list[Any], bool]:
    """Items given by codes into `values` (a categorical's categories, a MultiIndex level): each value used is
    read once (taking one per row would copy an Arrow value once per row)."""
    codes = [int(code) for code in codes]
    used = sorted({code for code in codes if code >= 0})
    shown, cut = _items(values[used], limit, cell)
    names = dict(zip(used, shown, strict=True))
    return [names.get(code, float("nan")) for code in codes], cut


def _cell(cell: Any) -> Any:
    """A cell as pandas would show it with max_colwidth=50, whatever it holds."""
    if not _needs_cut(cell):
        return cell
    text = cell if type(cell) is str else _short(cell, 1, [200]).strip("'")
    return text if len(text) <= 50 else f"{text[:47]}..."


def _needs_cut(cell: Any) -> bool:
    return type(cell) not in _FLAT or (type(cell) in (str, bytes) and len(cell) > 50)


def _label(label: Any) -> Any:
    return label if label is None or len(str(label)) <= MAX_LABEL else _cut(str(label), MAX_LABEL)


def _short(value: Any, depth: int = 0, left: list[int] | None = None) -> str:
    """Bounded text for any value: at most MAX_ITEMS items a container, MAX_DEPTH levels, and about
    2,000 items in all (a list aliased six levels deep holds billions)."""
    left = [2_000] if left is None else left
    left[0] -= 1
    if left[0] < 0:
        return "…"
    kind = kind_of(value)
    if kind in ("str", "bytes"):
        return repr(_cut(value, MAX_TEXT) if kind == "str" else value[:MAX_TEXT])
    if value is Ellipsis:
        return "…"
    if kind == "npscalar":
        return _cut(str(value), MAX_TEXT)  # 15, not np.int64(15)
    if depth >= MAX_DEPTH and kind in ("list", "tuple", "set", "frozenset", "dict", "counter", "deque"):
        return "[…]" if kind == "list" else "{…}" if kind in ("dict", "set", "counter") else "(…)"
    if kind in ("list", "tuple", "set", "frozenset", "deque"):
        items = list(value) if len(value) <= MAX_ITEMS else [*list(value)[: MAX_ITEMS // 2], ...,
                                                             *list(value)[-(MAX_ITEMS // 2):]]
        body = ", ".join(_short(item, depth + 1, left) for item in items)
        more = f"  # {len(value):,} items" if len(value) > MAX_ITEMS else ""
        if kind == "list":
            return f"[{body}]{more}"
        if kind == "tuple":
            return f"({body}{',' if len(items) == 1 else ''}){more}"
        if kind == "deque":
            return f"deque([{body}]){more}"
        return (f"{{{body}}}" if items else f"{kind}()") + more
    if kind in ("dict", "counter"):
        pairs = list(value.items())
        shown = pairs if len(pairs) <= MAX_ITEMS else [*pairs[: MAX_ITEMS // 2], None, *pairs[-(MAX_ITEMS // 2):]]
        body = ", ".join(
            "…" if pair is None else f"{_short(pair[0], depth + 1, left)}: {_short(pair[1], depth + 1, left)}"
            for pair in shown
        )
        more = f"  # {len(pairs):,} items" if len(pairs) > MAX_ITEMS else ""
        return f"{{{body}}}{more}"
    if kind in ("DataFrame", "Series", "ndarray", "Index", "Categorical", "ExtensionArray"):
        return render(value, 4_000) if depth == 0 else f"<{type(value).__name__} shape={getattr(value, 'shape', '?')}>"
    return _cut(repr(value), MAX_TEXT)
