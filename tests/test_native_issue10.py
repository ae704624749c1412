"""Issue 10: a tool call whose JSON leaves a string open must not swallow the calls and text after it,
and tool results must render exactly as the reference Jinja template renders them."""

from __future__ import annotations

import random
from typing import Any

import jinja2
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from kimi_lab.common.events import ContentDelta, ReasoningDelta, ToolCallDelta
from kimi_lab.native import Parsed, ParsedCall, Parser, parse, render, template_text
from kimi_lab.native._template import DEFAULT_SYSTEM, canonical_ids

SB, SE = "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"
CB, AB, CE, END = "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>", "<|im_end|>"
UNCLOSED = "arguments are not valid JSON: Unterminated string starting at: line 1 column 6 (char 5)"
BAD = '{"x":"abc'  # a string left open before <|tool_call_end|>
LEGIT = '{"code":"a<|tool_call_end|>b"}'


def call(call_id: str, args: str) -> str:
    return f"{CB}{call_id}{AB}{args}{CE}"


def ok(call_id: str, args: str) -> ParsedCall:
    return ParsedCall(call_id, call_id.removeprefix("functions.").rpartition(":")[0], args, None)


def broken(call_id: str) -> ParsedCall:
    """A call cut at its first `<|tool_call_end|>`: its raw arguments kept, the JSON error reported."""
    return ParsedCall(call_id, call_id.removeprefix("functions.").rpartition(":")[0], BAD, UNCLOSED)


TWO_IN_STRING = r'{"s":"\" <|tool_call_end|>x<|tool_call_end|>"}'

# (raw output, expected parse): the broken-call readings first, then markers that are text in a string.
CASES: dict[str, tuple[str, Parsed]] = {
    "unclosed string, then a valid call, then text": (
        f"<think>r</think>{SB}{call('functions.a:0', BAD)}{call('functions.b:1', '{}')}{SE}trailing text",
        Parsed("r", "trailing text", [broken("functions.a:0"), ok("functions.b:1", "{}")]),
    ),
    "unclosed string, then the section end and text": (
        f"{SB}{call('functions.a:0', BAD)}{SE}after{END}ignored",
        Parsed("", "after", [broken("functions.a:0")]),
    ),
    "unclosed string, then text at the end of the output": (
        f"{SB}{call('functions.a:0', BAD)}tail",
        Parsed("", "tail", [broken("functions.a:0")]),
    ),
    "two unclosed strings in a row, then a valid call": (
        f"{SB}{call('functions.a:0', BAD)}{call('functions.b:1', BAD)}{call('functions.c:2', '{}')}{SE}done",
        Parsed("", "done", [broken("functions.a:0"), broken("functions.b:1"), ok("functions.c:2", "{}")]),
    ),
    "marker inside a JSON string, then a valid call, then text": (
        f"{SB}{call('functions.a:0', LEGIT)}{call('functions.b:1', '{}')}{SE}trailing text",
        Parsed("", "trailing text", [ok("functions.a:0", LEGIT), ok("functions.b:1", "{}")]),
    ),
    "two markers inside one JSON string, after an escaped quote": (
        f"{SB}{call('functions.a:0', TWO_IN_STRING)}{SE}ok",
        Parsed("", "ok", [ok("functions.a:0", TWO_IN_STRING)]),
    ),
    "marker inside a JSON string, output truncated after whole JSON": (
        f"{SB}{CB}functions.a:0{AB}{LEGIT}",
        Parsed("", "", [ok("functions.a:0", LEGIT)]),
    ),
}


def feed_all(chunks: list[str]) -> tuple[Parsed, Parsed]:
    """Feed the chunks; return (the events merged per kind and call, the parser's own result)."""
    parser = Parser()
    events = [e for c in chunks for e in parser.feed(c)] + parser.close()
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    content = "".join(e.text for e in events if isinstance(e, ContentDelta))
    heads: dict[int, tuple[str, str]] = {}
    args: dict[int, str] = {}
    for e in events:
        if isinstance(e, ToolCallDelta) and e.id is not None:
            heads[e.index], args[e.index] = (e.id, e.name or ""), ""
        elif isinstance(e, ToolCallDelta):
            assert e.index in heads, "arguments before the call's id"
            args[e.index] += e.arguments or ""
    result = parser.result
    calls = [ParsedCall(*heads[i], args[i], c.error) for i, c in enumerate(result.tool_calls)]
    assert len(heads) == len(result.tool_calls)
    return Parsed(reasoning, content, calls), result


def random_chunks(text: str, rng: random.Random) -> list[str]:
    chunks, i = [], 0
    while i < len(text):
        size = rng.randint(1, 8)
        chunks.append(text[i : i + size])
        i += size
    return chunks


@pytest.mark.parametrize("name", CASES)
def test_one_shot_parse(name: str) -> None:
    text, expected = CASES[name]
    assert parse(text) == expected


@pytest.mark.parametrize("name", CASES)
def test_one_character_chunks(name: str) -> None:
    text, expected = CASES[name]
    merged, result = feed_all(list(text))
    assert merged == result == expected


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("name", CASES)
def test_random_chunkings_of_1_to_8_characters(name: str, seed: int) -> None:
    text, expected = CASES[name]
    rng = random.Random(seed)
    for _ in range(100):
        chunks = random_chunks(text, rng)
        merged, result = feed_all(chunks)
        assert merged == result == expected, chunks


SYS = f"<|im_system|>system<|im_middle|>{DEFAULT_SYSTEM}<|im_end|>"
TOOL_TURNS = [
    {"role": "user", "content": "weather?"},
    {"role": "assistant", "content": "", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}},
        {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
    ]},
]


def reference(env: jinja2.Environment, messages: list[dict[str, Any]]) -> str:
    """The reference template's rendering, ids made canonical first as `render` does."""
    template = env.from_string(template_text())
    return template.render(messages=canonical_ids(messages), tools=None, add_generation_prompt=True)


@pytest.mark.parametrize("make_env", [jinja2.Environment, ImmutableSandboxedEnvironment])
def test_tool_messages_with_and_without_name_render_like_the_reference(make_env: Any) -> None:
    messages = [
        *TOOL_TURNS,
        {"role": "tool", "name": "get_weather", "tool_call_id": "call_1", "content": "sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "noon"},
    ]
    assert render(messages) == reference(make_env(), messages)


def test_tool_message_without_name_keeps_its_output() -> None:
    messages = [*TOOL_TURNS[:1], {"role": "tool", "tool_call_id": "functions.f:0", "content": "1"}]
    expected = (
        SYS
        + "<|im_user|>user<|im_middle|>weather?<|im_end|>"
        + "<|im_system|>tool<|im_middle|>## Return of functions.f:0\n1<|im_end|>"
        + "<|im_assistant|>assistant<|im_middle|>"
    )
    assert render(messages) == expected == reference(jinja2.Environment(), messages)
