"""The rules for arguments, by parameter name, as plain functions.

Every library call binds its arguments to the parameter names they fill (positional ones too, from the
callee's signature), and each name in `_allowlists.PARAMETER_RULES` is checked here: `inplace` and
`copy=False` would change or share the user's data, `out`/`buf`/`path`/`mode` write, `dtype` and widths
size memory, `func`/`aggfunc` strings are method names pandas looks up and calls, format strings and
regular expressions are small languages of their own. Keywords that pandas passes on to a function
(`df.apply(f, mode="w")`) are checked by the same rules. A rule returns the value to pass (a dtype
given as the builtin `str` becomes the real `str`) or raises UnsafeExpression.
"""

from __future__ import annotations

import inspect
import re
import string
import sys
import types
from typing import Any, Callable

from kimi_lab.tools.safe_eval import _limits
from kimi_lab.tools.safe_eval._allowlists import AGG_NAMES, CODEC_ERRORS, CODECS, PARAMETER_RULES
from kimi_lab.tools.safe_eval._kinds import Guarded, kind_of
from kimi_lab.tools.safe_eval._messages import UnsafeExpression, limit_message

try:  # the regular-expression parser the re module itself uses
    import re._parser as _sre_parse  # type: ignore[import-not-found]
except ImportError:  # Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?")
_FORMATTER = string.Formatter()
_DTYPE_TEXT = re.compile(r"^[<>|=]?[A-Za-z][A-Za-z0-9_]{0,20}(\[[A-Za-z0-9_, :/+-]{1,40}\])?$")
_NO_SIGNATURE = object()
_signatures: dict[tuple[Any, ...], tuple[Any, Any]] = {}


def fail(message: str) -> Any:
    raise UnsafeExpression(message)


# ------------------------------------------------------------------------------------------------ binding


def signature_of(function: Any) -> Any:
    """The callee's signature (cached), or None when it has none (some C methods).

    Cached by what stays the same from call to call: a Python method by its function, a C method by its
    class and name. Never by the bound method itself, which would keep its receiver (the user's data)
    alive for as long as the kernel runs.
    """
    target = getattr(function, "__func__", None)
    owner = getattr(function, "__self__", None)
    if target is not None:
        key: tuple[Any, ...] = ("function", id(target))
        keep = target
    elif owner is not None and not isinstance(owner, (type, types.ModuleType)):
        keep = type(owner)
        key = ("method", id(keep), str(getattr(function, "__name__", "")))
    else:
        key, keep = ("callable", id(function)), function
    hit = _signatures.get(key)
    if hit is not None and hit[0] is keep:
        return None if hit[1] is _NO_SIGNATURE else hit[1]
    try:
        signature: Any = inspect.signature(function)
    except (TypeError, ValueError):
        signature = _NO_SIGNATURE
    if len(_signatures) > 4096:
        _signatures.clear()
    _signatures[key] = (keep, signature)
    return None if signature is _NO_SIGNATURE else signature


class Arguments:
    """One call's arguments, bound to the callee's parameter names where it has a signature.

    Without a signature only keywords are named; such callees are C methods of str, bytes and the
    datetime types, whose positional parameters the estimators read by position.
    """

    def __init__(self, function: Any, args: list[Any], kwargs: dict[str, Any]) -> None:
        signature = signature_of(function)
        self._bound: Any = None
        self._args, self._kwargs = list(args), dict(kwargs)
        self._var_keyword: str | None = None
        self._var_positional: str | None = None
        if signature is not None:
            try:
                self._bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(str(exc)) from None
            for name, parameter in signature.parameters.items():
                if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                    self._var_keyword = name
                elif parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                    self._var_positional = name

    @property
    def has_signature(self) -> bool:
        return self._bound is not None

    def named(self) -> dict[str, Any]:
        """Explicitly passed parameters by name (positional ones included), then keywords for **kwargs."""
        if self._bound is None:
            return dict(self._kwargs)
        out: dict[str, Any] = {}
        for name, value in self._bound.arguments.items():
            if name == self._var_keyword:
                out.update(value)
            elif name != self._var_positional:
                out[name] = value
        return out

    def passed_on(self) -> dict[str, Any]:
        """The keywords collected by **kwargs (pandas hands them to the function it calls)."""
        if self._bound is None or self._var_keyword is None:
            return {}
        return dict(self._bound.arguments.get(self._var_keyword, {}))

    def replace(self, name: str, value: Any) -> None:
        if self._bound is None:
            self._kwargs[name] = value
        elif name in self._bound.arguments and name != self._var_keyword:
            self._bound.arguments[name] = value
        else:
            self._bound.arguments[self._var_keyword][name] = value

    def call(self) -> tuple[list[Any], dict[str, Any]]:
        if self._bound is None:
            return self._args, self._kwargs
        return list(self._bound.args), dict(self._bound.kwargs)


