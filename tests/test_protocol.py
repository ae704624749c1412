"""The comm protocol is defined once (kimi_lab/faces/comm/protocol.py): the sidebar's TypeScript types and the
doc's tables are generated from it and must be current, `validate` finds what breaks it, and the
kernel refuses a frontend that says it speaks another protocol. The bridge tests check every message
they see against it (tests/protocol_check.py)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from typing import Any

import pytest

from kimi_lab.common import events
from kimi_lab.faces.comm import protocol
from kimi_lab.faces.comm import protocol_gen as gen
from kimi_lab.faces.comm.protocol_validate import validate

from .protocol_check import PROBLEMS, checked

FIX = f"stale: run `{gen.COMMAND}` and commit the result"


def test_the_generated_typescript_is_current():
    assert gen.TS_PATH.read_text(encoding="utf-8") == gen.typescript(), f"{gen.TS_PATH.name} is {FIX}"


def test_the_doc_tables_are_current():
    doc = gen.DOC_PATH.read_text(encoding="utf-8")
    assert gen.document(doc) == doc, f"the tables of {gen.DOC_PATH.name} are {FIX}"


def test_every_message_and_field_is_described():
    tds = (*protocol.SHAPES, *protocol.EVENTS, *protocol.FRONTEND_REQUESTS, *protocol.KERNEL_MESSAGES)
    for td in tds:
        doc, fields = gen.described(td)
        assert doc, f"{td.__name__} has no description"
        assert set(fields) <= set(td.__annotations__), f"{td.__name__}'s docstring names no such field"
        missing = [name for name in td.__annotations__ if not gen.field_doc(td, name)]
        assert not missing, f"{td.__name__}: describe {missing} in its docstring"


def test_the_events_are_the_dataclasses_of_kimi_lab_events():
    """events.py is the one definition: every event it makes, as `to_dict` writes it, is valid."""
    made = [events.ReasoningDelta("r"), events.ContentDelta("c"), events.ToolCallDelta(0),
            events.ToolStart("i", "f", "{}"), events.ToolEnd("i", "f", "ok"),
            events.UsageEvent(events.TokenUsage(1, 2)), events.Status("s"), events.Done("stop"), events.ErrorEvent("e")]
    assert {type(e) for e in made} == set(events.Event.__args__), "an event type is missing here"
    assert validate({"type": "events", "request_id": "r", "events": [events.to_dict(e) for e in made]}) == []
    assert [list(td.__annotations__) for td in protocol.EVENTS] == [
        ["type", *(f.name for f in dataclasses.fields(e))] for e in made]


def test_the_bridge_uses_these_constants():
    from kimi_lab.faces.comm import dispatch as bridge

    assert (bridge.PROTOCOL, bridge.TARGET, bridge.ASK_OPTIONS, bridge.ANSWERS, bridge.REQUESTS) == (
        protocol.PROTOCOL, protocol.TARGET, protocol.ASK_OPTIONS, protocol.ANSWERS, protocol.REQUESTS)
    assert protocol.ASK_OPTIONS == set(protocol.AskOptions.__annotations__) and "base_url" not in protocol.ASK_OPTIONS
    assert protocol.ANSWERS == {"yes", "no", "always"}


def test_importing_it_loads_nothing_but_the_events_module():
    code = ("import sys, kimi_lab.common.events; before = set(sys.modules); import kimi_lab.faces.comm.protocol; "
            "print(sorted(set(sys.modules) - before))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    loaded = ["kimi_lab.faces.comm", "kimi_lab.faces.comm.protocol", "kimi_lab.faces.comm.protocol_shapes"]
    assert out.stdout.strip() == str(loaded)  # its package (a docstring) and its own two modules


# ---------------------------------------------------------------------------------------------
# validate


def hello(**changes: Any) -> dict[str, Any]:
    message = {"type": "hello", "request_id": "h", "protocol": 1, "version": "1.0", "kernel_id": None,
               "chats": ["a"], "provider": "moonshot", "model": "kimi-k2"}
    return {**message, **changes}


def test_a_valid_message_has_no_problems():
    assert validate(hello()) == []
    assert validate({"type": "hello", "request_id": "h"}, "frontend") == []


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        (hello(version=2), "hello.version: expected str, got int 2"),
        (hello(chats=["a", 3]), "hello.chats[1]: expected str, got int 3"),
        (hello(protocol=True), "hello.protocol: expected int, got bool True"),
        (hello(kernel_id=5), "hello.kernel_id: expected str | null, got int 5"),
        ({k: v for k, v in hello().items() if k != "model"}, "hello: missing 'model'"),
        (hello(extra=1), "hello: unexpected key 'extra'"),
        ({"type": "nope", "request_id": "x"}, "unknown kernel message type 'nope'"),
        ([], "a message is a JSON object, not list"),
        ({"type": "export", "request_id": "e", "chat": "c", "markdown": "", "source": "disk", "turns": 0},
         "export.source: 'disk' is not one of 'transcripts', 'memory'"),
        ({"type": "events", "request_id": "r", "events": [{"type": "content", "text": "a", "extra": 1}]},
         "events.events[0]: unexpected key 'extra'"),
        ({"type": "events", "request_id": "r", "events": [{"type": "usage", "usage": {"prompt": 1}, "upstream": ""}]},
         "events.events[0].usage: missing 'completion'"),
        ({"type": "events", "request_id": "r", "events": [{"type": "thought", "text": "a"}]},
         "events.events[0]: expected ReasoningEvent | ContentEvent"),
    ],
)
def test_each_problem_is_reported(message, problem):
    assert any(p.startswith(problem) for p in validate(message)), validate(message)


def test_a_frontend_may_add_keys_but_not_options():
    """A newer frontend's extra field is ignored by an older kernel; an unknown option is refused."""
    assert validate({"type": "hello", "request_id": "h", "protocol": 1, "theme": "dark"}, "frontend") == []
    ask = {"type": "ask", "request_id": "a", "prompt": "hi", "options": {"model": "m", "base_url": "http://x"}}
    assert validate(ask, "frontend") == ["ask.options: unexpected key 'base_url'"]
    assert validate({"type": "approve", "request_id": "a", "call_id": "c", "answer": "maybe"}, "frontend") == [
        "approve.answer: 'maybe' is not one of 'yes', 'no', 'always'"]
    assert validate({"type": "events", "request_id": "a", "events": []}, "frontend")[0].startswith(
        "unknown frontend message type 'events'")


