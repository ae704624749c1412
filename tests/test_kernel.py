"""%%kimi inside a real ipykernel: the live display, the cell value, and kernel interrupt."""

from __future__ import annotations

import time
from typing import Iterator

import pytest

from kimi_lab.testing import LoopbackServer, Reply
from kimi_lab.testing.kernel import Kernel

from .conftest import CANARY_KEY

pytestmark = pytest.mark.kernel


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(api_key=CANARY_KEY) as srv:
        yield srv


@pytest.fixture(scope="module")
def kernel(server: LoopbackServer) -> Iterator[Kernel]:
    k = Kernel({"KIMI_LAB_BASE_URL": server.base_url, "KIMI_LAB_API_KEY": CANARY_KEY})
    ex = k.run("%load_ext kimi_lab")
    assert ex.reply["content"]["status"] == "ok", ex.text()
    yield k
    k.shutdown()


def test_live_display_updates_in_place_and_value_is_not_shown_twice(kernel, server):
    server.script(Reply(reasoning="Let me think about this step by step. " * 20, content="Forty-two. " * 30,
                        chunk_chars=6, delay=0.004))
    ex = kernel.run("%%kimi\nWhat is the answer?")
    assert ex.reply["content"]["status"] == "ok", ex.text()
    displays = ex.of_type("display_data")
    updates = ex.of_type("update_display_data")
    assert len(displays) == 1, "one live display"
    assert updates, "updated in place"
    display_id = displays[0]["content"]["transient"]["display_id"]
    assert all(u["content"]["transient"]["display_id"] == display_id for u in updates)
    assert "text/html" in displays[0]["content"]["data"]
    final = updates[-1]["content"]["data"]
    assert "Forty-two." in final["text/markdown"] and "Thought for" in final["text/markdown"]
    assert not ex.of_type("execute_result"), "the cell value is the live display, not a second copy"
    check = kernel.run("print(type(_).__name__, _.content[:10])")
    assert "Result Forty-two." in check.text()


def test_interrupt_stops_within_a_second_and_keeps_the_conversation(kernel, server):
    kernel.run("%kimi reset")
    server.script(Reply(reasoning="slow thought ", content="word " * 2000, chunk_chars=5, delay=0.02))
    ex = kernel.submit("%%kimi\nTell me a long story")
    kernel.collect(ex, until=lambda m: m["msg_type"] == "update_display_data")
    sent = time.monotonic()
    kernel.km.interrupt_kernel()
    kernel.collect(ex, timeout=10)
    stopped = time.monotonic() - sent
    assert stopped < 1.0, f"took {stopped:.2f} s to stop"
    assert ex.reply["content"]["status"] == "error"
    assert ex.reply["content"]["ename"] == "KimiInterrupted"
    errors = ex.of_type("error")
    assert len(errors[0]["content"]["traceback"]) == 1, "one line, no traceback wall"
    assert "partial answer" in errors[0]["content"]["traceback"][0]
    state = kernel.run(
        "from kimi_lab.core.session import session\n"
        "m = session().conversations.get().messages\n"
        "print(len(m), m[-1].partial, m[-1].content.startswith('word'))"
    )
    assert "2 True True" in state.text()
    server.script(Reply(content="continued"))
    again = kernel.run("%kimi go on")
    assert again.reply["content"]["status"] == "ok", again.text()
    sent_messages = [m for m in server.chat_requests[-1].body["messages"] if m["role"] != "system"]
    assert sent_messages[1]["role"] == "assistant" and sent_messages[1]["content"].startswith("word")


def test_chat_panel_in_a_real_kernel_streams_while_cells_run(kernel, server):
    server.script(Reply(reasoning="Mull. " * 20, content="Panel answer. " * 30, chunk_chars=6, delay=0.005))
    started = kernel.run("import kimi_lab\np = kimi_lab.chat('kernel-panel', tools='data')\np.send('hello panel')\np")
    assert started.reply["content"]["status"] == "ok", started.text()
    assert started.of_type("display_data"), "the panel widget was displayed"
    meanwhile = kernel.run("print('cell ran', 6 * 7)")  # the kernel is not frozen
    assert "cell ran 42" in meanwhile.stdout()
    done = kernel.run("print(p.wait(30), p.turn.answer.outputs[0]['data']['text/plain'][:13], p.turn.redraws < 40)")
    assert "True Panel answer. True" in done.text(), done.text()
