"""Moonshot's per-model request rules: which request fields each Kimi model rejects, which reasoning it needs echoed.

Why: the client must pass the rules Moonshot enforces (directly, or behind OpenRouter), not our reading of
its docs. Sources are cited as in _providers.
"""

from __future__ import annotations

from typing import Any

from kimi_lab.testing._providers import _FAMILIES, model_family, model_key

# -- reasoning echo -----------------------------------------------------------------------------------------


def missing_reasoning(messages: Any, scope: str) -> str | None:
    """Moonshot's message for the first assistant message lacking a non-empty string `reasoning_content`, or None.

    scope "tool_calls": only assistant messages with tool_calls (K2 Thinking, K2.5, K2.6 with thinking on:
    "thinking is enabled but reasoning_content is missing in assistant tool call message at index N", quoted in
    iOfficeAI/AionUi#2746, microsoft/vscode#306695, BerriAI/litellm#22374). An empty string counts as missing
    (earendil-works/pi#4178 and pi#4251, theopenco/llmgateway#2093: "" is a 400 on K2.5/K2.6).
    scope "all": every assistant message (K2.7 Code and K3 keep Preserved Thinking always on: §8; the K3 docs quoted
    in lemon07r/opencode-kimi-full#11). The wording for a message without tool calls, "... in assistant message at
    index N", is unconfirmed.
    """
    if not isinstance(messages, list):
        return None
    for index, message in enumerate(messages):
        if not (isinstance(message, dict) and message.get("role") == "assistant"):
            continue
        has_calls = bool(message.get("tool_calls"))
        if scope == "tool_calls" and not has_calls:
            continue
        value = message.get("reasoning_content")
        if isinstance(value, str) and value:
            continue
        kind = "assistant tool call message" if has_calls else "assistant message"
        return f"thinking is enabled but reasoning_content is missing in {kind} at index {index}"
    return None


# -- Moonshot's per-model request rules ---------------------------------------------------------------------

# "Cannot be modified" sampling fields and their only accepted values (platform.kimi.ai/docs/api/models-overview,
# test-platform.kimi.ai for K2.5; §8 extends them to K2.7 Code and K3). Another value is a 400 "invalid <field>: only
# <value> is allowed for this model": temperature on K2.5 (Warma10032/VideoAdGuard#34, NousResearch/hermes-agent#12566),
# K2.7 Code (ltmoerdani/opencode-copilot-chat#45) and K3 (XCNXNXNX/dsh-portable-tavern#1); 0.6 with thinking off
# (arcsin1/oh-my-ppt#45); presence_penalty (cecli-dev/cecli#484). The same wording for top_p, n and frequency_penalty,
# and the K2.7/K3 values other than temperature, are unconfirmed. The fixed value itself is accepted (cline/cline#11109
# sends temperature 1 to K2.6), so only a different value is rejected.
_FIXED_SAMPLING_FAMILIES = frozenset({"k2.5", "k2.6", "k2.7-code", "k3"})
_FIXED_SAMPLING: dict[str, float] = {"top_p": 0.95, "n": 1, "presence_penalty": 0, "frequency_penalty": 0}
_TEMPERATURE_THINKING = 1.0
_TEMPERATURE_INSTANT = 0.6
# K3's reasoning_effort values (theopenco/llmgateway#3378 quoting Moonshot's K3 quickstart; §8).
_K3_EFFORTS = ("low", "high", "max")
# Families whose `thinking` switch exists (K2.5, K2.6: platform.kimi.ai/docs/api/models-overview).
_SWITCHABLE = frozenset({"k2.5", "k2.6"})
# Moonshot names JSON types in its type errors the Go way (LionSR/TeXRA#1905: "... and bool is not acceptable").
_JSON_TYPE_NAMES = {bool: "bool", str: "string", int: "number", float: "number", list: "array", dict: "object"}


def _json_type(value: Any) -> str:
    return _JSON_TYPE_NAMES.get(type(value), "null" if value is None else "unknown")


def _number_text(value: float) -> str:
    """1.0 -> "1", 0.6 -> "0.6": how Moonshot prints the fixed values in its messages."""
    return f"{value:g}"


def _thinking_on(family: str, thinking: Any) -> bool:
    """Whether the request runs with thinking: always, except K2.5/K2.6 with thinking.type "disabled"."""
    if family in _SWITCHABLE and isinstance(thinking, dict):
        return thinking.get("type") != "disabled"
    return True


