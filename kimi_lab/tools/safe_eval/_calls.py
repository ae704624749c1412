"""Calls into library code: methods by the kind of their receiver, module functions, and the one path both take.

The path, for every call: look the method up in the receiver kind's allow-list (so `partition` on an
ndarray is not `partition` on a str), bind the arguments to parameter names and apply the parameter
rules, check every argument and the receiver all the way down (`Gate.cross`), price the result if it
can outgrow its inputs, call, then admit the result and charge what it holds.
"""

from __future__ import annotations

import inspect
import types
from typing import TYPE_CHECKING, Any

from kimi_lab.common.secrets import looks_secret
from kimi_lab.tools.safe_eval import _arrow
from kimi_lab.tools.safe_eval._allowlists import ATTRIBUTES, METHODS, MODULE_CONSTANTS, MODULE_FUNCTIONS
from kimi_lab.tools.safe_eval._binding import Arguments
from kimi_lab.tools.safe_eval._estimate_copies import estimate_copies, returned_copies
from kimi_lab.tools.safe_eval._estimators import ESTIMATORS, CallSite
from kimi_lab.tools.safe_eval._guards import check_parameters
from kimi_lab.tools.safe_eval._kinds import ARRAYS, CONTAINERS, Guarded, instance_dict_descriptor, kind_of
from kimi_lab.tools.safe_eval._messages import method_message, module_message, secret_message
from kimi_lab.tools.safe_eval._sizes import Sizes, held, held_result

if TYPE_CHECKING:
    from kimi_lab.tools.safe_eval._interpreter import Interpreter

_MISSING = object()


