"""The replay cache as a backend wrapper (`KimiLab.cache`, `--cache`, `kimi_lab.ask(cache=...)`).

`use`: a request asked before is answered from the cache at once (no request, no cost; the footer says
"cached"), and a new one is sent and recorded once its answer is complete. `replay`: answered from the cache
only; the wrapped backend never streams, no model listing is fetched and no key is needed, so a notebook
re-runs with no network at all. Each model call of a tool loop is its own entry, keyed with the tool
results before it (services/cache_key.py): changed data is a miss, never a stale answer.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from kimi_lab.backends.base import Backend, ChatRequest
from kimi_lab.common.errors import KimiConfigError, KimiError
from kimi_lab.common.events import (
    ContentDelta,
    Done,
    Event,
    ReasoningDelta,
    Status,
    TokenUsage,
    ToolCallDelta,
    UsageEvent,
    join_text,
)
from kimi_lab.common.secrets import scrub
from kimi_lab.services.cache_key import RequestKey
from kimi_lab.settings.config import KimiLab, settings

if TYPE_CHECKING:
    from kimi_lab.common.result import Result
    from kimi_lab.core.turn import Turn
    from kimi_lab.settings.chain import ChainValue
    from kimi_lab.settings.target import Target
    from kimi_lab.store.cache import ReplayCache

__all__ = [
    "MODES", "CachingBackend", "cache_mode", "cache_path", "offline_target", "open_cache", "stored_form", "use_cache"
]

MODES = ("off", "use", "replay")
#: The key a replay resolves a provider with when none is set: it is never sent (nothing is).
NO_KEY = "kimi-lab-replay-needs-no-key"


def cache_mode(value: str | None, cfg: KimiLab) -> str:
    """The mode for one question: `value` (--cache, cache=) over KimiLab.cache."""
    mode = cfg.cache if value is None else value
    if mode not in MODES:
        raise KimiConfigError(f"--cache must be one of {', '.join(MODES)}, not {mode!r}")
    return mode


def cache_path(cfg: KimiLab | None = None) -> Path:
    """The transcripts file, where the cache table lives."""
    from kimi_lab.store.sqlite import default_path

    cfg = cfg or settings()
    return Path(cfg.transcripts_path).expanduser() if cfg.transcripts_path else default_path()


def open_cache(cfg: KimiLab | None = None) -> ReplayCache:
    """The cache, open: `with open_cache() as cache: ...` (closed again, so no connection outlives its use)."""
    from kimi_lab.store.cache import ReplayCache, ReplayCacheError

    try:
        return ReplayCache(cache_path(cfg))
    except sqlite3.Error as exc:
        raise ReplayCacheError(f"cannot open the replay cache in {cache_path(cfg)} ({exc})") from None


def use_cache(turn: Turn, mode: str, cfg: KimiLab) -> None:
    """Put the cache between `turn` and its backend (nothing for "off"). The cache is opened once here, so a
    file it cannot use fails the question in one line before anything is sent."""
    if mode == "off":
        return
    open_cache(cfg).close()
    target = turn.target
    turn.backend = CachingBackend(turn.backend, partial(open_cache, cfg), mode, target.provider.name,
                                  target.model, result=turn.result, secrets=lambda: turn.secrets)


def offline_target(*, provider: ChainValue, model: str | None, base_url: str | None, config: KimiLab,
                   fallback: bool = False) -> Target:
    """The target of a replay, found without the network: no model listing is read, and a provider the cache
    holds answers needs no key (none is sent). A preset that prefers models in order (moonshot) gets the first
    one the cache holds entries of, as a listing would have chosen when they were recorded."""
    from kimi_lab.settings.target import resolve_target

    with open_cache(config) as cache:
        try:
            target = resolve_target(provider=provider, model=model, base_url=base_url, config=config,
                                    fallback=fallback)
        except KimiConfigError:  # no key here: the providers the cache holds stand in as keyed
            target = resolve_target(provider=provider, model=model, base_url=base_url, config=config,
                                    env=_keyless_env(cache.providers(), config), fallback=fallback)
        models = cache.models(target.provider.name)
    chosen = next((m for m in target.provider.prefer if m in models), None) if target.model_is_default else None
    return replace(target, model=chosen) if chosen else target


def _keyless_env(providers: Iterable[str], cfg: KimiLab) -> dict[str, str]:
    from kimi_lab.settings.providers import merge_presets

    env = dict(os.environ)
    presets = merge_presets(cfg.presets)
    for name in providers:
        preset = presets.get(name)
        if preset is not None and preset.key_env and not env.get(preset.key_env):
            env[preset.key_env] = NO_KEY
    return env


class CachingBackend:
    """A backend answering from the replay cache (see the module docstring). `result` is the turn's: a cached
    call is counted there (`cache_hits`, `cached_usage`) and costs nothing; `secrets` gives the turn's
    secrets as they are when a call ends (tools may add some), to scrub what is stored."""

    def __init__(self, inner: Backend, store: Callable[[], ReplayCache], mode: str, provider: str, model: str, *,
                 result: Result | None = None, secrets: Callable[[], list[str]] = list) -> None:
        if mode not in ("use", "replay"):
            raise ValueError(f"mode must be 'use' or 'replay', not {mode!r}")
        self.inner, self.store, self.mode = inner, store, mode
        self.provider, self.model = provider, model
        self.result = result
        self.secrets = secrets
        self.keys = RequestKey()
        self.calls = 0  # model calls asked of this backend
        self.sent = 0  # of them, the ones the inner backend answered
        self._zeroed = False  # the result's cost was set to 0 by a cached call

    def key(self, request: ChatRequest) -> str:
        return self.keys.key(self.inner, self.provider, self.model, request)

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        self.calls += 1
        key = self.key(request)
        events = self._lookup(key)
        if events is not None:
            yield from self._replayed(events)
            return
        if self.mode == "replay":
            raise KimiConfigError(
                f"not in the replay cache: run it once with KimiLab.cache = 'use' and a key (model call "
                f"{self.calls} of this answer, {self.provider} {self.model}; a call that was recorded misses when "
                f"anything it sent differs, a tool's result included: a changed or new variable changes it)")
        yield from self._recorded(request, key)

    def _lookup(self, key: str) -> list[Event] | None:
        try:
            with self.store() as cache:
                return cache.get(key)
        except (KimiError, sqlite3.Error, ValueError) as exc:
            if self.mode == "replay":
                raise KimiConfigError(f"cannot read the replay cache ({_reason(exc)})") from None
            self._warn(f"the replay cache could not be read ({_reason(exc)}); asked {self.provider} instead")
            return None

    def _replayed(self, events: list[Event]) -> Iterator[Event]:
        if self.result is not None:
            self.result.cache_hits += 1
            if self.sent == 0 and self.result.cost is None:  # the cost of the calls sent, if any, replaces it
                self.result.cost, self._zeroed = 0.0, True
        for event in events:
            if isinstance(event, UsageEvent):  # counted as cached, so the turn's usage (and cost) leaves it out
                if self.result is not None:
                    self.result.cached_usage = self.result.cached_usage + event.usage
                event = UsageEvent(TokenUsage(), event.upstream)
            yield event

    def _recorded(self, request: ChatRequest, key: str) -> Iterator[Event]:
        self.sent += 1
        if self._zeroed and self.result is not None and self.result.cost == 0.0:
            self.result.cost, self._zeroed = None, False  # this call's cost is not known yet
        kept: list[Event] = []
        with closing(iter(self.inner.stream(request))) as events:
            for event in events:
                if not isinstance(event, Status):  # retries and warnings are of this run, not of the answer
                    kept.append(event)
                yield event
        last = kept[-1] if kept else None
        if isinstance(last, Done) and last.finish_reason != "cancelled" and not request.cancel.is_set():
            self._store(key, kept)

    def _store(self, key: str, events: list[Event]) -> None:
        try:
            with self.store() as cache:
                cache.put(key, self.provider, self.model, stored_form(events, self.secrets()))
        except (KimiError, sqlite3.Error) as exc:  # the answer stands; only its replay is lost
            self._warn(f"this answer was not saved to the replay cache ({_reason(exc)})")

    def _warn(self, message: str) -> None:
        if self.result is not None:
            self.result.warnings.append(message)


def _reason(exc: BaseException) -> str:
    return exc.message if isinstance(exc, KimiError) else f"{type(exc).__name__}: {exc}"


def stored_form(events: Iterable[Event], secrets: list[str]) -> list[Event]:
    """What the cache keeps of a call: its events as the transcripts keep them, scrubbed, text runs joined (and
    a tool call's fragments joined), so a secret split across chunks is caught whole."""
    out: list[Event] = []
    for event in join_text(events):
        if isinstance(event, ToolCallDelta) and out and isinstance(out[-1], ToolCallDelta) \
                and out[-1].index == event.index:
            last = out[-1]
            name = (last.name or "") + (event.name or "")
            out[-1] = ToolCallDelta(last.index, event.id or last.id, name or None, last.arguments + event.arguments)
            continue
        out.append(event)
    return [_scrubbed(event, secrets) for event in out]


def _scrubbed(event: Event, secrets: list[str]) -> Event:
    if isinstance(event, ReasoningDelta):
        return ReasoningDelta(scrub(event.text, secrets), event.details)
    if isinstance(event, ContentDelta):
        return ContentDelta(scrub(event.text, secrets))
    if isinstance(event, ToolCallDelta):
        return ToolCallDelta(event.index, event.id, event.name, scrub(event.arguments, secrets))
    return event
