"""Chats recorded in the transcripts file, brought back into this kernel's memory.

Used by `%kimi reopen` and by the sidebar, which reopens its chat after a kernel restart. A
reopened turn becomes a `Result` rebuilt from its recorded events (reasoning, tool calls with
their status, answer, usage), so `%kimi history`, the sidebar and the panel show it like a
turn of this kernel, and the conversation goes on from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import events as ev
from .conversation import Conversation, Message, conversations
from .events import TokenUsage
from .result import Result, Step, ToolCall
from .store import arguments_of

if TYPE_CHECKING:
    from .store import TranscriptStore, TurnRecord

__all__ = ["INTERRUPTED", "open_store", "reopen", "result_of"]

INTERRUPTED = "interrupted: the kernel stopped before this answer finished; what was streamed is kept"


def result_of(record: TurnRecord) -> Result:
    """The turn as its Result: the timeline replayed from the events, totals from the summary."""
    steps: list[Step] = []
    content, reasoning, usage, error, upstream = "", "", TokenUsage(), None, ""
    tools: dict[str, Step] = {}
    for event in record.events:
        if isinstance(event, ev.ReasoningDelta):
            reasoning += event.text
            if steps and steps[-1].kind == "reasoning":
                steps[-1].text += event.text
            else:
                steps.append(Step("reasoning", event.text))
        elif isinstance(event, ev.ContentDelta):
            content += event.text
        elif isinstance(event, ev.ToolStart):
            if content.strip():
                steps.append(Step("note", content))
            content = ""
            call = ToolCall(event.name, arguments_of(event.arguments), id=event.id)
            step = tools[event.id] = Step("tool", call=call, status="interrupted")
            steps.append(step)
        elif isinstance(event, ev.ToolEnd) and event.id in tools:
            step = tools[event.id]
            step.status, step.preview = event.status, event.preview
            assert step.call is not None
            step.call.duration = event.duration
            if event.status != "ok":
                step.call.error = event.preview
        elif isinstance(event, ev.UsageEvent):
            usage = usage + event.usage
            upstream = event.upstream or upstream
        elif isinstance(event, ev.ErrorEvent):
            error = event.message
    summary = record.summary or {}
    interrupted = record.ended is None  # a tool that never ended stays "interrupted"
    return Result(
        content=summary.get("content", content) if summary else content,
        reasoning=summary.get("reasoning") or reasoning,
        usage=TokenUsage(**summary["usage"]) if summary.get("usage") else usage,
        cost=summary.get("cost"),
        model=record.model, provider=record.provider, upstream=upstream,
        finish_reason="interrupted" if interrupted else summary.get("finish_reason"),
        chat=record.chat, prompt=record.prompt,
        elapsed=float(summary.get("elapsed") or ((record.ended or record.started) - record.started)),
        error=INTERRUPTED if interrupted else (summary.get("error") or error),
        tool_calls=[s.call for s in tools.values() if s.call is not None],
        steps=steps,
    )


def open_store() -> TranscriptStore | None:
    """The session's transcripts file with everything recorded so far written (waited for with a
    bound: the writer thread opens the file), or None when off."""
    from .transcripts import recorder

    rec = recorder()
    if rec is None:
        return None
    rec.flush()
    return rec.store


def reopen(name: str | None, store: TranscriptStore | None = None) -> tuple[Conversation, int]:
    """Replace this kernel's memory of chat `name` with its recorded turns; (conversation, turns).

    Nothing is lost: the transcripts file is only read, and a chat with no recorded turns is left
    as it is."""
    store = store or open_store()
    conv = conversations.get(name)
    records = store.turns(conv.name) if store is not None else []
    if not records:
        return conv, 0
    with conv.lock:
        conv.messages.clear()
        conv.results.clear()
        conv.usage, conv.cost = TokenUsage(), 0.0
        for record in records:
            result = result_of(record)
            conv.messages.append(Message("user", record.prompt))
            # its reasoning too: K2.7-code and K3 want it back on every earlier assistant message
            conv.messages.append(
                Message("assistant", result.content, reasoning=result.reasoning, partial=record.interrupted)
            )
            conv.record(result)
    return conv, len(records)
