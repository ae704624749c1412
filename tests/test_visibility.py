"""One visibility rule for every tool and `{name}`: what the model may read of the notebook, and what it may not."""

from __future__ import annotations

import time
import types
from typing import Any, ClassVar

import pandas as pd
import pytest

from kimi_lab.common.secrets import namespace_secrets
from kimi_lab.core.interpolate import interpolate
from kimi_lab.tools.inspect_vars import describe_variable, list_variables
from kimi_lab.tools.visibility import hidden_reason, user_variables

TYPED_KEY = "zq-typed-key-1234567890abcdef"


@pytest.fixture
def ns(shell: Any) -> dict[str, Any]:
    """A real kernel namespace after a few cells: IPython's history names exist and hold a typed key."""
    shell.reset(new_session=False)  # only these cells' names (the shell is shared by the tests)
    shell.run_cell(f"connect_to_db(password={TYPED_KEY!r})", store_history=True)  # fails; stays in In
    shell.run_cell("21 * 2", store_history=True)
    shell.run_cell("'some output'", store_history=True)
    settings = types.ModuleType("settings")
    settings.API_KEY = "zq-settings-key-0987654321"  # type: ignore[attr-defined]
    return {**shell.user_ns, "settings": settings, "_private": 1, "db_url": "postgres://app:hunter2@db.internal/sales",
            "notes": "call with sk-proj-4fQ7x9LmN2pR8sT1vW3yZ5aB6cD0eF",
            "sales": pd.DataFrame({"region": ["north", "south"], "units": [3, 5]}), "threshold": 0.5,
            "home": "https://example.com/dashboard", "cfg": {"retries": 3, "api_key": "zq-cfg-key-5566778899"}}


HIDDEN = {
    "_": "output history", "__": "output history", "___": "output history", "_N": "output history",
    "_oh": "output history", "Out": "output history", "_i": "input history", "_ii": "input history",
    "_iN": "input history", "_ih": "input history", "In": "input history", "_dh": "directory history",
    "_private": "underscore", "exit": "IPython's helpers", "quit": "IPython's helpers",
    "get_ipython": "IPython's helpers", "open": "IPython's helpers", "settings": "a module",
    "db_url": "value looks like a secret", "notes": "value looks like a secret",
}


def test_each_hidden_kind_says_why(ns: dict[str, Any]) -> None:
    numbered = f"_{max(ns['Out'])}"  # the last cell's output, as `_<its number>`
    for name, why in HIDDEN.items():
        name = {"_N": numbered, "_iN": f"_i{max(ns['Out'])}"}.get(name, name)
        assert name in ns, name
        reason = hidden_reason(name, ns[name])
        assert reason is not None and why in reason, (name, reason)
    for name in ("sales", "threshold", "home", "cfg"):
        assert hidden_reason(name, ns[name]) is None, name


def test_listing_describing_and_interpolating_apply_the_same_rule(ns: dict[str, Any]) -> None:
    listed = set(user_variables(ns))  # the session's shell may hold other tests' variables too
    assert {"sales", "threshold", "home", "cfg"} <= listed and not listed & {*HIDDEN, "_i1", "_ii"}
    shown = list_variables(ns)
    for name in ns:
        try:
            describe_variable(ns, name)
            described = True
        except ValueError as exc:
            described = False
            assert "is not available" in str(exc) and "list_variables" in str(exc)
        assert described == (name in listed), name
        if name == "_":  # `{_}` is the last output, a cell reference like {Out[3]} (tests/test_fix_and_refs.py)
            continue
        text, notes = interpolate(f"look at {{{name}}}", ns)
        assert (text != f"look at {{{name}}}") == (name in listed), name
        if name not in listed:
            assert notes and notes[-1].startswith(f"left {{{name}}} as text: ")
    for leak in (TYPED_KEY, "hunter2", "sk-proj-4fQ7", "zq-settings-key"):
        assert leak not in shown


