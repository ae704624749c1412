"""Chats recorded in the transcripts file, brought back into this kernel's memory.

Used by `%kimi reopen` and by the sidebar, which reopens its chat after a kernel restart. A
reopened turn becomes a `Result` rebuilt from its recorded events (reasoning, tool calls with
their status, answer, usage), so `%kimi history`, the sidebar and the panel show it like a
turn of this kernel, and the conversation goes on from it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kimi_lab.common.events import TokenUsage
from kimi_lab.common.result import Result
from kimi_lab.core.conversation import Conversation, Message
from kimi_lab.core.session import session
from kimi_lab.core.timeline import INTERRUPTED, Timeline

if TYPE_CHECKING:
    from kimi_lab.store.sqlite import TranscriptStore, TurnRecord

__all__ = ["INTERRUPTED", "open_store", "reopen", "result_of"]


def result_of(record: TurnRecord) -> Result:
    """The turn as its Result: the timeline folded from its events, totals from the summary."""
    timeline = Timeline.of(record.events)
    timeline.end()  # a tool that never ended stays "interrupted"
    summary = record.summary or {}
    interrupted = record.ended is None
    return Result(
        content=summary.get("content", timeline.answer) if summary else timeline.answer,
        reasoning=summary.get("reasoning") or timeline.reasoning,
        usage=TokenUsage(**summary["usage"]) if summary.get("usage") else timeline.usage,
        cost=summary.get("cost"),
        model=record.model, provider=record.provider, upstream=timeline.upstream,
        finish_reason="interrupted" if interrupted else summary.get("finish_reason", timeline.finish_reason),
        chat=record.chat, prompt=record.prompt,
        elapsed=float(summary.get("elapsed") or ((record.ended or record.started) - record.started)),
        warnings=[s.message for s in timeline.statuses if s.level == "warning"],
        error=INTERRUPTED if interrupted else (summary.get("error") or timeline.error),
        tool_calls=[s.call for s in timeline.tools if s.call is not None],
        steps=timeline.steps,
    )


def open_store() -> TranscriptStore | None:
    """The session's transcripts file with everything recorded so far written (waited for with a
    bound: the writer thread opens the file), or None when off."""
    from kimi_lab.store.recorder import recorder

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
    conv = session().conversations.get(name)
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
