"""Kimi as the providers really serve it in December 2026 (kimi-protocol.md §8), end to end through the
magic, against a loopback server that enforces what they enforce: OpenRouter routing to Moonshot (a
non-empty `reasoning_content` on every tool-call message), Moonshot's retired ids and model list, and the
per-model request rules (thinking control, fixed sampling, reasoning replay)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kimi_lab.core.session import session
from kimi_lab.settings.providers import PRESETS
from kimi_lab.store.recorder import recorder
from kimi_lab.testing import Reply, ToolCall

from .conftest import CANARY_KEY
from .hostile_namespace import make_sales

MOONSHOT_2026 = ["kimi-k2.5", "kimi-k2.6", "kimi-k2.7-code", "kimi-k2.7-code-highspeed", "kimi-k3", "kimi-k3.1-pro"]
OPENROUTER = {"dialect": "openrouter", "upstream": "moonshot", "model_rules": True,
              "models": ["moonshotai/kimi-k2-thinking", "moonshotai/kimi-k2.6", "moonshotai/kimi-k3"]}
MOONSHOT = {"dialect": "moonshot", "model_rules": True, "models": MOONSHOT_2026}


def evaluate(expression: str) -> ToolCall:
    return ToolCall("evaluate", json.dumps({"expression": expression}))


def data_loop(dialect: str = "moonshot") -> list[Reply]:
    """Two tool rounds over `sales`, the second streaming no reasoning at all (it happens in later rounds),
    streamed in `dialect`'s own format."""
    return [
        Reply(reasoning="Look at the regions first.", tool_calls=[evaluate("sales.region.value_counts()")],
              dialect=dialect),
        Reply(reasoning="", tool_calls=[evaluate("sales.groupby('region').units.sum().idxmax()")], dialect=dialect),
        Reply(reasoning="Enough.", content="The region that sells most is known.", dialect=dialect),
    ]


def ask(kimi: Any, options: str, prompt: str = "Which region sells most?") -> Any:
    kimi.shell.user_ns["sales"] = make_sales()
    cell = kimi.run(f"%kimi {options} {prompt}")
    assert cell.error is None, cell.stdout
    return cell


