"""The parameter rules for the small languages of their own: format strings (str.format and % styles),
format specs (also of f-strings) and regular expressions.

Format fields may not reach attributes or items and widths are bounded; patterns may not nest repeats,
repeat alternations, use back-references or put overlapping unbounded repeats in a row (each can make
Python's backtracking matcher take exponential or high-polynomial time).
"""

from __future__ import annotations

import re
import string
from typing import Any

from kimi_lab.tools.safe_eval import _limits
from kimi_lab.tools.safe_eval._kinds import kind_of
from kimi_lab.tools.safe_eval._messages import fail

try:  # the regular-expression parser the re module itself uses
    import re._parser as _sre_parse  # type: ignore[import-not-found]
except ImportError:  # Python 3.10
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_PERCENT_FIELD = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d*))?")
_FORMATTER = string.Formatter()


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
