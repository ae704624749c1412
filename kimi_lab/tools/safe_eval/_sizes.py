"""How many bytes a value holds, and what a call would allocate before it runs.

Two measures, because aliasing is cheap in memory and expensive in text: `held` is what a value
occupies (a list of one string repeated a million times holds a million pointers), `expanded` is what
it becomes when printed or converted to an array (a million copies of the string). Values are
charged by `held` when they are made; `expanded` is checked wherever text or arrays are made from
them: str(), repr(), f-strings, %, join, and every container handed to library code.

Text inside pandas and numpy objects counts in bytes: a U256 array holds 1,024 bytes per element,
an object column its strings' sizes. The estimators at the end price the calls whose result can be
much bigger than their inputs, named by the `_allowlists` tables; each returns the bytes the result
will hold, before the call allocates them.
"""

from __future__ import annotations

import re
import sys
from typing import Any, Callable

from . import _limits
from ._guards import _sre_parse, check_format
from ._kinds import kind_of
from ._messages import UnsafeExpression, limit_message

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


def payload_bytes(text: Any) -> int:
    """Bytes of a str's or bytes' characters, without the object header (1, 2 or 4 bytes a character)."""
    if isinstance(text, str) and text and not text.isascii():
        widest = max(text)
        return len(text) * (4 if widest > "\uffff" else 2 if widest > "\xff" else 1)
    return len(text)


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
            return sum(self.text(column) for _, column in value.items()) + self.text(value.index)
        if kind in ("Series", "Index"):
            try:
                total = int(value.memory_usage(deep=True)) if kind == "Index" else int(
                    value.memory_usage(deep=True, index=False)
                )
            except Exception:
                return 0
            return max(total - held(value) if kind == "Series" else total - int(value.memory_usage(deep=False)), 0)
        if kind == "ndarray":
            if value.dtype.kind != "O":
                return 0
            return sum(self.expanded(item) for item in value.ravel())
        if kind in ("Categorical", "ExtensionArray"):
            return self.text(sys.modules["pandas"].Series(value, copy=False))
        return 0

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
            return max((len(str(v)) if kind_of(v) in ("str", "bytes") else 32 for v in value.ravel()), default=0)
        if kind in ("Series", "Index", "Categorical", "ExtensionArray"):
            if getattr(value.dtype, "kind", "") in "biufcmM" or not len(value):
                return 32
            lengths = sys.modules["pandas"].Series(value, copy=False).astype(object).map(
                lambda v: len(v) if isinstance(v, (str, bytes)) else 32
            )
            return int(lengths.max())
        return 0

    # what a value becomes as text or as an array -------------------------------------------------------------

    def expanded(self, value: Any, depth: int = 0) -> int:
        """Bytes of `value` with every shared element counted each time it appears, as repr() or
        np.array() would produce it."""
        kind = kind_of(value)
        if kind in ("str", "bytes"):
            return sys.getsizeof(value)
        if kind in _FIXED or kind == "int":
            return held(value)
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
        total = 0
        if depth < 50:
            for child in children:
                total += self.expanded(child, depth + 1)
                if total > _limits.max_bytes():
                    break
        return total

    def rendered(self, value: Any) -> int:
        """Bytes repr()/str()/format() may produce: pandas and numpy shorten big objects themselves."""
        kind = kind_of(value)
        if kind in ("DataFrame", "Series", "Index", "Categorical", "ExtensionArray"):
            return min(self.expanded(value), 200_000)  # display.max_rows and max_colwidth cut it
        if kind == "ndarray":
            per_item = max(value.dtype.itemsize, SCALAR_BYTES) if value.dtype.kind != "O" else 0
            cells = min(int(value.size), 1_000)  # numpy summarises arrays over 1,000 elements
            return cells * per_item + (self.expanded(value) if value.dtype.kind == "O" else 0)
        return self.expanded(value) * 2  # repr escapes and quotes: at most about twice the text


# --------------------------------------------------------------------------------------------------- estimators

Estimator = Callable[["CallSite", Sizes], int]


class CallSite:
    """One call about to run: what is called on what, with which arguments (bound to names when known).

    `data` is the pandas object behind a handle (the Series of `s.str`, the frame of a groupby), which the
    interpreter remembers when it makes the handle; for anything else it is the owner itself.
    """

    def __init__(
        self, owner: Any, name: str, args: list[Any], kwargs: dict[str, Any], bound: dict[str, Any], data: Any = None
    ) -> None:
        self.owner, self.name, self.args, self.kwargs, self.bound = owner, name, args, kwargs, bound
        self.data = owner if data is None else data

    def arg(self, position: int, keyword: str, default: Any = None) -> Any:
        if keyword in self.bound:
            return self.bound[keyword]
        if keyword in self.kwargs:
            return self.kwargs[keyword]
        return self.args[position] if len(self.args) > position else default


