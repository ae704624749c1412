"""The native Kimi parser: one test per edge case from the protocol notes (section 5), and a property
test that every chunking of every hand-written transcript gives the same, expected parse."""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kimi_lab.common.events import ContentDelta, ReasoningDelta, ToolCallDelta
from kimi_lab.native._markers import ALL_MARKERS, TOKEN_IDS
from kimi_lab.native._parser import UNDECIDED_LIMIT, Parsed, ParsedCall, Parser, parse

SB, SE = "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"
CB, AB, CE, END = "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>", "<|im_end|>"
INCOMPLETE = "incomplete: output ended before <|tool_call_end|>"


def call(i: str, args: str = "{}") -> str:
    return f"{CB}{i}{AB}{args}{CE}"


def ok(i: str, name: str, args: str = "{}") -> ParsedCall:
    return ParsedCall(i, name, args, None)


def P(reasoning: str = "", content: str = "", *calls: ParsedCall) -> Parsed:
    return Parsed(reasoning, content, list(calls))


def run(chunks: list[str], **kw: bool) -> tuple[Parsed, Parsed]:
    """Feed the chunks; return (the events merged per kind and call, the parser's own result)."""
    parser = Parser(**kw)
    events = [e for c in chunks for e in parser.feed(c)] + parser.close()
    reasoning, content, heads, args = [], [], {}, {}
    for e in events:
        if isinstance(e, ReasoningDelta):
            reasoning.append(e.text)
        elif isinstance(e, ContentDelta):
            content.append(e.text)
        else:
            assert isinstance(e, ToolCallDelta)
            if e.id is not None:
                assert e.index not in heads and e.index == len(heads) and e.arguments == ""
                heads[e.index] = (e.id, e.name)
                args[e.index] = []
            else:
                assert e.index in heads, "arguments before the call's id"
                args[e.index].append(e.arguments)
    result = parser.result
    merged = [ParsedCall(*heads[i], "".join(args[i]), c.error) for i, c in enumerate(result.tool_calls)]
    assert len(heads) == len(result.tool_calls)
    return Parsed("".join(reasoning), "".join(content), merged), result


W0 = call("functions.get_weather:0", '{"city":"Beijing"}')
T1 = call("functions.get_time:1")
TRICKY = r'{"q": "a <|tool_call_end|> b \" <|im_end|> c \\", "n": [1, 2]}'

