"""Money stays text in rendered Markdown; real math still renders (issue 11, point 1).

tests/fixtures/dollars.json is shared with the sidebar's port (labextension/src/dollars.test.ts),
so the two implementations of the rule cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kimi_lab.common.dollars import LITERAL, protect_dollars
from kimi_lab.common.result import Result
from kimi_lab.common.tables import Table
from kimi_lab.render.answer import markdown

CASES = json.loads((Path(__file__).parent / "fixtures" / "dollars.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", CASES, ids=[c["why"] for c in CASES])
def test_shared_cases(case: dict[str, str]) -> None:
    assert protect_dollars(case["in"]) == case["out"]


def test_the_fixture_covers_both_directions() -> None:
    escaped = [c for c in CASES if LITERAL in c["out"]]
    kept = [c for c in CASES if "$" in c["in"] and LITERAL not in c["out"]]
    assert len(escaped) >= 10 and len(kept) >= 6


def test_nothing_but_dollars_changes() -> None:
    for case in CASES:
        assert case["out"].replace(LITERAL, "$").replace("\\$", "$") == case["in"].replace("\\$", "$")


def test_a_money_answer_keeps_its_dollars_and_math_stays_math() -> None:
    money = markdown(Result(content="East leads by $1.2k; the average unit price is $4.50"))
    assert "by \\\\$1.2k; the average unit price is \\\\$4.50" in money
    math = markdown(Result(content="The area is $x^2$ and the sum is $$\\sum_i x_i$$"))
    assert "$x^2$" in math and "$$\\sum_i x_i$$" in math and LITERAL not in math.split("<sub>")[0]


def test_tables_we_write_show_prices_as_text() -> None:
    md = Table(["model", "in"], [["kimi-k2.6", "$0.95"]]).markdown()
    assert f"{LITERAL}0.95" in md


SAFE = json.loads((Path(__file__).parent / "fixtures" / "safe_markdown.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", SAFE, ids=[c["why"] for c in SAFE])
def test_shared_safe_markdown_cases(case: dict[str, str]) -> None:
    from kimi_lab.common.dollars import safe_markdown

    assert safe_markdown(case["in"]) == case["out"]


def test_an_answer_never_hands_the_front_end_a_tag_an_image_or_a_script_link() -> None:
    """A trusted output's Markdown is not sanitised by JupyterLab: raw HTML from the model would run."""
    hostile = ('<img src=x onerror="alert(1)"> <script>steal()</script> ![t](https://evil.example/?k=v) '
               '[click](javascript:alert(1)) <details><summary>x</summary>y</details>')
    md = markdown(Result(content=hostile))
    answer = md.split("<sub>")[0]
    for bad in ("<img", "<script", "<details><summary>x", "![t](", "](javascript:"):
        assert bad not in answer, bad
    assert "&lt;img src=x" in answer, "the text is still shown, as text"


@pytest.mark.parametrize("line", ['"$5 " + "`x" * 100_000', '"`a` " * 50_000', '"$a " * 100_000'])
def test_long_hostile_lines_are_linear(line: str) -> None:
    import time

    from kimi_lab.common.dollars import safe_markdown

    text = eval(line)
    start = time.perf_counter()
    safe_markdown(text)
    assert time.perf_counter() - start < 1.0, "the final render runs on the kernel's thread"
