"""The `%%kimi` cell and the kimi-lab sidebar in a real JupyterLab (headless Chromium).

Steps of one session, in file order: the magic streams and shows its cost; the sidebar asks
about a live DataFrame (evaluate tool); run_python asks for approval in a 300 px sidebar (Deny,
then Allow); a page reload restores the sidebar's conversation from the kernel; a reload in the
middle of an answer follows it live and can stop it; the shortcut. Screenshots:
artifacts/screenshots/.
"""

from __future__ import annotations

import json
from pathlib import Path

from playwright.sync_api import Locator, Page

from kimi_lab.testing import Reply, ToolCall

from ._lab import Lab
from ._page import (
    SIDEBAR,
    ask,
    cell,
    columns_stacked,
    looks_disabled,
    open_sidebar,
    overflowing,
    run_cell,
    start_cell,
    turns,
    wait_cell_done,
    wait_kernel_idle,
    wait_turns_done,
    widen_sidebar,
)
from .notebook import (
    CELL_CHECK_ALLOW,
    CELL_CHECK_DENY,
    CELL_KIMI,
    CELL_LOAD,
    CELL_SALES,
    EXPRESSION,
    expected_units_sum,
    expected_value,
)

REASONING = (
    "The user wants a rolling mean over calendar days. A row-based window miscounts after gaps, so "
    "reindex with asfreq('D') or use a time-based window such as rolling('7D') on a sorted "
    "DatetimeIndex; min_periods decides how many observed days a window needs. "
) * 2
ANSWER = (
    "Use a time-based window so gaps do not stretch it:\n\n```python\n"
    "avg7 = df.set_index('date').sort_index()['sales'].rolling('7D', min_periods=4).mean()\n```\n\n"
    "Each value is the mean of the observed days in the 7 days ending that day. FINAL-CELL-ANSWER"
)
Q_FRAME = "Which region has the largest revenue in `sales`, averaged over a week?"
Q_DENY = "Set kimi_denied to 41 in my notebook."
Q_ALLOW = "Store the total units of sales in kimi_allowed."
DENIAL = "the user declined this call"  # kimi_lab/tools/runner.py, sent as preview and as error


def assert_connected(sidebar: Locator) -> None:
    """The connection row names kimi_lab and offers no Retry (that is for a failed connection)."""
    sidebar.locator(".kimi-connection-text", has_text="kimi_lab ").wait_for(timeout=30_000)
    assert sidebar.get_by_role("button", name="Retry").count() == 0


def test_1_kimi_cell_streams_and_shows_cost(page: Page, lab: Lab, screenshots: Path) -> None:
    # ~100 reasoning + ~100 answer chunks at 15 ms: a few seconds of live view to observe.
    lab.server.script(Reply(reasoning=REASONING, content=ANSWER, chunk_chars=4, delay=0.015))
    before_load = start_cell(page, CELL_LOAD)  # Shift+Enter runs the cell and selects the next
    wait_cell_done(page, CELL_LOAD, before_load)
    before_kimi = start_cell(page, CELL_KIMI)
    page.wait_for_function(
        """() => {
            const r = document.querySelector('.kimi-lab-live .kimi-lab-reasoning');
            const a = document.querySelector('.kimi-lab-live .kimi-lab-answer');
            const text = a ? a.textContent.trim() : '';
            return r && r.textContent.trim().length > 0 && !text.startsWith('waiting') && text.length > 20
                && !text.includes('FINAL-CELL-ANSWER');
        }""",
        timeout=30_000,
    )
    page.locator(".jp-NotebookPanel").screenshot(path=str(screenshots / "browser-1-cell-live.png"))
    wait_cell_done(page, CELL_KIMI, before_kimi)
    out = cell(page, CELL_KIMI).locator(".jp-OutputArea")
    out.get_by_text("FINAL-CELL-ANSWER").wait_for(timeout=15_000)
    footer = out.locator(".jp-RenderedMarkdown sub").last
    footer.wait_for(timeout=15_000)
    assert "$" in footer.inner_text(), footer.inner_text()
    assert page.locator(".kimi-lab-live").count() == 0  # the live view was replaced by the final one
    page.locator(".jp-NotebookPanel").screenshot(path=str(screenshots / "browser-1-cell.png"))


