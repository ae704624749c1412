"""Playwright helpers for JupyterLab + the kimi-lab sidebar. Every wait is bounded."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from playwright.sync_api import Locator, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from ._lab import Lab

SIDEBAR = "#kimi-lab-sidebar"

KERNEL_IDLE = """() => [...document.querySelectorAll('.jp-StatusBar-TextItem')]
                 .some(e => /^(?!No Kernel).+ \\| Idle$/.test(e.textContent.trim()))"""


def dismiss_overlays(page: Page) -> None:
    """Close toasts and dialogs that may cover the notebook."""
    for name in ("No", "Dismiss", "Close"):
        for button in page.locator(".Toastify__toast").get_by_role("button", name=name).all():
            button.click()
    if page.locator(".jp-Dialog").count():
        page.keyboard.press("Escape")


def open_lab(page: Page, url: str) -> None:
    """Load the notebook page and wait until its kernel is up and idle."""
    page.goto(url)
    wait_kernel_idle(page, timeout=60_000)
    page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=30_000)
    dismiss_overlays(page)


def wait_kernel_idle(page: Page, timeout: float = 30_000) -> None:
    page.wait_for_function(KERNEL_IDLE, timeout=timeout)


def collapse_left_sidebar(page: Page) -> None:
    """Close the left side panel (the file browser) to give the main area its width."""
    current = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if current.count():
        current.first.click()


def cell(page: Page, index: int) -> Locator:
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def prompt_text(page: Page, index: int) -> str:
    return cell(page, index).locator(".jp-InputPrompt").inner_text().strip()


def start_cell(page: Page, index: int) -> str:
    """Select cell `index` (command mode) and run it with Shift+Enter; returns the old prompt."""
    before = prompt_text(page, index)
    cell(page, index).locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")  # command mode, whatever had focus
    cell(page, index).locator(".jp-InputPrompt").click()
    page.keyboard.press("Shift+Enter")
    return before


def wait_cell_done(page: Page, index: int, before: str, timeout: float = 30_000) -> None:
    """Until the cell's prompt shows a new execution count (`[n]:`, not `[*]:`)."""
    page.wait_for_function(
        """([i, before]) => {
            const c = document.querySelectorAll('.jp-Notebook .jp-Cell')[i];
            const p = c && c.querySelector('.jp-InputPrompt');
            const t = p ? p.textContent.trim() : '';
            return /\\[\\d+\\]/.test(t) && t !== before;
        }""",
        arg=[index, before],
        timeout=timeout,
    )


def run_cell(page: Page, index: int, timeout: float = 30_000) -> str:
    """Run one cell and return its output text."""
    before = start_cell(page, index)
    wait_cell_done(page, index, before, timeout)
    return cell(page, index).locator(".jp-OutputArea").inner_text()


def open_sidebar(page: Page) -> Locator:
    """Open the sidebar from the command palette (Open Kimi Chat, command kimi-lab:open-sidebar)
    and wait until it can take a question. (Its shortcut, Accel Alt K, is tested on its own.)"""
    palette(page, page.locator(".jp-Notebook").first, "Open Kimi Chat")
    return wait_sidebar_ready(page)


def palette(page: Page, focus: Locator, search: str, item: str | None = None, exact: bool = False) -> None:
    """Run a command from the command palette with `focus` (a notebook) focused: type `search`, click the
    first entry showing `item` (default: `search`; `exact`: an entry whose label is exactly that)."""
    focus.click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Shift+C")
    box = page.locator(".jp-ModalCommandPalette .lm-CommandPalette-input")
    box.wait_for(state="visible", timeout=10_000)
    box.fill(search)
    items = page.locator(".jp-ModalCommandPalette .lm-CommandPalette-item")
    label = item or search
    entry = items.filter(has=page.get_by_text(label, exact=True)) if exact else items.filter(has_text=label)
    entry.first.wait_for(timeout=10_000)
    entry.first.click()


def wait_sidebar_ready(page: Page) -> Locator:
    sidebar = page.locator(SIDEBAR)
    sidebar.wait_for(state="visible", timeout=15_000)
    page.wait_for_function(
        f"() => {{ const i = document.querySelector('{SIDEBAR} .kimi-input-box'); return i && !i.disabled; }}",
        timeout=30_000,
    )
    return sidebar


