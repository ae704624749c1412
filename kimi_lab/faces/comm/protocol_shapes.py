"""What the comm protocol's messages carry: the stream events (derived from kimi_lab.common.events'
dataclasses, which stay the one definition of their fields) and the shapes nested in messages. Part of
the one definition in kimi_lab.faces.comm.protocol; the generator reads each class's docstring."""

from dataclasses import fields
from typing import Any, Literal, NotRequired, TypedDict, Union, get_args

from kimi_lab.common import events as _events

__all__ = [
    "EVENTS", "SHAPES", "ApprovalAnswer", "AskOptions", "AskResult", "HistoryTurn", "MemoryChat", "ProviderInfo",
    "ProviderPrice", "ResultToolCall", "StreamEvent", "TokenUsage", "TranscriptChat",
]

# ---------------------------------------------------------------------------------------------
# Stream events, derived from kimi_lab.common.events: each one's TypeScript name and docstring.

_EVENT_DOCS: dict[str, tuple[str, str]] = {
    "reasoning": ("ReasoningEvent", """Reasoning text.

        text: the text, to append
        details: OpenRouter's raw `reasoning_details` items (echoed back to it), or null"""),
    "content": ("ContentEvent", """Answer text.

        text: the text, to append"""),
    "tool_call_delta": ("ToolCallDeltaEvent", """A fragment of a tool call still being streamed.

        index: which call of the round it belongs to (fragments are joined by index)
        id: the call's id, once known, else null
        name: the tool's name, once known, else null
        arguments: a piece of the arguments' JSON text"""),
    "tool_start": ("ToolStartEvent", """A complete tool call, about to run (or to be asked about).

        id: the call's id
        name: the tool
        arguments: the arguments as the model sent them (JSON text)"""),
    "tool_end": ("ToolEndEvent", """What came of a tool call.

        id: the call's id
        name: the tool
        status: `ok`, `error`, `denied` or `timeout`
        preview: a short text form of the result
        duration: seconds it ran"""),
    "usage": ("UsageStreamEvent", """The token counts of one model request.

        usage: the counts
        upstream: the host that answered behind a router (OpenRouter's `provider`), or \"\""""),
    "status": ("StatusEvent", """Something to show that is not part of the answer (a retry, a warning).

        message: one line
        level: `info` or `warning`"""),
    "done": ("DoneEvent", """The model finished.

        finish_reason: why, as the provider says (`stop`, `length`, …), or null"""),
    "error": ("ErrorStreamEvent", """The answer failed; a `result` with the partial answer follows.

        message: one line, what to do
        kind: the error's category"""),
}

_USAGE_DOC = """Token counts of a request (or a sum of requests).

    prompt: prompt tokens
    completion: completion tokens (reasoning included)
    cached: prompt tokens read from the provider's cache
    reasoning: reasoning tokens"""


def _from_dataclass(cls: Any, name: str, doc: str, tag: str | None = None) -> Any:
    """A TypedDict of `cls`'s fields, each required (`events.to_dict` writes every one); `tag` adds
    the `type` key. The field types are read from the dataclass (strings: events.py postpones them)."""
    body: dict[str, Any] = {"type": Literal[tag]} if tag else {}
    for f in fields(cls):
        if f.type not in _TYPES:
            _TYPES[f.type] = eval(f.type, {**vars(_events), **_WIRE})
        body[f.name] = _TYPES[f.type]
    td = TypedDict(name, body)  # type: ignore[operator]  # built at run time: no static type
    td.__doc__, td.__module__ = doc, __name__
    return td


_TYPES: dict[str, Any] = {}  # each distinct field type of the dataclasses, evaluated once
_WIRE: dict[str, Any] = {}  # what a dataclass carried in an event is on the wire: its TypedDict
TokenUsage = _WIRE["TokenUsage"] = _from_dataclass(_events.TokenUsage, "TokenUsage", _USAGE_DOC)
EVENTS: tuple[Any, ...] = tuple(
    _from_dataclass(cls, *_EVENT_DOCS[cls.type], tag=cls.type) for cls in get_args(_events.Event)
)
StreamEvent = Union[EVENTS]  # type: ignore[valid-type]

# ---------------------------------------------------------------------------------------------
# What the messages carry.


