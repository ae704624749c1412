"""The comm bridge lets go of finished asks: each one holds its turn, and through the turn's tools the
user's namespace, so a long session of sidebar questions must not pin them all in memory. What the
protocol still needs of a finished ask (a late `stop` is ignored, its id is not reused, a reloaded
page gets the finished turn in `history`) keeps working."""

from __future__ import annotations

import gc
import threading
import weakref
from typing import Any, Callable

import pytest

from kimi_lab.faces.comm.dispatch import Bridge
from kimi_lab.testing import Reply

from .protocol_check import checked, request


class Frontend:
    """One comm's view of the bridge: every message it was sent, waited on with a bound."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self.bridge = Bridge(checked(self._receive))

    def _receive(self, message: dict[str, Any]) -> None:
        with self._cond:
            self.messages.append(message)
            self._cond.notify_all()

    def send(self, kind: str, request_id: str, **fields: Any) -> None:
        self.bridge.handle({"content": {"data": request({"type": kind, "request_id": request_id, **fields})}})

    def wait(self, found: Callable[[], Any], timeout: float = 10.0) -> Any:
        with self._cond:
            value = self._cond.wait_for(found, timeout)
        assert value, f"not seen within {timeout} s: {[m['type'] for m in self.messages[-5:]]}"
        return value

    def reply(self, request_id: str, *types: str) -> dict[str, Any]:
        return self.wait(lambda: next((m for m in self.messages if m.get("request_id") == request_id
                                       and m["type"] in types), None))


def _join_ask_threads() -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("kimi_lab-ask-") or isinstance(thread, threading.Timer):
            thread.join(10)


def _settle() -> None:
    """Let the ask threads (and their batching timers) end, then collect (after the join loop's
    frame is gone: its loop variable would otherwise still hold the last thread, and so its ask)."""
    _join_ask_threads()
    gc.collect()


@pytest.fixture
def frontend(kimi) -> Frontend:
    kimi.run("big_frame_stand_in = list(range(1000))")
    return Frontend()


def test_finished_asks_are_released_and_late_requests_still_behave(frontend, kimi):
    asks, turns = [], []
    for n in range(6):
        kimi.server.script(Reply(reasoning="Think.", content=f"answer {n}"))
        frontend.send("ask", f"r{n}", chat="prune", prompt=f"question {n}")
        ask = frontend.bridge.asks[f"r{n}"]
        assert frontend.reply(f"r{n}", "result", "error")["type"] == "result"
        asks.append(weakref.ref(ask))
        turns.append(weakref.ref(ask.turn))
        assert ask.turn.runner.namespace is kimi.shell.user_ns, "each ask reaches the user's namespace"
        del ask
    _settle()
    assert frontend.bridge.asks == {}
    assert [ref() for ref in asks + turns] == [None] * 12, "finished asks and their turns were freed"

    frontend.send("stop", "r0")  # after its answer: ignored, no error
    frontend.send("approve", "r1", call_id="c1", answer="yes")
    frontend.send("ask", "r2", chat="prune", prompt="reusing an id")
    errors = [m for m in frontend.messages if m["type"] == "error"]
    assert [m["request_id"] for m in errors] == ["r1", "r2"], errors
    assert "no approval is pending" in errors[0]["message"] and "already used" in errors[1]["message"]
    frontend.send("history", "h1", chat="prune")  # the finished turns are all in the chat's history
    assert [t["result"]["content"] for t in frontend.reply("h1", "history")["turns"]] == [
        f"answer {n}" for n in range(6)]


def test_a_reloaded_page_follows_a_running_answer_then_both_let_it_go(frontend, kimi):
    kimi.server.script(Reply(content="word " * 200, chunk_chars=5, delay=0.005))
    frontend.send("ask", "long", chat="follow-prune", prompt="a long story")
    frontend.reply("long", "events")
    reloaded = Frontend()  # a new comm after a browser reload
    reloaded.send("history", "h", chat="follow-prune")
    turn = reloaded.reply("h", "history")["turns"][-1]
    assert turn["request_id"] == "long" and turn["result"] is None
    ask = weakref.ref(reloaded.bridge.asks["long"])
    results = [f.reply("long", "result")["result"]["content"] for f in (frontend, reloaded)]
    assert results == ["word " * 200] * 2, "both pages get the answer"
    _settle()
    assert frontend.bridge.asks == {} and reloaded.bridge.asks == {} and ask() is None
    reloaded.send("stop", "long")  # the follower's late stop is ignored too
    assert not [m for m in reloaded.messages if m["type"] == "error"]

