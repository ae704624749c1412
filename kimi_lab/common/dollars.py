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
from collections.abc import Callable

__all__ = ["literal_dollars", "md_plain", "protect_dollars", "safe_markdown"]

LITERAL = "\\\\$"  # two backslashes and a dollar: see the module docstring

# A fence opens code wherever it stands: indented in a list item, or inside a blockquote.
_FENCE = re.compile(r"^(?:[ \t]*>)*[ \t]*(`{3,}|~{3,})")
# May be an indented code block (not a nested list item): its dollars stay as written.
_INDENTED = re.compile(r"^(?:[ \t]*>)*(?: {4}|\t)(?![ \t]*(?:[-*+]|[0-9]+[.)])[ \t])")
_MONEY = re.compile(r"\$[0-9][0-9,]*(?:\.[0-9]+)?(?:bn|mm|MM|[kKMBm])?(?=$|[\s.,;:!?)\]}'\"/|*_%\-–—])")
_DIGITS = frozenset("0123456789")


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
    return _outside_code(markdown, _protect_prose, indented=lambda line: line)


def _protect_prose(text: str) -> str:
    """Dollars in text, link destinations left as written."""
    pieces, last = [], 0
    for span in _LINK_SPAN.finditer(text):
        pieces += [_protect_text(text[last:span.start()]), span.group(0)]
        last = span.end()
    pieces.append(_protect_text(text[last:]))
    return "".join(pieces)


def safe_markdown(markdown: str) -> str:
    """Model-written Markdown as every face hands it to a front end.

    JupyterLab renders a trusted output's Markdown without sanitising it, and the output of a cell
    the user just ran is trusted: raw HTML in an answer would run as script in the page (which can
    reach the kernel, past every tool approval). So, outside code: `<` is shown, never a tag; an
    image is shown as its text (a remote image would load by itself, carrying whatever the model put
    in its URL); a link whose scheme is not http(s), mailto or a relative one is shown as text; and
    money stays money (protect_dollars).
    """
    return protect_dollars(_outside_code(markdown, _inert_text, indented=_inert_text))


_SAFE_SCHEME = re.compile(r"(?i)^(?:https?:|mailto:|#|/|\.|[^:/?#]*(?:[/?#]|$))")
_LINK_DEST = re.compile(r"\]\(\s*<?([^)>]*)")
_LINK_SPAN = re.compile(r"\]\([^)]*\)")  # a link's destination: a URL, never money or math
_LINK_DEF = re.compile(r"^(\s{0,3}(?:>\s*)*)\[([^\]]+)\]:\s*<?(\S*)")
_CONTROL = re.compile(r"[\x00-\x20\x7f]")


def _safe_destination(destination: str) -> bool:
    return bool(_SAFE_SCHEME.match(_CONTROL.sub("", destination)))


def _inert_text(text: str) -> str:
    """Text outside code: no HTML, no images, no script links (see safe_markdown)."""
    text = text.replace("<", "&lt;").replace("![", "!\\[")
    text = _LINK_DEST.sub(lambda m: m.group(0) if _safe_destination(m.group(1)) else "]\\(" + m.group(0)[2:], text)
    definition = _LINK_DEF.match(text)
    if definition and not _safe_destination(definition.group(3)):
        text = f"{definition.group(1)}\\[{text[len(definition.group(1)) + 1:]}"
    return text


def _outside_code(markdown: str, text: Callable[[str], str], indented: Callable[[str], str]) -> str:
    """Apply `text` to what is not code: fenced blocks (wherever they stand) and code spans stay as
    written; a line that may be an indented code block gets `indented` instead."""
    out: list[str] = []
    fence: str | None = None
    for line in markdown.splitlines(keepends=True):
        opened = _FENCE.match(line)
        if fence is not None:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence) \
                    and not line[opened.end():].strip():
                fence = None
            out.append(line)
        elif opened:
            fence = opened.group(1)
            out.append(line)
        elif _INDENTED.match(line):
            out.append(indented(line))
        else:
            out.append(_outside_spans(line, text))
    return "".join(out)


def _outside_spans(line: str, text: Callable[[str], str]) -> str:
    """One line outside code fences: code spans kept, `text` applied to the rest."""
    pieces: list[str] = []
    i, n = 0, len(line)
    start = 0
    while i < n:
        ch = line[i]
        if ch == "`":
            run = 1
            while i + run < n and line[i + run] == "`":  # no slicing: linear on long lines of backticks
                run += 1
            ticks = line[i:i + run]
            close = line.find(ticks, i + run)
            while close != -1 and close + run < n and line[close + run] == "`":
                close = line.find(ticks, close + run + 1)
            if close == -1:
                i += run
                continue
            pieces.append(text(line[start:i]))
            pieces.append(line[i:close + run])
            i = start = close + run
            continue
        i += 1
    pieces.append(text(line[start:]))
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
        elif not text[pos - 1].isspace() and not (pos + 1 < n and text[pos + 1] in _DIGITS):
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
