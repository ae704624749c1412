"""Take the README screenshots in a real JupyterLab session (headless Chromium).

Starts a scripted loopback model server and `jupyter lab` on 127.0.0.1 (tests_browser/_lab.py,
the browser tests' harness, with this checkout's sidebar build) and drives two notebooks in
Chromium through Playwright:

- `%%kimi` in a cell: the live (mid-stream) and final renderings, kimi-cell-live.png and
  kimi-cell-final.png;
- the kimi-lab sidebar (sidebar.png): a small pandas DataFrame defined and run in the notebook,
  the sidebar opened 600 px wide and asked about it; the scripted model reasons, calls the
  `evaluate` tool (the value on its card is computed by the notebook's real kernel) and answers
  in Markdown with a code block and its "Copy to new cell" action;
- the demo (demo-tools-live.png, demo-tools.png): notebooks/02-dataframe-analysis.ipynb in a
  JupyterLab whose kernels have no provider key, so its first cell starts the demo server: the
  tool question mid-stream (reasoning paced beside tool cards) and answered.

Needs `pip install playwright`, a system Chromium at /usr/bin/chromium or $KIMI_LAB_CHROMIUM
(no `playwright install`) and, for the 💭 summary, an emoji font
(Debian: `apt-get install chromium fonts-noto-color-emoji`); the sidebar is built with npm
when kimi_lab/labextension/ has no build.

Usage: .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--only cell|sidebar|demo]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NoReturn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests_browser, when run as a script

from playwright.sync_api import Error as PlaywrightError  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: E402

from kimi_lab.testing import Reply, ToolCall  # noqa: E402
from tests_browser._lab import CHROMIUM, CHROMIUM_ARGS, Lab, LabError, running_lab  # noqa: E402
from tests_browser._page import (  # noqa: E402
    SIDEBAR,
    ask,
    collapse_left_sidebar,
    dismiss_overlays,
    open_lab,
    open_sidebar,
    run_cell,
    wait_connected,
    wait_turns_done,
    widen_sidebar,
)

NOTEBOOK = "rolling-average.ipynb"
QUESTION = "How do I compute a 7-day rolling average of daily sales in pandas when some days are missing?"
REASONING = """\
The user has daily sales with gaps: some calendar days simply have no row. A plain `rolling(7)` counts rows, \
not days, so a window after a gap would silently span more than a week. That is the trap to explain first.

Two clean options. (1) Reindex to a complete daily calendar with `asfreq("D")`, so each window really is seven \
days; missing days become NaN. (2) Use a time-based window, `rolling("7D")`, on a DatetimeIndex, which looks back \
seven calendar days whatever the row count is.

What should a missing day mean? If the shop was closed, sales were really 0 and filling with 0 is right. If the \
data is just missing, NaN is honest, and `min_periods` decides how many observed days a window needs before it \
reports a mean. I'll suggest min_periods=4 so a window needs most of the week.

I should also define the average itself so there is no ambiguity, keep the code short, and mention sorting the \
index, since a time-based window requires a monotonic index. Answer: explanation, code, one-line formula."""
ANSWER = r"""A row-based `rolling(7)` counts **rows**, not days, so after a gap a window covers more than a week.
Make the window count calendar days instead:

```python
import pandas as pd

sales = df.set_index("date").sort_index()["sales"]
daily = sales.asfreq("D")                         # one row per day, NaN where missing
avg7 = daily.rolling("7D", min_periods=4).mean()  # needs 4+ observed days
```

