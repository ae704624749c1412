"""GET /models as Moonshot and OpenRouter answer it: one entry per served model id, in each provider's shape.

Why: the client reads context lengths, prices and supported parameters from this listing, so the loopback
server must answer with the real shapes. Sources are cited as in _providers.
"""

from __future__ import annotations

from typing import Any

from kimi_lab.testing._moonshot_rules import _FIXED_SAMPLING_FAMILIES
from kimi_lab.testing._providers import _FAMILIES, model_key

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
