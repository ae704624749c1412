"""Evaluate one model-written expression over the notebook's variables without letting it act.

The expression comes from the model and may carry a prompt injection (docs/security.md has the threat
model). Nothing is `eval`ed: `check` accepts an allow-listed subset of Python on the syntax tree, and
the interpreter walks that tree itself. What it enforces, and where:

- `_kinds`: every value has a kind by its exact class; only known kinds of data are ever used.
- `_gate`: values entering the evaluation are admitted (arrays read-only, secret dict keys dropped,
  stored iterators and groupbys refused), and values handed to code we did not write are checked
  all the way down; the only callables that ever cross are our own guarded functions.
- `_allowlists`: methods and attributes per kind, module functions, parameter rules, in one file.
- `_guards`: the parameter rules (inplace, copy, out, dtype, function names, formats, patterns, ...),
  applied by name to arguments bound in `_binding`; the rules are in `_guard_values` and `_guard_languages`.
- `_sizes` and `_budget`: bytes, steps and iterations; results that can outgrow their inputs are priced
  before they are built (`_estimate_text`, `_estimate_arrays`, `_estimate_frames`, `_estimate_reshapes`).
- `_interpreter`: the walk over the tree (`_interpret_nodes` for expression nodes, `_interpret_calls` for
  calls, lambdas and comprehensions).

pandas and numpy are never imported here: values are recognised by their classes.
"""

from __future__ import annotations

import decimal
import sys
import types
import warnings
from collections.abc import Mapping
from typing import Any

from kimi_lab.tools.safe_eval import _limits
from kimi_lab.tools.safe_eval._allowlists import ALLOWED_BUILTINS, METHODS, MODULE_CONSTANTS, MODULE_FUNCTIONS
from kimi_lab.tools.safe_eval._check import check
from kimi_lab.tools.safe_eval._interpreter import Hidden, Interpreter
from kimi_lab.tools.safe_eval._kinds import kind_of
from kimi_lab.tools.safe_eval._limits import MAX_BIG_INTS as MAX_BIG_INTS
from kimi_lab.tools.safe_eval._limits import MAX_BINS as MAX_BINS
from kimi_lab.tools.safe_eval._limits import MAX_BYTES as MAX_BYTES
from kimi_lab.tools.safe_eval._limits import MAX_DEPTH as MAX_DEPTH
from kimi_lab.tools.safe_eval._limits import MAX_DTYPE_SIZE as MAX_DTYPE_SIZE
from kimi_lab.tools.safe_eval._limits import MAX_EXPONENT as MAX_EXPONENT
from kimi_lab.tools.safe_eval._limits import MAX_EXPRESSION_CHARS as MAX_EXPRESSION_CHARS
from kimi_lab.tools.safe_eval._limits import MAX_INT_BITS as MAX_INT_BITS
from kimi_lab.tools.safe_eval._limits import MAX_ITEMS as MAX_ITEMS
from kimi_lab.tools.safe_eval._limits import MAX_MODPOW_WORK as MAX_MODPOW_WORK
from kimi_lab.tools.safe_eval._limits import MAX_PAIRS as MAX_PAIRS
from kimi_lab.tools.safe_eval._limits import MAX_SECONDS as MAX_SECONDS
from kimi_lab.tools.safe_eval._limits import MAX_SHIFT as MAX_SHIFT
from kimi_lab.tools.safe_eval._limits import MAX_SORT_WORK as MAX_SORT_WORK
from kimi_lab.tools.safe_eval._limits import MAX_STEPS as MAX_STEPS
from kimi_lab.tools.safe_eval._limits import MAX_WIDTH as MAX_WIDTH
from kimi_lab.tools.safe_eval._messages import UnsafeExpression
from kimi_lab.tools.safe_eval._render import render

__all__ = [
    "ALLOWED_BUILTINS",
    "ALLOWED_METHODS",
    "METHODS",
    "MODULE_CONSTANTS",
    "MODULE_FUNCTIONS",
    "UnsafeExpression",
    "check",
    "evaluate_text",
    "safe_eval",
]

ALLOWED_METHODS = frozenset(name for table in METHODS.values() for name in table)  # on some kind of value
UnsafeExpression.__module__ = __name__  # shown (and pickled) under its public path


def safe_eval(expression: str, namespace: Mapping[str, Any], hidden: Hidden | None = None) -> Any:
    """Evaluate one read-only expression over `namespace` and return its value.

    `hidden(name, value)` says why a variable is not for the tools (default: kimi_lab.tools.visibility).
    Raises UnsafeExpression (a ValueError with a one-sentence message for the model) for anything outside
    the allow-list or over a budget; errors raised by the evaluated code itself (KeyError, TypeError, ...)
    propagate unchanged so the model sees what went wrong.
    """
    tree = check(expression, namespace)
    interpreter = Interpreter(namespace, hidden)
    try:
        with decimal.localcontext():  # Decimal arithmetic sets flags on the context: not on the user's
            value = interpreter.run(tree)
        if kind_of(value) == "function":
            raise UnsafeExpression("the expression's value is a function; call it, such as np.sqrt(x), to get a value")
        return interpreter.cross(value)  # the value leaves: data all the way down, iterators as lists
    except RecursionError:
        raise UnsafeExpression("the expression recursed too deeply; simplify it") from None


def evaluate_text(expression: str, namespace: Mapping[str, Any], limit: int = 16_000,
                  hidden: Hidden | None = None) -> str:
    """The text the model reads: the value rendered within `limit` characters, and any library warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = safe_eval(expression, namespace, hidden)
        text = "(no value)" if value is None else render(value, limit)
    notes = sorted({f"{w.category.__name__}: {str(w.message)[:200]}" for w in caught})[:3]
    return text + "".join(f"\n(warning: {note})" for note in notes)


class _Package(types.ModuleType):
    """Setting a limit here (`monkeypatch.setattr(safe_eval, "MAX_ITEMS", 1_000)`) also sets it in `_limits`,
    where every guard reads it, so the package stays the one place to tune them."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("MAX_") and hasattr(_limits, name):
            setattr(_limits, name, value)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
