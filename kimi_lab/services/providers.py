"""The provider presets as every face lists them (`%kimi providers`, the sidebar's provider box): one
reading of which keys are set, never a key itself."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from kimi_lab.common.secrets import mask_url
from kimi_lab.settings.config import settings
from kimi_lab.settings.providers import Provider, merge_presets
from kimi_lab.settings.target import ENV_API_KEY

__all__ = ["ProviderStatus", "provider_statuses"]


@dataclass(frozen=True)
class ProviderStatus:
    """A preset, whether its own key variable is set, and whether it needs a key at all."""

    provider: Provider
    shown_url: str | None  # the base URL with any password or key in it masked
    key_set: bool  # its own variable (`provider.key_env`) holds a key
    needs_key: bool  # false for `custom` and `local`: a missing key is nothing to flag


def provider_statuses(env: Mapping[str, str]) -> tuple[list[ProviderStatus], bool]:
    """Every preset (built-in and `KimiLab.presets`), and whether the fallback variable
    (KIMI_LAB_API_KEY, which serves any preset whose own variable is unset) holds a key."""
    rows = [ProviderStatus(p, mask_url(p.base_url) if p.base_url else None, bool(p.key_env and env.get(p.key_env)),
                           p.key_required)
            for p in merge_presets(settings().presets).values()]
    return rows, bool(env.get(ENV_API_KEY))
