"""The kernel ⇄ frontend comm protocol (docs/sidebar-protocol.md), defined once: every message both
ways as a TypedDict, whose docstring says what it is and what each field holds (`field: meaning`).

Three places used to keep the protocol by hand and drifted apart. Now the bridge imports its
constants from here, `validate` checks a message against its definition (the bridge tests run every
message they see through it), and `python -m kimi_lab.protocol --write` generates the sidebar's
TypeScript types (labextension/src/protocol.generated.ts) and the doc's tables from these classes;
tests/test_protocol.py fails when those are stale. The stream events are derived from
kimi_lab.events' dataclasses, which stay the one definition of their fields.

`%load_ext kimi_lab` imports this in a kernel: it needs only typing, dataclasses and the events
module, and keeps descriptions in docstrings (read by the generator) rather than in `Annotated`
types, which cost a typing cache miss per field at import.
"""

from dataclasses import fields
from types import NoneType, UnionType
from typing import Any, Literal, NotRequired, TypedDict, Union, get_args, get_origin, is_typeddict

from . import events as _events

__all__ = [
    "ANSWERS",
    "ASK_OPTIONS",
    "EVENTS",
    "FRONTEND_REQUESTS",
    "KERNEL_MESSAGES",
    "PROTOCOL",
    "REQUESTS",
    "SHAPES",
    "TARGET",
    "FrontendRequest",
    "KernelMessage",
    "StreamEvent",
    "validate",
]

PROTOCOL = 1  # raised when a message changes in a way the other side cannot ignore
TARGET = "kimi_lab"

#: What the fields every message has mean, where a message's docstring does not say more.
COMMON_FIELDS = {
    "type": "what the message is",
    "request_id": "chosen by the frontend, unique per comm; every kernel message about a request echoes it",
}

# ---------------------------------------------------------------------------------------------
# Stream events, derived from kimi_lab.events: each one's TypeScript name and docstring.

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

# ---------------------------------------------------------------------------------------------
# Frontend → kernel.


class HelloRequest(TypedDict):
    """Who are you; reply `hello`.

    protocol: the frontend's protocol; a kernel that speaks another refuses with an `error` saying
        which side to upgrade
    """

    type: Literal["hello"]
    request_id: str
    protocol: NotRequired[int]


class AskRequest(TypedDict):
    """Ask in conversation `chat`: the answer streams as `events`, then one `result`; one `error`
    instead if it cannot start (no provider set up, bad options, the chat busy with another answer).

    chat: the conversation; absent: the kernel's default chat
    prompt: the question (`{name}` in it reads a variable, between cells)
    options: unknown ones are an `error`
    """

    type: Literal["ask"]
    request_id: str
    chat: NotRequired[str]
    prompt: str
    options: NotRequired[AskOptions]


class StopRequest(TypedDict):
    """Stop that answer at the next chunk; the partial answer is kept. Ignored after it finished.

    request_id: the `ask`'s
    """

    type: Literal["stop"]
    request_id: str


class ApproveRequest(TypedDict):
    """Answer an `approval`.

    request_id: the `ask`'s
    call_id: the approval's
    answer: `always` also allows this tool for the rest of the session
    """

    type: Literal["approve"]
    request_id: str
    call_id: str
    answer: ApprovalAnswer


class HistoryRequest(TypedDict):
    """The chat's turns, for a restored view; reply `history`. A chat this kernel has not seen (a
    fresh kernel, after a restart) is first reopened from the transcripts file.

    chat: the conversation; absent: the kernel's default chat
    reopen: reload it from the transcripts file (an `error` while it is answering)
    """

    type: Literal["history"]
    request_id: str
    chat: NotRequired[str]
    reopen: NotRequired[bool]


class ChatsRequest(TypedDict):
    """The conversations in this kernel's memory; reply `chats`."""

    type: Literal["chats"]
    request_id: str


class TranscriptsRequest(TypedDict):
    """The chats that can be reopened: every chat in the transcripts file (any kernel, any day), then
    this kernel's unrecorded ones; reply `transcripts`."""

    type: Literal["transcripts"]
    request_id: str


class ProvidersRequest(TypedDict):
    """The provider presets; reply `providers`."""

    type: Literal["providers"]
    request_id: str


class ModelsRequest(TypedDict):
    """What a provider lists now (`GET /models`, read once per kernel, on a thread); reply `models`.

    provider: a preset name; absent: the kernel's default provider
    """

    type: Literal["models"]
    request_id: str
    provider: NotRequired[str]


class DoctorRequest(TypedDict):
    """`%kimi doctor`'s free checks (key source, endpoint, model), run on a thread; reply `doctor`.

    provider: a preset name; absent: the kernel's default provider
    """

    type: Literal["doctor"]
    request_id: str
    provider: NotRequired[str]


class ExportRequest(TypedDict):
    """The chat as Markdown; reply `export`.

    chat: the conversation; absent: the kernel's default chat
    """

    type: Literal["export"]
    request_id: str
    chat: NotRequired[str]


