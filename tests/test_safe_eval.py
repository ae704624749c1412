"""safe_eval: read-only expressions give Python's answers; hostile ones are refused and leave no trace."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
import tracemalloc
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kimi_lab.tools.safe_eval as se
from kimi_lab.tools.safe_eval import ALLOWED_BUILTINS, ALLOWED_METHODS, METHODS, UnsafeExpression, check, safe_eval

from .hostile_namespace import STORAGES, Canaries, make_sales, pa, string_storage

# ------------------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module", params=STORAGES)
def storage(request: pytest.FixtureRequest) -> Any:
    """The user's text in Python objects or in Arrow buffers, and the strings expressions make stored alike."""
    with string_storage(request.param):
        yield request.param


@pytest.fixture(scope="module")
def sales(storage: str) -> pd.DataFrame:
    return make_sales(storage=storage)


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


def test_summing_numbers_of_a_big_frame_with_text_is_not_priced_as_text(storage: str) -> None:
    """The text-sum price covers the text being summed: a groupby's numeric column over a million rows
    with text beside it runs, while summing the text itself is refused."""
    big = make_sales(1_000_000, storage)
    assert safe_eval('big.groupby("region")["units"].sum().sum()', {"big": big}) == big.units.sum()
    assert safe_eval("big.groupby('region')[['units']].sum().units.sum()", {"big": big}) == big.units.sum()
    with pytest.raises(UnsafeExpression, match="sum"):
        safe_eval("big.groupby('region').sum()", {"big": big})


# ------------------------------------------------------------------------------------------- text in any storage

CELLS = ["north", "é" * 7, "ā" * 5, "日本語", "😀 and text", "", None, "x" * 3_000]


def _text_dtypes() -> list[Any]:
    dtypes: list[Any] = [object, "string[python]", pd.StringDtype("python", na_value=np.nan)]
    if pa is not None:
        dtypes += [pd.StringDtype("pyarrow", na_value=np.nan), "string[pyarrow]", pd.ArrowDtype(pa.string()),
                   pd.ArrowDtype(pa.large_string())]
    return dtypes


@pytest.mark.parametrize("dtype", _text_dtypes(), ids=str)
def test_text_costs_what_its_strings_cost_whatever_the_storage(dtype: Any) -> None:
    """A text column is priced by what its cells are as Python strings (49 bytes plus one to four a character),
    though an Arrow buffer's deep and shallow memory are the same; its longest cell is read without making a
    str of any cell; and a row copied into many rows costs, for an Arrow buffer, its longest cell each time."""
    column = pd.Series(CELLS, dtype=dtype)
    made = "".join  # a str made anew has no cached UTF-8 copy (one it was encoded from may: up to 4 bytes a char)
    expected = sum(sys.getsizeof(made(list(c))) for c in CELLS if c is not None)
    cached = sum(len(c.encode()) + 1 for c in CELLS if c is not None and not c.isascii())
    sizes = se._sizes.Sizes()
    assert expected - 1 <= sizes.text(column) <= expected + cached + 56 * CELLS.count(None)  # None, NaN, NA
    assert sizes.chars(column) == 3_000
    copied = sys.getsizeof("x" * 3_000) if se._arrow.chunks(column) is not None else sizes.text(column) // len(CELLS)
    assert sizes.widest(column) == copied  # what a repeated row copies: its longest cell, or pointers (the average)
    repeated = pd.Series(CELLS * 3, dtype=dtype).astype("category")  # each category counted for every cell
    assert sizes.text(repeated) == 3 * sizes.text(pd.Series(CELLS, dtype=dtype).astype("category").cat.categories)