def _thinking_error(family: str, thinking: Any) -> str | None:
    if thinking is None:
        return None
    if not isinstance(thinking, dict):
        # LionSR/TeXRA#1905 (kimi-k2-thinking given `thinking: true`).
        got = _json_type(thinking)
        return f"the thinking field in the request (expected type object) is illegal, and {got} is not acceptable"
    if family == "k2-thinking":
        return None  # always thinking; an object is accepted and ignored (platform.moonshot.ai thinking-model guide)
    if family == "k3":
        # K3 "always reasons and does not support the `thinking` parameter" (K3 docs quoted in
        # lemon07r/opencode-kimi-full#11; mnfst/modelparams.dev#168: K3 rejects thinking.type). Wording unconfirmed.
        return "invalid thinking: the thinking field is not supported for this model, use reasoning_effort"
    kind = thinking.get("type")
    keep = thinking.get("keep")
    if family == "k2.7-code":
        # can1357/oh-my-pi#3852, MoonshotAI/kimi-code#797, ltmoerdani/opencode-copilot-chat#45.
        if kind != "enabled":
            return "invalid thinking: only type=enabled is allowed for this model"
        if keep is not None and keep != "all":
            return "invalid thinking.keep: only all is allowed for this model"  # unconfirmed wording
        return None
    # K2.5 takes {"type": "enabled"|"disabled"}; K2.6 also "keep": "all" (platform.kimi.ai/docs/api/models-overview,
    # mnfst/modelparams.dev#168). Wording of these three messages unconfirmed.
    allowed = {"type", "keep"} if family == "k2.6" else {"type"}
    extra = sorted(set(thinking) - allowed)
    if extra:
        return f"invalid thinking: unknown field {extra[0]} for this model"
    if kind not in ("enabled", "disabled"):
        return "invalid thinking: only type=enabled or type=disabled is allowed for this model"
    if keep is not None and keep != "all":
        return "invalid thinking.keep: only all is allowed for this model"
    return None


def _effort_error(family: str, body: dict[str, Any]) -> str | None:
    effort = body.get("reasoning_effort")
    if effort is None:
        return None
    if family in _SWITCHABLE and body.get("thinking") is not None:
        return "cannot specify both 'thinking' and 'reasoning_effort'"  # HKUDS/nanobot#3939 (K2.5, K2.6)
    if family != "k3":
        return None
    if not isinstance(effort, str):
        return "the reasoning_effort field (expected type string) is illegal"  # BerriAI/litellm#38611
    if effort not in _K3_EFFORTS:
        return "invalid reasoning_effort: only low, high, max are allowed for this model"  # unconfirmed wording
    return None


def _tool_choice_error(family: str, body: dict[str, Any], thinking_on: bool) -> str | None:
    """Forcing a tool call with thinking on is a 400 on every model but K3 (§8; vercel/ai#19595)."""
    choice = body.get("tool_choice")
    if family == "k3" or not thinking_on:
        return None
    if choice == "required":
        # AstrBotDevs/AstrBot#7805, UKGovernmentBEIS/inspect_ai#5152.
        return "tool_choice 'required' is incompatible with thinking enabled"
    if isinstance(choice, dict):
        # UKGovernmentBEIS/inspect_ai#5152 (can1357/oh-my-pi#1077 quotes it without the quotes around specified).
        return "tool_choice 'specified' is incompatible with thinking enabled"
    return None


def _sampling_error(family: str, body: dict[str, Any], thinking_on: bool) -> str | None:
    if family not in _FIXED_SAMPLING_FAMILIES:
        return None
    fixed = {"temperature": _TEMPERATURE_THINKING if thinking_on else _TEMPERATURE_INSTANT, **_FIXED_SAMPLING}
    for name, only in fixed.items():
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value - only) < 1e-9:
            continue
        return f"invalid {name}: only {_number_text(only)} is allowed for this model"
    return None


def _tool_message_error(messages: Any) -> str | None:
    """A tool message must answer an earlier assistant tool call by its id; `name` is optional.
    Moonshot: "Invalid request: tool_call_id  is not found" for a message without one (langbot-app/LangBot#1040: the
    double space is the empty id). The same message for an id no earlier call carries is inferred from that wording."""
    if not isinstance(messages, list):
        return None
    seen: set[str] = set()
    for message in messages:
        if not isinstance(message, dict):
            continue
        if message.get("role") == "assistant":
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict) and isinstance(call.get("id"), str):
                    seen.add(call["id"])
        elif message.get("role") == "tool":
            call_id = message.get("tool_call_id")
            if not (isinstance(call_id, str) and call_id in seen):
                shown = call_id if isinstance(call_id, str) else ""
                return f"Invalid request: tool_call_id {shown} is not found"
    return None


def reasoning_scope(body: dict[str, Any]) -> str | None:
    """Which assistant messages must echo reasoning_content for this request's model, or None when none must.
    Raises KeyError for a model these rules do not know."""
    family = _FAMILIES[model_key(body.get("model")) or ""]
    if family in ("k2.7-code", "k3"):
        return "all"
    return "tool_calls" if _thinking_on(family, body.get("thinking")) else None


def moonshot_rule_error(body: dict[str, Any]) -> str | None:
    """Moonshot's 400 message (type invalid_request_error) for a request its per-model rules reject, or None.

    Unknown models get only the API-wide tool-message rule; the reasoning echo is left to the caller
    (see `reasoning_scope`)."""
    family = model_family(body.get("model"))
    if family is not None:
        thinking = body.get("thinking")
        on = _thinking_on(family, thinking)
        for error in (
            _thinking_error(family, thinking),
            _effort_error(family, body),
            _tool_choice_error(family, body, on),
            _sampling_error(family, body, on),
        ):
            if error is not None:
                return error
    return _tool_message_error(body.get("messages"))