def rows_of(value: Any) -> int:
    try:
        return len(value)
    except Exception:
        return 0


def _row_bytes(frame: Any, sizes: Sizes) -> int:
    rows = max(rows_of(frame), 1)
    return (held(frame) + sizes.text(frame)) // rows + POINTER


def estimate_join(call: CallSite, sizes: Sizes) -> int:
    """str.join / bytes.join: every element's text plus a separator between each pair."""
    items = call.arg(0, "iterable")
    if kind_of(items) not in ("list", "tuple"):
        return 0
    return sum(sizes.expanded(item) for item in items) + len(items) * len(call.owner)


def estimate_replace(call: CallSite, sizes: Sizes) -> int:
    owner = call.owner
    kind = kind_of(owner)
    if kind in ("str", "bytes"):
        old, new = call.arg(0, "old"), call.arg(1, "new")
        if not isinstance(old, (str, bytes)) or not isinstance(new, (str, bytes)):
            return 0
        count = owner.count(old) if old else len(owner) + 1
        limit = call.arg(2, "count", -1)
        if isinstance(limit, int) and limit >= 0:
            count = min(count, limit)
        return sys.getsizeof(owner) + count * len(new) * (4 if kind == "str" else 1)
    if kind == "StringMethods":
        pattern, replacement = call.arg(0, "pat"), call.arg(1, "repl")
        regex = bool(call.arg(5, "regex", False))
        base = sizes.text(call.data)
        if not isinstance(pattern, str) or not isinstance(replacement, str):
            return 2 * base
        counted = owner.count(pattern if regex else re.escape(pattern)).sum()
        return base + int(counted) * len(replacement) * 4
    if kind in ("Series", "DataFrame"):
        return 2 * (held(owner) + sizes.text(owner))  # value replacement: at most a copy with new objects
    return 0


def estimate_pad(call: CallSite, sizes: Sizes) -> int:
    width = call.arg(0, "width", 0)
    width = width if isinstance(width, int) else 0
    if kind_of(call.owner) in ("str", "bytes"):
        return sys.getsizeof(call.owner) + max(width, 0) * 4
    return rows_of(call.data) * (max(width, 0) * 4 + 64) + sizes.text(call.data)


def estimate_codec(call: CallSite, sizes: Sizes) -> int:
    owner = call.owner
    if kind_of(owner) in ("str", "bytes"):
        return len(owner) * 4 + 64
    return 4 * sizes.text(call.data) + rows_of(call.data) * 64


def estimate_hex(call: CallSite, sizes: Sizes) -> int:
    return len(call.owner) * 3 + 64


def estimate_normalize(call: CallSite, sizes: Sizes) -> int:
    return 18 * sizes.text(call.data)  # NFKD can expand a character up to 18 times


def estimate_split(call: CallSite, sizes: Sizes) -> int:
    """Each piece becomes a string object (about 50 bytes even when short) plus a pointer in its list."""
    data = call.data
    pattern = call.arg(0, "pat")
    if pattern is None:
        pieces = int(call.owner.count(r"\s+").sum())
    elif isinstance(pattern, str):
        regex = call.arg(3, "regex", None)
        pieces = int(call.owner.count(pattern if regex else re.escape(pattern)).sum())
    else:
        pieces = sizes.text(data)
    return (pieces + rows_of(data)) * (56 + POINTER) + sizes.text(data) + rows_of(data) * 72


def estimate_findall(call: CallSite, sizes: Sizes) -> int:
    """Every match is a new string (about 50 bytes even when empty); a pattern that can match nothing
    matches between every two characters."""
    pattern = call.arg(0, "pat")
    try:
        low = _sre_parse.parse(pattern).getwidth()[0] if isinstance(pattern, str) else 1
    except Exception:
        low = 1
    chars = sizes.text(call.data)
    matches = chars // max(low, 1) + rows_of(call.data)
    groups = 1 + (pattern.count("(") if isinstance(pattern, str) else 0)
    return matches * groups * 64 + chars


def estimate_str_cat(call: CallSite, sizes: Sizes) -> int:
    others = call.arg(0, "others")
    sep = call.arg(1, "sep") or ""
    extra = sizes.expanded(others) if others is not None else 0
    return sizes.text(call.data) + extra + rows_of(call.data) * (len(sep) * 4 + 64)


