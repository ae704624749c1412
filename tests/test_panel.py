"""kimi_lab.chat(): the ipywidgets panel, driven as a user would, against the loopback server."""

from __future__ import annotations

import html
import json
import re
import threading

import pytest

from kimi_lab.core.session import session
from kimi_lab.faces.widget.panel import ChatPanel
from kimi_lab.testing import Reply, ToolCall

from .conftest import chat_messages

pytestmark = pytest.mark.usefixtures("checked_bridges")  # the panel's comm messages are checked too


def wait_for(condition, timeout: float = 10.0) -> bool:
    """Bounded wait on a condition, woken by a short Event timeout (no bare sleeps)."""
    tick = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return True
        tick.wait(0.02)
    return condition()


def streaming(kimi, chat: str, reply: Reply, prompt: str) -> ChatPanel:
    """A panel (no tools) whose answer to `prompt` has started streaming `reply`."""
    panel = ChatPanel(chat, tools="none")
    kimi.server.script(reply)
    panel.send(prompt)
    assert wait_for(lambda: panel.turn is not None and panel.turn.redraws > 0)
    return panel


def test_ask_streams_and_renders_the_answer_and_shares_the_chat(kimi):
    panel = ChatPanel("panel-a")
    kimi.server.script(Reply(reasoning="Thinking about it. " * 30, content="Forty-two. " * 40, chunk_chars=8,
                             delay=0.003))
    panel.input.value = "What is the answer?"
    panel.send_button.click()
    assert panel.wait(20)
    turn = panel.turn
    assert turn is not None and panel.input.value == ""
    assert "Forty-two." in turn.answer.outputs[0]["data"]["text/markdown"]
    assert "Thought for" in turn.answer.outputs[0]["data"]["text/markdown"]
    assert 1 <= turn.redraws < 40, "batched, not one redraw per token"
    assert "1 answer ·" in panel.footer.value and "in /" in panel.footer.value
    # The magic sees the panel's conversation.
    kimi.run("%kimi --chat panel-a --tools none and then?")
    assert [m["content"][:10] for m in chat_messages(kimi.server.chat_requests[-1])][:1] == ["What is th"]
    session().conversations.reset("panel-a")


def test_the_kernel_is_free_while_kimi_thinks(kimi):
    panel = streaming(kimi, "panel-b", Reply(content="slow " * 200, chunk_chars=5, delay=0.01), "go slowly")
    cell = kimi.run("x_free = 40 + 2")  # a cell runs while the answer streams
    assert cell.error is None and kimi.shell.user_ns["x_free"] == 42
    assert not panel.idle.is_set(), "the answer was still streaming"
    panel.stop()
    assert panel.wait(10)
    conv = session().conversations.get("panel-b")
    assert conv.messages[-1].partial or conv.results[-1].finish_reason == "cancelled"
    session().conversations.reset("panel-b")


def test_approval_buttons(kimi):
    kimi.run("import pandas as pd\nsales = pd.DataFrame({'units': [1, 2, 3]})")
    panel = ChatPanel("panel-c", tools="+code")
    kimi.server.script(
        Reply(reasoning="Run it.", tool_calls=[ToolCall("run_python", json.dumps({"code": "approved_total = 6"}))]),
        Reply(content="Done."),
    )
    panel.send("compute")
    assert wait_for(lambda: panel.turn is not None and panel.turn.approvals.children)
    card = panel.turn.approvals.children[0]
    assert "approved_total = 6" in card.children[0].value
    allow = card.children[1].children[0]
    assert allow.description == "Allow"
    allow.click()
    assert panel.wait(20)
    assert kimi.shell.user_ns.get("approved_total") == 6
    assert "Done." in panel.turn.answer.outputs[0]["data"]["text/markdown"]
    session().conversations.reset("panel-c")


