"""The chat panel's input box: Enter sends, Shift+Enter is a newline (the browser's own), a busy
panel keeps the text, and without anywidget the panel falls back to a Textarea with a hint.

The front end is played here by the comm messages it would send: `update` as the user types,
then the custom `{"type": "submit"}` message the widget's ESM sends on Enter.
"""

from __future__ import annotations

import sys
from typing import Any

import ipywidgets as widgets
import pytest

from kimi_lab.core.session import session
from kimi_lab.faces.widget import panel as panel_module
from kimi_lab.faces.widget.chat_input import ChatInput
from kimi_lab.faces.widget.panel import NO_ANYWIDGET, ChatPanel
from kimi_lab.testing import Reply

from .conftest import chat_messages
from .test_panel import wait_for


def from_frontend(widget: Any, data: dict[str, Any]) -> None:
    """Deliver one comm message from the browser to the widget, as the kernel does."""
    widget._handle_msg({"content": {"comm_id": widget.model_id, "data": data}, "buffers": []})


def type_text(widget: Any, text: str) -> None:
    from_frontend(widget, {"method": "update", "state": {"value": text}, "buffer_paths": []})


def press_enter(widget: Any) -> None:
    """What the ESM does on Enter: submit the text (if any), then empty the box and sync that."""
    text = widget.value
    if not text.strip():
        return
    back: list[dict[str, Any]] = []
    original = widget.comm.send

    def send(data: Any = None, buffers: Any = None, **kwargs: Any) -> Any:
        back.append(data or {})
        return original(data=data, buffers=buffers, **kwargs)

    widget.comm.send = send
    try:
        from_frontend(widget, {"method": "custom", "content": {"type": "submit", "value": text}})
    finally:
        widget.comm.send = original
    type_text(widget, "")
    for data in back:  # and what the ESM does with a `restore` the kernel sent meanwhile
        content = data.get("content") or {}
        if data.get("method") == "custom" and content.get("type") == "restore":
            type_text(widget, content["value"])


def sent_states(widget: Any) -> list[dict[str, Any]]:
    """Record the state updates the kernel sends to the browser from now on."""
    sent: list[dict[str, Any]] = []
    widget.comm.send = lambda data=None, buffers=None, **_: sent.append(data)
    return sent


def test_on_submit_calls_back_with_the_text_and_python_clears_the_box():
    box = ChatInput(placeholder="Ask")
    got: list[str] = []
    box.on_submit(got.append)
    sent = sent_states(box)
    type_text(box, "first line\nsecond line")
    assert box.value == "first line\nsecond line"
    from_frontend(box, {"method": "custom", "content": {"type": "submit", "value": "first line\nsecond line"}})
    assert got == ["first line\nsecond line"]
    from_frontend(box, {"method": "custom", "content": {"type": "something-else"}})
    assert got == ["first line\nsecond line"], "only submit messages submit"
    box.value = ""
    assert {"method": "update", "state": {"value": ""}, "buffer_paths": []} in sent, "the browser is told to clear"
    box.on_submit(got.append, remove=True)
    box.submit("later")
    assert got == ["first line\nsecond line"] and box.value == "later"


def test_enter_sends_the_prompt_and_clears_the_box(kimi):
    panel = ChatPanel("panel-enter", tools="none")
    assert isinstance(panel.input, ChatInput)
    assert panel.notice.value == ""
    kimi.server.script(Reply(content="Two lines received."))
    sent = sent_states(panel.input)
    type_text(panel.input, "What is\nthe answer?")
    press_enter(panel.input)
    assert panel.wait(20)
    assert panel.input.value == ""
    assert any(m.get("state") == {"value": ""} for m in sent), "the browser's box was cleared"
    assert {"method": "custom", "content": {"type": "clear"}} in sent, "and told to sync the empty box back"
    assert chat_messages(kimi.server.chat_requests[-1])[-1]["content"] == "What is\nthe answer?"
    assert "Two lines received." in panel.turn.answer.outputs[0]["data"]["text/markdown"]
    press_enter(panel.input)  # an empty box sends nothing
    assert len(panel.history.children) == 1
    session().conversations.reset("panel-enter")


def test_enter_while_an_answer_runs_keeps_the_text(kimi):
    panel = ChatPanel("panel-busy", tools="none")
    kimi.server.script(Reply(content="slow " * 200, chunk_chars=5, delay=0.01), Reply(content="Second answer."))
    panel.send("go slowly")
    assert wait_for(lambda: panel.turn is not None and panel.turn.redraws > 0)
    type_text(panel.input, "the next question")
    press_enter(panel.input)
    assert not panel.idle.is_set(), "the first answer was still streaming"
    assert panel.input.value == "the next question"
    assert "still answering" in panel.notice.value
    assert len(panel.history.children) == 1
    panel.stop()
    assert panel.wait(10)
    press_enter(panel.input)  # once idle, the same Enter sends it
    assert panel.wait(20)
    assert panel.input.value == "" and len(panel.history.children) == 2
    assert chat_messages(kimi.server.chat_requests[-1])[-1]["content"] == "the next question"
    session().conversations.reset("panel-busy")


def test_without_anywidget_a_textarea_and_a_one_time_hint(kimi, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setitem(sys.modules, "anywidget", None)  # import anywidget raises ImportError
    monkeypatch.delitem(sys.modules, "kimi_lab.faces.widget.chat_input", raising=False)
    monkeypatch.setattr(panel_module, "_hinted", False)
    panel = ChatPanel("panel-fallback", tools="none")
    assert type(panel.input) is widgets.Textarea
    assert NO_ANYWIDGET in panel.notice.value
    assert ChatPanel("panel-fallback-2").notice.value == "", "the hint shows once"
    kimi.server.script(Reply(content="Sent with the button."))
    panel.input.value = "via Send"
    panel.send_button.click()
    assert panel.wait(20)
    assert panel.input.value == "" and panel.notice.value == ""
    assert chat_messages(kimi.server.chat_requests[-1])[-1]["content"] == "via Send"
    session().conversations.reset("panel-fallback")


def test_a_sidebar_hello_outside_a_kernel_leaves_the_widgets_comms_alone():
    """Answering `hello` asks for the kernel's id. Outside a running kernel that used to import
    ipykernel's app, which replaces `comm.create_comm` for the whole process: every widget made
    afterwards had a comm with no kernel and sent nothing (so these tests failed in some orders)."""
    import subprocess

    code = (
        "import comm, sys\n"
        "original = comm.create_comm\n"
        "from kimi_lab.faces.comm.dispatch import Bridge\n"
        "sent = []\n"
        "Bridge(sent.append).handle({'content': {'data': {'type': 'hello', 'request_id': 'h'}}})\n"
        "assert sent and sent[0]['type'] == 'hello' and sent[0]['kernel_id'] is None, sent\n"
        "print(comm.create_comm is original, 'ipykernel.kernelapp' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "False"]
