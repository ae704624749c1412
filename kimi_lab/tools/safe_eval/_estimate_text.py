"""Estimators for calls that make text: what the result will hold, in bytes, before the call runs.

Text grows in ways its input size does not show: a replacement inserted at every match, a separator
between every piece, a width given to every row, every piece of a split becoming its own object (about
50 bytes even for one character), an encoding at four bytes a character, aliased cells each made anew.
Sorting text is priced too, in characters compared, because a sort of long equal-prefix strings runs
in C for minutes without ever checking for the tool's time limit.
"""

from __future__ import annotations

import math
import re
import sys
from typing import Any

from kimi_lab.tools.safe_eval import _arrow, _limits
from kimi_lab.tools.safe_eval._callsite import CallSite, Estimator, rows_of
from kimi_lab.tools.safe_eval._guard_languages import _sre_parse, check_format
from kimi_lab.tools.safe_eval._kinds import kind_of
from kimi_lab.tools.safe_eval._messages import UnsafeExpression
from kimi_lab.tools.safe_eval._operators import scan_work
from kimi_lab.tools.safe_eval._sizes import POINTER, Sizes, held, payload_bytes

STRING_OBJECT = 56  # a small str object and its pointer: what one piece of a split costs at least
_WHITESPACE = " \t\n\r\x0b\x0c"


def estimate_join(call: CallSite, sizes: Sizes) -> int:
    """str.join / bytes.join: every element's text plus a separator between each pair, whatever the iterable
    (a string joins its characters, a set or dict its members)."""
    items = call.arg(0, "iterable")
    separator = payload_bytes(call.owner)
    if kind_of(items) in ("str", "bytes"):
        return len(items) * (separator + 4) + 64
    if kind_of(items) not in ("list", "tuple", "set", "frozenset", "deque", "view", "dict", "counter"):
        return 0
    return sum(sizes.expanded(item) for item in items) + len(items) * separator


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
        copy = 2 * (held(owner) + sizes.text(owner))  # value replacement: at most a copy with new objects
        return copy + _regex_growth(owner, call.arg(0, "to_replace"), call.arg(1, "value"), call.arg(3, "regex"))
    return 0


def _regex_growth(owner: Any, to_replace: Any, value: Any, regex: Any) -> int:
    """`Series.replace(pattern, text, regex=True)` puts `text` in for every match: '.' matches every
    character, so a long replacement multiplies the column."""
    if isinstance(regex, str) or kind_of(regex) == "list":
        to_replace, value = regex, value
    elif not regex:
        return 0
    if kind_of(to_replace) == "dict":
        pairs = list(to_replace.items())
    elif kind_of(to_replace) == "list":
        pairs = [(pattern, value) for pattern in to_replace]
    else:
        pairs = [(to_replace, value)]
    columns = [column for _, column in owner.items()] if kind_of(owner) == "DataFrame" else [owner]
    growth = 0
    for pattern, replacement in pairs:
        if not isinstance(pattern, str) or not isinstance(replacement, str):
            continue
        for column in columns:
            if getattr(column.dtype, "kind", "") in "biufcmM" or (
                _arrow.is_arrow(column.dtype) and not _arrow.is_string(column.dtype)  # bytes, lists: no str matches
            ):
                continue
            if _arrow.is_string(column.dtype):  # counted where the text is stored: no cell becomes a str
                counts = sys.modules["pandas"].Series(column.array, copy=False).str.count(pattern).fillna(0)
            else:
                counts = column.astype(object).map(lambda cell: cell if isinstance(cell, str) else "").str.count(
                    pattern)
            growth += int(counts.sum()) * len(replacement) * 4
    return growth


def estimate_text_map(call: CallSite, sizes: Sizes) -> int:
    """`.str.upper()` and the like: a new string for every cell, as long as the old one (aliased cells
    are each made anew)."""
    return sizes.text(call.data) + rows_of(call.data) * STRING_OBJECT


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


def estimate_split_text(call: CallSite, sizes: Sizes) -> int:
    """str.split / rsplit / splitlines: every piece is a new string object."""
    text = call.owner
    separator = call.arg(0, "sep")
    if call.name == "splitlines":
        pieces = text.count("\n" if kind_of(text) == "str" else b"\n") + 1
    elif separator is None:
        pieces = sum(text.count(c if kind_of(text) == "str" else c.encode()) for c in _WHITESPACE) + 1
    else:
        pieces = text.count(separator) + 1 if separator else 1
    return pieces * STRING_OBJECT + sys.getsizeof(text)


def estimate_split(call: CallSite, sizes: Sizes) -> int:
    """`.str.split`: each piece becomes a string object plus a pointer in its row's list."""
    data = call.data
    if _splits_forever(call):
        raise UnsafeExpression(
            "splitting Arrow-backed text by a pattern that can match no characters never ends in pyarrow (it splits "
            "at the same place again and again); use a pattern that always matches a character, or astype(str) first"
        )
    pattern = call.arg(0, "pat")
    if pattern is None:
        pieces = int(call.owner.count(r"\s+").sum())
    elif isinstance(pattern, str):
        regex = call.arg(3, "regex", None)
        pieces = int(call.owner.count(pattern if regex else re.escape(pattern)).sum())
    else:
        pieces = sizes.text(data)
    return (pieces + rows_of(data)) * (STRING_OBJECT + POINTER) + sizes.text(data) + rows_of(data) * 72


