"""What kind a value is, and the one-line forms of it that the listing and every describer share.

Values are recognised by their class's module and name, never by importing pandas or numpy, and a
brief costs the same for a 10-item and a 10M-item value.

Describing must not run the user's code: an instance of a class from outside the standard library,
pandas and numpy ("foreign") is never asked for its repr, length, size or properties; it is shown by
its type and the attributes stored in its instance `__dict__`. Strings that look like secrets are
shown as `[redacted]`, like values under secret-looking keys.
"""

from __future__ import annotations

import inspect
import itertools
import re
import sys
from collections import Counter
from typing import Any, Iterable

from kimi_lab.common.secrets import REDACTED, looks_secret, looks_secret_value
from kimi_lab.common.summarize import cap

TYPE_SCAN = 10_000  # containers: element/key types are counted over at most this many items
TRUSTED_MODULES = frozenset({"builtins", "collections", "datetime", "decimal", "fractions", "pathlib", "uuid",
                             "ipaddress", "re", "functools", "zoneinfo", "array", "pandas", "numpy"})


# ---------------------------------------------------------------------------------------------- recognising values


def is_instance_of(value: Any, package: str, name: str) -> bool:
    """True if `value` is an instance of `package`'s class `name` (or a subclass), without importing it."""
    for cls in type(value).__mro__:
        if cls.__name__ == name and str(getattr(cls, "__module__", "")).split(".")[0] == package:
            return True
    return False


def _module_root(cls: type) -> str:
    return str(getattr(cls, "__module__", "") or "").split(".")[0]


def is_foreign(value: Any) -> bool:
    """True for an instance of a class defined outside the standard library, pandas and numpy, whose
    methods (repr, len, properties) may run arbitrary code. Classes and functions themselves are not."""
    return _module_root(type(value)) not in TRUSTED_MODULES


def trusted_base(cls: type) -> type:
    """The first class in `cls`'s MRO whose methods are known not to run user code."""
    return next((k for k in cls.__mro__ if _module_root(k) in TRUSTED_MODULES), object)


def kind_of(value: Any) -> str:
    cls = type(value)
    if _module_root(cls) not in TRUSTED_MODULES:
        return "class" if issubclass(cls, type) else "object"
    if is_instance_of(value, "pandas", "DataFrame"):
        return "dataframe"
    if is_instance_of(value, "pandas", "Series"):
        return "series"
    if is_instance_of(value, "numpy", "ndarray"):
        return "ndarray"
    if isinstance(value, type):
        return "class"
    if inspect.isroutine(value) or is_instance_of(value, "functools", "partial"):
        return "callable"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, (list, tuple)):
        return "sequence"
    if isinstance(value, (set, frozenset)):
        return "set"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    return "object"


# ------------------------------------------------------------------------------------------------------ formatting


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"


def format_number(x: Any) -> str:
    """A statistic as short text: integers with separators, floats to 6 significant digits."""
    name = type(x).__name__
    if isinstance(x, bool) or name.startswith("bool"):
        return str(x)
    if isinstance(x, int) or name.startswith(("int", "uint")):
        return f"{int(x):,}"
    if isinstance(x, float) or name.startswith("float"):
        return f"{float(x):.6g}"
    return str(x)


def one_line(text: str, width: int) -> str:
    text = re.sub(r"\s*\n\s*", " ⏎ ", text.strip())
    return text if len(text) <= width else text[: max(width - 1, 1)] + "…"


def safe_repr(value: Any, limit: int) -> str:
    """repr that reports a failing __repr__ instead of raising."""
    try:
        text = repr(value)
    except Exception as exc:
        return f"<{type(value).__name__} object: repr raised {type(exc).__name__}: {one_line(str(exc), 80)}>"
    return cap(text, limit)


def label_of(column: Any) -> str:
    return one_line(column if isinstance(column, str) else repr(column), 40)


def signature_text(func: Any) -> str:
    try:
        return str(inspect.signature(func))
    except (TypeError, ValueError):
        return "(…)"


