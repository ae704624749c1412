"""One JupyterLab (loopback only), one model server and one Chromium page for the whole session:
the browser tests are steps of one session and run in file order.

    .venv/bin/python -m pytest tests_browser        # ~40 s; screenshots in artifacts/screenshots/

Needs the `playwright` Python package (no `playwright install`: it drives Debian's
/usr/bin/chromium, or $KIMI_LAB_CHROMIUM) and the sidebar extension: installed in this
environment, or prebuilt in kimi_lab/labextension/ (built with npm here when missing). Without
playwright or Chromium the tests skip, unless KIMI_LAB_REQUIRE_BROWSER=1 (CI), which makes that
an error.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

REQUIRED = os.environ.get("KIMI_LAB_REQUIRE_BROWSER", "") not in ("", "0")
if importlib.util.find_spec("playwright") is None:
    if REQUIRED:
        raise RuntimeError("KIMI_LAB_REQUIRE_BROWSER is set but playwright is not installed: pip install playwright")
    pytest.skip("playwright is not installed", allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from ._lab import CHROMIUM, CHROMIUM_ARGS, ROOT, Lab, running_lab  # noqa: E402
from ._page import open_lab  # noqa: E402
from .notebook import CELLS, NOTEBOOK  # noqa: E402

HERE = Path(__file__).parent


@pytest.hookimpl(trylast=True)  # after pytest-randomly's shuffle, which the Python suite keeps
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests are steps of one Lab session: they run in file and definition order."""
    ours = [(i, item) for i, item in enumerate(items) if HERE in Path(str(item.path)).parents]
    ordered = sorted((item for _, item in ours), key=lambda item: (str(item.path), item.location[1] or 0))
    for (i, _), item in zip(ours, ordered, strict=True):
        items[i] = item

SCREENSHOTS = ROOT / "artifacts" / "screenshots"


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    with running_lab(tmp_path_factory.mktemp("kimi-lab-browser"), {NOTEBOOK: CELLS}) as running:
        yield running


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        if REQUIRED:
            pytest.fail(f"{CHROMIUM} not found (apt-get install chromium fonts-noto-color-emoji)")
        pytest.skip(f"{CHROMIUM} not found (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def page(lab: Lab, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1500, "height": 950}, device_scale_factor=1)
    p = context.new_page()
    p.set_default_timeout(30_000)
    open_lab(p, lab.notebook_url(NOTEBOOK))
    try:
        yield p
    finally:
        context.close()


@pytest.fixture(autouse=True)
def _evidence_on_failure(request: pytest.FixtureRequest, lab: Lab, page: Page, screenshots: Path) -> Iterator[None]:
    yield
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print("---- jupyter lab log (tail) ----\n" + lab.log_tail())
        try:
            page.screenshot(path=str(screenshots / f"FAILED-{request.node.name}.png"))
        except Exception as exc:  # the page may be gone
            print(f"(no failure screenshot: {exc})")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
