"""The key of one model call in the replay cache: a SHA-256 of its request in a canonical form.

The canonical form is the request as sent (messages, tools, sampling, response_format, the provider's
reasoning fields), keys sorted, minus what changes from run to run without changing the answer:

- the random id around each tool result (`<tool_output id="…">`, drawn afresh for every result so the data
  cannot fake the closing tag): replaced by a fixed one;
- tool-call ids (random per call at most providers; a counter over the server's life at Moonshot): replaced
  by their order of first appearance in the conversation.

What a tool returned stays in the key, so a changed DataFrame is a new request, never a stale answer.
The key is a hash, so no prompt text (and no secret that might be in one) is ever stored in it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import Any

from kimi_lab.backends.base import ChatRequest

__all__ = ["RequestKey"]

#: Changes whenever the canonical form does, so no entry is matched under rules it was not made with.
KEY_FORMAT = 1
_NONCE = re.compile(r'\A<tool_output id="([0-9a-f]+)"')
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _head(inner: Any, request: ChatRequest) -> dict[str, Any]:
    """Everything the request carries but its messages: the body a remote backend would send (`body`, which
    reads nothing from the network), else the request's own fields (the local backend)."""
    body = getattr(inner, "body", None)
    if callable(body):
        head = json.loads(body(replace(request, messages=[])))
        head.pop("messages", None)
        return head
    fields = ("model", "max_tokens", "temperature", "top_p", "seed", "stop", "json_mode", "response_format",
              "tools", "tool_choice", "effort", "route")
    head = {name: getattr(request, name) for name in fields}
    head["rule"] = request.rule.name if request.rule is not None else None
    head["min_p"] = getattr(inner, "min_p", None)
    return head


class RequestKey:
    """Keys of the model calls of one turn. A message is made canonical once (by identity, as the remote
    backend encodes it once): a tool loop's history grows by a few messages a round, and re-encoding all of
    it every round would make a long loop quadratic."""

    def __init__(self) -> None:
        self._done: dict[int, tuple[Any, bytes]] = {}  # id -> (the message, kept so the id stays its own; form)
        self._ids: dict[str, str] = {}  # tool-call id -> its place

    def key(self, inner: Any, provider: str, model: str, request: ChatRequest) -> str:
        digest = hashlib.sha256(_ENCODER.encode([KEY_FORMAT, provider, model, _head(inner, request)]).encode())
        for message in request.messages:
            digest.update(b"\x1e")
            digest.update(self._message(message))
        return digest.hexdigest()

    def _message(self, message: dict[str, Any]) -> bytes:
        hit = self._done.get(id(message))
        if hit is not None and hit[0] is message:
            return hit[1]
        form = _ENCODER.encode(self._canonical(message)).encode()
        self._done[id(message)] = (message, form)
        return form

    def _canonical(self, message: dict[str, Any]) -> dict[str, Any]:
        out = dict(message)
        if out.get("tool_calls"):
            out["tool_calls"] = [{**call, "id": self._id(call.get("id"))} if isinstance(call, dict) else call
                                 for call in out["tool_calls"]]
        if out.get("tool_call_id"):
            out["tool_call_id"] = self._id(out["tool_call_id"])
        content = out.get("content")
        if out.get("role") == "tool" and isinstance(content, str):
            out["content"] = _without_nonce(content)
        return out

    def _id(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return self._ids.setdefault(value, f"call-{len(self._ids)}")


def _without_nonce(content: str) -> str:
    """The tool result with its wrapper's random id replaced, at both ends (the id is 64 random bits: it occurs
    nowhere else in the result, tools/runner.py draws it so)."""
    match = _NONCE.match(content)
    if match is None:
        return content
    nonce = match.group(1)
    closing = f'</tool_output id="{nonce}">'
    opened = content[len(f'<tool_output id="{nonce}"'):]
    if opened.endswith(closing):
        opened = opened[: -len(closing)] + '</tool_output id="-">'
    return '<tool_output id="-"' + opened
