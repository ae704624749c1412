"""The demo's JSON answers: the example object a prompt shows (or the response format's schema), filled plausibly.

Why: `--json` and "a JSON object like {...}" must get an object of the asked shape, so that structured
output shows in the demo; deterministic, like the rest of the demo's words.
"""

from __future__ import annotations

import json
import re
from typing import Any

from kimi_lab.testing._demo_words import count_asked

_RIVER_CITIES = {
    "danube": ["Vienna", "Budapest", "Belgrade", "Bratislava", "Novi Sad", "Linz"],
    "rhine": ["Basel", "Strasbourg", "Cologne", "Düsseldorf", "Mainz", "Bonn"],
    "nile": ["Cairo", "Khartoum", "Luxor", "Aswan", "Juba", "Jinja"],
    "seine": ["Paris", "Rouen", "Le Havre", "Troyes", "Melun", "Honfleur"],
    "thames": ["London", "Oxford", "Reading", "Windsor", "Henley", "Gravesend"],
    "mississippi": ["Minneapolis", "St. Louis", "Memphis", "New Orleans", "Baton Rouge", "Dubuque"],
}
_CAPITALS = frozenset({"Vienna", "Budapest", "Belgrade", "Bratislava", "Cairo", "Khartoum", "Juba", "Paris",
                       "London"})
_LISTS = {
    "colors": ["red", "green", "blue", "yellow", "purple", "orange"],
    "primes": [2, 3, 5, 7, 11, 13],
    "languages": ["Python", "Rust", "Julia", "Go", "TypeScript", "C"],
}
_REASON_KEYS = frozenset("why reason reasons explanation because rationale justification".split())
_MAX_SCAN = 20_000  # characters of a prompt searched for an example object


def _balanced(text: str, start: int) -> str | None:
    """The {...} starting at `start`, braces inside strings ignored; None when it never closes."""
    depth, in_string, escaped = 0, False, False
    for i in range(start, min(len(text), start + _MAX_SCAN)):
        ch = text[i]
        if in_string:
            escaped = ch == "\\" and not escaped
            in_string = not (ch == '"' and not escaped)
            continue
        if ch == '"':
            in_string = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def _lenient(candidate: str) -> dict[str, Any] | None:
    """Parse an example like {"cities": [...]}: an ellipsis stands for 'some value of this type'."""
    text = re.sub(r"\[\s*(?:\.\.\.|…)\s*\]", '["…"]', candidate)
    text = re.sub(r"(:\s*)(?:\.\.\.|…)", r'\1"…"', text)
    text = re.sub(r",\s*(?:\.\.\.|…)\s*(?=[}\]])", "", text)
    try:
        value = json.loads(text)
    except ValueError:
        keys = re.findall(r'"([^"\\]{1,64})"\s*:', candidate)
        return dict.fromkeys(keys, "…") if keys else None
    return value if isinstance(value, dict) and value else None


def json_example(question: str) -> dict[str, Any] | None:
    """The last object with double-quoted keys in the prompt (the example comes after any data)."""
    found, end = None, 0
    for match in re.finditer(r"\{", question[:_MAX_SCAN]):
        if match.start() < end:  # inside the object already taken: keep the outermost
            continue
        candidate = _balanced(question, match.start())
        if candidate and re.search(r'"[^"]+"\s*:', candidate):
            parsed = _lenient(candidate)
            if parsed is not None:
                found, end = parsed, match.start() + len(candidate)
    return found


class Choice(tuple):  # type: ignore[type-arg]
    """An `enum` of a schema's property: the demo answers one of its values, never something else."""


#: Words that make the demo pick an enum value (a ticket that mentions a charge is about billing).
_CHOICE_WORDS: dict[str, tuple[str, ...]] = {
    "billing": ("charge", "invoice", "billing", "payment", "card", "subscription", "price", "plan"),
    "refund": ("refund", "money back", "charged twice"),
    "bug": ("crash", "error", "bug", "broken", "fails", "freez", "not working", "doesn't work", "won't"),
    "login": ("log in", "login", "password", "sign in", "2fa", "locked out"),
    "feature_request": ("would love", "please add", "wish", "could you add", "feature", "how do i add"),
    "feature": ("would love", "please add", "wish", "could you add", "feature"),
    "praise": ("thank", "love", "great", "awesome", "amazing", "easiest", "fantastic"),
    "negative": ("angry", "frustrat", "terrible", "awful", "unacceptable", "crash", "error", "charged", "nobody",
                 "broken", "still", "again", "refund", "locked out", "fails"),
    "positive": ("thank", "love", "great", "awesome", "amazing", "easiest", "fantastic", "works well"),
}


def _choose(options: tuple[Any, ...], question: str) -> Any:
    """The first value whose own words appear in the question; else a neutral one; else one by the question's
    length (deterministic, like the rest of the demo)."""
    q = question.lower()
    for option in options:
        words = _CHOICE_WORDS.get(str(option).lower(), (str(option).lower().replace("_", " "),))
        if any(w in q for w in words):
            return option
    for fallback in ("neutral", "other", "unknown", "none"):
        if fallback in options:
            return fallback
    return options[len(question) % len(options)] if options else None


