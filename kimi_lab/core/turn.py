"""One question and its answer: streams rounds from a backend, runs the tool calls between
them, feeds every event to a face, and leaves a Result and the conversation consistent
whatever happens (interrupt, failure, round limit).

Every text the model streams (reasoning, answer, tool-call arguments) is scrubbed of secrets before
any face, the transcripts file or the next request sees it; after a round of tools the notebook's
variables are read again for secrets (a tool may have loaded one)."""

from __future__ import annotations

import json
import re
import time
from contextlib import closing
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable

from kimi_lab.backends.base import Backend, ChatRequest
from kimi_lab.common.errors import KimiError, KimiInterrupted
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
from kimi_lab.common.result import Result, Step
from kimi_lab.common.secrets import StreamScrubber, namespace_secrets, scrub
from kimi_lab.core.conversation import Conversation, Message, message_wire
from kimi_lab.core.session import session
from kimi_lab.core.timeline import PREPARING, Timeline
from kimi_lab.core.tool_calls import ToolCallParts
from kimi_lab.settings.models import rule_for
from kimi_lab.settings.target import Target
from kimi_lab.tools.notebook import DATA_TOOLS

if TYPE_CHECKING:
    from kimi_lab.tools.runner import ToolRunner

__all__ = ["Turn", "parse_json_answer"]

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n(.*)\n\s*```\s*$", re.DOTALL)


def parse_json_answer(text: str) -> Any:
    """The JSON value of an answer, tolerating the ```json fence models like to add."""
    match = _FENCE.match(text)
    return json.loads(match.group(1) if match else text)


class Turn:
    def __init__(
        self,
        prompt: str,
        *,
        conversation: Conversation,
        target: Target,
        backend: Backend,
        request: ChatRequest,
        show_reasoning: bool = True,
        secrets: list[str] | None = None,
        runner: ToolRunner | None = None,
        max_rounds: int = 64,
    ) -> None:
        self.prompt = prompt
        self.conversation = conversation
        self.target = target
        self.backend = backend
        self.request = request
        self.secrets = secrets or []
        self.runner = runner
        self.max_rounds = max_rounds
        self.error: KimiError | None = None
        #: Called with the final answer: a message for one more round (a typed answer's repair), or None.
        #: Called once more with the answer of that round, whose reply is not asked for.
        self.check: Callable[[str], str | None] | None = None
        self._resumed: Step | None = None  # the answer a follow-up round went on from, now a note
        self.result = Result(
            prompt=prompt,
            model=target.model,
            provider=target.provider.name,
            chat=conversation.name,
            show_reasoning=show_reasoning,
        )
        self.timeline = Timeline()  # what the faces show; `_round_text` is what goes back on the wire
        self.current_tool: Step | None = None  # the card of the call running now (an approval asks on it)
        self._round_text: list[str] = []
        self._tool_parts = ToolCallParts()
        self._details: list[dict[str, Any]] = []
        self._loop: list[Message] = []  # assistant tool-call messages and tool results of this turn
        self.started = 0.0
        self.first_reasoning: float | None = None
        self.first_content: float | None = None  # first answer token of the current round
        self.ttft: float | None = None

    # -- what the faces read while streaming ------------------------------------------

    @property
    def steps(self) -> list[Step]:
        return self.timeline.steps

    @property
    def reasoning(self) -> str:
        return self.timeline.reasoning

    @property
    def content(self) -> str:
        """The answer so far (since the last tool call)."""
        return self.timeline.answer

    @property
    def tool_count(self) -> int:
        return len(self.timeline.tools)

    # -- the loop ------------------------------------------------------------------------

    def run(self, on_event: Callable[[Event], None]) -> Result:
        """Stream rounds until the model answers without calling tools, calling on_event for
        every event. Never raises for a failed request: the error is in `self.error` (and an
        ErrorEvent) once the result is final."""
        self.started = time.perf_counter()
        usage = TokenUsage()
        finish: str | None = None
        messages = list(self.request.messages)
        dialect = self.target.provider.dialect
        replay = (self.request.rule or rule_for(self.request.model)).replay
        carried = next((m.reasoning for m in reversed(self.conversation.messages) if m.reasoning), "")
        try:
            # max_rounds rounds may run tools; one more lets the model answer, with tools refused.
            for round_no in range(1, self.max_rounds + 2):
                self.result.rounds = round_no
                last = round_no > self.max_rounds
                request = replace(self.request, messages=messages, tool_choice="none" if last else None)
                round_usage, finish = self._stream_round(request, on_event)
                usage = usage + round_usage
                calls = self._calls()
                if not calls or self.runner is None or last or finish in ("length", "cancelled"):
                    if calls and self.runner is None:
                        self.result.warnings.append("the model asked for tools but none were offered; ignored")
                    elif calls and last:
                        self.result.warnings.append(
                            f"stopped after {self.max_rounds} tool rounds (the limit); everything so far is kept: "
                            f"ask the model to continue, or raise --max-rounds"
                        )
                    break
                message = Message("assistant", "".join(self._round_text), reasoning=self._round_reasoning(),
                                  reasoning_details=self._details or None, tool_calls=calls)
                self._loop.append(message)
                carried = message.reasoning or carried
                messages.append(message_wire(message, dialect, replay, carried))
                self._new_round()
                for call in calls:
                    tool_msg = self._run_tool(call, on_event)
                    self._loop.append(tool_msg)
                    messages.append(message_wire(tool_msg, dialect, replay))
                if any(call["function"]["name"] not in DATA_TOOLS for call in calls):  # they only read
                    self._learn_secrets()  # run_python or a user's tool may have loaded a secret
            if self.check is not None and finish not in ("length", "cancelled"):
                again = self.check(self.content)
                if again is not None:  # one follow-up round at most
                    usage, finish = self._follow_up(again, messages, usage, carried, on_event)
                    if finish not in ("length", "cancelled"):
                        self.check(self.content)
        except KeyboardInterrupt:
            finish = "interrupted"
            self.error = KimiInterrupted(
                f"interrupted; the partial answer ({len(self.content):,} characters, "
                f"{self.tool_count} tool calls) is kept in chat {self.conversation.name!r}"
            )
        except KimiError as exc:
            self.error = exc
        self._finish(usage, finish)
        if self.error is not None:
            self.error.message = scrub(self.error.message, self.secrets or None)
            self.error.partial = self.result
            self.result.error = self.error.message
            try:
                on_event(ErrorEvent(self.error.message, self.error.kind))
            except KeyboardInterrupt:
                pass
        return self.result

    def _learn_secrets(self) -> None:
        """Secrets a tool put into the namespace (run_python reading a key) join the scrubbed set."""
        if self.runner is None:
            return
        known = set(self.secrets)
        fresh = [s for s in namespace_secrets(self.runner.namespace) if s not in known]
        if fresh:
            self.secrets = sorted([*self.secrets, *fresh], key=len, reverse=True)
            self.runner.secrets = self.secrets

    def _new_round(self) -> None:
        self._round_text = []
        self._tool_parts = ToolCallParts()
        self._details = []
        self.first_content = None

    def _round_reasoning(self) -> str:
        """The reasoning since the last tool that ran, or the answer a follow-up went on from (this round's,
        echoed back with its message)."""
        texts = []
        for step in reversed(self.timeline.steps):
            if (step.kind == "tool" and step.status != PREPARING) or step is self._resumed:
                break
            if step.kind == "reasoning":
                texts.append(step.text)
        return "".join(reversed(texts))

    def _follow_up(self, text: str, messages: list[dict[str, Any]], usage: TokenUsage, carried: str,
                   on_event: Callable[[Event], None]) -> tuple[TokenUsage, str | None]:
        """One more round, tools refused: the answer goes back on the wire with `text` after it, and stays in
        the timeline as a note (the faces show it folded, like a remark between tool rounds)."""
        dialect = self.target.provider.dialect
        replay = (self.request.rule or rule_for(self.request.model)).replay
        answer = Message("assistant", "".join(self._round_text), reasoning=self._round_reasoning(),
                         reasoning_details=self._details or None)
        again = Message("user", scrub(text, self.secrets or None))
        self._loop += [answer, again]
        messages += [message_wire(answer, dialect, replay, answer.reasoning or carried), message_wire(again, dialect)]
        steps = len(self.timeline.steps)
        self.timeline._remark_ends()  # the same fold as an answer a tool call follows
        self._resumed = self.timeline.steps[-1] if len(self.timeline.steps) > steps else None
        self._new_round()
        self.result.rounds += 1
        request = replace(self.request, messages=messages, tool_choice="none" if self.request.tools else None)
        round_usage, finish = self._stream_round(request, on_event)
        return usage + round_usage, finish

    def _stream_round(self, request: ChatRequest, on_event: Callable[[Event], None]) -> tuple[TokenUsage, str | None]:
        usage = TokenUsage()
        finish: str | None = None
        scrub_reasoning, scrub_content = StreamScrubber(self.secrets), StreamScrubber(self.secrets)
        scrub_tools: dict[int, StreamScrubber] = {}  # arguments, per call index
        apply = self.timeline.apply

        def emit(event: Event) -> None:
            apply(event)
            on_event(event)

        try:
            with closing(iter(self.backend.stream(request))) as events:
                for event in events:
                    if isinstance(event, ReasoningDelta):
                        if event.text:  # timed on arrival: the scrubber may hold the first words back
                            now = time.perf_counter()
                            self.first_reasoning = self.first_reasoning or now
                            self.ttft = self.ttft if self.ttft is not None else now - self.started
                        text = scrub_reasoning.feed(event.text)
                        if event.details:
                            self._details.extend(event.details)
                        if text != event.text:
                            if not (text or event.details):
                                continue
                            event = ReasoningDelta(text, event.details)
                    elif isinstance(event, ContentDelta):
                        if held := scrub_reasoning.flush():  # the reasoning is over: show its last words
                            emit(ReasoningDelta(held))
                        if event.text:
                            now = time.perf_counter()
                            self.first_content = self.first_content or now
                            self.ttft = self.ttft if self.ttft is not None else now - self.started
                        text = scrub_content.feed(event.text)
                        if not text:
                            continue
                        self._round_text.append(text)
                        if text != event.text:
                            event = ContentDelta(text)
                    elif isinstance(event, ToolCallDelta):
                        if held := scrub_reasoning.flush():  # the reasoning is over before its call
                            emit(ReasoningDelta(held))
                        scrubber = scrub_tools.setdefault(event.index, StreamScrubber(self.secrets))
                        text = scrubber.feed(event.arguments or "")
                        if text != event.arguments:
                            event = ToolCallDelta(event.index, event.id, event.name, text)
                        self._add_tool_delta(event)
                    elif isinstance(event, UsageEvent):
                        usage = event.usage
                        self.result.context_used = usage.prompt or self.result.context_used  # the last request's
                        self.result.upstream = event.upstream or self.result.upstream
                    elif isinstance(event, Status):
                        event = Status(scrub(event.message, self.secrets), event.level)
                        if event.level == "warning":
                            self.result.warnings.append(event.message)
                    elif isinstance(event, Done):
                        finish = event.finish_reason
                        for held in self._flush(scrub_reasoning, scrub_content, scrub_tools):
                            emit(held)
                    emit(event)
        finally:
            # Held text of a round that was cut off: kept in the answer, too late for the faces.
            for held in self._flush(scrub_reasoning, scrub_content, scrub_tools):
                apply(held)
        return usage, finish

    def _flush(self, reasoning: StreamScrubber, content: StreamScrubber,
               tools: dict[int, StreamScrubber]) -> list[Event]:
        """Text held back in case it began a secret, now scrubbed as the whole text would be."""
        out: list[Event] = []
        if text := reasoning.flush():
            out.append(ReasoningDelta(text))
        if text := content.flush():
            self._round_text.append(text)
            out.append(ContentDelta(text))
        for index, scrubber in tools.items():
            if text := scrubber.flush():
                event = ToolCallDelta(index, None, None, text)
                self._add_tool_delta(event)
                out.append(event)
        return out

    def _add_tool_delta(self, event: ToolCallDelta) -> None:
        self._tool_parts.add(event)

    def _calls(self) -> list[dict[str, Any]]:
        """This round's tool calls in OpenAI wire form."""
        return self._tool_parts.calls(len(self.result.tool_calls))

    def _run_tool(self, call: dict[str, Any], on_event: Callable[[Event], None]) -> Message:
        assert self.runner is not None
        fn = call["function"]
        # The card names the call from the start: an approval prompt may keep it "running" for a while.
        start = ToolStart(call["id"], fn["name"], fn["arguments"])
        self.timeline.apply(start)
        self.current_tool = self.timeline.card(call["id"])
        on_event(start)
        try:
            outcome = self.runner.run(call["id"], fn["name"], fn["arguments"])
        finally:
            self.current_tool = None
        card = self.timeline.card(call["id"])
        if card is not None:
            card.call = outcome.call  # what the runner made of it: parsed arguments, error, approval
        self.result.tool_calls.append(outcome.call)
        end = ToolEnd(call["id"], fn["name"], outcome.status, outcome.preview, outcome.call.duration)
        self.timeline.apply(end)
        on_event(end)
        return Message("tool", outcome.content, tool_call_id=call["id"], name=fn["name"])

    # -- the end -------------------------------------------------------------------------

    def _finish(self, usage: TokenUsage, finish: str | None) -> None:
        r = self.result
        now = time.perf_counter()
        self.timeline.end()
        r.steps = list(self.timeline.steps)
        r.reasoning, r.content = self.timeline.reasoning, self.timeline.answer
        r.elapsed = now - self.started
        r.ttft = self.ttft
        if self.first_reasoning is not None:
            r.thinking_time = (self.first_content or now) - self.first_reasoning
        r.finish_reason = finish
        if usage.total:
            r.usage = usage
            price = self.target.provider.price
            r.cost = price.cost(usage.prompt, usage.completion, usage.cached) if price else None
        if finish == "length":
            r.warnings.append(
                f"the answer was truncated at max_tokens={self.request.max_tokens:,} (finish_reason=length); "
                f"raise it, e.g. --max-tokens {min(self.request.max_tokens * 2, self.target.provider.max_output):,}"
            )
        if self.request.json_mode and r.content and self.error is None:
            try:
                r.data = parse_json_answer(r.content)
            except (ValueError, RecursionError) as exc:  # nested too deeply to decode counts as not JSON
                r.warnings.append(f"the answer is not valid JSON ({exc}); .data is None, .content has the text")
        self._commit()
        session().ledger.record(r, self.target.provider.price)

    def _commit(self) -> None:
        """Record the turn in the conversation so that the next request is valid: every tool
        call gets a result, and a failure before any output leaves no trace."""
        r = self.result
        final_reasoning = self._round_reasoning()
        conv = self.conversation
        with conv.lock:
            if r.content or r.reasoning or self._loop or self.error is None:
                conv.messages.append(Message("user", self.prompt))
                pending: list[str] = []
                for msg in self._loop:
                    if msg.role == "assistant":
                        conv.messages += [Message("tool", "interrupted before it ran", tool_call_id=i) for i in pending]
                        pending = [c["id"] for c in msg.tool_calls or ()]
                    elif msg.tool_call_id in pending:
                        pending.remove(msg.tool_call_id)
                    conv.messages.append(msg)
                conv.messages += [Message("tool", "interrupted before it ran", tool_call_id=i) for i in pending]
                if r.content or final_reasoning or not self._loop:
                    conv.messages.append(
                        Message("assistant", r.content, reasoning=final_reasoning, partial=self.error is not None)
                    )
            conv.record(r)

