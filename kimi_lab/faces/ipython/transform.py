"""Keep IPython from reading a question mark at the end of a `%kimi` line as a help request.

IPython turns `%kimi why is the sky blue?` into `%pinfo blue`. This cell transform runs
before that and rewrites such lines into the magic call they were meant to be.
"""

from __future__ import annotations

import re

__all__ = ["protect_question_marks"]

_LINE = re.compile(r"^(?P<indent>\s*)(?P<assign>[A-Za-z_][\w.]*\s*=\s*)?%kimi(?P<rest>(\s.*)?)$")


def protect_question_marks(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        body = line.rstrip("\n")
        match = _LINE.match(body) if body.rstrip().endswith("?") else None
        if match is None:
            out.append(line)
            continue
        indent, assign, rest = match.group("indent"), match.group("assign") or "", match.group("rest").strip()
        newline = "\n" if line.endswith("\n") else ""
        out.append(f"{indent}{assign}get_ipython().run_line_magic('kimi', {rest!r}){newline}")
    return out