# ------------------------------------------------------------------------------------------------ the rules


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


def check_format(name: str, value: Any, depth: int = 0) -> Any:
    """Format strings (str.format and % styles) may not reach attributes or items, nor ask for huge widths."""
    kind = kind_of(value)
    if kind == "function" or value is None:
        return value
    if kind in ("list", "tuple", "dict") and depth < 3:
        for item in value.values() if kind == "dict" else value:
            check_format(name, item, depth + 1)
        return value
    if kind != "str":
        fail(f"'{name}' must be a format string or a lambda in evaluate")
    if len(value) > _limits.MAX_FORMAT_CHARS:
        fail(f"format strings longer than {_limits.MAX_FORMAT_CHARS} characters are not allowed in evaluate")
    try:
        fields = list(_FORMATTER.parse(value))
    except ValueError:
        fields = []
    for _, field, spec, _ in fields:
        if field is not None and field and not field.isdigit():
            fail(
                f"format fields such as {{{field[:30]}}} that name attributes or items are not allowed in evaluate; "
                "use positional fields such as '{:.2f}'"
            )
        check_spec(spec or "")
    for width, precision in _PERCENT_FIELD.findall(value):
        for part in (width, precision):
            if part == "*" or (part.isdigit() and int(part) > _limits.MAX_WIDTH):
                fail(f"%-format widths must be literal numbers up to {_limits.MAX_WIDTH:,} in evaluate")
    if any(int(n) > _limits.MAX_WIDTH for n in re.findall(r"\d+", value)):
        fail(f"widths above {_limits.MAX_WIDTH:,} in a format string are not allowed in evaluate; use a smaller number")
    return value


def check_spec(spec: str) -> str:
    """A format spec (after the colon): no nested fields, widths and precisions up to MAX_WIDTH."""
    if "{" in spec:
        fail("nested format fields are not allowed in evaluate; write the width as a number")
    if any(int(n) > _limits.MAX_WIDTH for n in re.findall(r"\d+", spec)):
        fail(f"format widths and precisions above {_limits.MAX_WIDTH:,} are not allowed in evaluate")
    return spec


def check_pattern(name: str, value: Any, depth: int = 0) -> Any:
    """Regular expressions whose matching time stays polynomial: no repeat inside a repeat, no alternation
    inside a repeat, no back-references (each can make Python's backtracking matcher take exponential time),
    and no two unbounded repeats in a row over characters both could match (`a*a*b` is polynomial of high
    degree). Patterns in lists and dicts (`replace({'(a+)+b': 'x'}, regex=True)`) are checked too."""
    kind = kind_of(value)
    if kind in ("list", "tuple") and depth < 3:
        for item in value:
            check_pattern(name, item, depth + 1)
        return value
    if kind == "dict" and depth < 3:
        for key, item in value.items():
            check_pattern(name, key, depth + 1)
            check_pattern(name, item, depth + 1)
        return value
    if kind != "str":
        return value
    if len(value) > _limits.MAX_PATTERN_CHARS:
        fail(f"patterns longer than {_limits.MAX_PATTERN_CHARS} characters are not allowed in evaluate")
    try:
        parsed = _sre_parse.parse(value)
    except Exception:
        return value  # not a regular expression: a literal, or the library reports the error
    _check_regex(list(parsed), inside_repeat=False)
    _check_sequences(list(parsed))
    return value


_REPEATS = {"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"}


