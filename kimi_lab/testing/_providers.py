"""What real providers serving Kimi did by December 2026, modelled for the loopback server: the model ids
they know and the error bodies they send.

Why: kimi_lab's client must be tested against the providers' actual rules (which model ids exist,
which request fields each model rejects, which reasoning it needs echoed back), not against our
own assumptions. Every behaviour cites where it was seen; wording marked "unconfirmed" was not
found verbatim and follows the provider's pattern for its confirmed messages. Moonshot's per-model
request rules are in _moonshot_rules, the GET /models listings in _model_listing; with this module
they are an independent model of the providers, importing nothing from kimi_lab outside kimi_lab.testing.

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