class ResultToolCall(TypedDict):
    """One tool call of the answer.

    id: the call's id (as in `tool_start`)
    name: the tool
    arguments: the arguments, parsed
    error: why it failed, or null
    duration: seconds it ran
    """

    id: str
    name: str
    arguments: Any
    error: str | None
    duration: float


class AskResult(TypedDict):
    """The final answer of an `ask`, as `kimi_lab.ask` returns it.

    content: the answer
    reasoning: the reasoning
    markdown: the answer as the magic shows it
    usage: tokens over all rounds
    cost: US dollars, or null when the price is unknown
    model: the model that answered
    provider: the provider preset
    finish_reason: why the model stopped (`stop`, `length`, `interrupted`, …), or null
    tool_calls: the tool calls, in order
    elapsed: seconds from question to answer
    ttft: seconds to the first visible token, or null
    chat: the conversation
    prompt: the question
    warnings: notes about the answer (a cut-off, a dropped option)
    error: why the answer failed, or null
    """

    content: str
    reasoning: str
    markdown: str
    usage: TokenUsage
    cost: float | None
    model: str
    provider: str
    finish_reason: str | None
    tool_calls: list[ResultToolCall]
    elapsed: float
    ttft: float | None
    chat: str
    prompt: str
    warnings: list[str]
    error: str | None


class HistoryTurn(TypedDict):
    """One turn of a `history` reply.

    prompt: the question
    events: the stream events that redraw it
    result: its result, or null while it is still answering
    request_id: only on an unfinished turn: the `request_id` of its `ask`
    """

    prompt: str
    events: list[StreamEvent]
    result: AskResult | None
    request_id: NotRequired[str]


class TranscriptChat(TypedDict):
    """A chat that can be reopened.

    name: the chat's name
    turns: how many turns it has
    last_activity: epoch seconds of its last activity; 0 when it is only in memory
    tokens: prompt and completion tokens over its turns
    cost: US dollars, or null when unknown
    loaded: in this kernel's memory (else picking it reopens it from the transcripts file)
    busy: an answer is running in it
    """

    name: str
    turns: int
    last_activity: float
    tokens: int
    cost: float | None
    loaded: bool
    busy: bool


class MemoryChat(TypedDict):
    """A chat in this kernel's memory.

    name: the chat's name
    turns: how many turns it has
    busy: an answer is running in it
    """

    name: str
    turns: int
    busy: bool


class ProviderPrice(TypedDict):
    """US dollars per million tokens.

    input: prompt tokens
    output: completion tokens
    cache_read: prompt tokens read from the cache
    """

    input: float
    output: float
    cache_read: float


class ProviderInfo(TypedDict):
    """A provider preset (never its key).

    name: the preset's name
    base_url: its endpoint with any password masked, or null when it has none of its own
    model: its default model
    dialect: how it streams reasoning
    key_env: the variable its key is read from, or null
    key_set: that variable is set (the fallback variable may still serve it)
    needs_key: it cannot answer without a key (false for `custom` and `local`)
    price: its price, or null when unknown
    context: its context window, in tokens
    max_output: the most tokens it answers with
    """

    name: str
    base_url: str | None
    model: str
    dialect: str
    key_env: str | None
    key_set: bool
    needs_key: bool
    price: ProviderPrice | None
    context: int
    max_output: int


class AskOptions(TypedDict, total=False):
    """The options of an `ask`, with `kimi_lab.ask`'s names and meanings. No `base_url`: a frontend
    must not be able to send the kernel's API key to a URL of its choosing.

    provider: a preset name
    model: a model id
    tools: which tools: `auto`, `data`, `none`, `+code`, or names
    max_tokens: the most tokens to answer with
    temperature: sampling temperature
    top_p: nucleus sampling
    reasoning: show the reasoning
    system: a system prompt
    new: start the conversation afresh
    seed: sampling seed
    max_rounds: the most tool rounds
    """

    provider: str
    model: str
    tools: str
    max_tokens: int
    temperature: float
    top_p: float
    reasoning: bool
    system: str
    new: bool
    seed: int
    max_rounds: int


SHAPES: tuple[Any, ...] = (
    TokenUsage, ResultToolCall, AskResult, HistoryTurn, TranscriptChat, MemoryChat, ProviderPrice, ProviderInfo,
    AskOptions,
)
ApprovalAnswer = Literal["yes", "no", "always"]