def ask(page: Page, prompt: str) -> None:
    box = page.locator(f"{SIDEBAR} .kimi-input-box")
    box.fill(prompt)
    box.press("Enter")


def turns(page: Page) -> Locator:
    return page.locator(f"{SIDEBAR} .kimi-turn")


def wait_turns_done(page: Page, count: int, timeout: float = 30_000) -> None:
    """Until the sidebar shows `count` turns and none is still running."""
    page.wait_for_function(
        f"""(n) => {{
            const t = document.querySelectorAll('{SIDEBAR} .kimi-turn');
            return t.length >= n && ![...t].some(e => e.classList.contains('kimi-mod-running'));
        }}""",
        arg=count,
        timeout=timeout,
    )


def shoot(page: Page, path: Path, locator: Locator | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if locator is None:
        page.screenshot(path=str(path))
    else:
        locator.screenshot(path=str(path))
    return path


def widen_sidebar(page: Page, width: int = 520) -> None:
    """Collapse the left sidebar and drag the main/right split handle so the kimi-lab sidebar is
    about `width` px wide (the default right panel is narrow for its two columns; 300 px is its
    narrowest)."""
    collapse_left_sidebar(page)
    box = page.locator(SIDEBAR).bounding_box()
    handles = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)")
    if box is None or handles.count() == 0:
        return
    handle = handles.last.bounding_box()
    if handle is None:
        return
    x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
    target = box["x"] + box["width"] - width
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(target, y, steps=5)
    page.mouse.up()
    page.wait_for_function(
        f"(w) => Math.abs(document.querySelector('{SIDEBAR}').getBoundingClientRect().width - w) <= 40",
        arg=width, timeout=5_000,
    )


def overflowing(container: Locator, selector: str) -> list[str]:
    """The `selector` elements inside `container` that stick out of it or whose own content
    spills out of them (their text and boxes, in px)."""
    return container.evaluate(
        """(c, sel) => {
            const box = c.getBoundingClientRect();
            return [...c.querySelectorAll(sel)].filter(e => {
                const r = e.getBoundingClientRect();
                return r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.bottom > box.bottom + 0.5
                    || e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1;
            }).map(e => {
                const r = e.getBoundingClientRect();
                return `${e.textContent}: ${r.left}-${r.right} x ${r.top}-${r.bottom} in ${box.left}-${box.right}`
                    + ` x ${box.top}-${box.bottom}, content ${e.scrollWidth}x${e.scrollHeight}`;
            });
        }""",
        selector,
    )


def wait_connected(sidebar: Locator, timeout: float = 30_000) -> None:
    """Until the connection row names kimi_lab (the kernel answered `hello`) and no Retry is
    offered."""
    sidebar.locator(".kimi-connection-text", has_text="kimi_lab ").wait_for(timeout=timeout)
    assert sidebar.get_by_role("button", name="Retry").count() == 0


def columns_stacked(turn: Locator) -> bool:
    """Whether the turn's reasoning sits above its answer (a narrow sidebar, under ~480 px)
    rather than beside it (the two-column layout of a wider one)."""
    return bool(turn.evaluate(
        """t => {
            const r = t.querySelector('.kimi-columns > .kimi-reasoning').getBoundingClientRect();
            const a = t.querySelector('.kimi-columns > .kimi-answer').getBoundingClientRect();
            if (r.width === 0) throw new Error('the turn has no reasoning column');
            return a.top >= r.bottom - 0.5 && Math.abs(a.width - r.width) <= 1;
        }"""
    ))


def looks_disabled(button: Locator) -> bool:
    """A disabled button that also looks it: a not-allowed cursor, dimmed, and not the colours
    of the same button enabled (an idle Stop must not look like a live red jp-mod-warn button)."""
    return bool(button.evaluate(
        """b => {
            const enabled = b.cloneNode(true);
            enabled.disabled = false;
            enabled.style.display = 'none';  // out of the layout; its colours still compute
            b.after(enabled);
            const on = getComputedStyle(enabled), off = getComputedStyle(b);
            const differs = on.backgroundColor !== off.backgroundColor || on.color !== off.color;
            enabled.remove();
            const styled = b.classList.contains('jp-mod-styled');  // minimal ones are only dimmed
            return b.disabled && off.cursor === 'not-allowed' && Number(off.opacity) < 1 && (differs || !styled);
        }"""
    ))