def estimate_format(call: CallSite, sizes: Sizes) -> int:
    """strftime over many values: each gets the format's full rendered width."""
    fmt = call.arg(0, "format") or call.arg(0, "date_format") or ""
    check_format("format", fmt)  # C methods such as datetime.strftime have no signature to bind it by name
    widths = sum(int(n) for n in re.findall(r"\d+", fmt)) if isinstance(fmt, str) else 0
    per_value = (len(fmt) if isinstance(fmt, str) else 0) * 8 + widths + 64
    owner = call.owner
    if kind_of(owner) in ("date", "datetime", "time", "Timestamp", "Period"):
        return per_value
    return rows_of(call.data) * per_value


def estimate_astype(call: CallSite, sizes: Sizes) -> int:
    """Fixed-width text dtypes allocate their width for every element; other dtypes at most 16 bytes each."""
    dtype = call.arg(0, "dtype")
    source = call.arg(0, "object") if call.name in ("array", "asarray") else call.owner
    if call.name in ("Series",):
        source, dtype = call.arg(0, "data"), call.arg(2, "dtype")
    elements = _elements(source)
    np = sys.modules.get("numpy")
    width = 16
    if np is not None and dtype is not None:
        try:
            resolved = np.dtype(dtype)
        except Exception:
            resolved = None
        if resolved is not None and resolved.kind in "US":
            per_char = 4 if resolved.kind == "U" else 1
            width = resolved.itemsize or per_char * max(sizes.chars(source) if kind_of(source) != "list" else 0, 32)
        elif resolved is not None:
            width = max(resolved.itemsize, 8)
    if dtype is str or (isinstance(dtype, str) and dtype in ("str", "string", "object")):
        width = 64
    if call.name in ("array", "asarray") and kind_of(source) in ("list", "tuple"):
        return max(sizes.expanded(source), _longest_text(source) * 4 * len(source))  # fixed width: the longest
    return elements * width + (sizes.text(source) if kind_of(source) != "list" else 0)


def _longest_text(items: Any, depth: int = 0) -> int:
    """Characters of the longest string in a (nested) list: numpy gives every element that width."""
    longest = 0
    for item in items:
        kind = kind_of(item)
        if kind in ("str", "bytes"):
            longest = max(longest, len(item))
        elif kind in ("list", "tuple") and depth < 8:
            longest = max(longest, _longest_text(item, depth + 1))
    return longest


def _elements(value: Any) -> int:
    kind = kind_of(value)
    if kind in ("DataFrame", "ndarray"):
        return int(value.size)
    if kind in ("list", "tuple"):
        return len(value)
    return rows_of(value)


def estimate_tolist(call: CallSite, sizes: Sizes) -> int:
    """Python objects for every element: a boxed number each, lists or dicts around them."""
    owner = call.owner
    kind = kind_of(owner)
    cells = _elements(owner) if kind != "DataFrame" else int(owner.size) + len(owner.columns)
    per_cell = SCALAR_BYTES + POINTER + (100 if call.name == "to_dict" else 0)
    return cells * per_cell


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
    frame = owner if kind_of(owner) == "DataFrame" else sys.modules["pandas"].DataFrame({"": owner})
    col_space = call.arg(0, "col_space") if isinstance(call.arg(0, "col_space"), int) else 0
    colwidth = call.arg(0, "max_colwidth")
    widths = 0
    for _, column in frame.items():
        text = sizes.chars(column.head(rows))
        if isinstance(colwidth, int) and colwidth > 0:
            text = min(text, colwidth)
        widths += max(text, col_space, 32) + _format_width(call) + 2
    return (rows + 2) * (widths + 40) * 4


def _format_width(call: CallSite) -> int:
    fmt = call.arg(0, "float_format")
    if isinstance(fmt, str):
        return sum(int(n) for n in re.findall(r"\d+", fmt)) + len(fmt)
    return 0


def _key_counts(frame: Any, keys: Any, use_index: bool) -> Any:
    pandas = sys.modules["pandas"]
    if use_index or keys is None:
        values = frame.index.to_series(index=range(len(frame))) if kind_of(frame) != "Series" else frame.index
        return pandas.Series(values).value_counts(dropna=False)
    if kind_of(frame) == "Series":
        frame = frame.to_frame()
    if isinstance(keys, (list, tuple)) and len(keys) == 1:
        keys = keys[0]
    if isinstance(keys, (list, tuple)):
        return pandas.util.hash_pandas_object(frame[list(keys)], index=False).value_counts()
    return frame[keys].value_counts(dropna=False)


