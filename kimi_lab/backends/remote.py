"""Any OpenAI-compatible chat-completions endpoint, through the `openai` SDK.

The SDK builds and sends the request and maps HTTP errors; the SSE body is read here as raw
JSON so every dialect's extra fields (`reasoning_content`, `reasoning`, `reasoning_details`,
usage inside the choice) are seen, a malformed event is skipped instead of ending the answer,
and the per-chunk cost stays below the SDK's own typed parsing.

Reading ends at `data: [DONE]`, the end of the answer, whatever the server does with the
connection afterwards; and a server that sends only keep-alive comments for longer than
`KimiLab.timeout` is treated as one that sends nothing, so neither can hold a turn open.
"""

from __future__ import annotations

import json
import random
import time
from typing import TYPE_CHECKING, Any, Iterator

from kimi_lab.backends._http_errors import retry_after as _retry_after
from kimi_lab.backends._http_errors import status_error as _status_error
from kimi_lab.backends._leaks import LeakGuard
from kimi_lab.backends._think import ThinkSplitter
from kimi_lab.backends._wire import Chunk, MalformedEvent, parse_chunk, sse_events
from kimi_lab.backends.base import ChatRequest
from kimi_lab.common.errors import KimiConnectionError, KimiError, KimiStreamError
from kimi_lab.common.events import Done, Event, ReasoningDelta, Status, UsageEvent
from kimi_lab.common.secrets import scrub
from kimi_lab.settings.models import rule_for

if TYPE_CHECKING:
    from kimi_lab.settings.config import KimiLab
    from kimi_lab.settings.target import Target

__all__ = ["MAX_MALFORMED_WARNINGS", "RemoteBackend"]

#: Malformed events of one answer that each get their own warning; one more warning says that
#: later ones are skipped silently, so a broken server cannot bury the answer under warnings.
MAX_MALFORMED_WARNINGS = 5
_RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504, 529}
CHARS_PER_TOKEN_CAP = 16  # characters an output token stands for on average, generously (English is about 4)
_clients: dict[tuple[Any, ...], Any] = {}


def _client(target: Target, cfg: KimiLab) -> Any:
    """One SDK client per endpoint, key and timeouts: it holds the connection pool."""
    key = (target.base_url, target.api_key, cfg.timeout, cfg.connect_timeout)
    client = _clients.get(key)
    if client is None:
        import openai

        headers = {"X-Title": "kimi_lab"} if target.provider.dialect == "openrouter" else None
        client = openai.OpenAI(
            # A keyless self-hosted server needs no key; the SDK insists on a non-empty one.
            api_key=target.api_key or "no-key",
            base_url=target.base_url,
            max_retries=0,  # retries are ours, so they show in the cell and honour Stop
            timeout=openai.Timeout(cfg.timeout, connect=cfg.connect_timeout),
            default_headers=headers,
        )
        _clients[key] = client
    return client


