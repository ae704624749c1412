"""`%%kimi -f code|markdown|text|json`: what a finished answer turns into in the notebook.

markdown is the usual rendered answer; text streams plain text (the terminal's view: no Markdown, fine in
any front end and in logs); json is `--json`; code puts the answer's code in a new cell below, shown and
not run, since code the model wrote should be read before it runs.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["FORMATS", "code_blocks", "code_to_new_cell", "view_kind"]

#: The values of -f / --format; the first is the default.
FORMATS = ("markdown", "code", "text", "json")

_FENCE = re.compile(r"^(\s*)(`{3,}|~{3,})(.*)$")


def view_kind(fmt: str | None) -> str | None:
    """The view `-f` asks for (services.ask.run's `view_kind`); None: the configured display."""
    return "text" if fmt == "text" else None


def code_blocks(markdown: str) -> list[str]:
    """The fenced code blocks of `markdown`, in order, without their fences (an unclosed one runs to the end,
    as CommonMark reads it); a fence's indentation is taken off its lines."""
    blocks: list[str] = []
    fence: str | None = None
    indent = 0
    body: list[str] = []
    for line in markdown.splitlines():
        if fence is None:
            match = _FENCE.match(line)
            if match and not (match.group(2)[0] == "`" and "`" in match.group(3)):
                fence, indent, body = match.group(2), len(match.group(1)), []
            continue
        stripped = line.strip()
        if stripped and set(stripped) == {fence[0]} and len(stripped) >= len(fence):
            blocks.append("\n".join(body))
            fence = None
            continue
        cut = len(line) - len(line.lstrip(" "))
        body.append(line[min(cut, indent):])
    if fence is not None:
        blocks.append("\n".join(body))
    return blocks


def code_to_new_cell(shell: Any, answer: str) -> str:
    """Put the answer's code (its fenced blocks joined, else the whole answer) in a new cell below the
    asking one, not run; returns the one line that says what happened."""
    blocks = [b for b in code_blocks(answer) if b.strip()]
    code = "\n\n".join(blocks) if blocks else answer.strip()
    if not code:
        return "-f code: the answer is empty; no cell was added"
    shell.set_next_input(code, replace=False)
    if blocks:
        what = "its code block" if len(blocks) == 1 else f"its {len(blocks)} code blocks, joined,"
        return f"-f code: {what} is in a new cell below (not run)"
    return "-f code: the answer has no code block; all of it is in a new cell below (not run)"
