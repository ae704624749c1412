"""The interpreter's calls, lambdas and comprehensions.

`CallsAndComprehensions` is mixed into `_interpreter.Interpreter`. Calls are of builtins, allowed
module functions or methods written as x.method(...) (through `_calls`); a lambda becomes a guarded
function whose body the interpreter runs on every call, whoever calls it; comprehensions bind plain
names only and charge what they collect.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kimi_lab.tools.safe_eval._allowlists import BUILTIN_TYPES
from kimi_lab.tools.safe_eval._calls import call_method, call_module
from kimi_lab.tools.safe_eval._check import check_attr
from kimi_lab.tools.safe_eval._kinds import Guarded, kind_of
from kimi_lab.tools.safe_eval._messages import name_message, underscore_message, user_function_message
from kimi_lab.tools.safe_eval._operators import PLAIN_NUMBERS

if TYPE_CHECKING:
    from kimi_lab.tools.safe_eval._interpreter import Scopes


class CallsAndComprehensions:
    """The methods of `Interpreter` that compute calls, lambdas and comprehensions."""

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
            result = self.cross(self.eval(node.body, (*scopes, local)))  # handed to whoever called: data only
            if self.library_copies and type(result) not in PLAIN_NUMBERS and result is not None:
                self._returned(result, self.library_copies[-1])
            return result

        return self.gate.own(Guarded("<lambda>", run, signature=signature))

    def _returned(self, result: Any, call: list[int]) -> None:
        """A value a lambda returns to pandas, for the library call `call` ([rows a value may fill, bytes returned
        so far]): pandas copies a string into an Arrow buffer where an object column would point to it again,
        and frames and arrays into the result it assembles, once each; a transform copies a string into every
        row of its group. Containers stay one object in one cell. Checked as the call goes, before pandas copies them
        (what the result holds is charged when it exists)."""
        kind = kind_of(result)
        size = sys.getsizeof(result) if kind in ("str", "bytes") else self.sizes.expanded(result) if kind in (
            "ndarray", "Series", "DataFrame", "Index") else 0
        call[1] += size
        spread = size * call[0] if kind in ("str", "bytes") else size  # a scalar is broadcast, a frame placed
        self.budget.peak(max(call[1], spread), "the values this function returns to pandas")

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
