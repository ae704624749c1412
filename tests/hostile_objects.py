"""The user's objects in the canary namespace: each records what is done to it.

Functions and methods record calls, a lazy object records every dunder the language or a library might
run on it, a user time zone, a typed tuple, a mock-style object and a metaclass record their hooks.
`hostile_namespace` puts them among the user's data.
"""

from __future__ import annotations

import collections
import datetime
from typing import Any, ClassVar, NamedTuple

import numpy as np


class Recorder:
    """A notebook function: any call shows up in `calls`."""

    def __init__(self) -> None:
        self.calls: list[Any] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(args)
        return args


class Lazy:
    """An object whose every hook records that it ran (user code evaluate must never run)."""

    log: ClassVar[list[str]] = []

    def _hit(self, name: str) -> Any:
        Lazy.log.append(name)
        return 1

    def __repr__(self) -> str:
        self._hit("repr")
        return "Lazy()"

    def __str__(self) -> str:
        self._hit("str")
        return "Lazy"

    def __format__(self, spec: str) -> str:
        self._hit("format")
        return "Lazy"

    def __eq__(self, other: object) -> bool:
        return bool(self._hit("eq"))

    def __hash__(self) -> int:
        return int(self._hit("hash"))

    def __len__(self) -> int:
        return int(self._hit("len"))

    def __bool__(self) -> bool:
        return bool(self._hit("bool"))

    def __add__(self, other: Any) -> Any:
        return self._hit("add")

    def __lt__(self, other: Any) -> bool:
        return bool(self._hit("lt"))

    def __iter__(self) -> Any:
        self._hit("iter")
        return iter([])

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        self._hit("array")
        return np.zeros(1)


class Record:
    """A plain user object: a property and a stored function that must never run."""

    def __init__(self, loader: Recorder) -> None:
        self.name = "rec"
        self.loader = loader
        self.property_calls = 0

    @property
    def total(self) -> int:
        self.property_calls += 1
        return 1


class Config:
    def __init__(self, key: str, recorder: Recorder) -> None:
        self.api_key = key
        self.region = "north"
        self._recorder = recorder

    def load(self) -> Any:
        return self._recorder("load")


class CallableRecord:
    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder

    def __call__(self, *args: Any) -> Any:
        return self.recorder(*args)


class LazyConfig:
    """A Box/EasyDict-style config: attribute reads run the user's __getattr__ (it records them)."""

    def __init__(self, **values: Any) -> None:
        self.__dict__["_values"] = dict(values)

    def __getattr__(self, name: str) -> Any:
        Lazy.log.append(f"getattr:{name}")
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(name) from None


class UserZone(datetime.tzinfo):
    """A time zone written by the user: its methods run whenever a time is printed or converted."""

    def utcoffset(self, dt: Any) -> datetime.timedelta:
        Lazy.log.append("tz.utcoffset")
        return datetime.timedelta(hours=1)

    def dst(self, dt: Any) -> datetime.timedelta:
        return datetime.timedelta(0)

    def tzname(self, dt: Any) -> str:
        Lazy.log.append("tz.tzname")
        return "UZ"


class Point(NamedTuple):
    """A typed tuple with its own __repr__: user code, not namedtuple's."""

    x: int
    y: int

    def __repr__(self) -> str:
        Lazy.log.append("Point.__repr__")
        return "P"


class ClassProperty:
    """Mock-style objects answer `__class__` from a property."""

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        Lazy.log.append("__class__")
        return str


class LookalikeClient:
    """Methods named like str's: pandas' .str calls each cell's method of the same name."""

    def upper(self) -> str:
        Lazy.log.append("Client.upper")
        return "X"

    def get(self, key: Any) -> str:
        Lazy.log.append("Client.get")
        return "X"


class LoudMeta(type):
    """A metaclass whose == records: `type(x) in (int, str)` would run it."""

    def __eq__(cls, other: object) -> bool:
        Lazy.log.append("metaclass.__eq__")
        return False

    __hash__ = type.__hash__


class Metered(metaclass=LoudMeta):
    pass


DBRow = collections.namedtuple("DBRow", "host user password")


def with_attrs(frame: Any) -> Any:
    frame.attrs["meta"] = LazyConfig(source="crm")  # pandas deep-copies attrs into every result
    return frame


class Session:
    """Looks like an HTTP client: `get` is an allowed method name, but on the wrong kind of object."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def get(self, url: str) -> str:
        self.calls.append(url)
        return url


def loud_arrow() -> Any:
    """A column of an Arrow extension type written in Python: reading a cell runs its scalar class (recorded)."""
    import pandas as pd
    import pyarrow as pa

    class LoudScalar(pa.ExtensionScalar):
        def as_py(self, *args: Any, **kwargs: Any) -> Any:
            Lazy.log.append("arrow extension as_py")
            return "loud"

    class LoudType(pa.ExtensionType):
        def __init__(self) -> None:
            super().__init__(pa.string(), "kimi_lab.test.loud")

        def __arrow_ext_serialize__(self) -> bytes:
            return b""

        @classmethod
        def __arrow_ext_deserialize__(cls, storage_type: Any, serialized: bytes) -> Any:
            return cls()

        def __arrow_ext_scalar_class__(self) -> Any:
            Lazy.log.append("arrow extension scalar class")
            return LoudScalar

    cells = pa.ExtensionArray.from_storage(LoudType(), pa.array(["a", "b"]))
    return pd.Series(cells, dtype=pd.ArrowDtype(LoudType()))
