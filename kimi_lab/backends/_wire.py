"""Reading the OpenAI-compatible streaming dialects: SSE lines, one event's fields, reasoning, usage.

Every field of an event is checked for the shape the dialects send before anything is taken from
it, and an event of another shape is refused whole (MalformedEvent): the reader skips it with a
warning instead of ending the answer, and never acts on half of it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from kimi_lab.common.events import TokenUsage, ToolCallDelta

__all__ = ["Chunk", "MalformedEvent", "parse_chunk", "reasoning_of", "sse_events", "usage_of"]


class MalformedEvent(ValueError):
    """A stream event of a shape no dialect sends; the message says what is wrong with it."""


@dataclass
class Chunk:
    """What one well-formed stream event carries (only its first choice is read)."""

    error: Any = None  # a provider's error event: {"error": ...} without choices
    reasoning: str = ""
    details: list[dict[str, Any]] | None = None  # OpenRouter's reasoning_details, echoed back as they came
    content: str = ""
    tool_calls: list[ToolCallDelta] = field(default_factory=list)
    finish: str | None = None
    usage: TokenUsage | None = None
    # OpenRouter: the upstream host that is answering, a top-level `provider` on every chunk
    # (langchain-ai/langchain#39301, OpenRouterTeam/ai-sdk-provider#131, nearai/ironclaw#5786)
    provider: str = ""


_JSON_TYPES = {dict: "an object", list: "an array", str: "a string", int: "a number", float: "a number",
               bool: "a boolean", type(None): "null"}


def _kind(value: Any) -> str:
    return _JSON_TYPES.get(type(value), type(value).__name__)


def _check(value: Any, types: type | tuple[type, ...], where: str, wanted: str) -> Any:
    """`value` when it is one of `types` or null; else MalformedEvent naming the field."""
    if value is None or isinstance(value, types):
        return value
    raise MalformedEvent(f"{where} is {_kind(value)}, not {wanted}")


#: More tokens than any request has ever held (a 1M context, many times over): a count above it is not one.
MAX_TOKEN_COUNT = 10**12


def _count(raw: dict[str, Any], *keys: str) -> int:
    """The first present token count among `keys` (0 when none is), as an int."""
    for key in keys:
        value = raw.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise MalformedEvent(f"usage.{key} is {_kind(value)}, not a number")
        try:
            count = value if isinstance(value, int) else int(float(value))
        except (ValueError, OverflowError):  # "many", NaN, infinity
            raise MalformedEvent(f"usage.{key} is {str(value)[:20]!r}, not a number") from None
        if not 0 <= count <= MAX_TOKEN_COUNT:  # a negative count would pay back; an absurd one overflows
            raise MalformedEvent(f"usage.{key} is {count}, not a token count")
        return count
    return 0


def usage_of(raw: dict[str, Any]) -> TokenUsage:
    """Token counts from a usage object, reading cached tokens from both places providers put them."""
    prompt_details = _check(raw.get("prompt_tokens_details"), dict, "usage.prompt_tokens_details", "an object") or {}
    completion_details = _check(raw.get("completion_tokens_details"), dict, "usage.completion_tokens_details",
                                "an object") or {}
    return TokenUsage(
        prompt=_count(raw, "prompt_tokens"),
        completion=_count(raw, "completion_tokens"),
        cached=_count(prompt_details, "cached_tokens") or _count(raw, "cached_tokens"),
        reasoning=_count(completion_details, "reasoning_tokens") or _count(raw, "reasoning_tokens"),
    )


def reasoning_of(delta: dict[str, Any]) -> tuple[str, list[dict[str, Any]] | None]:
    """Reasoning text of a delta (or message) in any dialect, plus raw `reasoning_details`.

    Order matters: OpenRouter sends the same text in `reasoning` and `reasoning_details`,
    so the first field present wins and the details are kept only to be echoed back.
    """
    details = _check(delta.get("reasoning_details"), list, "reasoning_details", "an array") or None
    for key in ("reasoning_content", "reasoning"):
        value = _check(delta.get(key), str, key, "a string")
        if value:
            return value, details
    if details:
        parts = []
        for item in details:
            if isinstance(item, dict):
                text = item.get("text") if item.get("type") != "reasoning.summary" else item.get("summary")
                if isinstance(text, str):
                    parts.append(text)
        return "".join(parts), details
    return "", None


def _tool_call(n: int, call: Any) -> ToolCallDelta:
    call = _check(call, dict, f"tool_calls[{n}]", "an object")
    if call is None:
        raise MalformedEvent(f"tool_calls[{n}] is null, not an object")
    fn = _check(call.get("function"), dict, "function", "an object") or {}
    index = call.get("index", n)
    if isinstance(index, bool) or not isinstance(index, int):
        raise MalformedEvent(f"tool_calls[{n}].index is {_kind(index)}, not a number")
    return ToolCallDelta(index=index, id=_check(call.get("id"), str, "tool call id", "a string"),
                         name=_check(fn.get("name"), str, "function.name", "a string"),
                         arguments=_check(fn.get("arguments"), str, "function.arguments", "a string") or "")


def _decode(payload: str) -> dict[str, Any]:
    try:
        chunk = json.loads(payload)
    except RecursionError:  # json gives up on deep nesting by recursion, not with a ValueError
        raise MalformedEvent("JSON nested too deeply") from None
    except ValueError:
        raise MalformedEvent("not JSON") from None
    if not isinstance(chunk, dict):
        raise MalformedEvent(f"{_kind(chunk)}, not an object")
    return chunk


def parse_chunk(payload: str) -> Chunk:
    """The fields of one `data:` payload; MalformedEvent when any of them has the wrong shape."""
    chunk = _decode(payload)
    choices = _check(chunk.get("choices"), list, "choices", "an array") or ()
    if "error" in chunk and not choices:
        return Chunk(error=chunk["error"])
    usage = _check(chunk.get("usage"), dict, "usage", "an object")
    out = Chunk()
    if choices:
        choice = _check(choices[0], dict, "choices[0]", "an object")
        if choice is None:
            raise MalformedEvent("choices[0] is null, not an object")
        delta = _check(choice.get("delta"), dict, "delta", "an object") or {}
        out.reasoning, out.details = reasoning_of(delta)
        out.content = _check(delta.get("content"), str, "delta.content", "a string") or ""
        calls = _check(delta.get("tool_calls"), list, "tool_calls", "an array") or ()
        out.tool_calls = [_tool_call(n, call) for n, call in enumerate(calls)]
        out.finish = _check(choice.get("finish_reason"), str, "finish_reason", "a string") or None
        usage = usage or _check(choice.get("usage"), dict, "choices[0].usage", "an object")
    out.usage = usage_of(usage) if usage else None
    out.provider = chunk["provider"] if isinstance(chunk.get("provider"), str) else ""
    return out


def sse_events(lines: Iterable[str]) -> Iterator[str | None]:
    """The data payloads of a server-sent-event stream, and None for every line that completes no
    event (a ':' comment, another field, an empty line), so the reader can tell a server sending
    only keep-alives from one sending nothing, and keep its own clock."""
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield "\n".join(data)
                data = []
                continue
        elif line.startswith("data:"):
            value = line[5:]
            data.append(value[1:] if value.startswith(" ") else value)
            continue
        # ':' comments (OpenRouter's keep-alives), 'event:', 'id:', 'retry:' carry nothing we use
        yield None
    if data:
        yield "\n".join(data)