class RemoteBackend:
    """One backend per question: it keeps the JSON of every message it has sent, so each
    round of a tool loop encodes only the messages that are new."""

    def __init__(self, target: Target, cfg: KimiLab, *, retries: int | None = None) -> None:
        """`retries`: 429/5xx retries of one request (default `KimiLab.max_retries`); a caller that
        coordinates retries across many requests (kimi_lab.map) passes 0 and reads `KimiAPIError.retry_after`."""
        self.target = target
        self.cfg = cfg
        self.retries = cfg.max_retries if retries is None else retries
        self._encoded: dict[int, tuple[Any, str]] = {}
        self._malformed = 0  # malformed events skipped in this question's answer

    def _no_response(self) -> KimiConnectionError:
        return KimiConnectionError(
            f"no response from {self.target.shown_url} within {self.cfg.timeout:g} s: "
            f"try again, or raise %config KimiLab.timeout"
        )

    def _stalled(self) -> KimiConnectionError:
        return KimiConnectionError(
            f"{self.target.provider.name} stopped sending for {self.cfg.timeout:g} s mid-answer; "
            f"the partial answer is kept"
        )

    def _skipped(self, exc: MalformedEvent, payload: str) -> Status | None:
        """The warning for one skipped event, or None once MAX_MALFORMED_WARNINGS were given."""
        self._malformed += 1
        if self._malformed <= MAX_MALFORMED_WARNINGS:
            # Scrubbed before the cut, so a key across it leaves nothing; the first 4 KB hold any key
            # that reaches into the 60 characters shown, and spare scrubbing a 200 KB payload.
            shown = scrub(payload[:4096])[:60]
            return Status(f"skipped a malformed stream event ({exc}): {shown!r}", "warning")
        if self._malformed == MAX_MALFORMED_WARNINGS + 1:
            return Status(f"skipped a malformed stream event ({exc}); more than {MAX_MALFORMED_WARNINGS} in this "
                          f"answer, so later ones are skipped without a warning", "warning")
        return None

    def _json(self, obj: Any) -> str:
        hit = self._encoded.get(id(obj))
        if hit is not None and hit[0] is obj:
            return hit[1]
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
        self._encoded[id(obj)] = (obj, text)  # holding obj keeps its id from being reused
        return text

    def body(self, req: ChatRequest) -> bytes:
        """The request JSON. Built here rather than by the SDK's `create`, whose type transformer
        walks the whole history on every call (about 2 ms a message): that made a 300-round tool
        loop quadratic. Messages and tools are encoded once each and joined."""
        max_out = self.target.provider.max_output
        rule = req.rule or rule_for(req.model)
        dialect = self.target.provider.dialect
        rest: dict[str, Any] = {
            "model": req.model,
            "stream": True,
            # always an explicit budget: the reasoning shares it
            rule.output_field: min(req.max_tokens, max_out) if max_out else req.max_tokens,
            "stream_options": {"include_usage": True},
        }
        rest.update(rule.body_fields(req.effort, dialect)[0])
        for name in ("temperature", "top_p", "seed", "stop"):
            value = getattr(req, name)
            if value is not None:
                rest[name] = value
        if req.response_format is not None:
            rest["response_format"] = req.response_format
        elif req.json_mode:
            rest["response_format"] = {"type": "json_object"}
        if req.tools and req.tool_choice:
            rest["tool_choice"] = req.tool_choice
        if dialect == "openrouter":
            # OpenRouter's own reasoning control; its effort scale stops at "high"
            effort = "high" if req.effort == "max" else req.effort
            rest["reasoning"] = {"enabled": True, **({"effort": effort} if effort else {})}
            if req.route:  # which upstream hosts, in order (their tool-call accuracy differs)
                rest["provider"] = {"order": list(req.route), "allow_fallbacks": self.cfg.openrouter_fallbacks}
        self._drop_unsupported(req.model, rest)
        parts = ['{"messages":[', ",".join(self._json(m) for m in req.messages), "]"]
        if req.tools:
            parts += [',"tools":', self._json(req.tools)]
        parts += [",", json.dumps(rest, ensure_ascii=False, separators=(",", ":"))[1:]]
        return "".join(parts).encode()

    def _drop_unsupported(self, model: str, rest: dict[str, Any]) -> None:
        """Optional fields the provider's listing says this model does not take (OpenRouter lists
        `supported_parameters` per model: shared/seeds/001) are left out; the output budget and the
        messages always go."""
        from kimi_lab.backends.listing import cached_listing

        listing = cached_listing(self.target)
        entry = listing.get(model) if listing is not None else None
        if entry is None or not entry.parameters:
            return
        for name in ("temperature", "top_p", "seed", "stop", "tool_choice", "response_format", "reasoning"):
            if name in rest and name not in entry.parameters:
                del rest[name]

    def _open(self, req: ChatRequest) -> Iterator[Event | Any]:
        """Send the request, retrying 429/5xx; yields Status events, then the open stream."""
        import openai

        client = _client(self.target, self.cfg)
        body = self.body(req)
        attempt = 0
        while True:
            try:
                # The SDK's own POST: its auth, headers, timeouts, pool and error mapping.
                stream = client.post(
                    "/chat/completions", cast_to=object, content=body, stream=True, stream_cls=openai.Stream[object]
                )
            except openai.APIStatusError as exc:
                if exc.status_code in _RETRY_STATUS and attempt < self.retries:
                    wait = _retry_after(exc.response.headers, self.cfg.retry_after_cap)
                    if wait is None:
                        wait = self.cfg.retry_backoff * (2**attempt) * (1 + random.random() / 4)
                    attempt += 1
                    yield Status(
                        f"{self.target.provider.name} answered {exc.status_code}; retry {attempt} of "
                        f"{self.retries} in {wait:.1f} s",
                        "warning",
                    )
                    if req.cancel.wait(wait):
                        raise KimiError("stopped while waiting to retry") from None
                    continue
                listed = None
                if exc.status_code == 404:  # name what it does serve (its listing, read once per kernel)
                    from kimi_lab.backends.listing import fetch_listing, kimi_ids

                    listed = kimi_ids(fetch_listing(self.target, self.cfg)) or None
                error = _status_error(exc, self.target, listed)
                error.retry_after = _retry_after(exc.response.headers, self.cfg.retry_after_cap)
                raise error from None
            except openai.APITimeoutError:
                raise self._no_response() from None
            except openai.APIConnectionError as exc:
                cause = exc.__cause__ or exc
                raise KimiConnectionError(
                    f"cannot reach {self.target.shown_url} ({scrub(str(cause))[:160]}): "
                    f"is the server running and the URL right?"
                ) from None
            yield stream
            return

    def stream(self, request: ChatRequest) -> Iterator[Event]:
        opened: Any = None
        for item in self._open(request):
            if isinstance(item, (Status,)):
                yield item
            else:
                opened = item
        assert opened is not None
        # The SDK's Stream makes a generator over itself that this backend never runs (it reads the lines
        # itself): a reference cycle holding the request and response until the cyclic collector runs (12 KB an
        # answer before, 1.5 KB after, in benchmarks/bench_map.py). Closing the unstarted generator drops the cycle.
        unused = getattr(opened, "_iterator", None)
        if hasattr(unused, "close"):
            unused.close()
        lines = opened.response.iter_lines()
        finished = False
        try:
            # The SSE body is read here as raw JSON (see the module docstring).
            for event in self._read(lines, request):
                finished = isinstance(event, Done) and event.finish_reason != "cancelled"
                yield event
        finally:
            if finished:
                _release_after_done(lines, opened)
            else:
                opened.close()

    def _read(self, lines: Iterator[str], request: ChatRequest) -> Iterator[Event]:
        splitter = ThinkSplitter()
        leaked_reasoning, leaked_content = LeakGuard(reasoning=True), LeakGuard(reasoning=False)
        finish: str | None = None
        saw_done = False
        last_event: float | None = None  # monotonic time of the last data event
        opened = time.monotonic()
        # A stream that goes on past its output budget (a broken or hostile server) would hold the turn forever:
        # no answer averages CHARS_PER_TOKEN_CAP characters a token, so more text than that is not an answer.
        received, budget = 0, request.max_tokens * CHARS_PER_TOKEN_CAP + 4_096
        try:
            for payload in sse_events(lines):
                if request.cancel.is_set():
                    yield Done("cancelled")
                    return
                if payload is None:  # a comment or another line that completes no event
                    if time.monotonic() - (last_event or opened) > self.cfg.timeout:
                        raise self._no_response() if last_event is None else self._stalled()
                    continue
                last_event = time.monotonic()
                if payload == "[DONE]":
                    # The answer is complete. Reading on until the server ends the body would let a
                    # server that keeps it open turn a finished answer into a timeout: what follows is
                    # drained off the asking thread (`_release_after_done`).
                    saw_done = True
                    break
                try:
                    chunk = parse_chunk(payload)
                except MalformedEvent as exc:
                    warning = self._skipped(exc, payload)
                    if warning is not None:
                        yield warning
                    continue
                if chunk.error is not None:
                    err = chunk.error
                    detail = err.get("message", err) if isinstance(err, dict) else err
                    raise KimiStreamError(
                        f"{self.target.provider.name} reported an error mid-answer ({scrub(str(detail))[:200]}); "
                        f"the partial answer is kept"
                    )
                received += len(chunk.reasoning or "") + len(chunk.content or "") + sum(
                    len(getattr(t, "arguments", None) or "") for t in chunk.tool_calls)
                if received > budget:
                    raise KimiStreamError(
                        f"{self.target.provider.name} sent more than max_tokens={request.max_tokens:,} allows "
                        f"({received:,} characters): it ignored the output budget; the partial answer is kept"
                    )
                yield from self._events(chunk, splitter, leaked_reasoning, leaked_content)
                finish = chunk.finish or finish
        except KimiError:
            raise
        except Exception as exc:  # the transport failed mid-body
            if "Timeout" in type(exc).__name__:
                raise self._stalled() from None
            raise KimiStreamError(
                f"the connection to {self.target.provider.name} dropped mid-answer "
                f"({type(exc).__name__}); the partial answer is kept: run the cell again to retry"
            ) from None
        for part, piece in splitter.flush():
            yield from (leaked_reasoning if part == "reasoning" else leaked_content).feed(piece)
        yield from leaked_reasoning.close()
        yield from leaked_content.close()
        if not saw_done and finish is None:
            raise KimiStreamError(
                f"the stream from {self.target.provider.name} ended before the answer was finished; "
                f"the partial answer is kept: run the cell again to retry"
            )
        yield Done(finish)

    @staticmethod
    def _events(chunk: Chunk, splitter: ThinkSplitter, leaked_reasoning: LeakGuard,
                leaked_content: LeakGuard) -> Iterator[Event]:
        """The events of one well-formed stream event, in the order the model produced them."""
        if chunk.details:
            yield ReasoningDelta("", chunk.details)
        if chunk.reasoning:
            yield from leaked_reasoning.feed(chunk.reasoning)
        if chunk.content:
            for part, piece in splitter.feed(chunk.content):
                yield from (leaked_reasoning if part == "reasoning" else leaked_content).feed(piece)
        yield from chunk.tool_calls
        if chunk.usage is not None:
            yield UsageEvent(chunk.usage, chunk.provider)


DRAIN_SECONDS = 5.0  # how long a body may go on after [DONE] before its connection is closed
DRAIN_LINES = 1_000


def _release_after_done(lines: Iterator[str], opened: Any) -> None:
    """Read what follows [DONE] on a daemon thread, then close. A server that ends the body at once (the
    usual case) leaves a connection the next request reuses (a tool loop would otherwise open one a
    round); one that keeps it open with comments is cut off after DRAIN_SECONDS, never on the asking
    thread."""
    import threading

    def drain() -> None:
        deadline = time.monotonic() + DRAIN_SECONDS
        try:
            for count, _ in enumerate(lines):
                if count >= DRAIN_LINES or time.monotonic() > deadline:
                    break
        except Exception:  # a dropped connection after a finished answer changes nothing
            pass
        finally:
            opened.close()

    threading.Thread(target=drain, name="kimi-lab-drain", daemon=True).start()