def _summary(question: str) -> str:
    """A few words of the row's own text (the longest line of the question), not the demo's disclaimer."""
    lines = [line.split(":", 1)[-1].strip() for line in question.splitlines() if line.strip()]
    longest = max(lines, key=len, default="")
    words = longest.split()
    return " ".join(words[:8]).rstrip(".,;") + ("…" if len(words) > 8 else "")


def schema_example(schema: Any) -> dict[str, Any] | None:
    """An example object from a json_schema response format: one placeholder per property, by type; an
    `enum` (a pydantic Literal) or `const` keeps its allowed values."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return None
    placeholders = {"array": ["…"], "boolean": True, "integer": 1, "number": 1.0, "object": {}}
    out: dict[str, Any] = {}
    for name, prop in list(schema["properties"].items())[:40]:
        if isinstance(prop, dict) and isinstance(prop.get("enum"), list) and prop["enum"]:
            out[str(name)] = Choice(prop["enum"])
            continue
        if isinstance(prop, dict) and "const" in prop:
            out[str(name)] = Choice([prop["const"]])
            continue
        kind = prop.get("type") if isinstance(prop, dict) else None
        out[str(name)] = placeholders.get(kind, "…") if isinstance(kind, str) else "…"
    return out


def _ratio(question: str) -> str:
    """'the ratio is 2.806451612903226' -> '2.81'; empty when no ratio is given."""
    match = re.search(r"ratio[^0-9]{0,20}(\d+(?:\.\d+)?)", question.lower())
    return f"{float(match.group(1)):.2f}" if match else ""


def _reason(question: str) -> str:
    q = question.lower()
    if "scatter" in q or "sunset" in q:
        return (
            "At sunset sunlight crosses many times more air than at noon, so more of it is scattered on the way; "
            f"a sunset/noon ratio{' of about ' + _ratio(question) if _ratio(question) else ''} fits that."
        )
    return "It is consistent with the figures given in the question."


def _fill(key: str, example: Any, question: str, answer: str, depth: int = 0) -> Any:
    lowered = key.lower()
    if isinstance(example, Choice):
        return _choose(tuple(example), question)
    if isinstance(example, bool):
        return True
    if isinstance(example, dict):
        return {k: _fill(str(k), v, question, answer, depth + 1) for k, v in example.items()} if depth < 4 else {}
    if isinstance(example, list):
        n = count_asked(question)
        if lowered in ("cities", "city"):
            river = next((r for r in _RIVER_CITIES if r in question.lower()), None)
            return (_RIVER_CITIES[river] if river else ["Tokyo", "Paris", "Nairobi", "Lima", "Oslo", "Delhi"])[:n]
        if lowered in _LISTS or lowered.replace("colour", "color") in _LISTS:
            return _LISTS[lowered.replace("colour", "color")][:n]
        item = example[0] if example else "…"
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            return list(range(1, n + 1))
        singular = lowered[:-1] if lowered.endswith("s") and len(lowered) > 3 else lowered
        return [f"{singular} {i}" for i in range(1, n + 1)]
    if isinstance(example, (int, float)):
        match = re.search(r"-?\d+(?:\.\d+)?", question)
        number = float(match.group()) if match else 1
        return int(number) if isinstance(example, int) else number
    if example is None:
        return None
    if lowered in _REASON_KEYS:
        return _reason(question)
    if lowered == "summary" and "ticket" in question.lower():
        return _summary(question)
    if lowered in ("answer", "summary", "text", "result", "description"):
        return answer
    return f"example {key}"


def json_answer(question: str, example: dict[str, Any] | None, answer: str) -> tuple[str, Any]:
    """(reasoning, value): the example's keys filled plausibly, or {"answer": ...} without an example."""
    if example is None:
        return ("No example shape was given, so one key, `answer`, holding the answer.", {"answer": answer})
    value = {k: _fill(str(k), v, question, answer) for k, v in example.items()}
    keys = ", ".join(f"`{k}`" for k in value)
    ratio = _ratio(question)
    physics = (
        f"The sunset/noon ratio is about {ratio}. Near the horizon sunlight crosses ten or more times as much air "
        "as at noon, so stronger scattering at sunset is expected, and a factor of about three is modest: plausible. "
        if ("scatter" in question.lower() and ratio) else ""
    )
    details = []
    for k, v in value.items():
        if isinstance(v, list) and v:
            details.append(f"`{k}`: {', '.join(map(str, v))}")
        elif isinstance(v, bool) and not physics:
            details.append(f"`{k}`: {'yes' if v else 'no'}")
        elif isinstance(v, str) and str(k).lower() in _REASON_KEYS and not physics:
            details.append(f"`{k}`, in one sentence: {v}")
    river = next((r for r in _RIVER_CITIES if r in question.lower()), None)
    n = count_asked(question)
    lead = ""
    if river:
        picked = _RIVER_CITIES[river][:n]
        sure = "all capitals, so" if set(picked) <= _CAPITALS else "all major cities on its banks, so"
        lead = (f"Well-known cities on the {river.title()}: {', '.join(_RIVER_CITIES[river][:n + 1])}. "
                f"I'll take {', '.join(picked)}: {sure} no doubt about any of them. ")
    reasoning = (
        f"The user wants JSON with the keys {keys}. {lead}{physics}"
        f"{'; '.join(details).rstrip('.') + '. ' if details and not river else ''}"
        "The reply must be the JSON object itself, with the types of the example."
    )
    return reasoning, value
