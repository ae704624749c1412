"""Why an expression is refused: the error type and its one-sentence messages.

Every message names what was refused and says what to use instead, in one sentence, because the model
reads it and tries again.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from kimi_lab.tools.safe_eval._allowlists import FORBIDDEN_NAMES, REFUSED_METHODS


class UnsafeExpression(ValueError):
    """Raised instead of evaluating; the message is one sentence for the model that says what to use instead."""


def fail(message: str) -> Any:
    raise UnsafeExpression(message)


EXAMPLES = "such as sum, mean, groupby, describe"


def method_message(name: str, receiver: str | None = None) -> str:
    if name == "query":
        return (
            "calls to 'query' are not allowed in evaluate (it is an expression engine); use boolean indexing "
            "such as df[df['units'] > 5] instead"
        )
    if name in ("format", "format_map"):
        return (
            f"calls to '{name}' are not allowed in evaluate (format fields can reach private attributes); use an "
            f'f-string such as f"{{x:.2f}}" instead'
        )
    if name in REFUSED_METHODS:
        return (
            f"calls to '{name}' are not allowed in evaluate ({REFUSED_METHODS[name]}); use only read-only "
            f"methods {EXAMPLES}"
        )
    on = f" for a {receiver}" if receiver else ""
    return (
        f"'{name}' is not on evaluate's allow-list of read-only methods{on}; use methods {EXAMPLES}, value_counts or "
        "head"
    )


def name_message(name: str) -> str:
    if name in FORBIDDEN_NAMES:
        return (
            f"'{name}' is not allowed in evaluate ({FORBIDDEN_NAMES[name]}); write the computation as a plain "
            "expression over notebook variables"
        )
    return (
        f"'{name}' is neither a notebook variable nor an allowed builtin; use the notebook's variable names "
        "and builtins such as len, sum, sorted or round"
    )


def underscore_message(name: str) -> str:
    return (
        f"names and attributes starting with '_' (here '{name}') are not allowed in evaluate; use public "
        "attributes such as df.columns or df.dtypes"
    )


def secret_message(name: str) -> str:
    return (
        f"'{name}' looks like a secret (API key, token, password, credential), so evaluate does not read it; "
        "ask the user instead"
    )


def user_function_message(name: str) -> str:
    return (
        f"calling the notebook function '{name}' is not allowed in evaluate (the user registers functions as separate "
        "tools); use builtins such as len or sum and methods such as df.sum() instead"
    )


def module_message(module: str, attr: str | None = None) -> str:
    if attr is None:
        return (
            f"the module '{module}' can only be used to call its allowed functions, such as np.mean(x) or "
            "math.sqrt(x); it is not a value"
        )
    return (
        f"'{module}.{attr}' is not on evaluate's allow-list of pure module functions; use read-only functions "
        "such as np.mean, pd.concat or math.sqrt"
    )


def limit_message(what: str, amount: int, limit: int) -> str:
    return (
        f"{what} would need {amount:,} items, over evaluate's limit of {limit:,}; use a smaller size or a "
        "vectorised pandas/numpy method"
    )


def human_bytes(amount: int) -> str:
    size = float(amount)
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1000
    return f"{amount:,} bytes"


def memory_message(what: str, amount: int, limit: int) -> str:
    return (
        f"{what} would need {human_bytes(amount)} of memory, over what evaluate may still use "
        f"({human_bytes(limit)}); work on a smaller part of the data (head() or a filter) or aggregate first"
    )


def kind_message(value_type: str, what: str = "use") -> str:
    return (
        f"evaluate cannot {what} a value of type '{value_type}' (only data: numbers, text, containers, numpy and "
        "pandas objects); read its plain attributes or call describe_variable on it"
    )


def one_phrase(text: str) -> str:
    """The first clause of a parser message, so ours stays one sentence."""
    return re.split(r"\.\s|\?\s|\.$", text.strip(), maxsplit=1)[0]


def syntax_message(node: ast.AST) -> str:
    if isinstance(node, ast.NamedExpr):
        return "assignment expressions (:=) are not allowed in evaluate; compute the value inline instead"
    if isinstance(node, ast.Lambda):
        return "a lambda is only allowed as an argument of a call, such as df.apply(lambda r: r.a + r.b, axis=1)"
    if isinstance(node, (ast.Await, ast.Yield, ast.YieldFrom)):
        return "await and yield are not allowed in evaluate; write a plain expression"
    return (
        f"{type(node).__name__} syntax is not allowed in evaluate; write one read-only expression such as df['a'].sum()"
    )
