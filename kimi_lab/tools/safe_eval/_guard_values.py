"""The parameter rules for plain values: what writes or shares (inplace, copy, out, buf, path, mode), dtypes,
function names given as strings, sizes (widths, digits, bins, periods, short texts), engines, codecs,
time zones and `kind`.

Each rule takes the parameter's name and value and returns the value to pass, or raises UnsafeExpression;
`_guards.RULES` names them.
"""

from __future__ import annotations

import re
import sys
from typing import Any

from kimi_lab.tools.safe_eval import _arrow, _limits
from kimi_lab.tools.safe_eval._allowlists import AGG_NAMES, CODEC_ERRORS, CODECS
from kimi_lab.tools.safe_eval._kinds import Guarded, kind_of
from kimi_lab.tools.safe_eval._messages import fail, limit_message

_DTYPE_TEXT = re.compile(r"^[<>|=]?[A-Za-z][A-Za-z0-9_]{0,20}(\[[A-Za-z0-9_, :/+-]{1,40}\])?$")
_ZONE_NAME = re.compile(r"^(UTC|GMT|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+\-]+){0,2}|[+-]\d{2}:?\d{2})$")


def _false(name: str, value: Any) -> Any:
    if value is None or (type(value) in (bool, int) and not value):
        return value
    return fail(
        "inplace=True is not allowed in evaluate (it modifies the user's data); drop inplace and use the returned copy"
    )


def _not_false(name: str, value: Any) -> Any:
    if value is False or (type(value) is int and value == 0):
        fail("copy=False is not allowed in evaluate (the result would share the user's data); leave copy out")
    return value


def _absent(name: str, value: Any) -> Any:
    if value is not None:
        fail(
            f"the '{name}=' argument is not allowed in evaluate (it writes into an existing array or file, or picks "
            "a file mode); use the returned value instead"
        )
    return value


def check_dtype(name: str, value: Any) -> Any:
    """Plain dtypes only, of bounded width: no sub-arrays, records or 'U100000' strings."""
    if isinstance(value, Guarded) and isinstance(value.target, type):
        return value.target  # astype(int): the builtin type itself, which pandas understands
    kind = kind_of(value)
    if kind == "dict":
        if any(type(key) not in (str, int, float, bool) for key in value):
            fail("the keys of a dtype mapping must be column names (text or numbers)")
        return {key: check_dtype(name, item) for key, item in value.items()}
    if value is None:
        return value
    if kind == "str":
        if not _DTYPE_TEXT.match(value):
            fail(f"dtype {value[:40]!r} is not a plain dtype name; use names such as 'int64', 'float', 'category'")
        if "dateutil" in value or ".." in value or "//" in value:
            fail("time zones in dtypes must be IANA names such as 'datetime64[ns, UTC]'")
        if any(int(n) > _limits.MAX_DTYPE_SIZE for n in re.findall(r"\d+", value)):
            fail(
                f"dtypes wider than {_limits.MAX_DTYPE_SIZE} characters (such as 'U1000') are not allowed in evaluate; "
                "use 'str' or 'category'"
            )
    elif kind != "dtype":
        fail("dtype must be a name such as 'int64', 'str' or 'category', or a dtype object such as df.dtypes['a']")
    resolved = _resolve_dtype(value)
    reason = _arrow.unsupported(resolved)
    if reason is not None:
        fail(f"dtype {str(resolved)[:40]} is {reason}; use 'str' or 'string[pyarrow]'")
    np = sys.modules.get("numpy")
    if np is not None and isinstance(resolved, np.dtype):
        if resolved.fields is not None or resolved.subdtype is not None or resolved.kind == "V":
            fail("record and sub-array dtypes are not allowed in evaluate; use a plain dtype such as 'float64'")
        width = resolved.itemsize // (4 if resolved.kind == "U" else 1) if resolved.kind in "US" else 0
        if width > _limits.MAX_DTYPE_SIZE:
            fail(
                f"dtypes wider than {_limits.MAX_DTYPE_SIZE} characters (such as 'U1000') are not allowed in evaluate; "
                "use 'str' or 'category'"
            )
    return value