def brief(value: Any, width: int = 80, depth: int = 1) -> str:
    """One line of at most `width` characters, costing the same for a 10-item and a 10M-item value."""
    try:
        text = _brief_unchecked(value, width, depth)
    except Exception as exc:
        text = f"<{type(value).__name__}: could not summarise ({type(exc).__name__})>"
    return one_line(text, width)


def _brief_unchecked(value: Any, width: int, depth: int) -> str:
    kind = kind_of(value)
    if kind == "dataframe":
        rows, cols = value.shape
        names = ", ".join(label_of(c) for c in value.columns[:6]) + (", …" if cols > 6 else "")
        return f"DataFrame {rows:,}×{cols} [{names}]"
    if kind == "series":
        return f"Series {label_of(value.name)} {len(value):,} × {value.dtype}"
    if kind == "ndarray":
        small = f" {value.tolist()}" if value.size <= 6 and value.dtype.kind in "biuf" else ""
        return f"ndarray {shape_text(value.shape)} {value.dtype}{small}"
    if kind == "class":
        return f"class {value.__qualname__}"
    if kind == "callable":
        name = getattr(value, "__qualname__", None) or type(value).__name__
        return f"{type(value).__name__} {name}{signature_text(value)}"
    if kind in ("str", "bytes") and secret_text(value):
        return REDACTED
    if kind == "str":
        return repr(value[:width]) + (f"… ({len(value):,} chars)" if len(value) > width else "")
    if kind == "bytes":
        return repr(value[:width]) + (f"… ({len(value):,} bytes)" if len(value) > width else "")
    if kind in ("dict", "sequence", "set"):
        return _brief_container(value, kind, width, depth)
    if is_foreign(value):
        return f"<{type(value).__name__} object>"  # its repr is the user's code: not run
    if isinstance(value, int) and value.bit_length() > 1000:
        return f"int with {value.bit_length():,} bits"
    return safe_repr(value, width + 1)


def _brief_container(value: Any, kind: str, width: int, depth: int) -> str:
    n = len(value)
    if kind == "dict":
        opening, closing = "{", "}"
    elif isinstance(value, tuple):
        opening, closing = "(", ")"
    elif type(value) is set:
        opening, closing = ("{", "}") if n else ("set(", ")")
    elif kind == "set":
        opening, closing = f"{type(value).__name__}({{", "})"
    else:
        opening, closing = "[", "]"
    if n and depth <= 0:
        return f"{type(value).__name__} of {n:,}"
    inner = max(width // 3, 12)
    if kind == "dict":
        parts = [f"{brief(k, inner, 0)}: {value_brief(k, v, inner, depth - 1)}" for k, v in
                 itertools.islice(value.items(), 4)]
    else:
        parts = [brief(v, inner, depth - 1) for v in itertools.islice(value, 6)]
    more = f", … ({n:,} items)" if n > len(parts) else ""
    return opening + ", ".join(parts) + more + closing


def secret_text(value: str | bytes | bytearray) -> bool:
    """True if a string (or bytes) looks like a secret by value: a known key, a credential URL, a token."""
    text = value if isinstance(value, str) else bytes(value[:65_536]).decode("utf-8", "replace")
    return looks_secret_value(text)


def value_brief(key: Any, value: Any, width: int, depth: int = 1) -> str:
    """A dict value or attribute in one line, unless its name or its value says it holds a secret."""
    if isinstance(key, str) and looks_secret(key):
        return REDACTED
    return brief(value, width, depth)


def shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(f"{d:,}" for d in shape) if shape else "scalar"


def type_histogram(items: Iterable[Any]) -> str:
    counts = Counter(type(v).__name__ for v in items)
    return ", ".join(f"{name} {count:,}" for name, count in counts.most_common(8))


def memory_text(value: Any, kind: str) -> str:
    try:
        if kind == "dataframe":
            return format_bytes(int(value.memory_usage(index=True, deep=False).sum()))
        if kind == "series":
            return format_bytes(int(value.memory_usage(index=True, deep=False)))
        if kind == "ndarray":
            return format_bytes(int(value.nbytes))
        if is_foreign(value):  # its own __sizeof__ could run anything
            return format_bytes(trusted_base(type(value)).__sizeof__(value))
        return format_bytes(sys.getsizeof(value))
    except Exception:
        return "?"

