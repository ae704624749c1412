"""The `kimi_lab` comm (docs/sidebar-protocol.md) against a real ipykernel, as a frontend sees it,
and `run_on_main` ordering tools between the user's cells."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from typing import Any, Callable, Iterator

import pytest

from kimi_lab.faces.comm.mainthread import run_on_main
from kimi_lab.testing import LoopbackServer, Reply, ToolCall
from kimi_lab.testing.kernel import Kernel

from .conftest import CANARY_KEY
from .protocol_check import checked_iopub, request

pytestmark = [pytest.mark.kernel, pytest.mark.steps]  # one kernel, restarted half-way: the tests are steps


class Frontend:
    """Comms and cells over one jupyter_client connection; every iopub message lands in `seen`."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel, self.kc = kernel, kernel.kc
        self.seen: list[dict[str, Any]] = []
        self.comm = ""

    def wait(self, found: Callable[[], Any], timeout: float = 15.0) -> Any:
        """Read iopub until `found()` is truthy; bounded."""
        deadline = time.monotonic() + timeout
        while not (value := found()):
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"not seen within {timeout} s; last: {[m['msg_type'] for m in self.seen[-5:]]}")
            try:
                self.seen.append(checked_iopub(self.kc.get_iopub_msg(timeout=min(left, 1.0))))
            except queue.Empty:
                pass
        return value

    def _send(self, msg_type: str, content: dict[str, Any]) -> str:
        msg = self.kc.session.msg(msg_type, content)
        self.kc.shell_channel.send(msg)
        return str(msg["header"]["msg_id"])

    def open(self) -> str:
        self.comm = uuid.uuid4().hex
        self._send("comm_open", {"comm_id": self.comm, "target_name": "kimi_lab", "data": {}})
        return self.comm

    def send(self, kind: str, **fields: Any) -> str:
        request_id = fields.pop("request_id", None) or uuid.uuid4().hex[:8]
        data = request({"type": kind, "request_id": request_id, **fields})
        self._send("comm_msg", {"comm_id": self.comm, "data": data})
        return request_id

    def replies(self, request_id: str | None) -> list[dict[str, Any]]:
        return [m["content"]["data"] for m in self.seen if m["msg_type"] == "comm_msg"
                and m["content"]["comm_id"] == self.comm and m["content"]["data"].get("request_id") == request_id]

    def reply(self, request_id: str | None, *types: str, timeout: float = 15.0) -> dict[str, Any]:
        return self.wait(lambda: next((d for d in self.replies(request_id) if d["type"] in types), None), timeout)

    def request(self, kind: str, **fields: Any) -> dict[str, Any]:
        return self.reply(self.send(kind, **fields), kind, "error")

    def execute(self, code: str, timeout: float = 15.0) -> str:
        """Run a cell; its printed output (asserting it succeeded)."""
        msg_id = self.kc.execute(code, allow_stdin=False)
        mine = lambda: [m for m in self.seen if m["parent_header"].get("msg_id") == msg_id]  # noqa: E731
        self.wait(lambda: any(m["msg_type"] == "status" and m["content"]["execution_state"] == "idle"
                              for m in mine()), timeout)
        reply = self.kc.get_shell_msg(timeout=timeout)
        text = "".join(m["content"].get("text", "") for m in mine() if m["msg_type"] == "stream")
        assert reply["content"]["status"] == "ok", (reply["content"], text)
        return text


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(api_key=CANARY_KEY) as srv:
        yield srv


@pytest.fixture(scope="module")
def fe(server: LoopbackServer) -> Iterator[Frontend]:
    kernel = Kernel({"KIMI_LAB_BASE_URL": server.base_url, "KIMI_LAB_API_KEY": CANARY_KEY})
    front = Frontend(kernel)
    front.execute("%load_ext kimi_lab")
    front.open()
    yield front
    kernel.shutdown()


def text_of(messages: list[dict[str, Any]], kind: str) -> str:
    return "".join(e["text"] for m in messages if m["type"] == "events" for e in m["events"] if e["type"] == kind)


