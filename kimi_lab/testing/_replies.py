"""What a scripted reply is, and what the loopback server recorded: plain data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

DIALECTS: tuple[str, ...] = ("moonshot", "openrouter", "reasoning", "think", "plain")
DEFAULT_MODEL = "kimi-k2-thinking"
CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"

# Upper bound for any single scripted wait, so a typo cannot wedge a test run.
_MAX_WAIT = 120.0
_JOIN_TIMEOUT = 5.0
# OpenRouter reports a dollar cost; these are Kimi K2 Thinking list prices per token.
_PROMPT_PRICE = 0.60e-6
_COMPLETION_PRICE = 2.50e-6
_ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "invalid_authentication_error",
    403: "permission_denied_error",
    404: "resource_not_found_error",
    429: "rate_limit_reached_error",
    500: "server_error",
    502: "server_error",
    503: "engine_overloaded_error",
    504: "server_error",
}
_MALFORMED = b'data: {"choices": [{"delta": {"content": "\n\n'
_DONE = "[DONE]"


@dataclass
class ToolCall:
    """A scripted function call; `arguments` is raw JSON text streamed in fragments."""

    name: str
    arguments: str
    id: str | None = None


@dataclass
class Usage:
    """Token accounting echoed in the dialect's own usage shape."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0


@dataclass
class Reply:
    """One scripted answer (or fault) for one chat-completions request."""

    content: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    dialect: str = "moonshot"
    model: str | None = None
    finish_reason: str | None = None
    usage: Usage | None = None
    chunk_chars: int = 8
    chunks: list[str] | None = None
    delay: float = 0.0
    first_delay: float = 0.0
    # faults
    status: int = 200
    error: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0
    cut_after: int | None = None
    malformed_at: int | None = None
    stream_error: dict[str, Any] | None = None
    no_done: bool = False
    # Raw `data:` payloads sent before event n (n = len(events) puts one after the last): events of a
    # wrong shape, a JSON value that is not an object, JSON nested too deeply to decode.
    inject: list[tuple[int, str]] = field(default_factory=list)
    # SSE comment lines, ": <comment>", which clients must ignore (SSE spec,
    # https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation). OpenRouter
    # "occasionally sends comments to prevent connection timeouts", e.g. ": OPENROUTER PROCESSING"
    # (https://openrouter.ai/docs/api-reference/streaming). With `comment` set, one goes before every
    # event, and one every `comment_every` s while the server waits (first_delay, delay, linger): a
    # model still queued, or stalled mid-answer, behind a proxy that keeps the connection warm.
    comment: str | None = None
    comment_every: float = 0.1
    # Seconds the body stays open after `data: [DONE]` before it ends: [DONE] is the end of the answer
    # (https://platform.openai.com/docs/api-reference/chat/streaming), whatever the connection does next.
    linger: float = 0.0

    def __post_init__(self) -> None:
        """Fail at scripting time, not deep inside a handler thread."""
        if self.dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {self.dialect!r}; expected one of {DIALECTS}")
        if self.chunk_chars < 1:
            raise ValueError("chunk_chars must be >= 1")
        if self.comment_every <= 0:
            raise ValueError("comment_every must be > 0")


@dataclass
class RecordedRequest:
    """What the server saw, so tests can assert on what the client actually sent."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    time: float
    finished: float | None = None  # time.monotonic() when the response was fully written
    connection: int = 0  # which TCP connection carried it, counted from 1: equal numbers mean keep-alive


class _Headers(dict[str, str]):
    """Header dict with case-insensitive lookups (keys stored lower-case)."""

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key.lower() if isinstance(key, str) else key)

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(key.lower(), default)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _split(text: str, size: int) -> list[str]:
    """Split by characters (code points), so no UTF-8 sequence is ever cut."""
    return [text[i : i + size] for i in range(0, len(text), size)]


def _error_body(status: int, message: str | None = None) -> dict[str, Any]:
    if message is None:
        try:
            message = HTTPStatus(status).phrase
        except ValueError:
            message = "Error"
    return {
        "error": {
            "message": message,
            "type": _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error"),
            "code": status,
        }
    }


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", "")) for part in content if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def _last_user_text(body: dict[str, Any] | None) -> str:
    messages = (body or {}).get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, dict) and message.get("role") == "user":
                return _message_text(message)
    return ""


def _missing_reasoning_echo(messages: Any, field_name: str) -> int | None:
    """Index of the first assistant tool-call message lacking its reasoning echo."""
    if not isinstance(messages, list):
        return None
    for index, message in enumerate(messages):
        if not (isinstance(message, dict) and message.get("role") == "assistant"):
            continue
        if not message.get("tool_calls"):
            continue
        value = message.get(field_name)
        ok = bool(value) and isinstance(value, list if field_name == "reasoning_details" else str)
        if not ok:
            return index
    return None


