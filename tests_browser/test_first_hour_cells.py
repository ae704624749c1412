"""The first hour in cells (issue 11), in a real JupyterLab and Notebook 7 with Chromium.

- money and math side by side in `%kimi` answers, and `%kimi providers` prices;
- `%kimi help` shows the usage and sends nothing;
- approving `run_python`: the card names the call while stdin asks, the answer ends up below the
  prompt, and the card says what was decided;
- the same notebook in Notebook 7, its sidebar answering (the right area is JupyterLab's);
- both example notebooks, top to bottom, on a machine with no key: the demo server answers.

Runs in notebooks of its own and closes them, so the session page is back on browser-test.ipynb
for the modules after it. Screenshots: artifacts/screenshots/first-hour-*.png.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Browser, Locator, Page

from kimi_lab.testing import Reply, ToolCall

from ._lab import ROOT, Lab, running_lab, write_notebook
from ._page import (
    KERNEL_IDLE,
    LIST_AT_BOTTOM,
    SIDEBAR,
    close_notebook,
    notebook_panel,
    open_from_path,
    run_cell_in,
    wait_kernel_idle,
    wait_sidebar_ready,
    wait_turns_done,
)

NOTEBOOK = "first-hour.ipynb"
MONEY = "East leads by $1.2k; the average unit price is $4.50."
MATH = "The area grows as $x^2$, and in total $$\\sum_i x_i = 1$$"
CODE = "from IPython.display import Markdown, display\ndisplay(Markdown('**shown by the approved code**'))"
CELLS = [
    "%load_ext kimi_lab",
    "%kimi --tools none What are the figures?",
    "%kimi --tools none And the formula?",
    "%kimi providers",
    "%kimi help",
    "%%kimi --tools +code\nRun a line of code.",
    "%kimi --tools none Which region?",
    "%kimi --tools none Show me the code.",
]
LOAD, MONEY_CELL, MATH_CELL, PROVIDERS, HELP, APPROVAL, HOSTILE, CODE_ANSWER = range(len(CELLS))
SNIPPET = 'sales.groupby("region")["units"].sum()'


def output(notebook: Locator, index: int) -> Locator:
    return notebook.locator(".jp-Cell").nth(index).locator(".jp-OutputArea")


@pytest.fixture(scope="module")
def first_hour(page: Page, lab: Lab) -> Iterator[Locator]:
    write_notebook(lab.root / NOTEBOOK, CELLS)
    open_from_path(page, NOTEBOOK)
    notebook = notebook_panel(page, NOTEBOOK)
    notebook.locator(".jp-Cell").first.wait_for(timeout=30_000)
    wait_kernel_idle(page, 60_000)
    run_cell_in(notebook, LOAD, 60_000)
    try:
        yield notebook
    finally:
        close_notebook(page, lab, NOTEBOOK)
        page.locator(".jp-NotebookPanel").first.wait_for(state="visible", timeout=10_000)
        wait_kernel_idle(page, 60_000)


def test_money_stays_text_and_math_renders(page: Page, lab: Lab, first_hour: Locator, screenshots: Path) -> None:
    lab.server.clear()
    lab.server.script(Reply(reasoning="Sum by region.", content=MONEY), Reply(reasoning="Area.", content=MATH))
    run_cell_in(first_hour, MONEY_CELL)
    run_cell_in(first_hour, MATH_CELL)
    math = output(first_hour, MATH_CELL)
    math.locator("mjx-container").first.wait_for(timeout=30_000)  # typeset in order: the money cell is done too
    money = output(first_hour, MONEY_CELL)
    assert money.locator("mjx-container").count() == 0, "dollar amounts were typeset as math"
    shown = money.locator(".jp-RenderedMarkdown").last.inner_text()
    assert "$1.2k; the average unit price is $4.50." in shown and "\\" not in shown, shown
    assert math.locator("mjx-container").count() == 2, "inline and display math both render"
    run_cell_in(first_hour, PROVIDERS)
    prices = output(first_hour, PROVIDERS)
    assert "$0." in prices.inner_text() and prices.locator("mjx-container").count() == 0
    first_hour.locator(".jp-Cell").nth(MONEY_CELL).screenshot(path=str(screenshots / "first-hour-money.png"))


def test_help_shows_the_usage_and_sends_nothing(lab: Lab, first_hour: Locator) -> None:
    before = len(lab.server.chat_requests)
    run_cell_in(first_hour, HELP)
    text = output(first_hour, HELP).inner_text()
    assert "%kimi [options] PROMPT" in text and "--provider" in text
    assert len(lab.server.chat_requests) == before


def test_approving_run_python_in_a_cell(page: Page, lab: Lab, first_hour: Locator, screenshots: Path) -> None:
    lab.server.clear()
    lab.server.script(
        Reply(reasoning="I will run it.", tool_calls=[ToolCall("run_python", json.dumps({"code": CODE}))]),
        Reply(content="It ran."),
    )
    cell = first_hour.locator(".jp-Cell").nth(APPROVAL)
    prompt = cell.locator(".jp-InputPrompt")
    before = prompt.inner_text().strip()
    prompt.click()
    page.keyboard.press("Escape")
    prompt.click()
    page.keyboard.press("Shift+Enter")
    stdin = cell.locator(".jp-Stdin-input")
    stdin.wait_for(timeout=30_000)
    card = cell.locator(".kimi-lab-asking")
    card.wait_for(timeout=10_000)
    asking = card.inner_text()
    assert "run_python" in asking and "display(Markdown(" in asking and "waiting for your answer below" in asking
    assert "?()" not in cell.inner_text()
    cell.screenshot(path=str(screenshots / "first-hour-approval-asking.png"))
    stdin.fill("y")
    stdin.press("Enter")
    page.wait_for_function(
        "([p, before]) => { const t = p.textContent.trim(); return /\\[\\d+\\]/.test(t) && t !== before; }",
        arg=[prompt.element_handle(), before], timeout=30_000,
    )
    outputs = cell.locator(".jp-OutputArea-child")
    last = outputs.last
    last.locator(".jp-RenderedMarkdown").get_by_text("It ran.").wait_for(timeout=10_000)
    assert "approved by you · ok" in (last.text_content() or ""), "the card records the decision"
    assert "kimi-k2-thinking" in last.inner_text(), "the footer is the last thing in the cell"
    assert "shown by the approved code" in cell.inner_text(), "what the approved code showed is kept"
    assert cell.locator(".kimi-lab-asking").count() == 0
    cell.screenshot(path=str(screenshots / "first-hour-approval-done.png"))


def test_code_in_an_answer_goes_into_a_new_cell_below(lab: Lab, first_hour: Locator) -> None:
    lab.server.clear()
    lab.server.script(Reply(content=f"Like this:\n\n```python\n{SNIPPET}\n```"))
    run_cell_in(first_hour, CODE_ANSWER)
    cells = first_hour.locator(".jp-Cell")
    count = cells.count()
    button = output(first_hour, CODE_ANSWER).locator(".kimi-copy-cell", has_text="Insert below")
    button.click()
    first_hour.page.wait_for_function("([nb, n]) => nb.querySelectorAll('.jp-Cell').length === n + 1",
                                      arg=[first_hour.element_handle(), count], timeout=10_000)
    inserted = cells.nth(CODE_ANSWER + 1)
    assert SNIPPET in inserted.locator(".jp-InputArea").inner_text()
    assert inserted.locator(".jp-OutputArea-output").count() == 0, "shown, not run"


def test_html_in_an_answer_is_shown_never_run(page: Page, lab: Lab, first_hour: Locator) -> None:
    """The output of a cell the user just ran is trusted, and JupyterLab does not sanitise trusted
    Markdown: the model's HTML must arrive as text."""
    lab.server.clear()
    lab.server.script(Reply(content='North. <img src=x onerror="window.__kimi_pwned=1"> '
                                    '<script>window.__kimi_script=1</script> ![t](https://127.0.0.1:9/t.png)'))
    run_cell_in(first_hour, HOSTILE)
    shown = output(first_hour, HOSTILE).locator(".jp-RenderedMarkdown").last
    shown.get_by_text("North.").wait_for(timeout=10_000)
    assert '<img src=x onerror="window.__kimi_pwned=1">' in shown.inner_text(), "shown as text"
    assert shown.locator("img").count() == 0 and shown.locator("script").count() == 0
    assert page.evaluate("() => [window.__kimi_pwned, window.__kimi_script]") == [None, None]