def test_hello(fe: Frontend) -> None:
    hello = fe.request("hello")
    assert hello["type"] == "hello", hello
    assert hello["protocol"] == 1 and hello["version"] and isinstance(hello["chats"], list)
    assert hello["kernel_id"] and hello["model"] and hello["provider"]
    assert fe.execute("import sys\nprint('openai' in sys.modules)") == "False\n", "loading and hello stay light"


def test_ask_streams_batched_events_then_result(fe: Frontend, server: LoopbackServer) -> None:
    server.script(Reply(reasoning="ponder " * 40, content="token " * 150, chunk_chars=3, delay=0.002))
    rid = fe.send("ask", chat="stream", prompt="Say many tokens")
    result = fe.reply(rid, "result")["result"]
    messages = fe.replies(rid)
    assert messages[-1]["type"] == "result"
    assert {m["type"] for m in messages[:-1]} == {"events"}
    assert result["content"] == "token " * 150 == text_of(messages, "content")
    assert text_of(messages, "reasoning") == "ponder " * 40
    chunks = (len("ponder " * 40) + len("token " * 150)) // 3
    assert len(messages) < chunks / 10, f"{len(messages)} messages for {chunks} deltas"
    assert "token token" in result["markdown"] and "Thought for" in result["markdown"]
    assert result["finish_reason"] == "stop" and result["usage"]["completion"] > 0
    assert messages[-2]["events"][-1]["type"] == "done"


def test_cells_run_while_answering_and_stop_keeps_the_partial_answer(fe: Frontend, server: LoopbackServer) -> None:
    server.script(Reply(content="word " * 400, chunk_chars=5, delay=0.01))
    rid = fe.send("ask", chat="slow", prompt="A long story")
    fe.reply(rid, "events")
    assert fe.execute("during = 6 * 7\nprint(during)") == "42\n"
    assert not any(m["type"] == "result" for m in fe.replies(rid)), "the cell ran while the answer streamed"
    busy = fe.request("ask", chat="slow", prompt="again")
    assert busy["type"] == "error" and "is answering in the sidebar right now" in busy["message"]
    fe.send("stop", request_id=rid)
    result = fe.reply(rid, "result")["result"]
    assert result["finish_reason"] == "cancelled"
    assert result["content"].startswith("word") and len(result["content"]) < len("word " * 400)
    history = fe.request("history", chat="slow")
    assert history["turns"][-1]["result"]["content"] == result["content"]


def _tool_turn(fe: Frontend, server: LoopbackServer, code: str, answer: str) -> tuple[dict[str, Any], Any]:
    server.clear()
    call = ToolCall("run_python", json.dumps({"code": code}))
    server.script(Reply(reasoning="I should run code.", tool_calls=[call]), Reply(content="Done."))
    rid = fe.send("ask", chat=f"tools-{answer}", prompt="Set a variable", options={"tools": "+code"})
    approval = fe.reply(rid, "approval")
    assert approval["name"] == "run_python" and approval["arguments"] == {"code": code} and approval["call_id"]
    assert fe.replies(rid)[-2]["events"][-1]["type"] == "tool_start", "events are flushed before the approval"
    fe.send("approve", request_id=rid, call_id=approval["call_id"], answer=answer)
    result = fe.reply(rid, "result")["result"]
    assert server.wait_for_requests(2)
    return result, server.chat_requests[1].body["messages"][-1]


def test_denied_tool_is_declined(fe: Frontend, server: LoopbackServer) -> None:
    result, sent = _tool_turn(fe, server, "denied_var = 1", "no")
    assert "declined" in result["tool_calls"][0]["error"] and "declined" in sent["content"]
    assert fe.execute("print('denied_var' in globals())") == "False\n"


