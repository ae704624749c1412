"""The answer to one question: text, reasoning, usage, cost, timings; renders itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kimi_lab.common.events import TokenUsage

__all__ = ["Result", "Step", "ToolCall"]


@dataclass
class ToolCall:
    """One tool call the model made and what came of it."""

    name: str
    arguments: Any
    id: str = ""
    result: Any = None
    error: str | None = None
    duration: float = 0.0
    #: For a tool that asks first, what was decided (tools/runner.py APPROVALS), shown on its card.
    approval: str | None = None


@dataclass
class Step:
    """One piece of the answer's timeline, in order: reasoning, a remark the model made
    between tool calls, or a tool call."""

    kind: str  # "reasoning" | "note" | "tool"
    text: str = ""
    call: ToolCall | None = None
    #: for tools: "preparing" (its arguments still streaming) | "running" | "asking" | "ok" | "error" |
    #: "denied" | "timeout" | "interrupted"
    status: str = ""
    preview: str = ""
    arguments: str = ""  # for tools: the arguments as the model sent them (`call.arguments` is parsed)
    index: int | None = field(default=None, repr=False)  # a preparing card's place in its round's calls


@dataclass
class Result:
    content: str = ""
    reasoning: str = ""
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost: float | None = None
    model: str = ""
    provider: str = ""
    upstream: str = ""  # the host behind a router that answered (OpenRouter: "Moonshot AI")
    finish_reason: str | None = None
    chat: str = "default"
    prompt: str = ""
    elapsed: float = 0.0
    ttft: float | None = None  # seconds to the first visible token (reasoning or answer)
    thinking_time: float | None = None  # seconds from the first reasoning token to the answer
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    data: Any = None  # the parsed JSON with --json; the validated value (a model instance) with a schema
    tool_calls: list[ToolCall] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list, repr=False)
    rounds: int = 0
    #: The model's context in tokens, and how much of it the last request filled (its reported prompt
    #: tokens): the footer's "41,200 / 262,144 ctx". 0: not known.
    context: int = 0
    context_used: int = 0
    #: Files attached (--file, {file:PATH}) and the tokens each took, estimated: named in the footer.
    files: list[tuple[str, int]] = field(default_factory=list)
    #: Model calls answered from the replay cache (KimiLab.cache) and the usage they recorded: shown, not
    #: counted in `usage` or `cost` (nothing was sent).
    cache_hits: int = 0
    cached_usage: TokenUsage = field(default_factory=TokenUsage)
    show_reasoning: bool = True
    # Set when a live view already shows this result in the running cell, so the cell's
    # value does not show it a second time (see _ipython_display_).
    _shown_live: bool = field(default=False, repr=False, compare=False)

    @property
    def reasoning_tokens(self) -> int:
        """Reported by the provider when it can, else estimated at four characters a token."""
        return self.usage.reasoning or (len(self.reasoning) + 3) // 4

    @property
    def tokens_per_second(self) -> float | None:
        span = self.elapsed - (self.ttft or 0.0)
        if not self.usage.completion or span <= 0:
            return None
        return self.usage.completion / span

    @property
    def interrupted(self) -> bool:
        return self.finish_reason == "interrupted"

    def __str__(self) -> str:
        from kimi_lab.render.answer import plain_text

        return plain_text(self)

    def __repr__(self) -> str:
        head = self.content[:60] + ("…" if len(self.content) > 60 else "")
        return (
            f"Result(model={self.model!r}, provider={self.provider!r}, finish_reason={self.finish_reason!r}, "
            f"content={head!r}, reasoning={len(self.reasoning)} chars, tokens={self.usage.total})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        from kimi_lab.render.answer import answer_bundle, markdown, plain_text

        return answer_bundle(markdown(self), plain_text(self))

    def _ipython_display_(self) -> None:
        if self._shown_live:
            self._shown_live = False
            return
        from IPython.display import display

        display(self._repr_mimebundle_(), raw=True)
