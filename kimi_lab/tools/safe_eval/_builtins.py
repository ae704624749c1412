"""The allowed builtins, as evaluate runs them.

Each is a guarded function: its arguments must be data (checked all the way down: `sorted` compares
elements, `str` formats them), what it iterates is counted, what it builds is charged, and the
functions it is given (map, filter, key=) are only the expression's own lambdas and these builtins.
The lazy ones (map, filter, zip, enumerate, reversed) return iterators that admit every item they
yield, so nothing unchecked comes out of them either.
"""

from __future__ import annotations

import builtins
import functools
import inspect
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Callable

from kimi_lab.tools.safe_eval import _limits
from kimi_lab.tools.safe_eval._allowlists import ALLOWED_BUILTINS, CODECS
from kimi_lab.tools.safe_eval._estimate_text import sort_work
from kimi_lab.tools.safe_eval._kinds import Guarded, kind_of
from kimi_lab.tools.safe_eval._operators import guard_pow
from kimi_lab.tools.safe_eval._sizes import POINTER, SCALAR_BYTES, held, held_result

if TYPE_CHECKING:
    from kimi_lab.tools.safe_eval._interpreter import Interpreter

_TYPES = {"bool": bool, "dict": dict, "float": float, "frozenset": frozenset, "int": int, "list": list,
          "range": range, "set": set, "str": str, "tuple": tuple, "enumerate": enumerate, "filter": filter,
          "map": map, "reversed": reversed, "zip": zip}


def make_builtins(ip: Interpreter) -> dict[str, Guarded]:
    """One guarded function per allowed builtin, bound to this evaluation."""
    table: dict[str, Guarded] = {}
    for name in sorted(ALLOWED_BUILTINS):
        implementation = IMPLEMENTATIONS[name]

        def run(args: tuple[Any, ...], kwargs: dict[str, Any], impl: Callable[..., Any] = implementation) -> Any:
            ip.entering()
            return impl(ip, list(args), dict(kwargs))

        table[name] = ip.gate.own(Guarded(name, run, target=_TYPES.get(name), signature=_signature(name)))
    return table


@functools.cache
def _signature(name: str) -> Any:
    """The builtin's signature, for library code that inspects the functions it is given (parsed once:
    inspect reads builtins' signatures from their docstrings, about 0.3 ms each)."""
    try:
        return inspect.signature(getattr(builtins, name))
    except (TypeError, ValueError):
        return None


