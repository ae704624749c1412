"""The interpreter: walks a checked syntax tree node by node, so every value passes a checkpoint.

Nothing is `eval`ed. Names come from the namespace through the same visibility rule the other tools
use; every value the walk receives is admitted (`Gate.admit`), every value handed to code we did not
write is crossed (`Gate.cross`), calls go through `_calls`, operators through `_operators`, builtins
are `_builtins`' guarded functions, and lambdas become guarded functions whose body this interpreter
runs, whoever calls them. Costs are kept by one `Budget`.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import operator
import sys
import types
from collections.abc import Iterator, Mapping
from typing import Any, Callable

from kimi_lab.common.secrets import looks_secret
from kimi_lab.tools.safe_eval import _limits
from kimi_lab.tools.safe_eval._allowlists import BUILTIN_TYPES, MODULE_CONSTANTS, MODULE_FUNCTIONS
from kimi_lab.tools.safe_eval._budget import Budget
from kimi_lab.tools.safe_eval._builtins import make_builtins
from kimi_lab.tools.safe_eval._calls import call_method, call_module, read_attribute
from kimi_lab.tools.safe_eval._check import check_attr
from kimi_lab.tools.safe_eval._gate import Gate
from kimi_lab.tools.safe_eval._guards import check_spec
from kimi_lab.tools.safe_eval._kinds import ARRAYS, CONTAINERS, SCALARS, Guarded, kind_of
from kimi_lab.tools.safe_eval._messages import (
    UnsafeExpression,
    name_message,
    secret_message,
    syntax_message,
    underscore_message,
    user_function_message,
)
from kimi_lab.tools.safe_eval._operators import PLAIN_NUMBERS, binary, compare, unary
from kimi_lab.tools.safe_eval._sizes import Sizes, held, held_result

Scopes = tuple  # tuple[dict[str, Any], ...]: comprehension and lambda locals, innermost last
Hidden = Callable[[str, Any], "str | None"]
CALL_STEPS = 10  # what one call of a guarded function costs, on top of the steps of its body
_TRUTHY_KINDS = SCALARS | CONTAINERS | ARRAYS | {"function", "iterator"}
_ITERABLE_KINDS = CONTAINERS - {"slice"} | ARRAYS | {"str", "bytes", "GroupBy", "Resampler", "Window"}


def default_hidden(name: str, value: Any) -> str | None:
    """The tools' visibility rule (kimi_lab.tools.visibility), imported when first needed."""
    from kimi_lab.tools.visibility import hidden_reason

    return hidden_reason(name, value)


