"""Operators as evaluate runs them: operands must be data, and results that can outgrow them are priced first.

One `*`, `**`, `<<`, `%` or broadcast can allocate far more than its operands: repetition is priced
by what the repeated value expands to, `%`-formatting by what its fields render, text columns by
their bytes, and numpy broadcasting and pandas alignment (duplicated labels multiply) by their shapes.
"""

from __future__ import annotations

import ast
import operator
import re
from typing import TYPE_CHECKING, Any, Callable

from kimi_lab.tools.safe_eval import _limits
from kimi_lab.tools.safe_eval._kinds import kind_of
from kimi_lab.tools.safe_eval._messages import UnsafeExpression, memory_message
from kimi_lab.tools.safe_eval._sizes import Sizes, held, payload_bytes

if TYPE_CHECKING:
    from kimi_lab.tools.safe_eval._interpreter import Interpreter

PLAIN_NUMBERS = frozenset({int, float, bool, complex})
_PERCENT_FIELD = re.compile(r"%(?:\(([^)]*)\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?([a-zA-Z%])")
_FRAMES = frozenset({"DataFrame", "Series", "Index"})

BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.MatMult: operator.matmul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
    ast.BitAnd: operator.and_,
}
COMPARISONS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
UNARY: dict[type, Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}


def binary(ip: Interpreter, op: type, left: Any, right: Any) -> Any:
    if type(left) in PLAIN_NUMBERS and type(right) in PLAIN_NUMBERS and op not in (ast.Pow, ast.LShift):
        if type(left) is int and type(right) is int and op is ast.Mult:
            guard_product(ip, left, right)
        return ip.external(BINARY[op], (left, right))  # plain arithmetic: nothing else to guard
    left, right = ip.cross(left, library=False), ip.cross(right, library=False)
    what = "this operation"
    if op is ast.Mult:
        estimate = _repeat(ip, left, right) or _repeat(ip, right, left)
    elif op is ast.Pow:
        guard_pow(ip, left, right)
        estimate = 0
    elif op is ast.LShift:
        if type(right) is int and isinstance(left, int) and right > _limits.MAX_SHIFT:
            ip.budget.fail(
                f"shifting by more than {_limits.MAX_SHIFT:,} bits is not allowed in evaluate; use floats, such as "
                "2.0 ** n"
            )
        estimate = (left.bit_length() + right) // 8 if type(left) is int and type(right) is int else 0
    elif op is ast.Mod and kind_of(left) in ("str", "bytes"):
        estimate = _percent(ip, left, right)
        what = "this %-format"
    elif op is ast.Add:
        estimate = _text(ip, left) + _text(ip, right) + _appended(left, right) + _appended(right, left)
    else:
        estimate = 0
    estimate = max(estimate, _shapes(ip, left, right, matmul=op is ast.MatMult))
    if estimate:
        ip.budget.charge(estimate, what)
    result = ip.gate.admit_result(ip.external(BINARY[op], (left, right)), what)
    if not estimate:
        ip.budget.charge(held(result), what)
    return result


