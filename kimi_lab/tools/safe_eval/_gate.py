"""The two checkpoints every value passes: entering the evaluation, and leaving it for code we did not write.

`admit` runs on every value the interpreter receives (a variable, an attribute, an item, a library
result, an argument pandas passes to a lambda): its kind must be known, arrays become read-only views,
dicts lose secret-looking keys, and a groupby, accessor or iterator is accepted only if this
evaluation made it (reading a user's generator would consume it; a user's groupby may hold their
function). `cross` runs on every value handed to library code, a builtin or an operator: it checks
the value all the way down (the elements of lists, the cells of object columns, a frame's index and
attrs), because library code touches them without asking us. Only data and our own guarded functions
cross; lazy iterators are materialised first, so nothing we have not seen reaches the library.
"""

from __future__ import annotations

import collections
import sys
from typing import Any, Callable

from kimi_lab.common.secrets import looks_secret
from kimi_lab.tools.safe_eval import _arrow, _limits
from kimi_lab.tools.safe_eval._budget import Budget
from kimi_lab.tools.safe_eval._kinds import ARRAYS, CONTAINERS, HANDLES, SCALARS, Guarded, kind_of, kind_of_class, memo
from kimi_lab.tools.safe_eval._messages import kind_message, module_message

_SEQUENCES = frozenset({"list", "tuple", "set", "frozenset", "deque", "view"})
_MAPPINGS = frozenset({"dict", "counter"})
_ARRAY_LIKE = frozenset({"Series", "Index", "Categorical", "ExtensionArray"})
_PLAIN_TYPES = frozenset({str, int, float, bool, type(None), bytes, complex})
_HASH_MODULUS = sys.hash_info.modulus  # 2**61 - 1 on 64-bit builds
_CELL_KINDS = SCALARS | CONTAINERS | ARRAYS
_PLAIN_CONTAINERS = frozenset({"list", "tuple", "set", "frozenset", "deque", "range", "slice", "counter"})
_ZONED = frozenset({"datetime", "time", "Timestamp", "tzinfo", "dtype"})
_ZONE_LIBRARIES = frozenset({"datetime", "zoneinfo", "pytz", "dateutil", "pandas"})


def _secret_key(key: Any) -> bool:
    if type(key) is bytes:
        key = key.decode("latin-1")
    return type(key) is str and looks_secret(key)


def _cells_are_data(dtype: Any) -> bool:
    """Cells that need no look: a string dtype's hold only text, an Arrow buffer's only Arrow data (numbers, text,
    lists and structs of them), and a categorical's only its categories, which are checked with its dtype.
    Reading them as Python objects would copy every cell of an Arrow buffer."""
    return _arrow.is_text(dtype) or _arrow.is_arrow(dtype) or getattr(dtype, "categories", None) is not None


def is_library_zone(zone: Any) -> bool:
    """Every class of the zone comes from the standard library or pandas' time-zone libraries."""
    return all(str(getattr(cls, "__module__", "")).split(".")[0] in _ZONE_LIBRARIES or cls is object
               for cls in type(zone).__mro__)


