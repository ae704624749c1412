"""A notebook namespace full of canaries, for the hostile-expression tests and the fuzzer.

Every object here records what is done to it: functions and methods record calls, a lazy object
records every dunder the language or a library might run on it, a generator records being advanced,
and the data is hashed before and after. A canary file and a canary environment variable hold unique
text that must never come back in a result or an error.
"""

from __future__ import annotations

import collections
import datetime
import decimal
import functools
import hashlib
import math
import os
import pickle
import secrets
import statistics
import sys
import types
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import pandas as pd

WATCHED_MODULES = ("subprocess", "pty", "ctypes", "socket", "shutil", "webbrowser", "pdb", "code", "urllib.request")


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


def _with_attrs(frame: Any) -> Any:
    frame.attrs["meta"] = LazyConfig(source="crm")  # pandas deep-copies attrs into every result
    return frame


class Session:
    """Looks like an HTTP client: `get` is an allowed method name, but on the wrong kind of object."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def get(self, url: str) -> str:
        self.calls.append(url)
        return url


def _generator(flag: list[int]) -> Any:
    flag.append(1)
    yield 1
    flag.append(2)
    yield 2


def _nested(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def make_sales(rows: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "region": rng.choice(["north", "south", "east", "west"], rows),
            "month": pd.date_range("2024-01-01", periods=rows, freq="D"),
            "product": rng.choice(["apple", "pear", "plum"], rows),
            "units": rng.integers(1, 10, rows),
            "price": rng.uniform(1, 100, rows).round(2),
        }
    )


def frame_digest(frame: pd.DataFrame) -> str:
    parts = [
        pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes(),
        repr(list(frame.columns)).encode(),
        repr(list(frame.dtypes)).encode(),
        repr(frame.attrs).encode(),
        repr(frame.flags.allows_duplicate_labels).encode(),
    ]
    return hashlib.sha256(b"|".join(parts)).hexdigest()


class Canaries:
    """Builds the namespace; `intact()` lists everything that changed since (empty: nothing did)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.file_text = f"CANARY-FILE-{secrets.token_hex(8)}"
        self.env_name = "KIMI_LAB_TEST_CANARY_SECRET"
        self.env_value = f"canary-env-{secrets.token_hex(8)}"
        self.secret = f"sk-canary{secrets.token_hex(12)}"
        self.canary = workdir / "canary.txt"
        self.canary.write_text(self.file_text)
        self.recorder = Recorder()
        self.session = Session()
        self.generator_flag: list[int] = []
        self.record = Record(self.recorder)
        self.memmap_path = workdir / "memmap.bin"
        self.ns = self._namespace()
        Lazy.log = []  # building the namespace hashed some of them
        self.before = self._snapshot()

    def _namespace(self) -> dict[str, Any]:
        self.embeddings = pd.DataFrame(
            {"doc": ["a", "b"], "embedding": [np.array([3.0, 1.0, 2.0]), np.array([9.0, 7.0, 8.0])]}
        )
        r = self.recorder
        memmapped = np.memmap(self.memmap_path, dtype="float64", mode="w+", shape=(4,))
        memmapped[:] = 1.0
        memmapped.flush()
        settings = types.ModuleType("settings")
        settings.token = self.secret  # type: ignore[attr-defined]
        settings.password = self.secret  # type: ignore[attr-defined]
        fake_np = types.ModuleType("numpy")
        fake_np.mean = r  # type: ignore[attr-defined]
        sales = make_sales()
        return {
            "CANARY": str(self.canary),
            "canary_env": self.env_name,
            "sales": sales,
            "xs": [1, 2, 3],
            "words": ["pear", "fig"],
            "d": {"a": 1},
            "dd": collections.defaultdict(int, {"a": 1}),
            "arr": np.arange(10.0),
            "big": np.arange(5_000.0),
            "text": "a" * 10**6,
            "long_text": pd.Series(["ab"] * 5_000),
            "dup": pd.DataFrame({"k": [1] * 3_000, "v": range(3_000)}),
            "wide": pd.DataFrame(np.ones((200, 2_000))),
            "deep": _nested(10_000),
            "np": np,
            "pd": pd,
            "os": os,
            "sys": sys,
            "math": math,
            "statistics": statistics,
            "mods": [os],
            "fake_np": fake_np,
            "settings": settings,
            "user_func": r,
            "funcs": [r],
            "funcs_frame": pd.DataFrame({"f": [open, r]}),
            "holder": types.SimpleNamespace(fn=r),
            "fdict": {"f": r},
            "reader": functools.partial(open, mode="r"),
            "open": open,
            "print": print,
            "session": self.session,
            "counter": iter(range(10)),
            "gen": _generator(self.generator_flag),
            "rec": self.record,
            "callable_rec": CallableRecord(r),
            "configs": [Config(self.secret, r)],
            "rec_with_key": Config(self.secret, r),
            "lazy": Lazy(),
            "cfg": {"api_key": self.secret, "password": self.secret, "host": "db.internal"},
            "OPENAI_API_KEY": self.secret,
            "openai_key": self.secret,
            "private_key": self.secret,
            "AZURE_OPENAI_KEY": self.secret,
            "AWS_ACCESS_KEY_ID": self.secret,
            "DB_PASS": self.secret,
            "Authorization": f"Bearer {self.secret}",
            "In": ["", f"key = '{self.secret}'"],
            "Out": {1: self.secret},
            "_i1": f"key = '{self.secret}'",
            "_ih": ["", f"key = '{self.secret}'"],
            "_oh": {1: self.secret},
            "_": self.secret,
            "__": self.secret,
            "_1": self.secret,
            "get_ipython": r,
            "exit": r,
            "memmapped": memmapped,
            "masked": np.ma.masked_array([1.0, 2.0], mask=[False, True]),
            "view_obj": np.recarray((2,), dtype=[("a", "f8")]),
            "fileobj": open(self.canary),
            # found by the red team (round 1): user code reached through labels, names, attrs, zones, cells
            "embeddings": self.embeddings,
            "by_object": pd.Series([1, 2], index=pd.Index([Lazy(), "b"], dtype=object)),
            "named": pd.Series([1.0, 2.0], name=Lazy()),
            "attrs_frame": _with_attrs(pd.DataFrame({"a": [1, 2]})),
            "attrs_series": _with_attrs(pd.Series([1, 2])),
            "when": datetime.datetime(2024, 1, 1, tzinfo=UserZone()),
            "zoned": pd.Series(pd.to_datetime(["2024-01-01"]).tz_localize("UTC")).dt.tz_convert(UserZone()),
            "point": Point(1, 2),
            "db_row": DBRow("db.internal", "admin", self.secret),
            "conn": {"host": "db", "user": "admin", "pass": self.secret},
            "bytes_cfg": {b"api_key": self.secret},
            "cfg_items": {"api_key": self.secret, "host": "x"}.items(),
            "cfg_series": pd.Series({"api_key": self.secret, "host": "x"}),
            "hooked_keys": {Lazy(): "int64"},
            "clients": pd.Series([LookalikeClient()], dtype=object),
            "mock_cells": pd.Series([ClassProperty()], dtype=object),
            "secret_cells": pd.DataFrame({"meta": [{"api_key": self.secret, "host": "x"}], "n": [1]}),
            "price": decimal.Decimal("2.0"),
            "metered": Metered(),
            "gb": sales.groupby("region"),
            "acc": sales.region.str,
        }

    def _snapshot(self) -> dict[str, Any]:
        ns = self.ns
        return {
            "sales": frame_digest(ns["sales"]),
            "dup": frame_digest(ns["dup"]),
            "long_text": frame_digest(ns["long_text"].to_frame()),
            "arr": (ns["arr"].tobytes(), ns["arr"].flags.writeable),
            "big": ns["big"].tobytes(),
            "memmap": self.memmap_path.read_bytes(),
            "embeddings": [v.tobytes() for v in ns["embeddings"].embedding],
            "decimal": repr(decimal.getcontext().flags),
            "plain": pickle.dumps([ns["xs"], ns["words"], ns["d"], dict(ns["dd"]), ns["cfg"], ns["In"], ns["Out"]]),
            "files": sorted(p.name for p in self.workdir.iterdir()),
            "cwd": sorted(os.listdir(os.getcwd())),
            "canary": self.canary.read_text(),
            "environ": {k: v for k, v in os.environ.items() if k != "PYTEST_CURRENT_TEST"},
            "modules": {m for m in WATCHED_MODULES if m in sys.modules},
        }

    def intact(self) -> list[str]:
        """What changed, by name; [] when every canary is as it was."""
        now = self._snapshot()
        changed = [key for key in self.before if key != "modules" and now[key] != self.before[key]]
        if now["modules"] - self.before["modules"]:
            changed.append(f"imported {sorted(now['modules'] - self.before['modules'])}")
        if self.recorder.calls:
            changed.append(f"user function called {self.recorder.calls[:3]}")
        if self.session.calls:
            changed.append("user session used")
        if self.generator_flag:
            changed.append("user generator advanced")
        if self.record.property_calls:
            changed.append("user property ran")
        if Lazy.log:
            changed.append(f"user object hooks ran: {sorted(set(Lazy.log))}")
        if self.ns["counter"].__length_hint__() != 10:
            changed.append("user iterator advanced")
        return changed

    def leaked(self, text: str) -> list[str]:
        """Secret canary text found in `text`."""
        found = [name for name, value in (("file", self.file_text), ("env", self.env_value), ("secret", self.secret))
                 if value in text]
        return found

    def close(self) -> None:
        self.ns["fileobj"].close()
