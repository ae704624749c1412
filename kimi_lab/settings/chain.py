"""A provider chain: `-p moonshot,openrouter,local`, a list (or comma string) in `KimiLab.provider`, or a comma
list in KIMI_LAB_PROVIDER. The first of these that names a provider decides, as for a single provider; one name
is a chain of one, so every existing setting keeps its meaning."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Mapping, Sequence

if TYPE_CHECKING:
    from kimi_lab.settings.config import KimiLab

__all__ = ["ENV_PROVIDER", "ChainValue", "chain_of", "provider_chain"]

ENV_PROVIDER = "KIMI_LAB_PROVIDER"

#: What a chain may be given as: "moonshot,openrouter", ["moonshot", "openrouter"], or nothing.
ChainValue = str | Sequence[str] | None


def chain_of(value: ChainValue) -> list[str]:
    """The names in `value`, in order, blanks and repeats dropped."""
    names = value.split(",") if isinstance(value, str) else list(value or ())
    out: list[str] = []
    for name in names:
        name = str(name).strip()
        if name and name not in out:
            out.append(name)
    return out


def provider_chain(provider: ChainValue, config: KimiLab, env: Mapping[str, str] | None = None) -> list[str]:
    """The chain the option, else `KimiLab.provider`, else KIMI_LAB_PROVIDER names; [] when none does."""
    env = os.environ if env is None else env
    for value in (provider, config.provider, env.get(ENV_PROVIDER)):
        chain = chain_of(value)
        if chain:
            return chain
    return []
