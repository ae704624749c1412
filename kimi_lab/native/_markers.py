"""The special-token strings of Kimi K2's chat format, and the pure scanners that find them.

Kept apart from the parser so the prompt renderer and the parser share one spelling of each marker
(a typo in either would silently turn a marker into plain text). The scanners are pure functions of
the text they are given, which is what makes the parser's result independent of the chunking.
"""

from __future__ import annotations

import re

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
SECTION_BEGIN = "<|tool_calls_section_begin|>"
SECTION_END = "<|tool_calls_section_end|>"
#: Singular spellings that the model sometimes writes; they mean the same as the plural ones.
SECTION_BEGIN_SINGULAR = "<|tool_call_section_begin|>"
SECTION_END_SINGULAR = "<|tool_call_section_end|>"
CALL_BEGIN = "<|tool_call_begin|>"
ARG_BEGIN = "<|tool_call_argument_begin|>"
CALL_END = "<|tool_call_end|>"
IM_END = "<|im_end|>"
IM_USER = "<|im_user|>"
IM_ASSISTANT = "<|im_assistant|>"
IM_SYSTEM = "<|im_system|>"
IM_MIDDLE = "<|im_middle|>"

SECTION_BEGINS = (SECTION_BEGIN, SECTION_BEGIN_SINGULAR)
SECTION_ENDS = (SECTION_END, SECTION_END_SINGULAR)

#: Every marker the parser recognises. No marker is a prefix of another (each ends at its only `>`),
#: so a marker can be recognised as soon as its last character arrives.
ALL_MARKERS = (
    THINK_OPEN,
    THINK_CLOSE,
    *SECTION_BEGINS,
    *SECTION_ENDS,
    CALL_BEGIN,
    ARG_BEGIN,
    CALL_END,
    IM_END,
    IM_USER,
    IM_ASSISTANT,
    IM_SYSTEM,
    IM_MIDDLE,
)

#: Special token ids in the model's tiktoken vocabulary, for code that works on token ids rather than
#: text (the singular section spellings are not in the protocol notes' list, so they are left out).
TOKEN_IDS: dict[str, int] = {
    IM_END: 163586,
    IM_USER: 163587,
    IM_ASSISTANT: 163588,
    IM_SYSTEM: 163594,
    SECTION_BEGIN: 163595,
    SECTION_END: 163596,
    CALL_BEGIN: 163597,
    ARG_BEGIN: 163598,
    CALL_END: 163599,
    IM_MIDDLE: 163601,
    THINK_OPEN: 163606,
    THINK_CLOSE: 163607,
}

#: Markers that end an argument text when they appear outside a JSON string (others there are text).
TERMINATORS = (CALL_END, CALL_BEGIN, *SECTION_ENDS, IM_END)
MAX_LEN = max(len(m) for m in ALL_MARKERS)


def _alternation(markers: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(m) for m in markers))


def _prefixes(markers: tuple[str, ...]) -> frozenset[str]:
    return frozenset(m[:k] for m in markers for k in range(1, len(m)))


#: Lookup tables for scanning: a regex finds the next whole marker in C, and a tail that is in a
#: prefix set may still become a marker, so it waits for the next chunk.
MARKER_RE = _alternation(ALL_MARKERS)
TERMINATOR_RE = _alternation(TERMINATORS)
PREFIXES = _prefixes(ALL_MARKERS)
TERMINATOR_PREFIXES = _prefixes(TERMINATORS)
CALL_END_PREFIXES = _prefixes((CALL_END,))

DECIDES_CONTENT = frozenset((*SECTION_BEGINS, CALL_BEGIN, IM_END))


