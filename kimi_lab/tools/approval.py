"""Asking the user before a tool that changes things runs.

Inside a running cell, widget clicks are not delivered, but stdin is: every Jupyter frontend
shows an input box for `input()`. With no stdin (nbclient, papermill, CI) the answer is no.
What is printed is the call as `approval_view` shows it: the output area and terminals act on
carriage returns and ANSI escapes, so the model's raw text must never reach them.
"""

from __future__ import annotations

from typing import Any

from kimi_lab.tools.display_code import approval_view, visible
from kimi_lab.tools.registry import Tool

__all__ = ["approval_html", "approval_prompt", "approval_text", "stdin_approver"]

_ANSWERS = {"y": "yes", "yes": "yes", "n": "no", "no": "no", "a": "always", "always": "always"}


def approval_text(name: str, arguments: Any) -> str:
    """The call as a text prompt shows it: the warning about hidden characters, then what runs."""
    shown = approval_view(arguments)
    warning = f"{shown.warning}\n" if shown.warning else ""
    return f"🔧 Kimi wants to run {visible(name)}:\n{warning}{shown.display}"


def approval_prompt(tool: Tool, arguments: dict[str, Any]) -> tuple[str, str]:
    """What the stdin approver prints, and the question it asks under it."""
    shown = approval_view(arguments)
    printed = approval_text(tool.name, arguments)
    hidden = " (it hides characters: see ⚠ above)" if shown.warning else ""
    return printed, f"Allow {tool.name}{hidden}? [y]es / [n]o / [a]lways this session: "


def stdin_approver(tool: Tool, arguments: dict[str, Any], *, echo: bool = True) -> str:
    """Ask on stdin; echo=False when the call is already on screen (the cell's tool card shows it)."""
    printed, question = approval_prompt(tool, arguments)
    if echo:
        print(printed, flush=True)
    for _ in range(3):
        try:
            reply = input(question)
        except BaseException as exc:  # no stdin here (StdinNotImplementedError, EOFError, OSError)
            if isinstance(exc, KeyboardInterrupt):
                raise
            print(f"(no way to ask here, so {tool.name} was not run)", flush=True)
            return "unanswered"
        answer = _ANSWERS.get(reply.strip().lower())
        if answer is not None:
            return answer
    return "no"


_APPROVAL_PRE = "white-space:pre-wrap;overflow-wrap:anywhere;margin:.3em 0;"  # a long line wraps, never hides
_APPROVAL_WARNING = "color:#c00;font-weight:bold;margin:.3em 0;"


def approval_html(name: str, arguments: Any) -> str:
    """The approval card's text: the call as every approval prompt shows it (approval_view),
    the warning above it in red, all of it HTML-escaped."""
    import html

    shown = approval_view(arguments)
    warning = f'<div style="{_APPROVAL_WARNING}">{html.escape(shown.warning)}</div>' if shown.warning else ""
    return (f"🔧 Kimi wants to run <b>{html.escape(visible(name))}</b>:{warning}"
            f'<pre style="{_APPROVAL_PRE}">{html.escape(shown.display)}</pre>')
