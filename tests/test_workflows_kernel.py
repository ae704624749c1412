"""Issue 14's capabilities in a real ipykernel, as a user meets them: a fallback chain, the context refusal,
and cell references (typed answers, -f code, %kimi fix, files and replay run in notebook 04)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from kimi_lab.testing import LoopbackServer, Reply
from kimi_lab.testing.kernel import Kernel

from .conftest import CANARY_KEY

pytestmark = pytest.mark.kernel
ROUTER_KEY = "sk-or-router-canary-5566778899"


@pytest.fixture
def servers() -> Iterator[tuple[LoopbackServer, LoopbackServer]]:
    with LoopbackServer(api_key=CANARY_KEY) as moonshot, \
            LoopbackServer(api_key=ROUTER_KEY, dialect="openrouter") as router:
        yield moonshot, router


@pytest.fixture
def kernel(servers: tuple[LoopbackServer, LoopbackServer], tmp_path: Path) -> Iterator[Kernel]:
    moonshot, router = servers
    k = Kernel({"MOONSHOT_API_KEY": CANARY_KEY, "OPENROUTER_API_KEY": ROUTER_KEY,
                "KIMI_LAB_TRANSCRIPTS": str(tmp_path / "t.sqlite3")})
    setup = k.run(
        "%load_ext kimi_lab\n"
        f"%config KimiLab.presets = {{'moonshot': {{'base_url': {moonshot.base_url!r}}}, "
        f"'openrouter': {{'base_url': {router.base_url!r}}}}}\n"
        "%config KimiLab.max_retries = 0\n%config KimiLab.display = 'text'")
    assert setup.reply["content"]["status"] == "ok", setup.text()
    yield k
    k.shutdown()


def test_a_chain_falls_back_and_says_who_answered(kernel, servers):
    moonshot, router = servers
    moonshot.script(Reply(status=503))
    router.script(Reply(reasoning="Routed.", content="the router answers", dialect="openrouter"))
    ex = kernel.run("%kimi -p moonshot,openrouter --tools none hello")
    assert ex.reply["content"]["status"] == "ok", ex.text()
    shown = ex.text()
    assert "moonshot: 503" in shown and "openrouter via Moonshot AI" in shown  # the note and the footer
    result = kernel.run("print(repr(_.content), _.provider, _.warnings)").stdout()
    assert "'the router answers' openrouter" in result and "answered by openrouter" in result
    assert CANARY_KEY not in shown + result and ROUTER_KEY not in shown + result


def test_a_question_too_big_for_the_context_is_refused_before_sending(kernel, servers, tmp_path):
    moonshot, _ = servers
    big = tmp_path / "big.txt"
    big.write_text("word " * 260_000)  # about 325,000 tokens at 4 characters a token: over 262,144
    ex = kernel.run(f"%kimi -p moonshot --tools none --file {big} summarise it")
    assert ex.reply["content"]["status"] == "error", ex.text()[-600:]
    text = ex.text()
    assert "262,144" in text and "drop --file" in text and "Traceback" not in text
    assert moonshot.chat_requests == [], "refused before any money was spent"


def test_a_cell_reference_sends_that_cells_source(kernel, servers):
    moonshot, _ = servers
    ex = kernel.run("answer_cell = 40 + 2")
    number = ex.reply["content"]["execution_count"]
    asked = kernel.run(f"%kimi -p moonshot --tools none what does {{In[{number}]}} compute?")
    assert asked.reply["content"]["status"] == "ok", asked.text()
    assert "answer_cell = 40 + 2" in moonshot.chat_requests[-1].body["messages"][-1]["content"]
