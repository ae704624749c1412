"""The native prompt renderer against hand-written Kimi K2 Thinking prompts, and its Jinja twin against it.

Expected strings are written out from the format rules (protocol notes, sections 4 and 5), not produced by
the code under test, so a change in either the renderer or the template shows up here.
"""

from __future__ import annotations

import copy
import json
from typing import Any, NamedTuple

import jinja2
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from kimi_lab.native._template import DEFAULT_SYSTEM, canonical_ids, render, template_text

SYS = f"<|im_system|>system<|im_middle|>{DEFAULT_SYSTEM}<|im_end|>"
GEN = "<|im_assistant|>assistant<|im_middle|>"  # also the head of every assistant turn


def call(id_: str, name: str, arguments: Any) -> dict[str, Any]:
    return {"id": id_, "type": "function", "function": {"name": name, "arguments": arguments}}


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "required": ["city"],
            "properties": {"city": {"type": "string", "description": "City name"}, "Units": {"type": "string"}},
        },
    },
}

USER_1 = {"role": "user", "content": "Weather in Paris and Rome?"}
LOOP_CALLS = {
    "role": "assistant",
    "content": "",
    "reasoning_content": "Two cities, two calls.",
    "tool_calls": [
        call("functions.get_weather:0", "get_weather", '{"city":"Paris"}'),
        call("functions.get_weather:1", "get_weather", '{"city":"Rome"}'),
    ],
}
RESULT_PARIS = {"role": "tool", "tool_call_id": "functions.get_weather:0", "content": "18C"}
RESULT_ROME = {"role": "tool", "tool_call_id": "functions.get_weather:1", "content": "24C"}
FINAL_1 = {"role": "assistant", "content": "Paris 18C, Rome 24C.", "reasoning_content": "Both in."}
LOOP_1 = [USER_1, LOOP_CALLS, RESULT_PARIS, RESULT_ROME]

USER_1_TEXT = "<|im_user|>user<|im_middle|>Weather in Paris and Rome?<|im_end|>"
CALLS_SECTION = (
    "<|tool_calls_section_begin|>"
    '<|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{"city":"Paris"}<|tool_call_end|>'
    '<|tool_call_begin|>functions.get_weather:1<|tool_call_argument_begin|>{"city":"Rome"}<|tool_call_end|>'
    "<|tool_calls_section_end|>"
)
RESULTS_TEXT = (
    "<|im_system|>tool<|im_middle|>## Return of functions.get_weather:0\n18C<|im_end|>"
    "<|im_system|>tool<|im_middle|>## Return of functions.get_weather:1\n24C<|im_end|>"
)
TURN_1_DONE = (
    f"{SYS}{USER_1_TEXT}{GEN}<think></think>{CALLS_SECTION}<|im_end|>{RESULTS_TEXT}"
    f"{GEN}<think></think>Paris 18C, Rome 24C.<|im_end|>"
)


class Case(NamedTuple):
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] | None
    add_generation_prompt: bool
    expected: str


