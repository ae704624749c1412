"""What the demo reads from a chat request: the question, the tools offered, the calls made and their results.

Why a separate module: the demo is stateless, so all it knows is parsed here from the request body, and
`_demo` decides from the parsed Request alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from kimi_lab.testing._replies import _message_text

_WRAPPED = re.compile(
    r'\A<tool_output id="(?P<id>[^"]*)" name="[^"]*" status="(?P<status>\w+)">\n(?P<text>.*)\n'
    r'</tool_output id="(?P=id)">\Z',
    re.DOTALL,
)


@dataclass
class Call:
    """One tool call found in the conversation, with its result as the client sent it back."""

    name: str
    arguments: dict[str, Any]
    status: str  # ok | error | denied | timeout | pending
    result: str


@dataclass
class Request:
    """The parts of a chat request the demo reasons about."""

    question: str
    tools: dict[str, dict[str, Any]]
    turn: list[Call]  # calls since the last user message
    history: list[Call]  # every call in the conversation, oldest first
    rounds: int  # assistant tool-call messages since the last user message
    json_mode: bool = False
    schema: Any = None
    earlier: list[str] = field(default_factory=list)  # earlier user messages, newest first

    def called(self, name: str) -> list[Call]:
        return [c for c in self.turn if c.name == name]

    def latest(self, tool: str, **arguments: Any) -> Call | None:
        """The newest call of `tool` anywhere in the conversation (with these arguments)."""
        for call in reversed(self.history):
            if call.name == tool and all(call.arguments.get(k) == v for k, v in arguments.items()):
                return call
        return None


def _arguments(raw: Any) -> dict[str, Any]:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _unwrap(text: str) -> tuple[str, str]:
    """(status, text) of a tool result: kimi_lab wraps results in <tool_output ... status="...">."""
    match = _WRAPPED.match(text)
    if match:
        return match.group("status"), match.group("text")
    return ("error" if text.lstrip().lower().startswith("error") else "ok"), text


def parse_request(body: dict[str, Any]) -> Request:
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    users = [i for i, m in enumerate(messages) if m.get("role") == "user"]
    last_user = users[-1] if users else -1
    results = {m.get("tool_call_id"): _message_text(m) for m in messages if m.get("role") == "tool"}
    history: list[Call] = []
    turn: list[Call] = []
    rounds = 0
    for index, message in enumerate(messages):
        calls = message.get("tool_calls")
        if message.get("role") != "assistant" or not isinstance(calls, list):
            continue
        rounds += index > last_user
        for raw in calls:
            fn = raw.get("function") if isinstance(raw, dict) else None
            if not isinstance(fn, dict):
                continue
            result = results.get(raw.get("id"))
            status, text = _unwrap(result) if result is not None else ("pending", "")
            call = Call(str(fn.get("name", "")), _arguments(fn.get("arguments")), status, text)
            history.append(call)
            if index > last_user:
                turn.append(call)
    tools = {}
    for spec in body.get("tools") or []:
        fn = spec.get("function") if isinstance(spec, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            tools[fn["name"]] = fn
    response_format = body.get("response_format")
    response_format = response_format if isinstance(response_format, dict) else {}
    kind = response_format.get("type")
    wrapper = response_format.get("json_schema")
    schema = wrapper.get("schema") if kind == "json_schema" and isinstance(wrapper, dict) else None
    return Request(
        question=_message_text(messages[last_user]) if users else "",
        tools=tools,
        turn=turn,
        history=history,
        rounds=rounds,
        json_mode=kind in ("json_object", "json_schema"),
        schema=schema,
        earlier=[_message_text(messages[i]) for i in reversed(users[:-1])],
    )
