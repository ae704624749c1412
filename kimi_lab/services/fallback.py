"""Fall back across providers: `-p moonshot,openrouter,local` (or a list in `KimiLab.provider`).

When a provider fails before any of its answer arrived (no connection, no response in time, 429 or 5xx after
its own retries, 404 for the model), the next one gets the same question, prepared for it as `prepare` prepares
any question: its preferred model, its request rules, the history with the reasoning where its dialect wants it.
Once reasoning or text has arrived nothing restarts by itself (the question may have run tools, and the user
has seen half an answer): the partial answer stays with the error and the user decides. A provider that is not
set up (no key) is passed over with a note. -m, --base-url and the KIMI_LAB_* settings serve the first provider
only: one provider's model id or key means nothing to another.

Every attempt is an ordinary Turn; the FallbackTurn the faces hold is whichever of them is answering now."""

from __future__ import annotations

import functools
import os
import time
from typing import Any, Callable, ParamSpec

from kimi_lab.common.errors import (
    KimiAPIError,
    KimiConfigError,
    KimiConnectionError,
    KimiError,
    KimiInterrupted,
    KimiStreamError,
)
from kimi_lab.common.events import ContentDelta, ErrorEvent, Event, ReasoningDelta, Status, ToolCallDelta, ToolStart
from kimi_lab.common.result import Result
from kimi_lab.core.interpolate import interpolate
from kimi_lab.core.session import session
from kimi_lab.core.turn import Turn
from kimi_lab.settings.chain import provider_chain
from kimi_lab.settings.config import KimiLab, settings
from kimi_lab.settings.providers import merge_presets
from kimi_lab.settings.target import Target, resolve_target

__all__ = ["FallbackTurn", "chain_check", "chain_rows", "chained"]

P = ParamSpec("P")

#: HTTP statuses the next provider is asked after (the backend has retried 408, 429 and 5xx itself).
_NEXT_STATUSES = frozenset({404, 408, 429})


def chained(prepare: Callable[P, Turn]) -> Callable[P, Turn]:
    """`prepare`, asking a chain of providers in turn when it is given one; for one provider, `prepare` itself."""

    @functools.wraps(prepare)
    def prepare_any(*args: P.args, **kwargs: P.kwargs) -> Turn:
        config = kwargs.get("config") or settings()
        chain = [] if kwargs.get("fallback") else provider_chain(kwargs.get("provider"), config)
        if len(chain) < 2:
            return prepare(*args, **kwargs)
        return _prepare_chain(prepare, chain, *args, **kwargs)

    return prepare_any


def _prepare_chain(prepare: Callable[..., Turn], chain: list[str], prompt: str, **options: Any) -> Turn:
    cfg: KimiLab = options.get("config") or settings()
    presets = merge_presets(cfg.presets)
    unknown = next((name for name in chain if name not in presets), None)
    if unknown is not None:
        raise KimiConfigError(f"unknown provider {unknown!r} in -p {','.join(chain)}: choose from "
                              f"{', '.join(presets)}, or add it to KimiLab.presets")
    notes: list[str] = []
    namespace = options.get("namespace")
    if namespace is not None and not options.get("literal") and prompt.strip():
        # once, here, on the caller's thread: every provider gets the same text (and no variable is read twice)
        prompt, notes = interpolate(prompt, namespace)
    attempts = _Attempts(prepare, prompt, {**options, "config": cfg, "literal": True}, chain, notes)
    skipped: list[str] = []
    first = attempts.next(skipped, strict=True)
    if first is None:
        raise KimiConfigError(f"no provider of -p {','.join(chain)} is set up: {'; '.join(skipped)}")
    return FallbackTurn(first, attempts, skipped)


def _not_set_up(name: str, position: int, options: dict[str, Any]) -> str | None:
    """Why provider `name` cannot be asked at all (no key, no model, no URL), or None; nothing is sent."""
    cfg: KimiLab = options["config"]
    try:
        resolve_target(provider=name, model=options.get("model") if position == 0 else None,
                       base_url=options.get("base_url") if position == 0 else None, config=cfg,
                       fallback=position > 0)
    except KimiConfigError as exc:
        preset = merge_presets(cfg.presets)[name]
        if preset.key_required and preset.key_env and not os.environ.get(preset.key_env):
            return f"no key (set {preset.key_env})"
        return exc.message.split(": ", 1)[0].replace(f"provider {name!r} ", "")
    return None


