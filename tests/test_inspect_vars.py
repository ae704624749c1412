"""What the model sees when it lists and describes the user's notebook variables."""

from __future__ import annotations

import collections
import os
import re
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import pytest

from kimi_lab.tools.inspect_vars import describe_variable, list_variables, user_variables


def row_names(listing: str) -> list[str]:
    """First cell of every table row in a list_variables output."""
    lines = listing.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("name ")) + 2
    return [line.split()[0] for line in lines[start:] if line and not line.startswith("…")]


def number_after(label: str, text: str) -> float:
    match = re.search(rf"{label} (-?[\d.,e+-]+)", text)
    assert match, f"no {label!r} in:\n{text}"
    return float(match.group(1).replace(",", ""))


@pytest.fixture
def sales() -> pd.DataFrame:
    return pd.DataFrame({
        "region": ["north", "south", "north", "east", "north", "south", None, "west"],
        "units": [3, 5, 2, 8, 1, 4, 6, 7],
        "price": [9.5, 12.0, np.nan, 7.25, 10.0, np.nan, 11.5, 8.0],
        "when": pd.date_range("2024-01-01", periods=8, freq="D"),
        "tier": pd.Categorical(["a", "b", "a", "a", "c", "b", "a", "a"]),
    })


@pytest.fixture
def ns(shell: Any, sales: pd.DataFrame) -> dict[str, Any]:
    """A real IPython namespace (In, Out, exit, quit, get_ipython, _ih, …) plus user variables."""
    def revenue(units: int, price: float = 1.0) -> float:
        """Units times price.

        Second paragraph that the model does not need."""
        return units * price

    class Point:
        """A 2D point."""

        def __init__(self) -> None:
            self.x, self.y, self.password_hint = 1, 2, "swordfish"

        def norm(self) -> float:
            return 0.0

    return {**shell.user_ns, "np": np, "pd": pd, "_private": 1, "api_key": "sk-abc123456789",
            "hf_token": "hf_abcdefghij", "db_password": "hunter2hunter2", "sales": sales,
            "items": [1, 2, "three"], "revenue": revenue, "Point": Point, "point": Point()}


# ------------------------------------------------------------------------------------------------------ listing


def test_list_shows_user_variables_and_hides_the_rest(ns: dict[str, Any]) -> None:
    out = list_variables(ns)
    assert row_names(out) == ["sales", "items", "revenue", "Point", "point"]
    assert list(user_variables(ns)) == ["sales", "items", "revenue", "Point", "point"]
    sales_row = next(line for line in out.splitlines() if line.startswith("sales "))
    assert "DataFrame" in sales_row and "8×5" in sales_row and "region" in sales_row
    items_row = next(line for line in out.splitlines() if line.startswith("items "))
    assert re.search(r"\blist\s+3\b", items_row)
    assert "shallow" in out.splitlines()[0]
    for secret in ("sk-abc123456789", "hf_abcdefghij", "hunter2"):
        assert secret not in out


def test_list_caps_rows_and_says_how_many_more() -> None:
    many = {f"v{i}": i for i in range(250)}
    out = list_variables(many, limit=10)
    assert row_names(out) == [f"v{i}" for i in range(10)]
    assert out.splitlines()[-1].startswith("… 240 more variables")
    assert list_variables({}) == "No user variables yet."


# ----------------------------------------------------------------------------------------------------- DataFrame


def test_describe_sales_frame(ns: dict[str, Any], sales: pd.DataFrame) -> None:
    out = describe_variable(ns, "sales")
    assert "8 rows × 5 columns" in out
    assert "sample" not in out  # small data: every figure is exact
    lines = {line.split(" (")[0][2:]: line for line in out.splitlines() if line.startswith("- ")}
    assert list(lines) == ["region", "units", "price", "when", "tier"]
    assert "(str)" in lines["region"] or "(object)" in lines["region"]
    assert "(int64)" in lines["units"] and "(float64)" in lines["price"] and "(category)" in lines["tier"]
    assert "nulls 2" in lines["price"] and "nulls 1" in lines["region"] and "nulls 0" in lines["units"]
    assert number_after("mean", lines["price"]) == pytest.approx(sales["price"].mean(), rel=1e-5)
    assert number_after("mean", lines["units"]) == pytest.approx(sales["units"].mean(), rel=1e-5)
    assert number_after("max", lines["units"]) == 8
    assert "top 'north' ×3, 'south' ×2" in lines["region"]
    assert "top 'a' ×5, 'b' ×2, 'c' ×1" in lines["tier"]
    assert "2024-01-01" in lines["when"] and "2024-01-08" in lines["when"]
    assert "east" in out and "west" in out  # 8 rows: head(5) and tail(3) are all of them


