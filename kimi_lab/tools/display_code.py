"""What an approval prompt shows: the arguments that will run, with nothing hidden.

An approval is only worth what the user can see, and the model (or text it read in the user's
data) controls every character of a tool call's arguments. Some characters change what a
display shows without changing what Python runs: a carriage return lets the following text
overwrite the shown line in a terminal or a JupyterLab output area; ANSI escapes erase lines or
colour text invisible; bidi controls reorder it ("Trojan Source", CVE-2021-42574); zero-width
and other default-ignorable characters vanish; U+2028 / U+2029 break lines where Python does not.

So every approval prompt (the stdin prompt of a running cell, the ipywidgets panel, and the
JupyterLab sidebar, which shows the text the kernel sends) goes through this one rule: each such
character becomes a visible token (control pictures such as ␍ and ␛, else `<U+202E>`), code is
numbered by the line breaks Python itself counts (`\\n`, `\\r\\n`, `\\r`; not `\\f`, `\\v`, U+2028
or the other breaks `str.splitlines` knows), and a warning line names what was found.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator

__all__ = ["ApprovalView", "approval_view", "code_lines", "hidden_characters", "visible", "visible_code"]

# Characters no display shows as themselves, whatever their category says.
_INVISIBLE = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul fillers: blank, yet allowed in Python identifiers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors and vowel separator
    (0x2800, 0x2800),  # braille pattern blank
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xE0100, 0xE01EF),  # variation selectors supplement
)
# Control, format (bidi, zero-width, tags, BOM), line and paragraph separators, private use,
# unassigned, surrogates; and every space that is not U+0020.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Zs", "Co", "Cn", "Cs"})
_EMOJI_PRESENTATION = frozenset({"\ufe0e", "\ufe0f"})
_PLAIN = re.compile(r"[\t\n\x20-\x7e]*")
_LINE_END = re.compile(r"\r\n|\r|\n")  # what Python's tokenizer ends a line on, and nothing else
_CONTROL_NAMES = {
    0x00: "NULL", 0x07: "BELL", 0x08: "BACKSPACE", 0x0B: "LINE TABULATION", 0x0C: "FORM FEED",
    0x0D: "CARRIAGE RETURN", 0x1B: "ESCAPE", 0x7F: "DELETE", 0x85: "NEXT LINE",
}
_MOST_KINDS = 8  # the warning names this many kinds of character, then counts the rest
_MOST_PLACES = 6

_Found = tuple[str, str, str]  # a hidden character, the token it shows as, where it is


@lru_cache(maxsize=4096)
def _is_hidden(ch: str) -> bool:
    if ch in "\t\n ":
        return False
    if unicodedata.category(ch) in _HIDDEN_CATEGORIES:
        return True
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _INVISIBLE)


def _hides(prev: str, ch: str) -> bool:
    """Whether `ch` (after `prev`) must be made visible. One text or emoji presentation selector
    (U+FE0E, U+FE0F) right after a visible non-ASCII character, as in the warning sign emoji, is
    left as it is: it only picks the glyph's style, and flagging every emoji would teach users to
    ignore the warning."""
    if ch in _EMOJI_PRESENTATION and prev > "\x7f" and prev not in _EMOJI_PRESENTATION and not _is_hidden(prev):
        return False
    return _is_hidden(ch)


def _token(ch: str) -> str:
    cp = ord(ch)
    if cp < 0x20:
        return chr(0x2400 + cp)  # ␀ … ␟: ␍ for a carriage return, ␛ for ESC
    if cp == 0x7F:
        return "␡"
    return f"<U+{cp:04X}>"


def _scan(text: str) -> Iterator[tuple[str, bool]]:
    prev = ""
    for ch in text:
        yield ch, _hides(prev, ch)
        prev = ch


def visible(text: str) -> str:
    """`text` with every character that displays as something else (or nothing) made a token;
    tab and line feed stay."""
    if _PLAIN.fullmatch(text):
        return text
    return "".join(_token(ch) if hidden else ch for ch, hidden in _scan(text))


def hidden_characters(text: str) -> list[str]:
    """The characters of `text` that `visible` turns into tokens, in order."""
    if _PLAIN.fullmatch(text):
        return []
    return [ch for ch, hidden in _scan(text) if hidden]


def code_lines(code: str) -> list[tuple[str, str]]:
    """`code` as Python numbers its lines: (line, the break that ends it), the first is line 1.
    Only `\\n`, `\\r\\n` and a lone `\\r` end a line for Python; a final break opens no new line."""
    lines: list[tuple[str, str]] = []
    start = 0
    for match in _LINE_END.finditer(code):
        lines.append((code[start:match.start()], match.group()))
        start = match.end()
    if start < len(code) or not lines:
        lines.append((code[start:], ""))
    return lines


def visible_code(code: str) -> str:
    """`code` numbered by Python's own line breaks, every hidden character made visible; a lone
    carriage return shows as ␍ at the end of the line it ends."""
    lines = code_lines(code)
    width = len(str(len(lines)))
    out = []
    for number, (line, end) in enumerate(lines, 1):
        text = visible(line) + ("␍" if end == "\r" else "")
        out.append(f"{number:>{width}} │ {text}" if text else f"{number:>{width}} │")
    return "\n".join(out)


@dataclass(frozen=True)
class ApprovalView:
    """What an approval prompt shows: `display` as plain text, `warning` above it when set."""

    display: str
    warning: str | None


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON-like value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _name(ch: str) -> str:
    name = _CONTROL_NAMES.get(ord(ch)) or unicodedata.name(ch, "")
    if not name:
        kind = {"Cc": "control character", "Co": "private-use character", "Cs": "lone surrogate"}
        name = kind.get(unicodedata.category(ch), "unassigned code point")
    return name


def _json_token(ch: str) -> str:
    """How `ch` shows inside `visible(_json(...))`: JSON's own escape for a C0 control."""
    escaped = _json(ch)[1:-1]
    return escaped if escaped != ch else _token(ch)


