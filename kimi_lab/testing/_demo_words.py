"""How the demo reads and quotes a question, and what it says to one that needs no tools.

Why a separate module: `_demo` decides *what to do* from the request; this holds the words, so that the
decision ladder stays readable. Everything is deterministic (variants are picked by a hash of the
question), so a notebook re-run shows the same answers.
"""

from __future__ import annotations

import re
import zlib

_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}


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
