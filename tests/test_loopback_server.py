"""Tests for the scripted loopback server, driven by the real openai client and raw httpx2.

Why: every other kimi_lab test trusts this server to mimic provider wire formats and
faults faithfully, so its shapes are pinned here against real HTTP clients.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest

from kimi_lab.testing import LoopbackServer, Reply, ToolCall, Usage

KEY = "sk-loopback"
USER = [{"role": "user", "content": "héllo wörld"}]


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(api_key=KEY) as srv:
        yield srv


_OPEN_CLIENTS: list[openai.OpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    """Close SDK clients after each test so pooled sockets never leak."""
    yield
    while _OPEN_CLIENTS:
        _OPEN_CLIENTS.pop().close()


def client(srv: LoopbackServer, **kwargs: Any) -> openai.OpenAI:
    sdk = openai.OpenAI(api_key=KEY, base_url=srv.base_url, max_retries=0, **kwargs)
    _OPEN_CLIENTS.append(sdk)
    return sdk


def raw_lines(srv: LoopbackServer, body: dict[str, Any]) -> list[str]:
    """All non-empty SSE lines of one streamed response, read with raw httpx2."""
    headers = {"Authorization": f"Bearer {KEY}"}
    with (
        httpx2.Client(timeout=5) as http,
        http.stream("POST", srv.base_url + "/chat/completions", json=body, headers=headers) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/event-stream"
        assert r.headers["transfer-encoding"] == "chunked"
        return [line for line in r.iter_lines() if line]


def data_events(lines: list[str]) -> list[Any]:
    """Decoded `data:` payloads; [DONE] kept as the string."""
    out: list[Any] = []
    for line in lines:
        if line.startswith("data: "):
            payload = line[len("data: ") :]
            out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def stream_body(**extra: Any) -> dict[str, Any]:
    return {"model": "kimi-k2-thinking", "messages": USER, "stream": True, **extra}


# -- dialects -------------------------------------------------------------------------


def test_moonshot_stream_via_openai(server: LoopbackServer) -> None:
    server.script(
        Reply(
            reasoning="Need the weather.",
            content="Checking",
            tool_calls=[ToolCall("get_weather", '{"city": "Zürich"}')],
            chunk_chars=4,
            usage=Usage(prompt_tokens=11, completion_tokens=7, cached_tokens=3),
        )
    )
    stream = client(server).chat.completions.create(model="kimi-k2-thinking", messages=USER, stream=True)
    chunks = list(stream)
    first = chunks[0].choices[0].delta
    assert first.role == "assistant" and first.content == ""
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices
    )
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert reasoning == "Need the weather."
    assert content == "Checking"
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert calls[0].id == "functions.get_weather:0" and calls[0].function.name == "get_weather"
    assert "".join(tc.function.arguments or "" for tc in calls) == '{"city": "Zürich"}'
    last = chunks[-1].choices[0]
    assert last.finish_reason == "tool_calls"
    assert (last.model_extra or {})["usage"] == {
        "prompt_tokens": 11,
        "completion_tokens": 7,
        "total_tokens": 18,
        "cached_tokens": 3,
    }
    assert len({c.id for c in chunks}) == 1 and chunks[0].id.startswith("chatcmpl-")


def test_moonshot_raw_order_and_done(server: LoopbackServer) -> None:
    server.script(Reply(reasoning="abc", content="xyz", chunk_chars=2))
    events = data_events(raw_lines(server, stream_body()))
    assert events[-1] == "[DONE]"
    deltas = [e["choices"][0]["delta"] for e in events[:-1]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1:5] == [
        {"reasoning_content": "ab"},
        {"reasoning_content": "c"},
        {"content": "xy"},
        {"content": "z"},
    ]
    assert deltas[5] == {} and events[-2]["choices"][0]["finish_reason"] == "stop"
    assert all(e["object"] == "chat.completion.chunk" for e in events[:-1])


def test_moonshot_tool_ids_count_across_server_life(server: LoopbackServer) -> None:
    server.script(
        Reply(tool_calls=[ToolCall("a", "{}"), ToolCall("b", "{}")]),
        Reply(tool_calls=[ToolCall("a", "{}")]),
    )
    ids = []
    for _ in range(2):
        events = data_events(raw_lines(server, stream_body()))
        ids += [tc["id"] for e in events[:-1] for tc in e["choices"][0]["delta"].get("tool_calls", []) if "id" in tc]
    assert ids == ["functions.a:0", "functions.b:1", "functions.a:2"]


def test_openrouter_stream(server: LoopbackServer) -> None:
    server.script(
        Reply(
            dialect="openrouter",
            reasoning="think",
            content="ok",
            tool_calls=[ToolCall("f", '{"x":1}')],
            chunk_chars=3,
        )
    )
    lines = raw_lines(server, stream_body())
    assert lines[0] == ": OPENROUTER PROCESSING"
    events = data_events(lines)
    assert events[-1] == "[DONE]"
    reasoning_deltas = [
        e["choices"][0]["delta"]
        for e in events
        if e != "[DONE]" and e["choices"] and "reasoning" in e["choices"][0]["delta"]
    ]
    assert reasoning_deltas[0] == {
        "role": "assistant",
        "content": "",
        "reasoning": "thi",
        "reasoning_details": [{"type": "reasoning.text", "text": "thi", "format": "unknown", "index": 0}],
    }
    assert "".join(d["reasoning"] for d in reasoning_deltas) == "think"
    call_head = next(
        e["choices"][0]["delta"]["tool_calls"][0]
        for e in events[:-1]
        if e["choices"] and "tool_calls" in e["choices"][0]["delta"]
    )
    assert call_head["id"].startswith("call_") and len(call_head["id"]) == 5 + 24
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == []
    usage = usage_chunk["usage"]
    assert set(usage) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
        "completion_tokens_details",
        "cost",
    }
    assert isinstance(usage["cost"], float)
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0}
    assert events[-3]["choices"][0]["finish_reason"] == "tool_calls"


def test_reasoning_dialect_and_usage_only_when_asked(server: LoopbackServer) -> None:
    server.script(Reply(dialect="reasoning", reasoning="r1", content="c1"))
    stream = client(server).chat.completions.create(
        model="m", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    extras = [c.choices[0].delta.model_extra or {} for c in chunks if c.choices]
    assert "".join(x.get("reasoning") or "" for x in extras) == "r1"
    assert not any("reasoning_details" in x or "reasoning_content" in x for x in extras)
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].model == "m"

    server.script(Reply(dialect="reasoning", reasoning="r1", content="c1"))
    events = data_events(raw_lines(server, stream_body()))
    assert all(e == "[DONE]" or e["choices"] for e in events)


def test_think_dialect_splits_tags(server: LoopbackServer) -> None:
    server.script(Reply(dialect="think", reasoning="plan", content="answer", chunk_chars=5))
    events = data_events(raw_lines(server, stream_body()))
    pieces = [e["choices"][0]["delta"].get("content") for e in events[1:-1]]
    pieces = [p for p in pieces if p]
    assert "".join(pieces) == "<think>plan</think>answer"
    assert pieces[0] == "<thin" and "<think>" not in pieces
    assert not any("reasoning" in e["choices"][0]["delta"] for e in events[:-1])


def test_plain_dialect_ignores_reasoning(server: LoopbackServer) -> None:
    server.script(
        Reply(dialect="plain", reasoning="hidden", content="visible"),
        Reply(dialect="plain", content="visible"),
    )
    events = data_events(raw_lines(server, stream_body(stream_options={"include_usage": True})))
    text = "".join(e["choices"][0]["delta"].get("content", "") for e in events[:-2])
    assert text == "visible"
    assert "hidden" not in json.dumps(events)
    assert events[-2]["choices"] == []
    assert set(events[-2]["usage"]) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
    }
    events = data_events(raw_lines(server, stream_body()))
    assert "usage" not in events[-2] and events[-2]["choices"][0]["finish_reason"] == "stop"


def test_explicit_chunks_and_utf8_split(server: LoopbackServer) -> None:
    server.script(Reply(chunks=["a", "bc", ""]), Reply(content="日本語テキスト", chunk_chars=2))
    events = data_events(raw_lines(server, stream_body()))
    assert [e["choices"][0]["delta"].get("content") for e in events[1:4]] == [
        "a",
        "bc",
        "",
    ]
    events = data_events(raw_lines(server, stream_body()))
    pieces = [e["choices"][0]["delta"]["content"] for e in events[1:5]]
    assert pieces == ["日本", "語テ", "キス", "ト"]


# -- echo, auth, non-streaming -------------------------------------------------------


def test_echo_default(server: LoopbackServer) -> None:
    c = client(server)
    result = c.chat.completions.create(model="kimi-k2-thinking", messages=USER)
    message = result.choices[0].message
    assert message.content == "Echo: héllo wörld"
    assert (message.model_extra or {})["reasoning_content"] == ("The user wrote: héllo wörld. I will echo it.")
    chunks = list(c.chat.completions.create(model="x", messages=USER, stream=True))
    assert "".join(ch.choices[0].delta.content or "" for ch in chunks) == "Echo: héllo wörld"


def test_non_streaming_shape(server: LoopbackServer) -> None:
    server.script(
        Reply(
            reasoning="why",
            content="",
            tool_calls=[ToolCall("f", '{"a":1}', id="call_x")],
        )
    )
    result = client(server).chat.completions.create(model="kimi-k2-thinking", messages=USER)
    assert result.object == "chat.completion"
    choice = result.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert (choice.message.model_extra or {})["reasoning_content"] == "why"
    call = (choice.message.tool_calls or [])[0]
    assert call.id == "call_x" and call.type == "function"
    assert call.function.name == "f" and call.function.arguments == '{"a":1}'
    assert result.usage is not None
    assert (result.usage.model_extra or {})["cached_tokens"] == 0
    assert result.usage.total_tokens == result.usage.prompt_tokens + result.usage.completion_tokens


def test_wrong_key_is_401_and_keeps_script(server: LoopbackServer) -> None:
    server.script(Reply(content="kept"))
    bad = openai.OpenAI(api_key="nope", base_url=server.base_url, max_retries=0)
    _OPEN_CLIENTS.append(bad)
    with pytest.raises(openai.AuthenticationError) as info:
        bad.chat.completions.create(model="m", messages=USER)
    assert info.value.status_code == 401
    assert info.value.body == {
        "message": "Invalid Authentication",
        "type": "invalid_authentication_error",
        "code": 401,
    }
    result = client(server).chat.completions.create(model="m", messages=USER)
    assert result.choices[0].message.content == "kept"


def test_429_with_retry_after(server: LoopbackServer) -> None:
    server.script(Reply(status=429, headers={"Retry-After": "1"}))
    with pytest.raises(openai.RateLimitError) as info:
        client(server).chat.completions.create(model="m", messages=USER, stream=True)
    assert info.value.response.headers["retry-after"] == "1"
    assert info.value.status_code == 429
    assert info.value.body == {
        "message": "Too Many Requests",
        "type": "rate_limit_reached_error",
        "code": 429,
    }


def test_models_and_404(server: LoopbackServer) -> None:
    models = client(server).models.list()
    assert [m.id for m in models.data] == ["kimi-k2-thinking"]
    r = httpx2.post(server.base_url + "/embeddings", json={}, timeout=5)
    assert r.status_code == 404 and "error" in r.json()


# -- faults ---------------------------------------------------------------------------


def test_cut_after_raw_and_openai(server: LoopbackServer) -> None:
    server.script(Reply(content="x" * 40, cut_after=2), Reply(content="x" * 40, cut_after=2))
    headers = {"Authorization": f"Bearer {KEY}"}
    seen: list[str] = []
    with (
        pytest.raises(httpx2.RemoteProtocolError),
        httpx2.stream(
            "POST",
            server.base_url + "/chat/completions",
            json=stream_body(),
            headers=headers,
        ) as r,
    ):
        seen.extend(line for line in r.iter_lines() if line)
    assert len(seen) == 2 and "data: [DONE]" not in seen
    events = iter(client(server).chat.completions.create(model="m", messages=USER, stream=True))
    assert next(events).choices[0].delta.role == "assistant"
    assert next(events).choices[0].delta.content == "x" * 8
    with pytest.raises(openai.APIConnectionError):
        next(events)


def test_malformed_line(server: LoopbackServer) -> None:
    server.script(Reply(content="hello", malformed_at=1), Reply(content="hello", malformed_at=1))
    lines = raw_lines(server, stream_body())
    assert lines[1] == 'data: {"choices": [{"delta": {"content": "'
    with pytest.raises(json.JSONDecodeError):
        json.loads(lines[1][len("data: ") :])
    assert lines[-1] == "data: [DONE]"
    with pytest.raises(ValueError):
        list(client(server).chat.completions.create(model="m", messages=USER, stream=True))


def test_stream_error_and_no_done(server: LoopbackServer) -> None:
    server.script(
        Reply(content="part", stream_error={"message": "upstream died", "code": 502}),
        Reply(content="full", no_done=True),
    )
    events = data_events(raw_lines(server, stream_body()))
    assert events[-1] == {"error": {"message": "upstream died", "code": 502}}
    assert not any(e != "[DONE]" and e.get("choices") and e["choices"][0]["finish_reason"] for e in events[:-1])
    events = data_events(raw_lines(server, stream_body()))
    assert events[-1] != "[DONE]" and events[-1]["choices"][0]["finish_reason"] == "stop"


def test_stream_error_raises_in_openai(server: LoopbackServer) -> None:
    server.script(Reply(content="part", stream_error={"message": "upstream died"}))
    with pytest.raises(openai.APIError, match="upstream died"):
        list(client(server).chat.completions.create(model="m", messages=USER, stream=True))


def test_hang_times_out_client(server: LoopbackServer) -> None:
    server.script(Reply(hang=30))
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client(server, timeout=0.5).chat.completions.create(model="m", messages=USER)
    assert time.monotonic() - started < 3


def test_injected_events_comments_and_a_body_kept_open_after_done(server: LoopbackServer) -> None:
    server.script(Reply(content="hi", inject=[(1, "[1]"), (99, "null")], comment="keep-alive", linger=0.3))
    started = time.monotonic()
    lines = raw_lines(server, stream_body())
    assert time.monotonic() - started >= 0.3, "the body stayed open after [DONE]"
    data = [line for line in lines if line.startswith("data:")]
    assert data[1] == "data: [1]" and json.loads(data[2][6:])["choices"][0]["delta"] == {"content": "hi"}
    assert data[-2:] == ["data: [DONE]", "data: null"]
    after = lines[lines.index("data: null") + 1:]
    assert lines[0] == ": keep-alive" and len(after) >= 2 and set(after) == {": keep-alive"}


def test_comments_while_waiting_for_the_first_event(server: LoopbackServer) -> None:
    server.script(Reply(content="late", first_delay=0.25, comment="OPENROUTER PROCESSING", comment_every=0.1))
    lines = raw_lines(server, stream_body())
    first = next(n for n, line in enumerate(lines) if line.startswith("data: "))
    assert first >= 3 and set(lines[:first]) == {": OPENROUTER PROCESSING"}, "one every 0.1 s, and one per event"


def test_moonshot_requires_reasoning_echo(server: LoopbackServer) -> None:
    server.script(Reply(content="should stay queued"))
    call = {
        "id": "functions.f:0",
        "type": "function",
        "function": {"name": "f", "arguments": "{}"},
    }
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "ok",
            "tool_calls": [call],
        },
        {"role": "tool", "tool_call_id": "functions.f:0", "content": "1"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "functions.f:0", "content": "2"},
    ]
    with pytest.raises(openai.BadRequestError) as info:
        client(server).chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    assert info.value.body == {
        "message": "thinking is enabled but reasoning_content is missing in assistant tool call message at index 3",
        "type": "invalid_request_error",
    }
    messages[3]["reasoning_content"] = "again"
    result = client(server).chat.completions.create(model="m", messages=messages)  # type: ignore[arg-type]
    assert result.choices[0].message.content == "should stay queued"


def test_openrouter_enforcement_uses_reasoning_details() -> None:
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "", "reasoning": "r", "tool_calls": [call]},
    ]
    with LoopbackServer(dialect="openrouter", require_reasoning_echo=True) as srv:
        r = httpx2.post(
            srv.base_url + "/chat/completions",
            json={"model": "m", "messages": messages},
            timeout=5,
        )
        assert r.status_code == 400
        assert "reasoning_details is missing" in r.json()["error"]["message"]
        assert r.json()["error"]["message"].endswith("index 1")
    with LoopbackServer(dialect="openrouter") as srv:  # off by default outside moonshot
        r = httpx2.post(
            srv.base_url + "/chat/completions",
            json={"model": "m", "messages": messages},
            timeout=5,
        )
        assert r.status_code == 200


# -- bookkeeping and lifecycle ---------------------------------------------------------


def test_wait_for_requests_and_recording(server: LoopbackServer) -> None:
    assert server.wait_for_requests(1, timeout=0.05) is False
    worker = threading.Thread(target=lambda: client(server).chat.completions.create(model="m", messages=USER))
    worker.start()
    assert server.wait_for_requests(1, timeout=5)
    worker.join(5)
    httpx2.get(
        server.base_url + "/models",
        headers={"Authorization": f"Bearer {KEY}"},
        timeout=5,
    )
    assert server.wait_for_requests(2)
    assert len(server.requests) == 2 and len(server.chat_requests) == 1
    recorded = server.chat_requests[0]
    assert recorded.method == "POST" and recorded.path == "/v1/chat/completions"
    assert recorded.body is not None and recorded.body["messages"] == USER
    assert recorded.headers["Authorization"] == f"Bearer {KEY}"
    assert recorded.headers["authorization"] == f"Bearer {KEY}"
    server.clear()
    assert server.requests == [] and server.chat_requests == []


def test_stop_interrupts_delay() -> None:
    srv = LoopbackServer().start()
    srv.script(Reply(content="x" * 100, chunk_chars=1, delay=30))
    with (
        httpx2.Client(timeout=5) as http,
        http.stream("POST", srv.base_url + "/chat/completions", json=stream_body()) as r,
    ):
        lines = r.iter_lines()
        assert next(lines).startswith("data: ")
        started = time.monotonic()
        srv.stop()
        assert time.monotonic() - started < 2
        with pytest.raises(httpx2.RemoteProtocolError):
            list(lines)


def test_cli_prints_base_url() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kimi_lab.testing.server",
            "--dialect",
            "plain",
            "--api-key",
            "k",
        ],
        cwd=Path(__file__).resolve().parents[1],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        c = openai.OpenAI(api_key="k", base_url=base_url, max_retries=0)
        _OPEN_CLIENTS.append(c)
        result = c.chat.completions.create(model="m", messages=USER)
        assert result.choices[0].message.content == "Echo: héllo wörld"
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=5)
    assert "Warning" not in err and "Traceback" not in err
