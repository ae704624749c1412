"""Incremental parser for Kimi K2 Thinking's raw output: reasoning, content and native tool calls.

Raw text arrives in arbitrary chunks (detokenized llama.cpp output, or markers leaked by a server), so
a marker may be split anywhere. The parser holds back only a tail that could still become a marker
(shorter than the longest marker), which keeps it linear and makes the parse independent of the
chunking: `parse(text)` equals the merged events of any chunked feed of `text`. One exception: after a
`<|tool_call_end|>` inside a JSON string, argument text waits until a terminator (or the end) shows
whether the marker was string text or ended a call that left a string open; in the second case the
call ends at the marker and the text after it is parsed again.

Output that does not begin with `<think>` is undecided for its first `UNDECIDED_LIMIT` characters: if a
`</think>` starts within them, the text before it was reasoning (the prompt ended with `<think>`);
otherwise it is content and a later `</think>` is a stray marker. Callers that know the prompt ended
with `<think>` should pass `starts_in_reasoning=True` rather than rely on this guess.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from kimi_lab.common.events import ContentDelta, Event, ReasoningDelta, ToolCallDelta
from kimi_lab.native import _markers as M

__all__ = ["UNDECIDED_LIMIT", "Parsed", "ParsedCall", "Parser", "call_name", "parse"]

#: How far into an output lacking `<think>` a `</think>` may start and still make the text before it
#: reasoning. 256 characters (~60 tokens, about a second of generation) is the longest a plain answer's
#: first words wait before streaming; a missing `<think>` before long reasoning needs
#: `starts_in_reasoning=True` whatever the bound.
UNDECIDED_LIMIT = 256

_CONTENT, _ARGS, _REASONING, _CALL_ID, _SECTION, _START, _DONE, _CLOSED = range(8)
_REASONING_KIND, _CONTENT_KIND = -1, -2  # kinds of emitted text; a kind >= 0 is that call's arguments
_MAYBE_MARKER = re.compile(r"<(?:[|t/]|$)")  # every marker starts "<|", "<t" or "</"


def _reasoning_delta(text: str) -> Event:
    return ReasoningDelta(text)


def _content_delta(text: str) -> Event:
    return ContentDelta(text)


def _arguments_delta(index: int, text: str) -> Event:
    return ToolCallDelta(index, None, None, text)


@dataclass
class ParsedCall:
    """One native tool call; `error` says why it may not be usable, the raw text is always kept."""

    id: str
    name: str
    arguments: str
    error: str | None = None


@dataclass
class Parsed:
    reasoning: str = ""
    content: str = ""
    tool_calls: list[ParsedCall] = field(default_factory=list)


def call_name(call_id: str) -> str:
    """`functions.a.b-c:3` -> `a.b-c`: the counter follows the last `:` (names may contain `:` too)."""
    rest = call_id.removeprefix("functions.")
    return rest.rpartition(":")[0] if ":" in rest else rest


def _json_error(text: str) -> str | None:
    if not text.strip():
        return None  # no arguments: the same as "{}"
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"arguments are not valid JSON: {exc}"
    return None if isinstance(value, dict) else "arguments are not a JSON object"


def _is_json(text: str) -> bool:
    """Any JSON value counts: a marker read as string text needs valid JSON, not an object, to stay text."""
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


class Parser:
    """Feed raw chunks, get events; `close()` at the end of the stream; `result` at any time."""

    def __init__(self, *, starts_in_reasoning: bool = False) -> None:
        self._state = _REASONING if starts_in_reasoning else _START
        self._outer = _CONTENT  # the text state a tool-call section was opened from
        self._think_closed = False
        self._tail = ""  # held back: could still become a marker (while undecided: all text so far)
        self._resume = 0  # where the undecided scan resumes
        self._in_str = self._escaped = False  # JSON string state of the current arguments
        self._held: list[str] | None = None  # text after a call end met inside a string, not yet judged
        self._reasoning: list[str] = []
        self._content: list[str] = []
        self._gap: list[str] = []  # text between calls in a section, judged at the next marker
        self._calls: list[ParsedCall] = []
        self._index = 0  # the current call's index: the number of finished calls
        self._id: list[str] = []  # the current call's id as it arrives
        self._args: list[str] = []  # the current call's arguments as they arrive
        self._events: list[Event] = []

    def feed(self, chunk: str) -> list[Event]:
        """Events for this chunk; text that could be the start of a marker waits for the next one."""
        state = self._state
        if self._tail:  # a marker still being spelled out, a few characters a chunk
            chunk = self._tail + chunk
            if chunk in (M.TERMINATOR_PREFIXES if state == _ARGS else M.PREFIXES):
                self._tail = chunk
                return []
            self._tail = ""
        if chunk:  # fast paths, for the chunks that hold no marker
            if state == _CONTENT:
                if "<" not in chunk or _MAYBE_MARKER.search(chunk) is None:
                    self._content.append(chunk)
                    return [_content_delta(chunk)]
            elif state == _ARGS:
                held = self._held
                if "<" not in chunk or (held is not None and self._in_str and not self._escaped
                                        and '"' not in chunk and "\\" not in chunk):
                    if self._escaped or "\\" in chunk:
                        self._in_str, self._escaped = M.string_state(chunk, self._in_str, self._escaped)
                    elif chunk.count('"') & 1:
                        self._in_str = not self._in_str
                    if held is not None:
                        held.append(chunk)
                        return []
                    self._args.append(chunk)
                    return [_arguments_delta(self._index, chunk)]
            elif "<" not in chunk or _MAYBE_MARKER.search(chunk) is None:
                if state == _REASONING:
                    self._reasoning.append(chunk)
                    return [_reasoning_delta(chunk)]
                if state == _CALL_ID or state == _SECTION:
                    (self._id if state == _CALL_ID else self._gap).append(chunk)
                    return []
        if state == _CLOSED:
            raise RuntimeError("feed() after close()")
        if chunk and state != _DONE:
            self._run(chunk, final=False)
        return self._take()

    def close(self) -> list[Event]:
        """End of stream: flush held-back text and finish any open call (marking it if incomplete)."""
        if self._state == _CLOSED:
            return []
        text, self._tail = self._tail, ""
        if text or self._state == _START:
            self._run(text, final=True)
        while self._held is not None:  # a call end met inside a string, and no terminator after it
            if replay := self._settle():
                self._run(replay, final=True)
        if self._state == _SECTION:
            self._flush_gap()
        elif self._state in (_CALL_ID, _ARGS):
            missing = M.ARG_BEGIN if self._state == _CALL_ID else M.CALL_END
            self._end_call(ended=False, why=f"output ended before {missing}")
        self._state = _CLOSED
        return self._take()

    @property
    def result(self) -> Parsed:
        """Everything parsed so far; a call still open is reported with an "incomplete" error."""
        calls = [ParsedCall(c.id, c.name, c.arguments, c.error) for c in self._calls]
        if self._state in (_CALL_ID, _ARGS):
            call_id = "".join(self._id).strip()
            calls.append(ParsedCall(call_id, call_name(call_id), "".join(self._args),
                                    "incomplete: the call is still streaming"))
        return Parsed("".join(self._reasoning), "".join(self._content), calls)

    def _run(self, s: str, *, final: bool) -> None:
        """Consume `s` from the current state; leave a tail that may still become a marker in `_tail`."""
        i, n = 0, len(s)
        while i < n or self._state == _START:
            state = self._state
            if state == _DONE:
                return
            if state == _START:
                decided, self._resume = M.decide_start(s, self._resume, UNDECIDED_LIMIT, final)
                if decided is None:
                    self._tail = s
                    return
                self._state, i = (_REASONING if decided == "reasoning" else _CONTENT), self._resume
                continue
            if state == _ARGS:
                pending = self._held is not None
                end, marker, in_str, self._escaped = M.scan_arguments(s, i, self._in_str, self._escaped, final,
                                                                      candidates=not pending)
                self._in_str = in_str
                if end > i:
                    self._arguments(s[i:end])
                if not marker:
                    self._tail = s[end:]
                    return
                if in_str:  # a call end inside a string: text, or the end of a call that left a string open
                    self._held, self._escaped, i = [], False, end + len(marker)
                    continue
                if pending and (replay := self._settle()) is not None:
                    s, i = replay + s[end:], 0  # the call ended at the earlier marker: parse the rest afresh
                    n = len(s)
                    continue
                i = end + len(marker)
            else:
                m = M.MARKER_RE.search(s, i)
                end = n if m is None else m.start()
                if m is None and not final:
                    p = s.rfind("<", max(i, n - M.MAX_LEN + 1))
                    if p >= 0 and s[p:] in M.PREFIXES:
                        end, self._tail = p, s[p:]
                if end > i:
                    self._text(s[i:end])
                if m is None:
                    return
                i, marker = m.end(), m.group()
            self._marker(marker)

    def _text(self, text: str) -> None:
        state = self._state
        if state == _REASONING or state == _CONTENT:
            self._emit(_REASONING_KIND if state == _REASONING else _CONTENT_KIND, text)
        else:
            (self._gap if state == _SECTION else self._id).append(text)

    def _marker(self, marker: str) -> None:
        """Act on a whole marker; one that means nothing in the current state is stripped."""
        state = self._state
        if state == _REASONING or state == _CONTENT:
            if marker == M.THINK_CLOSE and state == _REASONING:
                self._think_closed, self._state = True, _CONTENT
            elif marker in M.SECTION_BEGINS or marker == M.CALL_BEGIN:  # a bare call implies a section
                self._outer, self._state = state, (_CALL_ID if marker == M.CALL_BEGIN else _SECTION)
            elif marker == M.IM_END:
                self._state = _DONE
            return
        if state == _SECTION:
            self._flush_gap()
        elif marker == M.CALL_END:
            self._end_call(ended=True, why="")
            return
        elif state == _CALL_ID and marker == M.ARG_BEGIN:
            self._finish_id()
            self._state, self._in_str, self._escaped = _ARGS, False, False
            return
        elif marker in M.TERMINATORS:
            missing = M.ARG_BEGIN if state == _CALL_ID else M.CALL_END
            self._end_call(ended=False, why=f"{marker} came before {missing}")
        if marker == M.CALL_BEGIN:
            self._state = _CALL_ID
        elif marker in M.SECTION_ENDS:
            self._state = _REASONING if self._outer == _REASONING and not self._think_closed else _CONTENT
        elif marker == M.IM_END:
            self._state = _DONE
        elif marker == M.THINK_CLOSE:
            self._think_closed = True

    def _arguments(self, text: str) -> None:
        """Argument text streams at once, except after a call end inside a string, where it waits."""
        if self._held is None:
            self._emit(self._index, text)
        else:
            self._held.append(text)

    def _settle(self) -> str | None:
        """Judge the call end met inside a string: `None` if it was text, else the text after it to parse again.

        The marker stays argument text only if reading through it gives valid JSON. Otherwise the JSON left a
        string open, and the call ends at the marker with its raw arguments and JSON error, so the calls and
        text after it are not swallowed.
        """
        held, self._held = "".join(self._held or ()), None
        if _is_json("".join(self._args) + M.CALL_END + held):
            self._emit(self._index, M.CALL_END + held)
            return None
        self._end_call(ended=True, why="")
        return held

    def _finish_id(self) -> None:
        """The id is complete: announce the call once, before any of its arguments."""
        call_id = "".join(self._id).strip()
        self._id = [call_id]
        self._events.append(ToolCallDelta(self._index, call_id, call_name(call_id), ""))

    def _end_call(self, *, ended: bool, why: str) -> None:
        """Judge a finished call by its JSON; a call cut short is kept clean only if its JSON is whole."""
        if self._state == _CALL_ID:
            self._finish_id()
        call_id, args = self._id[0], "".join(self._args)
        error = _json_error(args)
        if not ended and (self._state == _CALL_ID or error or not args.strip()):
            error = f"incomplete: {why}"
        self._calls.append(ParsedCall(call_id, call_name(call_id), args, error))
        self._index += 1
        self._id, self._args, self._state = [], [], _SECTION

    def _flush_gap(self) -> None:
        """Non-blank text between calls in a section is kept as the surrounding reasoning or content."""
        text = "".join(self._gap)
        self._gap.clear()
        if text.strip():
            reasoning = self._outer == _REASONING and not self._think_closed
            self._emit(_REASONING_KIND if reasoning else _CONTENT_KIND, text)

    def _emit(self, kind: int, text: str) -> None:
        if kind == _REASONING_KIND:
            self._reasoning.append(text)
            self._events.append(_reasoning_delta(text))
        elif kind == _CONTENT_KIND:
            self._content.append(text)
            self._events.append(_content_delta(text))
        else:
            self._args.append(text)
            self._events.append(_arguments_delta(kind, text))

    def _take(self) -> list[Event]:
        events, self._events = self._events, []
        return events


def parse(text: str, *, starts_in_reasoning: bool = False) -> Parsed:
    """One-shot parse of a whole raw output; the same result as any chunked feed of it."""
    parser = Parser(starts_in_reasoning=starts_in_reasoning)
    parser.feed(text)
    parser.close()
    return parser.result
