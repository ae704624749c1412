"""The interpreter: walks a checked syntax tree node by node, so every value passes a checkpoint.

Nothing is `eval`ed. Names come from the namespace through the same visibility rule the other tools
use; every value the walk receives is admitted (`Gate.admit`), every value handed to code we did not
write is crossed (`Gate.cross`), calls go through `_calls`, operators through `_operators`, builtins
are `_builtins`' guarded functions, and lambdas become guarded functions whose body this interpreter
runs, whoever calls them. Costs are kept by one `Budget`.

The methods for the expression nodes are in `_interpret_nodes`, those for calls, lambdas and
comprehensions in `_interpret_calls`; `Interpreter` combines them with the walk itself.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from typing import Any, Callable

from kimi_lab.tools.safe_eval import _limits
from kimi_lab.tools.safe_eval._budget import Budget
from kimi_lab.tools.safe_eval._builtins import make_builtins
from kimi_lab.tools.safe_eval._gate import Gate
from kimi_lab.tools.safe_eval._interpret_calls import CallsAndComprehensions
from kimi_lab.tools.safe_eval._interpret_nodes import ExpressionNodes
from kimi_lab.tools.safe_eval._kinds import ARRAYS, CONTAINERS, SCALARS, Guarded, kind_of
from kimi_lab.tools.safe_eval._messages import UnsafeExpression, syntax_message
from kimi_lab.tools.safe_eval._operators import binary
from kimi_lab.tools.safe_eval._sizes import Sizes, held_result

Scopes = tuple  # tuple[dict[str, Any], ...]: comprehension and lambda locals, innermost last
Hidden = Callable[[str, Any], "str | None"]
CALL_STEPS = 10  # what one call of a guarded function costs, on top of the steps of its body
_TRUTHY_KINDS = SCALARS | CONTAINERS | ARRAYS | {"function", "iterator"}
_ITERABLE_KINDS = CONTAINERS - {"slice"} | ARRAYS | {"str", "bytes", "GroupBy", "Resampler", "Window"}


def default_hidden(name: str, value: Any) -> str | None:
    """The tools' visibility rule (kimi_lab.tools.visibility), imported when first needed."""
    from kimi_lab.tools.visibility import hidden_reason

    return hidden_reason(name, value)