# (raw output, starts_in_reasoning, expected parse); each edge case is covered at least once.
CASES: list[tuple[str, bool, Parsed]] = [
    # 0, 11: the protocol example, whole
    (f"<think>plan</think>answer{SB}{W0}{T1}{SE}{END}",
     False, P("plan", "answer", ok("functions.get_weather:0", "get_weather", '{"city":"Beijing"}'),
              ok("functions.get_time:1", "get_time"))),
    # 1: a '<' that is not a marker, and partial marker text that never completes
    ("<think>a < b <|tool_ca</think>x <|im_en", False, P("a < b <|tool_ca", "x <|im_en")),
    # 2: reasoning ends at a section, no </think>
    (f"<think>need weather{SB}{W0}{SE}", False,
     P("need weather", "", ok("functions.get_weather:0", "get_weather", '{"city":"Beijing"}'))),
    # 3: no <think>: content
    ("Just an answer.", False, P("", "Just an answer.")),
    # 3: no <think> but a </think> follows: reasoning before it
    ("plan quietly</think>the answer", False, P("plan quietly", "the answer")),
    # 3: </think> beyond the bound: content, the marker stripped
    ("x" * UNDECIDED_LIMIT + "</think>tail", False, P("", "x" * UNDECIDED_LIMIT + "tail")),
    # 3: leading whitespace before <think>; starts_in_reasoning
    ("\n  <think>r</think>c", False, P("r", "c")),
    ("r1</think>c1", True, P("r1", "c1")),
    # 4: several calls, several sections, content between
    (f"A{SB}\n{call('functions.f:0')}\n {call('functions.g:1')}\n{SE}B{SB}{call('functions.h:2')}{SE}C",
     False, P("", "ABC", ok("functions.f:0", "f"), ok("functions.g:1", "g"), ok("functions.h:2", "h"))),
    # 5: truncation: complete JSON kept, incomplete marked
    (f"{SB}{CB}functions.a:0{AB}{{\"x\": 1}}{CB}functions.b:1{AB}{{\"y\": ", False,
     P("", "", ok("functions.a:0", "a", '{"x": 1}'), ParsedCall("functions.b:1", "b", '{"y": ', INCOMPLETE))),
    (f"<think>r{SB}{CB}functions.c:", False,
     P("r", "", ParsedCall("functions.c:", "c", "",
                           "incomplete: output ended before <|tool_call_argument_begin|>"))),
    # 6: malformed JSON
    (f"{SB}{call('functions.m:0', '{bad json')}{SE}", False,
     P("", "", ParsedCall("functions.m:0", "m", "{bad json",
                          "arguments are not valid JSON: Expecting property name enclosed in double quotes: "
                          "line 1 column 2 (char 1)"))),
    # 7: markers inside JSON strings, escaped quotes and backslashes
    (f"<think>t</think>{SB}{call('functions.s:0', TRICKY)}{SE}done",
     False, P("t", "done", ok("functions.s:0", "s", TRICKY))),
    # 8: singular section markers
    (f"<think>t</think>c<|tool_call_section_begin|>{call('functions.x.y-z:7', ' {} ')}<|tool_call_section_end|>d",
     False, P("t", "cd", ok("functions.x.y-z:7", "x.y-z", " {} "))),
    # 9: stray markers stripped; text after <|im_end|> ignored
    (f"<think>r{CE}<|im_middle|>s</think>a{SE}b{CE}c<|im_assistant|>d{END}ignored{SB}{W0}",
     False, P("rs", "abcd")),
    # 10: calls inside <think>, reasoning resumes after the section
    (f"<think>a{SB}{call('functions.f:0')}{SE}b</think>c", False, P("ab", "c", ok("functions.f:0", "f"))),
    # 10: </think> inside the section: content afterwards
    (f"<think>a{SB}{call('functions.f:0')}</think>{SE}c", False, P("a", "c", ok("functions.f:0", "f"))),
    # ids: whitespace stripped, "functions." optional, names with ':' and '.'; empty arguments
    (f"{SB}{CB} functions.ns:tool.v2:12 {AB}{CE}{CB}plain{AB}{{}}{CE}{SE}",
     False, P("", "", ok("functions.ns:tool.v2:12", "ns:tool.v2", ""), ok("plain", "plain"))),
    # a bare call without a section; text between calls kept if not blank; non-object JSON
    (f"hi {call('functions.f:0', '[1]')} tail", False,
     P("", "hi  tail", ParsedCall("functions.f:0", "f", "[1]", "arguments are not a JSON object"))),
    # a call ended by the next call or the section end before <|tool_call_end|>
    (f"{SB}{CB}functions.a:0{AB}{{\"k\": \"v\"}}{CB}functions.b:1{AB}{{\"k\"{SE}after", False,
     P("", "after", ok("functions.a:0", "a", '{"k": "v"}'),
       ParsedCall("functions.b:1", "b", '{"k"',
                  "incomplete: <|tool_calls_section_end|> came before <|tool_call_end|>"))),
    # <|im_end|> right after whole JSON keeps the call; a repeated <think> is stripped
    (f"{SB}{CB}functions.a:0{AB}{{}}{END}trailing", False, P("", "", ok("functions.a:0", "a"))),
    ("<think>r</think>c", True, P("r", "c")),
    # empty output
    ("", False, P()),
]


def test_markers_and_token_ids() -> None:
    assert len(set(ALL_MARKERS)) == len(ALL_MARKERS) == 14
    assert TOKEN_IDS["<|tool_call_begin|>"] == 163597 and TOKEN_IDS["</think>"] == 163607


CASE_IDS = [
    "e11-protocol-example-whole", "e1-split-and-false-markers", "e2-reasoning-ends-at-section",
    "e3-no-think-content", "e3-no-think-then-close", "e3-close-beyond-bound", "e3-whitespace-then-think",
    "e3-starts-in-reasoning", "e4-several-calls-and-sections", "e5-truncated-args", "e5-truncated-id",
    "e6-malformed-json", "e7-markers-in-json-strings", "e8-singular-sections", "e9-stray-markers-and-im-end",
    "e10-calls-in-think", "e10-close-inside-section", "ids-and-empty-args", "bare-call-and-gap-text",
    "call-cut-by-section-end", "im-end-after-whole-json", "repeated-think-open", "empty",
]
assert len(CASE_IDS) == len(CASES)


@pytest.mark.parametrize(("text", "sir", "expected"), CASES, ids=CASE_IDS)
def test_each_case_one_shot_and_in_one_byte_chunks(text: str, sir: bool, expected: Parsed) -> None:
    assert parse(text, starts_in_reasoning=sir) == expected
    merged, result = run(list(text), starts_in_reasoning=sir)
    assert merged == result == expected