def estimate_merge(call: CallSite, sizes: Sizes) -> int:
    """Rows of a merge from the key counts on both sides (duplicated keys multiply), before pandas builds it."""
    if call.name == "merge" and kind_of(call.owner) == "module":
        left, right = call.arg(0, "left"), call.arg(1, "right")
    else:
        left, right = call.owner, call.arg(0, "right" if call.name == "merge" else "other")
    if kind_of(right) not in ("DataFrame", "Series") or kind_of(left) not in ("DataFrame", "Series"):
        return 0
    how = call.arg(1, "how", "inner" if call.name == "merge" else "left")
    width = _row_bytes(left, sizes) + _row_bytes(right, sizes)
    if how == "cross":
        return len(left) * len(right) * width
    if call.name == "join":
        on = call.arg(1, "on")
        left_counts = _key_counts(left, on, use_index=on is None)
        right_counts = _key_counts(right, None, use_index=True)
    else:
        on = call.arg(2, "on")
        left_on = call.arg(3, "left_on", on)
        right_on = call.arg(4, "right_on", on)
        if left_on is None and right_on is None and not call.arg(5, "left_index") and not call.arg(6, "right_index"):
            common = [c for c in getattr(left, "columns", []) if c in set(getattr(right, "columns", []))]
            left_on = right_on = common or None
        left_counts = _key_counts(left, left_on, use_index=bool(call.arg(5, "left_index")))
        right_counts = _key_counts(right, right_on, use_index=bool(call.arg(6, "right_index")))
    both = left_counts.index.intersection(right_counts.index)
    matched = int((left_counts.loc[both] * right_counts.loc[both]).sum()) if len(both) else 0
    rows = matched
    if how in ("left", "outer"):
        rows += int(left_counts.drop(both).sum())
    if how in ("right", "outer"):
        rows += int(right_counts.drop(both).sum())
    return rows * width


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
        total *= max(int(sys.modules["pandas"].Series(values).nunique(dropna=False)), 1)
    return total


def estimate_pivot(call: CallSite, sizes: Sizes) -> int:
    """Cells of a reshape: distinct row keys times distinct column keys (times value columns)."""
    owner = call.owner
    if call.name == "unstack":
        index = owner.index
        if getattr(index, "nlevels", 1) < 2:
            return held(owner) * 2
        level = call.arg(0, "level", -1)
        levels = level if isinstance(level, (list, tuple)) else [level]
        try:
            moved = 1
            for lev in levels:
                moved *= max(index.get_level_values(lev).nunique(), 1)
            kept = max(index.droplevel(levels).nunique(), 1)
        except Exception:
            return held(owner) * 2
        columns = len(owner.columns) if kind_of(owner) == "DataFrame" else 1
        return kept * moved * columns * 16
    if kind_of(owner) == "module":  # pd.crosstab(index, columns) / pd.pivot_table(data, ...)
        if call.name == "crosstab":
            return _distinct(call.arg(0, "index")) * _distinct(call.arg(1, "columns")) * 16
        owner = call.arg(0, "data")
        call = CallSite(owner, call.name, call.args[1:], call.kwargs, call.bound)
    values = call.arg(0 if call.name == "pivot_table" else 2, "values")
    index = call.arg(1, "index")
    columns = call.arg(2 if call.name == "pivot_table" else 0, "columns")
    value_columns = len(values) if isinstance(values, (list, tuple)) else 1
    if values is None and kind_of(owner) == "DataFrame":
        value_columns = len(owner.columns)
    return _nunique(owner, index) * _nunique(owner, columns) * value_columns * 16


def _distinct(values: Any) -> int:
    if kind_of(values) in ("list", "tuple"):
        total = 1
        for item in values:
            total *= _distinct(item)
        return total
    try:
        return max(int(sys.modules["pandas"].Series(values).nunique(dropna=False)), 1)
    except Exception:
        return max(rows_of(values), 1)


def estimate_corr(call: CallSite, sizes: Sizes) -> int:
    owner = call.owner
    if kind_of(owner) == "module":
        data = call.arg(0, "x" if call.name == "corrcoef" else "m")
        shape = getattr(data, "shape", None) or (len(data) if kind_of(data) == "list" else 1,)
        rowvar = call.arg(2, "rowvar", True)
        variables = shape[0] if rowvar or len(shape) < 2 else shape[1]
        return variables * variables * 8
    columns = owner.shape[1] if len(getattr(owner, "shape", ())) == 2 else 1
    return columns * columns * 8