def decide_start(s: str, resume: int, limit: int, final: bool) -> tuple[str | None, int]:
    """Whether output that may lack `<think>` starts as "reasoning" or "content", and where it resumes.

    Reasoning if it opens with `<think>` (after whitespace) or if a `</think>` starts within `limit`
    characters before any tool call or `<|im_end|>`; content otherwise. `(None, resume)` means: wait
    for more text, then scan again from `resume`. The answer for a prefix never changes once given.
    """
    lead = len(s) - len(s.lstrip())
    if lead >= limit or (final and lead == len(s)):
        return "content", 0
    if lead == len(s) or (not final and THINK_OPEN.startswith(s[lead:])):
        return None, resume
    if s.startswith(THINK_OPEN, lead):
        return "reasoning", lead + len(THINK_OPEN)
    j = max(resume, lead)
    while (p := s.find("<", j, limit)) >= 0:
        m = MARKER_RE.match(s, p)
        if m is not None:
            if m.group() == THINK_CLOSE:
                return "reasoning", 0
            if m.group() in DECIDES_CONTENT:
                return "content", 0
            j = m.end()
        elif not final and s[p:] in PREFIXES:
            return None, p
        else:
            j = p + 1
    if final or len(s) >= limit:
        return "content", 0
    return None, max(j, len(s))


def scan_arguments(
    s: str, i: int, in_str: bool, escaped: bool, final: bool, candidates: bool = False
) -> tuple[int, str, bool, bool]:
    """Where argument JSON starting at `i` stops: `(end, marker or "", in_str, escaped)`.

    Only a terminator outside a JSON string ends the arguments (a marker inside a string is text),
    so quotes and backslash escapes are tracked. With `candidates`, a `<|tool_call_end|>` inside a
    string stops the scan too (returned with `in_str` true): it may instead end a call whose JSON left
    a string open, which only the text after it can tell. With no marker, `end < len(s)` marks a tail
    that may still become one; the returned string state is the one at `end`.
    """
    n, j = len(s), i
    while j < n:
        if escaped and not (candidates and s[j] == "<"):
            escaped, j = False, j + 1
            continue
        q = _next_special(s, j, in_str, candidates)
        if q < 0:
            break
        j, c = q + 1, s[q]
        if c == '"':
            in_str = not in_str
        elif c == "\\":
            escaped = True
        elif (marker := _marker_at(s, q, in_str)) is not None:
            return q, marker, in_str, escaped
        elif not final and s[q:] in (CALL_END_PREFIXES if in_str else TERMINATOR_PREFIXES):
            return q, "", in_str, escaped
        else:
            escaped = False  # a `<` that is text; after a backslash, the escaped character
    return n, "", in_str, escaped


def _next_special(s: str, j: int, in_str: bool, candidates: bool) -> int:
    """Index of the next character the scan acts on, or -1: `"`, and `\\` in a string, `<` outside one.

    With `candidates`, `<` in a string too, for a call end that may close a call left in a string.
    """
    q = s.find('"', j)
    stop = len(s) if q < 0 else q
    for c in ("\\<" if candidates else "\\") if in_str else "<":
        p = s.find(c, j, stop)
        if p >= 0:
            q = stop = p
    return q


def _marker_at(s: str, q: int, in_str: bool) -> str | None:
    """The marker that stops the scan at `q`: any terminator outside a string, only a call end in one."""
    if in_str:
        return CALL_END if s.startswith(CALL_END, q) else None
    m = TERMINATOR_RE.match(s, q)
    return None if m is None else m.group()


def string_state(text: str, in_str: bool, escaped: bool) -> tuple[bool, bool]:
    """Whether argument JSON ends inside a string, and after a backslash (for text holding no `<`)."""
    if not escaped and "\\" not in text:
        return in_str ^ (text.count('"') % 2 == 1), False
    for c in text:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = in_str
        elif c == '"':
            in_str = not in_str
    return in_str, escaped


__all__ = [
    "ALL_MARKERS",
    "ARG_BEGIN",
    "CALL_BEGIN",
    "CALL_END",
    "CALL_END_PREFIXES",
    "DECIDES_CONTENT",
    "IM_ASSISTANT",
    "IM_END",
    "IM_MIDDLE",
    "IM_SYSTEM",
    "IM_USER",
    "MARKER_RE",
    "MAX_LEN",
    "PREFIXES",
    "SECTION_BEGIN",
    "SECTION_BEGINS",
    "SECTION_BEGIN_SINGULAR",
    "SECTION_END",
    "SECTION_ENDS",
    "SECTION_END_SINGULAR",
    "TERMINATORS",
    "TERMINATOR_PREFIXES",
    "TERMINATOR_RE",
    "THINK_CLOSE",
    "THINK_OPEN",
    "TOKEN_IDS",
    "decide_start",
    "scan_arguments",
    "string_state",
]
