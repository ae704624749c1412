"""A scripted Reply rendered in one provider's wire format: the SSE events of a stream,
or a whole chat.completion, with ids, model and usage resolved against the request."""

from __future__ import annotations

import secrets
import time
from typing import Any

from kimi_lab.testing._replies import (
    _COMPLETION_PRICE,
    _DONE,
    _PROMPT_PRICE,
    DEFAULT_MODEL,
    Reply,
    Usage,
    _dumps,
    _split,
)


class _Rendered:
    """A Reply resolved against one request: ids, model and usage fixed, ready to serialise."""

    def __init__(self, reply: Reply, body: dict[str, Any] | None, tool_ids: list[str]) -> None:
        body = body or {}
        self.reply = reply
        self.dialect = reply.dialect
        requested = body.get("model")
        self.model = reply.model or (requested if isinstance(requested, str) and requested else DEFAULT_MODEL)
        self.id = "chatcmpl-" + secrets.token_hex(12)
        self.created = int(time.time())
        self.tool_calls = list(zip(tool_ids, reply.tool_calls, strict=True))
        self.reasoning = "" if self.dialect == "plain" else reply.reasoning
        self.content = "".join(reply.chunks) if reply.chunks is not None else reply.content
        self.finish_reason = reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")
        options = body.get("stream_options")
        self.include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        if reply.usage is not None:
            self.usage = reply.usage
        else:
            messages_json = _dumps(body.get("messages", []))
            self.usage = Usage(
                prompt_tokens=len(messages_json) // 4,
                completion_tokens=len(self.reasoning + self.content) // 4,
                cached_tokens=0,
                reasoning_tokens=len(self.reasoning) // 4,
            )

    # -- shared pieces -------------------------------------------------------------

    def _think_prefix(self) -> str:
        return f"<think>{self.reasoning}</think>" if self.reasoning else ""

    def usage_object(self) -> dict[str, Any]:
        """The dialect's usage shape (Moonshot flat cached_tokens, OpenRouter cost, else OpenAI)."""
        u = self.usage
        out: dict[str, Any] = {
            "prompt_tokens": u.prompt_tokens,
            "completion_tokens": u.completion_tokens,
            "total_tokens": u.prompt_tokens + u.completion_tokens,
        }
        if self.dialect == "moonshot":
            out["cached_tokens"] = u.cached_tokens
            return out
        out["prompt_tokens_details"] = {"cached_tokens": u.cached_tokens}
        if self.dialect == "openrouter":
            out["completion_tokens_details"] = {"reasoning_tokens": u.reasoning_tokens}
            out["cost"] = round(
                u.prompt_tokens * _PROMPT_PRICE + u.completion_tokens * _COMPLETION_PRICE,
                10,
            )
        return out

    # -- streaming -----------------------------------------------------------------

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        chunk = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        }
        if self.dialect == "openrouter":
            # OpenRouter names the upstream host on every chunk: langchain-ai/langchain#39301, nearai/ironclaw#5786
            chunk["provider"] = "Moonshot AI"
        return chunk

    def _reasoning_delta(self, piece: str) -> dict[str, Any]:
        if self.dialect == "moonshot":
            return {"reasoning_content": piece}
        if self.dialect == "openrouter":
            return {
                "role": "assistant",
                "content": "",
                "reasoning": piece,
                "reasoning_details": [
                    {
                        "type": "reasoning.text",
                        "text": piece,
                        "format": "unknown",
                        "index": 0,
                    }
                ],
            }
        return {"reasoning": piece}

    def _content_delta(self, piece: str) -> dict[str, Any]:
        if self.dialect == "openrouter":
            return {"role": "assistant", "content": piece}
        return {"content": piece}

    def _content_pieces(self) -> list[str]:
        size = self.reply.chunk_chars
        explicit = self.reply.chunks
        if self.dialect == "think":
            prefix = self._think_prefix()
            if explicit is not None:
                return _split(prefix, size) + list(explicit)
            return _split(prefix + self.content, size)
        if explicit is not None:
            return list(explicit)
        return _split(self.content, size)

    def body_events(self) -> list[dict[str, Any]]:
        """Role, reasoning, content and tool-call events, in the order providers send them."""
        size = self.reply.chunk_chars
        events = [self._chunk({"role": "assistant", "content": ""})]
        if self.dialect in ("moonshot", "openrouter", "reasoning"):
            events += [self._chunk(self._reasoning_delta(p)) for p in _split(self.reasoning, size)]
        events += [self._chunk(self._content_delta(p)) for p in self._content_pieces()]
        for index, (call_id, call) in enumerate(self.tool_calls):
            head = {
                "index": index,
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": ""},
            }
            events.append(self._chunk({"tool_calls": [head]}))
            for piece in _split(call.arguments, size):
                frag = {"index": index, "function": {"arguments": piece}}
                events.append(self._chunk({"tool_calls": [frag]}))
        return events

    def tail_events(self) -> list[dict[str, Any]]:
        """Finish event plus the dialect's usage placement."""
        finish = self._chunk({}, self.finish_reason)
        if self.dialect == "moonshot":
            finish["choices"][0]["usage"] = self.usage_object()
            return [finish]
        events = [finish]
        if self.dialect == "openrouter" or self.include_usage:
            usage_chunk = self._chunk({})
            usage_chunk["choices"] = []
            usage_chunk["usage"] = self.usage_object()
            events.append(usage_chunk)
        return events

    def payloads(self) -> list[str]:
        """Every `data:` payload of the stream, including the final [DONE] when due."""
        reply = self.reply
        events = self.body_events()
        if reply.stream_error is not None:
            err = reply.stream_error
            events.append(err if set(err) == {"error"} else {"error": err})
            return [_dumps(e) for e in events]
        events += self.tail_events()
        out = [_dumps(e) for e in events]
        if not reply.no_done:
            out.append(_DONE)
        return out

    # -- non-streaming -------------------------------------------------------------

    def completion(self) -> dict[str, Any]:
        """A single `chat.completion` object in the same dialect."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.dialect == "moonshot":
            message["reasoning_content"] = self.reasoning
        elif self.dialect == "openrouter":
            message["reasoning"] = self.reasoning or None
            message["reasoning_details"] = (
                [
                    {
                        "type": "reasoning.text",
                        "text": self.reasoning,
                        "format": "unknown",
                        "index": 0,
                    }
                ]
                if self.reasoning
                else []
            )
        elif self.dialect == "reasoning":
            message["reasoning"] = self.reasoning
        elif self.dialect == "think":
            message["content"] = self._think_prefix() + self.content
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "index": index,
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for index, (call_id, call) in enumerate(self.tool_calls)
            ]
        return {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
            "usage": self.usage_object(),
        }


