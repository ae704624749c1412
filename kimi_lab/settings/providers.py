"""Provider presets: data, not code.

Each preset says where a Kimi K2 Thinking endpoint lives, which environment variable holds
its key, which model id to ask for, how it carries reasoning on the wire, and what it costs.
Figures come from the providers' public pages (see shared/kimi-protocol.md); any of them can
be overridden, and new presets added, through `KimiLab.presets` in config.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Mapping

from kimi_lab.common.errors import KimiConfigError

__all__ = ["PRESETS", "Price", "Provider", "merge_presets"]

#: Reasoning dialects: how a provider streams reasoning and wants it echoed in tool loops.
#: "reasoning_content": Moonshot, older vLLM/SGLang; "openrouter": `reasoning` + `reasoning_details`;
#: "reasoning": newer vLLM, Together. Reading always accepts every form.
#: "native": the local llama.cpp backend, which renders and parses Kimi's own markers.
DIALECTS = ("reasoning_content", "openrouter", "reasoning", "native")

CONTEXT_256K = 262_144


@dataclass(frozen=True, slots=True)
class Price:
    """US dollars per million tokens."""

    input: float
    output: float
    cache_read: float

    def cost(self, prompt: int, completion: int, cached: int) -> float:
        """Cached prompt tokens are billed at the cache-read price, the rest at the input price."""
        cached = min(cached, prompt)
        return (
            (prompt - cached) * self.input + cached * self.cache_read + completion * self.output
        ) / 1_000_000


@dataclass(frozen=True, slots=True)
class Provider:
    name: str
    base_url: str | None
    key_env: str | None
    model: str
    dialect: str = "reasoning_content"
    price: Price | None = None
    context: int = CONTEXT_256K
    max_output: int = CONTEXT_256K
    key_required: bool = True
    note: str = ""
    # Models to prefer, in order, among those the provider lists; `model` is used when the listing
    # cannot be read. Only consulted when the model was not chosen by the user.
    prefer: tuple[str, ...] = ()
    prices: tuple[tuple[str, Price], ...] = ()  # per model id where it differs from `price`

    def price_of(self, model: str) -> Price | None:
        return next((price for name, price in self.prices if name == model), self.price)


def _kimi(name: str, base_url: str | None, key_env: str, model: str, **kw: Any) -> Provider:
    return Provider(name=name, base_url=base_url, key_env=key_env, model=model, **kw)


_STANDARD = Price(0.60, 2.50, 0.15)

PRESETS: dict[str, Provider] = {
    p.name: p
    for p in (
        # Moonshot discontinued kimi-k2-thinking(-turbo) on its own API in 2026 (promptfoo's Moonshot page:
        # "use kimi-k2.6"); K2 Thinking is still used where Moonshot lists it. Prices: kimi-protocol.md §8.
        _kimi("moonshot", "https://api.moonshot.ai/v1", "MOONSHOT_API_KEY", "kimi-k2.6",
              price=Price(0.95, 4.00, 0.16), prefer=("kimi-k2-thinking", "kimi-k2.6"),
              prices=(("kimi-k2-thinking", _STANDARD), ("kimi-k3", Price(3.00, 15.00, 0.30))),
              note="kimi-k2.6, thinking on: Moonshot retired kimi-k2-thinking from its API in 2026 (used when "
              "still listed). China: https://api.moonshot.cn/v1"),
        _kimi("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY",
              "moonshotai/kimi-k2-thinking", dialect="openrouter", price=_STANDARD),
        _kimi("tera", "https://api.tera.gw/v1", "TERA_API_KEY", "moonshotai/kimi-k2-thinking",
              price=Price(0.60, 2.50, 0.06), max_output=4_096),
        _kimi("haimaker", "https://api.haimaker.ai/v1", "HAIMAKER_API_KEY",
              "moonshotai/kimi-k2-thinking", price=_STANDARD),
        _kimi("evolink", "https://api.evolink.ai/v1", "EVOLINK_API_KEY", "kimi-k2-thinking",
              price=Price(0.556, 2.222, 0.139), note="base URL unverified"),
        _kimi("llmapi", None, "LLMAPI_API_KEY", "moonshotai/kimi-k2-thinking",
              price=Price(0.25, 0.75, 0.25), note="base URL unknown: set --base-url"),
        _kimi("together", "https://api.together.xyz/v1", "TOGETHER_API_KEY",
              "moonshotai/Kimi-K2-Thinking", dialect="reasoning",
              note="price not published in the seed pages: set it in config"),
        Provider("custom", None, None, "kimi-k2-thinking", key_required=False,
                 price=Price(0.0, 0.0, 0.0),
                 note="any OpenAI-compatible URL (vLLM, SGLang, llama-server); key optional"),
        Provider("local", "local", None, "", dialect="native", key_required=False, price=Price(0.0, 0.0, 0.0),
                 note="a GGUF run in this kernel by llama-cpp-python: -m PATH.gguf | REPO:QUANT | REPO/FILE.gguf"),
    )
}

_FIELDS = {f.name for f in fields(Provider)}


def _provider_from_mapping(name: str, spec: Mapping[str, Any], base: Provider | None) -> Provider:
    unknown = set(spec) - _FIELDS
    if unknown:
        raise KimiConfigError(
            f"preset {name!r}: unknown field(s) {', '.join(sorted(unknown))}; "
            f"known: {', '.join(sorted(_FIELDS - {'name'}))}"
        )
    values = dict(spec)
    price = values.get("price")
    try:
        if isinstance(price, Mapping):
            values["price"] = Price(**price)
        elif isinstance(price, (list, tuple)):
            values["price"] = Price(*price)
    except TypeError:
        raise KimiConfigError(
            f"preset {name!r}: price must be [input, output, cache_read] dollars per million tokens"
        ) from None
    if "prefer" in values:
        values["prefer"] = tuple(values["prefer"])
    if values.get("dialect", "reasoning_content") not in DIALECTS:
        raise KimiConfigError(f"preset {name!r}: dialect must be one of {', '.join(DIALECTS)}")
    if base is not None:
        return replace(base, **values)
    values.setdefault("model", "kimi-k2-thinking")
    values.setdefault("base_url", None)
    values.setdefault("key_env", None)
    values.setdefault("key_required", values["key_env"] is not None)
    return Provider(name=name, **values)


def merge_presets(overrides: Mapping[str, Mapping[str, Any]]) -> dict[str, Provider]:
    """The built-in presets with the user's config overrides and additions applied."""
    merged = dict(PRESETS)
    for name, spec in overrides.items():
        merged[name] = _provider_from_mapping(name, spec, merged.get(name))
    return merged
