"""The one rule for which notebook variables the model may see, shared by every tool and `{name}`.

Listing, describing, evaluating and interpolating used to filter separately, so whatever one forgot leaked:
IPython's history (`In`, `_i3`, `Out`, `_oh`) holds every key ever typed in a cell, `describe_variable`
showed modules and `_` names the listing hid. Now each asks `hidden_reason(name, value)`.

Hidden: every `_` name (IPython's `_`, `__`, `_i3`, `_3`, `_oh`, `_ih`, `_dh`, private names); IPython's
`In`, `Out`, `exit`, `quit`, `get_ipython` and its own `open`; modules (a settings module is full of keys);
secret-looking names (`kimi_lab.common.secrets.looks_secret`); and strings whose value is a secret (a known key,
a URL with a password, a token of a known shape: `kimi_lab.common.secrets.looks_secret_value`).

The check is cheap enough to run for every name an expression reads: no container is scanned, and a long
string is judged by its two ends. Nothing here imports pandas or numpy.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
import types
from typing import Any, Iterable, Mapping

from kimi_lab.common.secrets import looks_secret, looks_secret_value, secret_values

__all__ = ["hidden_reason", "known_secrets", "refusal", "user_variables"]

SECRET_NAME = "its name looks like a secret (API key, token, password, credential)"
SECRET_VALUE = "its value looks like a secret (a key, token, password or credential URL)"
INPUT_HISTORY = "it is IPython's input history"
OUTPUT_HISTORY = "it is IPython's output history"
IPYTHON_HELPER = "it is one of IPython's helpers"
MODULE = "it is a module"
PRIVATE = "its name starts with an underscore"

_IPYTHON_NAMES = {"In": INPUT_HISTORY, "Out": OUTPUT_HISTORY, "exit": IPYTHON_HELPER, "quit": IPYTHON_HELPER,
                  "get_ipython": IPYTHON_HELPER}
_INPUT_NAMES = re.compile(r"_i+|_i\d+|_ih")
_OUTPUT_NAMES = re.compile(r"_+|_\d+|_oh")
_IPYTHON_MODULES = ("IPython", "ipykernel")


def _origin(value: Any) -> str:
    """Module a function or class was defined in; for other callables, their type's module."""
    try:
        if isinstance(value, type) or inspect.isroutine(value):
            return str(getattr(value, "__module__", "") or "")
        return str(type(value).__module__ or "")
    except Exception:
        return ""


def _ipython_dirs() -> tuple[str, ...]:
    files = (getattr(sys.modules.get(name), "__file__", None) for name in _IPYTHON_MODULES)
    return tuple(os.path.dirname(f) + os.sep for f in files if f)


def _from_ipython(value: Any) -> bool:
    """IPython's own helpers (exit, quit, get_ipython, its `open`) are not the user's data.

    IPython's `open` wraps io.open with functools.wraps, so only its code's file gives it away.
    """
    if not callable(value):
        return False
    if _origin(value).split(".")[0] in _IPYTHON_MODULES:
        return True
    dirs = _ipython_dirs()
    return bool(dirs) and inspect.isfunction(value) and value.__code__.co_filename.startswith(dirs)


def _underscore_reason(name: str) -> str:
    if _INPUT_NAMES.fullmatch(name):
        return INPUT_HISTORY
    if _OUTPUT_NAMES.fullmatch(name):
        return OUTPUT_HISTORY
    if name == "_dh":
        return "it is IPython's directory history"
    return PRIVATE


def hidden_reason(name: str, value: Any, *, known: Iterable[str] | None = None) -> str | None:
    """None if the model may see variable `name` holding `value`; else why not, as a short phrase that
    fits "'x' is not available: <reason>." `known`: the known secret values, when checking many names
    at once (default: `kimi_lab.common.secrets.secret_values()` plus `KimiLab.secret_env`)."""
    if name in _IPYTHON_NAMES:
        return _IPYTHON_NAMES[name]
    if name.startswith("_"):
        return _underscore_reason(name)
    if looks_secret(name):
        return SECRET_NAME
    if issubclass(type(value), types.ModuleType):
        return MODULE
    if _from_ipython(value):
        return IPYTHON_HELPER
    cls = type(value)
    if issubclass(cls, (str, bytes, bytearray)):
        text = str.__str__(value) if issubclass(cls, str) else memoryview(value)[:65_536].tobytes().decode(
            "utf-8", "replace")
        if looks_secret_value(text, known_secrets() if known is None else known):
            return SECRET_VALUE
    return None


def known_secrets() -> list[str]:
    """The secret values the value rule looks for: the environment's and `KimiLab.secret_env`'s."""
    from kimi_lab.settings.config import settings

    return secret_values(extra_names=settings().secret_env)


def refusal(name: str, reason: str) -> str:
    """The one-line message a tool gives when asked for a hidden variable."""
    return f"{name!r} is not available: {reason}. Call list_variables to see the variables you can use."


def user_variables(namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The variables the model may see, in namespace order (see `hidden_reason`).

    User functions and classes stay: the model may need to call or explain them.
    """
    known = known_secrets()
    return {name: value for name, value in list(namespace.items())
            if isinstance(name, str) and hidden_reason(name, value, known=known) is None}