def test_2_sidebar_evaluates_live_dataframe(page: Page, lab: Lab, screenshots: Path) -> None:
    assert "(240, 3)" in run_cell(page, CELL_SALES)
    lab.server.clear()
    lab.server.script(
        Reply(reasoning="I will compute the revenue per region from the live frame.",
              tool_calls=[ToolCall("evaluate", json.dumps({"expression": EXPRESSION}))]),
        Reply(reasoning="The tool returned the value.",
              content="The top region's weekly revenue is in the tool result."),
    )
    sidebar = open_sidebar(page)
    assert_connected(sidebar)
    ask(page, Q_FRAME)
    wait_turns_done(page, 1)
    assert looks_disabled(sidebar.get_by_role("button", name="Stop")), "an idle Stop looks disabled"
    page.screenshot(path=str(screenshots / "browser-2-sidebar-default-width.png"))
    widen_sidebar(page)
    assert not columns_stacked(turns(page).last), "reasoning beside the answer in a wide sidebar"
    card = sidebar.locator(".kimi-tool").first
    assert card.locator(".kimi-tool-name").inner_text() == "evaluate"
    assert card.get_attribute("data-status") == "ok", card.inner_text()
    value = expected_value()
    preview = card.locator(".kimi-tool-preview").inner_text()
    assert value in preview, preview
    assert "groupby" in card.locator(".kimi-tool-args").inner_text()
    # The model got the kernel's value back as the tool result.
    tool_messages = [m for m in lab.server.chat_requests[-1].body["messages"] if m["role"] == "tool"]
    assert any(value in str(m["content"]) for m in tool_messages), tool_messages
    assert "weekly revenue" in turns(page).last.locator(".kimi-answer").inner_text()
    page.screenshot(path=str(screenshots / "browser-2-sidebar-tool.png"))


def test_3_run_python_deny_then_allow(page: Page, lab: Lab, screenshots: Path) -> None:
    sidebar = page.locator(SIDEBAR)
    if not sidebar.is_visible():
        open_sidebar(page)
    widen_sidebar(page, 300)  # the narrowest sidebar: the approval buttons must still fit
    n = turns(page).count()
    lab.server.clear()
    lab.server.script(
        # Kimi always reasons before a tool call (the Moonshot dialect rejects a history without it).
        Reply(reasoning="The user wants a variable set: run_python, which asks first.",
              tool_calls=[ToolCall("run_python", json.dumps({"code": "kimi_denied = 41"}))]),
        Reply(content="You declined, so kimi_denied was not set."),
    )
    ask(page, Q_DENY)
    pending = turns(page).nth(n).locator('.kimi-tool[data-status="pending"]')
    pending.wait_for(timeout=30_000)
    assert columns_stacked(turns(page).nth(n)), "a 300 px sidebar puts the reasoning above the answer"
    assert pending.locator(".kimi-tool-name").inner_text() == "run_python"
    assert "kimi_denied = 41" in pending.locator(".kimi-tool-args").inner_text()
    buttons = pending.locator(".kimi-tool-buttons button")
    assert buttons.all_inner_texts() == ["Allow", "Deny", "Always allow"]
    assert overflowing(pending, ".kimi-tool-head > span, .kimi-tool-buttons button") == []
    page.screenshot(path=str(screenshots / "browser-3-approval-pending.png"))
    pending.get_by_role("button", name="Deny").click()
    wait_turns_done(page, n + 1)
    denied = turns(page).nth(n).locator(".kimi-tool").first
    assert denied.get_attribute("data-status") == "denied", denied.inner_text()
    assert denied.locator(".kimi-tool-status").inner_text() == "denied"
    assert denied.inner_text().count(DENIAL) == 1, denied.inner_text()
    assert denied.locator(".kimi-tool-buttons button").count() == 0
    assert overflowing(denied, ".kimi-tool-head > span") == []
    page.screenshot(path=str(screenshots / "browser-3-approval-denied.png"))
    wait_kernel_idle(page)
    assert "after deny: None" in run_cell(page, CELL_CHECK_DENY)

    lab.server.clear()
    lab.server.script(
        Reply(reasoning="Sum the units column of the live frame in the kernel.",
              tool_calls=[ToolCall("run_python", json.dumps({"code": "kimi_allowed = int(sales['units'].sum())"}))]),
        Reply(content="Done: kimi_allowed holds the total units."),
    )
    ask(page, Q_ALLOW)
    pending = turns(page).nth(n + 1).locator('.kimi-tool[data-status="pending"]')
    pending.wait_for(timeout=30_000)
    assert overflowing(pending, ".kimi-tool-buttons button") == []
    pending.get_by_role("button", name="Allow", exact=True).click()
    wait_turns_done(page, n + 2)
    allowed = turns(page).nth(n + 1).locator(".kimi-tool").first
    assert allowed.get_attribute("data-status") == "ok", allowed.inner_text()
    wait_kernel_idle(page)
    assert f"after allow: {expected_units_sum()}" in run_cell(page, CELL_CHECK_ALLOW)
    page.screenshot(path=str(screenshots / "browser-3-approval.png"))


