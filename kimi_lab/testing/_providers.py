"""What real providers serving Kimi did by December 2026, modelled for the loopback server.

Why: kimi_lab's client must be tested against the providers' actual rules (which model ids exist,
which request fields each model rejects, which reasoning it needs echoed back), not against our
own assumptions. Every behaviour cites where it was seen; wording marked "unconfirmed" was not
found verbatim and follows the provider's pattern for its confirmed messages. This module is an
independent model of the providers: it imports nothing from kimi_lab outside kimi_lab.testing.

Sources named "§8" are /work/shared/kimi-protocol.md section 8; "owner/repo#N" are GitHub
issues and pull requests where the provider's response was quoted.
"""

from __future__ import annotations

from typing import Any

from kimi_lab.testing._replies import _dumps

UPSTREAMS: tuple[str, ...] = ("moonshot",)

# OpenRouter puts the upstream's display name in error metadata: iOfficeAI/AionUi#2746, charmbracelet/crush#2633.
_PROVIDER_NAMES = {"moonshot": "Moonshot AI"}
# OpenRouter error bodies carry the caller's account id next to "error": RightNow-AI/openfang#697.
_OPENROUTER_USER = "user_loopback"

# -- model families -----------------------------------------------------------------------------------------

# Moonshot's model list (§8; promptfoo's Moonshot page; platform.kimi.ai/docs/api/models-overview), grouped by the
# request rules they share. K2 Thinking left Moonshot's own API in 2026 but stays on OpenRouter.
_FAMILIES: dict[str, str] = {
    "kimi-k2-thinking": "k2-thinking",
    "kimi-k2-thinking-turbo": "k2-thinking",
    "kimi-k2.5": "k2.5",
    "kimi-k2.6": "k2.6",
    "kimi-k2.7-code": "k2.7-code",
    "kimi-k2.7-code-highspeed": "k2.7-code",
    "kimi-k3": "k3",
    "kimi-k3.1-pro": "k3",
}
_VENDOR_PREFIX = "moonshotai/"  # OpenRouter's namespace for Moonshot's models (seed 001)


def model_key(model: Any) -> str | None:
    """Moonshot's id for `model`: case-insensitive, with or without OpenRouter's "moonshotai/" prefix."""
    if not isinstance(model, str):
        return None
    key = model.strip().lower()
    if key.startswith(_VENDOR_PREFIX):
        key = key[len(_VENDOR_PREFIX) :]
    return key


def model_family(model: Any) -> str | None:
    """The rule family of a Moonshot model id, or None for a model these rules do not know."""
    key = model_key(model)
    return _FAMILIES.get(key) if key is not None else None


# -- error bodies -------------------------------------------------------------------------------------------


def moonshot_error(message: str, error_type: str = "invalid_request_error") -> dict[str, Any]:
    """Moonshot's error body: {"error": {"message", "type"}}, no code field
    (microsoft/vscode#306695, mozilla-ai/any-llm#778)."""
    return {"error": {"message": message, "type": error_type}}


def moonshot_model_not_found(model: str) -> dict[str, Any]:
    """Moonshot's 404 for an id it does not serve (a retired one included): §8; mozilla-ai/any-llm#778,
    666ghj/BettaFish#351, OpenHands/OpenHands#15321."""
    return moonshot_error(f"Not found the model {model} or Permission denied", "resource_not_found_error")


def openrouter_invalid_model(model: str) -> dict[str, Any]:
    """OpenRouter's 400 for an unknown model id: RightNow-AI/openfang#697, sipeed/picoclaw#1790,
    OpenRouterTeam/openrouter-examples#74, deepwn/addi#15 (all: HTTP 400, this body)."""
    return {"error": {"message": f"{model} is not a valid model ID", "code": 400}, "user_id": _OPENROUTER_USER}


