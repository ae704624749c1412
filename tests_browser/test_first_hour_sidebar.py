"""Issue 11, "the first hour", in the sidebar of a real JupyterLab (headless Chromium).

Steps of one session, in file order, in a notebook of their own (opened from its path, closed
and its kernel shut down at the end, so test_sidebar.py finds browser-test.ipynb as it expects):
`%%kimi` cells are highlighted as Markdown; the sidebar opens at a usable width; money stays
text beside real math; long code lines scroll inside their block at 250, 520 and 620 px; the
list follows a growing answer, stays put when the user scrolls up and offers "Jump to latest";
the live "Thinking… 3.8 s · 1 tool call" line; a stopped turn says "⏹ stopped"; a reload opens
the chat at its latest turn; Export writes <notebook>.kimi-chat.md and opens the Markdown
preview; without a key, presets that need none are not marked "(no key)" and the error shows in
full.
Screenshots: artifacts/screenshots/first-hour-sidebar*.png (first-hour-sidebar.png for the README).
"""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page

from kimi_lab.testing import Reply, ToolCall

from ._lab import Lab, write_notebook
from ._page import (
    LIST_AT_BOTTOM,
    MESSAGES,
    SIDEBAR,
    ask,
    close_tab,
    list_scroll,
    notebook_panel,
    open_from_path,
    open_lab,
    open_sidebar_for,
    overflowing,
    run_cell_in,
    shutdown_kernel,
    turns,
    wait_kernel_idle,
    wait_turns_done,
    widen_sidebar,
)
from .notebook import NOTEBOOK

FIRST = "first-hour-sidebar.ipynb"  # its own (test_first_hour_cells.py has first-hour.ipynb)
CHAT = "first-hour-sidebar"
CELLS = [
    # The sidebar's provider box and a missing-key error are checked without a key; the second
    # cell puts the loopback server's key back.
    'import os\n_kimi_key = os.environ.pop("KIMI_LAB_API_KEY", None)',
    'os.environ["KIMI_LAB_API_KEY"] = _kimi_key',
    "%%kimi --chat first-hour-cell\nWhich month had the most **sales**?",
    "total = sum(range(10))",
]
CELL_HIDE_KEY, CELL_RESTORE_KEY, CELL_KIMI, CELL_PYTHON = range(4)

MONEY = "East leads by $1.2k; the average unit price is $4.50."
MATH = "The area grows as $x^2$ when the side is $x$."
LONG_CODE = (
    "Here is the loop:\n\n```python\nresult = compute(" + ", ".join(f"argument_{i}" for i in range(40)) + ")\n```\n\n"
    "See https://example.org/" + "very-long-path-segment-" * 12 + "end\n\n"
    "| region | " + " | ".join(f"column_{i}" for i in range(14)) + " |\n"
    "|---|" + "---|" * 14 + "\n| east | " + " | ".join(str(1000 + i) for i in range(14)) + " |\n"
)
PARAGRAPHS = "\n\n".join(f"Paragraph {i}: the weekly mean of the sales smooths the noise of single days."
                         for i in range(6))
REASONING = ("The user wants the best month. I will evaluate the grouped sum in the kernel rather than guess; "
             "the frame is live there. ") * 6


def list_box(page: Page) -> dict[str, float]:
    box = page.locator(MESSAGES).bounding_box()
    assert box is not None
    return box


def in_view(page: Page, locator: Locator) -> bool:
    """Whether some of `locator` shows inside the message list's viewport."""
    box, area = locator.bounding_box(), list_box(page)
    return box is not None and box["y"] < area["y"] + area["height"] and box["y"] + box["height"] > area["y"]


@pytest.fixture(scope="module")
def notebook(page: Page, lab: Lab) -> Iterator[Locator]:
    write_notebook(lab.root / FIRST, CELLS)
    lab.server.clear()
    open_from_path(page, FIRST)
    try:
        yield notebook_panel(page, FIRST)
    finally:
        lab.server.clear()
        close_tab(page, f"{CHAT}.kimi-chat.md")
        close_tab(page, FIRST)
        shutdown_kernel(lab, FIRST)
        # Back to browser-test.ipynb for test_sidebar.py (a reload above may have dropped its tab).
        if page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=NOTEBOOK).count() == 0:
            open_lab(page, lab.notebook_url(NOTEBOOK))
        page.locator(".jp-NotebookPanel:visible").first.wait_for(timeout=15_000)
        wait_kernel_idle(page, 60_000)


