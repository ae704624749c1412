"""Tests for the loopback server's model of real providers (issue 10), over plain HTTP.

Why: kimi_lab's client is tested against this server, so its provider rules (served models, OpenRouter's
envelope around Moonshot's errors, Moonshot's per-model request validation) must answer exactly as the
providers do (sources in kimi_lab/testing/_providers.py), and must stay off unless asked for.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from kimi_lab.testing import LoopbackServer, Reply

TIMEOUT = 5
USER = {"role": "user", "content": "hi"}
CALL = {"id": "functions.f:0", "type": "function", "function": {"name": "f", "arguments": "{}"}}
TOOL = {"role": "tool", "tool_call_id": "functions.f:0", "content": "1"}


def request(url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    """(status, decoded JSON body) of one GET (body None) or POST to the loopback server."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def chat(
    srv: LoopbackServer, model: str, messages: list[dict[str, Any]] | None = None, **extra: Any
) -> tuple[int, Any]:
    return request(srv.base_url + "/chat/completions", {"model": model, "messages": messages or [USER], **extra})


def models(srv: LoopbackServer) -> tuple[int, Any]:
    return request(srv.base_url + "/models")


def moonshot_400(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "invalid_request_error"}}


def tool_turn(echo: Any = None, **fields: Any) -> list[dict[str, Any]]:
    """A user turn, an assistant tool call (with `echo` as reasoning_content unless None) and its result."""
    assistant: dict[str, Any] = {"role": "assistant", "content": "", "tool_calls": [CALL], **fields}
    if echo is not None:
        assistant["reasoning_content"] = echo
    return [USER, assistant, TOOL]


@pytest.fixture
def rules() -> Iterator[LoopbackServer]:
    with LoopbackServer(model_rules=True) as srv:
        yield srv


# -- defaults stay as they were ------------------------------------------------------------------------------


def test_default_construction_is_unchanged() -> None:
    with LoopbackServer() as srv:
        assert (srv.upstream, srv.models, srv.model_info, srv.model_rules) == (None, None, {}, False)
        assert models(srv) == (
            200,
            {"object": "list", "data": [{"id": "kimi-k2-thinking", "object": "model", "owned_by": "moonshotai"}]},
        )
        status, body = chat(srv, "any-model-at-all", temperature=0.2, thinking={"type": "bogus"})
        assert status == 200 and body["model"] == "any-model-at-all"
        # No tool-message rule without model_rules.
        assert chat(srv, "m", [USER, {"role": "tool", "content": "orphan"}])[0] == 200


def test_default_openrouter_ignores_missing_reasoning_content() -> None:
    with LoopbackServer(dialect="openrouter") as srv:
        assert chat(srv, "moonshotai/kimi-k2.6", tool_turn())[0] == 200
        status, body = models(srv)
        assert status == 200 and [m["id"] for m in body["data"]] == ["kimi-k2-thinking"]


def test_moonshot_echo_treats_an_empty_string_as_missing() -> None:
    with LoopbackServer() as srv:
        srv.script(Reply(content="kept"))
        missing = "thinking is enabled but reasoning_content is missing in assistant tool call message at index 1"
        assert chat(srv, "kimi-k2.6", tool_turn("")) == (400, moonshot_400(missing))
        assert srv.pending_replies == 1, "a rejected request does not consume the script"
        status, body = chat(srv, "kimi-k2.6", tool_turn(" "))  # a single space is accepted (earendil-works/pi#4178)
        assert status == 200 and body["choices"][0]["message"]["content"] == "kept"


def test_constructor_rejects_inconsistent_options() -> None:
    with pytest.raises(ValueError, match="upstream"):
        LoopbackServer(upstream="moonshot")  # dialect moonshot
    with pytest.raises(ValueError, match="upstream"):
        LoopbackServer(dialect="openrouter", upstream="together")
    with pytest.raises(ValueError, match="model_rules"):
        LoopbackServer(dialect="reasoning", model_rules=True)
    with pytest.raises(ValueError, match="model_info"):
        LoopbackServer(models=["kimi-k2.6"], model_info={"kimi-k3": {}})


# -- OpenRouter routing to Moonshot --------------------------------------------------------------------------


