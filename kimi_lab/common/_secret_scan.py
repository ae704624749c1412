"""Which secrets a notebook's variables hold, found without running any of the user's code.

A key read into `cfg["api_key"]` or `client.token` is as secret as one in the environment, and a model
that can read other variables may still meet it (echoed in a log, a DataFrame cell, a printed config).
Knowing the value lets scrubbing catch it in every encoding. The scan is bounded (depth, entries, characters,
a total budget), reads containers through their built-in base methods and objects through their instance
`__dict__` slot, so no property, `__getattr__`, `__iter__` override or `__repr__` runs, and it never walks
DataFrames, arrays or tensors. It runs on the asking thread, so a namespace changing under it is tolerated.
"""

from __future__ import annotations

import itertools
import types
from typing import Any, Iterable, Mapping

TEXT_LIMIT = 4_096  # characters of each string searched for credential shapes (and longest value kept)
PER_CONTAINER = 200  # entries read from one dict, list or object
DEPTH = 2  # containers at depth 0 (the variable) and 1 are opened; values at depth 2 are read, not opened
HISTORY = 200  # most recent input cells searched
_DATA_ROOTS = frozenset({"pandas", "numpy", "polars", "pyarrow", "torch", "tensorflow", "jax", "jaxlib",
                         "scipy", "xarray", "dask", "sklearn", "matplotlib", "PIL"})


def instance_dict(obj: Any) -> dict[str, Any]:
    """An object's own attributes from its `__dict__` slot, without attribute lookup on the object."""
    for klass in type(obj).__mro__:
        slot = vars(klass).get("__dict__")
        if isinstance(slot, types.GetSetDescriptorType):
            try:
                found = slot.__get__(obj, type(obj))
            except Exception:
                return {}
            return found if isinstance(found, dict) else {}
    return {}


def _module_root(cls: type) -> str:
    return str(getattr(cls, "__module__", "") or "").split(".")[0]


class _Scan:
    def __init__(self, budget: int) -> None:
        from kimi_lab.common.secrets import credentials_in, looks_secret

        self.found: set[str] = set()
        self.budget = budget
        self.credentials_in, self.looks_secret = credentials_in, looks_secret

    def text(self, value: str, secret_name: bool) -> None:
        if secret_name and len(value) <= TEXT_LIMIT:
            self.found.update({value, value.strip()})
        self.found.update(self.credentials_in(value[:TEXT_LIMIT]))

    def entries(self, pairs: Iterable[tuple[Any, Any]], secret_name: bool, depth: int) -> None:
        for key, value in itertools.islice(pairs, PER_CONTAINER):
            named = secret_name or (isinstance(key, str) and self.looks_secret(key))
            self.visit(value, named, depth + 1)

    def visit(self, value: Any, secret_name: bool, depth: int) -> None:
        if self.budget <= 0:
            return
        self.budget -= 1
        cls = type(value)
        if issubclass(cls, str):
            self.text(str.__str__(value), secret_name)
        elif issubclass(cls, (bytes, bytearray)):
            self.text(memoryview(value)[:TEXT_LIMIT].tobytes().decode("utf-8", "replace"), secret_name)
        elif depth >= DEPTH or issubclass(cls, (type, types.ModuleType)) or _module_root(cls) in _DATA_ROOTS:
            return
        elif issubclass(cls, dict):
            self.entries(dict.items(value), secret_name, depth)
        elif issubclass(cls, (list, tuple)):
            items = list.__iter__(value) if issubclass(cls, list) else tuple.__iter__(value)
            self.entries(((None, v) for v in items), secret_name, depth)
        elif issubclass(cls, (set, frozenset)):
            self.entries(((None, v) for v in (set.__iter__(value) if issubclass(cls, set)
                                                else frozenset.__iter__(value))), secret_name, depth)
        elif _module_root(cls) != "builtins":
            self.entries(instance_dict(value).items(), secret_name, depth)


def scan(namespace: Mapping[str, Any], budget: int) -> set[str]:
    """Every secret value the namespace's variables hold (see `kimi_lab.common.secrets.namespace_secrets`)."""
    state = _Scan(budget)
    try:
        items = list(namespace.items())
    except Exception:  # a namespace changing on another thread: nothing found this time
        return state.found
    for name, value in items:
        if not isinstance(name, str):
            continue
        try:
            if name in ("In", "_ih") and isinstance(value, list):
                for cell in list.__getitem__(value, slice(-HISTORY, None)):
                    if isinstance(cell, str):
                        state.text(cell, False)
            elif not name.startswith("_"):
                state.visit(value, state.looks_secret(name), 0)
        except RuntimeError:  # changed size during iteration (another thread): skip this variable
            continue
    return state.found