def test_split_marker_is_held_back() -> None:  # edge case 1
    p = Parser()
    assert p.feed("<think>abc<|tool_ca") == [ReasoningDelta("abc")]
    assert p.feed("lls_section_begin|><|tool_call_begin|>functions.f") == []
    assert p.feed(":0<|tool_call_argument_begin|>{\"a\": \"<|tool_call_e") == [
        ToolCallDelta(0, "functions.f:0", "f", ""), ToolCallDelta(0, arguments='{"a": "')]
    assert p.feed('nd|>"}<|tool_call_e') == []  # a call end in a string waits: text, or a string left open?
    assert p.feed("nd|>") == [ToolCallDelta(0, arguments='<|tool_call_end|>"}')]  # text: the JSON is valid
    assert p.result.tool_calls == [ok("functions.f:0", "f", '{"a": "<|tool_call_end|>"}')]


def test_undecided_start_waits_then_streams() -> None:  # edge case 3
    p = Parser()
    assert p.feed("x" * (UNDECIDED_LIMIT - 1)) == []
    assert p.feed("yz") == [ContentDelta("x" * (UNDECIDED_LIMIT - 1) + "yz")]
    assert p.feed("more") == [ContentDelta("more")]
    p = Parser()
    assert p.feed("thinking") == []
    assert p.feed("</think>ok") == [ReasoningDelta("thinking"), ContentDelta("ok")]
    p = Parser()
    assert p.feed("answer:" + SB) == [ContentDelta("answer:")]


def test_arguments_stream_before_the_call_ends() -> None:
    p = Parser(starts_in_reasoning=True)
    p.feed(f"r</think>{SB}{CB}functions.f:0{AB}")
    assert p.feed('{"text": "long') == [ToolCallDelta(0, arguments='{"text": "long')]
    assert p.result.tool_calls[0].error == "incomplete: the call is still streaming"
    assert p.feed(' story"}') == [ToolCallDelta(0, arguments=' story"}')]
    assert p.feed(CE) == [] and p.result.tool_calls == [ok("functions.f:0", "f", '{"text": "long story"}')]


def test_two_markers_in_one_chunk_and_feed_after_end() -> None:  # edge case 11, 9
    p = Parser(starts_in_reasoning=True)
    p.feed(f"</think>{SB}{CB}functions.a:0{AB}{{}}")
    assert p.feed(f"{CE}{CB}functions.b:1{AB}") == [ToolCallDelta(1, "functions.b:1", "b", "")]
    p.feed(f"{{}}{CE}{SE}{END}")
    assert p.feed("anything") == []
    p.close()
    assert [c.name for c in p.result.tool_calls] == ["a", "b"]
    with pytest.raises(RuntimeError):
        p.feed("x")


def test_truncated_complete_json_keeps_call_and_arguments_roundtrip() -> None:  # edge case 5
    args = json.dumps({"path": "C:\\dir\\<|tool_call_end|>", "q": '"quoted"'})
    out = parse(f"{SB}{CB}functions.read:3{AB}{args}")
    assert out.tool_calls == [ok("functions.read:3", "read", args)]
    assert json.loads(out.tool_calls[0].arguments)["path"].endswith("<|tool_call_end|>")


def _chunkings() -> st.SearchStrategy[tuple[int, list[int]]]:
    return st.tuples(st.integers(0, len(CASES) - 1), st.lists(st.integers(0, 10_000), max_size=40))


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts})
    bounds = [0, *points, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def _marker_splitting(text: str) -> list[str]:
    """Cut every marker occurrence after its first, middle and next-to-last character."""
    cuts: list[int] = []
    for m in ALL_MARKERS:
        start = text.find(m)
        while start >= 0:
            cuts += [start + 1, start + len(m) // 2, start + len(m) - 1]
            start = text.find(m, start + 1)
    return _split(text, cuts)


@settings(max_examples=600, deadline=None)
@given(_chunkings(), st.integers(1, 8))
def test_any_chunking_gives_the_same_parse(case: tuple[int, list[int]], width: int) -> None:
    index, cuts = case
    text, sir, expected = CASES[index]
    whole = parse(text, starts_in_reasoning=sir)
    assert whole == expected
    fixed_width = [text[i : i + width] for i in range(0, len(text), width)]
    for chunks in (_split(text, cuts), _marker_splitting(text), fixed_width):
        assert "".join(chunks) == text
        merged, result = run(chunks, starts_in_reasoning=sir)
        assert merged == result == whole


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([*ALL_MARKERS, "a", "{", "}", '"', "\\", " ", "<", "<|", ":", "x" * 300]), max_size=30),
       st.lists(st.integers(0, 10_000), max_size=20), st.booleans())
def test_random_marker_soup_never_depends_on_chunking(parts: list[str], cuts: list[int], sir: bool) -> None:
    text = "".join(parts)
    whole = parse(text, starts_in_reasoning=sir)
    merged, result = run(_split(text, cuts), starts_in_reasoning=sir)
    assert merged == result == whole