def test_openrouter_to_moonshot_needs_reasoning_content_on_tool_calls() -> None:
    with LoopbackServer(dialect="openrouter", upstream="moonshot") as srv:
        srv.script(Reply(content="kept", dialect="openrouter"))
        raw = moonshot_400(
            "thinking is enabled but reasoning_content is missing in assistant tool call message at index 1"
        )
        envelope = {
            "error": {
                "message": "Provider returned error",
                "code": 400,
                "metadata": {
                    "raw": json.dumps(raw, separators=(",", ":")),
                    "provider_name": "Moonshot AI",
                    "is_byok": False,
                },
            },
            "user_id": "user_loopback",
        }
        details = [{"type": "reasoning.text", "text": "r", "format": "unknown", "index": 0}]
        for messages in (tool_turn(), tool_turn(""), tool_turn(None, reasoning="r", reasoning_details=details)):
            status, body = chat(srv, "moonshotai/kimi-k2.6", messages)
            assert (status, body) == (400, envelope)
            assert json.loads(body["error"]["metadata"]["raw"]) == raw
        assert srv.pending_replies == 1
        status, body = chat(srv, "moonshotai/kimi-k2.6", tool_turn("thought about f"))
        assert status == 200 and body["choices"][0]["message"]["content"] == "kept"
        # Only tool-call messages need it on this route.
        assert chat(srv, "moonshotai/kimi-k2.6", [USER, {"role": "assistant", "content": "plain"}, USER])[0] == 200


def test_rejections_are_json_even_for_streaming_requests() -> None:
    with LoopbackServer(dialect="openrouter", upstream="moonshot") as srv:
        status, body = chat(srv, "moonshotai/kimi-k2.6", tool_turn(), stream=True)
        assert status == 400 and body["error"]["message"] == "Provider returned error"


# -- served models -------------------------------------------------------------------------------------------


def test_moonshot_models_listing_and_unknown_model_404() -> None:
    served = ["kimi-k2.6", "kimi-k3"]
    with LoopbackServer(
        models=served, model_info={"kimi-k3": {"created": 1790000000, "supports_image_in": True}}
    ) as srv:
        status, body = models(srv)
        assert status == 200 and body["object"] == "list"
        k26, k3 = body["data"]
        assert k26 == {
            "id": "kimi-k2.6",
            "object": "model",
            "created": 1784267407,
            "owned_by": "moonshot",
            "context_length": 262144,
            "supports_reasoning": True,
        }
        assert (k3["id"], k3["created"], k3["context_length"], k3["supports_image_in"]) == (
            "kimi-k3",
            1790000000,
            1048576,
            True,
        )
        assert chat(srv, "kimi-k2-thinking") == (
            404,
            {
                "error": {
                    "message": "Not found the model kimi-k2-thinking or Permission denied",
                    "type": "resource_not_found_error",
                }
            },
        )
        assert chat(srv, "Kimi-K2.6")[0] == 404, "served ids match exactly"
        status, body = chat(srv, "kimi-k2.6")
        assert status == 200 and body["model"] == "kimi-k2.6"


def test_openrouter_models_listing_and_unknown_model_400() -> None:
    served = ["moonshotai/kimi-k2-thinking", "moonshotai/kimi-k2.6", "moonshotai/kimi-k3"]
    info = {"moonshotai/kimi-k3": {"pricing": {"prompt": 0.0000029}, "name": "Kimi K3 (test)", "expiration_date": None}}
    with LoopbackServer(dialect="openrouter", models=served, model_info=info) as srv:
        status, body = models(srv)
        assert status == 200 and set(body) == {"data"}
        thinking, k26, k3 = body["data"]
        # The seed listing (OpenRouter's /models entry for K2 Thinking) agrees on these fields.
        assert thinking["name"] == "MoonshotAI: Kimi K2 Thinking" and thinking["created"] == 1762440622
        assert thinking["pricing"] == {
            "prompt": "0.0000006",
            "completion": "0.0000025",
            "input_cache_read": "0.00000015",
        }
        assert thinking["top_provider"] == {
            "context_length": 262144,
            "max_completion_tokens": 262144,
            "is_moderated": False,
        }
        assert "temperature" in thinking["supported_parameters"]
        assert k26["pricing"] == {"prompt": "0.00000095", "completion": "0.000004", "input_cache_read": "0.00000016"}
        assert "temperature" not in k26["supported_parameters"] and "tools" in k26["supported_parameters"]
        assert k3["name"] == "Kimi K3 (test)" and k3["expiration_date"] is None
        assert k3["pricing"] == {"prompt": "0.0000029", "completion": "0.000015", "input_cache_read": "0.0000003"}
        assert k3["context_length"] == 1048576 and k3["top_provider"]["max_completion_tokens"] == 131072
        for entry in body["data"]:
            assert {
                "id",
                "name",
                "created",
                "context_length",
                "pricing",
                "supported_parameters",
                "top_provider",
            } <= set(entry)
        assert chat(srv, "kimi-k2.6") == (
            400,
            {"error": {"message": "kimi-k2.6 is not a valid model ID", "code": 400}, "user_id": "user_loopback"},
        )
        assert chat(srv, "moonshotai/kimi-k2.6")[0] == 200