def test_allowed_tool_runs_in_the_users_namespace(fe: Frontend, server: LoopbackServer) -> None:
    code = "import threading\nallowed_var = 40 + 2\non_main = threading.current_thread() is threading.main_thread()"
    result, sent = _tool_turn(fe, server, code, "yes")
    assert result["tool_calls"][0]["error"] is None and result["content"] == "Done."
    assert sent["role"] == "tool" and 'status="ok"' in sent["content"]
    assert fe.execute("print(allowed_var, on_main)") == "42 True\n"


def test_stop_during_an_approval_answers_no(fe: Frontend, server: LoopbackServer) -> None:
    server.clear()
    server.script(Reply(reasoning="Run it.", tool_calls=[ToolCall("run_python", '{"code": "stopped_var = 1"}')]))
    rid = fe.send("ask", chat="stop-approval", prompt="Set it", options={"tools": "+code"})
    fe.reply(rid, "approval")
    fe.send("stop", request_id=rid)
    result = fe.reply(rid, "result")["result"]
    assert result["finish_reason"] == "cancelled" and "declined" in result["tool_calls"][0]["error"]
    assert fe.execute("print('stopped_var' in globals())") == "False\n"


def test_a_reopened_view_follows_the_running_answer(fe: Frontend, server: LoopbackServer) -> None:
    server.clear()
    server.script(Reply(content="word " * 300, chunk_chars=5, delay=0.01))
    rid = fe.send("ask", chat="follow", prompt="A long story")
    fe.reply(rid, "events")
    fe.open()  # a reloaded page: a new comm (the old one is never closed)
    history = fe.request("history", chat="follow")
    turn = history["turns"][-1]
    assert turn["request_id"] == rid and turn["result"] is None and turn["prompt"] == "A long story"
    result = fe.reply(rid, "result")["result"]  # it reaches the new comm
    so_far = text_of([{"type": "events", "events": turn["events"]}], "content")
    assert so_far and so_far + text_of(fe.replies(rid), "content") == result["content"] == "word " * 300, \
        "the history and the live events join up: nothing missed, nothing twice"


def test_a_reopened_view_answers_the_pending_approval_and_can_stop(fe: Frontend, server: LoopbackServer) -> None:
    server.clear()
    call = ToolCall("run_python", json.dumps({"code": "followed_var = 7"}))
    server.script(Reply(reasoning="Run it.", tool_calls=[call]), Reply(content="word " * 300, chunk_chars=5,
                                                                         delay=0.01))
    rid = fe.send("ask", chat="follow-approval", prompt="Set it", options={"tools": "+code"})
    asked = fe.reply(rid, "approval")
    fe.open()
    assert fe.request("history", chat="follow-approval")["turns"][-1]["request_id"] == rid
    again = fe.reply(rid, "approval")  # asked again on the new comm
    assert again["call_id"] == asked["call_id"] and again["arguments"] == {"code": "followed_var = 7"}
    fe.send("approve", request_id=rid, call_id=again["call_id"], answer="yes")
    fe.reply(rid, "events")
    fe.wait(lambda: text_of(fe.replies(rid), "content"))
    fe.send("stop", request_id=rid)  # from the view that did not start it
    result = fe.reply(rid, "result")["result"]
    assert result["tool_calls"][0]["error"] is None and result["finish_reason"] == "cancelled"
    assert fe.execute("print(followed_var)") == "7\n"


def test_prompt_variables_are_read_between_cells(fe: Frontend, server: LoopbackServer) -> None:
    server.clear()
    fe.execute("answer_var = 'forty-two'")
    fe.reply(fe.send("ask", chat="interp", prompt="What is {answer_var}?"), "result")
    assert "forty-two" in server.chat_requests[-1].body["messages"][-1]["content"]