def _data(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    return [ip.cross(a, library=False) for a in args], {k: ip.cross(v, library=False) for k, v in kwargs.items()}


def _built(ip: Interpreter, value: Any, what: str) -> Any:
    ip.budget.charge(held_result(value), what)
    return value


def _plain(name: str) -> Callable[[Interpreter, list[Any], dict[str, Any]], Any]:
    """Builtins whose result is a number or bool of the size of their input: len, abs, divmod, int, float, bool."""

    def run(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> Any:
        args, kwargs = _data(ip, args, kwargs)
        if name in ("abs", "divmod") and args:  # over an array: a new array (two for divmod) as big as it
            ip.budget.charge(held(args[0]) * (2 if name == "divmod" else 1), f"{name}()")
        return ip.gate.admit_result(ip.external(getattr(builtins, name), args, kwargs), f"{name}()")

    return run


def _text(name: str) -> Callable[[Interpreter, list[Any], dict[str, Any]], Any]:
    """str() and repr() print their argument: priced by what it renders to before it is printed."""

    def run(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> Any:
        args, kwargs = _data(ip, args, kwargs)
        if len(args) > 1 or kwargs:  # str(b, encoding): only text codecs (escape codecs grow text tenfold)
            encoding = args[1] if len(args) > 1 else kwargs.get("encoding", "utf-8")
            check_parameters_for_codec(encoding)
        if args:
            ip.budget.charge(ip.sizes.rendered(args[0]), f"{name}()")
        return ip.external(getattr(builtins, name), args, kwargs)

    return run


def check_parameters_for_codec(encoding: Any) -> None:
    if not isinstance(encoding, str) or encoding.lower() not in CODECS:
        raise TypeError("str() decodes only with text codecs such as 'utf-8', 'ascii' or 'latin-1' in evaluate")


def _collect(name: str) -> Callable[[Interpreter, list[Any], dict[str, Any]], Any]:
    """list, tuple, set, frozenset, dict, sorted: run the iterable to its end (counted), charge what they hold.

    A sized source is priced before it is read: every item gets a pointer, and items that iteration makes
    anew (the characters of a string, the scalars of an array) their own object. `sorted` computes its
    keys first, then checks what comparing them would cost before the C sort runs (it never checks for
    the tool's time limit)."""

    def run(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> Any:
        key = kwargs.pop("key", None)
        key = None if key is None else ip.cross(key, library=False)
        if name == "dict" and kwargs and not args:
            return _built(ip, dict(_data(ip, [], kwargs)[1]), "dict()")
        if args:
            ip.budget.charge(_materialised(args[0]), f"{name}()")
        source = ip.iterate(args[0]) if args else iter(())
        if name in ("set", "frozenset", "dict") or (name == "sorted" and key is None):
            source = (ip.cross(item, library=False) for item in source)  # hashed or compared: data only
        items = list(source)
        if name in ("set", "frozenset"):
            ip.gate.colliding_ints(items)
        elif name == "dict":
            ip.gate.colliding_ints(pair[0] for pair in items if type(pair) is tuple and len(pair) == 2)
        if name == "sorted":
            keys = items if key is None else [ip.cross(key(item), library=False) for item in items]
            sort_work(sum(map(_text_bytes, keys)), len(keys))
            order = ip.external(sorted, (range(len(keys)),), {"key": keys.__getitem__, **kwargs})
            return _built(ip, [items[i] for i in order], "sorted()")
        if name == "dict":
            extra = _data(ip, [], kwargs)[1]
            return _built(ip, ip.external(dict, (items,), extra), "dict()")
        return _built(ip, ip.external(getattr(builtins, name), (items,)), f"{name}()")

    return run


def _materialised(source: Any) -> int:
    """Bytes reading a sized source into a list makes: a pointer per item, and the items iteration creates."""
    kind = kind_of(source)
    if kind == "str":
        return len(source) * (POINTER + (0 if source.isascii() else 80))  # one-character strings above Latin-1
    if kind in ("ndarray", "Series", "Index", "Categorical", "ExtensionArray"):
        return len(source) * (POINTER + SCALAR_BYTES)
    if kind in ("bytes", "list", "tuple", "set", "frozenset", "dict", "counter", "deque", "view", "range"):
        return len(source) * POINTER
    return 0


def _text_bytes(key: Any) -> int:
    if kind_of(key) in ("str", "bytes", "npscalar"):
        return len(key)
    if kind_of(key) == "tuple":
        return sum(map(_text_bytes, key))
    return 8


def _reduce(name: str) -> Callable[[Interpreter, list[Any], dict[str, Any]], Any]:
    """min, max, sum, any, all: consume counted items; sum refuses list/str starts (quadratic)."""

    def run(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> Any:
        if name in ("min", "max") and kwargs.get("key") is not None:
            kwargs["key"] = ip.cross(kwargs["key"], library=False)
        kwargs = {k: (v if k == "key" else ip.cross(v, library=False)) for k, v in kwargs.items()}
        if name == "sum":
            start = args[1] if len(args) > 1 else kwargs.get("start", 0)
            if kind_of(start) in ("str", "bytes", "list", "tuple"):
                ip.budget.fail(
                    "sum() with a list or string start is not allowed in evaluate (it is quadratic); use a "
                    "comprehension or ''.join(...)"
                )
        if name in ("min", "max") and len(args) > 1:
            items: Any = [ip.cross(a, library=False) for a in args]
            return ip.external(getattr(builtins, name), items, kwargs)
        source = (ip.cross(item, library=False) for item in ip.iterate(args[0])) if args else iter(())
        rest = [ip.cross(a, library=False) for a in args[1:]]
        result = ip.gate.admit_result(ip.external(getattr(builtins, name), (source, *rest), kwargs), f"{name}()")
        return _built(ip, result, f"{name}()")

    return run


def _map(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> Iterator[Any]:
    function = ip.cross(args[0], library=False)
    sources = [ip.iterate(a) for a in args[1:]]
    return ip.gate.mark(ip.admitting(function(*items) for items in zip(*sources)))  # noqa: B905


def _filter(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> Iterator[Any]:
    function = None if args[0] is None else ip.cross(args[0], library=False)
    source = ip.iterate(args[1])
    if function is None:
        return ip.gate.mark(ip.admitting(item for item in source if ip.truth(item)))
    return ip.gate.mark(ip.admitting(item for item in source if ip.truth(function(item))))


def _zip(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> Iterator[Any]:
    sources = [ip.iterate(a) for a in args]
    return ip.gate.mark(ip.admitting(zip(*sources, strict=bool(kwargs.get("strict", False)))))


def _enumerate(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> Iterator[Any]:
    start = args[1] if len(args) > 1 else kwargs.get("start", 0)
    if type(start) is not int:
        raise TypeError("enumerate() start must be an integer")
    return ip.gate.mark(ip.admitting(enumerate(ip.iterate(args[0]), start)))


def _reversed(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> Iterator[Any]:
    sequence = ip.cross(args[0], library=False)
    if kind_of(sequence) not in ("list", "tuple", "str", "bytes", "range", "deque", "view", "dict"):
        raise TypeError(f"'{type(sequence).__name__}' object is not reversible in evaluate; use [::-1]")
    return ip.gate.mark(ip.admitting(ip.budget.counting(reversed(sequence))))


def _range(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> range:
    if any(type(a) is not int for a in args) or kwargs:
        raise TypeError("range() takes one to three integers")
    return range(*args)


def _pow(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> Any:
    args, kwargs = _data(ip, args, kwargs)
    guard_pow(ip, *args[:3], **{k: v for k, v in kwargs.items() if k in ("base", "exp", "mod")})
    return _built(ip, ip.gate.admit_result(ip.external(pow, args, kwargs), "pow()"), "pow()")


def _round(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> Any:
    args, kwargs = _data(ip, args, kwargs)
    digits = args[1] if len(args) > 1 else kwargs.get("ndigits")
    if type(digits) is int and abs(digits) > _limits.MAX_WIDTH:
        ip.budget.fail(f"round() to more than {_limits.MAX_WIDTH:,} digits is not allowed in evaluate; use fewer")
    return _built(ip, ip.gate.admit_result(ip.external(round, args, kwargs), "round()"), "round()")


def _isinstance(ip: Interpreter, args: list[Any], kwargs: dict[str, Any]) -> bool:
    if len(args) != 2 or kwargs:
        raise TypeError("isinstance expected 2 arguments")
    value, classes = args
    wanted = classes if kind_of(classes) == "tuple" else (classes,)
    types = []
    for cls in wanted:
        if not isinstance(cls, Guarded) or not isinstance(cls.target, type):
            raise TypeError("isinstance() arg 2 must be a builtin type such as int or str, or pd.DataFrame")
        types.append(cls.target)
    # issubclass on the real class: isinstance() would also ask the object for __class__, which can be a property
    return is_type(value, types)


def is_type(value: Any, types: list[type]) -> bool:
    """By identity and issubclass on the real class: `in` would compare with ==, which a metaclass can define,
    and isinstance() would ask the object for __class__, which can be a property."""
    return any(type(value) is t for t in types) or any(
        issubclass(type(value), t) for t in types if t.__module__ == "builtins"
    )


IMPLEMENTATIONS: dict[str, Callable[[Interpreter, list[Any], dict[str, Any]], Any]] = {
    **{name: _plain(name) for name in ("abs", "bool", "divmod", "float", "int", "len")},
    **{name: _text(name) for name in ("str", "repr")},
    **{name: _collect(name) for name in ("list", "tuple", "set", "frozenset", "dict", "sorted")},
    **{name: _reduce(name) for name in ("min", "max", "sum", "any", "all")},
    "map": _map,
    "filter": _filter,
    "zip": _zip,
    "enumerate": _enumerate,
    "reversed": _reversed,
    "range": _range,
    "pow": _pow,
    "round": _round,
    "isinstance": _isinstance,
}
