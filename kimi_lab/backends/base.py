"""What every backend takes and gives."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Protocol

from kimi_lab.common.events import Event

if TYPE_CHECKING:
    from kimi_lab.settings.models import ModelRule

__all__ = ["Backend", "ChatRequest"]


@dataclass
class ChatRequest:
    messages: list[dict[str, Any]]
    model: str
    max_tokens: int
    temperature: float | None = 1.0
    top_p: float | None = None
    seed: int | None = None
    stop: list[str] | None = None
    json_mode: bool = False
    #: Sent as is when set (a typed answer's `json_schema`), in place of json_mode's `json_object`.
    response_format: dict[str, Any] | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | None = None  # "none" on the last round the tool loop allows
    effort: str | None = None  # low | high | max, mapped to the model's own control by its rule
    rule: ModelRule | None = None  # the model's request rule (kimi_lab.settings.models); None: the id's default row
    route: list[str] | None = None  # OpenRouter: upstream providers to try, in order
    #: Set from another thread (a Stop button) to end the stream at the next chunk.
    cancel: threading.Event = field(default_factory=threading.Event)


class Backend(Protocol):
    def stream(self, request: ChatRequest) -> Iterator[Event]:
        """Yield events until Done; raise a KimiError on failure. Closing the iterator
        (or an exception thrown into it) must release the connection."""
        ...
