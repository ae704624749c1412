"""What a provider serves: `GET /models`, read once per kernel per endpoint, lazily, with a short timeout.

Used to pick a preset's model among the ones a provider still lists (Moonshot retired K2 Thinking from its
own API in 2026), to name the Kimi ids it does list when a model id is not found, for `%kimi models`, and
for live prices, context and output limits where the listing has them (OpenRouter's does: `pricing`,
`context_length`, `top_provider.max_completion_tokens`, `supported_parameters`). A listing that cannot be
fetched is remembered as such and never stops a question.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kimi_lab.common.secrets import scrub
from kimi_lab.settings.providers import Price

if TYPE_CHECKING:
    from kimi_lab.settings.config import KimiLab
    from kimi_lab.settings.target import Target

__all__ = [
    "Listed", "Listing", "cached_listing", "fetch_listing", "forget_listings", "kimi_first", "kimi_ids",
    "parse_listing"
]

LISTING_TIMEOUT = 5.0  # seconds: a question waits at most this long, once per kernel and endpoint


@dataclass(frozen=True, slots=True)
class Listed:
    """One model as the provider lists it; what the listing does not say is None."""

    id: str
    context: int | None = None
    max_output: int | None = None
    price: Price | None = None  # per million tokens, converted from the listing's per-token strings
    parameters: frozenset[str] = frozenset()

    @property
    def is_kimi(self) -> bool:
        return "kimi" in self.id.lower()


@dataclass(frozen=True, slots=True)
class Listing:
    models: tuple[Listed, ...] = ()
    error: str = ""  # why it could not be read; empty when it was

    def get(self, model: str) -> Listed | None:
        wanted = model.lower()
        return next((m for m in self.models if m.id.lower() == wanted), None)

    def has(self, model: str) -> bool:
        return self.get(model) is not None


_cache: dict[tuple[str | None, str | None], Listing] = {}
_lock = threading.Lock()


def _per_million(value: Any) -> float | None:
    try:
        return float(value) * 1_000_000
    except (TypeError, ValueError):
        return None


def _entry(item: Any) -> Listed | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return None
    pricing = item.get("pricing") if isinstance(item.get("pricing"), dict) else {}
    prompt, completion = _per_million(pricing.get("prompt")), _per_million(pricing.get("completion"))
    cache_read = _per_million(pricing.get("input_cache_read"))
    price = None
    if prompt is not None and completion is not None:
        price = Price(prompt, completion, cache_read if cache_read is not None else prompt)
    top = item.get("top_provider") if isinstance(item.get("top_provider"), dict) else {}
    context = item.get("context_length") or top.get("context_length")
    max_output = top.get("max_completion_tokens")
    parameters = item.get("supported_parameters")
    return Listed(
        id=item["id"],
        context=context if isinstance(context, int) and context > 0 else None,
        max_output=max_output if isinstance(max_output, int) and max_output > 0 else None,
        price=price,
        parameters=frozenset(p for p in parameters if isinstance(p, str)) if isinstance(parameters, list) else
        frozenset(),
    )


def parse_listing(body: Any) -> Listing:
    """Moonshot's and OpenRouter's shapes alike: {"data": [{"id": ...}, ...]}."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return Listing(error="the model listing is not of the form {\"data\": [...]}")
    return Listing(tuple(entry for entry in map(_entry, data) if entry is not None))


def fetch_listing(target: Target, cfg: KimiLab, *, refresh: bool = False, timeout: float = LISTING_TIMEOUT) -> Listing:
    """The endpoint's listing, from this kernel's cache unless `refresh`; never raises."""
    key = (target.base_url, target.api_key)
    with _lock:
        hit = _cache.get(key)
    if hit is not None and not refresh:
        return hit
    if not target.base_url:
        return Listing(error="no base URL")
    from kimi_lab.backends.remote import _client

    try:
        raw = _client(target, cfg).with_options(timeout=timeout, max_retries=0).models.with_raw_response.list()
        listing = parse_listing(json.loads(raw.http_response.text))
    except Exception as exc:  # unreachable, 401, 404 (no /models), not JSON: the question goes on without it
        status = getattr(exc, "status_code", None)
        listing = Listing(error=f"{type(exc).__name__}{f' {status}' if status else ''}: {scrub(str(exc))[:120]}")
    with _lock:
        _cache[key] = listing
    return listing


def cached_listing(target: Target) -> Listing | None:
    """The listing this kernel already read for `target`'s endpoint, without fetching one."""
    with _lock:
        return _cache.get((target.base_url, target.api_key))


def kimi_ids(listing: Listing) -> list[str]:
    """The Kimi ids of a listing, newest-looking first (ids sort by version within a vendor)."""
    return sorted((m.id for m in listing.models if m.is_kimi), reverse=True)


def kimi_first(listing: Listing) -> list[Listed]:
    """Every listed model, the Kimi ones first, each group by id: the order the model box and
    `%kimi models` show."""
    return sorted(listing.models, key=lambda m: (not m.is_kimi, m.id))


def forget_listings() -> None:
    """Drop every cached listing (tests; `%kimi models --refresh` refreshes one)."""
    with _lock:
        _cache.clear()
