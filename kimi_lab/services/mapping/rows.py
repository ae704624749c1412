"""One row's question, asked the way every question is: a `Turn` over the same backend, request rules
and timeline, in a conversation of its own; then, for a typed answer, validation and one repair round."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kimi_lab.backends.base import ChatRequest
from kimi_lab.common.errors import KimiError
from kimi_lab.common.events import Done, Event
from kimi_lab.common.result import Result
from kimi_lab.core.admission import Admission
from kimi_lab.core.conversation import Conversation
from kimi_lab.core.structured import SchemaMismatch
from kimi_lab.core.tokens import estimate_message_tokens, estimate_tokens
from kimi_lab.core.turn import Turn
from kimi_lab.services.ask import backend_for
from kimi_lab.services.mapping.plan import MapPlan
from kimi_lab.tools.runner import ToolRunner
from kimi_lab.tools.timeout import call_with_timeout

__all__ = ["RowAnswer", "RowFailed", "ask_row"]


@dataclass
class RowAnswer:
    """A finished row: the answer, what it cost, and for a typed answer the validated value or why not."""

    prompt: str
    content: str
    reasoning: str
    data: Any = None
    error: str | None = None  # a typed answer that still failed validation after the repair round
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float | None = None
    cancelled: bool = False


class RowFailed(Exception):
    """The request failed (the error says how); the job decides whether to retry, record or stop."""

    def __init__(self, error: KimiError, spent: RowAnswer) -> None:
        super().__init__(error.message)
        self.error, self.spent = error, spent


def _ignore(event: Any) -> None:
    return None


class _Admitted:
    """The backend, each of its requests admitted first: a repair round or a tool round is a request like any
    other, and a provider's RPM counts it (admitting only a row's first request let them go out unpaced)."""

    def __init__(self, inner: Any, admission: Admission | None, tokens: int) -> None:
        self.inner, self.admission, self.tokens = inner, admission, tokens

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        if self.admission is None:
            yield from self.inner.stream(request)
            return
        if not self.admission.acquire(self.tokens):
            yield Done("cancelled")  # the job stopped while this request waited
            return
        try:
            yield from self.inner.stream(request)
        finally:
            self.admission.release()


def _turn(plan: MapPlan, prompt: str, messages: list[dict[str, Any]], cancel: threading.Event,
          admission: Admission | None = None) -> Turn:
    runner = None
    if plan.spec.offered:
        def one_at_a_time(call: Callable[[], Any], seconds: float) -> Any:
            with plan.tool_lock:
                return call_with_timeout(call, seconds)

        runner = ToolRunner(plan.spec.offered, namespace=plan.namespace or {}, secrets=plan.secrets,
                            cap_chars=plan.cfg.tool_result_tokens * 4, timeout=plan.cfg.tool_timeout,
                            executor=one_at_a_time)
    return Turn(prompt, conversation=Conversation(name="kimi_lab.map"), target=plan.target,
                backend=_Admitted(backend_for(plan.target, plan.cfg, plan.local, retries=0), admission,
                                  plan.admission_tokens(prompt)),
                request=plan.request(messages, cancel), show_reasoning=False, secrets=plan.secrets, runner=runner,
                max_rounds=plan.spec.max_rounds)


def _add(answer: RowAnswer, result: Result, plan: MapPlan, messages: list[dict[str, Any]]) -> None:
    """Count a request's tokens and cost. A provider that reports no usage still billed the request: with a
    known price its cost is estimated from the text sent and received (so max_cost still protects)."""
    tokens_in, tokens_out, cost = result.usage.prompt, result.usage.completion, result.cost
    price = plan.target.provider.price
    if not result.usage.total and price is not None and (result.content or result.reasoning):
        tokens_in = estimate_message_tokens(messages)
        tokens_out = estimate_tokens(result.content) + estimate_tokens(result.reasoning)
        cost = price.cost(tokens_in, tokens_out, 0)
    answer.tokens_in += tokens_in
    answer.tokens_out += tokens_out
    if cost is not None:
        answer.cost = (answer.cost or 0.0) + cost


def ask_row(plan: MapPlan, prompt: str, cancel: threading.Event, admission: Admission | None = None) -> RowAnswer:
    """Ask one row, each request admitted by `admission`; raises RowFailed when a request fails (with what it
    cost so far)."""
    messages = plan.messages(prompt)
    turn = _turn(plan, prompt, messages, cancel, admission)
    result = turn.run(_ignore)
    answer = RowAnswer(prompt, result.content, result.reasoning)
    _add(answer, result, plan, messages)
    if turn.error is not None:
        raise RowFailed(turn.error, answer)
    if result.finish_reason == "cancelled":
        answer.cancelled = True
        return answer
    if plan.schema is None:
        if result.finish_reason == "length":
            answer.error = f"cut at max_tokens={plan.spec.request.max_tokens:,}; raise max_tokens"
        return answer
    try:
        answer.data = plan.schema.parse(result.content)
        return answer
    except SchemaMismatch as exc:
        problem = str(exc)
    # One repair round: the model sees its answer and what was wrong with it.
    repair = [*messages, {"role": "assistant", "content": result.content},
              {"role": "user", "content": plan.schema.repair_prompt(problem)}]
    turn = _turn(plan, prompt, repair, cancel, admission)
    second = turn.run(_ignore)
    _add(answer, second, plan, repair)
    if turn.error is not None:
        raise RowFailed(turn.error, answer)
    answer.content, answer.reasoning = second.content, "\n\n".join(r for r in (answer.reasoning, second.reasoning) if r)
    try:
        answer.data = plan.schema.parse(second.content)
    except SchemaMismatch as exc:
        answer.error = f"the answer does not match the schema after one repair round: {exc}"
    return answer