def _check_regex(items: list[Any], inside_repeat: bool) -> None:
    for op, arg in items:
        name = str(op)
        if name in ("GROUPREF", "GROUPREF_EXISTS"):
            fail("back-references in patterns are not allowed in evaluate; match the text without \\1 or (?P=name)")
        if name in _REPEATS:
            _low, high, body = arg
            if inside_repeat and high > 1:
                fail(
                    "nested repeats such as (a+)+ are not allowed in evaluate (they can take exponential time); use "
                    "one repeat such as a+"
                )
            _check_regex(list(body), inside_repeat or high > 1)
        elif name == "BRANCH":
            if inside_repeat:
                fail(
                    "alternation inside a repeat such as (a|b)+ is not allowed in evaluate; use a character class "
                    "such as [ab]+"
                )
            for branch in arg[1]:
                _check_regex(list(branch), inside_repeat)
        elif name == "SUBPATTERN":
            _check_regex(list(arg[-1]), inside_repeat)
        elif name in ("ASSERT", "ASSERT_NOT"):
            _check_regex(list(arg[1]), inside_repeat)
        elif name == "ATOMIC_GROUP":
            _check_regex(list(arg), inside_repeat)


def _check_sequences(items: list[Any]) -> None:
    r"""Adjacent unbounded repeats whose characters overlap (a*a*, .*\d*): each extra one multiplies the
    positions a failing match retries."""
    previous: set[str] | None = None
    for op, arg in items:
        name = str(op)
        if name in _REPEATS:
            _low, high, body = arg
            chars = _first_chars(list(body))
            if high > 1000 and previous is not None and (previous & chars or "ANY" in previous | chars):
                fail(
                    "two unbounded repeats in a row that can match the same characters (such as a*a* or .*\\d*) "
                    "are not allowed in evaluate; merge them into one repeat"
                )
            previous = chars if high > 1000 else None
            _check_sequences(list(body))
        else:
            previous = None
            if name == "SUBPATTERN":
                _check_sequences(list(arg[-1]))
            elif name == "BRANCH":
                for branch in arg[1]:
                    _check_sequences(list(branch))


def _first_chars(items: list[Any]) -> set[str]:
    """A rough set of what a repeated item matches: its literal characters, its classes, or ANY."""
    chars: set[str] = set()
    for op, arg in items[:1]:
        name = str(op)
        if name == "LITERAL":
            chars.add(chr(arg))
        elif name == "IN":
            for sub_op, sub_arg in arg:
                if str(sub_op) == "LITERAL":
                    chars.add(chr(sub_arg))
                else:
                    chars.add("ANY")  # ranges, categories, negations: assume they overlap
        elif name == "SUBPATTERN":
            chars |= _first_chars(list(arg[-1]))
        else:
            chars.add("ANY")
    return chars


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


RULES: dict[str, Callable[[str, Any], Any]] = {
    "false": _false,
    "not_false": _not_false,
    "absent": _absent,
    "dtype": check_dtype,
    "function": check_function,
    "format": check_format,
    "engine": _engine,
    "bins": _bins,
    "width": _width,
    "digits": _digits,
    "pattern": check_pattern,
    "periods": _periods,
    "short_text": _short_text,
    "codec": _codec,
    "codec_errors": _codec_errors,
    "kind": _kind,
    "tz": _tz,
}
_EXTRA_RULES = {"encoding": "codec", "kind": "kind", "tz": "tz", "tzinfo": "tz", "regex": "pattern"}
_ZONE_NAME = re.compile(r"^(UTC|GMT|[A-Z][A-Za-z_]+(/[A-Za-z0-9_+\-]+){0,2}|[+-]\d{2}:?\d{2})$")


def check_parameters(arguments: Arguments, method: str) -> set[int]:
    """Apply the rule of every parameter name a call fills; values a rule converts are replaced.

    Returns the ids of the values a rule produced (a builtin type standing for a dtype): they are
    vouched for, and pass to the library as they are.
    """
    vouched: set[int] = set()
    for name, value in arguments.named().items():
        if name.startswith("_"):
            fail(
                f"names and attributes starting with '_' (here '{name}') are not allowed in evaluate; use public "
                "keyword arguments"
            )
        rule = PARAMETER_RULES.get(name) or _EXTRA_RULES.get(name)
        if rule is not None:
            checked = RULES[rule](name, value)
            if checked is not value:
                arguments.replace(name, checked)
                vouched.add(id(checked))
    if method in ("agg", "aggregate"):  # named aggregation: total=("units", "sum")
        for value in arguments.passed_on().values():
            if kind_of(value) == "tuple" and len(value) == 2:
                check_function("func", value[1])
            else:
                check_function("func", value)
    return vouched