def widened_before(lab: Lab) -> bool:
    """Whether the sidebar already had its first show in this workspace (sidebarwidth.ts's flag)."""
    with urllib.request.urlopen(f"{lab.url}lab/api/workspaces/default?token={lab.token}", timeout=10) as resp:
        workspace = json.load(resp)
    return (workspace.get("data") or {}).get("kimi-lab:sidebar-widened") is True


def sidebar_open(notebook: Locator) -> Locator:
    sidebar = notebook.page.locator(SIDEBAR)
    if not sidebar.is_visible():
        open_sidebar_for(notebook)
    sidebar.locator(".kimi-bound", has_text=f"chat “{CHAT}”").wait_for(timeout=15_000)
    return sidebar


def test_1_kimi_cells_and_a_usable_width(page: Page, lab: Lab, notebook: Locator, screenshots: Path) -> None:
    wait_kernel_idle(page, 60_000)
    # %%kimi is the prompt: Markdown, not Python (CodeMirror names the language it parses with).
    editors = notebook.locator(".jp-Cell .cm-content")
    page.wait_for_function("([k, p]) => k.getAttribute('data-language') === 'markdown'"
                           " && p.getAttribute('data-language') === 'python'",
                           arg=[editors.nth(CELL_KIMI).element_handle(), editors.nth(CELL_PYTHON).element_handle()],
                           timeout=15_000)
    notebook.screenshot(path=str(screenshots / "first-hour-sidebar-kimi-cell.png"))

    first_show = not widened_before(lab)
    sidebar = sidebar_open(notebook)
    if first_show:  # its first show widens JupyterLab's ~250 px side area to about 420 px
        page.wait_for_function(
            f"() => Math.abs(document.querySelector('{SIDEBAR}').getBoundingClientRect().width - 420) <= 20",
            timeout=10_000)
    else:  # an earlier module opened it first: the width is the one it left
        widen_sidebar(page, 420)
    sidebar.locator(".kimi-providers option[value='custom']").wait_for(state="attached", timeout=15_000)
    header = ".kimi-bound, .kimi-action, .kimi-providers, .kimi-model"
    assert overflowing(sidebar.locator(".kimi-header"), header) == []
    # The narrowest JupyterLab default (250 px): the header wraps rather than being cut.
    widen_sidebar(page, 250)
    assert overflowing(sidebar.locator(".kimi-header"), header) == []
    widen_sidebar(page, 420)


def test_2_money_stays_text_beside_math(page: Page, lab: Lab, notebook: Locator, screenshots: Path) -> None:
    sidebar_open(notebook)
    lab.server.clear()
    lab.server.script(Reply(content=MONEY), Reply(content=MATH))
    n = turns(page).count()
    ask(page, "How do the regions compare?")
    wait_turns_done(page, n + 1)
    ask(page, "How does the area grow?")
    wait_turns_done(page, n + 2)
    money = turns(page).nth(n).locator(".kimi-answer")
    math = turns(page).nth(n + 1).locator(".kimi-answer")
    math.locator("mjx-container").first.wait_for(timeout=30_000)  # MathJax loads on first use
    # Money: typeset too (its escapes are MathJax's), but as plain dollars, no math.
    page.wait_for_function(
        "(a) => a.hasAttribute('data-rendered') && a.innerText.includes('$1.2k') && a.innerText.includes('$4.50')"
        " && !a.innerText.includes('\\\\')",
        arg=money.element_handle(), timeout=15_000,
    )
    assert money.locator("mjx-container").count() == 0, money.inner_html()
    assert "East leads by $1.2k; the average unit price is $4.50." in money.inner_text()
    assert math.locator("mjx-container").count() >= 2
    page.locator(SIDEBAR).screenshot(path=str(screenshots / "first-hour-sidebar-money-math.png"))