def openai_model_not_found(model: str) -> dict[str, Any]:
    """OpenAI's 404 for an unknown model, which OpenAI-compatible hosts copy: rd-1-2022/ai-openai-helloworld#9,
    timkmecl/chatgpt-vscode#45, continuedev/continue#10832 (Groq)."""
    return {
        "error": {
            "message": f"The model `{model}` does not exist or you do not have access to it.",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }


def openrouter_provider_error(status: int, upstream: str, raw: dict[str, Any]) -> dict[str, Any]:
    """OpenRouter's envelope around an upstream's error: the upstream body as a JSON string in metadata.raw, the
    upstream's status kept (iOfficeAI/AionUi#2746, charmbracelet/crush#2633, NousResearch/hermes-agent#97311)."""
    return {
        "error": {
            "message": "Provider returned error",
            "code": status,
            "metadata": {"raw": _dumps(raw), "provider_name": _PROVIDER_NAMES[upstream], "is_byok": False},
        },
        "user_id": _OPENROUTER_USER,
    }


def model_not_served(dialect: str, model: Any) -> tuple[int, dict[str, Any]]:
    """The dialect's answer to a chat request naming a model it does not serve."""
    name = model if isinstance(model, str) else _dumps(model)
    if dialect == "moonshot":
        return 404, moonshot_model_not_found(name)
    if dialect == "openrouter":
        return 400, openrouter_invalid_model(name)
    return 404, openai_model_not_found(name)


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


# -- GET /models --------------------------------------------------------------------------------------------

# Created stamps: K2 Thinking's from OpenRouter's listing (seed 001), the rest from Moonshot's own listing
# (OpenHands/OpenHands#15321 shows created 1784267407 for kimi-k3 and kimi-k2.7-code-highspeed).
_CREATED = {"k2-thinking": 1762440622}
_CREATED_DEFAULT = 1784267407
# Context, output limit and USD per million tokens (in, out, cache hit): §8 for K2 Thinking (seed 001), K2.6 and K3.
# K2.5, K2.7 Code and K3.1 Pro prices are not in §8: K2.6's and K3's stand in for them.
_LIMITS = {"k3": (1_048_576, 131_072)}
_LIMITS_DEFAULT = (262_144, 262_144)
_PRICES = {"k2-thinking": (0.60, 2.50, 0.15), "k3": (3.00, 15.00, 0.30)}
_PRICES_DEFAULT = (0.95, 4.00, 0.16)
_DISPLAY = {
    "kimi-k2-thinking": "Kimi K2 Thinking",
    "kimi-k2-thinking-turbo": "Kimi K2 Thinking Turbo",
    "kimi-k2.5": "Kimi K2.5",
    "kimi-k2.6": "Kimi K2.6",
    "kimi-k2.7-code": "Kimi K2.7 Code",
    "kimi-k2.7-code-highspeed": "Kimi K2.7 Code Highspeed",
    "kimi-k3": "Kimi K3",
    "kimi-k3.1-pro": "Kimi K3.1 Pro",
}
# OpenRouter's supported_parameters for K2 Thinking (seed 001). Leaving out the sampling fields the newer models fix
# is this model's assumption, not a listing seen.
_OPENROUTER_PARAMETERS = (
    "frequency_penalty",
    "include_reasoning",
    "max_tokens",
    "presence_penalty",
    "reasoning",
    "response_format",
    "stop",
    "structured_outputs",
    "temperature",
    "tool_choice",
    "tools",
    "top_p",
)
_FIXED_NAMES = frozenset({"temperature", "top_p", "presence_penalty", "frequency_penalty"})


def _dollars(per_token: float) -> str:
    """OpenRouter's price text, dollars per token in plain decimals: 6e-07 -> "0.0000006"."""
    return f"{per_token:.12f}".rstrip("0").rstrip(".") or "0"


def _per_token(per_million: float) -> str:
    """USD per million tokens as OpenRouter's string of dollars per token: 0.6 -> "0.0000006"."""
    return _dollars(per_million / 1e6)


def _price_text(value: Any) -> str:
    return value if isinstance(value, str) else _dollars(float(value))


def _defaults(model_id: str) -> dict[str, Any]:
    key = model_key(model_id) or model_id
    family = _FAMILIES.get(key, "")
    context, output = _LIMITS.get(family, _LIMITS_DEFAULT)
    prompt, completion, cached = _PRICES.get(family, _PRICES_DEFAULT)
    parameters = [p for p in _OPENROUTER_PARAMETERS if not (family in _FIXED_SAMPLING_FAMILIES and p in _FIXED_NAMES)]
    return {
        "created": _CREATED.get(family, _CREATED_DEFAULT),
        "name": f"MoonshotAI: {_DISPLAY[key]}" if key in _DISPLAY else model_id,
        "context_length": context,
        "max_completion_tokens": output,
        "pricing": {
            "prompt": _per_token(prompt),
            "completion": _per_token(completion),
            "input_cache_read": _per_token(cached),
        },
        "supported_parameters": parameters,
        "supports_reasoning": True,
        "owned_by": "moonshot",
    }


_SHAPED = frozenset(
    {
        "created",
        "name",
        "context_length",
        "max_completion_tokens",
        "pricing",
        "owned_by",
        "supported_parameters",
        "supports_reasoning",
    }
)


def model_entry(dialect: str, model_id: str, info: dict[str, Any] | None) -> dict[str, Any]:
    """One GET /models entry in the dialect's shape; `info` overrides the defaults (pricing merged key by key,
    numbers there read as dollars per token); keys the shape does not use are added as they are."""
    info = dict(info or {})
    merged = _defaults(model_id)
    pricing = {**merged["pricing"], **{k: _price_text(v) for k, v in (info.pop("pricing", None) or {}).items()}}
    merged.update({k: v for k, v in info.items() if k in _SHAPED})
    extra = {k: v for k, v in info.items() if k not in _SHAPED}
    if dialect == "openrouter":
        # OpenRouter's model object (seed 001; openrouter.ai/docs/models).
        entry: dict[str, Any] = {
            "id": model_id,
            "canonical_slug": model_id,
            "name": merged["name"],
            "created": merged["created"],
            "context_length": merged["context_length"],
            "pricing": pricing,
            "top_provider": {
                "context_length": merged["context_length"],
                "max_completion_tokens": merged["max_completion_tokens"],
                "is_moderated": False,
            },
            "per_request_limits": None,
            "supported_parameters": list(merged["supported_parameters"]),
        }
        entry.update(extra)
        return entry
    # Moonshot's model object (OpenHands/OpenHands#15321: curl of api.moonshot.ai/v1/models).
    entry = {
        "id": model_id,
        "object": "model",
        "created": merged["created"],
        "owned_by": merged["owned_by"],
        "context_length": merged["context_length"],
        "supports_reasoning": merged["supports_reasoning"],
    }
    entry.update(extra)
    return entry


def models_listing(dialect: str, models: list[str], model_info: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """GET /models: OpenRouter's {"data": [...]} (openrouter.ai/docs/models), else Moonshot's
    {"object": "list", "data": [...]} (OpenHands/OpenHands#15321)."""
    data = [model_entry(dialect, model_id, model_info.get(model_id)) for model_id in models]
    if dialect == "openrouter":
        return {"data": data}
    return {"object": "list", "data": data}