# ---------------------------------------------------------------------------------------------
# For pages with more than one notebook open (a hidden tab's cells are still in the DOM, so the
# helpers above, which take the first `.jp-Notebook`, would pick the wrong one).

MESSAGES = f"{SIDEBAR} .kimi-messages"


def open_from_path(page: Page, path: str) -> None:
    """File > Open from Path…, through the command palette (no page reload)."""
    palette(page, page.locator(".jp-NotebookPanel:visible .jp-Notebook").first, "Open from Path")
    dialog = page.locator(".jp-Dialog")
    dialog.locator("input").fill(path)
    dialog.get_by_role("button", name="Open").click()
    dialog.wait_for(state="detached", timeout=10_000)


def close_notebook(page: Page, lab: Lab, name: str) -> None:
    """Close its tab without saving, then shut its kernel down over the REST API."""
    close_tab(page, name)
    shutdown_kernel(lab, name)


def close_tab(page: Page, name: str) -> None:
    """Close a dock tab, discarding changes when asked."""
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=name)
    if tab.count() == 0:
        return
    tab.first.locator(".lm-TabBar-tabCloseIcon").click()
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.wait_for(state="visible", timeout=3_000)  # "Save your work" for a changed notebook
    except PlaywrightTimeout:
        pass
    else:
        dialog.get_by_role("button", name="Discard").click()
    tab.first.wait_for(state="detached", timeout=10_000)


def shutdown_kernel(lab: Lab, path: str) -> None:
    """Delete the session of the notebook at `path` (its kernel stops)."""
    api = f"{lab.url}api/sessions"
    with urllib.request.urlopen(f"{api}?token={lab.token}", timeout=10) as resp:
        sessions = json.load(resp)
    for session in sessions:
        if session.get("path") == path:
            req = urllib.request.Request(f"{api}/{session['id']}?token={lab.token}", method="DELETE")
            urllib.request.urlopen(req, timeout=10).close()


def notebook_panel(page: Page, name: str) -> Locator:
    """The dock panel of the notebook whose tab is labelled `name` (found through the tab's data-id)."""
    tab = page.locator("#jp-main-dock-panel .lm-TabBar-tab", has_text=name).first
    tab.wait_for(timeout=30_000)
    return page.locator(f"[id='{tab.get_attribute('data-id')}']")


def run_cell_in(notebook: Locator, index: int, timeout: float = 30_000) -> None:
    """Run cell `index` of `notebook` (a panel locator) and wait for its new execution count."""
    page = notebook.page
    prompt = notebook.locator(".jp-Cell").nth(index).locator(".jp-InputPrompt")
    before = prompt.inner_text().strip()
    prompt.click()
    page.keyboard.press("Escape")
    prompt.click()
    page.keyboard.press("Shift+Enter")
    page.wait_for_function(
        """([p, before]) => { const t = p.textContent.trim(); return /\\[\\d+\\]/.test(t) && t !== before; }""",
        arg=[prompt.element_handle(), before], timeout=timeout,
    )


def open_sidebar_for(notebook: Locator) -> Locator:
    """Open Kimi Chat from the command palette with `notebook` (a panel locator) focused."""
    palette(notebook.page, notebook.locator(".jp-Notebook"), "Open Kimi Chat")
    return wait_sidebar_ready(notebook.page)


def list_scroll(page: Page) -> dict[str, float]:
    """The sidebar message list's scrollTop, scrollHeight, clientHeight, scrollWidth, clientWidth."""
    return page.evaluate(
        f"""() => {{ const l = document.querySelector('{MESSAGES}');
            return {{ top: l.scrollTop, height: l.scrollHeight, client: l.clientHeight,
                      width: l.scrollWidth, clientWidth: l.clientWidth }}; }}"""
    )


LIST_AT_BOTTOM = f"""() => {{ const l = document.querySelector('{MESSAGES}');
    return l.scrollHeight - l.scrollTop - l.clientHeight <= 24; }}"""