def test_describe_odd_frame_does_not_crash() -> None:
    odd = pd.DataFrame({
        "mixed": [1, "two", 3.0, None, b"x"],
        "lists": [[1, 2], [1, 2], {"a": 1}, [3], None],
        "empty": [None] * 5,
        "nan": [np.nan] * 5,
    })
    out = describe_variable({"odd": odd}, "odd")
    assert "mixed types" in out and "[1, 2] ×2" in out
    assert out.count("all null") == 2
    dup = pd.DataFrame([[1, 2, 3]], columns=["a", "a", "b"])
    assert "duplicate column names: a" in describe_variable({"dup": dup}, "dup")
    multi = pd.DataFrame(np.ones((3, 4)), columns=pd.MultiIndex.from_product([["x", "y"], ["p", "q"]]))
    out = describe_variable({"multi": multi}, "multi")
    assert "MultiIndex" in out and "('y', 'q')" in out
    assert "0 rows" in describe_variable({"e": pd.DataFrame({"a": []})}, "e")


def test_wide_frame_stays_within_budget() -> None:
    wide = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 500)), columns=[f"feature_{i}" for i in range(500)])
    for budget in (200, 800, 2_000):
        out = describe_variable({"wide": wide}, "wide", budget_tokens=budget)
        assert len(out) <= 4 * budget
    out = describe_variable({"wide": wide}, "wide")
    assert "460 more columns" in out and "feature_0" in out


@pytest.fixture(scope="module")
def big_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 2_000_000
    price = rng.normal(100, 15, n)
    price[::50] = np.nan
    return pd.DataFrame({
        "price": price,
        "units": rng.integers(0, 50, n),
        "city": np.array(["paris", "lyon", "nice", "lille"], dtype=object)[rng.integers(0, 4, n)],
        "kind": pd.Categorical.from_codes(rng.integers(0, 3, n), ["x", "y", "z"]),
        "when": pd.to_datetime(rng.integers(0, 10**9, n), unit="s"),
    })


def test_big_frame_is_described_fast_from_a_sample(big_frame: pd.DataFrame) -> None:
    # Generous bound for a shared CI machine; benchmarks/bench_describe.py measures the 10M-row case.
    describe_variable({"df": big_frame}, "df")  # first call pays for imports
    t0 = time.perf_counter()
    out = describe_variable({"df": big_frame}, "df")
    assert time.perf_counter() - t0 < 1.0
    assert "sample of 100,000 of 2,000,000 rows" in out
    assert "nulls 40,000" in out  # float nulls are cheap, so counted exactly
    assert number_after("mean", out) == pytest.approx(100, abs=1)
    assert len(out) <= 4 * 2_000


def test_list_is_fast_on_a_big_frame(big_frame: pd.DataFrame) -> None:
    list_variables({"df": big_frame})
    t0 = time.perf_counter()
    out = list_variables({"df": big_frame})
    assert time.perf_counter() - t0 < 0.1
    assert "2,000,000×5" in out


# ------------------------------------------------------------------------------------------- other type families


def test_series() -> None:
    s = pd.Series([1.0, 2.0, np.nan, 5.0], name="score")
    out = describe_variable({"s": s}, "s")
    assert "Series score: 4 values, dtype float64" in out and "nulls 1" in out
    assert number_after("mean", out) == pytest.approx(8 / 3, rel=1e-5)
    labels = pd.Series(["a", "b", "a"])
    assert "top 'a' ×2, 'b' ×1" in describe_variable({"labels": labels}, "labels")


def test_ndarray() -> None:
    a = np.array([[1.0, np.nan, 3.0], [4.0, 5.0, 6.0]])
    out = describe_variable({"a": a}, "a")
    assert "shape (2, 3), dtype float64, nbytes 48" in out and "NaN: 1" in out
    assert number_after("mean", out) == pytest.approx(19 / 5)
    big = np.arange(3_000_000, dtype=np.int64).reshape(1_000, 3_000)
    out = describe_variable({"big": big}, "big")
    assert "sample" in out and "..." in out
    assert number_after("mean", out) == pytest.approx(big.mean(), rel=0.02)