def _splits_forever(call: CallSite) -> bool:
    """pyarrow's `split_pattern_regex`, which `.str.split` uses on `ArrowDtype` text for a regular expression
    (any pattern but one character, unless regex=False), finds an empty match at the same place forever when
    the pattern can match nothing ('', 'x*', '^'), allocating as it goes, inside one C call."""
    data = call.data
    if call.name != "split" or kind_of(data) not in ("Series", "Index") or type(data.dtype).__name__ != "ArrowDtype":
        return False
    pattern, regex = call.arg(0, "pat"), call.arg(3, "regex")
    if not isinstance(pattern, str) or regex is False or (regex is None and len(pattern) == 1):
        return False
    try:
        return bool(_sre_parse.parse(pattern).getwidth()[0] == 0)
    except Exception:
        return True


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


def estimate_scan(call: CallSite, sizes: Sizes) -> int:
    """`list.count(x)` and `list.index(x)` compare x with every element, nested ones included."""
    scan_work(sizes, call.owner)
    return 0


def estimate_wrap(call: CallSite, sizes: Sizes) -> int:
    """`.str.wrap`: every line gets its indent (a line can be one character long) and tabs expand to
    `tabsize` spaces."""
    data = call.data
    indents = sum(len(call.arg(i, name, "") or "") for i, name in ((5, "initial_indent"), (6, "subsequent_indent")))
    tabsize = call.arg(2, "tabsize", 8)
    if _arrow.is_string(data.dtype):  # counted where the text is stored: no cell becomes a str
        tabs = int(sys.modules["pandas"].Series(data.array, copy=False).str.count("\t").fillna(0).sum())
    else:
        tabs = int(data.astype(object).map(lambda cell: cell.count("\t") if isinstance(cell, str) else 0).sum())
    chars = sizes.text(data) // 2 + rows_of(data)
    return sizes.text(data) + rows_of(data) * STRING_OBJECT + chars * (indents + 1) * 4 + tabs * max(tabsize, 1) * 4


def estimate_text_sum(call: CallSite, sizes: Sizes) -> int:
    """`sum` over a column of text joins it one cell at a time: every step copies what was joined so far
    (within each group, for a groupby: the text summed times the largest group)."""
    data, longest = call.data, rows_of(call.data)
    if kind_of(call.owner) == "GroupBy":
        data = getattr(call.owner, "_selected_obj", data)  # the columns summed, not the whole frame
        keys = getattr(call.owner, "exclusions", frozenset())
        if kind_of(data) == "DataFrame" and keys:
            data = data[[name for name in data.columns if name not in keys]]
        longest = int(call.owner.size().max()) if sizes.text(data) else 0
    columns = [column for _, column in data.items()] if kind_of(data) == "DataFrame" else [data]
    text = sum(sizes.text(column) for column in columns)
    return text * max(longest, 1) // 2 if text else 0


def estimate_running_text(call: CallSite, sizes: Sizes) -> int:
    """cumsum over text builds every prefix: quadratic in the column."""
    data = call.data  # for a groupby: bounded by the whole frame
    text = sizes.text(data)
    return text * max(rows_of(data), 1) // 2 if text else 0


def sort_work(text_bytes: int, count: int) -> None:
    """Refuse a sort whose comparisons would read more than MAX_SORT_WORK characters: n log n compares of
    up to the average text each, done in C without a check for the tool's time limit."""
    if count > 1 and text_bytes:
        work = text_bytes * math.log2(count)
        if work > _limits.MAX_SORT_WORK:
            raise UnsafeExpression(
                f"sorting this text would compare about {work:,.0f} characters, over evaluate's limit of "
                f"{_limits.MAX_SORT_WORK:,}; sort a shorter key (such as its first characters) or fewer rows"
            )


def estimate_sort(call: CallSite, sizes: Sizes) -> int:
    target = call.data if kind_of(call.owner) != "module" else call.arg(0, "a")
    if kind_of(target) == "ndarray" and target.dtype.kind in "US":
        sort_work(int(target.nbytes), int(target.size))
    elif kind_of(target) in ("DataFrame", "Series", "Index", "ndarray", "Categorical", "ExtensionArray"):
        sort_work(sizes.text(target), rows_of(target))
    return 0


TEXT_ESTIMATORS: dict[str, Estimator] = {
    "join": estimate_join,
    "replace": estimate_replace,
    "text_map": estimate_text_map,
    "pad": estimate_pad,
    "codec": estimate_codec,
    "hex": estimate_hex,
    "normalize": estimate_normalize,
    "split_text": estimate_split_text,
    "split_expand": estimate_split,
    "findall": estimate_findall,
    "str_cat": estimate_str_cat,
    "format": estimate_format,
    "running_text": estimate_running_text,
    "text_sum": estimate_text_sum,
    "scan": estimate_scan,
    "wrap": estimate_wrap,
    "sort": estimate_sort,
}
