"""The static pass: parse one expression and refuse anything outside the allow-list before it runs.

Given the namespace, names are resolved too, so most refusals happen here, before any user data is
touched; the interpreter repeats every check at runtime for what only values reveal.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Mapping
from typing import Any

from kimi_lab.common.secrets import looks_secret
from kimi_lab.tools.safe_eval import _limits
from kimi_lab.tools.safe_eval._allowlists import (
    ALLOWED_BUILTINS,
    BLOCKED_ATTRIBUTES,
    FORBIDDEN_NAMES,
    MODULE_CONSTANTS,
    MODULE_FUNCTIONS,
    all_method_names,
)
from kimi_lab.tools.safe_eval._messages import (
    UnsafeExpression,
    method_message,
    module_message,
    name_message,
    one_phrase,
    secret_message,
    syntax_message,
    underscore_message,
    user_function_message,
)

ALLOWED_METHOD_NAMES = all_method_names()


def check(expression: str, namespace: Mapping[str, Any] | None = None) -> ast.Expression:
    """Parse one expression and reject anything outside the allow-list before it runs.

    Given the namespace, names are resolved too: unknown names, notebook functions used as calls and
    modules used as values are refused here rather than halfway through an evaluation.
    """
    if not isinstance(expression, str):
        raise UnsafeExpression("the expression must be a string of Python code, such as \"df['units'].sum()\"")
    if len(expression) > _limits.MAX_EXPRESSION_CHARS:
        raise UnsafeExpression(
            f"the expression is {len(expression):,} characters long but evaluate accepts at most "
            f"{_limits.MAX_EXPRESSION_CHARS:,}; compute the answer in smaller pieces"
        )
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise UnsafeExpression(
            f"the expression is not valid Python ({one_phrase(exc.msg or 'invalid syntax')}); evaluate takes "
            "exactly one expression, with no statements, assignments or imports"
        ) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise UnsafeExpression(
            f"the expression could not be parsed ({type(exc).__name__}, usually from deep nesting or NUL bytes); "
            "simplify it"
        ) from None
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > _limits.MAX_DEPTH:
            raise UnsafeExpression(f"the expression is nested more than {_limits.MAX_DEPTH} levels deep; simplify it")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    Checker(namespace).visit(tree)
    return tree


def check_attr(attr: str) -> None:
    """Attribute names are refused by spelling alone: private ones and those that lead to interpreter internals."""
    if attr.startswith("_"):
        raise UnsafeExpression(underscore_message(attr))
    if attr in BLOCKED_ATTRIBUTES:
        raise UnsafeExpression(
            method_message(attr)
            if attr.startswith("format")
            else f"'{attr}' leads to interpreter internals and is not allowed in evaluate; use data attributes "
            "such as df.columns or df.shape"
        )


class Checker:
    """Walks the tree once; every node type has a visitor or is refused."""

    def __init__(self, namespace: Mapping[str, Any] | None) -> None:
        self.ns = namespace
        self.scopes: list[set[str]] = []

    def visit(self, node: ast.AST) -> None:
        visitor = getattr(self, "visit_" + type(node).__name__, None)
        if visitor is None:
            raise UnsafeExpression(syntax_message(node))
        visitor(node)

    # names --------------------------------------------------------------------------------------------------

    def _is_local(self, name: str) -> bool:
        return any(name in scope for scope in self.scopes)

    def _is_module(self, node: ast.AST) -> bool:
        return (
            isinstance(node, ast.Name)
            and self.ns is not None
            and not self._is_local(node.id)
            and isinstance(self.ns.get(node.id), types.ModuleType)
        )

    def _bind(self, name: str) -> str:
        if name != "_" and name.startswith("_"):
            raise UnsafeExpression(underscore_message(name))
        return name

    def _check_name(self, name: str) -> None:
        if self._is_local(name):
            return
        if name.startswith("_"):
            raise UnsafeExpression(underscore_message(name))
        if self.ns is not None and name in self.ns:
            if looks_secret(name):
                raise UnsafeExpression(secret_message(name))
            if isinstance(self.ns[name], types.ModuleType):
                raise UnsafeExpression(module_message(name))
            return
        if name in ALLOWED_BUILTINS:
            return
        if name in FORBIDDEN_NAMES or self.ns is not None:
            raise UnsafeExpression(name_message(name))

    def visit_Expression(self, node: ast.Expression) -> None:
        self.visit(node.body)

    def visit_Constant(self, node: ast.Constant) -> None:
        pass

    def visit_Name(self, node: ast.Name) -> None:
        if not isinstance(node.ctx, ast.Load):
            raise UnsafeExpression("assignment is not allowed in evaluate; write one read-only expression")
        self._check_name(node.id)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        check_attr(node.attr)
        if not isinstance(node.ctx, ast.Load):
            raise UnsafeExpression("assigning to attributes is not allowed in evaluate; write one read-only expression")
        if self._is_module(node.value):
            module = self.ns[node.value.id]  # type: ignore[index,attr-defined]
            name = getattr(module, "__name__", "")
            if node.attr not in MODULE_CONSTANTS.get(name, frozenset()) and node.attr not in MODULE_FUNCTIONS.get(
                name, {}
            ):
                raise UnsafeExpression(module_message(node.value.id, node.attr))  # type: ignore[attr-defined]
            return
        self.visit(node.value)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if not isinstance(node.ctx, ast.Load):
            raise UnsafeExpression("item assignment is not allowed in evaluate; write one read-only expression")
        self.visit(node.value)
        self.visit(node.slice)

    def visit_Slice(self, node: ast.Slice) -> None:
        for part in (node.lower, node.upper, node.step):
            if part is not None:
                self.visit(part)

    def _visit_elements(self, node: ast.Tuple | ast.List | ast.Set) -> None:
        if not isinstance(getattr(node, "ctx", ast.Load()), ast.Load):
            raise UnsafeExpression("assignment is not allowed in evaluate; write one read-only expression")
        for element in node.elts:
            self.visit(element)

    visit_Tuple = visit_List = visit_Set = _visit_elements

    def visit_Starred(self, node: ast.Starred) -> None:
        self.visit(node.value)

    def visit_Dict(self, node: ast.Dict) -> None:
        for key in node.keys:
            if key is not None:
                self.visit(key)
        for value in node.values:
            self.visit(value)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self.visit(node.left)
        self.visit(node.right)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> None:
        self.visit(node.operand)

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        for value in node.values:
            self.visit(value)

    def visit_Compare(self, node: ast.Compare) -> None:
        self.visit(node.left)
        for value in node.comparators:
            self.visit(value)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        for part in (node.test, node.body, node.orelse):
            self.visit(part)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        for value in node.values:
            self.visit(value)

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        self.visit(node.value)
        if node.format_spec is not None:
            self.visit(node.format_spec)

    # comprehensions and lambdas ------------------------------------------------------------------------------

    def _target(self, node: ast.AST, scope: set[str]) -> None:
        if isinstance(node, ast.Name):
            scope.add(self._bind(node.id))
        elif isinstance(node, (ast.Tuple, ast.List)):
            for element in node.elts:
                self._target(element, scope)
        elif isinstance(node, ast.Starred):
            self._target(node.value, scope)
        else:
            raise UnsafeExpression("a comprehension may only bind plain names, as in [x * 2 for x in xs]")

    def _comprehension(self, generators: list[ast.comprehension], results: list[ast.AST]) -> None:
        scope: set[str] = set()
        self.scopes.append(scope)
        try:
            for generator in generators:
                if generator.is_async:
                    raise UnsafeExpression("async comprehensions are not allowed in evaluate; use a plain one")
                self.visit(generator.iter)
                self._target(generator.target, scope)
                for condition in generator.ifs:
                    self.visit(condition)
            for result in results:
                self.visit(result)
        finally:
            self.scopes.pop()

    def visit_ListComp(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> None:
        self._comprehension(node.generators, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node: ast.DictComp) -> None:
        self._comprehension(node.generators, [node.key, node.value])

    def _lambda(self, node: ast.Lambda) -> None:
        arguments = node.args
        for default in [*arguments.defaults, *arguments.kw_defaults]:
            if default is not None:
                self.visit(default)
        params = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
        params += [p for p in (arguments.vararg, arguments.kwarg) if p is not None]
        self.scopes.append({self._bind(p.arg) for p in params})
        try:
            self.visit(node.body)
        finally:
            self.scopes.pop()

    def _argument(self, node: ast.AST) -> None:
        if isinstance(node, ast.Lambda):
            self._lambda(node)
        else:
            self.visit(node)

    # calls ---------------------------------------------------------------------------------------------------

    def _function_argument(self, node: ast.AST, allow_none: bool = False) -> None:
        """map/filter functions and key= must be lambdas or builtins: anything else is a way to call a value."""
        if isinstance(node, ast.Lambda) or (allow_none and isinstance(node, ast.Constant) and node.value is None):
            return
        if (
            isinstance(node, ast.Name)
            and node.id in ALLOWED_BUILTINS
            and not self._is_local(node.id)
            and (self.ns is None or node.id not in self.ns)
        ):
            return
        raise UnsafeExpression(
            "the function given to map, filter or key= must be a lambda or a builtin such as len or str; "
            "write lambda x: ... instead"
        )

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            name = func.id
            if self._is_local(name) or (self.ns is not None and name in self.ns):
                raise UnsafeExpression(user_function_message(name))
            if name not in ALLOWED_BUILTINS:
                raise UnsafeExpression(name_message(name))
            if name in ("map", "filter") and node.args:
                self._function_argument(node.args[0], allow_none=name == "filter")
            for keyword in node.keywords:
                if keyword.arg == "key" and name in ("sorted", "min", "max"):
                    self._function_argument(keyword.value, allow_none=True)
        elif isinstance(func, ast.Attribute):
            check_attr(func.attr)
            if self._is_module(func.value):
                module = self.ns[func.value.id]  # type: ignore[index,attr-defined]
                if func.attr not in MODULE_FUNCTIONS.get(getattr(module, "__name__", ""), {}):
                    raise UnsafeExpression(module_message(func.value.id, func.attr))  # type: ignore[attr-defined]
            else:
                if func.attr not in ALLOWED_METHOD_NAMES:
                    raise UnsafeExpression(method_message(func.attr))
                self.visit(func.value)
        else:
            raise UnsafeExpression(
                "only builtins (len, sum, ...) and methods written as x.method(...) can be called in evaluate; "
                "calling the result of a call, subscript or lambda is not allowed"
            )
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                self.visit(argument.value)
            else:
                self._argument(argument)
        for keyword in node.keywords:
            self._keyword(keyword)

    def _keyword(self, keyword: ast.keyword) -> None:
        name, value = keyword.arg, keyword.value
        if name is not None:
            if name.startswith("_"):
                raise UnsafeExpression(underscore_message(name))
            if name == "inplace" and not (isinstance(value, ast.Constant) and not value.value):
                raise UnsafeExpression(
                    "inplace=True is not allowed in evaluate (it modifies the user's data); drop inplace and use the "
                    "returned copy"
                )
            if name in ("out", "buf"):
                raise UnsafeExpression(
                    f"the '{name}=' argument is not allowed in evaluate (it writes into an existing array or file); "
                    "use the returned value instead"
                )
        self._argument(value)