def test_history_chats_export_after_two_asks(fe: Frontend, server: LoopbackServer) -> None:
    server.clear()
    for prompt in ("first question", "second question"):
        fe.reply(fe.send("ask", chat="hist", prompt=prompt), "result")
    history = fe.request("history", chat="hist")
    assert [t["prompt"] for t in history["turns"]] == ["first question", "second question"]
    turn = history["turns"][1]
    assert turn["result"]["content"] == "Echo: second question"
    assert [e["type"] for e in turn["events"]][-2:] == ["usage", "done"] or turn["events"][-1]["type"] == "done"
    assert any(e["type"] == "content" and e["text"] == "Echo: second question" for e in turn["events"])
    chats = fe.request("chats")["chats"]
    assert {"name": "hist", "turns": 2, "busy": False} in chats
    exported = fe.request("export", chat="hist")["markdown"]
    assert "first question" in exported and "Echo: second question" in exported


def test_models_lists_what_the_provider_serves_for_the_model_box(fe: Frontend) -> None:
    reply = fe.request("models")
    assert reply["type"] == "models" and reply["provider"] == "custom" and reply["error"] == ""
    assert reply["models"] == ["kimi-k2-thinking"] and reply["chosen"] == "kimi-k2-thinking"


def test_check_setup_runs_the_free_doctor_checks_and_never_shows_the_key(fe: Frontend) -> None:
    reply = fe.request("doctor")
    assert reply["type"] == "doctor" and reply["ok"] is True, reply
    assert "✓ API key" in reply["text"] and "KIMI_LAB_API_KEY" in reply["text"]
    assert "streamed question" in reply["text"]  # a free provider (custom) gets the full check at once
    assert CANARY_KEY not in json.dumps(reply)


def test_providers_never_send_keys(fe: Frontend) -> None:
    reply = fe.request("providers")
    assert reply["type"] == "providers" and reply["fallback_key_set"] is True
    assert all("key_set" in p for p in reply["providers"])
    assert CANARY_KEY not in json.dumps(reply)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"type": "nope", "request_id": "bad1"}, "unknown message type"),
        ({"type": "ask", "request_id": "bad2"}, "prompt"),
        ({"type": "ask", "request_id": "bad3", "prompt": "x", "options": {"base_url": "http://x"}}, "unknown options"),
        ({"type": "approve", "request_id": "bad4", "call_id": "c", "answer": "yes"}, "no ask"),
        ({"type": "hello"}, "request_id"),
        ({"type": "models", "request_id": "bad5", "provider": 5}, "preset name"),
        ({"type": "hello", "request_id": "bad6", "protocol": 99}, "upgrade kimi_lab in the kernel's environment"),
    ],
)
def test_bad_messages_get_one_line_errors(fe: Frontend, data: dict[str, Any], needle: str) -> None:
    fe._send("comm_msg", {"comm_id": fe.comm, "data": data})
    error = fe.reply(data.get("request_id"), "error")
    assert needle in error["message"] and "\n" not in error["message"]
    assert fe.request("hello")["type"] == "hello", "the comm still works"


SETUP = """
import asyncio, threading, time
from kimi_lab.faces.comm.mainthread import MainThreadBusy, submit
go, scheduled, ran, waited = (threading.Event() for _ in range(4))
box = {}
def tool():
    box["on_main"] = threading.current_thread() is threading.main_thread()
    box["tool_at"] = time.monotonic()
    ran.set()
def worker(timeout):
    go.wait(10)
    call = submit(tool)
    scheduled.set()
    try:
        call.result(timeout)
    except MainThreadBusy as exc:
        box["busy"] = str(exc)
    waited.set()
"""


@pytest.mark.parametrize("hold", ["ran.wait(0.3)", "await asyncio.sleep(0.3)"], ids=["sync", "async"])
def test_tool_waits_for_the_running_cell(fe: Frontend, hold: str) -> None:
    fe.execute(SETUP + "threading.Thread(target=worker, args=(10,), daemon=True).start()")
    fe.execute(f"go.set()\nassert scheduled.wait(10)\n{hold}\n"
               "box['during'] = ran.is_set()\nbox['cell_end'] = time.monotonic()")
    out = fe.execute("assert ran.wait(10) and waited.wait(10)\n"
                     "print(box['during'], box['on_main'], box['tool_at'] >= box['cell_end'])")
    assert out == "False True True\n"


