"""Shared fixtures: a real IPython shell with kimi_lab loaded and a display recorder, and a
loopback server that every provider preset points at."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Iterator

import pytest
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell

from kimi_lab.core.session import new_session
from kimi_lab.settings.config import KimiLab, use_settings
from kimi_lab.settings.providers import PRESETS
from kimi_lab.testing import LoopbackServer
from kimi_lab.tools.registry import registry

from .protocol_check import checked_bridges, protocol_problems  # noqa: F401  (fixtures: comm messages are checked)

CANARY_KEY = "sk-canary-5f0c1d2e3a4b5c6d7e8f"


def chat_messages(request: Any) -> list[dict[str, Any]]:
    """The conversation as sent, without the system prompt."""
    return [m for m in request.body["messages"] if m["role"] != "system"]


class RecordingPublisher(DisplayPublisher):
    """Records every display and update as a frontend would receive them."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.calls: list[dict[str, Any]] = []

    def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kw):  # type: ignore[override]
        self.calls.append({"data": data, "id": (transient or {}).get("display_id"), "update": update})

    def clear_output(self, wait: bool = False) -> None:
        self.calls.append({"clear": True})

    def final(self) -> list[dict[str, str]]:
        """What the output area shows now: each display at its latest update."""
        shown: dict[Any, dict[str, str]] = {}
        for n, call in enumerate(self.calls):
            if call.get("clear"):
                shown.clear()  # clear_output(wait=True): a frontend empties the area before the next output
            if "data" in call:
                shown[call["id"] if call["id"] is not None else f"anon{n}"] = call["data"]
        return list(shown.values())


@dataclass
class Cell:
    result: Any
    error: BaseException | None
    stdout: str
    displays: list[dict[str, str]] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)

    def text(self) -> str:
        """Everything a user could see, in every mime type."""
        parts = [self.stdout]
        for data in self.displays:
            parts.extend(str(v) for v in data.values())
        for call in self.updates:
            parts.extend(str(v) for v in call.get("data", {}).values())
        return "\n".join(parts)

    @property
    def markdown(self) -> str:
        return next(d["text/markdown"] for d in self.displays if "text/markdown" in d)


class Kimi:
    """Runs cells in the shell and returns what the user would see."""

    def __init__(self, shell: InteractiveShell, server: LoopbackServer, capfd: Any) -> None:
        self.shell, self.server, self.capfd = shell, server, capfd

    @property
    def config(self) -> KimiLab:
        from kimi_lab.settings.config import settings

        return settings()

    def run(self, code: str) -> Cell:
        pub: RecordingPublisher = self.shell.display_pub  # type: ignore[assignment]
        pub.calls.clear()
        self.capfd.readouterr()
        res = self.shell.run_cell(code, store_history=True)
        out = self.capfd.readouterr()
        error = res.error_in_exec or res.error_before_exec
        return Cell(res.result, error, out.out + out.err, pub.final(), list(pub.calls))


@pytest.fixture(scope="session", autouse=True)
def _transcripts_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Tests (and the kernels they start) record transcripts into a temporary file."""
    path = tmp_path_factory.mktemp("transcripts") / "transcripts.sqlite3"
    old = os.environ.get("KIMI_LAB_TRANSCRIPTS")
    os.environ["KIMI_LAB_TRANSCRIPTS"] = str(path)
    yield
    if old is None:
        os.environ.pop("KIMI_LAB_TRANSCRIPTS", None)
    else:
        os.environ["KIMI_LAB_TRANSCRIPTS"] = old


@pytest.hookimpl(trylast=True)  # after pytest-randomly has shuffled
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests run in a random order, except the steps of one story in a module marked `steps` (one real
    kernel, restarted half-way: starting one per test would take minutes), which keep their order."""
    marked = [(i, item) for i, item in enumerate(items) if item.get_closest_marker("steps") is not None]
    by_module: dict[str, list[int]] = {}
    for i, item in marked:
        by_module.setdefault(str(item.path), []).append(i)
    for places in by_module.values():
        ordered = sorted((items[i] for i in places), key=lambda item: item.location[1] or 0)
        for i, item in zip(places, ordered, strict=True):
            items[i] = item


@pytest.fixture(scope="session")
def shell() -> InteractiveShell:
    sh = InteractiveShell.instance()
    sh.display_pub = RecordingPublisher(shell=sh)
    sh.run_line_magic("load_ext", "kimi_lab")
    return sh


@pytest.fixture
def server(request: pytest.FixtureRequest) -> Iterator[LoopbackServer]:
    """The loopback provider; `@pytest.mark.parametrize("server", [{...}], indirect=True)` passes its options."""
    with LoopbackServer(api_key=CANARY_KEY, **getattr(request, "param", {})) as srv:
        yield srv


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if (name.startswith("KIMI_LAB_") or name.endswith("_API_KEY")) and name != "KIMI_LAB_TRANSCRIPTS":
            monkeypatch.delenv(name)


@pytest.fixture
def kimi(shell: InteractiveShell, server: LoopbackServer, clean_env: None, monkeypatch: pytest.MonkeyPatch,
         capfd: Any) -> Iterator[Kimi]:
    """Every preset points at the loopback server; the Moonshot key is the canary."""
    monkeypatch.setenv("MOONSHOT_API_KEY", CANARY_KEY)
    # A fresh session: an "always" in one test must not skip another's prompt, nor a sidebar's notebook chat,
    # a busy chat, the usage or a conversation of one test reach another.
    new_session()
    cfg = KimiLab(parent=shell)
    cfg.presets = {name: {"base_url": server.base_url} for name in PRESETS}
    cfg.display = "html"
    cfg.retry_backoff = 0.05
    cfg.timeout = 5.0
    use_settings(cfg)
    shell.configurables[:] = [c for c in shell.configurables if not isinstance(c, KimiLab)] + [cfg]
    shell.reset(new_session=False)  # a fresh namespace: the shell is shared, a test's variables are its own
    registry.clear()  # and so are the tools it registered
    yield Kimi(shell, server, capfd)
    shell.reset(new_session=False)  # and nothing it made (a frame, a result) lives on into the next test
    registry.clear()
    new_session()