class Gate:
    """Admission and crossing for one evaluation; results are memoised by object (kept alive while it runs)."""

    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.made: dict[int, Any] = {}  # handles and iterators this evaluation made
        self.functions: dict[int, Guarded] = {}  # the guarded functions it made
        self.parents: dict[int, Any] = {}  # handle id -> the pandas object behind it
        self._admitted: dict[int, tuple[Any, Any]] = {}
        self._crossed: dict[int, tuple[Any, Any]] = {}
        self.wrap_iterator: Callable[[Any], Any] = iter  # set by the interpreter: counts and admits items
        self.big_ints = 0  # ints beyond the hash modulus handed on so far (see colliding_ints)

    def mark(self, value: Any, parent: Any = None) -> Any:
        self.made[id(value)] = value
        if parent is not None:
            self.parents[id(value)] = parent
        return value

    def own(self, function: Guarded) -> Guarded:
        self.functions[id(function)] = function
        return function

    # admission ----------------------------------------------------------------------------------------------

    def admit(self, value: Any, label: str = "value") -> Any:
        """The value as the evaluation may hold it, or a refusal."""
        kind = kind_of(value)
        if kind == "tuple" and type(value) is not tuple:
            self._refuse_secret_fields(value, label)
            return value
        if kind == "view":
            return memo(self._admitted, value, self._plain_view)
        if kind in SCALARS or kind in _PLAIN_CONTAINERS:
            return value
        if kind in ("DataFrame", "Series", "Index", "Categorical", "ExtensionArray", "record"):
            return value
        if kind == "ndarray":
            return memo(self._admitted, value, self._read_only)
        if kind == "dict":
            return memo(self._admitted, value, self._plain_dict)
        if kind in HANDLES:
            if id(value) in self.made:
                return value
            self.budget.fail(
                f"'{label}' is a stored pandas {type(value).__name__}; build it in the expression instead, such as "
                "df.groupby('col').sum()"
            )
        if kind == "iterator":
            if id(value) in self.made:
                return value
            self.budget.fail(
                f"'{label}' is an iterator or generator, and reading it would consume it; use the data it came from"
            )
        if kind == "function":
            if id(value) in self.functions:
                return value
        if kind == "module":
            self.budget.fail(module_message(getattr(value, "__name__", label)))
        if kind == "class" or callable(value):
            self.budget.fail(
                f"'{label}' is a function or class, which evaluate never calls or hands out (the user can register a "
                "function as its own tool); use builtins such as len or sum and methods such as df.sum()"
            )
        self.budget.fail(kind_message(type(value).__name__))

    def admit_result(self, value: Any, label: str, parent: Any = None) -> Any:
        """A library call's result: handles and iterators it returns were made here."""
        kind = kind_of(value)
        if kind in HANDLES:
            return self.mark(value, parent)
        if kind == "iterator":
            return self.mark(self.wrap_iterator(value))
        if kind == "record" or kind == "opaque":
            self.budget.fail(
                f"{label} returned a '{type(value).__name__}', which evaluate does not hand out; use a method that "
                "returns data"
            )
        return self.admit(value, label)

    def _read_only(self, array: Any) -> Any:
        if not array.flags.writeable:
            return array
        view = array.view()
        view.flags.writeable = False
        return view

    def _plain_dict(self, mapping: Any) -> Any:
        """Secret-looking keys are not data; a defaultdict is read as a plain dict (reading must not insert)."""
        hidden = {id(key) for key in mapping if _secret_key(key)}
        if not hidden and type(mapping) is not collections.defaultdict:
            return mapping
        return {key: item for key, item in mapping.items() if id(key) not in hidden}

    def _plain_view(self, view: Any) -> Any:
        """A stored dict view shows its dict: the same view of the dict with secret-looking keys dropped."""
        mapping = self._plain_dict(view.mapping)
        if mapping is view.mapping:
            return view
        return getattr(mapping, {"dict_keys": "keys", "dict_values": "values"}.get(type(view).__name__, "items"))()

    def _refuse_secret_fields(self, row: Any, label: str) -> None:
        fields = getattr(type(row), "_fields", ())
        hidden = [name for name in fields if looks_secret(name)]
        if hidden:
            self.budget.fail(
                f"'{label}' has fields that look like secrets ({', '.join(hidden[:3])}), so evaluate does not read "
                "it; ask the user for the fields you need"
            )

    # crossing -----------------------------------------------------------------------------------------------

    def cross(self, value: Any, depth: int = 0, *, library: bool = True) -> Any:
        """`value` checked all the way down before code we did not write touches it; returns what to pass."""
        kind = kind_of(value)
        if kind in SCALARS:
            if kind in _ZONED:
                self._check_zone(value, kind, depth)
            return value
        if kind == "function":
            if id(value) in self.functions:
                return value
            self.budget.fail("only lambdas and builtins such as len or str may be passed as functions in evaluate")
        if kind == "iterator":
            if id(value) not in self.made:
                self.budget.fail("an iterator that this expression did not make cannot be read; use the data itself")
            if not library:
                return value
            items = list(value)  # our own iterators count and admit every item
            self.budget.charge(sys.getsizeof(items), "materialising an iterator")
            return self.cross(items, depth + 1)
        if kind in HANDLES:
            if id(value) not in self.made:
                self.budget.fail(f"a stored pandas {type(value).__name__} cannot be used; build it in the expression")
            parent = self.parents.get(id(value))
            if parent is not None:  # s.str runs over s's cells: they are checked like s itself
                self.cross(parent, depth + 1)
            return value
        if depth > 60:
            self.budget.fail("the value is nested too deeply to be checked; use flatter data")
        hit = self._crossed.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        self._crossed[id(value)] = (value, value)  # a container holding itself is checked once
        try:
            result = self._cross_new(value, kind, depth)
        except BaseException:
            self._forget(value)
            raise
        self._crossed[id(value)] = (value, result)
        return result

    def _forget(self, value: Any) -> None:
        """A refused value leaves no "already checked" mark behind: a library that swallows the refusal and
        tries again (pandas' transform does) would otherwise pass it the second time."""
        self._crossed.pop(id(value), None)

    def _cross_new(self, value: Any, kind: str, depth: int) -> Any:
        if kind in _SEQUENCES:
            if kind == "tuple" and type(value) is not tuple:
                self._refuse_secret_fields(value, "a row")
            return self._cross_sequence(value, kind, depth)
        if kind in _MAPPINGS:
            plain = self.admit(value) if kind == "dict" else value
            items = [(self.cross(k, depth + 1), self.cross(v, depth + 1)) for k, v in plain.items()]
            changed = plain is not value or any(
                a[0] is not k or a[1] is not v for a, (k, v) in zip(items, plain.items(), strict=True)
            )
            return type(plain)(items) if changed and kind == "counter" else (dict(items) if changed else value)
        if kind in ("range", "slice"):
            if kind == "slice":
                for part in (value.start, value.stop, value.step):
                    self.cross(part, depth + 1)
            return value
        if kind == "ndarray":
            if value.dtype.kind == "V":
                self.budget.fail("record arrays are not allowed in evaluate; use a DataFrame")
            if value.dtype.kind == "O":
                self._check_cells(value.ravel(), depth)
            return memo(self._admitted, value, self._read_only)
        if kind in _ARRAY_LIKE:
            self._check_array_like(value, depth)
            return value
        if kind == "DataFrame":
            self._check_attrs(value, depth)  # first: taking a column out deep-copies them
            for _, column in value.items():
                self._check_array_like(column, depth)
            self._check_array_like(value.columns, depth)
            self._check_array_like(value.index, depth)
            return value
        if kind == "record":
            self.budget.fail(kind_message(type(value).__name__, "pass on"))
        self.budget.fail(kind_message(type(value).__name__))

    def _cross_sequence(self, value: Any, kind: str, depth: int) -> Any:
        if kind == "view":
            return self.cross(list(value), depth + 1)  # dict views: library code gets a list
        types = set(map(type, value))
        if int in types:
            self.colliding_ints(value)
        if types <= _PLAIN_TYPES:
            return value  # the common case, at C speed
        items = [self.cross(item, depth + 1) for item in value]
        if all(a is b for a, b in zip(items, value, strict=True)):
            return value
        if kind == "tuple" and type(value) is not tuple:
            return type(value)._make(items)  # a namedtuple keeps its fields
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}.get(kind, collections.deque)(items)

    def _check_attrs(self, value: Any, depth: int) -> None:
        """pandas deep-copies `attrs` into every result: what they hold must be data."""
        attrs = getattr(value, "attrs", None)
        if attrs:
            self.cross(dict(attrs), depth + 1)

    def _check_zone(self, value: Any, kind: str, depth: int) -> None:
        """A time zone's methods run whenever a time is printed or converted: only the libraries' zones."""
        if kind == "dtype":
            if getattr(value, "categories", None) is not None:
                self.cross(value.categories, depth + 1)
            zone = getattr(value, "tz", None)
        else:
            zone = value if kind == "tzinfo" else getattr(value, "tzinfo", None)
        if zone is not None and not is_library_zone(zone):
            self.budget.fail(
                f"the time zone '{type(zone).__name__}' is not one of datetime's, zoneinfo's, pytz's, dateutil's or "
                "pandas' own, so evaluate does not use it; convert the times to UTC first"
            )

    def _check_array_like(self, value: Any, depth: int) -> None:
        dtype = value.dtype
        if kind_of(dtype) != "dtype":
            self.budget.fail(f"values of dtype {str(dtype)[:40]} are not allowed in evaluate")
        self._check_zone(dtype, "dtype", depth)
        kind = kind_of(value)
        if kind == "Series":
            self._check_attrs(value, depth)
        self._check_names(value, kind, depth)
        reason = _arrow.unsupported(dtype)
        if reason is not None:
            self.budget.fail(f"values of dtype {str(dtype)[:60]} are {reason}; evaluate does not read them")
        if getattr(dtype, "kind", "") == "O" and not _cells_are_data(dtype):
            self._check_cells(value.to_numpy(dtype=object, copy=False) if kind_of(value) != "ExtensionArray" else
                              value.astype(object), depth)
        if kind == "Series":
            self._check_array_like(value.index, depth + 1)
        if kind == "Index" and value.nlevels > 1:
            for level in value.levels:
                self._check_array_like(level, depth + 1)

    def _check_names(self, value: Any, kind: str, depth: int) -> None:
        """Names are printed and compared like any value. Read by kind, never with getattr: a Series answers an
        unknown attribute by looking it up among its labels, which hashes them."""
        for name in value.names if kind == "Index" else (value.name,) if kind == "Series" else ():
            self.cross(name, depth + 1)

    def colliding_ints(self, values: Any) -> None:
        """Python hashes an int modulo 2**61 - 1, so multiples of it all land in one hash-table slot: a set,
        dict or pandas `unique` of 60,000 of them compares each with all the others, for minutes, inside one
        C call no timer stops. Ints that large are rare in data; more than MAX_BIG_INTS in one evaluation
        are refused."""
        big = sum(1 for v in values if type(v) is int and not -_HASH_MODULUS < v < _HASH_MODULUS)
        if big:
            self.big_ints += big
            if self.big_ints > _limits.MAX_BIG_INTS:
                self.budget.fail(
                    f"more than {_limits.MAX_BIG_INTS:,} integers beyond 61 bits would go into hash tables, where "
                    "they can collide and take minutes; convert them to float or str first"
                )

    def _check_cells(self, cells: Any, depth: int) -> None:
        """Cells of an object array: every one must be data; containers in cells are checked like any other."""
        types = set(map(type, cells))
        if int in types:
            self.colliding_ints(cells)
        if types <= _PLAIN_TYPES:
            return  # the common case, at C speed
        kinds = {kind_of_class(cls) for cls in types}
        for cls in types:
            if kind_of_class(cls) not in _CELL_KINDS:
                self.budget.fail(kind_message(cls.__name__, "pass on"))
        if kinds & (CONTAINERS | ARRAYS):
            for cell in cells:
                if type(cell) in _PLAIN_TYPES or kind_of(cell) in SCALARS:
                    continue
                if self.cross(cell, depth + 1) is not cell and kind_of(cell) != "ndarray":  # arrays: read-only
                    self.budget.fail(
                        "a cell holds a dict with secret-looking keys or other data that would have to be copied "
                        "first; select the columns you need"
                    )
