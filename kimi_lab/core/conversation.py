"""Conversations: named histories shared by every face, and what of them goes on the wire."""

from __future__ import annotations

import os
import re
import sys
import threading
from dataclasses import dataclass, field
from typing import Any

from kimi_lab.common.events import TokenUsage
from kimi_lab.common.result import Result

__all__ = [
    "Conversation", "Conversations", "Message", "assistant_wire", "chat_name_for_path", "default_chat",
    "message_wire", "session_path", "wire_messages"
]

DEFAULT_CHAT = "default"


def chat_name_for_path(path: str) -> str:
    """A notebook's chat: its path without `.ipynb` (the sidebar's chatNameForPath, reducer.ts)."""
    name = re.sub(r"\.ipynb$", "", path.replace("\\", "/").lstrip("/"), flags=re.IGNORECASE)
    return name or DEFAULT_CHAT


def session_path() -> str:
    """The kernel's notebook: ipykernel puts the server's JPY_SESSION_NAME (the notebook's absolute
    path) into `__session__`; "" outside a notebook (a terminal, a script)."""
    path: Any = None
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        path = shell.user_ns.get("__session__")
    if not isinstance(path, str) or not path.strip():
        path = os.environ.get("JPY_SESSION_NAME", "")
    return path.strip()


def default_chat() -> str:
    """The chat a cell asks in without --chat: its notebook's, which the sidebar opens too, so the
    cells and the sidebar of one notebook share one conversation and two notebooks never do.

    The sidebar names it by the notebook's path under the server's root; the kernel knows only the
    absolute path, so until the sidebar has opened this notebook's chat it is that path's name
    ("default" outside a notebook), and from then on the sidebar's (services.chats.adopt_notebook_chat).
    """
    from kimi_lab.core.session import session

    path = session_path()
    adopted = session().notebook_chat
    if adopted is not None and adopted[0] == path:
        return adopted[1]
    return chat_name_for_path(path) if path else DEFAULT_CHAT


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


def assistant_wire(msg: Message, dialect: str, replay: str = "tool_calls", carried: str = "") -> dict[str, Any]:
    """An assistant message as sent. Its reasoning goes back in `reasoning_content` on every tool-call
    message (Moonshot rejects one without it, also behind OpenRouter: HTTP 400), and on every assistant
    message when the model's rule says `replay="all"` (K2.7-code, K3). OpenRouter also gets its own
    `reasoning` and `reasoning_details`, unchanged; vLLM's newer dialect `reasoning`.

    An empty `reasoning_content` counts as missing (pi issue #4251): a round that streamed no reasoning
    sends `carried`, the latest reasoning of the same conversation, else a sentence naming the calls."""
    out: dict[str, Any] = {"role": "assistant", "content": msg.content}
    if msg.tool_calls:
        out["tool_calls"] = msg.tool_calls
    if not (msg.tool_calls or replay == "all"):
        return out
    # the local backend renders the template itself: only real reasoning, none carried over
    reasoning = msg.reasoning if dialect == "native" else msg.reasoning or carried or _calls_sentence(msg)
    if not reasoning:
        return out
    out["reasoning_content"] = reasoning
    if dialect == "openrouter":
        out["reasoning"] = reasoning
        if msg.reasoning_details:
            out["reasoning_details"] = msg.reasoning_details
    elif dialect == "reasoning":
        out["reasoning"] = reasoning
    return out


def _calls_sentence(msg: Message) -> str:
    names = [call.get("function", {}).get("name", "a tool") for call in msg.tool_calls or ()]
    return f"I will call {', '.join(names)}." if names else ""


def message_wire(msg: Message, dialect: str, replay: str = "tool_calls", carried: str = "") -> dict[str, Any]:
    if msg.role == "assistant":
        return assistant_wire(msg, dialect, replay, carried)
    if msg.role == "tool":
        out = {"role": "tool", "tool_call_id": msg.tool_call_id, "content": msg.content}
        if msg.name:
            out["name"] = msg.name  # Moonshot's documented shape; the chat template renders it
        return out
    return {"role": msg.role, "content": msg.content}


def wire_messages(messages: list[Message], dialect: str, replay: str = "tool_calls") -> list[dict[str, Any]]:
    """Messages as sent, each assistant message carrying the latest reasoning before it where it has none."""
    out, carried = [], ""
    for msg in messages:
        if msg.role == "assistant" and msg.reasoning:
            carried = msg.reasoning
        out.append(message_wire(msg, dialect, replay, carried))
    return out


@dataclass
class Conversation:
    name: str = DEFAULT_CHAT
    system: str | None = None
    messages: list[Message] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost: float = 0.0
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def wire(self, dialect: str, default_system: str | None = None, replay: str = "tool_calls") -> list[dict[str, Any]]:
        """Messages as sent (see assistant_wire for what carries reasoning)."""
        out: list[dict[str, Any]] = []
        system = self.system or default_system
        if system:
            out.append({"role": "system", "content": system})
        out.extend(wire_messages(self.messages, dialect, replay))
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


class Conversations:
    """Conversations by name: the session's (kimi_lab.core.session), so one registry per kernel."""

    def __init__(self) -> None:
        self._by_name: dict[str, Conversation] = {}
        self._lock = threading.Lock()

    def get(self, name: str | None = None) -> Conversation:
        name = name or default_chat()
        with self._lock:
            conv = self._by_name.get(name)
            if conv is None:
                conv = self._by_name[name] = Conversation(name)
            return conv

    def rename(self, old: str, new: str) -> bool:
        """Move conversation `old` to the name `new` when `new` has none yet; True when moved."""
        with self._lock:
            conv = self._by_name.get(old)
            if conv is None or (new in self._by_name and self._by_name[new].messages):
                return False
            del self._by_name[old]
            conv.name = new
            self._by_name[new] = conv
            return True

    def has(self, name: str) -> bool:
        """Whether chat `name` was used in this kernel (even if reset since)."""
        with self._lock:
            return name in self._by_name

    def names(self) -> list[str]:
        with self._lock:
            return list(self._by_name)

    def reset(self, name: str | None = None) -> None:
        self.get(name).reset()

