"""How an answer looks: the live two-column HTML, the final Markdown, and plain text.

Live: the timeline (reasoning, interleaved with tool-call cards, in order) in a muted left
column that keeps its end in view, beside the answer as plain text on the right.
Final: the frontend's own Markdown renderer (code highlighting, math) with the timeline folded
into a one-line summary above the answer, and a footer of usage and cost.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING, Any, Sequence

from kimi_lab.common.dollars import md_plain, safe_markdown
from kimi_lab.tools.display_code import visible

if TYPE_CHECKING:
    from kimi_lab.common.result import Result, Step

__all__ = [
    "ANSWER_MIME", "answer_bundle", "call_signature", "chat_markdown", "footer", "format_cost", "live_html",
    "live_text", "markdown", "md_fence", "plain_text", "thought_summary", "tool_line"
]

LIVE_TIMELINE_CHARS = 6_000  # the live column shows the end of the timeline; the result keeps all
LIVE_STEPS = 40
STATUS_ICON = {"preparing": "✍", "running": "⏳", "asking": "⏸", "ok": "✓", "error": "✗", "denied": "⛔",
               "timeout": "⌛", "interrupted": "■"}
LIVE_STATUSES = frozenset({"preparing", "running", "asking"})  # a card in these still changes


def format_cost(cost: float | None) -> str:
    if cost is None:
        return "cost unknown"
    if cost == 0:
        return "$0"
    return f"${cost:.4f}" if cost < 1 else f"${cost:,.2f}"


def _calls(n: int) -> str:
    return f"{n} tool call{'s' if n != 1 else ''}"


def thought_summary(result: Result) -> str:
    seconds = result.thinking_time if result.thinking_time is not None else result.elapsed
    approx = "" if result.usage.reasoning else "~"
    text = f"Thought for {seconds:.1f} s, {approx}{result.reasoning_tokens:,} tokens"
    return text + (f" · {_calls(len(result.tool_calls))}" if result.tool_calls else "")


def footer(result: Result) -> str:
    u = result.usage
    where = f"{result.provider} via {result.upstream}" if result.upstream else result.provider
    parts = [result.model or "?", where or "?"]
    if u.total:
        tokens = f"{u.prompt:,} in / {u.completion:,} out"
        if u.cached:
            tokens += f" / {u.cached:,} cached"
        parts.append(tokens)
    elif not result.cache_hits:
        parts.append("tokens not reported")
    if result.cache_hits:
        parts.append(_cached(result))
    parts.append(format_cost(result.cost))
    if result.context_used and result.context:
        parts.append(f"{result.context_used:,} / {result.context:,} ctx")
    if result.files:  # estimated: a big attachment shows where its cost is
        parts.append("files: " + ", ".join(f"{name} ~{tokens:,} tokens" for name, tokens in result.files))
    if result.ttft is not None:
        parts.append(f"first token {result.ttft:.2f} s")
    tps = result.tokens_per_second
    if tps:
        parts.append(f"{tps:,.1f} tok/s")
    if result.rounds > 1:
        parts.append(f"{result.rounds} rounds")
    return " · ".join(parts)


def _cached(result: Result) -> str:
    """Model calls answered from the replay cache: their recorded tokens, not billed again."""
    c = result.cached_usage
    calls = "cached" if result.cache_hits >= result.rounds else f"{result.cache_hits} of {result.rounds} calls cached"
    return f"{calls}: {c.prompt:,} in / {c.completion:,} out" if c.total else calls


#: How every face marks an answer the user stopped (the sidebar's reducer shows the same words).
STOPPED = "⏹ stopped"


def _notes(result: Result, with_error: bool = True) -> list[str]:
    notes = list(result.warnings)
    if result.error and with_error and result.error not in notes:
        notes.append(result.error)
    return notes


def call_signature(name: str, arguments: Any, limit: int = 120) -> str:
    """`name(a=1, b="x")` from parsed arguments (or the raw text when they did not parse), with
    every character that would display as something else made visible (tools/display_code.py)."""
    if isinstance(arguments, dict):
        inner = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False, default=str)}" for k, v in arguments.items())
    else:
        inner = str(arguments)
    # One line: a name or raw arguments the model wrote with line breaks could otherwise start a
    # line of their own on the card ("· approved by you · ok") or end the Markdown <summary>.
    name, inner = _one_line(visible(name)), _one_line(visible(inner))
    if len(name) > NAME_LIMIT:
        name = name[: NAME_LIMIT - 1] + "…"
    if len(inner) > limit:
        inner = inner[: limit - 1] + "…"
    return f"{name}({inner})"


NAME_LIMIT = 64


def _one_line(text: str) -> str:
    return text.replace("\r", "␍").replace("\n", "␊").replace("\t", "␉")


def _pretty_arguments(arguments: Any) -> str:
    if isinstance(arguments, dict):
        if set(arguments) == {"code"} and isinstance(arguments["code"], str):
            return arguments["code"]
        return json.dumps(arguments, indent=2, ensure_ascii=False, default=str)
    return str(arguments)


def tool_line(step: Step) -> str:
    call = step.call
    name = call.name if call else "?"
    args = step.arguments if call is None or call.arguments is None else call.arguments  # still streaming: raw
    live = step.status in LIVE_STATUSES
    duration = f" · {call.duration:.2f} s" if call and not live else ""
    approval = call.approval if call is not None and not live else None
    if step.status == "asking":
        status = "waiting for your answer below"
    elif step.status == "denied":
        status = approval or "denied"
    else:
        status = f"{approval} · {step.status}" if approval else step.status
    return f"{STATUS_ICON.get(step.status, '')} {call_signature(name, args)} · {status}{duration}"


# -- plain text ----------------------------------------------------------------------------


def plain_text(result: Result, with_error: bool = True) -> str:
    """Readable everywhere: nbconvert, terminals, VS Code, logs. with_error=False: the error is
    shown by the exception that follows, so the answer does not say it a second time."""
    out: list[str] = []
    if result.steps and (result.show_reasoning or result.tool_calls):
        out.append(f"── reasoning ({thought_summary(result)}) ──")
        for step in result.steps:
            if step.kind == "tool":
                out.append("🔧 " + tool_line(step))
                if step.preview:
                    out.append("   " + step.preview.replace("\n", "\n   "))
            elif result.show_reasoning:
                out.append(step.text.strip())
        out.append("")
    out += ["── answer ──", result.content.strip() or "(no answer)"]
    if result.finish_reason == "cancelled":
        out.append(STOPPED)
    out += [f"⚠ {n}" for n in _notes(result, with_error)]
    out.append(f"── {footer(result)}")
    return "\n".join(out)


# -- final Markdown ------------------------------------------------------------------------


def md_fence(text: str, lang: str = "") -> str:
    ticks = "```"
    while ticks in text:
        ticks += "`"
    return f"{ticks}{lang}\n{text}\n{ticks}"


def _md_tool(step: Step) -> str:
    call = step.call
    args = _pretty_arguments(call.arguments) if call else ""
    lang = "python" if call and isinstance(call.arguments, dict) and set(call.arguments) == {"code"} else "json"
    return (
        f"<details><summary>🔧 {md_plain(tool_line(step))}</summary>\n\n"
        f"{md_fence(args, lang)}\n\n{md_fence(step.preview or '(no output)', 'text')}\n\n</details>\n"
    )


def markdown(result: Result, with_error: bool = True) -> str:
    """The final form, rendered by the frontend's Markdown (and MathJax / code highlighting);
    with_error as in plain_text."""
    out: list[str] = []
    shown = [s for s in result.steps if s.kind == "tool" or (result.show_reasoning and s.text.strip())]
    if shown:
        body = []
        for step in shown:
            if step.kind == "tool":
                body.append(_md_tool(step))
            else:
                lines = md_plain(step.text.strip()).splitlines()
                prefix = "> *" if step.kind == "note" else "> "
                body.append("\n".join(prefix + line + ("*" if step.kind == "note" and line else "")
                                      for line in lines) + "\n")
        out.append(f"<details><summary>💭 {thought_summary(result)}</summary>\n\n" + "\n".join(body) + "\n</details>\n")
    out.append(safe_markdown(result.content) if result.content.strip() else "*(no answer)*")
    if result.finish_reason == "cancelled":
        out.append(f"\n**{STOPPED}**")
    for note in _notes(result, with_error):
        out.append(f"\n> ⚠ {md_plain(note)}")
    out.append(f"\n<sub>{md_plain(footer(result))}</sub>")
    return "\n".join(out)


#: The sidebar extension renders this type (the same Markdown, plus "Insert below" on code blocks);
#: every other front end (nbconvert, VS Code, GitHub) shows text/markdown from the same bundle.
ANSWER_MIME = "application/vnd.kimi-lab.answer+json"


def answer_bundle(markdown_text: str, plain: str) -> dict[str, Any]:
    """A finished answer as every face displays it."""
    return {ANSWER_MIME: {"markdown": markdown_text}, "text/markdown": markdown_text, "text/plain": plain}


# -- live HTML -----------------------------------------------------------------------------

_LIVE_CSS = {
    "wrap": "display:flex;gap:1.2em;align-items:flex-start;",
    "left": "flex:2;min-width:0;opacity:0.78;border-left:3px solid rgba(127,127,127,.5);padding-left:.7em;",
    "scroll": "max-height:18em;overflow-y:auto;display:flex;flex-direction:column-reverse;",
    "right": "flex:3;min-width:0;",
    # flex-shrink:0 and overflow:visible: JupyterLab styles <pre> to scroll itself, which
    # would defeat the column-reverse box that keeps the end of the timeline in view.
    "pre": "white-space:pre-wrap;word-break:break-word;margin:0;font-family:inherit;flex-shrink:0;overflow:visible;",
    "code": "white-space:pre-wrap;word-break:break-word;margin:0;flex-shrink:0;overflow:visible;"
    "font-family:var(--jp-code-font-family,monospace);font-size:.95em;",
    "card": "border:1px solid rgba(127,127,127,.45);border-radius:4px;padding:.25em .5em;margin:.35em 0;"
    "font-size:.9em;",
    "note": "opacity:.7;font-size:.9em;margin-top:.4em;",
}


_STEP_CACHE_ATTR = "_live_html"


def _live_step(step: Step) -> str:
    """A step's live HTML; finished tool cards are drawn once and kept (loops can be long)."""
    cached = getattr(step, _STEP_CACHE_ATTR, None)
    if cached is not None and cached[0] == (step.status, len(step.text)):
        return cached[1]
    piece = _draw_step(step)
    if step.kind == "tool" and step.status not in LIVE_STATUSES:
        setattr(step, _STEP_CACHE_ATTR, ((step.status, len(step.text)), piece))
    return piece


