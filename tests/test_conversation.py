"""What of a conversation goes back on the wire, per provider dialect."""

from __future__ import annotations

import pytest

from kimi_lab.core.conversation import Conversation, Message

CALL = [{"id": "functions.lookup:0", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}]


def loop_conversation() -> Conversation:
    conv = Conversation("t", system="Be brief.")
    conv.messages += [
        Message("user", "old question"),
        Message("assistant", "old answer", reasoning="old reasoning", tool_calls=None),
        Message("user", "new question"),
        Message("assistant", "", reasoning="need data", tool_calls=CALL,
                reasoning_details=[{"type": "reasoning.text", "text": "need data"}]),
        Message("tool", "42", tool_call_id="functions.lookup:0"),
    ]
    return conv


@pytest.mark.parametrize(
    "dialect, expected",
    [
        ("reasoning_content", {"reasoning_content": "need data"}),
        ("reasoning", {"reasoning_content": "need data", "reasoning": "need data"}),
        # OpenRouter routes Kimi to Moonshot, which rejects a tool-call message without reasoning_content
        ("openrouter", {"reasoning_content": "need data", "reasoning": "need data",
                        "reasoning_details": [{"type": "reasoning.text", "text": "need data"}]}),
    ],
)
def test_tool_call_messages_carry_reasoning_and_final_answers_do_not(dialect, expected):
    wire = loop_conversation().wire(dialect)
    assert wire[0] == {"role": "system", "content": "Be brief."}
    assert wire[2] == {"role": "assistant", "content": "old answer"}
    assert wire[4] == {"role": "assistant", "content": "", "tool_calls": CALL, **expected}
    assert wire[5] == {"role": "tool", "tool_call_id": "functions.lookup:0", "content": "42"}


def test_models_that_want_every_reasoning_back_get_it_on_final_answers_too():
    wire = loop_conversation().wire("reasoning_content", replay="all")
    assert wire[2] == {"role": "assistant", "content": "old answer", "reasoning_content": "old reasoning"}


def test_a_tool_call_round_without_reasoning_sends_real_reasoning_not_an_empty_string():
    """Moonshot rejects "" as missing (pi issue #4251): the latest earlier reasoning goes instead, and with
    none at all, a sentence naming the calls."""
    conv = loop_conversation()
    conv.messages.append(Message("assistant", "", reasoning="", tool_calls=CALL))
    assert conv.wire("reasoning_content")[-1]["reasoning_content"] == "need data"
    alone = Conversation("t", messages=[Message("user", "q"), Message("assistant", "", tool_calls=CALL)])
    assert alone.wire("openrouter")[-1]["reasoning_content"] == "I will call lookup."


def test_tool_results_carry_the_tool_name_when_known():
    conv = Conversation("t", messages=[Message("tool", "42", tool_call_id="functions.lookup:0", name="lookup")])
    assert conv.wire("reasoning_content") == [
        {"role": "tool", "tool_call_id": "functions.lookup:0", "content": "42", "name": "lookup"}
    ]


def test_reset_keeps_the_name():
    conv = loop_conversation()
    conv.reset()
    assert conv.messages == [] and conv.system is None and conv.name == "t"