def test_notebook_7_sidebar_answers(browser: Browser, lab: Lab, first_hour: Locator, screenshots: Path) -> None:
    """Notebook 7 (`notebook>=7`, served by the same server) with the sidebar in its right area."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(f"{lab.url}notebooks/{NOTEBOOK}?token={lab.token}")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=60_000)
        page.wait_for_function(
            "() => document.querySelector('.jp-NotebookPanel') && !document.querySelector('.jp-mod-busy')",
            timeout=30_000)
        lab.server.clear()
        lab.server.script(*[Reply(reasoning=f"Step {i}.", content=f"Answer {i}. " + "More words. " * 40)
                            for i in range(4)])
        page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        page.keyboard.press("Escape")
        page.keyboard.press("Control+Alt+k")
        sidebar = wait_sidebar_ready(page)
        box = sidebar.locator(".kimi-input-box")
        for i in range(4):
            box.fill(f"Question {i} from Notebook 7")
            box.press("Enter")
            wait_turns_done(page, i + 1, 30_000)
            page.wait_for_function(LIST_AT_BOTTOM, timeout=5_000)  # the newest answer is in view
        assert "Answer 3." in page.locator(f"{SIDEBAR} .kimi-turn").last.inner_text()
        page.screenshot(path=str(screenshots / "first-hour-notebook7.png"))
    finally:
        context.close()


# -- a machine with no key: both example notebooks on the demo server ------------------------


@pytest.fixture(scope="module")
def keyless_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("kimi-lab-keyless"), {}, keyless=True) as running:
        for name in ("01-quickstart.ipynb", "02-dataframe-analysis.ipynb"):
            shutil.copy(ROOT / "notebooks" / name, running.root / name)
        shutil.copytree(ROOT / "notebooks" / "data", running.root / "data")
        yield running


ALL_RUN = """() => { const p = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')];
    return p.length > 0 && p.every(e => /\\[\\d+\\]/.test(e.textContent)); }"""


def run_all(page: Page) -> None:
    """Run > Run All Cells, from the menu bar (the notebook is the active widget)."""
    page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def _text(cell: nbformat.NotebookNode) -> str:
    """Every output of a saved cell, in every mime type."""
    return "\n".join(str(o.get("text", "")) + "\n".join(str(v) for v in o.get("data", {}).values())
                     for o in cell.outputs)


@pytest.mark.parametrize("name", ["01-quickstart.ipynb", "02-dataframe-analysis.ipynb"])
def test_example_notebooks_run_top_to_bottom_with_no_key(browser: Browser, keyless_lab: Lab, name: str,
                                                        screenshots: Path) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 950})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(keyless_lab.notebook_url(name) + "&reset")  # a fresh workspace: only this notebook
        page.wait_for_function(KERNEL_IDLE, timeout=60_000)
        page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=30_000)
        run_all(page)
        if name.startswith("02"):
            stdin = page.locator(".jp-Stdin-input")  # the run_python cell asks; say no
            stdin.wait_for(timeout=180_000)
            stdin.fill("n")
            stdin.press("Enter")
        page.wait_for_function(ALL_RUN, timeout=180_000)
        page.wait_for_function(KERNEL_IDLE, timeout=60_000)
        # The notebook renders only the cells in view: read what ran from the saved file.
        page.keyboard.press("Control+s")
        page.wait_for_function("() => !document.querySelector('#jp-main-dock-panel .lm-TabBar-tab.jp-mod-dirty')",
                               timeout=30_000)
        nb = nbformat.read(str(keyless_lab.root / name), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        errors = [o for c in code for o in c.outputs if o.output_type == "error"]
        assert errors == [], errors
        assert "built-in demo server" in _text(code[0]), "the first cell says the answers are the demo's"
        everything = "\n".join(_text(c) for c in code)
        assert "Thought for" in everything and "Echo:" not in everything
        if name.startswith("02"):
            tools = next(c for c in code if "Which region grew" in c.source)
            assert "describe_variable" in _text(tools) and "evaluate" in _text(tools)
            shown = page.locator(".jp-Notebook .jp-Cell").filter(has_text="Which region grew").first
            shown.scroll_into_view_if_needed()
            shown.screenshot(path=str(screenshots / "first-hour-demo-tools.png"))
    finally:
        context.close()