CASES: dict[str, Case] = {
    "single user turn gets the default system prompt": Case(
        [{"role": "user", "content": "Hi"}],
        None,
        True,
        SYS + "<|im_user|>user<|im_middle|>Hi<|im_end|>" + GEN,
    ),
    "empty conversation": Case([], None, True, SYS + GEN),
    "explicit system replaces the default": Case(
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Hi"}],
        None,
        True,
        "<|im_system|>system<|im_middle|>Be terse.<|im_end|><|im_user|>user<|im_middle|>Hi<|im_end|>" + GEN,
    ),
    "tools declared first, keys sorted recursively, compact": Case(
        [{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}],
        [WEATHER_TOOL],
        True,
        "<|im_system|>tool_declare<|im_middle|>"
        '[{"function":{"description":"Weather for a city","name":"get_weather","parameters":'
        '{"properties":{"Units":{"type":"string"},"city":{"description":"City name","type":"string"}},'
        '"required":["city"],"type":"object"}},"type":"function"}]<|im_end|>'
        "<|im_system|>system<|im_middle|>S<|im_end|><|im_user|>user<|im_middle|>Hi<|im_end|>" + GEN,
    ),
    "tool loop in progress keeps its reasoning": Case(
        LOOP_1,
        None,
        True,
        f"{SYS}{USER_1_TEXT}{GEN}<think>Two cities, two calls.</think>{CALLS_SECTION}<|im_end|>{RESULTS_TEXT}{GEN}",
    ),
    "a final answer closes the loop: its reasoning and the loop's are dropped": Case(
        [*LOOP_1, FINAL_1],
        None,
        False,
        TURN_1_DONE,
    ),
    "second user turn: earlier turn empty think, new loop keeps reasoning": Case(
        [
            *LOOP_1,
            FINAL_1,
            {"role": "user", "content": "And Oslo?"},
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": "One more.",
                "tool_calls": [call("functions.get_weather:2", "get_weather", '{"city":"Oslo"}')],
            },
            {"role": "tool", "tool_call_id": "functions.get_weather:2", "content": "5C"},
        ],
        None,
        True,
        TURN_1_DONE
        + "<|im_user|>user<|im_middle|>And Oslo?<|im_end|>"
        + "<|im_assistant|>assistant<|im_middle|><think>One more.</think><|tool_calls_section_begin|>"
        + '<|tool_call_begin|>functions.get_weather:2<|tool_call_argument_begin|>{"city":"Oslo"}<|tool_call_end|>'
        + "<|tool_calls_section_end|><|im_end|>"
        + "<|im_system|>tool<|im_middle|>## Return of functions.get_weather:2\n5C<|im_end|>"
        + GEN,
    ),
    "an unfinished loop keeps its reasoning when the user interrupts it": Case(
        [*LOOP_1, {"role": "user", "content": "Stop."}],
        None,
        True,
        f"{SYS}{USER_1_TEXT}{GEN}<think>Two cities, two calls.</think>{CALLS_SECTION}<|im_end|>{RESULTS_TEXT}"
        f"<|im_user|>user<|im_middle|>Stop.<|im_end|>{GEN}",
    ),
    "foreign ids rewritten with a conversation-wide counter": Case(
        [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "", "tool_calls": [call("call_0", "f", "{}"), call("call_1", "g", "{}")]},
            {"role": "tool", "tool_call_id": "call_1", "content": "G"},
            {"role": "tool", "tool_call_id": "call_0", "content": "F"},
            {"role": "assistant", "content": "done"},
            {"role": "user", "content": "b"},
            {"role": "assistant", "content": "", "tool_calls": [call("call_0", "my-tool.v2", "{}")]},
            {"role": "tool", "tool_call_id": "call_0", "content": "H"},
        ],
        None,
        True,
        SYS
        + "<|im_user|>user<|im_middle|>a<|im_end|>"
        + "<|im_assistant|>assistant<|im_middle|><think></think><|tool_calls_section_begin|>"
        + "<|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{}<|tool_call_end|>"
        + "<|tool_call_begin|>functions.g:1<|tool_call_argument_begin|>{}<|tool_call_end|>"
        + "<|tool_calls_section_end|><|im_end|>"
        + "<|im_system|>tool<|im_middle|>## Return of functions.g:1\nG<|im_end|>"
        + "<|im_system|>tool<|im_middle|>## Return of functions.f:0\nF<|im_end|>"
        + "<|im_assistant|>assistant<|im_middle|><think></think>done<|im_end|>"
        + "<|im_user|>user<|im_middle|>b<|im_end|>"
        + "<|im_assistant|>assistant<|im_middle|><think></think><|tool_calls_section_begin|>"
        + "<|tool_call_begin|>functions.my-tool.v2:2<|tool_call_argument_begin|>{}<|tool_call_end|>"
        + "<|tool_calls_section_end|><|im_end|>"
        + "<|im_system|>tool<|im_middle|>## Return of functions.my-tool.v2:2\nH<|im_end|>"
        + GEN,
    ),
    "a tool message's name is its label, as in the official template; a user's too": Case(
        [
            {"role": "user", "name": "ada", "content": "x"},
            {"role": "assistant", "content": "", "tool_calls": [call("functions.f:0", "f", "{}")]},
            {"role": "tool", "name": "f", "tool_call_id": "functions.f:0", "content": "1"},
        ],
        None,
        True,
        SYS
        + "<|im_user|>ada<|im_middle|>x<|im_end|>"
        + "<|im_assistant|>assistant<|im_middle|><think></think><|tool_calls_section_begin|>"
        + "<|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{}<|tool_call_end|>"
        + "<|tool_calls_section_end|><|im_end|>"
        + "<|im_system|>f<|im_middle|>## Return of functions.f:0\n1<|im_end|>"
        + GEN,
    ),
    "content parts lists keep their text parts": Case(
        [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look: "},
                    {"type": "image_url", "image_url": {"url": "data:"}},
                    {"type": "text", "text": "what is it?"},
                ],
            },
            {"role": "assistant", "content": "", "tool_calls": [call("functions.f:0", "f", "{}")]},
            {"role": "tool", "tool_call_id": "functions.f:0", "content": [{"type": "text", "text": "a cat"}]},
        ],
        None,
        True,
        SYS
        + "<|im_user|>user<|im_middle|>Look: what is it?<|im_end|>"
        + "<|im_assistant|>assistant<|im_middle|><think></think><|tool_calls_section_begin|>"
        + "<|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{}<|tool_call_end|>"
        + "<|tool_calls_section_end|><|im_end|>"
        + "<|im_system|>tool<|im_middle|>## Return of functions.f:0\na cat<|im_end|>"
        + GEN,
    ),
    "no generation prompt": Case(
        [{"role": "user", "content": "Hi"}],
        None,
        False,
        SYS + "<|im_user|>user<|im_middle|>Hi<|im_end|>",
    ),
    "arguments given as objects are dumped compactly, missing ones as {}": Case(
        [
            {"role": "user", "content": "go"},
            {
                "role": "assistant",
                "content": "",
                "reasoning": "vLLM field name.",
                "tool_calls": [
                    call("functions.f:0", "f", {"z": 1, "a": {"y": [True, None], "b": 2.5}}),
                    {"id": "functions.g:1", "type": "function", "function": {"name": "g"}},
                ],
            },
        ],
        None,
        True,
        SYS
        + "<|im_user|>user<|im_middle|>go<|im_end|>"
        + "<|im_assistant|>assistant<|im_middle|><think>vLLM field name.</think><|tool_calls_section_begin|>"
        + '<|tool_call_begin|>functions.f:0<|tool_call_argument_begin|>{"a":{"b":2.5,"y":[true,null]},"z":1}'
        + "<|tool_call_end|><|tool_call_begin|>functions.g:1<|tool_call_argument_begin|>{}<|tool_call_end|>"
        + "<|tool_calls_section_end|><|im_end|>"
        + GEN,
    ),
    "non-ASCII text is kept as is, JSON escapes only what JSON must": Case(
        [
            {"role": "user", "content": "Météo à Zürich ? 天气 🌦"},
            {
                "role": "assistant",
                "content": "",
                "reasoning_content": "Zürich → 天气",
                "tool_calls": [call("functions.get_weather:0", "get_weather", {"city": "Zürich"})],
            },
        ],
        [
            {
                "type": "function",
                "function": {"name": "get_weather", "description": 'Météo "now"\n\ttab \\ <b>&\x01'},
            }
        ],
        True,
        "<|im_system|>tool_declare<|im_middle|>"
        '[{"function":{"description":"Météo \\"now\\"\\n\\ttab \\\\ <b>&\\u0001","name":"get_weather"},'
        '"type":"function"}]<|im_end|>'
        + SYS
        + "<|im_user|>user<|im_middle|>Météo à Zürich ? 天气 🌦<|im_end|>"
        + "<|im_assistant|>assistant<|im_middle|><think>Zürich → 天气</think><|tool_calls_section_begin|>"
        + '<|tool_call_begin|>functions.get_weather:0<|tool_call_argument_begin|>{"city":"Zürich"}<|tool_call_end|>'
        + "<|tool_calls_section_end|><|im_end|>"
        + GEN,
    ),
}


