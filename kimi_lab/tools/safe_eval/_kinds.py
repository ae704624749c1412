"""The value domain: what kind of thing a value is, decided by its exact class.

Every value evaluate holds has a kind, and the kind alone decides what may be done with it: which
methods and attributes exist (the tables in `_allowlists`), whether it may be passed to library code,
and whether its text form is library code or the user's. Classes are matched exactly (a subclass of
dict or DataFrame is the user's code, not the library's), and a class that claims to be pandas or
numpy is checked to really be the one those libraries export, so `__module__ = "pandas"` fakes nothing.

pandas and numpy are never imported here: a kernel that never loaded them holds none of their values.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import fractions
import os
import sys
import types
from typing import Any, Callable

# Kinds whose values are immutable leaves: no elements to check, nothing of the user's to call.
SCALARS = frozenset(
    "none bool int float complex decimal fraction str bytes date datetime time timedelta tzinfo npscalar "
    "Timestamp Timedelta Period Interval Offset missing dtype ellipsis".split()
)
CONTAINERS = frozenset("list tuple dict counter set frozenset deque range slice view".split())
ARRAYS = frozenset("ndarray DataFrame Series Index Categorical ExtensionArray".split())
# Objects that wrap a pandas object built in this evaluation (a groupby, an accessor, an indexer).
HANDLES = frozenset("GroupBy Resampler Window StringMethods DatetimeProperties CategoricalAccessor Indexer".split())
# What may be handed to library code (containers and arrays after their elements are checked).
DATA = SCALARS | CONTAINERS | ARRAYS | HANDLES | {"function", "iterator"}

_BUILTIN_KINDS: dict[type, str] = {
    type(None): "none",
    bool: "bool",
    int: "int",
    float: "float",
    complex: "complex",
    str: "str",
    bytes: "bytes",
    bytearray: "bytes",
    list: "list",
    tuple: "tuple",
    dict: "dict",
    collections.OrderedDict: "dict",
    collections.defaultdict: "dict",  # handed over as a plain copy: reading it must not insert keys
    collections.Counter: "counter",
    set: "set",
    frozenset: "frozenset",
    collections.deque: "deque",
    range: "range",
    slice: "slice",
    type(Ellipsis): "ellipsis",
    decimal.Decimal: "decimal",
    fractions.Fraction: "fraction",
    datetime.date: "date",
    datetime.datetime: "datetime",
    datetime.time: "time",
    datetime.timedelta: "timedelta",
    datetime.timezone: "tzinfo",
    types.ModuleType: "module",
    type({}.keys()): "view",
    type({}.values()): "view",
    type({}.items()): "view",
}
# Lazy iterators: usable only when this evaluation made them (reading a user's generator consumes it).
_ITERATOR_TYPES = frozenset(
    {map, filter, zip, enumerate, reversed, types.GeneratorType}
    | {type(iter(x)) for x in ([], (), {}, set(), "", b"", range(0), {}.items(), {}.values(), frozenset())}
)

_PANDAS_KINDS: dict[str, str] = {
    "DataFrame": "DataFrame",
    "Series": "Series",
    **dict.fromkeys(
        "Index RangeIndex DatetimeIndex TimedeltaIndex PeriodIndex CategoricalIndex IntervalIndex MultiIndex".split(),
        "Index",
    ),
    "Categorical": "Categorical",
    **dict.fromkeys(
        "DatetimeArray TimedeltaArray PeriodArray IntervalArray IntegerArray FloatingArray BooleanArray "
        "StringArray ArrowStringArray ArrowStringArrayNumpySemantics NumpyExtensionArray ArrowExtensionArray".split(),
        "ExtensionArray",
    ),
    "DataFrameGroupBy": "GroupBy",
    "SeriesGroupBy": "GroupBy",
    **dict.fromkeys(
        "DatetimeIndexResampler PeriodIndexResampler TimedeltaIndexResampler DatetimeIndexResamplerGroupby "
        "PeriodIndexResamplerGroupby TimedeltaIndexResamplerGroupby".split(),
        "Resampler",
    ),
    **dict.fromkeys(
        "Rolling Expanding ExponentialMovingWindow Window RollingGroupby RollingGroupBy ExpandingGroupby "
        "ExpandingGroupBy ExponentialMovingWindowGroupby ExponentialMovingWindowGroupBy".split(),
        "Window",
    ),
    "StringMethods": "StringMethods",
    **dict.fromkeys("DatetimeProperties TimedeltaProperties PeriodProperties".split(), "DatetimeProperties"),
    "CategoricalAccessor": "CategoricalAccessor",
    **dict.fromkeys("_LocIndexer _iLocIndexer _AtIndexer _iAtIndexer".split(), "Indexer"),
    "Timestamp": "Timestamp",
    "Timedelta": "Timedelta",
    "Period": "Period",
    "Interval": "Interval",
    "NaTType": "missing",
    "NAType": "missing",
    "PrettyDict": "dict",  # groupby(...).groups
    "FrozenList": "list",  # index.names, MultiIndex.levels
}
# namedtuple() classes define only these (plus their fields): anything more is user code.
_NAMEDTUPLE_ATTRS = frozenset(
    "__doc__ __slots__ _fields _field_defaults __new__ _make _replace __repr__ _asdict __getnewargs__ "
    "__match_args__ __module__ __qualname__ __annotations__ __orig_bases__".split()
)

_cache: dict[int, tuple[type, str]] = {}  # by id(class): hashing a class could run a metaclass's __hash__


def kind_of(value: Any) -> str:
    """The kind of `value`: a key of the allow-list tables, or 'record' / 'class' / 'opaque'."""
    return kind_of_class(type(value))


def kind_of_class(cls: type) -> str:
    """The kind of every instance of `cls` (kinds depend on the exact class only)."""
    if len(_cache) > 10_000:  # classes made on the fly (namedtuples per query) must not pile up
        _cache.clear()
    return memo(_cache, cls, _classify)


def memo(table: dict[int, tuple[Any, Any]], key: Any, make: Callable[[Any], Any]) -> Any:
    """`make(key)`, remembered by the key's identity: hashing it could run its own code, and the table keeps
    the key alive so its id is not reused while the entry exists."""
    hit = table.get(id(key))
    if hit is not None and hit[0] is key:
        return hit[1]
    result = make(key)
    table[id(key)] = (key, result)
    return result


def _classify(cls: type) -> str:
    kind = _BUILTIN_KINDS.get(cls)
    if kind is not None:
        return kind
    if cls in _ITERATOR_TYPES:
        return "iterator"
    if isinstance(cls, type) and issubclass(cls, type):
        return "class"
    if cls.__module__ == "zoneinfo" and cls.__name__ == "ZoneInfo" and _exported(cls, "zoneinfo"):
        return "tzinfo"
    root = str(getattr(cls, "__module__", "") or "").split(".")[0]
    if root == "numpy":
        return _numpy_kind(cls)
    if root == "pandas":
        return _pandas_kind(cls)
    if _is_namedtuple(cls):
        return "tuple"
    if any("__call__" in vars(klass) for klass in cls.__mro__[:-1]):
        return "callable"  # functions, methods, partials, callable objects: never values
    return "record" if instance_dict_descriptor(cls) is not None else "opaque"


def _library_dir(root: str) -> str | None:
    module = sys.modules.get(root)
    path = getattr(module, "__file__", None)
    return os.path.dirname(os.path.abspath(path)) + os.sep if path else None


def _exported(cls: type, root: str) -> bool:
    """The class really is the one its module exports, and that module is the installed library's."""
    module = sys.modules.get(str(cls.__module__))
    if module is None or module.__dict__.get(cls.__name__) is not cls:
        return False
    path, home = getattr(module, "__file__", None), _library_dir(root)
    return bool(path and home and os.path.abspath(path).startswith(home))


