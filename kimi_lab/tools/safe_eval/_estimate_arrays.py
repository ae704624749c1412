"""Estimators for calls on arrays and containers whose result can outgrow their inputs, in bytes, before they run.

Where numpy multiplies: fixed-width text dtypes (the width for every element, a list of strings
converted to an array gets its longest string's width for every element), nested lists laid out as
arrays, Python objects made from every cell (`tolist`, `to_dict`), concatenation, products,
broadcasting, index arrays (`nonzero`, `take`), and math arguments that make huge numbers.
"""

from __future__ import annotations

import sys
from typing import Any

from kimi_lab.tools.safe_eval import _limits
from kimi_lab.tools.safe_eval._callsite import CELL, CallSite, Estimator, rows_of
from kimi_lab.tools.safe_eval._kinds import Guarded, kind_of
from kimi_lab.tools.safe_eval._messages import UnsafeExpression, limit_message
from kimi_lab.tools.safe_eval._sizes import POINTER, SCALAR_BYTES, Sizes


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
    fresh = sizes.fresh(owner) if kind_of(owner) != "ndarray" else 0  # Arrow cells become new strings
    return cells * (SCALAR_BYTES + POINTER + (100 if call.name == "to_dict" else 0)) + fresh


def estimate_dot(call: CallSite, sizes: Sizes) -> int:
    other = call.arg(0, "other" if kind_of(call.owner) != "ndarray" else "b")
    left, right = getattr(call.owner, "shape", ()), getattr(other, "shape", ())
    rows = left[0] if len(left) > 1 else 1
    columns = right[-1] if len(right) > 1 else 1
    return rows * columns * CELL


def estimate_broadcast(call: CallSite, sizes: Sizes) -> int:
    """np.maximum / np.where / np.clip / a.clip: the result has the broadcast shape of all array arguments, and a
    string among them gives every element its width (`np.where(mask, text, '')` is `text` in every row)."""
    from kimi_lab.tools.safe_eval._operators import broadcast_size

    operands = (call.owner, *call.args, *call.kwargs.values())
    shapes = [tuple(a.shape) for a in operands if kind_of(a) in ("ndarray", "Series")]
    elements = broadcast_size(shapes) if shapes else 1
    widths = [len(a) for a in operands if kind_of(a) in ("str", "bytes")]
    widths += [a.dtype.itemsize // (4 if a.dtype.kind == "U" else 1) for a in operands
               if kind_of(a) == "ndarray" and a.dtype.kind in "US"]
    text = elements * max(widths) * 4 if widths else 0
    fresh = sum(sizes.fresh(a) for a in operands if kind_of(a) == "Series")  # Arrow cells made Python strings
    return (elements * CELL if len(shapes) > 1 else 0) + text + fresh


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


ARRAY_ESTIMATORS: dict[str, Estimator] = {
    "astype": estimate_astype,
    "concatenate": estimate_concatenate,
    "tolist": estimate_tolist,
    "dot": estimate_dot,
    "broadcast": estimate_broadcast,
    "nonzero": estimate_nonzero,
    "take": estimate_take,
    "factorial": estimate_factorial,
    "diff": estimate_diff,
    "quantiles": estimate_quantiles,
}