FRONTEND_REQUESTS: tuple[Any, ...] = (
    HelloRequest, AskRequest, StopRequest, ApproveRequest, HistoryRequest, ChatsRequest, TranscriptsRequest,
    ProvidersRequest, ModelsRequest, DoctorRequest, ExportRequest,
)
FrontendRequest = Union[FRONTEND_REQUESTS]  # type: ignore[valid-type]

# ---------------------------------------------------------------------------------------------
# Kernel → frontend.


class HelloReply(TypedDict):
    """Reply to `hello`.

    protocol: the kernel's protocol; a frontend that knows only a lower one says so and stops
    version: kimi_lab's version
    kernel_id: the id the Jupyter server gave this kernel, or null
    chats: the names of the chats in memory
    provider: the provider a question would use; null when none is set up yet
    model: the model a question would use; null when none is set up yet
    """

    type: Literal["hello"]
    request_id: str
    protocol: int
    version: str
    kernel_id: str | None
    chats: list[str]
    provider: str | None
    model: str | None


class EventsMessage(TypedDict):
    """Stream events of an `ask`, in order. Text deltas are coalesced in the kernel (at most every 50
    to 100 ms, and at every boundary), so there is no per-token traffic.

    request_id: the `ask`'s
    events: each exactly `kimi_lab.events.to_dict(event)`
    """

    type: Literal["events"]
    request_id: str
    events: list[StreamEvent]


class ApprovalMessage(TypedDict):
    """A tool that asks wants to run: show `display` (with `warning` above it), then send `approve`.

    request_id: the `ask`'s
    call_id: the call's id (as in `tool_start`)
    name: the tool
    arguments: the parsed arguments (never shown in place of `display`)
    display: the arguments as every approval prompt shows them, hidden characters made visible
    warning: names each hidden character and where it is, or null
    """

    type: Literal["approval"]
    request_id: str
    call_id: str
    name: str
    arguments: dict[str, Any]
    display: str
    warning: str | None


class ResultMessage(TypedDict):
    """The final answer: always the last message of an `ask` that started.

    request_id: the `ask`'s
    result: the answer
    """

    type: Literal["result"]
    request_id: str
    result: AskResult


class HistoryReply(TypedDict):
    """Reply to `history`. While the chat's answer is still running, this comm follows it from here on.

    chat: the conversation
    turns: its turns, oldest first
    restored: how many turns this request reopened from the transcripts file (0: none)
    """

    type: Literal["history"]
    request_id: str
    chat: str
    turns: list[HistoryTurn]
    restored: int


class ChatsReply(TypedDict):
    """Reply to `chats`.

    chats: the chats in this kernel's memory
    """

    type: Literal["chats"]
    request_id: str
    chats: list[MemoryChat]


class TranscriptsReply(TypedDict):
    """Reply to `transcripts`.

    enabled: transcripts are on (off: only this kernel's chats are listed)
    chats: most recently active first
    """

    type: Literal["transcripts"]
    request_id: str
    enabled: bool
    chats: list[TranscriptChat]


class ProvidersReply(TypedDict):
    """Reply to `providers`.

    providers: the presets, built-in and the user's
    fallback_key_env: the variable whose key serves every preset
    fallback_key_set: that variable is set
    """

    type: Literal["providers"]
    request_id: str
    providers: list[ProviderInfo]
    fallback_key_env: str
    fallback_key_set: bool


class ModelsReply(TypedDict):
    """Reply to `models`.

    provider: the preset that was asked
    models: model ids, Kimi ones first; empty when the list could not be read
    chosen: the model a question would use
    error: why the list could not be read, or ""
    """

    type: Literal["models"]
    request_id: str
    provider: str
    models: list[str]
    chosen: str
    error: str


class DoctorReply(TypedDict):
    """Reply to `doctor`.

    text: aligned lines, ✓ / ✗ / ⚠, with a fix beside every ✗
    markdown: the same as a Markdown table
    ok: everything works
    """

    type: Literal["doctor"]
    request_id: str
    text: str
    markdown: str
    ok: bool


class ExportReply(TypedDict):
    """Reply to `export`: every recorded turn (across kernels) when transcripts are on, else this
    kernel's turns.

    chat: the conversation
    markdown: each prompt, then its answer as the magic shows it
    source: where the turns came from
    turns: how many turns the Markdown holds
    """

    type: Literal["export"]
    request_id: str
    chat: str
    markdown: str
    source: Literal["transcripts", "memory"]
    turns: int


class ErrorReply(TypedDict):
    """A request that could not be served.

    request_id: the request's, or null when it had none
    message: one line: what went wrong and what to do
    """

    type: Literal["error"]
    request_id: str | None
    message: str


KERNEL_MESSAGES: tuple[Any, ...] = (
    HelloReply, EventsMessage, ApprovalMessage, ResultMessage, HistoryReply, ChatsReply, TranscriptsReply,
    ProvidersReply, ModelsReply, DoctorReply, ExportReply, ErrorReply,
)
KernelMessage = Union[KERNEL_MESSAGES]  # type: ignore[valid-type]


def _tag(td: Any) -> str:
    return str(get_args(td.__annotations__["type"])[0])