@pytest.mark.parametrize("dtype", _text_dtypes(), ids=str)
def test_long_cells_and_labels_print_cut_whatever_the_storage(dtype: Any) -> None:
    """Cells and labels are cut where they are stored: sixty cells of a megabyte and labels of 100,000
    characters print in a few kilobytes without a str of any of them being made whole."""
    column = pd.Series(["y" * 10**6] * 59 + [None], index=pd.Index(["i" * 10**5] * 60, dtype=dtype), dtype=dtype)
    tracemalloc.start()
    try:
        shown = se.evaluate_text("column", {"column": column})
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "yyyyy..." in shown and "characters cut" in shown and len(shown) < 20_000
    assert peak < (8_000_000 if dtype is object or "python" in str(dtype) else 3_000_000)
    frame = pd.DataFrame({"a": pd.Series(CELLS, dtype=dtype), "b": range(len(CELLS))})
    assert "xxxxx..." in se.evaluate_text("frame", {"frame": frame})  # missing cells among them


@pytest.mark.skipif(pa is None, reason="needs pyarrow")
def test_arrow_lists_and_their_big_cells_are_shown_described() -> None:
    words = pd.Series(["a b", "c " * 100_000], dtype=pd.ArrowDtype(pa.large_string())).str.split(" ")
    shown = se.evaluate_text("words", {"words": words})
    assert "['a', 'b']" in shown and "bytes of list<item: large_string>" in shown


@pytest.mark.skipif(pa is None, reason="needs pyarrow")
def test_pyarrow_splits_that_would_never_end_are_refused_and_others_run() -> None:
    words = {"words": pd.Series(["a b", "cd"], dtype=pd.ArrowDtype(pa.large_string()))}
    for pattern in ("''", "'x*'", "'(?:)'", "' ?'", "'\\\\b'"):
        with pytest.raises(UnsafeExpression, match="never ends"):
            safe_eval(f"words.str.split({pattern})", words)
    assert safe_eval("words.str.split(' ')", words).tolist() == [["a", "b"], ["cd"]]
    assert safe_eval("words.str.split('^')", words).tolist() == [["a b"], ["cd"]]  # one character: not a regex


@pytest.mark.skipif(pa is None, reason="needs pyarrow")
def test_arrow_types_pandas_cannot_handle_are_refused() -> None:
    with pytest.raises(UnsafeExpression, match="string_view"):
        safe_eval("s.astype('string_view[pyarrow]')", {"s": pd.Series(["a"])})
    viewed = pd.Series(pa.array(["a"], type=pa.string_view()), dtype=pd.ArrowDtype(pa.string_view()))
    with pytest.raises(UnsafeExpression, match="does not read"):
        safe_eval("s.size", {"s": viewed})


def test_one_value_copied_into_every_row_is_priced_before_it_is_copied(
    storage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An object column points to one string from every row; an Arrow buffer copies it into each. Fills,
    broadcasts and the values a function returns to pandas are priced as copies, whatever the storage."""
    monkeypatch.setattr(se, "MAX_BYTES", 64_000_000)
    ns = {"s": pd.Series(["a", None] * 150, dtype=object if storage == "python" else "str"), "text": "t" * 10**6,
          "pd": pd}
    for expression in ("s.fillna(text)", "s + text", "s.map(lambda v: text)", "pd.Series(text, index=s.index)",
                       "s.where(s.isna(), text)", "s.to_frame().assign(t=text)"):
        with pytest.raises(UnsafeExpression, match="memory"):
            safe_eval(expression, ns)
    assert safe_eval("s.fillna('b').tolist()", ns) == ["a", "b"] * 150


def test_a_mask_selects_rows_and_is_not_priced_as_repeating_them(
    storage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`df[mask]` selects rows, each at most once: it is not priced by the columns the mask would name."""
    monkeypatch.setattr(se, "MAX_BYTES", 16_000_000)
    big = make_sales(100_000, storage)
    assert safe_eval("len(big[big.region == 'north'])", {"big": big}) == int((big.region == "north").sum())
    assert safe_eval("len(big.head(10_000)[[True, False] * 5_000])", {"big": big}) == 5_000
