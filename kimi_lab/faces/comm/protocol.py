"""The kernel ⇄ frontend comm protocol (docs/sidebar-protocol.md), defined once: every message both
ways as a TypedDict, whose docstring says what it is and what each field holds (`field: meaning`).

Three places used to keep the protocol by hand and drifted apart. Now the bridge imports its
constants from here, `validate` checks a message against its definition (the bridge tests run every
message they see through it), and `python -m kimi_lab.faces.comm.protocol --write` generates the sidebar's
TypeScript types (labextension/src/protocol.generated.ts) and the doc's tables from these classes;
tests/test_protocol.py fails when those are stale. The stream events are derived from
kimi_lab.common.events' dataclasses, which stay the one definition of their fields.

`%load_ext kimi_lab` imports this in a kernel: it needs only typing, dataclasses and the events
module, and keeps descriptions in docstrings (read by the generator) rather than in `Annotated`
types, which cost a typing cache miss per field at import.
"""

from typing import Any, Literal, NotRequired, TypedDict, Union, get_args

from kimi_lab.faces.comm.protocol_shapes import (
    EVENTS,
    SHAPES,
    ApprovalAnswer,
    AskOptions,
    AskResult,
    HistoryTurn,
    MemoryChat,
    ProviderInfo,
    StreamEvent,
    TokenUsage,
    TranscriptChat,
)

__all__ = [
    "ANSWERS", "ASK_OPTIONS", "BY_SENDER", "EVENTS", "FRONTEND_REQUESTS", "KERNEL_MESSAGES", "PROTOCOL", "REQUESTS",
    "SHAPES", "TARGET", "ApprovalMessage", "ApproveRequest", "AskRequest", "ChatsReply", "ChatsRequest",
    "DoctorReply", "DoctorRequest", "ErrorReply", "EventsMessage", "ExportReply", "ExportRequest", "FrontendRequest",
    "HelloReply", "HelloRequest", "HistoryReply", "HistoryRequest", "KernelMessage", "ModelsReply", "ModelsRequest",
    "ProvidersReply", "ProvidersRequest", "ResultMessage", "StopRequest", "StreamEvent", "TokenUsage",
    "TranscriptsReply", "TranscriptsRequest", "tag"
]

PROTOCOL = 1  # raised when a message changes in a way the other side cannot ignore
TARGET = "kimi_lab"

#: What the fields every message has mean, where a message's docstring does not say more.
COMMON_FIELDS = {
    "type": "what the message is",
    "request_id": "chosen by the frontend, unique per comm; every kernel message about a request echoes it",
}

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
    events: each exactly `kimi_lab.common.events.to_dict(event)`
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


def tag(td: Any) -> str:
    """A message class's `type`."""
    return str(get_args(td.__annotations__["type"])[0])


ASK_OPTIONS = frozenset(AskOptions.__annotations__)
ANSWERS = frozenset(get_args(ApprovalAnswer))
REQUESTS = tuple(tag(td) for td in FRONTEND_REQUESTS)
BY_SENDER: dict[str, dict[str, Any]] = {
    "kernel": {tag(td): td for td in KERNEL_MESSAGES},
    "frontend": {tag(td): td for td in FRONTEND_REQUESTS},
}


if __name__ == "__main__":
    from kimi_lab.faces.comm.protocol_gen import main

    raise SystemExit(main())