def guard_product(ip: Interpreter, left: int, right: int) -> None:
    """A product has the bits of both factors: squaring in a loop doubles them every time."""
    bits = left.bit_length() + right.bit_length()
    if bits > _limits.MAX_INT_BITS:
        ip.budget.fail(
            f"integer products over {_limits.MAX_INT_BITS:,} bits are not allowed in evaluate; use floats or "
            "math.log instead"
        )
    ip.budget.charge(bits // 8, "this product")


def unary(ip: Interpreter, op: type, operand: Any) -> Any:
    if type(operand) in PLAIN_NUMBERS:
        return ip.external(UNARY[op], (operand,))
    operand = ip.cross(operand, library=False)
    result = ip.gate.admit_result(ip.external(UNARY[op], (operand,)), "this operation")
    ip.budget.charge(held(result), "this operation")
    return result


def compare(ip: Interpreter, op: type, left: Any, right: Any) -> Any:
    if op is ast.Is:
        return left is right
    if op is ast.IsNot:
        return left is not right
    if type(left) in PLAIN_NUMBERS and type(right) in PLAIN_NUMBERS:
        return COMPARISONS[op](left, right)
    left = ip.cross(left, library=False)
    right = ip.cross(right, library=False)
    if op in (ast.In, ast.NotIn) and kind_of(right) == "iterator":
        found = any(item is left or item == left for item in (ip.cross(i, library=False) for i in right))
        return found if op is ast.In else not found
    scan_work(ip.sizes, right if op in (ast.In, ast.NotIn) else left, right if op not in (ast.In, ast.NotIn) else None)
    estimate = _shapes(ip, left, right)
    if estimate:
        ip.budget.charge(estimate, "this comparison")
    return ip.gate.admit_result(ip.external(COMPARISONS[op], (left, right)), "this comparison")


_CONTAINERS = ("list", "tuple", "dict", "counter", "set", "frozenset", "deque")


def scan_work(sizes: Sizes, container: Any, other: Any = None) -> None:
    """Comparing nested containers, or searching one, visits every element in C without a check for the
    time limit: a list aliased five levels deep compares ten billion elements. Refuse when the elements
    visited (counted with every shared sublist each time, about 28 bytes each) pass MAX_ITEMS."""
    if kind_of(container) not in _CONTAINERS:
        return
    work = sizes.expanded(container)
    if other is not None:
        if kind_of(other) not in _CONTAINERS:
            return
        work = min(work, sizes.expanded(other))
    if work // 28 > _limits.MAX_ITEMS:
        raise UnsafeExpression(
            f"comparing or searching these nested containers visits about {work // 28:,} elements, over evaluate's "
            f"limit of {_limits.MAX_ITEMS:,}; compare smaller parts"
        )


def guard_pow(ip: Interpreter, base: Any, exponent: Any, modulus: Any = None) -> None:
    if modulus is not None:
        if all(type(v) is int for v in (base, exponent, modulus)):
            work = max(exponent.bit_length(), 1) * max(modulus.bit_length(), 1)
            if work > _limits.MAX_MODPOW_WORK:
                ip.budget.fail("pow(a, b, m) with such large b and m is not allowed in evaluate; use smaller numbers")
        return
    if type(exponent) is not int or exponent <= 0:
        return
    if isinstance(base, int):
        bits = max(base.bit_length(), 1)
    elif kind_of(base) == "fraction":
        bits = base.numerator.bit_length() + base.denominator.bit_length()
    elif kind_of(base) == "decimal":
        bits = 100  # the decimal context's precision bounds the digits
    else:
        return  # floats, numpy: bounded-size results
    if exponent > _limits.MAX_EXPONENT or (bits > 1 and bits * exponent > _limits.MAX_INT_BITS):
        ip.budget.fail(
            f"integer powers with exponents above {_limits.MAX_EXPONENT:,} or results over {_limits.MAX_INT_BITS:,} "
            "bits are not allowed in evaluate; use floats (such as 10.0 ** n) or math.log instead"
        )


def _appended(array: Any, text: Any) -> int:
    """`s + text` makes a new string of every cell with `text` in it (an Arrow buffer or a str object each)."""
    if kind_of(text) not in ("str", "bytes") or kind_of(array) not in _FRAMES | {"ndarray"}:
        return 0
    if kind_of(array) == "ndarray" and array.dtype.kind in "US":
        return int(array.size) * (int(array.dtype.itemsize) + 4 * len(text))
    return int(getattr(array, "size", 0)) * (payload_bytes(text) + 49)


def _repeat(ip: Interpreter, sequence: Any, count: Any) -> int:
    """Bytes of `sequence * count`: a list repeats pointers, but printing it repeats every element."""
    if kind_of(count) in _FRAMES | {"ndarray"} and getattr(count.dtype, "kind", "") in "iub" and len(count):
        text = ip.sizes.text(sequence) if kind_of(sequence) in _FRAMES | {"ndarray"} else 0
        top = int(count.max()) if kind_of(count) != "DataFrame" else int(count.max().max())
        return held(sequence) + text * max(top, 1) if text else 0  # text columns times counts: each row repeated
    if type(count) is not int or count <= 1:
        return 0
    kind = kind_of(sequence)
    if kind == "npscalar" and isinstance(sequence, (str, bytes)):  # np.str_ repeats like str
        kind = "str" if isinstance(sequence, str) else "bytes"
    if kind in ("str", "bytes"):
        return payload_bytes(sequence) * count + 80
    if kind in ("list", "tuple", "deque"):
        ip.budget.peak(ip.sizes.expanded(sequence) * count, "repeating this sequence (as text)")
        return held(sequence) * count
    if kind in _FRAMES or kind == "ndarray":
        return (held(sequence) + ip.sizes.text(sequence) * count) if ip.sizes.text(sequence) else 0
    return 0


def _percent(ip: Interpreter, template: Any, values: Any) -> int:
    """What `template % values` renders: each field's value as text, at its width."""
    fields = _PERCENT_FIELD.findall(template if isinstance(template, str) else template.decode("latin-1"))
    total = len(template) * 4
    position = 0
    for key, width, precision, conversion in fields:
        for part in (width, precision):
            if part == "*" or (part.isdigit() and int(part) > _limits.MAX_WIDTH):
                ip.budget.fail(
                    f"%-format widths must be literal numbers up to {_limits.MAX_WIDTH:,} in evaluate; use an f-string "
                    'such as f"{x:>10}"'
                )
        if conversion == "%":
            continue
        if key:
            value = values.get(key) if kind_of(values) in ("dict", "counter") else None
        elif kind_of(values) == "tuple":
            value = values[position] if position < len(values) else None
            position += 1
        else:
            value = values
        field = ip.sizes.rendered(value) if value is not None else 8
        total += max(field, int(width or 0) * 4, int(precision or 0) * 4)
    if total > ip.budget.limit:
        ip.budget.fail(memory_message("this %-format", total, ip.budget.limit))
    return total


def _text(ip: Interpreter, value: Any) -> int:
    return ip.sizes.text(value) if kind_of(value) in _FRAMES or kind_of(value) == "ndarray" else 0


def _shapes(ip: Interpreter, left: Any, right: Any, *, matmul: bool = False) -> int:
    """Bytes of a broadcast or aligned result, when that can exceed both operands."""
    left_kind, right_kind = kind_of(left), kind_of(right)
    if left_kind not in _FRAMES | {"ndarray"} or right_kind not in _FRAMES | {"ndarray"}:
        return 0
    a, b = tuple(left.shape), tuple(right.shape)
    if matmul:
        size = _product(a[:-1]) * (b[-1] if len(b) > 1 else 1)
    elif left_kind == right_kind == "ndarray":
        size = broadcast_size([a, b])
    else:
        size = aligned_size(left, right)
    bigger = max(_product(a), _product(b))
    return size * 8 if size > bigger else 0


def _product(dims: tuple[int, ...]) -> int:
    size = 1
    for d in dims:
        size *= int(d)
    return size


def broadcast_size(shapes: list[tuple[int, ...]]) -> int:
    """Elements in numpy's broadcast of these shapes (0 if they do not broadcast: numpy will refuse)."""
    size = 1
    for i in range(1, max(len(s) for s in shapes) + 1):
        dims = {s[-i] for s in shapes if len(s) >= i} - {1}
        if len(dims) > 1:
            return 0
        size *= dims.pop() if dims else 1
    return size


def aligned_size(left: Any, right: Any) -> int:
    """Cells of pandas' alignment of two objects on their labels: duplicated labels multiply like a join."""
    left_kind, right_kind = kind_of(left), kind_of(right)
    if "ndarray" in (left_kind, right_kind):
        return 0
    if {left_kind, right_kind} == {"DataFrame", "Series"}:  # a Series aligns with the frame's columns
        frame, series = (left, right) if left_kind == "DataFrame" else (right, left)
        return len(frame) * (frame.shape[1] + len(series))
    rows = _join_size(_labels(left), _labels(right))
    if left_kind == right_kind == "DataFrame":
        return rows * _join_size(left.columns, right.columns)
    return rows


def _labels(value: Any) -> Any:
    return value if kind_of(value) == "Index" else value.index


def _join_size(first: Any, second: Any) -> int:
    if first.is_unique and second.is_unique:
        return len(first) + len(second)
    if first.equals(second):
        return len(first)
    counts = first.value_counts(dropna=False), second.value_counts(dropna=False)
    both = counts[0].index.intersection(counts[1].index)
    return int((counts[0].loc[both] * counts[1].loc[both]).sum()) + len(first) + len(second)
