"""Which endpoint, model and key a request goes to, resolved in one documented order:
option on the magic > `%config KimiLab` > environment > first preset whose key is set.

A base URL may carry a password (`https://user:pw@host/v1`): `Target.shown_url` and `label` mask it, and
`Target.secrets` lists it with the key, so it is scrubbed like one."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping

from kimi_lab.common.errors import KimiConfigError, KimiNoProviderError
from kimi_lab.common.secrets import credentials_in, mask_url
from kimi_lab.settings.chain import ChainValue, provider_chain
from kimi_lab.settings.config import KimiLab
from kimi_lab.settings.providers import Provider, merge_presets

__all__ = ["Target", "resolve_target", "setup_help", "sidebar_setup_help"]

ENV_MODEL = "KIMI_LAB_MODEL"
ENV_BASE_URL = "KIMI_LAB_BASE_URL"
ENV_API_KEY = "KIMI_LAB_API_KEY"


@dataclass(frozen=True)
class Target:
    provider: Provider
    base_url: str
    model: str
    api_key: str | None = field(repr=False, default=None)
    key_source: str | None = None  # the variable the key came from, for messages
    model_is_default: bool = False  # the preset's model (no -m, config or environment chose one)

    @property
    def shown_url(self) -> str:
        """The base URL as it may be shown: a password in it is `***`."""
        return mask_url(self.base_url)

    @property
    def label(self) -> str:
        return f"{self.provider.name} ({self.shown_url})"

    @property
    def secrets(self) -> list[str]:
        """The key and any credential inside the base URL (a password, a token in the query)."""
        return [s for s in (self.api_key, *credentials_in(self.base_url)) if s]


def _first(*values: str | None) -> str | None:
    return next((v for v in values if v), None)


def setup_help(presets: Mapping[str, Provider]) -> str:
    return (
        f"no provider is set up: set one of {_keyed(presets)}; or pass --base-url URL for a self-hosted "
        f"server (vLLM, SGLang, llama-server); see `%kimi providers`"
    )


def sidebar_setup_help(keys: str) -> str:
    """The same, for a chat face: it has no --base-url, and a key set now needs a kernel restart."""
    return (
        f"no provider is set up: set one of {keys} (or {ENV_BASE_URL} for a self-hosted server) in the "
        f"environment Jupyter starts from, then restart the kernel; Check setup (or %kimi doctor in a cell) "
        f"shows what is missing"
    )


def _keyed(presets: Mapping[str, Provider]) -> str:
    return ", ".join(f"{p.key_env} ({p.name})" for p in presets.values() if p.key_env)


def resolve_target(
    *,
    provider: ChainValue = None,
    model: str | None = None,
    base_url: str | None = None,
    config: KimiLab,
    env: Mapping[str, str] | None = None,
    fallback: bool = False,
) -> Target:
    """`provider` may be a chain (`moonshot,openrouter`): this resolves its first. `fallback`: a later provider
    of a chain, which gets its preset's own URL, model and key: KimiLab.model and base_url and the KIMI_LAB_*
    variables serve the first provider only (one provider's key never goes to another)."""
    env = os.environ if env is None else env
    presets = merge_presets(config.presets)
    name = next(iter(provider_chain(provider, config, env)), None)
    url = base_url if fallback else _first(base_url, config.base_url, env.get(ENV_BASE_URL))
    if name is None:
        if url:
            name = "custom"
        else:
            name = next(
                (p.name for p in presets.values() if p.key_env and env.get(p.key_env)), None
            )
            if name is None and env.get(ENV_API_KEY):
                name = "moonshot"
    if name is None:
        raise KimiNoProviderError(setup_help(presets), keys=_keyed(presets))
    preset = presets.get(name)
    if preset is None:
        raise KimiConfigError(
            f"unknown provider {name!r}: choose one of {', '.join(presets)} or add it to KimiLab.presets"
        )
    url = _first(url, preset.base_url)
    if not url:
        raise KimiConfigError(
            f"provider {name!r} has no base URL: pass --base-url URL or set {ENV_BASE_URL}"
        )
    key, source = None, None
    if env.get(ENV_API_KEY) and not fallback:
        key, source = env[ENV_API_KEY], ENV_API_KEY
    elif preset.key_env and env.get(preset.key_env):
        key, source = env[preset.key_env], preset.key_env
    if key is None and preset.key_required:
        raise KimiConfigError(
            f"no API key for {name}: set {preset.key_env} (or {ENV_API_KEY}) where Jupyter starts, "
            f"or in this kernel without saving it in the notebook: "
            f"import os, getpass; os.environ[{preset.key_env!r}] = getpass.getpass()"
        )
    chosen = model if fallback else _first(model, config.model, env.get(ENV_MODEL))
    chosen_model = _first(chosen, preset.model)
    if not chosen_model:
        raise KimiConfigError(
            f"provider {name!r} needs a model: -m PATH.gguf, -m REPO:QUANT "
            f"(e.g. unsloth/Kimi-K2-Thinking-GGUF:UD-TQ1_0) or -m REPO/FILE.gguf"
        )
    return Target(preset, url.rstrip("/"), chosen_model, key, source,
                  model_is_default=not chosen)
