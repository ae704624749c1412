"""Binding one library call's arguments to the parameter names they fill, so rules apply by name.

Positional arguments are named from the callee's signature (cached without keeping the receiver
alive); `_guards.check_parameters` then applies the rule of every name.
"""

from __future__ import annotations

import inspect
import types
from typing import Any

_NO_SIGNATURE = object()
_signatures: dict[tuple[Any, ...], tuple[Any, Any]] = {}


def signature_of(function: Any) -> Any:
    """The callee's signature (cached), or None when it has none (some C methods).

    Cached by what stays the same from call to call: a Python method by its function, a C method by its
    class and name. Never by the bound method itself, which would keep its receiver (the user's data)
    alive for as long as the kernel runs.
    """
    target = getattr(function, "__func__", None)
    owner = getattr(function, "__self__", None)
    if target is not None:
        key: tuple[Any, ...] = ("function", id(target))
        keep = target
    elif owner is not None and not isinstance(owner, (type, types.ModuleType)):
        keep = type(owner)
        key = ("method", id(keep), str(getattr(function, "__name__", "")))
    else:
        key, keep = ("callable", id(function)), function
    hit = _signatures.get(key)
    if hit is not None and hit[0] is keep:
        return None if hit[1] is _NO_SIGNATURE else hit[1]
    try:
        signature: Any = inspect.signature(function)
    except (TypeError, ValueError):
        signature = _NO_SIGNATURE
    if len(_signatures) > 4096:
        _signatures.clear()
    _signatures[key] = (keep, signature)
    return None if signature is _NO_SIGNATURE else signature


class Arguments:
    """One call's arguments, bound to the callee's parameter names where it has a signature.

    Without a signature only keywords are named; such callees are C methods of str, bytes and the
    datetime types, whose positional parameters the estimators read by position.
    """

    def __init__(self, function: Any, args: list[Any], kwargs: dict[str, Any]) -> None:
        signature = signature_of(function)
        self._bound: Any = None
        self._args, self._kwargs = list(args), dict(kwargs)
        self._var_keyword: str | None = None
        self._var_positional: str | None = None
        if signature is not None:
            try:
                self._bound = signature.bind(*args, **kwargs)
            except TypeError as exc:
                raise TypeError(str(exc)) from None
            for name, parameter in signature.parameters.items():
                if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                    self._var_keyword = name
                elif parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                    self._var_positional = name

    @property
    def has_signature(self) -> bool:
        return self._bound is not None

    def named(self) -> dict[str, Any]:
        """Explicitly passed parameters by name (positional ones included), then keywords for **kwargs."""
        if self._bound is None:
            return dict(self._kwargs)
        out: dict[str, Any] = {}
        for name, value in self._bound.arguments.items():
            if name == self._var_keyword:
                out.update(value)
            elif name != self._var_positional:
                out[name] = value
        return out

    def passed_on(self) -> dict[str, Any]:
        """The keywords collected by **kwargs (pandas hands them to the function it calls)."""
        if self._bound is None or self._var_keyword is None:
            return {}
        return dict(self._bound.arguments.get(self._var_keyword, {}))

    def replace(self, name: str, value: Any) -> None:
        if self._bound is None:
            self._kwargs[name] = value
        elif name in self._bound.arguments and name != self._var_keyword:
            self._bound.arguments[name] = value
        else:
            self._bound.arguments[self._var_keyword][name] = value

    def call(self) -> tuple[list[Any], dict[str, Any]]:
        if self._bound is None:
            return self._args, self._kwargs
        return list(self._bound.args), dict(self._bound.kwargs)