def estimate_dot(call: CallSite, sizes: Sizes) -> int:
    other = call.arg(0, "other" if kind_of(call.owner) != "ndarray" else "b")
    left, right = getattr(call.owner, "shape", ()), getattr(other, "shape", ())
    rows = left[0] if len(left) > 1 else 1
    columns = right[-1] if len(right) > 1 else 1
    return rows * columns * 16


def estimate_running_text(call: CallSite, sizes: Sizes) -> int:
    """cumsum over text builds every prefix: quadratic in the column."""
    data = call.data  # for a groupby: bounded by the whole frame
    text = sizes.text(data)
    return text * max(rows_of(data), 1) // 2 if text else 0


def estimate_frame(call: CallSite, sizes: Sizes) -> int:
    data, index, columns = call.arg(0, "data"), call.arg(1, "index"), call.arg(2, "columns")
    rows = rows_of(index) if index is not None else None
    cols = rows_of(columns) if columns is not None else None
    kind = kind_of(data)
    if kind in ("dict", "counter"):
        cols = cols or len(data)
        rows = rows or max((rows_of(v) for v in data.values() if kind_of(v) not in ("str", "bytes")), default=1)
    elif kind in ("list", "tuple"):
        rows = rows or len(data)
        cols = cols or max((rows_of(v) for v in data[:1000] if kind_of(v) in ("list", "tuple", "dict")), default=1)
        return max(rows * cols * 16, sizes.expanded(data))
    return (rows or 1) * (cols or 1) * 16 + sizes.expanded(data)


def estimate_factorial(call: CallSite, sizes: Sizes) -> int:
    if any(isinstance(a, int) and a > _limits.MAX_EXPONENT for a in call.args):
        raise UnsafeExpression(
            f"math.{call.name} is limited to arguments up to {_limits.MAX_EXPONENT:,} in evaluate; use math.lgamma "
            "for large values"
        )
    return 0


def estimate_resample(call: CallSite, sizes: Sizes) -> int:
    """A tiny rule over a long time span makes billions of empty bins: count them before pandas does."""
    pandas = sys.modules["pandas"]
    rule = call.arg(0, "rule" if call.name == "resample" else "freq")
    try:
        offset = pandas.tseries.frequencies.to_offset(rule)
        try:
            step = offset.nanos
        except ValueError:  # calendar offsets (months, business days): at least about a day
            step = 86_400 * 10**9
        on, level = call.arg(2, "on"), call.arg(3, "level")
        data = call.data
        index = data[on] if on is not None else data.index
        if level is not None:
            index = index.get_level_values(level)
        span = pandas.Timedelta(index.max() - index.min()).value
    except Exception:
        return 0  # not a time index: pandas itself will refuse
    if step <= 0:
        return 0
    bins = span // step + 1
    columns = data.shape[1] if len(getattr(data, "shape", ())) == 2 else 1
    return bins * (columns + 1) * 16


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


def estimate_melt(call: CallSite, sizes: Sizes) -> int:
    """Every value column becomes rows that repeat all the id columns."""
    frame = call.arg(0, "frame") if kind_of(call.owner) == "module" else call.owner
    if kind_of(frame) != "DataFrame":
        return 0
    ids = call.arg(0 if frame is call.owner else 1, "id_vars")
    id_count = len(ids) if isinstance(ids, (list, tuple)) else (0 if ids is None else 1)
    values = max(frame.shape[1] - id_count, 1)
    return len(frame) * values * (id_count + 2) * 16


ESTIMATORS: dict[str, Estimator] = {
    "resample": estimate_resample,
    "diff": estimate_diff,
    "quantiles": estimate_quantiles,
    "melt": estimate_melt,
    "join": estimate_join,
    "replace": estimate_replace,
    "pad": estimate_pad,
    "codec": estimate_codec,
    "hex": estimate_hex,
    "normalize": estimate_normalize,
    "split_expand": estimate_split,
    "str_cat": estimate_str_cat,
    "findall": estimate_findall,
    "format": estimate_format,
    "astype": estimate_astype,
    "tolist": estimate_tolist,
    "to_string": estimate_to_string,
    "merge": estimate_merge,
    "pivot": estimate_pivot,
    "corr": estimate_corr,
    "dot": estimate_dot,
    "running_text": estimate_running_text,
    "frame": estimate_frame,
    "factorial": estimate_factorial,
}
