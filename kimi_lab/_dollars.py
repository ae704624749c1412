"""Keep money as text in Markdown that a Jupyter front end will typeset.

JupyterLab (and Notebook 7, nbconvert's HTML) run MathJax over the *rendered* DOM, so
"East leads by $1.2k; the unit price is $4.50" becomes italic math, and a Markdown `\\$` does not
help: marked turns it into a bare `$` before MathJax looks (jupyterlab/jupyterlab#8645, #9033).
A literal dollar needs `\\\\$` in the source, which reaches the DOM as `\\$`, which MathJax's
processEscapes shows as `$`. Which dollars are literal follows pandoc's `tex_math_dollars` rule
(a closing `$` is preceded by a non-space and not followed by a digit, so "$20 and $30" is not
math), plus one for money: `$` + an amount (`$4.50`, `$1.2k`, `$3M`) followed by a word end.

The same rule is ported to the sidebar (labextension/src/dollars.ts); tests/fixtures/dollars.json
holds the cases both test suites run.
"""

from __future__ import annotations

import re

__all__ = ["literal_dollars", "md_plain", "protect_dollars"]

LITERAL = "\\\\$"  # two backslashes and a dollar: see the module docstring

_FENCE = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})")
_MONEY = re.compile(r"\$\d[\d,]*(?:\.\d+)?(?:bn|mm|MM|[kKMBm])?(?=$|[\s.,;:!?)\]}'\"/|*_%\-–—])")


def literal_dollars(text: str) -> str:
    """Every `$` in text we wrote ourselves (tables, footers, notes) stays a dollar."""
    return text.replace("$", LITERAL)


def md_plain(text: str) -> str:
    """Text we show inside Markdown exactly as written: never HTML (`<setting>`), never math (`$5`)."""
    return literal_dollars(text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def protect_dollars(markdown: str) -> str:
    """Model-written Markdown with money kept as text and real math (`$x^2$`, `$$…$$`) left to render."""
    if "$" not in markdown:
        return markdown
    out: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines(keepends=True):
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) \
                    and not line.strip()[len(opened.group(1)):]:
                fence = None
            out.append(line)
        elif opened:
            fence = opened.group(1)
            out.append(line)
        else:
            out.append(_protect_line(line))
    return "".join(out)


def _protect_line(line: str) -> str:
    """One line outside code fences: code spans kept, dollars classified."""
    pieces: list[str] = []
    i, n = 0, len(line)
    start = 0
    while i < n:
        ch = line[i]
        if ch == "`":
            run = len(line[i:]) - len(line[i:].lstrip("`"))
            ticks = line[i:i + run]
            close = line.find(ticks, i + run)
            while close != -1 and close + run < n and line[close + run] == "`":
                close = line.find(ticks, close + run + 1)
            if close == -1:
                i += run
                continue
            pieces.append(_protect_text(line[start:i]))
            pieces.append(line[i:close + run])
            i = start = close + run
            continue
        i += 1
    pieces.append(_protect_text(line[start:]))
    return "".join(pieces)


def _protect_text(text: str) -> str:
    """Text without code: escape every `$` that is not part of math."""
    if "$" not in text:
        return text
    literal: set[int] = set()
    candidates: list[int] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n:
            if text[i + 1] == "$":
                literal.add(i + 1)  # the author's own escape: keep it a dollar in the DOM too
            i += 2
            continue
        if ch == "$":
            if i + 1 < n and text[i + 1] == "$":  # display math delimiters stay
                i += 2
                continue
            if _MONEY.match(text, i):
                literal.add(i)
            else:
                candidates.append(i)
        i += 1
    opener: int | None = None
    for pos in candidates:
        if opener is None:
            if pos + 1 < n and not text[pos + 1].isspace():
                opener = pos
            else:
                literal.add(pos)
        elif not text[pos - 1].isspace() and not (pos + 1 < n and text[pos + 1].isdigit()):
            opener = None  # a math pair
        elif pos + 1 < n and not text[pos + 1].isspace():
            literal.add(opener)  # cannot close but can open: the earlier one was a lone dollar
            opener = pos
        else:
            literal.add(pos)
    if opener is not None:
        literal.add(opener)
    out: list[str] = []
    last = 0
    for pos in sorted(literal):
        if pos > 0 and text[pos - 1] == "\\" and (pos < 2 or text[pos - 2] != "\\"):
            out.append(text[last:pos - 1])  # drop the author's single backslash; LITERAL adds two
        else:
            out.append(text[last:pos])
        out.append(LITERAL)
        last = pos + 1
    out.append(text[last:])
    return "".join(out)