def test_4_reload_restores_conversation(page: Page, lab: Lab, screenshots: Path) -> None:
    asked = [p.inner_text() for p in page.locator(f"{SIDEBAR} .kimi-prompt").all()]
    if not asked:  # run alone: make one turn to restore
        lab.server.script(Reply(content="Hello from before the reload."))
        open_sidebar(page)
        ask(page, "Say hello.")
        wait_turns_done(page, 1)
        asked = ["Say hello."]
    page.reload()
    wait_kernel_idle(page, 60_000)
    sidebar = page.locator(SIDEBAR)
    if not sidebar.is_visible():
        open_sidebar(page)
    wait_turns_done(page, len(asked))
    assert_connected(sidebar)
    restored = [p.inner_text() for p in sidebar.locator(".kimi-prompt").all()]
    assert restored == asked
    if Q_FRAME in asked:
        card = turns(page).nth(asked.index(Q_FRAME)).locator(".kimi-tool").first
        assert card.locator(".kimi-tool-name").inner_text() == "evaluate"
        assert expected_value() in card.locator(".kimi-tool-preview").inner_text()
    if Q_DENY in asked:
        denied = turns(page).nth(asked.index(Q_DENY)).locator(".kimi-tool").first
        assert denied.get_attribute("data-status") == "denied"
        assert denied.inner_text().count(DENIAL) == 1, denied.inner_text()
    page.screenshot(path=str(screenshots / "browser-4-reload.png"))


def test_5_reload_while_answering_follows_the_answer_live(page: Page, lab: Lab, screenshots: Path) -> None:
    """A page reloaded mid-answer shows the answer so far, keeps streaming it, and can stop it."""
    sidebar = page.locator(SIDEBAR)
    if not sidebar.is_visible():
        open_sidebar(page)
    n = turns(page).count()
    lab.server.clear()
    # 2,000 chunks at 10 ms: ~20 s if nobody stops it; the test stops it after the reload.
    lab.server.script(Reply(reasoning="A long story, then.", content="part " * 2000 + "LIVE-END", chunk_chars=5,
                            delay=0.01))
    ask(page, "Tell me a very long story.")
    answer = turns(page).nth(n).locator(".kimi-answer")
    page.wait_for_function("(el) => el.textContent.includes('part part')", arg=answer.element_handle(),
                           timeout=30_000)
    page.reload()
    wait_kernel_idle(page, 60_000)
    if not sidebar.is_visible():
        open_sidebar(page)
    turn = turns(page).nth(n)
    turn.wait_for(timeout=30_000)
    assert "kimi-mod-running" in (turn.get_attribute("class") or ""), "restored while still running"
    stop = sidebar.get_by_role("button", name="Stop")
    page.wait_for_function("(b) => !b.disabled", arg=stop.element_handle(), timeout=15_000)
    # It grows here, in the reloaded page, while the server is still sending.
    restored = len(turn.locator(".kimi-answer").inner_text())
    page.wait_for_function("([el, n]) => el.textContent.length > n + 200",
                           arg=[turn.locator(".kimi-answer").element_handle(), restored], timeout=30_000)
    assert lab.server.chat_requests[-1].finished is None, "the stream was still going"
    page.screenshot(path=str(screenshots / "browser-5-reload-live.png"))
    stop.click()
    wait_turns_done(page, n + 1)
    text = turn.locator(".kimi-answer").inner_text()
    assert text.startswith("part part") and "LIVE-END" not in text
    assert "cancelled" in turn.locator(".kimi-turn-footer").inner_text()


def test_6_shortcut_opens_sidebar(page: Page) -> None:
    """Accel Alt K (Accel Shift K is JupyterLab's own table-of-contents shortcut)."""
    close = page.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tab.lm-mod-current")
    if close.count():
        close.first.click()  # collapse the right sidebar first
    page.locator(SIDEBAR).wait_for(state="hidden", timeout=10_000)
    page.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Alt+K")
    page.locator(SIDEBAR).wait_for(state="visible", timeout=5_000)
