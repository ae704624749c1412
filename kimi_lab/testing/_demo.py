"""The demo server's brain: from one chat request, the next Reply a Kimi K2 Thinking provider might send.

Why: the notebooks must show the product without a key (reasoning that visibly streams, tool cards over
the user's real variables, JSON when JSON is asked), so the loopback server's demo mode has to behave
like a thinking model with tools. It is stateless: all it knows comes from the request (the question,
the tools offered, the calls made and their results), so a tool loop is driven by the client exactly as
with a real provider. Scripted, not a model: it recognises a few kinds of question and says so otherwise.
Reading the request is in _demo_request; what the demo says, in _demo_words, _demo_json and _demo_user_tools.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from kimi_lab.testing._demo_data import (
    GROWTH_WORDS,
    Frame,
    Variable,
    code_answer,
    evaluate_answer,
    expression,
    parse_frame,
    parse_listing,
    pick_variable,
    python_snippet,
)
from kimi_lab.testing._demo_json import json_answer, json_example, schema_example
from kimi_lab.testing._demo_request import Call, Request, parse_request
from kimi_lab.testing._demo_user_tools import ranking_answer, user_tool_arguments
from kimi_lab.testing._demo_words import plain_answer, quoted, seed, short, variant, words
from kimi_lab.testing._replies import Reply, ToolCall

__all__ = ["DEFAULT_TOKENS_PER_SECOND", "Pacing", "demo_reply"]

DEFAULT_TOKENS_PER_SECOND = 40.0
MAX_ROUNDS = 6  # tool rounds in one turn; then the demo always answers
BUILTIN_TOOLS = frozenset({"list_variables", "describe_variable", "evaluate", "run_python"})
# Pacing budgets (seconds of streaming per reply) keep a whole demo answer near 6 s at the default rate.
_ROUND_BUDGET = 0.7
_ANSWER_BUDGET = 4.0
_ANSWER_BUDGET_MIN = 1.5
_CHARS_PER_TOKEN = 4
_DATA_WORDS = frozenset(
    "data dataset dataframe df frame table column row variable csv notebook average mean median total sum "
    "grew grow growth fastest slowest highest lowest largest smallest trend correlation distribution statistic "
    "stats revenue".split()
)
_ACTION_WORDS = frozenset(
    "add create append insert change modify update rename drop remove delete convert fix set make fill replace "
    "normalize normalise compute calculate".split()
)


@dataclass(frozen=True)
class Pacing:
    """How fast replies stream: `delay` seconds between events when set, else ~`tokens_per_second`
    (a token ~ 4 characters or one word per event); 0 and 0: no pacing at all."""

    tokens_per_second: float = DEFAULT_TOKENS_PER_SECOND
    delay: float = 0.0

    @property
    def on(self) -> bool:
        return self.delay > 0 or self.tokens_per_second > 0


@dataclass
class Step:
    """What the demo does next: call tools, or answer."""

    reasoning: str
    content: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


# ----------------------------------------------------------------------------------------------------- deciding


def _json_step(req: Request) -> Step:
    """JSON mode, or a prompt asking for 'a JSON object like {...}': the object itself, shaped like the example."""
    example = schema_example(req.schema) or json_example(req.question)
    _, plain = plain_answer(req.question, req.earlier)
    reasoning, value = json_answer(req.question, example, plain)
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return Step(reasoning, text if req.json_mode else f"```json\n{text}\n```")


def _wants_json(req: Request) -> bool:
    return req.json_mode or (
        bool(re.search(r"\bjson\b", req.question, re.IGNORECASE)) and json_example(req.question) is not None
    )


def _user_tool_step(req: Request) -> Step | None:
    named = [n for n in req.tools if n not in BUILTIN_TOOLS and re.search(rf"\b{re.escape(n)}\b", req.question)]
    if not named:
        return None
    name = named[0]
    spec = req.tools[name]
    done = req.called(name)
    if done:
        reasoning, content = ranking_answer(name, spec, [(c.arguments, c.status, c.result) for c in done],
                                            req.question)
        return Step(reasoning, content)
    calls, why = user_tool_arguments(spec, req.question)
    purpose = str(spec.get("description") or "").split("\n")[0].strip()
    reasoning = (
        f"The user asks me to use `{name}`: {quoted(req.question)} "
        f"{'It computes: ' + purpose + ' ' if purpose else ''}"
        f"{why[0].upper() + why[1:] + '. ' if why else ''}"
        f"That is {len(calls)} call{'s' if len(calls) != 1 else ''}; then I'll compare what comes back."
    )
    return Step(reasoning, calls=[(name, args) for args in calls])


def _known_frame(req: Request, question: str) -> tuple[Variable | None, Frame | None, Call | None]:
    """What the conversation already says about the data: the target variable, its frame, the listing call."""
    listed = req.latest("list_variables")
    listing = parse_listing(listed.result) if listed and listed.status == "ok" else []
    target = pick_variable(listing, question) if listing else None
    described = req.latest("describe_variable", name=target.name) if target else None
    frame = parse_frame(target.name, described.result) if target and described and described.status == "ok" else None
    return target, frame, listed


def _columns_sentence(frame: Frame) -> str:
    parts = []
    for c in frame.columns[:8]:
        if c.kind == "date" and c.low:
            parts.append(f"`{c.name}` ({c.dtype}, {c.low} to {c.high})")
        elif c.kind == "category":
            parts.append(f"`{c.name}` ({c.distinct} distinct)" if c.distinct else f"`{c.name}` (text)")
        else:
            parts.append(f"`{c.name}` ({c.dtype})")
    return ", ".join(parts)


def _code_step(req: Request) -> Step | None:
    if "run_python" not in req.tools or not words(req.question) & _ACTION_WORDS:
        return None
    target, frame, listed = _known_frame(req, req.question)
    done = req.called("run_python")
    if done:
        last = done[-1]
        reasoning, content = code_answer(str(last.arguments.get("code", "")), last.status, last.result,
                                         target.name if target else None)
        return Step(reasoning, content)
    if listed is None and "list_variables" in req.tools and not req.called("list_variables"):
        return Step(f"The user wants to change their data: {quoted(req.question)} I don't know yet what is "
                    "loaded, so list_variables first.", calls=[("list_variables", {})])
    if target and frame is None and "describe_variable" in req.tools and not req.called("describe_variable"):
        return Step(f"`{target.name}` is the {target.type} to change. I need its exact column names and dtypes "
                    "before writing code: describe_variable.", calls=[("describe_variable", {"name": target.name})])
    code, plan = python_snippet(frame, target.name if target else None, req.question)
    seen = "I described" if req.called("describe_variable") else "Earlier in this conversation I described"
    known = f"{seen} `{frame.name}`: {_columns_sentence(frame)}. " if frame else ""
    reasoning = (
        f"The user asks: {quoted(req.question)} {known}Plan: {plan}. This changes the user's data, so it has "
        "to go through run_python, which asks them first."
    )
    return Step(reasoning, calls=[("run_python", {"code": code})])


def _is_data_question(req: Request) -> bool:
    q = req.question
    if words(q) & _DATA_WORDS:
        return True
    if re.search(r"`[A-Za-z_]\w*`|\b[A-Za-z]\w*_\w+\b|\b[A-Za-z_]\w*\.[A-Za-z_]\w*\(", q):
        return True
    listed = req.latest("list_variables")
    names = {v.name.lower() for v in parse_listing(listed.result)} if listed else set()
    return bool(words(q) & names)


def _data_step(req: Request) -> Step | None:
    if not {"list_variables", "describe_variable", "evaluate"} & set(req.tools) or not _is_data_question(req):
        return None
    q = short(req.question)
    if "list_variables" in req.tools and not req.called("list_variables"):
        about_time = " It is about change over time, so I will need a date column, a grouping column and a measure." \
            if words(req.question) & GROWTH_WORDS else ""
        reasoning = variant((
            f"The user asks: {quoted(req.question)} I shouldn't guess what the notebook holds: list_variables "
            f"first, then a closer look at the data the question is about.{about_time}",
            f"“{q}” is about data in the notebook. Before computing anything I need to see what is loaded, so "
            f"list_variables comes first.{about_time}",
        ), req.question)
        return Step(reasoning, calls=[("list_variables", {})])
    listed = req.latest("list_variables")
    if listed is not None and listed.status != "ok":
        return Step("list_variables failed; I can't see the data, so I'll say so.",
                    f"I could not list your variables: {short(listed.result, 200)}")
    listing = parse_listing(listed.result) if listed else []
    target = pick_variable(listing, req.question)
    if target is None:
        names = ", ".join(f"`{v.name}`" for v in listing[:8])
        return Step("Nothing in the listing looks like data for this question; I'll say what is there.",
                    "I found no data to answer this with. " + (f"Your variables: {names}." if names else
                                                               "The notebook has no variables yet: load some "
                                                               "data (e.g. `df = pd.read_csv(...)`) and ask again."))
    described = next((c for c in reversed(req.called("describe_variable")) if c.arguments.get("name") == target.name),
                     None)
    if described is None and "describe_variable" in req.tools:
        named = target.name.lower() in words(req.question)
        alone = sum(v.type == target.type for v in listing) == 1
        why = ("the one the question names" if named else f"the only {target.type} here" if alone
               else f"the first {target.type} listed")
        reasoning = (
            f"The listing shows {len(listing)} variable{'s' if len(listing) != 1 else ''}: "
            f"{', '.join(v.name for v in listing[:6])}. `{target.name}` is a {target.type}"
            f"{' (' + target.shape + ')' if target.shape else ''}, {why}"
            f"{'; ' + target.summary if target.summary else ''}. I need its dtypes and value ranges before "
            "writing an expression: describe_variable."
        )
        return Step(reasoning, calls=[("describe_variable", {"name": target.name})])
    if described is not None and described.status != "ok":
        return Step(f"describe_variable failed for `{target.name}`; I'll report that instead of guessing.",
                    f"I could not describe `{target.name}`: {short(described.result, 300)}")
    frame = parse_frame(target.name, described.result) if described else None
    planned = expression(target, frame, req.question)
    evaluated = req.called("evaluate")
    if planned is None:
        return Step(f"`{target.name}` is not data I can compute on; I'll describe what it is.",
                    f"`{target.name}` is a {target.type}: {short(described.result if described else '', 400)}")
    expr, kind, plan = planned
    if not evaluated and "evaluate" in req.tools:
        cols = f"Its columns: {_columns_sentence(frame)}. " if frame else ""
        reasoning = (f"`{target.name}` has {frame.rows if frame else target.shape or '?'} rows. {cols}"
                     f"Plan: {plan}. One evaluate call does it.")
        return Step(reasoning, calls=[("evaluate", {"expression": expr})])
    last = evaluated[-1] if evaluated else None
    if last is None:
        return Step("evaluate is not offered, so I'll answer from the description.",
                    f"`{target.name}`: {short(described.result if described else '', 600)}")
    if last.status != "ok":
        error = short(last.result.strip(), 300)
        return Step(f"evaluate refused or failed ({short(error, 80)}). I won't loop; I'll report it.",
                    f"I tried `{last.arguments.get('expression', '')}`, but evaluate returned an error: {error}\n\n"
                    f"From the description: `{target.name}` has {frame.rows if frame else '?'} rows"
                    f"{' and columns ' + ', '.join(c.name for c in frame.columns) if frame else ''}.")
    if last.arguments.get("expression") != expr:
        kind = "other"
    reasoning, content = evaluate_answer(target, frame, str(last.arguments.get("expression", "")), kind,
                                         last.result, req.question)
    return Step(reasoning, content)


def _wrap_up(req: Request) -> Step:
    lines = [f"I stopped after {req.rounds} rounds of tool calls. What they returned:"]
    for call in req.turn[-8:]:
        args = ", ".join(f"{k}={v!r}" for k, v in call.arguments.items())
        lines.append(f"- `{call.name}({short(args, 60)})` {call.status}: {short(call.result, 100)}")
    return Step("That is enough tool rounds; time to answer with what I have.", "\n".join(lines))


def decide(req: Request) -> Step:
    """The decision ladder: JSON asked, round limit, a user tool named, a change to make, a data question,
    else a plain answer."""
    if _wants_json(req):
        return _json_step(req)
    if req.rounds >= MAX_ROUNDS:
        return _wrap_up(req)
    for plan in (_user_tool_step, _code_step, _data_step):
        step = plan(req)
        if step is not None:
            return step
    reasoning, content = plain_answer(req.question, req.earlier)
    return Step(reasoning, content)


# ------------------------------------------------------------------------------------------------------- pacing


def _paced(step: Step, req: Request, dialect: str, pacing: Pacing) -> Reply:
    """The Reply, streamed a token or a word per event at the pace asked, capped so a turn stays short."""
    calls = [ToolCall(name, json.dumps(args, ensure_ascii=False)) for name, args in step.calls]
    pieces = re.findall(r"\S+\s*|\s+", step.content)
    factor, per_event, first = 1, 0.0, 0.0
    if pacing.on:
        per_event = pacing.delay if pacing.delay > 0 else 1.0 / pacing.tokens_per_second
        if pacing.delay <= 0:
            events = (2 + math.ceil(len(step.reasoning) / _CHARS_PER_TOKEN) + len(pieces)
                      + sum(1 + math.ceil(len(c.arguments) / _CHARS_PER_TOKEN) for c in calls))
            budget = _ROUND_BUDGET if calls else max(_ANSWER_BUDGET_MIN, _ANSWER_BUDGET - 0.8 * req.rounds)
            factor = max(1, math.ceil(events * per_event / budget))
        jitter = (seed(req.question) % 1000) / 1000
        first = 0.3 + 0.3 * jitter if req.rounds == 0 else 0.15 + 0.1 * jitter
    chunks = ["".join(pieces[i : i + factor]) for i in range(0, len(pieces), factor)]
    return Reply(
        content=step.content,
        reasoning=step.reasoning,
        tool_calls=calls,
        dialect=dialect,
        chunk_chars=_CHARS_PER_TOKEN * factor,
        chunks=chunks or None,
        delay=per_event,
        first_delay=first,
    )


def demo_reply(body: dict[str, Any], *, dialect: str = "moonshot", pacing: Pacing | None = None) -> Reply:
    """The next Reply for this request, decided from the request alone."""
    req = parse_request(body)
    try:
        step = decide(req)
    except Exception as exc:  # a demo bug must show up as text, not as a dropped connection
        step = Step("Something went wrong in the demo's script.",
                    f"(kimi_lab demo server error: {type(exc).__name__}: {exc})")
    return _paced(step, req, dialect, pacing or Pacing())