@pytest.mark.parametrize("dialect", ["reasoning", "think", "plain"])
def test_other_dialects_list_in_moonshot_shape_and_answer_openai_404(dialect: str) -> None:
    with LoopbackServer(dialect=dialect, models=["kimi-k2.6"]) as srv:
        status, body = models(srv)
        assert status == 200 and body["object"] == "list" and body["data"][0]["id"] == "kimi-k2.6"
        assert chat(srv, "gpt-x") == (
            404,
            {
                "error": {
                    "message": "The model `gpt-x` does not exist or you do not have access to it.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "model_not_found",
                }
            },
        )


# -- Moonshot's per-model rules ------------------------------------------------------------------------------

ONLY_ENABLED = "invalid thinking: only type=enabled is allowed for this model"


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        # K2 Thinking: always thinking; a thinking object is accepted, a non-object is a type error.
        ("kimi-k2-thinking", {"thinking": {"type": "enabled"}}, None),
        ("kimi-k2-thinking-turbo", {"thinking": {"type": "disabled"}}, None),
        (
            "kimi-k2-thinking",
            {"thinking": True},
            "the thinking field in the request (expected type object) is illegal, and bool is not acceptable",
        ),
        ("kimi-k2-thinking", {"temperature": 0.3, "top_p": 0.5}, None),  # sampling not fixed on K2 Thinking
        # K2.5: enabled/disabled only.
        ("kimi-k2.5", {"thinking": {"type": "enabled"}}, None),
        ("kimi-k2.5", {"thinking": {"type": "disabled"}}, None),
        (
            "kimi-k2.5",
            {"thinking": {"type": "auto"}},
            "invalid thinking: only type=enabled or type=disabled is allowed for this model",
        ),
        (
            "kimi-k2.5",
            {"thinking": {"type": "enabled", "keep": "all"}},
            "invalid thinking: unknown field keep for this model",
        ),
        (
            "kimi-k2.5",
            {"thinking": {"type": "enabled"}, "reasoning_effort": "high"},
            "cannot specify both 'thinking' and 'reasoning_effort'",
        ),
        # K2.6: also keep "all".
        ("kimi-k2.6", {"thinking": {"type": "enabled", "keep": "all"}}, None),
        ("kimi-k2.6", {"thinking": {"type": "disabled", "keep": None}}, None),
        (
            "kimi-k2.6",
            {"thinking": {"type": "enabled", "keep": "last"}},
            "invalid thinking.keep: only all is allowed for this model",
        ),
        (
            "kimi-k2.6",
            {"thinking": "enabled"},
            "the thinking field in the request (expected type object) is illegal, and string is not acceptable",
        ),
        # K2.7 Code: always on.
        ("kimi-k2.7-code", {}, None),
        ("kimi-k2.7-code", {"thinking": {"type": "enabled"}}, None),
        ("kimi-k2.7-code", {"thinking": {"type": "disabled"}}, ONLY_ENABLED),
        ("kimi-k2.7-code-highspeed", {"thinking": {"type": "disabled"}}, ONLY_ENABLED),
        # K3: reasoning_effort, never thinking.
        (
            "kimi-k3",
            {"thinking": {"type": "enabled"}},
            "invalid thinking: the thinking field is not supported for this model, use reasoning_effort",
        ),
        (
            "kimi-k3.1-pro",
            {"thinking": {"type": "disabled"}},
            "invalid thinking: the thinking field is not supported for this model, use reasoning_effort",
        ),
        ("kimi-k3", {"reasoning_effort": "low"}, None),
        ("kimi-k3", {"reasoning_effort": "high"}, None),
        ("kimi-k3.1-pro", {"reasoning_effort": "max"}, None),
        (
            "kimi-k3",
            {"reasoning_effort": "medium"},
            "invalid reasoning_effort: only low, high, max are allowed for this model",
        ),
        (
            "kimi-k3",
            {"reasoning_effort": {"effort": "max"}},
            "the reasoning_effort field (expected type string) is illegal",
        ),
        # Model ids match case-insensitively, with or without OpenRouter's prefix.
        (
            "Kimi-K3",
            {"thinking": {"type": "enabled"}},
            "invalid thinking: the thinking field is not supported for this model, use reasoning_effort",
        ),
        ("moonshotai/KIMI-K2.7-CODE", {"thinking": {"type": "disabled"}}, ONLY_ENABLED),
        # A model the rules do not know gets no per-model rule.
        ("kimi-k9", {"thinking": {"type": "disabled"}, "temperature": 0.1, "tool_choice": "required"}, None),
    ],
)
def test_thinking_and_reasoning_effort(
    rules: LoopbackServer, model: str, extra: dict[str, Any], message: str | None
) -> None:
    status, body = chat(rules, model, **extra)
    if message is None:
        assert status == 200, body
    else:
        assert (status, body) == (400, moonshot_400(message))