def test_a_call_that_cannot_start_in_time_never_runs(fe: Frontend) -> None:
    fe.execute(SETUP + "threading.Thread(target=worker, args=(0.2,), daemon=True).start()")
    fe.execute("go.set()\nassert waited.wait(10)")
    assert fe.execute("print(ran.is_set(), 'busy' in box)") == "False True\n"


def test_outside_a_kernel_it_calls_directly() -> None:
    seen: list[Any] = []
    thread = threading.Thread(target=lambda: seen.append(run_on_main(threading.current_thread, 1)))
    thread.start()
    thread.join(5)
    assert seen == [thread]


def test_restart_then_load_ext_registers_the_target_again(fe: Frontend) -> None:
    fe.kernel.km.restart_kernel(now=True)
    fe.kc.wait_for_ready(timeout=60)
    comm = fe.open()
    fe.wait(lambda: any(m["msg_type"] == "comm_close" and m["content"]["comm_id"] == comm for m in fe.seen))
    fe.execute("%load_ext kimi_lab")
    fe.open()
    assert fe.request("hello")["protocol"] == 1


def test_after_a_restart_the_chat_comes_back_from_the_transcripts(fe: Frontend, server: LoopbackServer) -> None:
    """Runs after the restart above: the kernel's memory is empty, the transcripts file is not."""
    listed = {c["name"]: c for c in fe.request("transcripts")["chats"]}
    assert listed["hist"]["turns"] == 2 and listed["hist"]["loaded"] is False
    history = fe.request("history", chat="hist")
    assert history["restored"] == 2
    assert [t["prompt"] for t in history["turns"]] == ["first question", "second question"]
    assert history["turns"][1]["result"]["content"] == "Echo: second question"
    assert fe.request("history", chat="hist")["restored"] == 0, "reopened once, then kept in memory"
    assert {c["name"]: c for c in fe.request("transcripts")["chats"]}["hist"]["loaded"] is True
    server.clear()
    fe.reply(fe.send("ask", chat="hist", prompt="third question"), "result")
    sent = [m["content"] for m in server.chat_requests[-1].body["messages"] if m["role"] in ("user", "assistant")]
    assert sent == ["first question", "Echo: first question", "second question", "Echo: second question",
                    "third question"], "the conversation goes on from the reopened turns"
    exported = fe.request("export", chat="hist")
    assert exported["source"] == "transcripts" and exported["turns"] == 3
    assert [q in exported["markdown"] for q in ("first question", "third question")] == [True, True]


def test_reopen_on_request_and_not_while_answering(fe: Frontend, server: LoopbackServer) -> None:
    fe.execute("from kimi_lab.core.session import session\nsession().conversations.reset('hist')")
    assert fe.request("history", chat="hist")["turns"] == [], "a reset chat is not reopened by itself"
    assert len(fe.request("history", chat="hist", reopen=True)["turns"]) == 3
    server.script(Reply(content="slow " * 300, chunk_chars=5, delay=0.01))
    rid = fe.send("ask", chat="hist", prompt="go on")
    fe.reply(rid, "events")
    refused = fe.request("history", chat="hist", reopen=True)
    assert refused["type"] == "error" and "answering" in refused["message"]
    fe.send("stop", request_id=rid)
    fe.reply(rid, "result")


def test_an_ask_before_the_history_goes_on_from_the_recorded_chat(fe: Frontend, server: LoopbackServer) -> None:
    """After the restart, a question sent before the view loaded the history (no `history` yet)."""
    server.clear()
    rid = fe.send("ask", chat="follow", prompt="and then?")
    history = fe.request("history", chat="follow")  # arrives while it answers: no error
    assert history["type"] == "history" and history["turns"][0]["prompt"] == "A long story"
    fe.reply(rid, "result")
    sent = [m["content"] for m in server.chat_requests[-1].body["messages"] if m["role"] == "user"]
    assert sent == ["A long story", "and then?"]
