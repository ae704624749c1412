"""The demo with the user's own `@kimi_lab.tool` functions: the arguments for each call, a ranking of the results.

Why: a tool named in the question must be called with sensible arguments (one call per documented value
when the question compares them), so the notebooks show a real tool loop over the user's code.
"""

from __future__ import annotations

import re
from typing import Any

from kimi_lab.testing._demo_words import count_asked, words

_ALL_WORDS = frozenset("all each every compare comparing ranking rank both".split())


def _candidates(prop: dict[str, Any]) -> list[Any]:
    """Values a parameter documents: its enum, or a description like 'north, south, east or west'."""
    enum = prop.get("enum")
    if isinstance(enum, list) and enum:
        return enum[:12]
    description = str(prop.get("description") or "")
    if not description or len(description) > 200:
        return []
    parts = [p.strip(" .;") for p in re.split(r",|\bor\b|\band\b|/|\|", description)]
    parts = [p for p in parts if p]
    if len(parts) >= 2 and all(re.fullmatch(r"[\w\-. ]{1,24}", p) and len(p.split()) <= 2 for p in parts):
        return parts[:12]
    return []


def _single(prop: dict[str, Any], question: str) -> Any:
    kind = prop.get("type")
    if kind in ("integer", "number"):
        match = re.search(r"-?\d+(?:\.\d+)?", question)
        number = float(match.group()) if match else 1
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    quoted = re.search(r"[\"“']([^\"”']{1,40})[\"”']", question)
    return quoted.group(1) if quoted else "example"


def user_tool_arguments(spec: dict[str, Any], question: str) -> tuple[list[dict[str, Any]], str]:
    """Arguments for each call (several when a documented parameter is to be compared across its values),
    and a sentence of reasoning saying why."""
    params = spec.get("parameters") if isinstance(spec.get("parameters"), dict) else {}
    props = params.get("properties") if isinstance(params.get("properties"), dict) else {}
    required = [r for r in params.get("required") or [] if isinstance(r, str) and isinstance(props.get(r), dict)]
    asked = words(question)
    wants_all = bool(asked & _ALL_WORDS) or count_asked(question, 0) >= 2
    base: dict[str, Any] = {}
    fan: tuple[str, list[Any]] | None = None
    why = []
    for name in required:
        prop = props[name]
        options = _candidates(prop)
        named = [o for o in options if str(o).lower() in asked]
        values = named or (options if wants_all else options[:1])
        if len(values) > 1 and fan is None:
            fan = (name, values[:8])
            why.append(f"its `{name}` takes {', '.join(map(str, options))}, so one call per value, in parallel")
        elif values:
            base[name] = values[0]
        else:
            base[name] = _single(prop, question)
    defaults = [n for n in props if n not in required]
    if defaults:
        why.append(f"{', '.join(f'`{n}`' for n in defaults)} can keep {'its' if len(defaults) == 1 else 'their'} "
                   "defaults")
    if fan is None:
        return [base], "; ".join(why)
    name, values = fan
    return [{**base, name: v} for v in values], "; ".join(why)


def _number(text: str) -> float | None:
    match = re.fullmatch(r"\s*(-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*", text)
    return float(match.group(1)) if match else None


def ranking_answer(tool: str, spec: dict[str, Any], results: list[tuple[dict[str, Any], str, str]],
                   question: str) -> tuple[str, str]:
    """(reasoning, answer) from a user tool's results: a one-line ranking when they are numbers."""
    def label(args: dict[str, Any]) -> str:
        return ", ".join(str(v) for v in args.values()) or tool

    failed = [(label(a), text) for a, status, text in results if status != "ok"]
    numeric = [(label(a), text, _number(text)) for a, status, text in results if status == "ok"]
    ranked = sorted(((n, t, v) for n, t, v in numeric if v is not None), key=lambda item: -item[2])
    fraction = "fraction" in str(spec.get("description", "")).lower()
    lines: list[str] = []
    if ranked:
        shown = [f"**{n}** {v:+.1%}" if fraction else f"**{n}** {t.strip()}" for n, t, v in ranked]
        lines.append("Ranking: " + " > ".join(shown))
        raw = ", ".join(f"{n} {t.strip()}" for n, t, _ in ranked)
        lines.append("")
        lines.append(f"(`{tool}` returned {raw}{'; fractions, so 0.25 is +25%' if fraction else ''}.)")
    other = [(n, t) for n, t, v in numeric if v is None]
    lines += [f"- {n}: {t.strip()[:200]}" for n, t in other]
    lines += [f"- {tool} failed for {n}: {t.strip()[:200]}" for n, t in failed]
    top = ranked[0] if ranked else None
    reasoning = (
        f"All {len(results)} `{tool}` calls are back. "
        + (f"{top[0]} is highest at {top[1].strip()}"
           + (f", then {ranked[1][0]} at {ranked[1][1].strip()}" if len(ranked) > 1 else "")
           + (f"; {ranked[-1][0]} is lowest at {ranked[-1][1].strip()}" if len(ranked) > 2 else "") + ". "
           if top else "")
        + (f"{len(failed)} failed, which I should mention. " if failed else "")
        + ("The user asked for a one-line ranking, so one line, with the raw numbers underneath."
           if "one-line" in question.lower() or "one line" in question.lower() else "A short ranking will do.")
    )
    return reasoning, "\n".join(lines) or f"`{tool}` returned nothing I could rank."
