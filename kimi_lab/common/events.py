"""The one stream of typed events that every backend produces and every face consumes.

Events are small slotted dataclasses that turn into plain JSON dicts (`to_dict`) and back
(`event_from_dict`): the sidebar protocol and the transcript store carry exactly these.
They are treated as immutable but not frozen: a frozen dataclass's `__init__` sets each field
through `object.__setattr__`, which costs more than parsing a token-sized chunk on the hot path.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Iterable, Iterator, TypeVar, Union

__all__ = [
    "ContentDelta", "Done", "ErrorEvent", "Event", "ReasoningDelta", "Status", "TokenUsage", "ToolCallDelta",
    "ToolEnd", "ToolStart", "UsageEvent", "coalesce", "event_from_dict", "join_text", "to_dict"
]


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token counts of one request (or a sum of requests)."""

    prompt: int = 0
    completion: int = 0
    cached: int = 0
    reasoning: int = 0

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.prompt + other.prompt,
            self.completion + other.completion,
            self.cached + other.cached,
            self.reasoning + other.reasoning,
        )

    @property
    def total(self) -> int:
        return self.prompt + self.completion


@dataclass(slots=True)
class ReasoningDelta:
    """Reasoning text; `details` carries OpenRouter's raw `reasoning_details` items to echo back."""

    type: ClassVar[str] = "reasoning"
    text: str
    details: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class ContentDelta:
    type: ClassVar[str] = "content"
    text: str


@dataclass(slots=True)
class ToolCallDelta:
    """A fragment of a streamed tool call; fragments are accumulated by `index`."""

    type: ClassVar[str] = "tool_call_delta"
    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class ToolStart:
    """A complete tool call, about to run (or to be asked about)."""

    type: ClassVar[str] = "tool_start"
    id: str
    name: str
    arguments: str


@dataclass(slots=True)
class ToolEnd:
    """What came of a tool call; `preview` is a short text form of the result."""

    type: ClassVar[str] = "tool_end"
    id: str
    name: str
    status: str  # "ok" | "error" | "denied" | "timeout"
    preview: str = ""
    duration: float = 0.0


@dataclass(slots=True)
class UsageEvent:
    type: ClassVar[str] = "usage"
    usage: TokenUsage = field(default_factory=TokenUsage)
    upstream: str = ""  # the host that answered behind a router (OpenRouter's `provider`), when it says


@dataclass(slots=True)
class Status:
    """Something the user should see that is not part of the answer (a retry, a warning)."""

    type: ClassVar[str] = "status"
    message: str
    level: str = "info"  # "info" | "warning"


@dataclass(slots=True)
class Done:
    type: ClassVar[str] = "done"
    finish_reason: str | None = None


@dataclass(slots=True)
class ErrorEvent:
    type: ClassVar[str] = "error"
    message: str
    kind: str = "error"


Event = Union[
    ReasoningDelta, ContentDelta, ToolCallDelta, ToolStart, ToolEnd, UsageEvent, Status, Done, ErrorEvent
]

_BY_TYPE: dict[str, type] = {
    cls.type: cls
    for cls in (
        ReasoningDelta, ContentDelta, ToolCallDelta, ToolStart, ToolEnd, UsageEvent, Status, Done, ErrorEvent
    )
}


_FIELDS: dict[type, tuple[str, ...]] = {cls: tuple(f.name for f in fields(cls)) for cls in _BY_TYPE.values()}


def to_dict(event: Event) -> dict[str, Any]:
    """The one JSON form of an event: its fields plus a `type` tag (the comm protocol, the transcripts
    file and the tests all use it). Shallow, without `asdict`'s deep copy: this runs once per token."""
    cls = type(event)
    if cls is ContentDelta:
        return {"type": "content", "text": event.text}  # type: ignore[union-attr]
    data = {name: getattr(event, name) for name in _FIELDS[cls]}
    data["type"] = event.type
    if cls is UsageEvent:
        data["usage"] = asdict(data["usage"])
    return data


K = TypeVar("K")


def _plain_text(event: Any) -> bool:
    cls = type(event)
    return cls is ContentDelta or (cls is ReasoningDelta and not event.details)


def coalesce(items: Iterable[tuple[K, Any]]) -> Iterator[tuple[K, Any]]:
    """`(key, event)` pairs with each run of text deltas of one kind under one key joined into one
    delta; anything else (other events, reasoning carrying `details`, non-events) passes in order.
    Joined once per run: joining at every token made a long answer quadratic."""
    run: list[str] = []
    kind: Any = None
    key: Any = None
    for k, event in items:
        if _plain_text(event):
            if type(event) is kind and k == key:
                run.append(event.text)
                continue
            if run:
                yield key, kind("".join(run))
            run, kind, key = [event.text], type(event), k
            continue
        if run:
            yield key, kind("".join(run))
            run, kind = [], None
        yield k, event
    if run:
        yield key, kind("".join(run))


def join_text(events: Iterable[Event]) -> list[Event]:
    """`coalesce` for the events of one turn."""
    return [event for _, event in coalesce((None, e) for e in events)]


def event_from_dict(data: dict[str, Any]) -> Event:
    """Inverse of `to_dict`; raises ValueError for an unknown type."""
    cls = _BY_TYPE.get(data.get("type", ""))
    if cls is None:
        raise ValueError(f"unknown event type {data.get('type')!r}")
    kwargs = {f.name: data[f.name] for f in fields(cls) if f.name in data}
    if cls is UsageEvent and isinstance(kwargs.get("usage"), dict):
        kwargs["usage"] = TokenUsage(**kwargs["usage"])
    return cls(**kwargs)