def _numpy_kind(cls: type) -> str:
    np = sys.modules.get("numpy")
    if np is None:
        return "opaque"
    if cls is np.ndarray:
        return "ndarray"
    if issubclass(cls, np.dtype) and cls.__module__ in ("numpy", "numpy.dtypes"):
        return "dtype"
    if issubclass(cls, np.generic) and cls is not np.void and cls in _numpy_scalars(np):
        return "npscalar"
    return "opaque"  # matrix, masked arrays, memmap (file-backed), flatiter, nditer, void records, ufunc


_scalar_types: list[frozenset[type]] = []


def _numpy_scalars(np: Any) -> frozenset[type]:
    if not _scalar_types:
        _scalar_types.append(frozenset(t for t in np.sctypeDict.values() if isinstance(t, type)))
    return _scalar_types[0]


def _pandas_kind(cls: type) -> str:
    if _is_namedtuple(cls):
        return "tuple"  # itertuples() rows
    if not _exported(cls, "pandas"):
        return "opaque"
    name = cls.__name__
    kind = _PANDAS_KINDS.get(name)
    if kind is not None:
        return kind
    if name.endswith(("Dtype", "DType")):
        return "dtype"
    if cls.__module__.startswith("pandas._libs.tslibs.offsets") or cls.__module__ == "pandas.tseries.offsets":
        return "Offset"
    return "opaque"  # Styler, Flags, plotting and sparse accessors, anything new


