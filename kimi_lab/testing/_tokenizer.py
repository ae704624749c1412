"""Moonshot's token counter, as the loopback server answers it for dialect "moonshot".

The documented endpoint (platform.moonshot.ai/docs/api/estimate; platform.kimi.ai/docs/api/estimate):
`POST /v1/tokenizers/estimate-token-count` with a chat request's `model` and `messages` ("the input structure
is almost identical to that of chat completion"); each message's role is system, user or assistant and its
content must not be empty; the answer is `{"data": {"total_tokens": 80}}`; a bad request is a 400, a bad key
a 401. The count here is a deterministic stand-in for Kimi's tokenizer (not its vocabulary): a word is one
token per five characters begun, any other visible character one token, and each message adds four for its
role markers. It differs from the client's four-characters estimate on purpose, so a test can tell a count
the server made from one the client guessed.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from kimi_lab.testing._providers import model_not_served
from kimi_lab.testing._replies import _message_text

if TYPE_CHECKING:
    from kimi_lab.testing.server import LoopbackServer

__all__ = ["TOKENIZER_PATH", "count_tokens", "estimate_answer"]

TOKENIZER_PATH = "/v1/tokenizers/estimate-token-count"
_PER_MESSAGE = 4
_WORD = re.compile(r"\w+")
_MARK = re.compile(r"[^\w\s]")
_ROLES = ("system", "user", "assistant")


def count_tokens(messages: list[dict[str, Any]]) -> int:
    """The stand-in tokenizer's count of `messages` (see the module docstring)."""
    total = 0
    for message in messages:
        text = _message_text(message)
        total += _PER_MESSAGE + len(_MARK.findall(text))
        total += sum((len(word) + 4) // 5 for word in _WORD.findall(text))  # a token per five characters begun
    return total


def _invalid(message: str) -> tuple[int, dict[str, Any]]:
    return 400, {"error": {"message": message, "type": "invalid_request_error"}}


def estimate_answer(owner: LoopbackServer, body: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
    """(status, JSON body) for one estimate-token-count request."""
    if body is None:
        return _invalid("Invalid request: body must be a JSON object")
    model, messages = body.get("model"), body.get("messages")
    if not isinstance(model, str) or not model:
        return _invalid("Invalid request: model is required")
    if owner.models is not None and model not in owner.models:
        return model_not_served(owner.dialect, model)
    if not isinstance(messages, list) or not messages:
        return _invalid("Invalid request: messages must be a non-empty list")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            return _invalid(f"Invalid request: the role of message {index} must be one of {', '.join(_ROLES)}")
        if not _message_text(message):
            return _invalid(f"Invalid request: the content of message {index} must not be empty")
    return 200, {"data": {"total_tokens": count_tokens(messages)}}
