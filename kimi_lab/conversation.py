"""Conversations: named histories shared by every face, and what of them goes on the wire."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .events import TokenUsage
from .result import Result

__all__ = ["Conversation", "Message", "assistant_wire", "conversations", "message_wire"]

DEFAULT_CHAT = "default"


@dataclass
class Message:
    role: str  # "system" | "user" | "assistant" | "tool"
    content: str = ""
    reasoning: str = ""
    reasoning_details: list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None  # OpenAI wire form
    tool_call_id: str | None = None
    name: str | None = None
    partial: bool = False  # cut short by an interrupt or a failure


def assistant_wire(msg: Message, dialect: str) -> dict[str, Any]:
    """An assistant message as sent. Only tool-call messages carry their reasoning back:
    Moonshot rejects any tool-call message without it (HTTP 400), and the chat template drops
    the reasoning of final answers anyway, so resending that would only cost tokens."""
    out: dict[str, Any] = {"role": "assistant", "content": msg.content}
    if msg.tool_calls:
        out["tool_calls"] = msg.tool_calls
        if dialect == "openrouter":
            out["reasoning"] = msg.reasoning
            if msg.reasoning_details:
                out["reasoning_details"] = msg.reasoning_details
        elif dialect == "reasoning":
            out["reasoning"] = msg.reasoning
        else:
            out["reasoning_content"] = msg.reasoning
    return out


def message_wire(msg: Message, dialect: str) -> dict[str, Any]:
    if msg.role == "assistant":
        return assistant_wire(msg, dialect)
    if msg.role == "tool":
        return {"role": "tool", "tool_call_id": msg.tool_call_id, "content": msg.content}
    return {"role": msg.role, "content": msg.content}


@dataclass
class Conversation:
    name: str = DEFAULT_CHAT
    system: str | None = None
    messages: list[Message] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def wire(self, dialect: str, default_system: str | None = None) -> list[dict[str, Any]]:
        """Messages as sent (see assistant_wire for what carries reasoning)."""
        out: list[dict[str, Any]] = []
        system = self.system or default_system
        if system:
            out.append({"role": "system", "content": system})
        out.extend(message_wire(msg, dialect) for msg in self.messages)
        return out

    def record(self, result: Result) -> None:
        self.results.append(result)
        self.usage = self.usage + result.usage
        self.cost += result.cost or 0.0

    def reset(self) -> None:
        with self.lock:
            self.messages.clear()
            self.results.clear()
            self.system = None


class _Registry:
    """Conversations by name, one registry per process (so per kernel)."""

    def __init__(self) -> None:
        self._by_name: dict[str, Conversation] = {}
        self._lock = threading.Lock()

    def get(self, name: str | None = None) -> Conversation:
        name = name or DEFAULT_CHAT
        with self._lock:
            conv = self._by_name.get(name)
            if conv is None:
                conv = self._by_name[name] = Conversation(name)
            return conv

    def has(self, name: str) -> bool:
        """Whether chat `name` was used in this kernel (even if reset since)."""
        with self._lock:
            return name in self._by_name

    def names(self) -> list[str]:
        with self._lock:
            return list(self._by_name)

    def reset(self, name: str | None = None) -> None:
        self.get(name).reset()


conversations = _Registry()
