"""Per-model request rules: each Kimi model gets the request shape its provider accepts (kimi-protocol.md §8)."""

from __future__ import annotations

import json

import pytest

from kimi_lab.common.errors import KimiConfigError
from kimi_lab.services import ask as api
from kimi_lab.settings.config import KimiLab
from kimi_lab.settings.models import rule_for

IDS = {
    "kimi-k2-thinking": "kimi-k2-thinking",
    "moonshotai/kimi-k2-thinking": "kimi-k2-thinking",
    "Kimi-K2-Thinking": "kimi-k2-thinking",
    "moonshotai/Kimi-K2-Thinking": "kimi-k2-thinking",
    "kimi-k2-thinking-turbo": "kimi-k2-thinking",
    "kimi-k2.5": "kimi-k2.5",
    "kimi-k2.6": "kimi-k2.6",
    "moonshotai/kimi-k2.6": "kimi-k2.6",
    "kimi-k2.7-code": "kimi-k2.7-code",
    "kimi-k2.7-code-highspeed": "kimi-k2.7-code",
    "kimi-k3": "kimi-k3",
    "kimi-k3.1-pro": "kimi-k3",
    "kimi-k4-preview": "unknown Kimi",
    "gpt-4o-mini": "other model",
}


@pytest.mark.parametrize("model, rule", IDS.items())
def test_every_listed_id_finds_its_row(model: str, rule: str) -> None:
    assert rule_for(model).name == rule


def body(monkeypatch: pytest.MonkeyPatch, model: str, cfg: KimiLab | None = None, **options: object) -> dict:
    monkeypatch.setenv("MOONSHOT_API_KEY", "sk-test-rules-0123456789")
    turn = api.prepare("hi", provider="moonshot", model=model, tools="none", config=cfg or KimiLab(), **options)
    return json.loads(turn.backend.body(turn.request))


def test_k2_thinking_keeps_its_classic_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = body(monkeypatch, "kimi-k2-thinking")
    assert sent["temperature"] == 1.0 and "max_tokens" in sent
    assert not {"thinking", "reasoning_effort", "max_completion_tokens"} & set(sent)


def test_k2_6_gets_thinking_on_no_sampling_and_max_completion_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = body(monkeypatch, "kimi-k2.6")
    assert sent["thinking"] == {"type": "enabled"} and sent["max_completion_tokens"] > 0
    assert not {"temperature", "top_p", "max_tokens"} & set(sent)


def test_k3_takes_effort_and_no_thinking_field(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = body(monkeypatch, "kimi-k3", effort="high")
    assert sent["reasoning_effort"] == "high" and "thinking" not in sent and "temperature" not in sent
    assert "reasoning_effort" not in body(monkeypatch, "kimi-k3")  # the provider's default (max)


def test_k2_7_code_never_sends_disabled(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = body(monkeypatch, "kimi-k2.7-code", effort="low")
    assert "thinking" not in sent and "reasoning_effort" not in sent


def test_effort_low_turns_thinking_off_where_it_is_a_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    assert body(monkeypatch, "kimi-k2.5", effort="low")["thinking"] == {"type": "disabled"}


def test_effort_on_a_model_without_a_control_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOONSHOT_API_KEY", "sk-test-rules-0123456789")
    turn = api.prepare("hi", provider="moonshot", model="kimi-k2-thinking", tools="none", effort="max",
                       config=KimiLab())
    assert any("no effort control" in note for note in turn.result.warnings)


def test_a_sampling_option_on_a_fixed_model_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(KimiConfigError) as caught:
        body(monkeypatch, "kimi-k3", temperature=0.3)
    message = str(caught.value)
    assert "\n" not in message and "--temperature" in message and "400" in message


def test_rules_are_correctable_in_config(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = KimiLab(model_rules={"kimi-k2.6": {"fixed_sampling": False, "output_field": "max_tokens"}})
    sent = body(monkeypatch, "kimi-k2.6", cfg)
    assert sent["temperature"] == 1.0 and "max_tokens" in sent
    with pytest.raises(KimiConfigError, match="pattern"):
        body(monkeypatch, "kimi-k2.6", KimiLab(model_rules={"my-model": {"thinking": "toggle"}}))
    with pytest.raises(KimiConfigError, match="unknown fields"):
        body(monkeypatch, "kimi-k2.6", KimiLab(model_rules={"kimi-k3": {"temprature": 1}}))


def test_openrouter_route_and_effort(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test-0123456789")
    turn = api.prepare("hi", provider="openrouter", tools="none", effort="max", route="moonshotai, together",
                       config=KimiLab())
    sent = json.loads(turn.backend.body(turn.request))
    assert sent["reasoning"] == {"enabled": True, "effort": "high"}
    assert sent["provider"] == {"order": ["moonshotai", "together"], "allow_fallbacks": True}