def test_3_long_code_lines_scroll_inside_their_block(page: Page, lab: Lab, notebook: Locator,
                                                     screenshots: Path) -> None:
    sidebar_open(notebook)
    lab.server.clear()
    lab.server.script(Reply(content=LONG_CODE))
    n = turns(page).count()
    ask(page, "Show me the call.")
    wait_turns_done(page, n + 1)
    answer = turns(page).nth(n).locator(".kimi-answer")
    answer.locator("pre").first.wait_for(timeout=15_000)
    for width in (250, 520, 620):
        widen_sidebar(page, width)
        page.wait_for_function(f"() => document.querySelector('{MESSAGES}').clientWidth > 0")
        metrics = list_scroll(page)
        assert metrics["width"] <= metrics["clientWidth"], (width, metrics)  # the list never scrolls sideways
        pre = answer.locator("pre").first
        scrolls = pre.evaluate("""p => {
            const s = getComputedStyle(p);
            p.scrollLeft = 80;
            return [p.scrollWidth > p.clientWidth, s.overflowX, p.scrollLeft > 0];
        }""")
        assert scrolls == [True, "auto", True], (width, scrolls)
        # The long URL wraps; the table scrolls in its own box: neither sticks out of the list.
        assert overflowing(page.locator(MESSAGES), ".kimi-answer a, .kimi-answer p") == [], width
        table = answer.locator("table").first
        assert table.evaluate("""t => {
            const l = t.closest('.kimi-messages').getBoundingClientRect(), r = t.getBoundingClientRect();
            const scrolls = ['auto', 'scroll'].includes(getComputedStyle(t).overflowX);
            return r.left >= l.left - 0.5 && r.right <= l.right + 0.5 && (t.scrollWidth <= t.clientWidth || scrolls);
        }"""), width
        page.locator(SIDEBAR).screenshot(path=str(screenshots / f"first-hour-sidebar-code-{width}.png"))
    widen_sidebar(page, 420)


def test_4_the_list_follows_unless_the_user_scrolls_up(page: Page, lab: Lab, notebook: Locator,
                                                       screenshots: Path) -> None:
    sidebar = sidebar_open(notebook)
    lab.server.clear()
    n = turns(page).count()
    more = max(0, 15 - n)
    lab.server.script(*[Reply(content=PARAGRAPHS) for _ in range(more)])
    for i in range(more):
        ask(page, f"Tell me about week {i + 1}.")
        wait_turns_done(page, n + i + 1)
        page.wait_for_function(LIST_AT_BOTTOM, timeout=5_000)  # each new turn is followed
    count = turns(page).count()
    assert count >= 15

    # The user scrolled up to read; asking brings the new question into view.
    jump = sidebar.locator(".kimi-jump-latest")
    page.locator(MESSAGES).hover()
    page.mouse.wheel(0, -100_000)
    page.wait_for_function(f"() => document.querySelector('{MESSAGES}').scrollTop < 5", timeout=5_000)
    jump.wait_for(state="visible", timeout=5_000)
    # A long answer, paced: ~6 s of streaming to scroll around in.
    lab.server.script(Reply(content="\n\n".join(f"Line {i} of a long answer." for i in range(400)), chunk_chars=12,
                            delay=0.02))
    ask(page, "Walk me through every day.")
    last = turns(page).nth(count)
    last.wait_for(timeout=10_000)
    page.wait_for_function("(t) => t.querySelector('.kimi-answer').textContent.includes('Line 20')",
                           arg=last.element_handle(), timeout=15_000)
    assert in_view(page, last), "the new question and its answer are in view"
    page.wait_for_function(LIST_AT_BOTTOM, timeout=5_000)
    assert jump.is_hidden()

    # Scroll up while it streams: the list stays where the user put it, and offers the way back.
    page.mouse.wheel(0, -1500)
    page.wait_for_function(f"() => {{ const l = document.querySelector('{MESSAGES}');"
                           " return l.scrollHeight - l.scrollTop - l.clientHeight > 600; }", timeout=5_000)
    jump.wait_for(state="visible", timeout=5_000)
    earlier = turns(page).nth(count - 2)
    before, top = list_scroll(page)["top"], earlier.bounding_box()
    grown = len(last.locator(".kimi-answer").inner_text())
    page.wait_for_function("([t, n]) => t.querySelector('.kimi-answer').textContent.length > n + 300",
                           arg=[last.element_handle(), grown], timeout=15_000)
    assert abs(list_scroll(page)["top"] - before) <= 1, (before, list_scroll(page))
    after = earlier.bounding_box()
    assert top is not None and after is not None and abs(after["y"] - top["y"]) <= 1, (top, after)
    assert jump.is_visible()
    sidebar.screenshot(path=str(screenshots / "first-hour-sidebar-jump.png"))

    # Jump to latest: at the end, following the answer again, and the button goes.
    jump.click()
    page.wait_for_function(LIST_AT_BOTTOM, timeout=5_000)
    jump.wait_for(state="hidden", timeout=5_000)
    grown = len(last.locator(".kimi-answer").inner_text())
    page.wait_for_function("([t, n]) => t.querySelector('.kimi-answer').textContent.length > n + 200",
                           arg=[last.element_handle(), grown], timeout=15_000)
    page.wait_for_function(LIST_AT_BOTTOM, timeout=5_000)
    wait_turns_done(page, count + 1, timeout=60_000)
    page.wait_for_function(LIST_AT_BOTTOM, timeout=5_000)


