"""Live views of a turn: throttled HTML for Jupyter frontends, plain text for terminals."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

from kimi_lab.common.events import ContentDelta, Event, ReasoningDelta, Status, ToolEnd, ToolStart
from kimi_lab.render.answer import answer_bundle, footer, live_html, live_text, markdown, plain_text, tool_line
from kimi_lab.tools.approval import stdin_approver

if TYPE_CHECKING:
    from kimi_lab.common.result import Result
    from kimi_lab.core.turn import Turn
    from kimi_lab.tools.registry import Tool
    from kimi_lab.tools.runner import Approver

__all__ = ["HtmlView", "NullView", "TextView", "choose_view", "mark_shown_live"]


class NullView:
    updates = 0

    def __init__(self, turn: Turn, interval: float = 0.1) -> None:
        self.turn = turn

    def __call__(self, event: Event) -> None:
        pass

    def finish(self, result: Result) -> None:
        pass

    def approver(self, ask: Approver) -> Approver:
        """`ask`, as this view wants it asked (the HTML view draws the call on its card first)."""
        return ask


class HtmlView(NullView):
    """One display, updated in place at most every `interval` seconds and at every boundary
    (first token, reasoning to answer, warnings, the end), never once per token."""

    def __init__(self, turn: Turn, interval: float = 0.1) -> None:
        super().__init__(turn, interval)
        self.interval = interval
        self.notes: list[str] = []
        self.handle: Any = None
        self.updates = 0
        self._last = 0.0
        self._answering = False
        self._shown_any = False
        self._asked = False

    def _bundle(self) -> dict[str, str]:
        t = self.turn
        elapsed = time.perf_counter() - (t.first_reasoning or t.started)
        if self._answering and t.first_content and t.first_reasoning:
            elapsed = t.first_content - t.first_reasoning
        steps, content = t.steps, t.content
        show = t.result.show_reasoning
        return {
            "text/html": live_html(
                steps, content, elapsed=elapsed, answering=self._answering, show_reasoning=show, notes=self.notes
            ),
            "text/plain": live_text(steps, content, show_reasoning=show),
        }

    def _show(self, bundle: dict[str, Any]) -> None:
        """First call displays; later calls replace that one output in place."""
        from IPython.display import display

        if self.handle is None:
            self.handle = display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)
        self.updates += 1
        self._last = time.perf_counter()

    def _push(self) -> None:
        self._show(self._bundle())

    def __call__(self, event: Event) -> None:
        boundary = False
        if isinstance(event, (ReasoningDelta, ContentDelta)):
            if not self._shown_any:
                boundary = self._shown_any = True
            if isinstance(event, ContentDelta) and not self._answering:
                boundary = self._answering = True
        elif isinstance(event, Status):
            self.notes.append(event.message)
            boundary = True
        elif isinstance(event, (ToolStart, ToolEnd)):
            self._answering = False
            # A tool runs on this thread, so a card can only show "running" if it is drawn
            # before the call; fast loops still must not redraw the whole view every round.
            boundary = isinstance(event, ToolStart) and time.perf_counter() - self._last >= self.interval / 4
        else:
            return  # deltas of tool arguments wait; Done/Error: the final render follows at once
        if boundary or time.perf_counter() - self._last >= self.interval:
            self._push()

    def approver(self, ask: Approver) -> Approver:
        """Draw the waiting call on its card (name and code, as approval_view shows them) before
        the question goes to stdin, say what was decided after, and drop the printed copy."""

        def asking(tool: Tool, arguments: dict[str, Any]) -> str:
            step = self.turn.current_tool
            if step is None:
                return ask(tool, arguments)
            step.status = "asking"
            self._asked = True
            self._push()
            try:
                return ask(tool, arguments, echo=False) if ask is stdin_approver else ask(tool, arguments)
            finally:
                step.status = "running"
                self._push()

        return asking

    def finish(self, result: Result) -> None:
        if self._asked and self.handle is not None:
            # The stdin prompt's answer (and what an approved run_python showed) came after the live
            # output: the answer moves below them, so nothing trails under its footer, and nothing the
            # user saw is cleared away.
            self._show({"text/plain": ""})
            self.handle = None
        if self.turn.error is None:
            self._show(result._repr_mimebundle_())
        elif result.content.strip() or result.steps:
            # What arrived stays; the error itself is the exception's output, right below.
            self._show(answer_bundle(markdown(result, with_error=False), plain_text(result, with_error=False)))
        elif self.handle is not None:
            self._show({"text/plain": ""})  # nothing arrived: the error output alone says it
        mark_shown_live(result)


class TextView(NullView):
    """Terminals and scripts: write the stream as it comes, reasoning dimmed."""

    DIM, RESET = "\x1b[2m", "\x1b[0m"

    def __init__(self, turn: Turn, interval: float = 0.1, stream: TextIO | None = None) -> None:
        super().__init__(turn, interval)
        self.out = stream or sys.stdout
        self.phase = ""
        self.printed: set[str] = set()

    def __call__(self, event: Event) -> None:
        show = self.turn.result.show_reasoning
        if isinstance(event, ReasoningDelta) and event.text:
            if self.phase != "reasoning":
                self.phase = "reasoning"
                self.out.write(self.DIM + "💭 " + ("" if show else "thinking…"))
            if show:
                self.out.write(event.text)
        elif isinstance(event, ContentDelta):
            if self.phase != "content":
                self.out.write((self.RESET + "\n\n") if self.phase == "reasoning" else "")
                self.phase = "content"
            self.out.write(event.text)
        elif isinstance(event, Status):
            self.printed.add(event.message)
            self.out.write(f"\n⚠ {event.message}\n")
        elif isinstance(event, ToolEnd):
            step = self.turn.timeline.card(event.id)
            line = tool_line(step) if step is not None else event.name
            self.out.write(f"{self.RESET}\n🔧 {line}\n")
            self.phase = "tool"
        else:
            return
        self.out.flush()

    def finish(self, result: Result) -> None:
        if self.phase == "reasoning":
            self.out.write(self.RESET)
        notes = "".join(f"\n⚠ {w}" for w in result.warnings if w not in self.printed)
        self.out.write(f"{notes}\n{self.DIM}── {footer(result)}{self.RESET}\n")
        self.out.flush()
        mark_shown_live(result)


def choose_view(kind: str) -> type[NullView]:
    """'auto' picks HTML inside a Jupyter kernel and text in a terminal or script."""
    if kind == "html":
        return HtmlView
    if kind == "text":
        return TextView
    if kind == "none":
        return NullView
    shell = _shell()
    if shell is not None and type(shell).__name__ == "ZMQInteractiveShell":
        return HtmlView
    return TextView if shell is not None else NullView


def mark_shown_live(result: Result) -> None:
    """The running cell already shows this result: its value must not show it again.
    The mark lasts until the cell ends, so `x = %kimi …` then `x` in a later cell still shows."""
    shell = _shell()
    if shell is None:
        return
    result._shown_live = True

    def clear(*_: Any) -> None:
        result._shown_live = False
        shell.events.unregister("post_run_cell", clear)

    shell.events.register("post_run_cell", clear)


def _shell() -> Any:
    ipython = sys.modules.get("IPython")
    return ipython.get_ipython() if ipython is not None else None
