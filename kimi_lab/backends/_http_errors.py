"""A provider's HTTP refusal as a one-line error that says what to do, and how long it asked us to wait.

Kept apart from the streaming backend: the batch path and the map's retries read the same facts
(`Retry-After`, OpenRouter's upstream envelope) from the same SDK exceptions.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import TYPE_CHECKING, Any

from kimi_lab.common.errors import KimiAPIError
from kimi_lab.common.secrets import scrub

if TYPE_CHECKING:
    from kimi_lab.settings.target import Target

__all__ = ["retry_after", "status_error"]


def retry_after(headers: Any, cap: float) -> float | None:
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name) if headers is not None else None
        if not value:
            continue
        try:
            return min(max(float(value) * scale, 0.0), cap)
        except ValueError:
            try:
                parsed = email.utils.parsedate_to_datetime(value) if name == "retry-after" else None
            except (TypeError, ValueError, IndexError):  # neither seconds nor an HTTP date: ignored
                parsed = None
            if parsed is not None:
                try:
                    return min(max(parsed.timestamp() - time.time(), 0.0), cap)
                except (OverflowError, OSError, ValueError):
                    return cap
    return None


def _server_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    return str(getattr(exc, "message", "") or exc)


def _upstream_reason(exc: Any) -> str:
    """OpenRouter's envelope for a host's refusal ("Provider returned error") keeps the real reason in
    `metadata.raw` (the host's own error body, as a string) and the host in `metadata.provider_name`:
    "Moonshot AI: thinking is enabled but reasoning_content is missing …" (iOfficeAI/AionUi#2746,
    charmbracelet/crush#2633). Empty when there is none."""
    body = getattr(exc, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else None
    metadata = inner.get("metadata") if isinstance(inner, dict) else None
    if not isinstance(metadata, dict) or not metadata.get("raw"):
        return ""
    raw = metadata["raw"]
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            pass
    if isinstance(raw, dict):
        err = raw.get("error", raw)
        raw = err.get("message", err) if isinstance(err, dict) else err
    host = metadata.get("provider_name") or "the upstream provider"
    return f"{host}: {' '.join(str(raw).split())}"


def status_error(exc: Any, target: Target, listed: list[str] | None = None) -> KimiAPIError:
    status = int(getattr(exc, "status_code", 0) or 0)
    detail = scrub(_server_message(exc))[:300]
    upstream = scrub(_upstream_reason(exc))[:300]
    if upstream:
        detail = f"{detail}; {upstream}"
    name, where = target.provider.name, target.shown_url
    key_hint = target.key_source or target.provider.key_env or "KIMI_LAB_API_KEY"
    if status == 401:
        msg = f"{name} rejected the API key (401: {detail}): check {key_hint}"
    elif status == 403:
        msg = f"{name} refused the request (403: {detail}): the key may lack access to model {target.model!r}"
    elif status == 404:
        served = f"it lists {', '.join(listed[:8])}" if listed else "see `%kimi models`"
        msg = (
            f"model {target.model!r} not found at {where} (404: {detail}): pass -m with a model id this provider "
            f"serves ({served}), or check --base-url"
        )
    elif status == 429:
        msg = f"{name} is rate limiting (429: {detail}); still limited after retries: wait a minute and run again"
    elif status >= 500:
        msg = f"{name} had a server error ({status}: {detail}); still failing after retries: try again later"
    else:
        msg = f"{name} rejected the request ({status}: {detail})"
    return KimiAPIError(msg, status=status)
