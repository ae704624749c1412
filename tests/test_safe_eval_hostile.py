"""Every hostile expression is refused and leaves every canary as it was: through the interpreter alone,
and end to end through the evaluate tool as the model calls it (JSON arguments, the tool runner, the
text the model reads); with the user's text in Python objects and in Arrow buffers (`STORAGES`)."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import kimi_lab.tools.safe_eval as se
from kimi_lab.tools.notebook import BUILTIN_TOOLS
from kimi_lab.tools.runner import ToolRunner
from kimi_lab.tools.safe_eval import UnsafeExpression, safe_eval

from .hostile_expressions import ALL, CLASSES, HARMLESS, MEMORY, needs_pyarrow
from .hostile_namespace import STORAGES, Canaries, pa, string_storage

BUDGET = 64_000_000  # bytes: the same guards as the default, reached sooner


@pytest.fixture(params=STORAGES)
def canaries(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(se, "MAX_BYTES", BUDGET)
    monkeypatch.setattr(se, "MAX_STEPS", 50_000)
    with string_storage(request.param):  # and the strings an expression makes are stored the same way
        made = Canaries(tmp_path, request.param)
        monkeypatch.setenv(made.env_name, made.env_value)
        made.before = made._snapshot()
        yield made
        made.close()


def tried(expressions: list[str]) -> list[str]:
    """The expressions this installation can try (those on Arrow-backed values need pyarrow)."""
    return [e for e in expressions if pa is not None or not needs_pyarrow(e)]


def test_the_table_covers_every_class_of_the_report() -> None:
    assert len(CLASSES) == 6 and all(len(cases) >= 10 for cases in CLASSES.values())
    assert len(ALL) == len(set(ALL)) >= 250


@pytest.mark.parametrize("expression", tried(ALL), ids=lambda e: e[:70])
def test_refused_by_the_interpreter_without_effect(expression: str, canaries: Canaries) -> None:
    try:
        shown = se.evaluate_text(expression, canaries.ns)
    except Exception as exc:  # refused, or failing inside the library: both must be without effect
        shown = f"{type(exc).__name__}: {exc}"
    else:
        assert expression in HARMLESS, f"not refused: {expression} -> {shown[:200]}"
    assert canaries.intact() == []
    assert canaries.leaked(shown) == []


@pytest.mark.parametrize("expression", tried([e for e in MEMORY if not e.startswith(("(", "-", "1", "["))]),
                         ids=lambda e: e[:70])
def test_memory_attacks_are_refused_by_a_guard_not_by_luck(expression: str, canaries: Canaries) -> None:
    """Budget attacks must be stopped by evaluate itself, before they allocate, not by a library error."""
    with pytest.raises(UnsafeExpression):
        safe_eval(expression, canaries.ns)


def test_end_to_end_the_model_reads_a_refusal_and_nothing_else(canaries: Canaries) -> None:
    runner = ToolRunner({"evaluate": BUILTIN_TOOLS["evaluate"]}, namespace=canaries.ns, timeout=30)
    statuses = []
    for index, expression in enumerate(tried(ALL)):
        outcome = runner.run(f"call_{index}", "evaluate", json.dumps({"expression": expression}))
        statuses.append(outcome.status)
        assert canaries.leaked(outcome.content) == [], expression
        assert outcome.status in ("error", "timeout") or expression in HARMLESS, (expression, outcome.content[:200])
    assert canaries.intact() == []
    assert statuses.count("error") >= len(tried(ALL)) - len(HARMLESS)


def test_arrays_from_the_notebook_are_read_only_inside(canaries: Canaries) -> None:
    view = safe_eval("arr", canaries.ns)
    assert not view.flags.writeable and np.shares_memory(view, canaries.ns["arr"])
    assert canaries.ns["arr"].flags.writeable  # the user's own array is untouched


def test_secret_keys_are_not_data_however_the_dict_is_read(canaries: Canaries) -> None:
    shown = safe_eval("sorted(cfg)", canaries.ns)
    assert shown == ["host"]
    assert safe_eval("cfg.get('host')", canaries.ns) == "db.internal"


def test_aliased_values_render_small(canaries: Canaries) -> None:
    """A list holding one megabyte string twenty times costs twenty pointers, and prints cut."""
    text = se.evaluate_text("[text for _ in range(20)]", canaries.ns)
    assert len(text) < 20_000 and "characters cut" in text


NESTED = (
    "[[a for _ in range(40)] for a in [[[a for _ in range(40)] for a in "
    "[[[a for _ in range(40)] for a in [[0] * 40]][0]]][0]]][0]"
)


@pytest.mark.parametrize("expression", [
    NESTED,  # 2.5 million leaves, aliased: the printer stops after a few thousand items
    f"[pd.Series([0]).map(lambda v: X) for X in [{NESTED}]][0]",  # the same list inside a cell
    "pd.DataFrame({'x' * 10**6: range(60)})",  # a column label of a million characters
    "pd.Series(['y' * 10**5] * 60, index=['i' * 10**5] * 60)",  # long cells and long row labels
])
def test_nested_values_and_long_labels_render_small(expression: str, canaries: Canaries) -> None:
    """Printing is bounded while it happens, not only cut afterwards (pandas prints labels and nested
    cells whole: a 184 MB peak for one long column label)."""
    tracemalloc.start()
    try:
        shown = se.evaluate_text(expression, canaries.ns)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert 50 < len(shown) < 20_000 and peak < 10_000_000


def test_a_refusal_inside_library_code_is_not_swallowed(canaries: Canaries) -> None:
    """pandas tries a function one way, catches the error, and tries another: our refusal still wins."""
    for expression in (
        "sales.units.agg(lambda s: 'x' * 10**10)",
        "sales.groupby('region').units.agg(lambda s: [text] * 10**5)",
        "sales.units.transform(lambda s: 'x' * 10**10)",
    ):
        with pytest.raises(UnsafeExpression):
            safe_eval(expression, canaries.ns)


def test_limits_are_inclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(se, "MAX_ITEMS", 1_000)
    assert len(safe_eval("list(range(1000))", {})) == 1000
    for expression in ("list(range(1001))", "[x for x in range(1001)]", "sum(range(1001))"):
        with pytest.raises(UnsafeExpression):
            safe_eval(expression, {})


def test_the_byte_budget_counts_text_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(se, "MAX_BYTES", 10_000_000)
    assert len(safe_eval('"x" * 9_000_000', {})) == 9_000_000
    with pytest.raises(UnsafeExpression, match="memory"):
        safe_eval('"x" * 11_000_000', {})
    with pytest.raises(UnsafeExpression, match="memory"):
        safe_eval('"\U0001f600" * 3_000_000', {})  # four bytes a character
    frame = {"s": pd.Series(["y" * 1_000] * 2_000)}
    with pytest.raises(UnsafeExpression, match="memory"):
        safe_eval("s * 10", frame)  # 2 MB of text, repeated
    assert len(safe_eval("s * 2", frame)) == 2_000


def test_parser_failures_become_unsafe_expression(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(se, "MAX_EXPRESSION_CHARS", 10**6)  # reach the parser with 10,000 levels
    for expression in ("(" * 10_000 + "1" + ")" * 10_000, "-" * 10_000 + "1", "[" * 10_000 + "]" * 10_000):
        with pytest.raises(UnsafeExpression):
            safe_eval(expression, {})
    with pytest.raises(UnsafeExpression, match="nested more than"):
        safe_eval("-" * 150 + "1", {})