class _Attempts:
    """The providers of a chain not asked yet, and how each is asked: `prepare` with the caller's options, the
    provider's name, and (after the first) no -m or --base-url."""

    def __init__(self, prepare: Callable[..., Turn], prompt: str, options: dict[str, Any], chain: list[str],
                 notes: list[str]) -> None:
        self.prepare, self.prompt, self.options, self.notes = prepare, prompt, options, notes
        self.waiting = list(enumerate(chain))

    def next(self, reasons: list[str], *, strict: bool = False, **changes: Any) -> Turn | None:
        """The next provider's turn, or None; one that cannot be asked adds its reason to `reasons` and is passed
        over. `strict` (the first, at prepare time): a bad option raises, as for one provider."""
        while self.waiting:
            position, name = self.waiting.pop(0)
            why = _not_set_up(name, position, self.options)
            if why is None:
                given = {"provider": name, "fallback": position > 0}
                if position > 0:
                    given |= {"model": None, "base_url": None}
                try:
                    turn = self.prepare(self.prompt, **{**self.options, **given, **changes})
                except KimiError as exc:
                    if strict:
                        raise
                    why = exc.message
                else:
                    turn.result.warnings.extend(self.notes)
                    return turn
            reasons.append(f"{name}: {why}")
        return None


class _Watch:
    """One attempt's events on their way to the face. Its error waits until it is known whether the next
    provider is asked (then the face never sees it); warnings before any answer are the backend's retries."""

    def __init__(self, on_event: Callable[[Event], None]) -> None:
        self.on_event = on_event
        self.arrived = False
        self.retries = 0
        self.error: ErrorEvent | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, ErrorEvent):
            self.error = event
            return
        if isinstance(event, (ReasoningDelta, ContentDelta, ToolCallDelta, ToolStart)):
            self.arrived = True
        elif isinstance(event, Status) and event.level == "warning" and not self.arrived:
            self.retries += 1
        self.on_event(event)


def _anything(result: Result) -> bool:
    """Whether any of the answer arrived (text a scrubber held back counts)."""
    return bool(result.content or result.reasoning or result.steps or result.tool_calls)


def _why_next(error: KimiError, target: Target, retries: int) -> str | None:
    """Why the next provider is asked, in a few words; None for a failure another provider cannot help with
    (a refused key or request, the user's stop)."""
    if isinstance(error, KimiInterrupted):
        return None
    if isinstance(error, KimiAPIError):
        status = error.status or 0
        if status == 404:
            return f"model {target.model!r} not found (404)"
        if status in _NEXT_STATUSES or status >= 500:
            return f"{status} after {retries} {'retry' if retries == 1 else 'retries'}"
        return None
    if isinstance(error, (KimiConnectionError, KimiStreamError)):
        what = error.message.split(": ", 1)[0].split("; ", 1)[0]  # what happened, without the advice
        return what.removeprefix(f"{target.provider.name} ")
    return None


def _emit(on_event: Callable[[Event], None], event: Event) -> None:
    try:
        on_event(event)
    except KeyboardInterrupt:  # as Turn.run: the answer is settled, a face that was stopped drawing it is not
        pass


