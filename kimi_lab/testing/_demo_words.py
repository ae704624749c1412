"""What the demo says when no data is involved: a few known questions, JSON shaped like the prompt's
example, and the arguments and ranking for a user's own tool.

Why a separate module: `_demo` decides *what to do* from the request; this holds the words, so that the
decision ladder stays readable. Everything is deterministic (variants are picked by a hash of the
question), so a notebook re-run shows the same answers.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_ALL_WORDS = frozenset("all each every compare comparing ranking rank both".split())
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


def seed(text: str) -> int:
    """A stable number per question, to vary phrasing without randomness."""
    return zlib.crc32(text.encode("utf-8", "replace"))


def variant(options: tuple[str, ...], text: str) -> str:
    return options[seed(text) % len(options)]


def words(text: str) -> set[str]:
    """Lower-case words of a question, with possessive 's removed and a singular form beside each plural."""
    found = {w.removesuffix("'s").removesuffix("’s") for w in re.findall(r"[a-z0-9_'’]+", text.lower())}
    return found | {w[:-1] for w in found if len(w) > 3 and w.endswith("s")}


def short(question: str, limit: int = 90) -> str:
    """The question on one line, shortened: what reasoning quotes."""
    line = " ".join(question.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def quoted(question: str) -> str:
    """The question in quotes, ending a sentence: punctuation stays inside the quotes."""
    text = short(question)
    return f"“{text}”" + ("" if text.endswith((".", "?", "!", "…")) else ".")


def count_asked(question: str, default: int = 3) -> int:
    """'three cities' -> 3; bounded so a prompt cannot ask for a huge list."""
    match = re.search(rf"(?<![\d.,])\b({'|'.join(_NUMBER_WORDS)}|[1-8])\b(?![-.,]?\d|-)", question.lower())
    if match is None:
        return default
    word = match.group(1)
    return _NUMBER_WORDS.get(word) or int(word)


# ------------------------------------------------------------------------------------------------ plain answers


def _next_prime(n: int) -> int | None:
    """The smallest prime above n, for n small enough to check by trial division quickly."""
    if n > 10**9:
        return None
    for candidate in range(max(n + 1, 2), n + 400):
        if all(candidate % d for d in range(2, int(candidate**0.5) + 1)):
            return candidate
    return None


def _prime_answer(question: str) -> tuple[str, str] | None:
    match = re.search(r"(\d{1,9})", question)
    if "prime" not in question.lower() or not match:
        return None
    n = int(match.group(1))
    p = _next_prime(n)
    if p is None:
        return None
    root = int(p**0.5)
    checked = [d for d in range(2, root + 1) if all(d % k for k in range(2, int(d**0.5) + 1))]
    reasoning = (
        f"The user wants one prime number above {n}. The smallest candidate is {p}. To check it I only need the "
        f"primes up to √{p} ≈ {root}: {', '.join(map(str, checked)) or 'none'}. None of them divides {p} "
        f"({p} mod {checked[-1] if checked else 2} = {p % (checked[-1] if checked else 2)}), so {p} is prime. "
        "One number was asked for; I'll give it with the one-line check."
    )
    content = f"**{p}** is a prime number above {n} (the smallest one: no prime up to √{p} ≈ {root} divides it)."
    return reasoning, content


_SKY_ONE = (
    "The sky looks blue because the molecules of the air scatter short-wavelength blue sunlight far more strongly "
    "than long-wavelength red light (Rayleigh scattering, which goes as 1/λ⁴), so blue light reaches your eyes "
    "from every direction of the sky."
)
_SKY_KIDS = (
    "- Sunlight looks white, but it is really all the colours of the rainbow mixed together.\n"
    "- When sunlight bumps into the tiny bits of air high up, the blue part gets bounced around much more than "
    "the red and yellow parts.\n"
    "- That bounced-around blue light comes at your eyes from every part of the sky, so the whole sky looks blue."
)


def _sky_answer(question: str, follow_up: bool) -> tuple[str, str]:
    q = question.lower()
    if any(w in q for w in ("ten-year-old", "child", "kid", "bullet")):
        reasoning = (
            "This follows the question about why the sky is blue. For a ten-year-old: no wavelengths or 1/λ⁴. "
            "Sunlight is a mix of colours; air bounces blue around more than red; so blue comes from everywhere. "
            "Three short bullets, one idea each, everyday words."
        )
        return reasoning, _SKY_KIDS
    reasoning = (
        f"{'Back to the sky. ' if follow_up else ''}The user wants one sentence on why the sky is blue. "
        "The physics is Rayleigh scattering: molecules much smaller than the wavelength scatter light with an "
        "intensity proportional to 1/λ⁴, so blue (~450 nm) scatters about four to five times more than red "
        "(~700 nm). Violet scatters even more, but sunlight has less of it and our eyes are less sensitive to it. "
        "One sentence, so keep it tight."
    )
    return reasoning, _SKY_ONE


def plain_answer(question: str, earlier: list[str]) -> tuple[str, str]:
    """(reasoning, answer) for a question that needs no tools; an honest note when the demo cannot answer."""
    prime = _prime_answer(question)
    if prime is not None:
        return prime
    q = question.lower()
    if "sky" in q or "scatter" in q:
        return _sky_answer(question, follow_up=False)
    if any("sky" in e.lower() for e in earlier[:2]) and len(question) < 200:
        return _sky_answer(question, follow_up=True)
    said = short(question)
    reasoning = (
        f"The user asks: {quoted(question)} I am kimi_lab's demo server, not a model: I recognise questions about the "
        "notebook's variables, tools named in the question and JSON requests, and this is none of them. "
        "Better to say so plainly than to make up an answer."
    )
    content = (
        f"*This is kimi_lab's demo server (scripted, not a model), so I cannot really answer “{said}”.* "
        "With a provider key set (for example `MOONSHOT_API_KEY`) Kimi K2 Thinking answers here.\n\n"
        "What the demo can show: questions about your notebook's data (it calls `list_variables`, "
        "`describe_variable` and `evaluate`), your own `@kimi_lab.tool` functions when you name them, "
        "`--json` answers, and `run_python` with `--tools +code`."
    )
    return reasoning, content


# ---------------------------------------------------------------------------------------------------------- JSON


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


def schema_example(schema: Any) -> dict[str, Any] | None:
    """An example object from a json_schema response format: one placeholder per property, by type."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return None
    placeholders = {"array": ["…"], "boolean": True, "integer": 1, "number": 1.0, "object": {}}
    out: dict[str, Any] = {}
    for name, prop in list(schema["properties"].items())[:40]:
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


# -------------------------------------------------------------------------------------------------- user tools


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