def _warning(found: list[_Found]) -> str | None:
    """One line naming each kind of hidden character and where it is; None when there is none."""
    if not found:
        return None
    places: dict[tuple[str, str], list[str]] = {}
    for ch, token, where in found:
        seen = places.setdefault((ch, token), [])
        if where not in seen:
            seen.append(where)
    parts = []
    for (ch, token), where in list(places.items())[:_MOST_KINDS]:
        shown = ", ".join(where[:_MOST_PLACES]) + (", …" if len(where) > _MOST_PLACES else "")
        if len(where) > 1 and all(w.startswith("line ") for w in where):
            shown = "lines " + shown.replace("line ", "")
        parts.append(f"{_name(ch)} {token} ({shown})")
    if len(places) > _MOST_KINDS:
        parts.append(f"and {len(places) - _MOST_KINDS} more kinds")
    count = len(found)
    return (f"⚠ {count} hidden character{'s' if count != 1 else ''}, shown marked: " + "; ".join(parts)
            + ". Shown plainly they would make this call look unlike what runs: deny unless you expect them.")


def approval_view(arguments: Any) -> ApprovalView:
    """The arguments of a call that asks, as every approval prompt shows them: a `code` string
    numbered by Python's lines, every other argument as `name = JSON` on its own line, in full,
    and nothing that displays as something else."""
    found: list[_Found] = []
    if not isinstance(arguments, dict):
        text = str(arguments)
        found += [(ch, _token(ch), "in the arguments") for ch in hidden_characters(text)]
        return ApprovalView(visible(text) or "(no arguments)", _warning(found))
    code = arguments.get("code")
    lines = []
    for key, value in arguments.items():
        if key == "code" and isinstance(code, str):
            continue
        lines.append(f"{visible(str(key))} = {visible(_json(value))}")
        where = f"in {visible(str(key))}"
        found += [(ch, _json_token(ch), where) for text in _strings({key: value}) for ch in hidden_characters(text)]
    if isinstance(code, str):
        if lines:
            lines.append("code =")
        lines.append(visible_code(code))
        for number, (line, end) in enumerate(code_lines(code), 1):
            found += [(ch, _token(ch), f"line {number}") for ch in hidden_characters(line)]
            found += [("\r", "␍", f"line {number}")] if end == "\r" else []
    return ApprovalView("\n".join(lines) or "(no arguments)", _warning(found))