def test_the_value_rule_is_cheap_enough_for_every_name_an_expression_reads() -> None:
    big_text = "y" * 50_000_000
    big_list = list(range(5_000_000))
    hidden_reason("big_text", big_text)
    t0 = time.perf_counter()
    for _ in range(10):
        assert hidden_reason("big_text", big_text) is None
        assert hidden_reason("big_list", big_list) is None
    assert time.perf_counter() - t0 < 0.5


class Recorder:
    """A user's class whose repr and property would show if describing ran its code."""

    calls: ClassVar[list[str]] = []

    def __init__(self) -> None:
        self.region, self.rows, self.token, self.endpoint = "north", 12, "tk-attr-value-99", "redis://:s3cretpw@h:6379"

    def __repr__(self) -> str:
        Recorder.calls.append("__repr__")
        return "Recorder()"

    def __len__(self) -> int:
        Recorder.calls.append("__len__")
        return 1

    @property
    def expensive(self) -> int:
        Recorder.calls.append("expensive")
        return 1


class RecordingList(list):
    """A user's list subclass: its own len, indexing and repr must not run either."""

    def __len__(self) -> int:
        Recorder.calls.append("list.__len__")
        return 0

    def __getitem__(self, index: Any) -> Any:
        Recorder.calls.append("list.__getitem__")
        return None

    def __repr__(self) -> str:
        Recorder.calls.append("list.__repr__")
        return "[]"


def test_describing_a_users_object_runs_none_of_its_code() -> None:
    Recorder.calls.clear()
    ns = {"rec": Recorder(), "many": [Recorder(), Recorder()], "by_region": {"north": Recorder()},
          "rows": RecordingList(["a", "b", "c"])}
    out = describe_variable(ns, "rec")
    listing = list_variables(ns)
    describe_variable(ns, "many")
    describe_variable(ns, "by_region")
    rows = describe_variable(ns, "rows")
    interpolate("no fields here", ns)
    assert Recorder.calls == []
    assert "a list subclass of 3 items" in rows and "'c'" in rows
    assert "type: tests.test_visibility.Recorder" in out
    assert "region = 'north'" in out and "rows = 12" in out
    assert "tk-attr-value" not in out and "s3cretpw" not in out and out.count("[redacted]") == 2
    assert "Recorder object" in listing


def test_namespace_secrets_reads_names_keys_attributes_and_typed_cells(ns: dict[str, Any]) -> None:
    found = set(namespace_secrets({**ns, "rec": Recorder(), "profile": {"db": {"password": "pw-nested-445566"}}}))
    assert {"zq-cfg-key-5566778899", TYPED_KEY,
            "tk-attr-value-99", "s3cretpw", "pw-nested-445566", "sk-proj-4fQ7x9LmN2pR8sT1vW3yZ5aB6cD0eF"} <= found
    assert "north" not in found and "zq-settings-key-0987654321" not in found  # modules are not read


def test_namespace_secrets_reads_the_latest_input_cells() -> None:
    cells = ["x = 1"] * 300 + [f"connect(password={TYPED_KEY!r})"]
    assert TYPED_KEY in namespace_secrets({"In": cells})


def test_namespace_secrets_never_walks_dataframes_and_stays_bounded() -> None:
    frame = pd.DataFrame({"password": ["sk-proj-4fQ7x9LmN2pR8sT1vW3yZ5aB6cD0eF"] * 3})
    frame.attrs["api_key"] = "zq-frame-attr-123456"
    assert namespace_secrets({"frame": frame, "frames": {"password": frame}}) == []
    deep = {"level1": {"level2": {"level3": {"api_key": "zq-too-deep-1234567"}}}}
    assert namespace_secrets({"deep": deep}) == []
    wide = {f"k{i}": {"token": f"zq-wide-token-{i:06d}"} for i in range(100_000)}
    t0 = time.perf_counter()
    found = namespace_secrets({"wide": wide})
    assert time.perf_counter() - t0 < 0.5 and 0 < len(found) <= 200