def test_dict_list_tuple_set(ns: dict[str, Any]) -> None:
    config = {"lr": 0.1, "layers": [64, 64], 3: "three", "api_token": "sk-live-123456789"}
    out = describe_variable({"config": config}, "config")
    assert "dict: 4 items; key types: str 3, int 1" in out and "'lr': 0.1" in out
    assert "sk-live" not in out and "[redacted]" in out
    out = describe_variable({"xs": [*range(100), "end"]}, "xs")
    assert "list: 101 items; element types: int 100, str 1" in out
    assert "[0] 0" in out and "[9] 9" in out and "[100] 'end'" in out and "[50]" not in out
    assert "tuple: 2 items" in describe_variable({"t": (1, "a")}, "t")
    assert "set: 3 items" in describe_variable({"s": {1, 2, 3}}, "s")


def test_str_and_bytes_keep_head_and_tail() -> None:
    text = "A" * 1_000 + "M" * 100_000 + "Z" * 300
    out = describe_variable({"text": text}, "text")
    assert "101,300 characters" in out and "A" * 1_000 in out and "Z" * 300 in out and "M" * 50 not in out
    huge = "x" * 10_000_000
    assert len(describe_variable({"huge": huge}, "huge", budget_tokens=100)) <= 400
    assert "5,000 bytes" in describe_variable({"b": b"\x01" * 5_000}, "b")


def test_function_class_and_object(ns: dict[str, Any]) -> None:
    out = describe_variable(ns, "revenue")
    assert re.search(r"revenue\(units: '?int'?, price: '?float'? = 1\.0\) -> '?float'?", out)
    assert "Units times price." in out
    assert "Second paragraph" not in out and f"{os.sep}test_inspect_vars.py:" in out
    out = describe_variable(ns, "Point")
    assert "class" in out and "(object)" in out and "norm" in out and "A 2D point." in out
    out = describe_variable(ns, "point")
    assert "x = 1" in out and "y = 2" in out
    assert "swordfish" not in out  # attribute names that look secret are redacted too


def test_broken_repr_is_never_called_and_a_broken_trusted_repr_is_reported() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("boom")

    out = describe_variable({"b": Broken()}, "b")
    assert "Broken" in out and "boom" not in out
    assert "Broken object" in list_variables({"b": Broken()})
    from kimi_lab.tools._describe_brief import safe_repr

    class BrokenList(list):  # a trusted base whose repr fails still becomes a line, not an exception
        __module__ = "collections"

        def __repr__(self) -> str:
            raise RuntimeError("boom")

    assert "repr raised RuntimeError: boom" in safe_repr(BrokenList(), 100)


def test_describing_never_consumes_or_mutates() -> None:
    counts: collections.defaultdict[str, int] = collections.defaultdict(int, a=1)
    gen = (i for i in range(3))
    describe_variable({"counts": counts}, "counts")
    describe_variable({"gen": gen}, "gen")
    list_variables({"counts": counts, "gen": gen})
    assert dict(counts) == {"a": 1} and list(gen) == [0, 1, 2]


# ---------------------------------------------------------------------------------------------------- refusals


def test_unknown_name_suggests_close_matches(ns: dict[str, Any]) -> None:
    with pytest.raises(KeyError) as err:
        describe_variable(ns, "sale")
    assert "sales" in str(err.value) and "list_variables" in str(err.value)


@pytest.mark.parametrize("name", ["api_key", "hf_token", "db_password", "missing_secret_token"])
def test_secret_names_are_refused(ns: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match="looks like a secret"):
        describe_variable(ns, name)


def test_importing_does_not_load_pandas_or_numpy() -> None:
    code = "import sys, kimi_lab.tools.inspect_vars; print(sorted({'pandas', 'numpy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_form_respects_a_small_budget() -> None:
    values = {
        "frame": pd.DataFrame({"text": ["word " * 200] * 20, "n": range(20)}),
        "series": pd.Series(["long value " * 50] * 1_000),
        "array": np.zeros((40, 40, 40)),
        "mapping": {f"key{i}": "v" * 500 for i in range(1_000)},
        "items": ["x" * 1_000] * 1_000,
        "text": "y" * 100_000,
        "raw": b"z" * 100_000,
        "cls": pd.DataFrame,
        "func": pd.read_csv,
    }
    for name in values:
        for budget in (16, 100, 500):
            assert len(describe_variable(values, name, budget_tokens=budget)) <= 4 * budget, (name, budget)
    with pytest.raises(ValueError, match="budget_tokens"):
        describe_variable(values, "text", budget_tokens=5)
