"""The `%%kimi` cell and the kimi-lab sidebar in a real JupyterLab (headless Chromium).

Steps of one session, in file order: the magic streams and shows its cost; the sidebar asks
about a live DataFrame (evaluate tool); run_python asks for approval in a 300 px sidebar (Deny,
then Allow); a page reload restores the sidebar's conversation from the kernel; a reload in the
middle of an answer follows it live and can stop it; the shortcut; the chat exported to a
Markdown file, a new chat (kept for the notebook across a reload), the old one back from Chats; a
kernel restart reopens the chat from the transcripts file, and so does picking a chat the
restarted kernel does not have. Screenshots: artifacts/screenshots/.
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
    palette,
    run_cell,
    start_cell,
    turns,
    wait_cell_done,
    wait_connected,
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
    CELLS,
    CHAT,
    EXPRESSION,
    NOTEBOOK,
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
    wait_connected(sidebar)
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
    wait_connected(sidebar)
    restored = [p.inner_text() for p in sidebar.locator(".kimi-prompt").all()]
    # The notebook's cells ask in its chat too: the %%kimi cell's question comes back with the sidebar's.
    cells = CELLS[CELL_KIMI].split("\n", 1)[1]
    assert [p for p in restored if p.strip() != cells.strip()] == asked
    if Q_FRAME in asked:
        card = turns(page).nth(restored.index(Q_FRAME)).locator(".kimi-tool").first
        assert card.locator(".kimi-tool-name").inner_text() == "evaluate"
        assert expected_value() in card.locator(".kimi-tool-preview").inner_text()
    if Q_DENY in asked:
        denied = turns(page).nth(restored.index(Q_DENY)).locator(".kimi-tool").first
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
    assert "⏹ stopped" in turn.locator(".kimi-turn-footer").inner_text()  # as the chat panel says it


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


EXPORT = f"{CHAT}.kimi-chat.md"  # next to the notebook (the lab's root)
NEW_CHAT = f"{CHAT} (2)"
Q_NEW = "Start over: what is a DataFrame?"


def action(sidebar: Locator, label: str) -> Locator:
    """A button of the sidebar's header toolbar (Chats, New chat, Export), by its label."""
    return sidebar.locator(".kimi-chat-actions .kimi-action").filter(has=sidebar.page.get_by_text(label, exact=True))


def prompts(sidebar: Locator) -> list[str]:
    return [p.inner_text() for p in sidebar.locator(".kimi-prompt").all()]


def bound_to(sidebar: Locator, chat: str) -> None:
    sidebar.locator(".kimi-bound", has_text=f"chat “{chat}”").wait_for(timeout=15_000)


def pick_chat(page: Page, sidebar: Locator, chat: str) -> Locator:
    """Open Chats (it asks the kernel for the list each time) and pick `chat`; returns the menu."""
    action(sidebar, "Chats").click()
    menu = sidebar.locator(".kimi-chats-menu")
    item = menu.locator(f'.kimi-chats-item[data-chat="{chat}"]')
    item.wait_for(timeout=15_000)
    item.click()
    menu.wait_for(state="hidden", timeout=5_000)
    bound_to(sidebar, chat)
    return menu


def wait_choice_saved(page: Page, chat: str | None) -> None:
    """Until JupyterLab saved the notebook's chat choice in the workspace (the state database is
    written to the server debounced): what a reload restores."""
    # The predicate must answer at once (a returned promise would count as true): each poll
    # starts a fetch of the workspace, and a later poll reads what it found.
    page.wait_for_function(
        """([path, chat]) => {
            const key = JSON.stringify([path, chat]);
            if (window.__kimiWorkspace?.key !== key) {
                window.__kimiWorkspace = { key, busy: false, choices: undefined };
            }
            const s = window.__kimiWorkspace;
            if (!s.busy) {
                s.busy = true;
                fetch('/lab/api/workspaces/default', { cache: 'no-store' })
                    .then(r => (r.ok ? r.json() : null))
                    .then(w => { s.choices = (w && w.data && w.data['kimi-lab:chat-choices']) || {}; })
                    .catch(() => undefined)
                    .finally(() => { s.busy = false; });
            }
            return s.choices !== undefined && (s.choices[path] ?? null) === chat;
        }""",
        arg=[NOTEBOOK, chat], polling=250, timeout=15_000,
    )


def ensure_turns(page: Page, lab: Lab, sidebar: Locator) -> list[str]:
    """The sidebar chat's prompts; one turn first when this test runs alone."""
    if not sidebar.is_visible():
        open_sidebar(page)
    bound_to(sidebar, CHAT)
    asked = prompts(sidebar)
    if not asked:
        lab.server.clear()
        lab.server.script(Reply(content="Hello for the export."))
        ask(page, "Say hello for the export.")
        wait_turns_done(page, 1)
        asked = prompts(sidebar)
    return asked


