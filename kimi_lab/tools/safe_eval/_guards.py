"""The rules for arguments, by parameter name, as plain functions.

Every library call binds its arguments to the parameter names they fill (positional ones too, from the
callee's signature), and each name in `_allowlists.PARAMETER_RULES` is checked here: `inplace` and
`copy=False` would change or share the user's data, `out`/`buf`/`path`/`mode` write, `dtype` and widths
size memory, `func`/`aggfunc` strings are method names pandas looks up and calls, format strings and
regular expressions are small languages of their own. Keywords that pandas passes on to a function
(`df.apply(f, mode="w")`) are checked by the same rules. A rule returns the value to pass (a dtype
given as the builtin `str` becomes the real `str`) or raises UnsafeExpression.

The rules themselves are in `_guard_values` (plain values) and `_guard_languages` (format strings and
regular expressions); `_binding` names the arguments.
"""

from __future__ import annotations

from typing import Any, Callable

from kimi_lab.tools.safe_eval._allowlists import PARAMETER_RULES
from kimi_lab.tools.safe_eval._binding import Arguments
from kimi_lab.tools.safe_eval._guard_languages import check_format, check_pattern
from kimi_lab.tools.safe_eval._guard_values import (
    _absent,
    _bins,
    _codec,
    _codec_errors,
    _digits,
    _engine,
    _false,
    _kind,
    _not_false,
    _periods,
    _short_text,
    _tz,
    _width,
    check_dtype,
    check_function,
)
from kimi_lab.tools.safe_eval._kinds import kind_of
from kimi_lab.tools.safe_eval._messages import fail

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