def call_method(ip: Interpreter, owner: Any, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    kind = kind_of(owner)
    table = METHODS.get(kind)
    if table is None or name not in table:
        if kind == "record":
            ip.budget.fail(
                f"evaluate calls methods only on data (numbers, text, containers, pandas and numpy objects), not on "
                f"'{type(owner).__name__}'; read its attributes instead"
            )
        if table is not None and name in ATTRIBUTES.get(kind, ()):
            raise TypeError(f"'{name}' of a {type(owner).__name__} is an attribute, not a method; use x.{name}")
        ip.budget.fail(method_message(name, type(owner).__name__))
    owner = ip.cross(owner)
    method = ip.external(getattr, (owner, name))
    if getattr(method, "__self__", None) is not owner:
        ip.budget.fail(f"'{name}' on this object is not one of its own methods; evaluate will not call it")
    return call_library(ip, owner, name, method, args, kwargs, table[name])


def call_module(ip: Interpreter, module: types.ModuleType, name: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    table = MODULE_FUNCTIONS.get(module.__name__, {})
    if name not in table:
        ip.budget.fail(module_message(module.__name__, name))
    function = getattr(module, name)
    return call_library(ip, module, name, function, args, kwargs, table[name])


def module_function(ip: Interpreter, module: types.ModuleType, name: str) -> Guarded:
    """`np.sqrt` as a value (s.apply(np.sqrt)): a guarded function whose every call takes the same path."""
    key = f"{module.__name__}.{name}"
    function = ip.module_functions.get(key)
    if function is None:
        target = getattr(module, name)

        def run(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
            ip.entering()
            return call_module(ip, module, name, list(args), dict(kwargs))

        function = ip.gate.own(Guarded(name, run, target=target if isinstance(target, type) else None))
        ip.module_functions[key] = function
    return function


def call_library(
    ip: Interpreter,
    owner: Any,
    name: str,
    function: Any,
    args: list[Any],
    kwargs: dict[str, Any],
    estimator: str | None,
) -> Any:
    arguments = Arguments(function, args, kwargs)
    vouched = check_parameters(arguments, name)
    args, kwargs = arguments.call()
    if type(function).__name__ == "ufunc" and len(args) > function.nin:  # positional outputs, when unsigned
        ip.budget.fail(f"{name}() takes at most {function.nin} positional arguments here; the next ones are outputs")
    args = [a if id(a) in vouched else ip.cross(a) for a in args]
    kwargs = {key: value if id(value) in vouched else ip.cross(value) for key, value in kwargs.items()}
    for value in (*args, *kwargs.values()):  # a container handed over may be converted to an array
        if kind_of(value) in CONTAINERS:
            ip.budget.peak(ip.sizes.expanded(value), f"converting the {type(value).__name__} passed to {name}()")
    parent = ip.gate.parents.get(id(owner))
    site = CallSite(owner, name, args, kwargs, arguments.named() if arguments.has_signature else None, data=parent)
    estimate = ESTIMATORS[estimator](site, ip.sizes) if estimator else 0
    if estimate:
        ip.budget.charge(estimate, f"{name}()")
    copies = estimate_copies(site, ip.sizes)  # Arrow buffers copy what object columns point to
    if copies:
        ip.budget.peak(copies, f"{name}() (the cells it copies, or makes Python strings of)")
    ip.library_copies.append([returned_copies(site), 0])  # what lambdas return to this call: copied by pandas
    try:
        result = ip.external(function, args, kwargs)
    finally:
        ip.library_copies.pop()
    data = owner if kind_of(owner) in ARRAYS else parent
    result = ip.gate.admit_result(result, f"{name}()", parent=data)
    if result is not owner:  # what the estimate missed is charged now, so repeating it cannot go on for free
        ip.budget.charge(max(held_result(result) - estimate, 0), f"{name}()")
    return result


def read_attribute(ip: Interpreter, owner: Any, name: str) -> Any:
    kind = kind_of(owner)
    if kind == "module":
        return module_attribute(ip, owner, name)
    if kind == "record":
        return _record_attribute(ip, owner, name)
    owner = receiver(ip, owner)
    if name == "str" and kind in ("Series", "Index") and python_cells(owner.dtype):
        _text_cells_only(ip, owner)
    if name in ATTRIBUTES.get(kind, ()):
        ip.budget.charge(attribute_estimate(owner, kind, name, ip.sizes), f"'.{name}'")
        value = ip.external(getattr, (owner, name))
    elif name not in METHODS.get(kind, {}) and _is_label(ip, owner, kind, name):
        if looks_secret(name):
            ip.budget.fail(secret_message(name))
        value = ip.external(owner.__getitem__, (name,))  # df.units, row.units, df.groupby("a").units
    elif name in METHODS.get(kind, {}):
        ip.budget.fail(
            f"'{name}' is a method, which evaluate does not hand out as a value; call it as x.{name}(...), or use "
            f"x['{name}'] for a column of that name"
        )
    elif inspect.getattr_static(owner, name, _MISSING) is _MISSING:
        raise AttributeError(f"'{type(owner).__name__}' object has no attribute '{name}'")
    else:
        readable = ", ".join(sorted(ATTRIBUTES.get(kind, ()))[:12]) or "none"
        ip.budget.fail(
            f"evaluate does not read '{name}' on a {type(owner).__name__} (readable attributes: {readable}); use "
            "the allowed methods and attributes"
        )
    data = owner if kind in ARRAYS else ip.gate.parents.get(id(owner))
    result = ip.gate.admit_result(value, f"'.{name}'", parent=data)
    if kind_of(result) in ARRAYS and result is not owner:
        ip.budget.charge(held(result), f"'.{name}'")
    return result


_BOXED = 48  # a cell turned into a Python object: its pointer and a boxed number


def attribute_estimate(owner: Any, kind: str, name: str, sizes: Sizes) -> int:
    """Bytes an attribute builds before it can be charged: a groupby's `groups` and `indices` hold an
    Index or array for every group (a million groups of one row are hundreds of megabytes); `.T` and
    `.values` of a frame whose columns differ in type box every cell as a Python object, and make a
    Python string of every cell of its Arrow-backed columns."""
    if kind == "GroupBy" and name in ("groups", "indices"):
        return int(owner.ngroups) * 600 + len(owner.obj) * 8
    if kind == "DataFrame" and name in ("T", "values"):
        fresh = sizes.fresh(owner) - sizes.fresh(owner.index)
        if owner.dtypes.nunique() > 1:
            return int(owner.size) * _BOXED + fresh
        return int(owner.size) * 8 + fresh if fresh else 0
    return 0


def receiver(ip: Interpreter, owner: Any) -> Any:
    """A pandas or numpy object whose attribute is read, checked first: reading runs library code over it
    (an accessor over its cells, a label lookup that hashes its labels)."""
    return ip.cross(owner) if kind_of(owner) in ARRAYS else owner


def module_attribute(ip: Interpreter, module: types.ModuleType, name: str) -> Any:
    if name in MODULE_CONSTANTS.get(module.__name__, frozenset()):
        return ip.gate.admit(getattr(module, name), name)
    if name in MODULE_FUNCTIONS.get(module.__name__, {}):
        return module_function(ip, module, name)
    ip.budget.fail(module_message(module.__name__, name))


def _record_attribute(ip: Interpreter, owner: Any, name: str) -> Any:
    """A plain object's own attribute, read from its __dict__: no property, __getattr__ or descriptor runs."""
    if looks_secret(name):
        ip.budget.fail(secret_message(name))
    descriptor = instance_dict_descriptor(type(owner))
    attributes = descriptor.__get__(owner, type(owner)) if descriptor is not None else {}
    if type(attributes) is not dict or name not in attributes:
        raise AttributeError(
            f"'{type(owner).__name__}' object has no plain attribute '{name}' (evaluate reads only attributes stored "
            "on the object itself, never properties)"
        )
    return ip.gate.admit(attributes[name], name)


def python_cells(dtype: Any) -> bool:
    """Cells that are Python objects of any class (object columns, categoricals of them). String dtypes hold only
    text, Arrow buffers only Arrow data, and reading an Arrow cell copies it into a new str."""
    return getattr(dtype, "kind", "") == "O" and not (_arrow.is_text(dtype) or _arrow.is_arrow(dtype))


def lookup_peak(ip: Interpreter, labels: list[Any]) -> None:
    """A label lookup builds pandas' hash table of the labels, kept with the index: for Arrow-backed labels a
    table of Python strings, one made for every label."""
    ip.budget.peak(sum(ip.sizes.fresh(axis) for axis in labels if kind_of(axis) == "Index"),
                   "looking up labels (pandas makes a str of every Arrow-backed label)")


def _text_cells_only(ip: Interpreter, owner: Any) -> None:
    """pandas' `.str` calls each cell's own method of the same name (`x.partition(...)`, `x.get(...)`): on an
    array that sorts it in place, on a dict it reads any key. Only text cells (and missing ones) qualify."""
    categories = getattr(owner.dtype, "categories", None)  # a categorical's cells are its categories
    values = owner if categories is None else categories
    cells = set(map(type, values.to_numpy(dtype=object, copy=False) if kind_of(values) == "Series" else values))
    if not cells <= {str, bytes, type(None), float}:
        others = sorted(cls.__name__ for cls in cells - {str, bytes, type(None), float})
        ip.budget.fail(
            f"the .str accessor works on text columns only, and this one also holds {', '.join(others[:3])}; "
            "select the text cells first or use apply with a lambda"
        )


def _is_label(ip: Interpreter, owner: Any, kind: str, name: str) -> bool:
    """`name` is a column (of a frame, or of the frame behind a groupby/resample/rolling) or a Series label."""
    if kind == "DataFrame":
        labels = owner.columns
    elif kind == "Series":
        labels = owner.index
    elif kind in ("GroupBy", "Resampler", "Window"):
        labels = getattr(ip.gate.parents.get(id(owner)), "columns", ())
    else:
        return False
    lookup_peak(ip, [labels])
    try:
        return name in labels
    except Exception:
        return False