@pytest.mark.parametrize("name", CASES)
def test_render_matches_hand_written_prompt(name: str) -> None:
    case = CASES[name]
    assert render(case.messages, case.tools, add_generation_prompt=case.add_generation_prompt) == case.expected


def test_canonical_ids_rewrites_results_consistently_and_leaves_input_alone() -> None:
    messages = [
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [call("call_abc", "f", "{}"), call("functions.g:1", "g", "{}")],
        },
        {"role": "tool", "tool_call_id": "call_abc", "content": "x"},
        {"role": "tool", "tool_call_id": "functions.g:1", "content": "y"},
        {"role": "assistant", "content": "", "tool_calls": [call("functions.h:7", "h", "{}")]},
        {"role": "tool", "tool_call_id": "functions.h:7", "content": "z"},
        {"role": "tool", "tool_call_id": "unknown", "content": "?"},
    ]
    before = copy.deepcopy(messages)
    out = canonical_ids(messages)
    assert messages == before
    assert [c["id"] for c in out[0]["tool_calls"]] == ["functions.f:0", "functions.g:1"]
    expected_results = ["functions.f:0", "functions.g:1", "functions.h:2", "unknown"]
    assert [out[i]["tool_call_id"] for i in (1, 2, 4, 5)] == expected_results
    assert out[3]["tool_calls"][0] == call("functions.h:2", "h", "{}")


def tojson(value: Any, **_: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def brief_env() -> jinja2.Environment:
    env = jinja2.Environment(extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = tojson
    return env


def llama_cpp_python_env() -> jinja2.Environment:
    """The environment llama-cpp-python's Jinja2ChatFormatter renders a GGUF's template in."""
    return ImmutableSandboxedEnvironment(loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True)


@pytest.mark.parametrize("make_env", [brief_env, llama_cpp_python_env])
@pytest.mark.parametrize("name", CASES)
def test_jinja_template_renders_like_render(name: str, make_env: Any) -> None:
    case = CASES[name]
    template = make_env().from_string(template_text())
    text = template.render(
        messages=canonical_ids(case.messages),
        tools=case.tools,
        add_generation_prompt=case.add_generation_prompt,
    )
    assert text == render(case.messages, case.tools, add_generation_prompt=case.add_generation_prompt)


def test_template_declares_no_loop_controls() -> None:
    """Hosts without the loopcontrols extension (llama-cpp-python before 0.3.24) must still parse it."""
    jinja2.Environment().parse(template_text())