Each value is the mean of the observed days in the window, $\bar{x} = \frac{1}{n}\sum x_i$, with $n \le 7$.
If missing days mean the shop was closed, use `asfreq("D", fill_value=0)` so they count as zero sales."""

# The sidebar screenshot: a small DataFrame in the notebook, one question about it.
SIDEBAR_NOTEBOOK = "regional-sales.ipynb"
SIDEBAR_WIDTH = 600
FRAME = """\
import pandas as pd
df = pd.DataFrame({
    "region": ["north", "south", "east", "west"] * 2,
    "month": ["Jan"] * 4 + ["Feb"] * 4,
    "revenue": [1200, 950, 1430, 780, 1310, 1020, 1390, 860],
})
df"""
SIDEBAR_QUESTION = "Which region brought in the most revenue in df, over both months?"
# What the model asks the kernel to evaluate: only the live frame knows the value.
EXPRESSION = "df.groupby('region')['revenue'].sum().sort_values(ascending=False).to_dict()"
SIDEBAR_REASONING = (
    "df is live in the kernel: compute, don't guess. Sum revenue by region, largest first."
)
SIDEBAR_REASONING_2 = "{top} leads. Its share of the total says how clear the lead is; add a reusable snippet."


def totals() -> dict[str, int]:
    """EXPRESSION computed here from the same FRAME (the screenshot must show the kernel's)."""
    namespace: dict[str, object] = {}
    exec(FRAME, namespace)
    return eval(EXPRESSION, namespace)  # type: ignore[no-any-return]


def sidebar_answer(total: dict[str, int]) -> str:
    (top, most), (second, runner_up), *_ = total.items()
    share = most / sum(total.values())
    return f"""**{top.capitalize()}**, with **{most:,}** in revenue over January and February:
{share:.0%} of the total, ahead of {second} ({runner_up:,}).

Each region's share of the total:

```python
by_region = df.groupby("region")
t = by_region["revenue"].sum()
(t / t.sum()).round(2)
```"""


def fail(message: str) -> NoReturn:
    raise SystemExit(f"screenshots: {message}")


def shoot(page: Page, path: Path) -> None:
    """Screenshot the notebook panel, cropped just below the last cell."""
    box = page.locator(".jp-NotebookPanel").bounding_box()
    last = page.locator(".jp-Notebook .jp-Cell").last.bounding_box()
    if box is None or last is None:
        fail("notebook panel not visible")
    height = min(box["height"], last["y"] + last["height"] - box["y"] + 24)
    page.screenshot(path=str(path), clip={"x": box["x"], "y": box["y"], "width": box["width"], "height": height})
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def drive_cell(page: Page, url: str, out: Path) -> None:
    page.set_default_timeout(30_000)
    open_lab(page, url)  # until the notebook's kernel is up and idle
    collapse_left_sidebar(page)  # give the notebook the full width
    dismiss_overlays(page)
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
    page.wait_for_function(
        """() => {
            const r = document.querySelector('.kimi-lab-live .kimi-lab-reasoning details > div');
            const a = document.querySelector('.kimi-lab-live .kimi-lab-answer');
            const text = a ? a.textContent.trim() : '';
            return r && r.textContent.length > 0 && !text.startsWith('waiting') && text.length > 260;
        }""",
        timeout=30_000,
    )
    dismiss_overlays(page)
    shoot(page, out / "kimi-cell-live.png")
    summary = page.locator(".jp-RenderedMarkdown details > summary", has_text="💭 Thought for")
    summary.wait_for(timeout=30_000)
    summary.click()
    page.locator(".jp-RenderedMarkdown mjx-container").first.wait_for(timeout=15_000)
    # Grow the viewport so the whole expanded output fits, then let layout settle.
    needed = page.evaluate("() => document.querySelector('.jp-Notebook .jp-Cell:last-child').getBoundingClientRect()"
                           ".bottom")
    page.set_viewport_size({"width": 1400, "height": max(900, int(needed) + 80)})
    page.wait_for_function("() => document.fonts.status === 'loaded'", timeout=10_000)
    dismiss_overlays(page)
    shoot(page, out / "kimi-cell-final.png")


def drive_sidebar(page: Page, lab: Lab, out: Path) -> None:
    page.set_default_timeout(30_000)
    # `reset`: a fresh workspace, so the %%kimi notebook opened before is not restored beside it.
    open_lab(page, lab.notebook_url(SIDEBAR_NOTEBOOK) + "&reset")
    collapse_left_sidebar(page)
    if "1430" not in run_cell(page, 0):
        fail("the DataFrame cell did not show the frame")
    total = totals()
    lab.server.clear()
    lab.server.script(
        Reply(reasoning=SIDEBAR_REASONING, tool_calls=[ToolCall("evaluate", json.dumps({"expression": EXPRESSION}))]),
        Reply(reasoning=SIDEBAR_REASONING_2.format(top=next(iter(total)).capitalize()), content=sidebar_answer(total),
              chunk_chars=12),
    )
    sidebar = open_sidebar(page)
    wait_connected(sidebar)
    widen_sidebar(page, SIDEBAR_WIDTH)
    ask(page, SIDEBAR_QUESTION)
    wait_turns_done(page, 1)
    turn = sidebar.locator(".kimi-turn").last
    turn.locator(".kimi-answer[data-rendered]").wait_for(timeout=30_000)
    card = turn.locator(".kimi-tool").first
    if card.get_attribute("data-status") != "ok" or repr(total) not in card.locator(".kimi-tool-preview").inner_text():
        fail(f"the evaluate card does not show the kernel's {total!r}: {card.inner_text()!r}")
    turn.locator(".kimi-copy-cell", has_text="Copy to new cell").wait_for(timeout=10_000)
    if sidebar.locator(".kimi-chat-error").is_visible():
        fail(f"the sidebar shows an error: {sidebar.locator('.kimi-chat-error').inner_text()!r}")
    page.locator(f"{SIDEBAR} .kimi-input-box").blur()
    page.mouse.move(1, 1)  # off the split handle and the buttons: no hover state in the picture
    page.wait_for_function("() => document.fonts.status === 'loaded'", timeout=10_000)
    dismiss_overlays(page)
    path = out / "sidebar.png"
    page.screenshot(path=str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


DEMO_NOTEBOOK = "02-dataframe-analysis.ipynb"
DEMO_QUESTION = "Which region grew its revenue fastest"


def drive_demo(page: Page, lab: Lab, out: Path) -> None:
    """Run notebook 02 on the demo server down to its tool question; shoot it streaming, then done."""
    page.set_default_timeout(60_000)
    open_lab(page, lab.notebook_url(DEMO_NOTEBOOK))
    collapse_left_sidebar(page)
    cells = page.locator(".jp-Notebook .jp-Cell")
    question = cells.filter(has_text=DEMO_QUESTION).first
    index = next(i for i in range(cells.count()) if DEMO_QUESTION in (cells.nth(i).text_content() or ""))
    for i in range(index):  # the cells above the question, one by one
        if "jp-CodeCell" in (cells.nth(i).get_attribute("class") or ""):
            run_cell(page, i, timeout=120_000)
    prompt = question.locator(".jp-InputPrompt")
    prompt.click()
    page.keyboard.press("Escape")
    prompt.click()
    page.keyboard.press("Shift+Enter")
    question.locator(".kimi-lab-live .kimi-lab-tool").first.wait_for(timeout=60_000)
    page.wait_for_function(
        "(c) => c.querySelectorAll('.kimi-lab-live .kimi-lab-tool').length >= 2", arg=question.element_handle())
    question.scroll_into_view_if_needed()
    dismiss_overlays(page)
    question.screenshot(path=str(out / "demo-tools-live.png"))
    print(f"wrote {out / 'demo-tools-live.png'}")
    summary = question.locator(".jp-RenderedMarkdown details > summary", has_text="💭 Thought for")
    summary.wait_for(timeout=60_000)
    summary.click()
    page.wait_for_function("() => document.fonts.status === 'loaded'", timeout=10_000)
    question.screenshot(path=str(out / "demo-tools.png"))
    print(f"wrote {out / 'demo-tools.png'}")


def demo_screenshots(browser: Any, out: Path) -> None:
    """A JupyterLab whose kernels have no key, holding the example notebooks."""
    import shutil

    with tempfile.TemporaryDirectory(prefix="kimi-lab-demo-") as tmp, \
            running_lab(Path(tmp), {}, sidebar=False, keyless=True) as lab:
        shutil.copy(ROOT / "notebooks" / DEMO_NOTEBOOK, lab.root / DEMO_NOTEBOOK)
        shutil.copytree(ROOT / "notebooks" / "data", lab.root / "data")
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, device_scale_factor=1)
        try:
            drive_demo(page, lab, out)
        finally:
            page.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="output folder")
    parser.add_argument("--only", choices=("cell", "sidebar", "demo"), help="take only these screenshots")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    notebooks = {NOTEBOOK: ["%load_ext kimi_lab", f"%%kimi\n{QUESTION}"], SIDEBAR_NOTEBOOK: [FRAME]}
    with tempfile.TemporaryDirectory(prefix="kimi-lab-shots-") as tmp:
        try:
            with running_lab(Path(tmp), notebooks, sidebar=args.only != "cell") as lab, sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    if args.only in (None, "demo"):
                        demo_screenshots(browser, out)
                    if args.only not in ("sidebar", "demo"):
                        lab.server.script(Reply(reasoning=REASONING, content=ANSWER, chunk_chars=6, delay=0.02))
                        page = browser.new_page(viewport={"width": 1400, "height": 900}, device_scale_factor=1)
                        drive_cell(page, lab.notebook_url(NOTEBOOK), out)
                        page.close()
                    if args.only in (None, "sidebar"):
                        page = browser.new_page(viewport={"width": 1440, "height": 640}, device_scale_factor=1)
                        drive_sidebar(page, lab, out)
                        page.close()
                except PlaywrightError as exc:
                    sys.stderr.write(lab.log_tail())
                    what = "timed out" if isinstance(exc, PlaywrightTimeout) else "browser step failed"
                    fail(f"{what}: {str(exc).splitlines()[0]} (jupyter lab log above)")
                finally:
                    browser.close()
        except LabError as exc:
            fail(str(exc))
    print(f"done in {time.monotonic() - started:.1f} s")
    return 0

if __name__ == "__main__":
    sys.exit(main())
