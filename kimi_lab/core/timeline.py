"""The one fold of a turn's events into what every face shows: reasoning segments, the model's
remarks between tool rounds (notes), tool cards, and the answer so far.

The turn, the reopen path, the chat panel and the Markdown export all read a `Timeline`; the
sidebar's reducer (labextension/src/reducer.ts) ports the same rules, and both run the event
streams of tests/fixtures/timelines.json, so the faces cannot tell a turn differently again.

The rules, in order of the events:
- reasoning text joins the last step when that is reasoning, else starts a segment;
- answer text accumulates; when a tool call begins (its first streamed fragment, or its start),
  the text so far was a remark between rounds: it becomes a note (whitespace alone is dropped);
- a streamed tool call is a "preparing" card until its `tool_start`, which replaces the card
  with the same id, else the oldest preparing card, else is appended, as "running";
- `tool_end` finishes the card with its id (a card is appended if none started);
- usage adds up over rounds; the last round's finish reason, statuses and the error are kept.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from kimi_lab.common.events import (
    ContentDelta,
    Done,
    ErrorEvent,
    Event,
    ReasoningDelta,
    Status,
    TokenUsage,
    ToolCallDelta,
    ToolEnd,
    ToolStart,
    UsageEvent,
)
from kimi_lab.common.result import Step, ToolCall
from kimi_lab.tools.arguments import ArgumentsError, parse_arguments

if TYPE_CHECKING:
    from kimi_lab.common.result import Result

__all__ = ["INTERRUPTED", "Timeline", "events_of", "shown_arguments"]

#: What a turn cut off by a dead kernel says, wherever it is shown again.
INTERRUPTED = "interrupted: the kernel stopped before this answer finished; what was streamed is kept"
PREPARING = "preparing"


def shown_arguments(raw: str) -> Any:
    """A call's arguments for its card, parsed exactly as the tool runner will parse them (repairs
    included) so the card shows the code that would run; text that is no JSON object stays text."""
    try:
        return parse_arguments(raw)[0]
    except (ArgumentsError, RecursionError):
        return raw


class Timeline:
    """A turn as the faces show it, built by `apply`-ing its events in order."""

    __slots__ = ("_answer", "error", "finish_reason", "statuses", "steps", "upstream", "usage")

    def __init__(self) -> None:
        self.steps: list[Step] = []
        self._answer: list[str] = []  # pieces: joining at every token made a long answer quadratic
        self.usage = TokenUsage()
        self.upstream = ""
        self.statuses: list[Status] = []
        self.error: str | None = None
        self.finish_reason: str | None = None

    @classmethod
    def of(cls, events: list[Event]) -> Timeline:
        timeline = cls()
        for event in events:
            timeline.apply(event)
        return timeline

    # -- reading --------------------------------------------------------------------------

    @property
    def answer(self) -> str:
        """The answer text since the last tool call."""
        if len(self._answer) > 1:
            self._answer[:] = ["".join(self._answer)]
        return self._answer[0] if self._answer else ""

    @property
    def answering(self) -> bool:
        return bool(self._answer)

    @property
    def reasoning(self) -> str:
        """Every reasoning segment, in order, a blank line between segments."""
        return "\n\n".join(s.text for s in self.steps if s.kind == "reasoning" and s.text)

    @property
    def tools(self) -> list[Step]:
        """The tool cards that started (a card still only streamed never ran)."""
        return [s for s in self.steps if s.kind == "tool" and s.status != PREPARING]

    def card(self, call_id: str) -> Step | None:
        """The tool card of call `call_id` (the latest, should a model reuse an id)."""
        for step in reversed(self.steps):
            if step.kind == "tool" and step.call is not None and step.call.id == call_id:
                return step
        return None

    def end(self) -> None:
        """The turn is over: cards that never started go, running ones were interrupted, and a remark
        that no started tool followed (calls that were refused or cut off) is the answer after all."""
        steps = []
        for step in self.steps:
            if step.kind == "tool" and step.status == PREPARING:
                continue
            if step.status in ("running", "asking"):
                step.status = "interrupted"
            steps.append(step)
        if steps and steps[-1].kind == "note" and not self._answer:
            self._answer.append(steps.pop().text)
        self.steps[:] = steps

    # -- the fold -------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        kind = type(event)
        if kind is ContentDelta:
            if event.text:  # type: ignore[union-attr]
                self._answer.append(event.text)  # type: ignore[union-attr]
        elif kind is ReasoningDelta:
            self._reason(event.text)  # type: ignore[union-attr]
        elif kind is ToolCallDelta:
            self._delta(event)  # type: ignore[arg-type]
        elif kind is ToolStart:
            self._start(event)  # type: ignore[arg-type]
        elif kind is ToolEnd:
            self._end(event)  # type: ignore[arg-type]
        elif kind is UsageEvent:
            self.usage = self.usage + event.usage  # type: ignore[union-attr]
            self.upstream = event.upstream or self.upstream  # type: ignore[union-attr]
        elif kind is Status:
            self.statuses.append(event)  # type: ignore[arg-type]
        elif kind is Done:
            self.finish_reason = event.finish_reason  # type: ignore[union-attr]
        elif kind is ErrorEvent:
            self.error = event.message  # type: ignore[union-attr]

    def _reason(self, text: str) -> None:
        if not text:
            return
        last = self.steps[-1] if self.steps else None
        if last is not None and last.kind == "reasoning":
            last.text += text
        else:
            self.steps.append(Step("reasoning", text))

    def _remark_ends(self) -> None:
        """A tool call begins: the answer text so far was a remark between rounds."""
        if self._answer:
            text = self.answer
            self._answer.clear()
            if text.strip():
                self.steps.append(Step("note", text))

    def _delta(self, event: ToolCallDelta) -> None:
        self._remark_ends()
        for step in reversed(self.steps):
            if step.kind == "tool" and step.status == PREPARING and step.index == event.index:
                assert step.call is not None
                step.call.id = step.call.id or event.id or ""
                step.call.name = step.call.name or event.name or ""
                step.arguments += event.arguments or ""
                return
        call = ToolCall(event.name or "", None, event.id or "")
        self.steps.append(Step("tool", call=call, status=PREPARING, arguments=event.arguments or "",
                               index=event.index))

    def _start(self, event: ToolStart) -> None:
        self._remark_ends()
        card = Step("tool", call=ToolCall(event.name, shown_arguments(event.arguments), event.id), status="running",
                    arguments=event.arguments)
        preparing = [i for i, s in enumerate(self.steps) if s.kind == "tool" and s.status == PREPARING]
        at = next((i for i in preparing if self.steps[i].call.id == event.id), None)  # type: ignore[union-attr]
        if at is None and preparing:
            at = preparing[0]
        if at is None:
            self.steps.append(card)
        else:
            self.steps[at] = card

    def _end(self, event: ToolEnd) -> None:
        step = self.card(event.id)
        if step is None or step.call is None:
            step = Step("tool", call=ToolCall(event.name, None, event.id))
            self.steps.append(step)
        assert step.call is not None
        step.status, step.preview = event.status, event.preview
        step.call.duration = event.duration
        if event.status != "ok":
            step.call.error = step.call.error or event.preview

    # -- the shared fixture's form --------------------------------------------------------

    def normal_form(self) -> dict[str, Any]:
        """The timeline as plain JSON (tests/fixtures/timelines.json's `expected`)."""
        steps: list[dict[str, Any]] = []
        for s in self.steps:
            if s.kind != "tool" or s.call is None:
                steps.append({"kind": s.kind, "text": s.text})
            else:
                steps.append({"kind": "tool", "id": s.call.id, "name": s.call.name, "arguments": s.arguments,
                              "status": s.status, "preview": s.preview, "duration": s.call.duration})
        u = self.usage
        return {
            "steps": steps, "answer": self.answer,
            "usage": {"prompt": u.prompt, "completion": u.completion, "cached": u.cached, "reasoning": u.reasoning},
            "upstream": self.upstream, "statuses": [{"message": s.message, "level": s.level} for s in self.statuses],
            "error": self.error, "finish_reason": self.finish_reason,
        }


def events_of(result: Result) -> list[Event]:
    """A finished turn as the events that fold back into its timeline (a turn the sidebar did not
    see stream: history, reopened chats). A note is answer text that a tool call follows."""
    out: list[Event] = []
    for step in result.steps:
        call = step.call
        if step.kind == "reasoning" and step.text:
            out.append(ReasoningDelta(step.text))
        elif step.kind == "note" and step.text:
            out.append(ContentDelta(step.text))
        elif step.kind == "tool" and call is not None:
            raw = step.arguments or (call.arguments if isinstance(call.arguments, str)
                                     else json.dumps(call.arguments, ensure_ascii=False, default=str))
            out += [ToolStart(call.id, call.name, raw),
                    ToolEnd(call.id, call.name, step.status, step.preview, call.duration)]
    if result.content:
        out.append(ContentDelta(result.content))
    if result.usage.total:
        out.append(UsageEvent(result.usage, result.upstream))
    out += [Status(w, "warning") for w in result.warnings]
    out.append(Done(result.finish_reason))
    if result.error:
        out.append(ErrorEvent(result.error))
    return out
