"""Keep IPython from reading a question mark at the end of a `%kimi` line as a help request.

IPython turns `%kimi why is the sky blue?` into `%pinfo blue`. This cell transform runs
before that and rewrites such lines into the magic call they were meant to be; `%kimi?` itself
becomes `%kimi help`, the usage with every option (the magic's docstring alone lists none).
"""

from __future__ import annotations

import re

__all__ = ["protect_question_marks"]

_LINE = re.compile(r"^(?P<indent>\s*)(?P<assign>[A-Za-z_][\w.]*\s*=\s*)?%kimi(?P<rest>(\s.*)?)$")
_HELP = re.compile(r"^(?P<indent>\s*)%kimi\s*\?\??\s*$")


def protect_question_marks(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        body = line.rstrip("\n")
        newline = "\n" if line.endswith("\n") else ""
        asks_help = _HELP.match(body)
        if asks_help is not None:
            out.append(f"{asks_help.group('indent')}get_ipython().run_line_magic('kimi', 'help'){newline}")
            continue
        match = _LINE.match(body) if body.rstrip().endswith("?") else None
        if match is None:
            out.append(line)
            continue
        indent, assign, rest = match.group("indent"), match.group("assign") or "", match.group("rest").strip()
        out.append(f"{indent}{assign}get_ipython().run_line_magic('kimi', {rest!r}){newline}")
    return out
