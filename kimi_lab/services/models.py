"""What a provider serves right now, as every face shows it: `%kimi models` and the sidebar's model box
read the same listing and agree on which model an ask would use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kimi_lab.settings.config import settings

if TYPE_CHECKING:
    from kimi_lab.backends.listing import Listed
    from kimi_lab.settings.target import Target

__all__ = ["ModelList", "list_models", "model_an_ask_uses"]

HELLO_WAIT = 1.5  # seconds a face's first look waits for the provider's listing before naming the preset's default


@dataclass(frozen=True)
class ModelList:
    """A provider's listing (`GET /models`), Kimi ids first."""

    target: Target  # the provider, and the model an ask would use (a preset's preferred one when listed)
    models: list[Listed]
    kimi: int  # how many of them are Kimi models
    error: str  # why the listing could not be read; "" when it was


def list_models(provider: str | None = None, model: str | None = None, base_url: str | None = None, *,
                refresh: bool = False) -> ModelList:
    """The listing of the provider these options resolve to. `refresh` reads it again even if this kernel
    already has it (`%kimi models` asks "right now"; the model box is content with once per kernel)."""
    from kimi_lab.backends.listing import fetch_listing, kimi_first
    from kimi_lab.services.ask import preferred_model
    from kimi_lab.settings.target import resolve_target

    cfg = settings()
    target = resolve_target(provider=provider, model=model, base_url=base_url, config=cfg)
    listing = fetch_listing(target, cfg, refresh=refresh)
    target = preferred_model(target, cfg)  # reads the listing just fetched, never a second time
    return ModelList(target, list(kimi_first(listing)), sum(1 for m in listing.models if m.is_kimi),
                     listing.error or "")


def model_an_ask_uses(target: Target, wait: float = HELLO_WAIT) -> str:
    """The model an ask with `target` would use: a preset that prefers models by what its provider lists (moonshot)
    needs the listing, read here on a thread and waited for at most `wait` seconds (a slow provider must not hold
    the kernel); the listing then stays cached for the ask. Else the preset's default."""
    import threading

    from kimi_lab.services.ask import preferred_model

    if not (target.model_is_default and target.provider.prefer):
        return target.model
    cfg = settings()
    chosen: list[str] = []

    def read() -> None:
        try:
            chosen.append(preferred_model(target, cfg).model)
        except Exception:  # a listing that cannot be read leaves the preset's default, as an ask does
            pass

    reader = threading.Thread(target=read, name="kimi_lab-listing", daemon=True)
    reader.start()
    reader.join(wait)
    return chosen[0] if chosen else target.model