def test_5_live_status_while_thinking(page: Page, lab: Lab, notebook: Locator, screenshots: Path) -> None:
    sidebar = sidebar_open(notebook)
    widen_sidebar(page, 560)  # two columns: the reasoning beside the answer
    lab.server.clear()
    lab.server.script(
        Reply(reasoning=REASONING, tool_calls=[ToolCall("evaluate", json.dumps({"expression": "6 * 7"}))],
              first_delay=1.5, chunk_chars=6, delay=0.03),
        Reply(reasoning=REASONING, content="The best month is the one the tool found: 42. " * 8,
              chunk_chars=6, delay=0.03),
    )
    n = turns(page).count()
    ask(page, "Which month sold most?")
    turn = turns(page).nth(n)
    live = turn.locator(".kimi-live-status")
    live.wait_for(state="visible", timeout=10_000)
    first = live.inner_text()
    assert re.fullmatch(r"Thinking… \d+\.\d s", first), first
    # The seconds tick while nothing arrives (first_delay): no event drives it.
    page.wait_for_function("([e, t]) => e.textContent !== t && /^Thinking… \\d+\\.\\d s/.test(e.textContent)",
                           arg=[live.element_handle(), first], timeout=5_000)
    page.wait_for_function("(e) => /^Thinking… \\d+\\.\\d s · 1 tool call$/.test(e.textContent)",
                           arg=live.element_handle(), timeout=20_000)
    # The second round's reasoning under the tool card, the answer streaming: the README's picture.
    page.wait_for_function(
        "(t) => t.querySelector('.kimi-tool[data-status=\"ok\"]')"
        " && t.querySelectorAll('.kimi-reasoning-text').length >= 2",
        arg=turn.element_handle(), timeout=20_000,
    )
    page.wait_for_function("([e, t]) => /^Answering… \\d+\\.\\d s · 1 tool call$/.test(e.textContent)"
                           " && t.querySelector('.kimi-answer').textContent.length > 120",
                           arg=[live.element_handle(), turn.element_handle()], timeout=20_000)
    sidebar.locator(".kimi-reasoning-summary").last.wait_for(state="visible")
    sidebar.screenshot(path=str(screenshots / "first-hour-sidebar.png"))
    wait_turns_done(page, n + 1, timeout=60_000)
    assert live.is_hidden()
    assert "evaluate" in turn.locator(".kimi-tool-name").first.inner_text()
    widen_sidebar(page, 420)


def test_6_a_stopped_turn_says_stopped(page: Page, lab: Lab, notebook: Locator) -> None:
    sidebar = sidebar_open(notebook)
    lab.server.clear()
    lab.server.script(Reply(content="part " * 3000 + "STOP-END", chunk_chars=5, delay=0.01))
    n = turns(page).count()
    ask(page, "Write a very long story.")
    answer = turns(page).nth(n).locator(".kimi-answer")
    page.wait_for_function("(a) => a.textContent.includes('part part')", arg=answer.element_handle(), timeout=15_000)
    stop = sidebar.get_by_role("button", name="Stop")
    page.wait_for_function("(b) => !b.disabled", arg=stop.element_handle(), timeout=10_000)
    stop.click()
    wait_turns_done(page, n + 1)
    footer = turns(page).nth(n).locator(".kimi-turn-footer").inner_text()
    assert "⏹ stopped" in footer and "cancelled" not in footer, footer


