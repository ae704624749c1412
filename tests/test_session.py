"""One session per kernel: a chat answering in one face is busy for every other face.

Before, "busy" lived in the comm bridge only, so a `%%kimi --chat X` cell asked while the sidebar answered
in X and the two answers interleaved in one conversation (its next request then had two user turns in a row).
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from kimi_lab.common.errors import KimiBusyError
from kimi_lab.core.session import new_session, session
from kimi_lab.faces.comm.dispatch import Bridge
from kimi_lab.testing import Reply
from kimi_lab.tools.registry import registry


def wait_for(condition: Any, timeout: float = 10.0) -> bool:
    tick = threading.Event()
    for _ in range(int(timeout / 0.02)):  # bounded
        if condition():
            return True
        tick.wait(0.02)
    return bool(condition())


def sidebar_ask(chat: str, prompt: str) -> tuple[Bridge, list[dict[str, Any]]]:
    sent: list[dict[str, Any]] = []
    bridge = Bridge(sent.append)
    bridge.handle({"content": {"data": {"type": "ask", "request_id": "a1", "chat": chat, "prompt": prompt}}})
    return bridge, sent


def finished(sent: list[dict[str, Any]]) -> bool:
    return any(m["type"] in ("result", "error") and m.get("request_id") == "a1" for m in sent)


def test_a_cell_asking_in_a_chat_the_sidebar_is_answering_in_says_so_and_changes_nothing(kimi):
    kimi.server.script(Reply(content="slow " * 400, chunk_chars=5, delay=0.01), Reply(content="the cell's answer"))
    bridge, sent = sidebar_ask("shared", "a long answer, please")
    assert wait_for(lambda: "shared" in session().busy), "the sidebar's answer holds its chat"
    cell = kimi.run("%%kimi --chat shared --new\nmeanwhile, from a cell")
    assert isinstance(cell.error, KimiBusyError)
    assert "chat 'shared' is answering in the sidebar right now" in cell.error.message
    assert "--chat NAME" in cell.error.message  # what to do, from a cell
    bridge.handle({"content": {"data": {"type": "stop", "request_id": "a1"}}})
    assert wait_for(lambda: finished(sent))
    conv = session().conversations.get("shared")
    assert [m.role for m in conv.messages] == ["user", "assistant"], "--new did not clear it, nothing interleaved"
    assert [r.prompt for r in conv.results] == ["a long answer, please"]
    assert len(kimi.server.chat_requests) == 1, "the cell's question was never sent"
    # Once the sidebar's answer ended, the chat is free again for the cell.
    assert kimi.run("%%kimi --chat shared\nnow, from a cell").error is None
    assert [r.prompt.strip() for r in conv.results] == ["a long answer, please", "now, from a cell"]


def test_the_sidebar_asking_in_a_chat_a_cell_is_answering_in_is_told_which_face_holds_it(kimi):
    kimi.server.script(Reply(content="slow " * 400, chunk_chars=5, delay=0.01))
    from kimi_lab.services import ask as api

    turn = api.prepare("from a cell", chat="held", config=kimi.config)
    worker = threading.Thread(target=api.run, args=(turn, "none", kimi.config), daemon=True)
    worker.start()
    assert wait_for(lambda: "held" in session().busy)
    _, sent = sidebar_ask("held", "and from the sidebar")
    [reply] = [m for m in sent if m.get("request_id") == "a1"]
    assert reply["type"] == "error"
    assert reply["message"] == ("chat 'held' is answering in a cell right now; wait for that answer or stop it, "
                                "then ask again")
    turn.request.cancel.set()
    worker.join(10)
    assert not worker.is_alive() and "held" not in session().busy, "the cell's answer frees its chat"


def test_the_chat_panel_is_named_as_the_face_that_holds_a_chat(kimi):
    kimi.server.script(Reply(content="slow " * 400, chunk_chars=5, delay=0.01))
    sent: list[dict[str, Any]] = []
    panel_bridge = Bridge(sent.append, face="the chat panel")
    panel_bridge.handle({"content": {"data": {"type": "ask", "request_id": "a1", "chat": "p", "prompt": "go"}}})
    assert wait_for(lambda: "p" in session().busy)
    cell = kimi.run("%kimi --chat p hello")
    assert isinstance(cell.error, KimiBusyError) and "answering in the chat panel" in cell.error.message
    panel_bridge.handle({"content": {"data": {"type": "stop", "request_id": "a1"}}})
    assert wait_for(lambda: finished(sent))


def test_a_new_session_forgets_everything_the_last_one_held(kimi):
    old = session()
    old.always_allowed.add("run_python")
    old.conversations.get("x").system = "be brief"
    assert old.busy.claim("x", object()) is None
    fresh = new_session()
    assert fresh is session() and fresh is not old
    assert not fresh.always_allowed and "x" not in fresh.busy and not fresh.conversations.has("x")
    assert fresh.ledger.total().requests == 0


def test_a_late_release_by_an_earlier_owner_frees_nothing():
    busy = new_session().busy
    first, second = object(), object()
    assert busy.claim("c", first) is None
    busy.release("c", first)
    assert busy.claim("c", second) is None
    busy.release("c", first)  # the first answer's cleanup, arriving late
    assert busy.owner("c") is second
    assert busy.claim("c", second) is None, "the holder may claim its own chat again (the bridge, then prepare)"
    assert busy.claim("c", first) is second


def test_clearing_or_reopening_a_chat_another_face_is_answering_in_is_refused(kimi):
    """`%kimi reset X` or `%kimi reopen X` while the sidebar answers in X would pull the history out
    from under that answer (the next request would lack its question): both say so and change nothing."""
    kimi.server.script(Reply(content="first"), Reply(content="slow " * 400, chunk_chars=5, delay=0.01))
    assert kimi.run("%%kimi --chat busy\nan earlier question").error is None
    bridge, sent = sidebar_ask("busy", "a long answer, please")
    assert wait_for(lambda: "busy" in session().busy)
    for command, what in (("reset", "clear it"), ("reopen", "reopen it")):
        cell = kimi.run(f"%kimi {command} busy")
        assert isinstance(cell.error, KimiBusyError), command
        assert "answering in the sidebar right now" in cell.error.message and what in cell.error.message
    kept = [m.content.strip() for m in session().conversations.get("busy").messages[:2]]
    assert kept == ["an earlier question", "first"]
    bridge.handle({"content": {"data": {"type": "stop", "request_id": "a1"}}})
    assert wait_for(lambda: finished(sent))
    assert "cleared (4 messages)" in kimi.run("%kimi reset busy").stdout, "free again once the answer ended"


@pytest.mark.parametrize("turn", [1, 2])
def test_each_test_starts_in_a_fresh_namespace(kimi, turn):
    """Run twice, in any order: whichever runs second would see the first one's variable if the shell's
    namespace were shared between tests (a frame left by one test once changed what another listed)."""
    assert "left_by_a_test" not in kimi.shell.user_ns and registry.get("tool_left_by_a_test") is None
    cell = kimi.run('left_by_a_test = 1\nfrom kimi_lab import tool\n@tool\ndef tool_left_by_a_test() -> int:\n'
                    '    """A tool one test registers."""\n    return 1')
    assert cell.error is None, cell.stdout
    assert kimi.shell.user_ns["left_by_a_test"] == 1 and registry.get("tool_left_by_a_test") is not None