class Interpreter(ExpressionNodes, CallsAndComprehensions):
    """Computes each node itself; one instance per evaluation."""

    def __init__(self, namespace: Mapping[str, Any], hidden: Hidden | None = None) -> None:
        self.ns = namespace
        self.hidden = hidden or default_hidden
        self.budget = Budget()
        self.sizes = Sizes()
        self.gate = Gate(self.budget)
        self.gate.wrap_iterator = self._library_iterator
        self.module_functions: dict[str, Guarded] = {}
        self._visible: dict[str, Any] = {}  # names already found visible (a lambda reads them once per row)
        self.library_copies: list[list[int]] = []  # per library call running: [rows a value returned to it may
        # fill, bytes returned to it so far]
        self.builtins = make_builtins(self)
        self.dispatch: dict[type, Callable[[Any, Scopes], Any]] = {
            ast.Constant: lambda node, scopes: node.value,
            ast.Name: self._name,
            ast.Attribute: self._attribute,
            ast.Subscript: self._subscript,
            ast.Slice: self._slice,
            ast.Tuple: lambda node, scopes: self._built(tuple(self._elements(node.elts, scopes))),
            ast.List: lambda node, scopes: self._built(self._elements(node.elts, scopes)),
            ast.Set: lambda node, scopes: self._built(set(self._hashable(self._elements(node.elts, scopes)))),
            ast.Dict: self._dict,
            ast.BinOp: lambda node, scopes: binary(
                self, type(node.op), self.eval(node.left, scopes), self.eval(node.right, scopes)
            ),
            ast.UnaryOp: self._unaryop,
            ast.BoolOp: self._boolop,
            ast.Compare: self._compare,
            ast.IfExp: lambda node, scopes: self.eval(
                node.body if self.truth(self.eval(node.test, scopes)) else node.orelse, scopes
            ),
            ast.Call: self._call,
            ast.ListComp: lambda node, scopes: self._built(
                [self._placed(node.elt, s) for s in self._loop(node, scopes)]
            ),
            ast.SetComp: lambda node, scopes: self._built(
                set(self._hashable(self._placed(node.elt, s) for s in self._loop(node, scopes)))
            ),
            ast.DictComp: self._dictcomp,
            ast.GeneratorExp: lambda node, scopes: self.gate.mark(
                self._placed(node.elt, s) for s in self._loop(node, scopes)
            ),
            ast.JoinedStr: self._joinedstr,
            ast.FormattedValue: self._formatted,
        }

    # running -------------------------------------------------------------------------------------------------

    def run(self, tree: ast.Expression) -> Any:
        result = self.eval(tree.body, ())
        if self.budget.violation is not None:
            raise self.budget.violation
        return result

    def eval(self, node: ast.AST, scopes: Scopes) -> Any:
        self.budget.step()
        handler = self.dispatch.get(type(node))
        if handler is None:
            self.budget.fail(syntax_message(node))
        return handler(node, scopes)  # type: ignore[misc]

    def external(self, fn: Callable[..., Any], args: Any = (), kwargs: Mapping[str, Any] | None = None) -> Any:
        """Call code we did not write; if it swallowed one of our refusals, raise that instead of its result.

        After a refusal nothing more runs: a library that caught it and tries another way gets it again.
        """
        if self.budget.violation is not None:
            raise self.budget.violation
        try:
            result = fn(*args, **(kwargs or {}))
        except UnsafeExpression:
            raise
        except RecursionError:
            raise UnsafeExpression("the computation recursed too deeply; simplify the expression") from None
        except MemoryError:
            raise UnsafeExpression("the computation ran out of memory; work on a smaller part of the data") from None
        except Exception:
            if self.budget.violation is not None:
                raise self.budget.violation from None
            raise
        if self.budget.violation is not None:
            raise self.budget.violation
        return result

    def entering(self) -> None:
        """One of our guarded functions is called (by the expression, or by pandas once per row): after a
        refusal nothing runs any more, and each call costs steps (library code may call it millions of times)."""
        if self.budget.violation is not None:
            raise self.budget.violation
        self.budget.step(CALL_STEPS)

    def cross(self, value: Any, *, library: bool = True) -> Any:
        return self.gate.cross(value, library=library)

    def truth(self, value: Any) -> bool:
        if kind_of(value) not in _TRUTHY_KINDS:
            self.budget.fail(f"evaluate does not test the truth of a '{type(value).__name__}'; compare its attributes")
        return bool(self.external(bool, (value,)))

    def admitting(self, source: Iterator[Any]) -> Iterator[Any]:
        for item in source:
            self.budget.tick()
            yield self.gate.admit(item)

    def _charge_read(self, cells: Any) -> None:
        """Reading the cells of an Arrow buffer makes a new str of each (an object column's exist already)."""
        self.budget.charge(self.sizes.fresh(cells), "reading these Arrow-backed cells (each becomes a new str)")

    def _library_iterator(self, source: Iterator[Any]) -> Iterator[Any]:
        """Items a library makes as it goes (itertuples, items, iterrows) are new objects: each is charged,
        so collecting a million of them is refused on the way, not after they exist."""
        for item in source:
            self.budget.tick()
            self.budget.charge(held_result(item), "the items of this iterator")
            yield self.gate.admit_result(item, "an iterator's item")

    def iterate(self, value: Any) -> Iterator[Any]:
        """Items of a data value, each counted and admitted; only iterators this evaluation made are read."""
        kind = kind_of(value)
        if kind in ARRAYS:
            value = self.cross(value, library=False)  # iterating runs pandas/numpy code over the cells
            self._charge_read(value.columns if kind == "DataFrame" else value)  # a frame iterates its labels
        if kind == "iterator":
            if id(value) not in self.gate.made:
                self.gate.admit(value)  # refuses, with the reason
            return value
        if kind not in _ITERABLE_KINDS:
            self.budget.fail(f"evaluate does not iterate over a '{type(value).__name__}'")
        if kind == "range" and len(value) > _limits.MAX_ITEMS:
            self.budget.fail(f"iterating over {len(value):,} items is over evaluate's limit of {_limits.MAX_ITEMS:,}")
        return self.admitting(self.external(iter, (value,)))
