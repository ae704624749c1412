"""Typed answers to one question (`%%kimi --schema Model`, `kimi_lab.ask(schema=Model)`).

The request asks for JSON of the schema's shape (`response_format`, and the schema in the system prompt,
since not every provider enforces it); the answer is validated here, and when it does not match, one
more round in the same conversation shows the model what failed. `kimi_lab.map` asks its rows for the
same `response_format`, so the two never disagree on what a provider takes.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from kimi_lab.backends.base import ChatRequest
from kimi_lab.backends.listing import cached_listing
from kimi_lab.common.secrets import scrub
from kimi_lab.core.structured import Schema, SchemaMismatch

if TYPE_CHECKING:
    from kimi_lab.common.result import Result
    from kimi_lab.core.turn import Turn
    from kimi_lab.settings.target import Target

__all__ = ["TypedAnswer", "response_format"]


def response_format(schema: Schema, target: Target) -> dict[str, Any]:
    """`json_schema` where the provider enforces schemas, else JSON mode; the system prompt carries the
    schema either way, and our validation decides. A provider whose listing says a model takes no
    structured outputs (OpenRouter's `supported_parameters`) gets JSON mode."""
    listing = cached_listing(target)
    entry = listing.get(target.model) if listing is not None else None
    if entry is not None and entry.parameters and "structured_outputs" not in entry.parameters:
        return {"type": "json_object"}
    return schema.response_format()


class TypedAnswer:
    """One question's schema: shapes its request, then checks its answer (the turn's `check`) and leaves
    the validated value in `Result.data`, or, after the repair round, the reason in `Result.error`."""

    def __init__(self, spec: Any) -> None:
        self.schema = Schema(spec)  # a bad spec is a KimiConfigError here, before anything is sent
        self.result: Result | None = None
        self.problem: str | None = None  # what the first answer got wrong, once the repair round is asked

    def request(self, request: ChatRequest, target: Target, secrets: list[str]) -> ChatRequest:
        """`request` asking for the schema: its response_format, and the schema said in this request's system
        prompt (the conversation's own system prompt is left as it is)."""
        instruction = scrub(self.schema.instruction(), secrets or None)
        messages = list(request.messages)
        if messages and messages[0].get("role") == "system":
            messages[0] = {**messages[0], "content": f"{messages[0]['content']}\n\n{instruction}"}
        else:
            messages.insert(0, {"role": "system", "content": instruction})
        return replace(request, messages=messages, json_mode=False,
                       response_format=response_format(self.schema, target))

    def attach(self, turn: Turn) -> None:
        self.result = turn.result
        turn.check = self.check

    def check(self, text: str) -> str | None:
        """The turn's final answer: its value into `.data`; the repair message when the first one does not
        match; after the repair round, the error naming each field that still fails."""
        assert self.result is not None, "attach the TypedAnswer to its turn first"
        try:
            self.result.data = self.schema.parse(text)
        except SchemaMismatch as exc:
            if self.problem is None:
                self.problem = str(exc)
                return self.schema.repair_prompt(self.problem)
            what = self.schema.name if self.schema.model is not None else "the schema"
            self.result.error = (f"the answer does not match {what} after one repair round: {exc}; .data is None, "
                                 ".content has the text")
            self.result.warnings.append(self.result.error)  # every view lists warnings; the error is shown once
            return None
        if self.problem is not None:
            self.result.warnings.append(f"repaired: {self.problem}")
        return None