class Interpreter:
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
        if kind == "iterator":
            if id(value) not in self.gate.made:
                self.gate.admit(value)  # refuses, with the reason
            return value
        if kind not in _ITERABLE_KINDS:
            self.budget.fail(f"evaluate does not iterate over a '{type(value).__name__}'")
        if kind == "range" and len(value) > _limits.MAX_ITEMS:
            self.budget.fail(f"iterating over {len(value):,} items is over evaluate's limit of {_limits.MAX_ITEMS:,}")
        return self.admitting(self.external(iter, (value,)))

    # names and attributes ------------------------------------------------------------------------------------

    def _lookup(self, name: str, scopes: Scopes) -> Any:
        for scope in reversed(scopes):
            if name in scope:
                return scope[name]
        if name.startswith("_"):
            self.budget.fail(underscore_message(name))
        if name in self.ns:
            value = self.ns[name]
            seen = self._visible.get(name)
            reason = None if seen is not None and seen is value else self.hidden(name, value)
            if reason is None:
                self._visible[name] = value
            else:
                if looks_secret(name):
                    self.budget.fail(secret_message(name))
                self.budget.fail(
                    f"'{name}' is hidden from the tools ({reason}); use the variables list_variables shows"
                )
            return self.gate.admit(value, name)
        if name in self.builtins:
            return self.builtins[name]
        self.budget.fail(name_message(name))

    def _name(self, node: ast.Name, scopes: Scopes) -> Any:
        return self._lookup(node.id, scopes)

    def _module(self, node: ast.AST, scopes: Scopes) -> types.ModuleType | None:
        """The module a dotted name starts from (np in np.mean), if it is one evaluate allows."""
        if not isinstance(node, ast.Name) or any(node.id in scope for scope in scopes):
            return None
        value = self.ns.get(node.id) if not node.id.startswith("_") else None
        if not isinstance(value, types.ModuleType):
            return None
        name = getattr(value, "__name__", "")
        real = sys.modules.get(name)
        if real is not value or (name not in MODULE_FUNCTIONS and name not in MODULE_CONSTANTS):
            self.budget.fail(
                f"the module '{node.id}' is not one evaluate uses; use numpy, pandas, math or statistics functions"
            )
        return value

    def _attribute(self, node: ast.Attribute, scopes: Scopes) -> Any:
        check_attr(node.attr)
        module = self._module(node.value, scopes)
        owner = module if module is not None else self.eval(node.value, scopes)
        return read_attribute(self, owner, node.attr)

    def _subscript(self, node: ast.Subscript, scopes: Scopes) -> Any:
        owner = self.eval(node.value, scopes)
        key = self.cross(self.eval(node.slice, scopes))  # a callable key (df.loc[f]) is called by pandas
        kind = kind_of(owner)
        if kind not in SCALARS | CONTAINERS | ARRAYS | {"Indexer", "GroupBy", "StringMethods"}:
            self.budget.fail(f"evaluate does not index a '{type(owner).__name__}'; read its attributes instead")
        if kind in ("dict", "counter", "Series", "DataFrame", "Indexer", "GroupBy"):
            for part in key if kind_of(key) in ("tuple", "list") else (key,):  # df.loc[:, "password"] too
                if type(part) in (str, bytes) and looks_secret(part if type(part) is str else part.decode("latin-1")):
                    self.budget.fail(secret_message(str(part)))
        owner = self._indexed(owner, kind)
        if kind in ARRAYS | {"Indexer", "GroupBy"}:
            self._key_peak(key)
        parent = self.gate.parents.get(id(owner))
        estimate = self._fancy(parent if kind == "Indexer" else owner, key, owner if kind == "Indexer" else None)
        if estimate:
            self.budget.charge(estimate, "this selection")
        result = self.gate.admit_result(self.external(operator.getitem, (owner, key)), "this item", parent=parent)
        if not estimate:
            self._charge_selection(result, key)
        return result

    def _key_peak(self, key: Any) -> None:
        """A missing label's KeyError prints the whole key (a list of long strings, each in full)."""
        if kind_of(key) in CONTAINERS:
            self.budget.peak(4 * self.sizes.expanded(key), "this selection's key")

    def _indexed(self, owner: Any, kind: str) -> Any:
        """The owner of a subscript, checked first: label lookups hash and compare its labels and cells
        (indexing a list, tuple, str or range runs no element code)."""
        return owner if kind in ("list", "tuple", "str", "bytes", "range", "deque") else self.cross(owner)

    def _charge_selection(self, result: Any, key: Any) -> None:
        """A slice is a new object (text[i:] copies the text); an item is not."""
        if kind_of(result) in ARRAYS or kind_of(key) == "slice":
            self.budget.charge(held(result), "this selection")

    def _fancy(self, target: Any, key: Any, indexer: Any = None) -> int:
        """Selecting with a list of positions or labels can repeat rows: price it by the rows it selects (a
        label that the index holds many times selects each of them, for every time the key names it)."""
        if kind_of(target) not in ARRAYS:
            return 0
        keys = key if kind_of(key) == "tuple" else (key,)
        by_label = type(indexer).__name__ in ("_LocIndexer", "_AtIndexer") or (
            indexer is None and kind_of(target) in ("Series", "DataFrame")
        )
        axes = [target.columns] if indexer is None and kind_of(target) == "DataFrame" else list(
            getattr(target, "axes", ()))
        rows = len(target) if len(getattr(target, "shape", (1,))) else 1
        factor = 1.0
        for position, part in enumerate(keys):
            if kind_of(part) not in ("list", "ndarray", "Series", "Index") or position >= max(len(axes), 1):
                continue
            labels = axes[position] if axes else None
            selected = _selected(part, labels if by_label else None)
            factor *= selected / max(len(labels) if labels is not None else rows, 1)
        if factor <= 1:
            return 0
        return int(factor * (held(target) + self.sizes.text(target)))

    def _slice(self, node: ast.Slice, scopes: Scopes) -> slice:
        parts = [None if part is None else self.eval(part, scopes) for part in (node.lower, node.upper, node.step)]
        return slice(*(self.cross(p, library=False) for p in parts))

    # containers ----------------------------------------------------------------------------------------------

    def _elements(self, elements: list[ast.expr], scopes: Scopes) -> list[Any]:
        values: list[Any] = []
        for element in elements:
            if isinstance(element, ast.Starred):
                values.extend(self.iterate(self.eval(element.value, scopes)))
            else:
                values.append(self.eval(element, scopes))
        return values

    def _hashable(self, items: Any) -> Iterator[Any]:
        """Set elements and dict keys are hashed and compared by their own code: data only (and not
        thousands of ints built to collide)."""
        for item in items:
            if type(item) is int:
                self.gate.colliding_ints((item,))
            yield self.cross(item, library=False)

    def _built(self, value: Any) -> Any:
        self.budget.charge(held(value), "the values collected by this expression")
        return value

    def _dict(self, node: ast.Dict, scopes: Scopes) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            if key_node is None:
                mapping = self.eval(value_node, scopes)
                if kind_of(mapping) not in ("dict", "counter"):
                    raise TypeError(f"'{type(mapping).__name__}' object is not a mapping")
                for key, item in self.iterate(mapping.items()):  # no mapping[key]: that hashes the key first
                    result[self.cross(key, library=False)] = item
                continue
            key = self.cross(self.eval(key_node, scopes), library=False)
            result[key] = self.eval(value_node, scopes)
        return self._built(result)

    # operators -----------------------------------------------------------------------------------------------

    def _unaryop(self, node: ast.UnaryOp, scopes: Scopes) -> Any:
        operand = self.eval(node.operand, scopes)
        if isinstance(node.op, ast.Not):
            return not self.truth(operand)
        return unary(self, type(node.op), operand)

    def _boolop(self, node: ast.BoolOp, scopes: Scopes) -> Any:
        value: Any = None
        for value_node in node.values:
            value = self.eval(value_node, scopes)
            if self.truth(value) == isinstance(node.op, ast.Or):
                return value
        return value

    def _compare(self, node: ast.Compare, scopes: Scopes) -> Any:
        left = self.eval(node.left, scopes)
        result: Any = None
        for index, (op, comparator) in enumerate(zip(node.ops, node.comparators, strict=True)):
            right = self.eval(comparator, scopes)
            result = compare(self, type(op), left, right)
            if index < len(node.ops) - 1 and not self.truth(result):
                return result
            left = right
        return result

    def _joinedstr(self, node: ast.JoinedStr, scopes: Scopes) -> str:
        parts = [part.value if isinstance(part, ast.Constant) else self.eval(part, scopes) for part in node.values]
        text = "".join(parts)
        self.budget.charge(len(text) * 4, "this f-string")
        return text

    def _formatted(self, node: ast.FormattedValue, scopes: Scopes) -> str:
        value = self.cross(self.eval(node.value, scopes), library=False)
        spec = "" if node.format_spec is None else self.eval(node.format_spec, scopes)
        check_spec(spec)
        self.budget.charge(self.sizes.rendered(value), "this f-string")
        if node.conversion != -1:
            value = self.external({115: str, 114: repr, 97: ascii}[node.conversion], (value,))
        return self.external(format, (value, spec))

    # calls and lambdas ---------------------------------------------------------------------------------------

    def _call(self, node: ast.Call, scopes: Scopes) -> Any:
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
            if any(name in scope for scope in scopes) or name in self.ns:
                self.budget.fail(user_function_message(name))
            if name not in self.builtins:
                self.budget.fail(name_message(name))
            args, kwargs = self._arguments(node, scopes)
            return self.builtins[name](*args, **kwargs)
        if not isinstance(func, ast.Attribute):
            self.budget.fail("only builtins and methods written as x.method(...) can be called in evaluate")
        name = func.attr  # type: ignore[union-attr]
        check_attr(name)
        base = func.value  # type: ignore[union-attr]
        module = self._module(base, scopes)
        if module is not None:
            args, kwargs = self._arguments(node, scopes)
            return call_module(self, module, name, args, kwargs)
        if isinstance(base, ast.Name) and base.id in BUILTIN_TYPES and base.id not in self.ns and not any(
            base.id in scope for scope in scopes
        ):  # str.upper(x): the method of x, when x is a str
            args, kwargs = self._arguments(node, scopes)
            target = self.builtins[base.id].target
            if not args or type(args[0]) is not target:
                raise TypeError(f"descriptor '{name}' for '{base.id}' objects needs a '{base.id}' argument")
            return call_method(self, args[0], name, args[1:], kwargs)
        owner = self.eval(base, scopes)
        args, kwargs = self._arguments(node, scopes)
        return call_method(self, owner, name, args, kwargs)

    def _arguments(self, node: ast.Call, scopes: Scopes) -> tuple[list[Any], dict[str, Any]]:
        args: list[Any] = []
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                args.extend(self.iterate(self.eval(argument.value, scopes)))
            elif isinstance(argument, ast.Lambda):
                args.append(self._lambda(argument, scopes))
            else:
                args.append(self.eval(argument, scopes))
        kwargs: dict[str, Any] = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                mapping = self.eval(keyword.value, scopes)
                if kind_of(mapping) not in ("dict", "counter"):
                    raise TypeError(f"argument after ** must be a mapping, not {type(mapping).__name__}")
                for key in self.iterate(mapping.keys()):
                    if type(key) is not str:
                        raise TypeError("keywords must be strings")
                    if key in kwargs:
                        raise TypeError(f"got multiple values for keyword argument '{key}'")
                    kwargs[key] = self.gate.admit(mapping[key])
            elif isinstance(keyword.value, ast.Lambda):
                kwargs[keyword.arg] = self._lambda(keyword.value, scopes)
            else:
                kwargs[keyword.arg] = self.eval(keyword.value, scopes)
        for key in kwargs:
            if key.startswith("_"):
                self.budget.fail(underscore_message(key))
        return args, kwargs

    def _lambda(self, node: ast.Lambda, scopes: Scopes) -> Guarded:
        """A guarded function (pandas needs a real callable) whose body this interpreter runs on every call."""
        arguments = node.args
        defaults = [self.eval(d, scopes) for d in arguments.defaults]
        empty = inspect.Parameter.empty
        kw_defaults = [empty if d is None else self.eval(d, scopes) for d in arguments.kw_defaults]
        positional = [*arguments.posonlyargs, *arguments.args]
        params: list[inspect.Parameter] = []
        first_default = len(positional) - len(defaults)
        for i, arg in enumerate(positional):
            kind = inspect.Parameter.POSITIONAL_ONLY if i < len(arguments.posonlyargs) else (
                inspect.Parameter.POSITIONAL_OR_KEYWORD
            )
            default = defaults[i - first_default] if i >= first_default else empty
            params.append(inspect.Parameter(arg.arg, kind, default=default))
        if arguments.vararg is not None:
            params.append(inspect.Parameter(arguments.vararg.arg, inspect.Parameter.VAR_POSITIONAL))
        for arg, default in zip(arguments.kwonlyargs, kw_defaults, strict=True):
            params.append(inspect.Parameter(arg.arg, inspect.Parameter.KEYWORD_ONLY, default=default))
        if arguments.kwarg is not None:
            params.append(inspect.Parameter(arguments.kwarg.arg, inspect.Parameter.VAR_KEYWORD))
        signature = inspect.Signature(params)
        simple = [p.name for p in params] if all(
            p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD and p.default is empty for p in params
        ) else None

        def run(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            self.entering()
            args = tuple(self._argument(a) for a in args)
            kwargs = {k: self._argument(v) for k, v in kwargs.items()}
            if simple is not None and not kwargs and len(args) == len(simple):
                local = dict(zip(simple, args, strict=True))
            else:
                bound = signature.bind(*args, **kwargs)
                bound.apply_defaults()
                local = dict(bound.arguments)
            return self.cross(self.eval(node.body, (*scopes, local)))  # handed to whoever called: data only

        return self.gate.own(Guarded("<lambda>", run, signature=signature))

    def _argument(self, value: Any) -> Any:
        """What a caller (pandas, or our own builtins) passes to a lambda: records may come from our map()."""
        return value if kind_of(value) == "record" else self.gate.admit_result(value, "an argument")

    # comprehensions ------------------------------------------------------------------------------------------

    def _bind(self, target: ast.AST, value: Any, local: dict[str, Any]) -> None:
        if isinstance(target, ast.Name):
            local[target.id] = value
            return
        if not isinstance(target, (ast.Tuple, ast.List)):
            self.budget.fail("a comprehension may only bind plain names, as in [x * 2 for x in xs]")
        elements = target.elts  # type: ignore[attr-defined]
        stars = [i for i, e in enumerate(elements) if isinstance(e, ast.Starred)]
        if not stars:
            items = list(itertools.islice(self.iterate(value), len(elements) + 1))
            if len(items) != len(elements):
                raise ValueError(
                    f"too many values to unpack (expected {len(elements)})"
                    if len(items) > len(elements)
                    else f"not enough values to unpack (expected {len(elements)}, got {len(items)})"
                )
            for element, item in zip(elements, items, strict=True):
                self._bind(element, item, local)
            return
        star, items = stars[0], list(self.iterate(value))
        after = len(elements) - star - 1
        if len(items) < star + after:
            raise ValueError(f"not enough values to unpack (expected at least {star + after}, got {len(items)})")
        for element, item in zip(elements[:star], items[:star], strict=True):
            self._bind(element, item, local)
        local[elements[star].value.id] = items[star : len(items) - after]  # type: ignore[attr-defined]
        for element, item in zip(elements[star + 1 :], items[len(items) - after :], strict=True):
            self._bind(element, item, local)

    def _loop(self, node: Any, scopes: Scopes) -> Iterator[Scopes]:
        """Yield the comprehension's scope once per innermost iteration, in Python's order."""
        generators: list[ast.comprehension] = node.generators
        local: dict[str, Any] = {}
        inner = (*scopes, local)

        def level(index: int) -> Iterator[Scopes]:
            generator = generators[index]
            iterable = self.eval(generator.iter, scopes if index == 0 else inner)
            innermost = index + 1 == len(generators)
            for item in self.iterate(iterable):
                self._bind(generator.target, item, local)
                if all(self.truth(self.eval(condition, inner)) for condition in generator.ifs):
                    if innermost:
                        yield inner
                    else:
                        yield from level(index + 1)

        return level(0)

    def _placed(self, node: ast.expr, scopes: Scopes) -> Any:
        value = self.eval(node, scopes)
        if type(value) not in PLAIN_NUMBERS:
            self.budget.charge(8, "the values collected by this expression")
        return value

    def _dictcomp(self, node: ast.DictComp, scopes: Scopes) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        for inner in self._loop(node, scopes):
            key = self.cross(self._placed(node.key, inner), library=False)
            if type(key) is int:
                self.gate.colliding_ints((key,))
            result[key] = self._placed(node.value, inner)
        return self._built(result)


def _selected(key: Any, labels: Any) -> int:
    """Rows a list key selects: its length for positions and unique labels; for a label the index holds
    n times, n rows every time the key names it."""
    if labels is None or getattr(getattr(key, "dtype", None), "kind", "") == "b" or labels.is_unique:
        return len(key)
    pandas = sys.modules["pandas"]
    try:
        counts = labels.value_counts(dropna=False)
        return int(pandas.Index(list(key) if kind_of(key) == "list" else key).map(counts).fillna(1).sum())
    except Exception:
        return len(key) * len(labels)