def test_7_a_reload_opens_the_chat_at_its_latest_turn(page: Page, lab: Lab, notebook: Locator) -> None:
    # A turn that failed before it started (a missing key) is not part of the history.
    count = page.evaluate(f"() => [...document.querySelectorAll('{SIDEBAR} .kimi-turn')]"
                          ".filter(t => t.querySelector('.kimi-error').hidden).length")
    assert count >= 14
    page.goto(f"{lab.url}lab/tree/{FIRST}?token={lab.token}")
    wait_kernel_idle(page, 60_000)
    panel = notebook_panel(page, FIRST)
    sidebar_open(panel)
    wait_turns_done(page, count)
    page.wait_for_function(
        f"""(n) => {{
            const answers = [...document.querySelectorAll('{SIDEBAR} .kimi-turn .kimi-answer')];
            return answers.length >= n && answers.every(a => a.hasAttribute('data-rendered'));
        }}""",
        arg=count, timeout=30_000,
    )
    page.wait_for_function(LIST_AT_BOTTOM, timeout=5_000)
    assert in_view(page, turns(page).last)
    assert page.locator(SIDEBAR).locator(".kimi-jump-latest").is_hidden()


def test_8_export_names_the_file_after_the_notebook_and_opens_the_preview(
    page: Page, lab: Lab, notebook: Locator, screenshots: Path
) -> None:
    panel = notebook_panel(page, FIRST)
    sidebar = sidebar_open(panel)
    first_prompt = sidebar.locator(".kimi-prompt").first.inner_text()
    sidebar.locator(".kimi-chat-actions .kimi-action", has_text="Export").click()
    name = f"{CHAT}.kimi-chat.md"
    sidebar.locator(".kimi-notice", has_text=f"to {name}").wait_for(timeout=15_000)
    assert (lab.root / name).is_file()
    preview = notebook_panel(page, name)
    rendered = preview.locator(".jp-MarkdownViewer .jp-RenderedMarkdown", has_text=first_prompt).first
    rendered.wait_for(state="attached", timeout=15_000)  # rendered, not the text editor
    assert preview.locator(".jp-FileEditor").count() == 0
    page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=name).first.click()
    rendered.wait_for(timeout=10_000)
    page.screenshot(path=str(screenshots / "first-hour-sidebar-export.png"))
    close_tab(page, name)


def test_9_without_a_key(page: Page, lab: Lab, notebook: Locator, screenshots: Path) -> None:
    """Presets that need no key are not marked "(no key)"; a missing-key error shows in full."""
    panel = notebook_panel(page, FIRST)
    run_cell_in(panel, CELL_HIDE_KEY)
    try:
        # A reload connects again: hello and the providers are read with no key in the kernel.
        page.reload()
        wait_kernel_idle(page, 60_000)
        panel = notebook_panel(page, FIRST)
        sidebar = sidebar_open(panel)
        sidebar.locator(".kimi-providers option[value='custom']").wait_for(state="attached", timeout=15_000)
        labels = {o.get_attribute("value"): o.inner_text() for o in sidebar.locator(".kimi-providers option").all()}
        assert labels["moonshot"].endswith("(no key)"), labels
        assert "(no key)" not in labels["custom"] and "(no key)" not in labels["local"], labels

        # Asking without a key: the error says what to do, wrapped, in full.
        n = turns(page).count()
        ask(page, "Which region sells most?")
        wait_turns_done(page, n + 1)
        error = turns(page).nth(n).locator(".kimi-error")
        error.wait_for(timeout=15_000)
        text = error.inner_text()
        assert "key" in text.lower(), text
        assert overflowing(turns(page).nth(n), ".kimi-error") == []
        style = error.evaluate("e => [getComputedStyle(e).whiteSpace, getComputedStyle(e).textOverflow]")
        assert style[0] in ("pre-wrap", "normal") and style[1] != "ellipsis", style
        assert sidebar.locator(".kimi-chat-error").is_hidden(), "the turn says it once: not the chat's error line too"
        page.locator(SIDEBAR).screenshot(path=str(screenshots / "first-hour-sidebar-no-key.png"))
    finally:
        run_cell_in(notebook_panel(page, FIRST), CELL_RESTORE_KEY)
