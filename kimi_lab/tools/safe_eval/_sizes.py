"""How many bytes a value holds, and how many it becomes when printed or converted.

Two measures, because aliasing is cheap in memory and expensive in text: `held` is what a value
occupies (a list of one string repeated a million times holds a million pointers), `expanded` is what
it becomes when printed or converted to an array (a million copies of the string). Values are
charged by `held` when they are made; `expanded` is checked wherever text or arrays are made from
them: str(), repr(), f-strings, %, join, and every container handed to library code.

Text inside pandas and numpy objects counts in bytes: a U256 array holds 1,024 bytes per element,
an object column its strings' sizes, and an Arrow-backed column what its cells are as Python strings
(`_arrow`: the same price whatever the storage, since pandas makes those strings whenever it falls back
to Python, and copies a cell into every row it repeats it in). The estimators (`_estimate_text`, `_estimate_arrays`,
`_estimate_frames`, `_estimate_reshapes`) use these measures to price calls before they run.
"""

from __future__ import annotations

import sys
from typing import Any

from kimi_lab.tools.safe_eval import _arrow
from kimi_lab.tools.safe_eval._kinds import kind_of
from kimi_lab.tools.safe_eval._messages import UnsafeExpression

POINTER = 8
SCALAR_BYTES = 32  # a boxed number or small object, per element converted from an array
_FIXED = {"none": 16, "bool": 28, "float": 24, "complex": 32, "ellipsis": 16}


def held(value: Any) -> int:
    """Bytes `value` itself occupies: buffers and pointer arrays, not the objects they point to."""
    kind = kind_of(value)
    if kind in _FIXED:
        return _FIXED[kind]
    if kind in ("str", "bytes", "int", "list", "tuple", "dict", "counter", "set", "frozenset", "deque"):
        return sys.getsizeof(value)
    if kind == "ndarray":
        return int(value.nbytes)
    if kind in ("DataFrame", "Series", "Index"):
        usage = value.memory_usage(deep=False)
        return int(usage.sum()) if kind == "DataFrame" else int(usage)
    if kind in ("Categorical", "ExtensionArray"):
        return int(value.nbytes)
    return SCALAR_BYTES


def held_result(value: Any) -> int:
    """What a library call's result holds, counting arrays inside the tuple, list or dict it returns
    (divmod of an array returns two arrays; a groupby's `indices` a dict of arrays)."""
    kind = kind_of(value)
    if kind in ("tuple", "list"):
        return held(value) + sum(held_result(item) for item in value if kind_of(item) not in _FIXED)
    if kind in ("dict", "counter"):
        return held(value) + sum(held_result(item) for item in value.values() if kind_of(item) not in _FIXED)
    return held(value)


def payload_bytes(text: Any) -> int:
    """Bytes of a str's or bytes' characters, without the object header (1, 2 or 4 bytes a character)."""
    if isinstance(text, str) and text and not text.isascii():
        widest = max(text)
        return len(text) * (4 if widest > "\uffff" else 2 if widest > "\xff" else 1)
    return len(text)


MAX_PRINTED = 20_000_000  # text pandas may build while printing one object (it cuts the result only afterwards)
_FLAT_CELLS = frozenset({str, bytes, int, float, bool, type(None)})


def _ends(value: Any) -> list[Any]:
    """The first and last 30 rows: what pandas prints of a long object."""
    if len(value) <= 60:
        return [value]
    if kind_of(value) in ("DataFrame", "Series"):
        return [value.iloc[:30], value.iloc[-30:]]
    return [value[:30], value[-30:]]


def _text_columns(frame: Any) -> list[Any]:
    """The columns of a frame that can hold text (numbers and times hold none): found by dtype, so a frame of
    thousands of numeric columns is not split into thousands of Series."""
    return [frame.iloc[:, position] for position, dtype in enumerate(frame.dtypes)
            if getattr(dtype, "kind", "O") not in "biufcmM"]