def _draw_step(step: Step) -> str:
    css = _LIVE_CSS
    if step.kind == "tool" and step.status == "asking" and step.call is not None:
        from kimi_lab.tools.approval import approval_html  # the call exactly as every approval prompt shows it

        return (f'<div class="kimi-lab-tool kimi-lab-asking" style="{css["card"]}">'
                f"{approval_html(step.call.name, step.call.arguments)}"
                f"<div>⏸ waiting for your answer below</div></div>")
    if step.kind == "tool":
        preview = ""
        if step.preview:
            preview = (f'<details><summary>result</summary><pre style="{css["code"]}">'
                       f"{html.escape(step.preview)}</pre></details>")
        return f'<div class="kimi-lab-tool" style="{css["card"]}">🔧 {html.escape(tool_line(step))}{preview}</div>'
    text = html.escape(step.text)
    return f"<i>{text}</i>" if step.kind == "note" else text


def live_html(
    steps: Sequence[Step], content: str, *, elapsed: float, answering: bool, show_reasoning: bool,
    notes: list[str],
) -> str:
    """Timeline beside answer while streaming; the timeline column keeps its end in view."""
    css = _LIVE_CSS
    visible = [s for s in steps if s.kind == "tool" or show_reasoning]
    parts: list[str] = []
    size = 0
    for step in reversed(visible[-LIVE_STEPS:]):
        piece = _live_step(step)
        if size + len(piece) > LIVE_TIMELINE_CHARS and parts:
            break
        if len(piece) > LIVE_TIMELINE_CHARS and step.kind != "tool":
            piece = "…" + html.escape(step.text[-LIVE_TIMELINE_CHARS:])
        parts.append(piece)
        size += len(piece)
    hidden = len(visible) - len(parts)
    timeline = ("<i>… earlier steps above</i>\n" if hidden > 0 else "") + "\n".join(reversed(parts))
    if not show_reasoning and not any(s.kind == "tool" for s in steps):
        timeline = "<i>(reasoning hidden)</i>"
    tools = sum(1 for s in steps if s.kind == "tool")
    label = f"💭 Thought for {elapsed:.1f} s" if answering else f"💭 Thinking… {elapsed:.1f} s"
    if tools:
        label += f" · {_calls(tools)}"
    answer = html.escape(content) + "▍" if content else "<i>waiting for the answer…</i>"
    notes_html = "".join(f'<div style="{css["note"]}">⚠ {html.escape(n)}</div>' for n in notes)
    return (
        f'<div class="kimi-lab-live mathjax_ignore" style="{css["wrap"]}">'
        f'<div class="kimi-lab-reasoning" style="{css["left"]}"><details open><summary>{label}</summary>'
        f'<div style="{css["scroll"]}"><div style="{css["pre"]}">{timeline}</div></div></details></div>'
        f'<div class="kimi-lab-answer" style="{css["right"]}"><pre style="{css["code"]}">{answer}</pre></div>'
        f"</div>{notes_html}"
    )


def live_text(steps: Sequence[Step], content: str, *, show_reasoning: bool) -> str:
    parts = []
    tail = ""
    for step in steps[-5:]:
        if step.kind == "tool" and step.status == "asking" and step.call is not None:
            from kimi_lab.tools.approval import approval_text

            tail += "\n" + approval_text(step.call.name, step.call.arguments) + "\n⏸ waiting for your answer below"
        elif step.kind == "tool":
            tail += "\n🔧 " + tool_line(step)
        elif show_reasoning:
            tail += "\n" + step.text[-400:]
    if tail:
        parts.append("[thinking]" + tail)
    parts.append("[answer] " + content)
    return "\n\n".join(parts)


def chat_markdown(name: str, results: Sequence[Result]) -> str:
    """A chat as one readable document: each prompt, then its answer exactly as the magic shows it."""
    parts = [f"# {md_plain(name)}\n"]
    for i, result in enumerate(results, 1):
        prompt = result.prompt.strip()
        quoted = "\n".join("> " + line for line in md_plain(prompt).splitlines()) if prompt else "> *(empty)*"
        parts.append(f"## {i}. Prompt\n\n{quoted}\n\n{markdown(result)}\n")
    return "\n".join(parts)
