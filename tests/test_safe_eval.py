"""safe_eval: read-only expressions give Python's answers; hostile ones are refused and leave no trace."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kimi_lab.tools.safe_eval as se
from kimi_lab.tools.safe_eval import ALLOWED_BUILTINS, ALLOWED_METHODS, METHODS, UnsafeExpression, check, safe_eval

from .hostile_namespace import Canaries, make_sales

# ------------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def sales() -> pd.DataFrame:
    return make_sales()


@pytest.fixture
def ns(sales: pd.DataFrame) -> dict[str, Any]:
    return {
        "sales": sales,
        "xs": [1, 2, 3, 5],
        "words": ["pear", "fig", "banana"],
        "d": {"a": 3, "b": 1, "c": 2},
        "arr": np.arange(10.0),
        "np": np,
        "pd": pd,
        "math": math,
    }


def same(expected: Any, got: Any) -> bool:
    if isinstance(expected, (pd.DataFrame, pd.Series, pd.Index)):
        return type(expected) is type(got) and expected.equals(got)
    if isinstance(expected, np.ndarray):
        return np.array_equal(expected, got)
    return type(expected) is type(got) and expected == got


# ---------------------------------------------------------------------------------------------- what it computes

POSITIVE = [
    'sales.groupby("region")["units"].sum().nlargest(2)',
    "sales.describe()",
    'sales.loc[sales.units > 5, ["region", "units"]].head()',
    'sales["price"].mean()',
    "len(sales)",
    "sales.region.value_counts()",
    'sales.sort_values("units", ascending=False).head(3)',
    "sales.assign(total=lambda df: df.units * df.price).total.sum()",
    "sales.apply(lambda r: r.units * r.price, axis=1).sum()",
    "sorted(d.items(), key=lambda kv: kv[1])",
    "[x * 2 for x in xs if x > 1]",
    'f"{len(xs)} values, mean {sum(xs) / len(xs):.2f}, last {words[-1]!r:>10}"',
    "np.mean(arr)",
    "sales.month.dt.month.value_counts().sort_index()",
    "max(xs)",
    "{k: v for k, v in d.items()}",
    'sales.groupby("region").agg(total=("units", "sum"), avg=("price", "mean"))',
    'sales.pivot_table(index="region", columns="product", values="units", aggfunc="sum")',
    'sales.groupby(["region", "product"]).units.sum().unstack()',
    'sales.set_index("month").resample("ME").units.sum()',
    'sales[sales.month >= pd.Timestamp("2024-06-01")].shape',
    'sales.region.str.upper().str.contains("NO").sum()',
    "(sales.units * sales.price).groupby(sales.region).sum().round(2)",
    'sales.agg({"units": "sum", "price": ["min", "max"]})',
    "sales.units.map(lambda u: u * 2).tail()",
    "pd.concat([sales.head(2), sales.tail(2)])",
    "np.percentile(arr, [25, 75])",
    "np.where(arr > 5, arr, 0)",
    "math.sqrt(16) + math.pi",
    "sorted(words, key=len)",
    '", ".join(w.upper() for w in words)',
    "dict(zip(words, xs))",
    "list(map(str, xs)) + list(filter(None, [0, 1, 2]))",
    "[a + b for a, *rest in [(1, 2, 3)] for b in rest]",
    "list(map(lambda a, b=10, *, c=1: a + b + c, xs))",
    "isinstance(range(3), range), isinstance(map(str, xs), list)",
    "any(x > 4 for x in xs) and not all(x > 4 for x in xs)",
    "1 < xs[0] + 1 < 3 if xs else None",
    "{*xs, *d} | {7}",
    "sales.units.between(2, 4).mean()",
    "sales.corr(numeric_only=True).round(3)",
    "str.upper(words[0]) + str.join('-', words)",
    '"%s has %d rows" % ("sales", len(sales))',
    "divmod(17, 5), pow(2, 10), pow(3, 4, 5), round(2.675, 2), abs(-3)",
    "sales.month.max().isoformat()",
    "sales.dtypes",
    "sales.units.to_numpy()[:5]",
    'sales.to_dict("records")[0]',
    "sales.head(3).to_string(index=False)",
    "isinstance(sales, dict), range(10)[3], list(enumerate(words, 1)), list(reversed(xs))",
]


@pytest.mark.parametrize("expression", POSITIVE)
def test_gives_the_same_value_as_python(expression: str, ns: dict[str, Any], sales: pd.DataFrame) -> None:
    before = sales.copy()
    got = safe_eval(expression, ns)
    assert same(eval(expression, dict(ns)), got)
    assert sales.equals(before)


def test_returns_the_value_itself(ns: dict[str, Any]) -> None:
    assert safe_eval("sales", ns) is ns["sales"]


def test_errors_from_the_expression_propagate_unchanged(ns: dict[str, Any]) -> None:
    with pytest.raises(KeyError):
        safe_eval('d["missing"]', ns)
    with pytest.raises(KeyError):
        safe_eval('sales["missing"]', ns)
    with pytest.raises(ZeroDivisionError):
        safe_eval("1 / 0", ns)
    with pytest.raises(TypeError):
        safe_eval("xs + 1", ns)
    with pytest.raises(AttributeError):
        safe_eval("xs.missing", ns)


_numbers = st.one_of(st.integers(-50, 50), st.floats(-100, 100, allow_nan=False).map(lambda f: round(f, 3)))
_expressions = st.recursive(
    _numbers.map(repr),
    lambda inner: (
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%", "<", "==", "and", "or"]), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        )
        | inner.map(lambda e: f"(-{e})")
        | st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})")
    ),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None)
@given(_expressions)
def test_arithmetic_matches_python(expression: str) -> None:
    try:
        expected: Any = eval(expression, {})
    except ZeroDivisionError:
        with pytest.raises(ZeroDivisionError):
            safe_eval(expression, {})
        return
    got = safe_eval(expression, {})
    assert got == expected or (got != got and expected != expected)


# ---------------------------------------------------------------------------------------------------- messages


@pytest.mark.parametrize(
    ("expression", "mentions"),
    [
        ("sales.to_csv('x.csv')", "to_csv"),
        ("xs.append(1)", "append"),
        ("user_func(1)", "user_func"),
        ("sales.drop(columns=['units'], inplace=True)", "inplace"),
        ("sales.query('units > 5')", "query"),
        ('"x" * 10**10', "memory"),
        ("sales._data", "_data"),
        ("arr.partition(2)", "ndarray"),
        ("sales.units.array", "array"),
        ("rec.total", "total"),
        ("pd.Series([1]).apply(open)", "open"),
    ],
)
def test_messages_are_one_sentence_that_says_what_to_use(
    expression: str, mentions: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(se, "MAX_BYTES", 100_000_000)
    canaries = Canaries(tmp_path)
    try:
        with pytest.raises((UnsafeExpression, AttributeError)) as caught:
            safe_eval(expression, canaries.ns)
    finally:
        canaries.close()
    message = str(caught.value).strip("'\"")
    assert mentions in message
    assert "\n" not in message and ". " not in message and not message.endswith(".")
    assert "use " in message or "read " in message or "never" in message


def test_syntax_errors_are_explained_in_one_sentence() -> None:
    with pytest.raises(UnsafeExpression) as caught:
        check("x = 1")
    assert "one expression" in str(caught.value) and ". " not in str(caught.value)


# ----------------------------------------------------------------------------------------------- the interface


def test_check_returns_the_tree_and_needs_no_namespace() -> None:
    tree = check("df.groupby('a').b.sum()")
    assert isinstance(tree, ast.Expression)
    check("unknown_variable + 1")  # names are only resolved when a namespace is given
    with pytest.raises(UnsafeExpression):
        check("unknown_variable + 1", {})
    with pytest.raises(UnsafeExpression):
        check("os.system('id')")


def test_unsafe_expression_is_a_value_error() -> None:
    assert issubclass(UnsafeExpression, ValueError)


def test_allow_lists_leave_out_writers_mutators_and_engines() -> None:
    refused = {"to_csv", "to_pickle", "append", "update", "pop", "sort", "eval", "query", "pipe", "sample", "format"}
    assert not refused & ALLOWED_METHODS
    assert {"sum", "groupby", "describe", "value_counts"} <= ALLOWED_METHODS
    assert not {"eval", "exec", "open", "getattr", "type", "print"} & ALLOWED_BUILTINS


def test_methods_are_allowed_per_kind_of_receiver() -> None:
    """`partition` is harmless on a str and sorts an ndarray in place: the tables are per kind, not per name."""
    assert "partition" in METHODS["str"] and "partition" not in METHODS["ndarray"]
    for mutator in ("sort", "fill", "put", "resize", "setflags", "byteswap", "itemset", "partition"):
        assert mutator not in METHODS["ndarray"]


def test_importing_does_not_load_pandas_or_numpy() -> None:
    code = "import sys, kimi_lab.tools.safe_eval; print('pandas' in sys.modules or 'numpy' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_summing_numbers_of_a_big_frame_with_text_is_not_priced_as_text() -> None:
    """The text-sum price covers the text being summed: a groupby's numeric column over a million rows
    with text beside it runs, while summing the text itself is refused."""
    big = make_sales(1_000_000)
    assert safe_eval('big.groupby("region")["units"].sum().sum()', {"big": big}) == big.units.sum()
    assert safe_eval("big.groupby('region')[['units']].sum().units.sum()", {"big": big}) == big.units.sum()
    with pytest.raises(UnsafeExpression, match="sum"):
        safe_eval("big.groupby('region').sum()", {"big": big})