_REFERENCE = collections.namedtuple("_REFERENCE", "a")


def _is_namedtuple(cls: type) -> bool:
    """Made by collections.namedtuple (or typing.NamedTuple) and nothing added: its methods are the generated
    ones (a NamedTuple class with its own __repr__ is the user's code)."""
    if cls.__bases__ != (tuple,) or not isinstance(getattr(cls, "_fields", None), tuple):
        return False
    fields = set(cls._fields)  # type: ignore[attr-defined]
    own = vars(cls)
    if not all(name in _NAMEDTUPLE_ATTRS or name in fields for name in own):
        return False
    for name, value in own.items():
        if name == "__new__":
            generated = getattr(getattr(value, "__func__", value), "__globals__", {})
            if not str(generated.get("__name__", "")).startswith("namedtuple_"):
                return False
        elif callable(value) or isinstance(value, classmethod):
            code = getattr(getattr(value, "__func__", value), "__code__", None)
            reference = vars(_REFERENCE).get(name)
            if code is None or code is not getattr(getattr(reference, "__func__", reference), "__code__", None):
                return False
    return True


def instance_dict_descriptor(cls: type) -> Any:
    """The C-level descriptor holding instances' __dict__, when no class code intercepts attribute reads.

    A record's attributes are read from that dict directly, so no property, __getattr__ or lazy loader of
    the user's ever runs.
    """
    if cls is types.SimpleNamespace:
        return vars(cls)["__dict__"]
    for klass in cls.__mro__[:-1]:
        own = vars(klass)
        if "__getattribute__" in own or "__getattr__" in own:
            return None
        if "__dict__" in own:
            return own["__dict__"] if type(own["__dict__"]) is types.GetSetDescriptorType else None
    return None


class Guarded:
    """A function evaluate made: one of the expression's lambdas, or an allowed builtin or library function.

    The only callables evaluate ever hands out, to the expression or to library code (pandas calls the
    function given to apply): every call, whoever makes it, runs through evaluate's guards.
    """

    __slots__ = ("__name__", "__qualname__", "__signature__", "_run", "target")

    def __init__(self, name: str, run: Any, target: Any = None, signature: Any = None) -> None:
        self.__name__ = self.__qualname__ = name
        self._run = run
        self.target = target  # the builtin type it stands for (isinstance(x, range)), if any
        if signature is not None:
            self.__signature__ = signature

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._run(args, kwargs)

    def __repr__(self) -> str:
        return f"<function {self.__name__}>"


_BUILTIN_KINDS[Guarded] = "function"