def _resolve_dtype(value: Any) -> Any:
    pandas = sys.modules.get("pandas")
    try:
        if pandas is not None:
            return pandas.api.types.pandas_dtype(value)
        np = sys.modules.get("numpy")
        return np.dtype(value) if np is not None else None
    except Exception:
        return None  # the library will say it is not a dtype


def check_function(name: str, value: Any, depth: int = 0) -> Any:
    """Strings are method names pandas calls with any arguments: only aggregation names."""
    kind = kind_of(value)
    if kind == "str":
        if value not in AGG_NAMES:
            fail(
                f"'{value[:40]}' is not an aggregation name evaluate allows; use names such as 'sum', 'mean', 'count', "
                "'max' or a lambda"
            )
    elif depth < 6 and kind in ("list", "tuple"):
        for item in value:
            check_function(name, item, depth + 1)
    elif depth < 6 and kind == "dict":
        for item in value.values():
            check_function(name, item, depth + 1)
    return value


def _tz(name: str, value: Any) -> Any:
    """Time zones by name only as IANA names (`Europe/Paris`, `UTC`): `dateutil/<path>` would open that file."""
    if isinstance(value, str) and not _ZONE_NAME.match(value):
        fail(f"time zone {value[:40]!r} is not an IANA name such as 'UTC' or 'Europe/Paris'; use one of those")
    return value


def _engine(name: str, value: Any) -> Any:
    if value not in (None, "cython", "python"):
        fail("only engine=None, 'cython' or 'python' is allowed in evaluate")
    return value


def _bins(name: str, value: Any) -> Any:
    if type(value) is int and value > _limits.MAX_BINS:
        fail(limit_message(f"{name}={value:,}", value, _limits.MAX_BINS))
    if isinstance(value, str):  # "fd", "auto": numpy derives the count from the data, without a bound
        fail(f"{name} given by name ('{value[:20]}') is not allowed in evaluate; pass a number of bins")
    return value


def _width(name: str, value: Any) -> Any:
    if type(value) is int and value > _limits.MAX_WIDTH:
        fail(f"{name} above {_limits.MAX_WIDTH:,} is not allowed in evaluate; use a smaller width")
    if kind_of(value) in ("list", "tuple", "dict"):
        for item in value.values() if isinstance(value, dict) else value:
            _width(name, item)
    return value


def _digits(name: str, value: Any) -> Any:
    if type(value) is int and abs(value) > _limits.MAX_WIDTH:
        fail(f"rounding to more than {_limits.MAX_WIDTH:,} digits is not allowed in evaluate; use fewer {name}")
    return value


def _periods(name: str, value: Any) -> Any:
    if type(value) is not int and kind_of(value) in ("list", "tuple", "range") and len(value) > 1_000:
        fail("shift() with more than 1,000 periods at once is not allowed in evaluate; pass fewer periods")
    return value


def _short_text(name: str, value: Any) -> Any:
    if kind_of(value) in ("str", "bytes") and len(value) > _limits.MAX_FORMAT_CHARS:
        fail(f"'{name}' longer than {_limits.MAX_FORMAT_CHARS} characters is not allowed in evaluate")
    return value


def _codec(name: str, value: Any) -> Any:
    if kind_of(value) == "str" and value.lower() not in CODECS:
        fail(f"the codec {value[:30]!r} is not allowed in evaluate; use 'utf-8', 'ascii' or 'latin-1'")
    return value


def _codec_errors(name: str, value: Any) -> Any:
    if kind_of(value) == "str" and value not in CODEC_ERRORS and value not in ("coerce", "raise"):
        fail(
            f"errors={value[:30]!r} is not allowed in evaluate; use 'strict', 'replace', 'ignore', 'coerce' or 'raise'"
        )
    return value


def _kind(name: str, value: Any) -> Any:
    if value == "table":
        fail("kind='table' allocates a table as wide as the value range; leave kind out in evaluate")
    return value
