"""A notebook namespace full of canaries, for the hostile-expression tests and the fuzzer.

Every object here records what is done to it (the user's objects are in `hostile_objects`): functions
and methods record calls, a lazy object records every dunder the language or a library might run on
it, a generator records being advanced, and the data is hashed before and after. A canary file and a
canary environment variable hold unique text that must never come back in a result or an error.

Text is built in one of two storages (`STORAGES`), so every hostile expression is tried on both:
"python" keeps the user's text columns as object columns of Python strings (and `long_text` as
`string[python]`), and makes the strings an expression creates `string[python]`; "pyarrow" keeps them
in Arrow buffers (pandas 3's default `str` with pyarrow installed, and `long_text` as
`ArrowDtype(pa.large_string())`). Whatever the storage, the namespace also holds one small frame of
each (`texts`).
"""

from __future__ import annotations

import collections
import contextlib
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .hostile_objects import (
    CallableRecord,
    ClassProperty,
    Config,
    DBRow,
    Lazy,
    LookalikeClient,
    Metered,
    Point,
    Record,
    Recorder,
    Session,
    UserZone,
    loud_arrow,
    with_attrs,
)

try:
    import pyarrow as pa
except ImportError:  # the Arrow storage is tried only where pyarrow is installed
    pa = None

WATCHED_MODULES = ("subprocess", "pty", "ctypes", "socket", "shutil", "webbrowser", "pdb", "code", "urllib.request")
STORAGES = ("python", "pyarrow") if pa is not None else ("python",)


def text_dtype(storage: str | None) -> Any:
    """The dtype of the user's text columns: object (Python strings) or pandas' Arrow-backed `str`."""
    if storage is None:
        return None  # pandas' own choice
    return object if storage == "python" else pd.StringDtype("pyarrow", na_value=np.nan)


def long_text_dtype(storage: str | None) -> Any:
    """The other string dtype of each storage: `string[python]`, or `ArrowDtype(large_string)` (dtype.kind "U")."""
    if storage is None:
        return None
    return pd.StringDtype("python", na_value=np.nan) if storage == "python" else pd.ArrowDtype(pa.large_string())


@contextlib.contextmanager
def string_storage(storage: str | None) -> Iterator[None]:
    """Strings that pandas infers while this runs (an expression's pd.Series([...]), a map's result) are stored as
    `storage` says."""
    if storage is None:
        yield
        return
    with pd.option_context("mode.string_storage", storage):
        yield


@functools.cache
def arrow_data() -> dict[str, Any]:
    """Arrow-backed values in every namespace, whatever its storage (built once; the snapshot proves they stay
    as they are): 10 MB of text in 100 cells, one 1 MB cell above 100 missing ones, lists of 100,000 short
    strings, labels of 100,000 characters, and a column of an extension type written in Python."""
    if pa is None:
        return {}
    arrow = pd.StringDtype("pyarrow", na_value=np.nan)
    big = pd.Series(["y" * 100_000] * 100, dtype=arrow)
    return {
        "arrow_big": big,
        "arrow_sparse": pd.Series(["z" * 10**6] + [None] * 99, dtype=arrow),
        "arrow_lists": pd.Series(["yy " * 100_000] * 4, dtype=pd.ArrowDtype(pa.large_string())).str.split(" "),
        "by_text": pd.Series(range(100), index=pd.Index(big.str.slice(0, 99_990) + big.index.astype(str))),
        "arrow_frame": big.to_frame("t"),
        "loud_arrow": loud_arrow(),
    }


def all_texts() -> pd.DataFrame:
    """One column of each storage, the same text in each (a long cell among short ones)."""
    cells = ["north", "x" * 5_000, "é" * 10, None]
    columns = {"object": pd.Series(cells, dtype=object), "python": pd.Series(cells, dtype="string[python]")}
    if pa is not None:
        columns["arrow"] = pd.Series(cells, dtype=pd.StringDtype("pyarrow", na_value=np.nan))
        columns["large"] = pd.Series(cells, dtype=pd.ArrowDtype(pa.large_string()))
    return pd.DataFrame(columns)


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


def make_sales(rows: int = 300, storage: str | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {
            "region": pd.Series(rng.choice(["north", "south", "east", "west"], rows), dtype=text_dtype(storage)),
            "month": pd.date_range("2024-01-01", periods=rows, freq="D"),
            "product": pd.Series(rng.choice(["apple", "pear", "plum"], rows), dtype=text_dtype(storage)),
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

    def __init__(self, workdir: Path, storage: str | None = None) -> None:
        self.workdir = workdir
        self.storage = storage
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
        storage = self.storage
        self.embeddings = pd.DataFrame(
            {"doc": pd.Series(["a", "b"], dtype=text_dtype(storage)),
             "embedding": [np.array([3.0, 1.0, 2.0]), np.array([9.0, 7.0, 8.0])]}
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
        sales = make_sales(storage=storage)
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
            "long_text": pd.Series(["ab"] * 5_000, dtype=long_text_dtype(storage)),
            "texts": all_texts(),
            "python_big": pd.Series(["y" * 100_000] * 100, dtype="string[python]"),  # one str, pointed to 100 times
            **arrow_data(),
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
            "attrs_frame": with_attrs(pd.DataFrame({"a": [1, 2]})),
            "attrs_series": with_attrs(pd.Series([1, 2])),
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
            "texts": frame_digest(ns["texts"]),
            "arrow": [frame_digest(ns[name].to_frame()) for name in ("arrow_big", "arrow_sparse", "by_text")
                      if name in ns],
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
