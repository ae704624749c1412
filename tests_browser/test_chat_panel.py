"""`kimi_lab.chat()` in a real JupyterLab: Shift+Enter is a newline, Enter sends.

Runs in a notebook of its own (opened from the path, then closed and its kernel shut down), so
the session's page is back on browser-test.ipynb, as test_sidebar.py expects, when it is done.
Screenshot: artifacts/screenshots/chat-panel.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page

from kimi_lab.testing import Reply

from ._lab import Lab, write_notebook
from ._page import close_notebook, open_from_path, wait_kernel_idle

PANEL_NOTEBOOK = "chat-panel.ipynb"
PANEL_CELL = 'import kimi_lab\nkimi_lab.chat("panel-browser")'
LINE_1, LINE_2 = "What is two plus two?", "Answer in one word."
ANSWER = "Four. PANEL-ANSWER"


@pytest.fixture
def panel_notebook(page: Page, lab: Lab) -> Iterator[Locator]:
    write_notebook(lab.root / PANEL_NOTEBOOK, [PANEL_CELL])
    open_from_path(page, PANEL_NOTEBOOK)
    notebook = page.locator(".jp-NotebookPanel", has_text="panel-browser")
    notebook.wait_for(state="visible", timeout=30_000)
    try:
        yield notebook
    finally:
        close_notebook(page, lab, PANEL_NOTEBOOK)
        page.locator(".jp-NotebookPanel").nth(1).wait_for(state="detached", timeout=10_000)
        page.locator(".jp-NotebookPanel").first.wait_for(state="visible", timeout=10_000)
        wait_kernel_idle(page, 60_000)


def test_chat_panel_enter_sends_shift_enter_newline(page: Page, lab: Lab, panel_notebook: Locator,
                                                   screenshots: Path) -> None:
    notebook = panel_notebook
    wait_kernel_idle(page, 60_000)
    prompt = notebook.locator(".jp-Cell").first.locator(".jp-InputPrompt")
    prompt.click()
    page.keyboard.press("Escape")
    prompt.click()
    page.keyboard.press("Shift+Enter")
    box = notebook.locator("textarea.kimi-chat-input")
    box.wait_for(state="visible", timeout=60_000)  # kimi_lab imported and the widget rendered
    page.wait_for_function("(e) => /\\[\\d+\\]/.test(e.textContent)", arg=prompt.element_handle(),
                           timeout=30_000)
    count = prompt.inner_text().strip()
    lab.server.clear()
    lab.server.script(Reply(reasoning="Two plus two is four.", content=f"{ANSWER}\n\n```python\nx = 2 + 2\n```"))

    box.click()
    page.keyboard.type(LINE_1)
    page.keyboard.press("Shift+Enter")
    assert box.input_value() == LINE_1 + "\n", "Shift+Enter adds a newline"
    page.keyboard.type(LINE_2)
    assert notebook.get_by_text("You:").count() == 0, "nothing was sent yet"
    assert prompt.inner_text().strip() == count, "Shift+Enter in the box did not run the cell"
    page.keyboard.press("Enter")

    notebook.locator(".jp-RenderedMarkdown").get_by_text(ANSWER, exact=True).wait_for(timeout=30_000)
    page.wait_for_function("(e) => e.value === ''", arg=box.element_handle(), timeout=10_000)
    assert notebook.get_by_text("You:").count() == 1
    assert prompt.inner_text().strip() == count, "Enter in the box did not run the cell"
    requests = lab.server.chat_requests
    assert len(requests) == 1, [r.body for r in requests]
    user = [m for m in requests[0].body["messages"] if m["role"] == "user"]
    assert user[-1]["content"] == f"{LINE_1}\n{LINE_2}"
    assert lab.server.pending_replies == 0
    notebook.screenshot(path=str(screenshots / "chat-panel.png"))
    cells = notebook.locator(".jp-Cell").count()
    notebook.locator(".kimi-copy-cell", has_text="Insert below").click()  # the panel's answers, as a cell's
    page.wait_for_function("([nb, n]) => nb.querySelectorAll('.jp-Cell').length === n + 1",
                           arg=[notebook.element_handle(), cells], timeout=10_000)
    assert "x = 2 + 2" in notebook.locator(".jp-Cell").nth(1).locator(".jp-InputArea").inner_text()

    # Enter while an answer streams: the text stays, a note says why, and the note ends with the answer.
    lab.server.script(Reply(reasoning="Counting slowly. " * 20, content="slow " * 120, chunk_chars=5, delay=0.03))
    box.click()
    page.keyboard.type("Count to three.")
    page.keyboard.press("Enter")
    stop = notebook.get_by_role("button", name="Stop")
    page.wait_for_function("(b) => !b.disabled", arg=stop.element_handle(), timeout=10_000)
    page.keyboard.type("My next question")
    page.keyboard.press("Enter")
    note = notebook.get_by_text("Kimi is still answering")
    note.wait_for(timeout=10_000)
    assert box.input_value() == "My next question", "Enter while streaming keeps what was typed"
    note.wait_for(state="detached", timeout=30_000)
    page.wait_for_function("(b) => b.disabled", arg=stop.element_handle(), timeout=30_000)
    assert box.input_value() == "My next question", "and it is still there after the answer"
    assert len(lab.server.chat_requests) == 2, "the busy Enter sent nothing"

    # Stop: the turn says "⏹ stopped", as the sidebar does.
    lab.server.script(Reply(reasoning="Thinking at length. " * 400, chunk_chars=5, delay=0.03))
    page.keyboard.press("Enter")
    page.wait_for_function("(b) => !b.disabled", arg=stop.element_handle(), timeout=10_000)
    stop.click()
    notebook.get_by_text("⏹ stopped").wait_for(timeout=20_000)