class FallbackTurn(Turn):
    """The turn of a provider chain. It is whichever provider's Turn is answering now (every attribute is that
    Turn's), so the faces read and stop it as they do any turn while `run` moves down the chain."""

    def __init__(self, first: Turn, attempts: _Attempts, skipped: list[str]) -> None:
        """No Turn state of its own (Turn.__init__ is not called): it lends the current attempt's."""
        object.__setattr__(self, "_current", first)
        object.__setattr__(self, "_attempts", attempts)
        object.__setattr__(self, "_reasons", skipped)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_current"], name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.__dict__["_current"], name, value)

    def run(self, on_event: Callable[[Event], None]) -> Result:
        """Ask each provider in turn until one answers or fails after its answer began; never raises."""
        began = time.perf_counter()
        first: Turn = self.__dict__["_current"]
        reasons: list[str] = self.__dict__["_reasons"]
        cancel = first.request.cancel  # one Stop for every attempt
        while True:
            attempt: Turn = self.__dict__["_current"]
            watch = _Watch(on_event)
            attempt.run(watch)
            arrived = watch.arrived or _anything(attempt.result)
            why = None
            if attempt.error is not None and not arrived and not cancel.is_set():
                why = _why_next(attempt.error, attempt.target, watch.retries)
            if why is None:
                break
            reasons.append(f"{attempt.target.provider.name}: {why}")
            asked = len(reasons)
            conv = attempt.conversation
            following = self.__dict__["_attempts"].next(
                reasons, chat=conv.name, new=False, system=None, owner=session().busy.owner(conv.name))
            if following is None:
                break
            _forget(attempt)
            _emit(on_event, Status(f"{'; '.join(reasons[asked - 1:])}; asking {following.target.provider.name}"))
            following.request.cancel = cancel
            if following.runner is not None and attempt.runner is not None:
                following.runner.approve = attempt.runner.approve  # as the face wrapped it
            object.__setattr__(self, "_current", following)
        final: Turn = self.__dict__["_current"]
        if final is not first:
            shift = final.started - began  # the user waited for the providers before it too
            final.result.elapsed += shift
            if final.result.ttft is not None:
                final.result.ttft += shift
        self._settle(final, watch, arrived, why, reasons, on_event)
        return final.result

    @staticmethod
    def _settle(final: Turn, watch: _Watch, arrived: bool, why: str | None, reasons: list[str],
                on_event: Callable[[Event], None]) -> None:
        """Say which provider answered and why the earlier ones did not; when none answered, one line with
        every provider's reason."""
        error, name = final.error, final.target.provider.name
        if error is None or arrived or isinstance(error, KimiInterrupted) or not reasons:
            if reasons:
                note = f"{'; '.join(reasons)}; answered by {name}"
                final.result.warnings.insert(0, note)
                _emit(on_event, Status(note, "warning"))
            if watch.error is not None:
                _emit(on_event, watch.error)
            return
        if why is None:  # it stopped the chain: its own message says what to do
            message = f"no provider answered: {'; '.join(reasons)}; {name}: {error.message}"
        else:
            message = f"no provider answered: {'; '.join(reasons)}; check one with %kimi doctor -p NAME"
        error.message, error.args = message, (message,)
        final.result.error = message
        _emit(on_event, ErrorEvent(message, error.kind))


def _forget(attempt: Turn) -> None:
    """A provider that failed before answering leaves no turn in the chat's history (the one that answers
    does); its request stays in the session's usage."""
    conv = attempt.conversation
    with conv.lock:
        conv.results[:] = [r for r in conv.results if r is not attempt.result]


def _states(provider: Any, cfg: KimiLab) -> list[tuple[str, str | None]]:
    """Each provider of a chain with why it would be passed over (None: it can be asked); [] for one provider."""
    chain = provider_chain(provider, cfg)
    if len(chain) < 2:
        return []
    presets = merge_presets(cfg.presets)
    return [(name, _not_set_up(name, position, {"config": cfg}) if name in presets
             else "unknown provider: see %kimi providers") for position, name in enumerate(chain)]


def chain_rows(provider: Any, cfg: KimiLab) -> list[list[str]]:
    """`%kimi config` rows for a chain: each provider in order and whether it can be asked; none for one."""
    return [[f"fallback {n}" if n else "provider chain", f"{name}: {f'skipped: {why}' if why else 'ready'}"]
            for n, (name, why) in enumerate(_states(provider, cfg))]


def chain_check(provider: Any, cfg: KimiLab) -> tuple[bool | None, str, str] | None:
    """`%kimi doctor`'s row for a chain (passed, detail, fix): ⚠ when one would be passed over; None for one."""
    states = _states(provider, cfg)
    if not states:
        return None
    detail = " → ".join(f"{name} ({f'skipped: {why}' if why else 'ready'})" for name, why in states)
    fix = f"the checks below are {states[0][0]}'s (the first): `%kimi doctor -p NAME` checks another"
    return (None if any(why for _, why in states) else True), detail, fix