REQUIRED = "tool_choice 'required' is incompatible with thinking enabled"
SPECIFIED = "tool_choice 'specified' is incompatible with thinking enabled"
NAMED = {"type": "function", "function": {"name": "f"}}


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        ("kimi-k3", {"tool_choice": "required"}, None),
        ("kimi-k3.1-pro", {"tool_choice": "required"}, None),
        ("kimi-k2-thinking", {"tool_choice": "required"}, REQUIRED),
        ("kimi-k2.5", {"tool_choice": "required"}, REQUIRED),
        ("kimi-k2.6", {"tool_choice": "required"}, REQUIRED),
        ("kimi-k2.7-code", {"tool_choice": "required"}, REQUIRED),
        ("kimi-k2.6", {"tool_choice": NAMED}, SPECIFIED),
        ("kimi-k2.6", {"tool_choice": "required", "thinking": {"type": "disabled"}}, None),
        ("kimi-k2.6", {"tool_choice": "auto"}, None),
        ("kimi-k2.7-code", {"tool_choice": "none"}, None),
    ],
)
def test_tool_choice(rules: LoopbackServer, model: str, extra: dict[str, Any], message: str | None) -> None:
    status, body = chat(
        rules, model, tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}], **extra
    )
    if message is None:
        assert status == 200, body
    else:
        assert (status, body) == (400, moonshot_400(message))


@pytest.mark.parametrize(
    ("model", "extra", "message"),
    [
        ("kimi-k2.6", {"temperature": 1, "top_p": 0.95, "n": 1, "presence_penalty": 0, "frequency_penalty": 0.0}, None),
        ("kimi-k2.6", {"temperature": 0.7}, "invalid temperature: only 1 is allowed for this model"),
        ("kimi-k2.6", {"temperature": 0.6, "thinking": {"type": "disabled"}}, None),
        (
            "kimi-k2.5",
            {"temperature": 1.0, "thinking": {"type": "disabled"}},
            "invalid temperature: only 0.6 is allowed for this model",
        ),
        ("kimi-k2.6", {"top_p": 1.0}, "invalid top_p: only 0.95 is allowed for this model"),
        ("kimi-k2.6", {"n": 2}, "invalid n: only 1 is allowed for this model"),
        ("kimi-k2.7-code", {"presence_penalty": 0.5}, "invalid presence_penalty: only 0 is allowed for this model"),
        (
            "kimi-k2.7-code-highspeed",
            {"frequency_penalty": -1},
            "invalid frequency_penalty: only 0 is allowed for this model",
        ),
        ("kimi-k3", {"temperature": 0.5}, "invalid temperature: only 1 is allowed for this model"),
        ("kimi-k3.1-pro", {"temperature": "1"}, "invalid temperature: only 1 is allowed for this model"),
        ("kimi-k3", {"temperature": None, "top_p": None}, None),
    ],
)
def test_fixed_sampling(rules: LoopbackServer, model: str, extra: dict[str, Any], message: str | None) -> None:
    status, body = chat(rules, model, **extra)
    if message is None:
        assert status == 200, body
    else:
        assert (status, body) == (400, moonshot_400(message))