def test_the_approval_card_shows_hidden_characters_and_the_lines_that_run(kimi, tmp_path, monkeypatch):
    """A carriage return, ANSI escapes and a bidi override cannot make the card show other code
    than what runs: each is shown marked, lines are numbered as Python counts them, a warning says so."""
    target = tmp_path / "pwned.txt"
    code = (f"reviews = 1\rimport pathlib; pathlib.Path({str(target)!r}).write_text('x')\r"
            "\x1b[2K\x1b[1Areviews  # \u202e)'x'(\n")
    panel = ChatPanel("panel-spoof", tools="+code")
    kimi.server.script(Reply(reasoning="Run it.", tool_calls=[ToolCall("run_python", json.dumps({"code": code}))]),
                       Reply(content="Denied, fine."))
    panel.send("describe the reviews")
    assert wait_for(lambda: panel.turn is not None and panel.turn.approvals.children)
    card = panel.turn.approvals.children[0]
    text = html.unescape(re.sub(r"<[^>]+>", "\n", card.children[0].value))
    assert not set(text) & {"\r", "\x1b", "\u202e"}
    assert f"2 │ import pathlib; pathlib.Path({str(target)!r}).write_text('x')␍" in text.splitlines()
    assert "3 │ ␛[2K␛[1Areviews  # <U+202E>)'x'(" in text.splitlines()
    assert "⚠ 5 hidden characters" in text and "CARRIAGE RETURN ␍ (lines 1, 2)" in text
    deny = card.children[1].children[1]
    assert deny.description == "Deny"
    deny.click()
    assert panel.wait(20)
    assert not target.exists(), "denied: nothing ran"
    session().conversations.reset("panel-spoof")


def test_errors_show_one_line_and_the_panel_recovers(kimi, monkeypatch):
    monkeypatch.delenv("MOONSHOT_API_KEY")
    panel = ChatPanel("panel-d")
    panel.send("hi")
    assert panel.wait(10)
    assert "no provider is set up" in panel.notice.value and "restart the kernel" in panel.notice.value
    assert "--base-url" not in panel.notice.value, "a chat face has no --base-url to pass"
    assert not panel.send_button.disabled


def test_a_panel_opens_on_the_chat_so_far(kimi):
    kimi.server.script(Reply(reasoning="Recall.", content="Asked from a cell."))
    assert kimi.run("%kimi --chat panel-earlier --tools none first, from a cell").error is None
    panel = ChatPanel("panel-earlier")
    assert len(panel.history.children) == 1
    shown = panel.history.children[0]
    assert "first, from a cell" in shown.children[0].value
    assert "Asked from a cell." in shown.children[3].outputs[0]["data"]["text/markdown"]
    assert "1 answer ·" in panel.footer.value
    session().conversations.reset("panel-earlier")


def test_the_model_box_offers_what_the_provider_lists(kimi):
    """A combo box: the provider's listed models are offered, any other id can still be typed."""
    panel = ChatPanel("panel-models")
    assert wait_for(lambda: panel.model.options == ("kimi-k2-thinking",)), panel.model.options
    assert panel.model.ensure_option is False
    panel.provider.value = "openrouter"  # no key: the listing cannot be read, and the box stays usable
    assert wait_for(lambda: panel.model.options == ())
    panel.model.value = "kimi-k3"
    assert panel.model.value == "kimi-k3"


def test_enter_while_answering_keeps_the_text_and_the_note_ends_with_the_answer(kimi):
    panel = streaming(kimi, "panel-busy", Reply(content="slow " * 200, chunk_chars=5, delay=0.01), "go slowly")
    assert panel.input.busy, "the box knows an answer runs, so its Enter keeps the text"
    panel.input.value = "my next question"
    panel.input._on_frontend_msg(panel.input, {"type": "busy"}, [])  # what the box sends on Enter now
    assert panel.input.value == "my next question" and "still answering" in panel.notice.value
    panel.stop()
    assert panel.wait(10)
    assert not panel.input.busy and panel.notice.value == "", "the note was about the answer that ended"
    assert panel.input.value == "my next question"
    session().conversations.reset("panel-busy")


def test_a_stopped_answer_says_stopped_like_the_sidebar(kimi):
    from kimi_lab.render.answer import STOPPED

    panel = streaming(kimi, "panel-stop", Reply(reasoning="thinking " * 300, chunk_chars=5, delay=0.01),
                      "think for a while")
    panel.stop()
    assert panel.wait(10)
    shown = panel.turn.answer.outputs[0]["data"]
    assert STOPPED in shown["text/markdown"] and STOPPED == "⏹ stopped"
    session().conversations.reset("panel-stop")
