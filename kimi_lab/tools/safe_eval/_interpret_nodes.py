"""The interpreter's expression nodes: names, attributes, subscripts and selections, containers,
operators and f-strings.

`ExpressionNodes` is mixed into `_interpreter.Interpreter`, which provides the walk (`eval`), the
checkpoints (`cross`, `iterate`, `truth`, `external`) and the budget; selections that can repeat rows
are priced before they are made.
"""

from __future__ import annotations

import ast
import operator
import sys
import types
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from kimi_lab.common.secrets import looks_secret
from kimi_lab.tools.safe_eval import _calls
from kimi_lab.tools.safe_eval._allowlists import MODULE_CONSTANTS, MODULE_FUNCTIONS
from kimi_lab.tools.safe_eval._calls import read_attribute
from kimi_lab.tools.safe_eval._check import check_attr
from kimi_lab.tools.safe_eval._guard_languages import check_spec
from kimi_lab.tools.safe_eval._kinds import ARRAYS, CONTAINERS, SCALARS, kind_of
from kimi_lab.tools.safe_eval._messages import name_message, secret_message, underscore_message
from kimi_lab.tools.safe_eval._operators import compare, unary
from kimi_lab.tools.safe_eval._sizes import held

if TYPE_CHECKING:
    from kimi_lab.tools.safe_eval._interpreter import Scopes


class ExpressionNodes:
    """The methods of `Interpreter` that compute names, attributes, subscripts, containers, operators and f-strings."""

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
        _calls.lookup_peak(self, self._axes_looked_up(owner, kind, parent))
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

    def _axes_looked_up(self, owner: Any, kind: str, parent: Any) -> list[Any]:
        """The labels a subscript looks keys up in (none for positions)."""
        if kind == "Indexer" and type(owner).__name__ in ("_LocIndexer", "_AtIndexer"):
            return [parent.index, *([parent.columns] if kind_of(parent) == "DataFrame" else [])]
        if kind in ("Series", "DataFrame"):
            return [owner.index if kind == "Series" else owner.columns]
        return []

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
        factor, repeated = 1.0, False
        for position, part in enumerate(keys):
            if kind_of(part) not in ("list", "ndarray", "Series", "Index") or position >= max(len(axes), 1):
                continue
            if _is_mask(part):
                continue  # a mask selects each row at most once (df[mask] selects rows, not the columns it names)
            labels = axes[position] if axes else None
            selected = _selected(part, labels if by_label else None)
            factor *= selected / max(len(labels) if labels is not None else rows, 1)
            repeated = repeated or selected > len(part) or not _unique(part)
        if factor <= 1 and not (repeated and self.sizes.fresh(target)):
            return 0  # no more rows than there were (an object column repeats a row by pointing to it again)
        copied = int(factor * rows) * self.sizes.row(target)  # an Arrow buffer copies a repeated row's cells
        return int(max(factor, 1) * held(target)) + max(int(factor * self.sizes.text(target)), copied)

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


def _is_mask(key: Any) -> bool:
    if kind_of(key) == "list":
        return bool(key) and all(type(item) is bool for item in key)
    return getattr(getattr(key, "dtype", None), "kind", "") == "b"


def _unique(key: Any) -> bool:
    if _is_mask(key):
        return True  # a mask selects each row once
    try:
        return bool(sys.modules["pandas"].Index(list(key) if kind_of(key) == "list" else key).is_unique)
    except Exception:
        return False


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