def test_7_export_new_chat_and_back(page: Page, lab: Lab, screenshots: Path) -> None:
    sidebar = page.locator(SIDEBAR)
    asked = ensure_turns(page, lab, sidebar)
    widen_sidebar(page, 300)  # the toolbar wraps rather than sticking out of a narrow sidebar
    assert overflowing(sidebar.locator(".kimi-header"), ".kimi-action") == []
    page.screenshot(path=str(screenshots / "browser-7-toolbar.png"))

    # The model box suggests what the provider lists (the loopback server lists one model).
    sidebar.locator(".kimi-model-list option[value='kimi-k2-thinking']").wait_for(state="attached", timeout=15_000)
    suggestions = sidebar.locator(".kimi-model-list").get_attribute("id")
    assert suggestions and sidebar.locator(".kimi-model").get_attribute("list") == suggestions
    # Check setup: %kimi doctor's checks in the notice, aligned lines with a mark each.
    action(sidebar, "Check setup").click()
    report = sidebar.locator(".kimi-notice.kimi-mod-report", has_text="API key")
    report.wait_for(timeout=30_000)
    assert "✓ API key" in report.inner_text() and "✗" not in report.inner_text()
    page.screenshot(path=str(screenshots / "browser-7-check-setup.png"))

    # Export: a new Markdown file next to the notebook, opened in the Markdown preview, and a line saying so.
    action(sidebar, "Export").click()
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=EXPORT)
    tab.wait_for(timeout=15_000)
    notice = sidebar.locator(".kimi-notice", has_text=f"Exported {len(asked)} turns to {EXPORT}")
    notice.wait_for(timeout=5_000)
    # A whole line, above the connection row (a long conversation below must not squeeze it).
    line, row = notice.bounding_box(), sidebar.locator(".kimi-connection").bounding_box()
    assert line is not None and row is not None and line["height"] >= 12, (line, row)
    assert line["y"] + line["height"] <= row["y"] + 0.5, (line, row)
    text = (lab.root / EXPORT).read_text(encoding="utf-8")
    for prompt in asked:
        assert prompt in text, (prompt, text[:2000])
    shown = asked[0].replace("`", "")  # rendered: `sales` is code, without its backticks
    page.locator(".jp-MarkdownViewer .jp-RenderedMarkdown", has_text=shown).first.wait_for(timeout=15_000)
    page.screenshot(path=str(screenshots / "browser-7-export.png"))
    tab.locator(".lm-TabBar-tabCloseIcon").click()
    tab.wait_for(state="detached", timeout=10_000)
    page.locator(".jp-NotebookPanel").first.wait_for(state="visible", timeout=10_000)

    # New chat: an empty conversation under a fresh name; asking there starts from nothing.
    action(sidebar, "New chat").click()
    bound_to(sidebar, NEW_CHAT)
    assert turns(page).count() == 0
    sidebar.locator(".kimi-empty").wait_for(timeout=5_000)
    lab.server.clear()
    lab.server.script(Reply(content="A table with labelled columns. NEW-CHAT-ANSWER"))
    ask(page, Q_NEW)
    wait_turns_done(page, 1)
    assert prompts(sidebar) == [Q_NEW]
    sent = json.dumps(lab.server.chat_requests[-1].body["messages"])
    assert asked[0] not in sent, "a new chat does not carry the old conversation"

    # The choice is the notebook's: a reload shows the new chat again.
    wait_choice_saved(page, NEW_CHAT)
    page.reload()
    wait_kernel_idle(page, 60_000)
    if not sidebar.is_visible():
        open_sidebar(page)
    bound_to(sidebar, NEW_CHAT)
    wait_turns_done(page, 1)
    assert prompts(sidebar) == [Q_NEW]

    # Chats: the earlier chat is listed (with its turns) and picking it brings its turns back.
    action(sidebar, "Chats").click()
    menu = sidebar.locator(".kimi-chats-menu")
    old = menu.locator(f'.kimi-chats-item[data-chat="{CHAT}"]')
    old.wait_for(timeout=15_000)
    assert f"{len(asked)} turns" in old.inner_text(), old.inner_text()
    current = menu.locator(f'.kimi-chats-item[data-chat="{NEW_CHAT}"]')
    assert current.get_attribute("aria-checked") == "true"
    assert "current" in current.inner_text()
    page.screenshot(path=str(screenshots / "browser-7-chats-menu.png"))
    old.click()
    bound_to(sidebar, CHAT)
    wait_turns_done(page, len(asked))
    assert prompts(sidebar) == asked
    wait_choice_saved(page, None)  # the notebook's own chat again: nothing to remember


def restart_kernel(page: Page) -> None:
    """Kernel > Restart Kernel… through the command palette, confirming the dialog."""
    palette(page, page.locator(".jp-Notebook").first, "Restart Kernel", "Restart Kernel…", exact=True)
    dialog = page.locator(".jp-Dialog")
    dialog.locator("button.jp-mod-accept", has_text="Restart").click()
    dialog.wait_for(state="detached", timeout=10_000)


def test_8_kernel_restart_reopens_chats_from_the_transcripts(page: Page, lab: Lab, screenshots: Path) -> None:
    sidebar = page.locator(SIDEBAR)
    asked = ensure_turns(page, lab, sidebar)
    restart_kernel(page)
    # The sidebar opens its comm again (loading kimi_lab into the new kernel) and reloads the chat,
    # which the restarted kernel reads back from the transcripts file.
    note = sidebar.locator(".kimi-restored-note")
    note.wait_for(timeout=60_000)
    n = len(asked)
    assert note.inner_text() == f"Reopened {n} earlier turn{'s' if n != 1 else ''} from the transcripts file."
    wait_turns_done(page, n)
    assert prompts(sidebar) == asked
    wait_connected(sidebar)
    page.screenshot(path=str(screenshots / "browser-8-restart.png"))

    # A chat the restarted kernel does not have: Chats reopens it from the file too.
    if lab.root.joinpath(EXPORT).exists():  # test 7 ran: its new chat has a turn
        pick_chat(page, sidebar, NEW_CHAT)
        sidebar.locator(".kimi-restored-note", has_text="Reopened 1 earlier turn").wait_for(timeout=15_000)
        wait_turns_done(page, 1)
        assert prompts(sidebar) == [Q_NEW]
        pick_chat(page, sidebar, CHAT)
        wait_turns_done(page, n)
        assert prompts(sidebar) == asked