def test_optional_and_nullable_fields():
    turn = {"prompt": "q", "events": [], "result": None}
    assert validate({"type": "history", "request_id": "h", "chat": "c", "turns": [turn], "restored": 0}) == []
    running = {**turn, "request_id": 7}
    assert validate({"type": "history", "request_id": "h", "chat": "c", "turns": [running], "restored": 0}) == [
        "history.turns[0].request_id: expected str, got int 7"]
    assert validate({"type": "error", "request_id": None, "message": "no request_id"}) == []


def test_a_checked_sink_records_what_breaks_the_protocol():
    sent: list[dict[str, Any]] = []
    checked(sent.append)({"type": "hello"})
    problems, PROBLEMS[:] = PROBLEMS[:], []  # this test's own: not a failure of the test
    assert sent == [{"type": "hello"}] and problems and all(p.startswith("kernel 'hello' message") for p in problems)


# ---------------------------------------------------------------------------------------------
# The kernel refuses a frontend of another protocol, saying which side to upgrade.


def say_hello(**fields: Any) -> dict[str, Any]:
    from kimi_lab.faces.comm.dispatch import Bridge

    sent: list[dict[str, Any]] = []
    Bridge(checked(sent.append)).handle({"content": {"data": {"type": "hello", "request_id": "h", **fields}}})
    [reply] = sent
    return reply


@pytest.mark.parametrize(
    ("theirs", "words"),
    [(protocol.PROTOCOL + 1, ("upgrade kimi_lab in the kernel's environment", "restart the kernel")),
     (protocol.PROTOCOL - 1, ("upgrade the kimi-lab JupyterLab extension", "reload the page")),
     ("1", ("'protocol' must be a number",))],
)
def test_a_frontend_of_another_protocol_is_refused(kimi, theirs, words):
    reply = say_hello(protocol=theirs)
    assert reply["type"] == "error" and reply["request_id"] == "h", reply
    assert all(w in reply["message"] for w in words), reply["message"]


def test_a_frontend_of_this_protocol_or_that_does_not_say_is_answered(kimi):
    assert say_hello(protocol=protocol.PROTOCOL)["type"] == "hello"
    assert say_hello()["protocol"] == protocol.PROTOCOL
