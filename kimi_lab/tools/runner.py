"""Running one tool call: look up, parse, validate, ask, run with a time limit, then scrub,
cap and wrap the result. Every failure becomes a result the model can read and act on;
nothing here ends the turn."""

from __future__ import annotations

import html
import time
from dataclasses import dataclass
from secrets import token_hex
from typing import Any, Callable, Mapping

from kimi_lab.common.result import ToolCall
from kimi_lab.common.secrets import scrub
from kimi_lab.common.summarize import cap
from kimi_lab.tools.arguments import ArgumentsError, parse_arguments
from kimi_lab.tools.registry import Tool
from kimi_lab.tools.timeout import ToolTimeout, call_with_timeout

__all__ = ["Approver", "Executor", "ToolOutcome", "ToolRunner", "render_value"]

#: Returns "yes", "no", "always" (yes, and don't ask again this session) or "unanswered" (no one could be asked).
Approver = Callable[[Tool, dict[str, Any]], str]
#: Runs one call under a limit in seconds (raising ToolTimeout past it): the seam where a face decides
#: where tools run. The default runs them on the asking thread; the comm bridge, between cells.
Executor = Callable[[Callable[[], Any], float], Any]


@dataclass
class ToolOutcome:
    call: ToolCall
    status: str  # "ok" | "error" | "denied" | "timeout"
    content: str  # what the model reads
    preview: str  # what the user sees on the tool card


def render_value(value: Any, limit: int) -> str:
    """Text form of a tool's return value: tables for frames, text for text, repr otherwise."""
    if value is None:
        return "(no value)"
    if isinstance(value, str):
        return value
    kind = f"{type(value).__module__.split('.')[0]}.{type(value).__name__}"
    try:
        if kind == "pandas.DataFrame":
            return value.to_string(max_rows=60, max_cols=20, max_colwidth=50)
        if kind == "pandas.Series":
            return value.to_string(max_rows=60)
        if kind == "numpy.ndarray":
            import numpy as np

            return np.array2string(value, threshold=200, edgeitems=5, max_line_width=120)
        if kind.startswith("numpy."):  # a scalar: "15", not "np.int64(15)"
            return str(value)
        if hasattr(value, "model_dump_json"):
            return str(value.model_dump_json())
        return repr(value)
    except Exception as exc:  # a broken repr must not break the loop
        return f"<{type(value).__name__}: cannot render ({type(exc).__name__})>"


def _nonce(text: str) -> str:
    """A fresh random id that does not occur in `text`: 64 bits from `secrets`, so neither the data
    nor anything the model saw before can predict it (a clash is redrawn; eight in a row cannot happen)."""
    nonce = token_hex(8)
    for _ in range(8):
        if nonce not in text:
            break
        nonce = token_hex(8)
    return nonce


#: What the user's answer is recorded as on the tool card (and so in the saved notebook).
APPROVALS = {"yes": "approved by you", "always": "approved by you for this session", "no": "denied by you",
             "unanswered": "denied: nobody could answer here"}


def _wrap(name: str, status: str, text: str) -> str:
    """The model must be able to tell tool data from instructions, and data must not end the block:
    it ends only at a closing tag carrying the block's own id, drawn after the data exists, so no
    spelling of a closing tag (nor an old or guessed id) inside the data can close or fake it."""
    nonce = _nonce(text)
    name = html.escape(name, quote=True)  # the tool name comes from the model
    return f'<tool_output id="{nonce}" name="{name}" status="{status}">\n{text}\n</tool_output id="{nonce}">'


def _validation_message(exc: Any) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "arguments"
        parts.append(f"{where}: {err.get('msg')}")
    return "; ".join(parts)


class ToolRunner:
    def __init__(
        self,
        tools: Mapping[str, Tool],
        *,
        namespace: dict[str, Any] | None = None,
        approve: Approver | None = None,
        always: set[str] | None = None,
        secrets: list[str] | None = None,
        cap_chars: int = 16_000,
        timeout: float = 30.0,
        executor: Executor = call_with_timeout,
    ) -> None:
        self.tools = tools
        self.executor = executor
        self.namespace = namespace if namespace is not None else {}
        self.approve = approve
        self.always = always if always is not None else set()
        self.secrets = secrets or []
        self.cap_chars = cap_chars
        self.timeout = timeout

    def _outcome(self, call: ToolCall, status: str, text: str, started: float) -> ToolOutcome:
        call.duration = time.perf_counter() - started
        text = cap(scrub(text, self.secrets), self.cap_chars)  # scrubbed whole: a cut must not keep part of a key
        if status != "ok":
            call.error = text
        preview = text if len(text) <= 400 else text[:400] + "…"
        return ToolOutcome(call, status, _wrap(call.name, status, text), preview)

    def run(self, call_id: str, name: str, raw_arguments: str) -> ToolOutcome:
        started = time.perf_counter()
        call = ToolCall(name=name, arguments=raw_arguments, id=call_id)
        tool = self.tools.get(name)
        if tool is None:
            offered = ", ".join(sorted(self.tools)) or "none"
            return self._outcome(call, "error", f"error: there is no tool named {name!r}; available: {offered}",
                                 started)
        try:
            arguments, repaired = parse_arguments(raw_arguments)
        except ArgumentsError as exc:
            return self._outcome(call, "error", f"error: {exc}", started)
        call.arguments = arguments
        try:
            kwargs = tool.validate(arguments)
        except Exception as exc:
            detail = _validation_message(exc) if hasattr(exc, "errors") else str(exc)
            return self._outcome(
                call, "error", f"error: invalid arguments for {name}: {detail}; schema: {tool.parameters}", started
            )
        if tool.ask and name not in self.always:
            answer = self.approve(tool, arguments) if self.approve is not None else "unanswered"
            call.approval = APPROVALS.get(answer, APPROVALS["no"])
            if answer == "always":
                self.always.add(name)
            elif answer != "yes":
                return self._outcome(call, "denied", "the user declined this call; do not retry it unchanged",
                                     started)
        if tool.builtin:
            kwargs["namespace"] = self.namespace
        try:
            value = self.executor(lambda: tool.fn(**kwargs), tool.timeout or self.timeout)
        except ToolTimeout as exc:
            return self._outcome(call, "timeout", f"error: {name} {exc}", started)
        except Exception as exc:
            return self._outcome(call, "error", f"error: {name} raised {type(exc).__name__}: {exc}", started)
        call.result = value
        text = render_value(value, self.cap_chars)
        if repaired:
            text = "(note: your arguments were not valid JSON; they were repaired)\n" + text
        return self._outcome(call, "ok", text, started)