ASK_OPTIONS = frozenset(AskOptions.__annotations__)
ANSWERS = frozenset(get_args(ApprovalAnswer))
REQUESTS = tuple(_tag(td) for td in FRONTEND_REQUESTS)
_BY_SENDER: dict[str, dict[str, Any]] = {
    "kernel": {_tag(td): td for td in KERNEL_MESSAGES},
    "frontend": {_tag(td): td for td in FRONTEND_REQUESTS},
}

# ---------------------------------------------------------------------------------------------
# Validation.


def validate(message: Any, sender: Literal["kernel", "frontend"] = "kernel") -> list[str]:
    """The problems of one message from `sender` against its definition: missing keys, wrong types,
    an unknown `type`. Keys it does not define are a problem from the kernel, which must send only
    what is defined; from a frontend only in `options` (the kernel refuses unknown options and
    ignores other keys, so a newer frontend can still talk to an older kernel)."""
    if not isinstance(message, dict):
        return [f"a message is a JSON object, not {type(message).__name__}"]
    kind = message.get("type")
    schema = _BY_SENDER[sender].get(kind) if isinstance(kind, str) else None
    if schema is None:
        known = ", ".join(_BY_SENDER[sender])
        return [f"unknown {sender} message type {kind!r} (known: {known})"]
    problems: list[str] = []
    _check(message, schema, _tag(schema), sender == "kernel", problems)
    return problems


def _check(value: Any, tp: Any, path: str, closed: bool, out: list[str]) -> None:
    """Append the problems of `value` against type `tp` to `out`; `path` names it in them."""
    origin = get_origin(tp)
    if origin is NotRequired:
        _check(value, get_args(tp)[0], path, closed, out)
    elif tp is Any:
        pass
    elif is_typeddict(tp):
        _check_dict(value, tp, path, closed, out)
    elif origin is Union or origin is UnionType:
        _check_union(value, tp, path, closed, out)
    elif origin is Literal:
        if not any(value == v and type(value) is type(v) for v in get_args(tp)):
            out.append(f"{path}: {value!r} is not one of {', '.join(map(repr, get_args(tp)))}")
    elif origin is list:
        if not isinstance(value, list):
            out.append(f"{path}: expected a list, got {_show(value)}")
            return
        for i, item in enumerate(value):
            _check(item, get_args(tp)[0], f"{path}[{i}]", closed, out)
    elif origin is dict:
        if not isinstance(value, dict):
            out.append(f"{path}: expected an object, got {_show(value)}")
            return
        for key, item in value.items():
            if not isinstance(key, str):
                out.append(f"{path}: key {key!r} is not a string")
            _check(item, get_args(tp)[1], f"{path}.{key}", closed, out)
    elif not _is(value, tp):
        out.append(f"{path}: expected {_name(tp)}, got {_show(value)}")


def _check_dict(value: Any, td: Any, path: str, closed: bool, out: list[str]) -> None:
    if not isinstance(value, dict):
        out.append(f"{path}: expected {td.__name__} (an object), got {_show(value)}")
        return
    out.extend(f"{path}: missing {key!r}" for key in td.__annotations__
               if key in td.__required_keys__ and key not in value)
    if closed or td is AskOptions:  # the kernel refuses unknown options
        out.extend(f"{path}: unexpected key {key!r}" for key in value if key not in td.__annotations__)
    for key, item in value.items():
        if key in td.__annotations__:
            _check(item, td.__annotations__[key], f"{path}.{key}", closed, out)


def _check_union(value: Any, tp: Any, path: str, closed: bool, out: list[str]) -> None:
    """Fine when one alternative fits; else the problems inside the object it most likely meant (the one
    its `type` names, or the only one that is not null), or that it fits none."""
    alternatives = get_args(tp)
    for alt in alternatives:
        problems: list[str] = []
        _check(value, alt, path, closed, problems)
        if not problems:
            return
    likely = [alt for alt in alternatives if alt is not NoneType]
    if isinstance(value, dict):
        likely = [alt for alt in likely if _tag_of(alt) == value.get("type")] or likely
    if value is not None and len(likely) == 1 and (is_typeddict(likely[0]) or get_origin(likely[0]) in (list, dict)):
        _check(value, likely[0], path, closed, out)
    else:
        out.append(f"{path}: expected {_name(tp)}, got {_show(value)}")


def _tag_of(tp: Any) -> str | None:
    return _tag(tp) if is_typeddict(tp) and "type" in tp.__annotations__ else None


def _is(value: Any, tp: Any) -> bool:
    if tp is NoneType or tp is None:
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)  # JSON has one number type
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp in (str, bool):
        return isinstance(value, tp)
    raise TypeError(f"the protocol uses a type validate does not know: {tp!r}")


def _name(tp: Any) -> str:
    if get_origin(tp) in (Union, UnionType):
        return " | ".join(_name(t) for t in get_args(tp))
    return "null" if tp is NoneType else getattr(tp, "__name__", repr(tp))


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:39] + '…'}"


if __name__ == "__main__":
    from ._protocol_gen import main

    raise SystemExit(main())