class Sizes:
    """Memoised measures for one evaluation (user data does not change while an expression runs)."""

    def __init__(self) -> None:
        self._text: dict[int, tuple[Any, int]] = {}
        self._expanded: dict[int, tuple[Any, int]] = {}

    # text inside pandas and numpy objects ------------------------------------------------------------------

    def text(self, value: Any) -> int:
        """Bytes of the Python objects an array-like points to (strings, lists in cells); 0 for numeric data."""
        hit = self._text.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        size = self._measure_text(value)
        self._text[id(value)] = (value, size)
        return size

    def _measure_text(self, value: Any) -> int:
        kind = kind_of(value)
        if kind == "DataFrame":
            return sum(map(self.text, _text_columns(value))) + self.text(value.index)
        if kind in ("Series", "Index"):
            if kind == "Index" and value.nlevels > 1:
                return self._levels_text(value)
            categories = getattr(value.dtype, "categories", None)
            if categories is not None:  # every cell is one of the categories: counted for every cell naming it
                codes = value.array.codes if kind == "Series" else value.codes  # arrays: never numpy on a Series
                return 0 if categories.dtype.kind in "biufcmM" else self._coded_text(categories, codes)
            data = _arrow.chunks(value)
            if data is not None:  # one Arrow buffer: measured as the Python objects its cells become
                return _arrow.python_bytes(data)
            if getattr(value.dtype, "kind", "") == "O" and not set(map(type, value)) <= _FLAT_CELLS:
                return sum(self.expanded(cell) for cell in value)  # lists in cells: aliasing counts every time
            try:  # the objects the cells point to: deep memory less the pointers (the index is measured apart)
                deep, shallow = (value.memory_usage(deep=flag) if kind == "Index" else value.memory_usage(
                    deep=flag, index=False) for flag in (True, False))
            except Exception:
                return 0
            return max(int(deep) - int(shallow), 0)
        if kind == "ndarray":
            if value.dtype.kind != "O":
                return 0
            return sum(self.expanded(item) for item in value.ravel())
        if kind in ("Categorical", "ExtensionArray"):
            return self.text(sys.modules["pandas"].Series(value, copy=False))
        return 0

    def _levels_text(self, index: Any) -> int:
        """A MultiIndex's rows as the tuples they print as: each level value counted every time a row names it."""
        total = len(index) * (40 + POINTER * index.nlevels)
        return total + sum(self._coded_text(level, codes) for level, codes in zip(
            index.levels, index.codes, strict=True))

    def _coded_text(self, values: Any, codes: Any) -> int:
        """Text of the cells given by codes into `values` (a categorical's categories, a MultiIndex level), each
        value counted every time a cell names it, as converting or printing the cells would make it; measured
        once per value used (reading the cells would make a tuple or, from Arrow, a new str for each)."""
        np = sys.modules["numpy"]
        codes = np.asarray(codes)
        used, counts = np.unique(codes[codes >= 0], return_counts=True)
        values = values.take(used)
        data = _arrow.chunks(values)
        if data is not None:
            sizes = _arrow.cell_bytes(data)
        elif getattr(values.dtype, "kind", "O") in "biufcmM":
            sizes = np.full(len(values), SCALAR_BYTES)
        else:
            sizes = np.array([self.expanded(item) for item in values], dtype="int64")
        return int((sizes * counts).sum())

    def fresh(self, value: Any) -> int:
        """Bytes of the Python objects that reading every cell makes anew: an Arrow buffer's cells are new
        strings each time they are read; an object column's cells already exist (0)."""
        kind = kind_of(value)
        if kind == "DataFrame":
            return sum(map(self.fresh, _text_columns(value))) + self.fresh(value.index)
        return self.text(value) if _arrow.chunks(value) is not None else 0

    def widest(self, value: Any) -> int:
        """Bytes of the biggest text cell, per row (summed over a frame's columns): what one row costs when pandas
        copies it into many rows (Arrow buffers copy every cell; object columns copy pointers and count them
        in `text`)."""
        kind = kind_of(value)
        if kind == "DataFrame":
            return sum(map(self.widest, _text_columns(value)))
        data = _arrow.chunks(value)
        if data is not None:
            return _arrow.widest(data)
        if kind in ("Series", "Index", "Categorical", "ExtensionArray") and len(value):
            return self.text(value) // len(value)
        return 0

    def row(self, value: Any) -> int:
        """Text bytes one row can hold at most, its labels included."""
        if kind_of(value) in ("DataFrame", "Series"):
            return self.widest(value) + self.widest(value.index)
        return self.widest(value)

    def chars(self, value: Any) -> int:
        """Characters in the longest text cell of an array-like (for fixed-width conversions)."""
        kind = kind_of(value)
        if kind == "DataFrame":
            return max((self.chars(column) for _, column in value.items()), default=0)
        if kind == "ndarray":
            if value.dtype.kind in "US":
                return value.dtype.itemsize // (4 if value.dtype.kind == "U" else 1)
            if value.dtype.kind != "O" or not value.size:
                return 0
            return max((self._cell_chars(v) for v in value.ravel()), default=0)
        if kind in ("Series", "Index", "Categorical", "ExtensionArray"):
            if getattr(value.dtype, "kind", "") in "biufcmM" or not len(value):
                return 32
            categories = getattr(value.dtype, "categories", None)
            if categories is not None:
                return self.chars(categories)
            data = _arrow.chunks(value)
            if data is not None:  # lengths from the buffer: no cell becomes a Python string
                return max(_arrow.max_chars(data), 3)
            if _arrow.is_text(value.dtype):  # Python strings already: their lengths, without a copy
                cells = value.array if kind in ("Series", "Index") else value  # without labels to look up
                longest = sys.modules["pandas"].Series(cells, copy=False).str.len().max()
                return int(longest) if longest == longest else 3  # NaN: every cell is missing
            cells = sys.modules["pandas"].Series(value, copy=False).astype(object)
            return max((self._cell_chars(v) for v in cells), default=0)
        return 0

    def _cell_chars(self, cell: Any) -> int:
        """A cell's printed width: a string's length, a list's or other value's rendered size."""
        return len(cell) if kind_of(cell) in ("str", "bytes") else max(self.rendered(cell), 32)

    # what a value becomes as text or as an array -------------------------------------------------------------

    def _labels(self, value: Any) -> int:
        """Column and index labels are printed whole: a label of a million characters is a million bytes."""
        kind = kind_of(value)
        labels = []
        if kind == "DataFrame":
            labels = [value.columns[:60], *_ends(value.index)]
        elif kind == "Series":
            labels = _ends(value.index)
        return sum(self.expanded(label) for label in labels)

    def expanded(self, value: Any, depth: int = 0) -> int:
        """Bytes of `value` with every shared element counted each time it appears, as repr() or
        np.array() would produce it."""
        kind = kind_of(value)
        if kind in ("str", "bytes"):
            return sys.getsizeof(value)
        if kind in _FIXED or kind == "int":
            return held(value)
        if kind == "npscalar":
            return int(getattr(value, "nbytes", SCALAR_BYTES)) + SCALAR_BYTES  # np.str_ holds its text
        hit = self._expanded.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        self._expanded[id(value)] = (value, 0)  # a container holding itself adds nothing more
        if kind in ("list", "tuple", "set", "frozenset", "deque"):
            size = held(value) + self._children(value, depth)
        elif kind in ("dict", "counter"):
            size = held(value) + self._children(value.keys(), depth) + self._children(value.values(), depth)
        elif kind == "range":
            size = min(len(value), sys.maxsize) * SCALAR_BYTES if value.step else 0
        elif kind in ("ndarray", "DataFrame", "Series", "Index", "Categorical", "ExtensionArray"):
            size = held(value) + self.text(value)
        else:
            size = SCALAR_BYTES
        self._expanded[id(value)] = (value, size)
        return size

    def _children(self, children: Any, depth: int) -> int:
        kinds = set(map(type, children))  # C-speed passes for the common homogeneous cases
        if kinds <= {float, bool, type(None)}:
            return len(children) * 24
        if kinds <= {str} or kinds <= {int} or kinds <= {str, int}:
            return sum(map(sys.getsizeof, children))
        if depth >= 50:
            raise UnsafeExpression("the value is nested more than 50 levels deep to be printed or converted; use "
                                   "flatter data")
        total = 0
        for child in children:
            total += self.expanded(child, depth + 1)
        return total

    def rendered(self, value: Any) -> int:
        """Bytes repr()/str()/format() may produce: pandas and numpy shorten big objects themselves, but not
        labels, the elements of an Index, or what a cell's nested lists expand to while being printed."""
        kind = kind_of(value)
        if kind in ("DataFrame", "Series", "Index", "Categorical", "ExtensionArray"):
            shown = _ends(value)
            printed = sum(map(self.expanded, shown)) if kind == "Index" else min(self.expanded(value), 200_000)
            work = sum(map(self.text, shown)) + self._labels(value)
            if work > MAX_PRINTED:
                raise UnsafeExpression(
                    f"printing this {type(value).__name__} would make about {work:,} bytes of text (long labels or "
                    "nested lists in its cells); select fewer rows or columns first"
                )
            return printed + work
        if kind == "ndarray":
            per_item = max(value.dtype.itemsize, SCALAR_BYTES) if value.dtype.kind != "O" else 0
            cells = min(int(value.size), 1_000)  # numpy summarises arrays over 1,000 elements
            return cells * per_item + (self.expanded(value) if value.dtype.kind == "O" else 0)
        return self.expanded(value) * 2  # repr escapes and quotes: at most about twice the text