def test_reasoning_replay_on_every_assistant_message_for_k27_and_k3(rules: LoopbackServer) -> None:
    plain = [USER, {"role": "assistant", "content": "earlier answer"}, USER]
    echoed = [USER, {"role": "assistant", "content": "earlier answer", "reasoning_content": "why"}, USER]
    for model in ("kimi-k2.7-code", "kimi-k2.7-code-highspeed", "kimi-k3", "kimi-k3.1-pro"):
        assert chat(rules, model, plain) == (
            400,
            moonshot_400("thinking is enabled but reasoning_content is missing in assistant message at index 1"),
        )
        assert chat(rules, model, [*echoed[:2], {**echoed[1], "reasoning_content": ""}, USER])[1] == moonshot_400(
            "thinking is enabled but reasoning_content is missing in assistant message at index 2"
        )
        assert chat(rules, model, tool_turn()) == (
            400,
            moonshot_400(
                "thinking is enabled but reasoning_content is missing in assistant tool call message at index 1"
            ),
        )
        assert chat(rules, model, echoed)[0] == 200
        assert chat(rules, model, tool_turn("why"))[0] == 200
    for model in ("kimi-k2-thinking", "kimi-k2.5", "kimi-k2.6"):  # only tool-call messages there
        assert chat(rules, model, plain)[0] == 200
        assert chat(rules, model, tool_turn())[0] == 400


def test_reasoning_echo_follows_the_thinking_switch(rules: LoopbackServer) -> None:
    disabled = {"thinking": {"type": "disabled"}}
    assert chat(rules, "kimi-k2.6", tool_turn(), **disabled)[0] == 200
    assert chat(rules, "kimi-k2.5", tool_turn(), **disabled)[0] == 200
    assert chat(rules, "kimi-k2.6", tool_turn(), thinking={"type": "enabled"})[0] == 400
    # A model the rules do not know keeps require_reasoning_echo's check.
    assert chat(rules, "kimi-k9", tool_turn(), **disabled)[0] == 400


def test_tool_messages_need_a_known_tool_call_id(rules: LoopbackServer) -> None:
    named = [*tool_turn("r")[:2], {**TOOL, "name": "f"}]
    assert chat(rules, "kimi-k2.6", named)[0] == 200
    no_id = [*tool_turn("r")[:2], {"role": "tool", "content": "1"}]
    assert chat(rules, "kimi-k2.6", no_id) == (400, moonshot_400("Invalid request: tool_call_id  is not found"))
    assert chat(rules, "kimi-k9", no_id)[0] == 400, "an API-wide rule: any model"
    stranger = [*tool_turn("r")[:2], {**TOOL, "tool_call_id": "functions.g:7"}]
    assert chat(rules, "kimi-k2.6", stranger) == (
        400,
        moonshot_400("Invalid request: tool_call_id functions.g:7 is not found"),
    )


def test_openrouter_wraps_moonshot_rule_errors() -> None:
    with LoopbackServer(
        dialect="openrouter", upstream="moonshot", model_rules=True, models=["moonshotai/kimi-k2.7-code"]
    ) as srv:
        status, body = chat(srv, "moonshotai/kimi-k2.7-code", thinking={"type": "disabled"})
        assert status == 400 and body["error"]["message"] == "Provider returned error"
        assert body["error"]["metadata"]["provider_name"] == "Moonshot AI"
        assert json.loads(body["error"]["metadata"]["raw"]) == moonshot_400(ONLY_ENABLED)
        plain = [USER, {"role": "assistant", "content": "earlier"}, USER]
        status, body = chat(srv, "moonshotai/kimi-k2.7-code", plain)
        assert json.loads(body["error"]["metadata"]["raw"]) == moonshot_400(
            "thinking is enabled but reasoning_content is missing in assistant message at index 1"
        )
        assert chat(srv, "moonshotai/kimi-k3")[1]["error"]["message"] == "moonshotai/kimi-k3 is not a valid model ID"
        assert chat(srv, "moonshotai/kimi-k2.7-code", [USER, {**plain[1], "reasoning_content": "r"}, USER])[0] == 200