@pytest.mark.parametrize("server", [OPENROUTER], indirect=True)
def test_openrouter_to_moonshot_tool_loop_and_the_next_questions(kimi: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    kimi.server.script(*data_loop("openrouter"))
    cell = ask(kimi, "-p openrouter --chat or --new")
    assert cell.result.content == "The region that sells most is known." and cell.result.rounds == 3
    third = kimi.server.chat_requests[-1].body["messages"]
    calls = [m for m in third if m["role"] == "assistant" and m.get("tool_calls")]
    assert [bool(m["reasoning_content"]) for m in calls] == [True, True]  # never "" (Moonshot: missing)
    assert all(m.get("name") == "evaluate" for m in third if m["role"] == "tool")
    # a second question after a tool-using turn, and the same after a kernel restart and %kimi reopen
    kimi.server.script(*data_loop("openrouter"))
    assert ask(kimi, "-p openrouter --chat or", "And the least?").result.rounds == 3
    assert recorder() is not None and recorder().flush()
    session().conversations.reset("or")
    assert "reopened chat 'or'" in kimi.run("%kimi reopen or").stdout
    kimi.server.script(*data_loop("openrouter"))
    assert ask(kimi, "-p openrouter --chat or", "And in March?").result.rounds == 3


@pytest.mark.parametrize("server", [OPENROUTER], indirect=True)
def test_a_refusal_relayed_by_openrouter_names_the_host_and_its_reason(kimi: Any,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    # a wrong correction: K3 wants the reasoning of every earlier answer back, and this rule stops sending it
    kimi.config.model_rules = {"kimi-k3": {"replay": "tool_calls"}}
    kimi.server.script(Reply(reasoning="First.", content="one", dialect="openrouter"))
    assert kimi.run("%kimi -p openrouter -m moonshotai/kimi-k3 --chat k3 --new --tools none first").error is None
    cell = kimi.run("%kimi -p openrouter -m moonshotai/kimi-k3 --chat k3 --tools none second")
    message = str(cell.error)
    assert "Provider returned error" in message and "Moonshot AI: " in message and "reasoning_content" in message
    assert "\n" not in message


@pytest.mark.parametrize("server", [MOONSHOT], indirect=True)
def test_only_a_moonshot_key_just_works_on_its_current_model(kimi: Any) -> None:
    kimi.server.script(*data_loop())
    cell = ask(kimi, "--new")
    assert cell.result.model == "kimi-k2.6" and cell.result.rounds == 3
    first = kimi.server.chat_requests[0].body
    assert first["thinking"] == {"type": "enabled"} and "temperature" not in first
    assert first["max_completion_tokens"] > 0 and "max_tokens" not in first
    assert "kimi-k2.6" in cell.text()  # the footer says which model answered


@pytest.mark.parametrize("server", [{**MOONSHOT, "models": ["kimi-k2-thinking", *MOONSHOT_2026]}], indirect=True)
def test_k2_thinking_is_used_where_moonshot_still_lists_it(kimi: Any) -> None:
    kimi.server.script(Reply(reasoning="Simple.", content="hello"))
    assert kimi.run("%kimi --tools none hello").result.model == "kimi-k2-thinking"


@pytest.mark.parametrize("server", [MOONSHOT], indirect=True)
def test_a_retired_model_fails_in_one_line_naming_what_is_served(kimi: Any) -> None:
    kimi.server.script(Reply(content="never"))
    cell = kimi.run("%kimi -m kimi-k2-thinking --tools none hello")
    message = str(cell.error)
    assert "Not found the model kimi-k2-thinking" in message and "kimi-k2.6" in message and "kimi-k3" in message
    assert "\n" not in message and CANARY_KEY not in message


@pytest.mark.parametrize("server", [MOONSHOT], indirect=True)
@pytest.mark.parametrize("model", ["kimi-k3", "kimi-k2.7-code"])
def test_models_that_want_every_reasoning_back_get_it_on_the_next_question(kimi: Any, model: str) -> None:
    kimi.server.script(*data_loop())
    assert ask(kimi, f"-m {model} --new --effort high").result.rounds == 3
    kimi.server.script(Reply(reasoning="Recall.", content="It was the region above."))
    assert ask(kimi, f"-m {model}", "Remind me?").result.content == "It was the region above."
    history = kimi.server.chat_requests[-1].body["messages"]
    assert all(m.get("reasoning_content") for m in history if m["role"] == "assistant")
    first = kimi.server.chat_requests[0].body
    if model == "kimi-k3":
        assert first["reasoning_effort"] == "high" and "thinking" not in first
    else:
        assert "thinking" not in first and "reasoning_effort" not in first


PRESET_SERVERS = {
    "moonshot": {**MOONSHOT, "models": ["kimi-k2-thinking", *MOONSHOT_2026]},
    "openrouter": {**OPENROUTER},
    "together": {"dialect": "reasoning"},
}


@pytest.mark.parametrize(
    "preset, server",
    [(name, PRESET_SERVERS.get(name, {"dialect": "moonshot"})) for name in PRESETS if name != "local"],
    indirect=["server"],
)
def test_a_dataframe_tool_loop_completes_through_every_preset(kimi: Any, monkeypatch: pytest.MonkeyPatch,
                                                             preset: str) -> None:
    monkeypatch.setenv(PRESETS[preset].key_env or "KIMI_LAB_API_KEY", CANARY_KEY)  # custom: a keyed server
    dialect = {"openrouter": "openrouter", "together": "reasoning"}.get(preset, "moonshot")
    kimi.server.script(*data_loop(dialect))
    cell = ask(kimi, f"-p {preset} --new")
    assert cell.result.rounds == 3 and cell.result.content == "The region that sells most is known."


@pytest.mark.parametrize("server", [MOONSHOT], indirect=True)
def test_k2_5_with_thinking_off_sends_no_temperature(kimi: Any) -> None:
    """K2.5 accepts only 0.6 with thinking off (and 1.0 with it on): kimi_lab leaves sampling to it."""
    kimi.server.script(Reply(content="quick"))
    cell = kimi.run("%kimi -m kimi-k2.5 --effort low --tools none quick one")
    assert cell.error is None, cell.stdout
    sent = kimi.server.chat_requests[-1].body
    assert sent["thinking"] == {"type": "disabled"} and "temperature" not in sent


LIVE_PRICE = {"prompt": "0.00001", "completion": "0.00002", "input_cache_read": "0.000001"}  # $10 / $20 / $1 per 1M


@pytest.mark.parametrize(
    "server", [{**OPENROUTER, "model_info": {"moonshotai/kimi-k2-thinking": {"pricing": LIVE_PRICE}}}], indirect=True
)
def test_models_lists_kimi_first_with_live_prices_used_for_cost(kimi: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    kimi.server.script(Reply(content="priced live"))
    result = kimi.run("%kimi -p openrouter --tools none what does this cost?").result
    usage = result.usage
    expected = ((usage.prompt - usage.cached) * 10 + usage.cached * 1 + usage.completion * 20) / 1e6
    assert usage.prompt > 0 and result.cost == pytest.approx(expected)
    listed = kimi.run("%kimi models -p openrouter").text()
    assert "Models openrouter lists: 3, 3 of them Kimi" in listed
    assert listed.index("moonshotai/kimi-k2-thinking") < listed.index("moonshotai/kimi-k3") and "$" in listed
    assert len(kimi.server.chat_requests) == 1  # a listing, not a question
    config = kimi.run("%kimi config -p openrouter -m moonshotai/kimi-k3 --effort high").text()
    assert "kimi-k3; effort high (reasoning_effort); sampling fixed by the provider" in config


@pytest.mark.parametrize("server", [{"dialect": "moonshot", "models": ["kimi-k2.6"]}], indirect=True)
def test_models_names_an_unreadable_listing_in_one_line(kimi: Any) -> None:
    kimi.server.api_key = "another-key"  # the listing answers 401
    cell = kimi.run("%kimi models")
    assert cell.error is not None and "could not read the model list of moonshot" in str(cell.error)
    assert "\n" not in str(cell.error)


def doctor_rows(cell: Any) -> dict[str, str]:
    """check name -> the whole row's text, from the doctor's table."""
    table = cell.result
    assert table is not None, cell.stdout
    return {row[0][2:]: " | ".join(row) for row in table.rows}


@pytest.mark.parametrize("server", [OPENROUTER], indirect=True)
def test_doctor_on_a_healthy_setup(kimi: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    free = kimi.run("%kimi doctor -p openrouter")
    rows = doctor_rows(free)
    assert rows["API key"].startswith("✓") and "OPENROUTER_API_KEY" in rows["API key"] and CANARY_KEY not in str(rows)
    assert rows["endpoint"].startswith("✓") and rows["model"].startswith("✓")
    assert "not run" in rows["question and tool round trip"] and "doctor -y" in rows["question and tool round trip"]
    assert kimi.server.chat_requests == []  # nothing paid without -y
    kimi.server.script(Reply(reasoning="Easy.", content="ok", dialect="openrouter"),
                       Reply(reasoning="I will look.", tool_calls=[ToolCall("list_variables", "{}")],
                             dialect="openrouter"),
                       Reply(reasoning="", content="ok", dialect="openrouter"))
    rows = doctor_rows(kimi.run("%kimi doctor -p openrouter -y"))
    assert rows["streamed question"].startswith("✓") and "reasoning arrived" in rows["streamed question"]
    assert rows["tool round trip"].startswith("✓"), rows
    assert "everything works" in kimi.run("%kimi doctor -p openrouter").result.title


@pytest.mark.parametrize("server", [{**MOONSHOT, "models": ["kimi-k2.6"]}], indirect=True)
def test_doctor_explains_a_broken_setup(kimi: Any) -> None:
    rows = doctor_rows(kimi.run("%kimi doctor -m kimi-k2-thinking -y"))
    assert rows["model"].startswith("✗") and "kimi-k2.6" in rows["model"]
    question = rows["streamed question"]
    assert question.startswith("✗") and "Not found the model kimi-k2-thinking" in question
    kimi.server.api_key = "rotated"
    rows = doctor_rows(kimi.run("%kimi doctor"))
    assert rows["endpoint"].startswith("✗") and "401" in rows["endpoint"]


@pytest.mark.parametrize("server", [OPENROUTER], indirect=True)
def test_the_footer_names_the_host_openrouter_routed_to(kimi: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    kimi.server.script(Reply(reasoning="Short.", content="routed", dialect="openrouter"))
    cell = kimi.run("%kimi -p openrouter --chat routed --new --tools none who answers?")
    assert cell.result.upstream == "Moonshot AI" and "openrouter via Moonshot AI" in cell.text()
    assert recorder() is not None and recorder().flush()
    session().conversations.reset("routed")
    kimi.run("%kimi reopen routed")
    assert session().conversations.get("routed").results[-1].upstream == "Moonshot AI"  # recorded with the turn


@pytest.mark.parametrize("server", [{**OPENROUTER, "model_info": {"moonshotai/kimi-k2-thinking": {
    "supported_parameters": ["tools", "max_tokens", "reasoning", "include_reasoning"]}}}], indirect=True)
def test_fields_the_listing_says_a_model_does_not_take_are_not_sent(kimi: Any,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    kimi.server.script(Reply(content="fine", dialect="openrouter"))
    assert kimi.run("%kimi -p openrouter --tools none --seed 7 hi").error is None
    sent = kimi.server.chat_requests[-1].body
    assert "temperature" not in sent and "seed" not in sent
    assert sent["reasoning"] == {"enabled": True} and sent["max_tokens"] > 0


@pytest.mark.parametrize("server", [MOONSHOT], indirect=True)
@pytest.mark.parametrize("model", ["kimi-k2.6", "kimi-k3"])
def test_the_forced_last_round_is_accepted(kimi: Any, model: str) -> None:
    """After --max-rounds the loop asks once more with tool_choice "none": every model rule must accept it
    (Moonshot rejects "required" and named choices while thinking; "none" is what kimi_lab sends)."""
    kimi.server.script(*data_loop()[:1], Reply(reasoning="Answering now.", content="Enough data."))
    cell = ask(kimi, f"-m {model} --new --max-rounds 1")
    last = kimi.server.chat_requests[-1].body
    assert last["tool_choice"] == "none" and cell.result.content == "Enough data."
