"""Scripted loopback OpenAI-compatible chat-completions server.

Why: tests, benchmarks and demo notebooks need a real HTTP/1.1 peer that speaks the
streaming (SSE) dialects of the providers serving Kimi K2 Thinking, deterministically,
offline, and with faults on demand. Standard library only, so it runs anywhere the
package does. This module holds what the server answers and its command line; the
HTTP handler that speaks the wire is in _http.
"""

from __future__ import annotations

import argparse
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from typing import Any

from kimi_lab.testing._batches import Batches
from kimi_lab.testing._batches_files import DEFAULT_MAX_FILE_BYTES
from kimi_lab.testing._demo import DEFAULT_TOKENS_PER_SECOND, Pacing, demo_reply
from kimi_lab.testing._http import _HTTPServer
from kimi_lab.testing._limits import Limits
from kimi_lab.testing._model_listing import models_listing
from kimi_lab.testing._moonshot_rules import missing_reasoning as _missing_reasoning
from kimi_lab.testing._moonshot_rules import moonshot_rule_error, reasoning_scope
from kimi_lab.testing._prefix_cache import PrefixCache
from kimi_lab.testing._providers import (
    UPSTREAMS,
    model_family,
    model_not_served,
    moonshot_error,
    openrouter_provider_error,
)
from kimi_lab.testing._replies import (
    _JOIN_TIMEOUT,
    _MAX_WAIT,
    CHAT_PATH,
    DEFAULT_MODEL,
    DIALECTS,
    RecordedRequest,
    Reply,
    ToolCall,
    Usage,
    _last_user_text,
    _missing_reasoning_echo,
)

__all__ = [
    "DEFAULT_MODEL",
    "DIALECTS",
    "LoopbackServer",
    "RecordedRequest",
    "Reply",
    "ToolCall",
    "Usage",
    "main",
]


class LoopbackServer:
    """Real HTTP server on 127.0.0.1 that replays scripted Kimi K2 Thinking replies.

    With nothing scripted it echoes the last user message; with demo=True it answers like a
    thinking model with tools instead (kimi_lab/testing/_demo.py), so the notebooks show the
    product without a key. Use as a context manager, or call start()/stop().
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        dialect: str = "moonshot",
        require_reasoning_echo: bool | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        echo_delay: float = 0.0,
        upstream: str | None = None,
        models: Iterable[str] | None = None,
        model_info: dict[str, dict[str, Any]] | None = None,
        model_rules: bool = False,
        demo: bool = False,
        tokens_per_second: float = DEFAULT_TOKENS_PER_SECOND,
        latency: float = 0.0,
        limits: dict[str, int] | None = None,
        limit_window: float = 60.0,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        batch_step: float = 0.05,
        batch_rows_per_step: int = 10,
        batch_window: float | None = None,
        prefix_cache: bool = False,
    ) -> None:
        """All provider modelling is opt-in (see kimi_lab/testing/_providers.py for the sources):

        upstream: with dialect "openrouter", the provider OpenRouter routes to; "moonshot" makes every assistant
            message with tool_calls need a non-empty `reasoning_content`, and wraps Moonshot's errors in
            OpenRouter's "Provider returned error" envelope.
        models: the model ids served; GET /models lists them in the dialect's shape and a chat request for
            another id gets the dialect's unknown-model error. None: any model, GET /models lists DEFAULT_MODEL.
        model_info: per served id, overrides for its GET /models entry (created, name, context_length,
            max_completion_tokens, pricing, supported_parameters, owned_by, or any extra key).
        model_rules: Moonshot's per-model request validation (thinking, reasoning_effort, tool_choice, fixed
            sampling, reasoning replay, tool messages). For a model it knows it decides the reasoning echo itself,
            in place of require_reasoning_echo.
        demo: answer unscripted requests like Kimi K2 Thinking with tools (paced reasoning, tool calls over the
            client's variables, JSON when asked) instead of echoing. Scripted replies still come first.
        tokens_per_second: the demo's streaming pace (0: none); echo_delay, when set, is the pause between
            events instead.
        latency: seconds before the first byte of an unscripted (echo or demo) chat answer, streamed or not, waited
            without a lock, so many requests wait at once (a benchmark's "50 ms a request").
        limits: Moonshot's rate limits for chat requests, some of {"concurrency", "rpm", "tpm"} (the entry tier is
            {"concurrency": 1, "rpm": 3, "tpm": 500_000}); over one, a 429 rate_limit_reached_error with Retry-After
            (kimi_lab/testing/_limits.py). `rate_limited` counts those 429s; `max_in_flight` is always kept.
        limit_window: the seconds RPM and TPM count over (60; smaller scales a minute down for tests).
        max_file_bytes: the largest upload POST /v1/files accepts (Moonshot: 100 MB), else a 400.
        batch_step, batch_rows_per_step: a batch validates for one step, runs that many lines a step, then finalizes
            for one step (kimi_lab/testing/_batches.py); 0 s runs it at once.
        batch_window: seconds before an unfinished batch expires, in place of its completion_window (e.g. 24h).
        prefix_cache: automatic prefix caching: an unscripted-usage answer reports as `cached_tokens` the longest
            prefix this server saw before (kimi_lab/testing/_prefix_cache.py). Dialect "moonshot" also answers
            POST /v1/tokenizers/estimate-token-count (kimi_lab/testing/_tokenizer.py).
        """
        if dialect not in DIALECTS:
            raise ValueError(f"unknown dialect {dialect!r}; expected one of {DIALECTS}")
        if upstream is not None and (dialect != "openrouter" or upstream not in UPSTREAMS):
            raise ValueError(f"upstream {upstream!r} needs dialect 'openrouter' and one of {UPSTREAMS}")
        self.upstream = upstream
        self.models = None if models is None else list(models)
        self.model_info = dict(model_info or {})
        unknown = set(self.model_info) - set(self.models or ())
        if unknown:
            raise ValueError(f"model_info names models not served: {sorted(unknown)}")
        if model_rules and dialect != "moonshot" and upstream != "moonshot":
            raise ValueError("model_rules are Moonshot's: they need dialect 'moonshot' or upstream 'moonshot'")
        self.model_rules = model_rules
        if tokens_per_second < 0:
            raise ValueError("tokens_per_second must be >= 0")
        if not latency >= 0:
            raise ValueError("latency must be >= 0")
        self.latency = latency
        self.demo = demo
        self.tokens_per_second = tokens_per_second
        self.api_key = api_key
        self.dialect = dialect
        self.require_reasoning_echo = (
            dialect == "moonshot" if require_reasoning_echo is None else require_reasoning_echo
        )
        self.host = host
        self.echo_delay = echo_delay
        self.requests: list[RecordedRequest] = []
        self._requested_port = port
        self._cond = threading.Condition()
        self._replies: deque[Reply] = deque()
        self._tool_counter = 0
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._accepted = 0
        self._limits = Limits(limits, limit_window)
        self.prefix_cache = PrefixCache() if prefix_cache else None
        self._batches = Batches(
            self, max_file_bytes=max_file_bytes, step=batch_step, rows_per_step=batch_rows_per_step, window=batch_window
        )

    # -- lifecycle -----------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (useful when port=0 picked an ephemeral one)."""
        if self._httpd is None:
            raise RuntimeError("LoopbackServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """OpenAI-style base URL, e.g. http://127.0.0.1:PORT/v1."""
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> LoopbackServer:
        """Bind and serve in a daemon thread; returns self for chaining."""
        if self._httpd is not None:
            raise RuntimeError("LoopbackServer already started")
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self._requested_port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"kimi-lab-loopback:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop quickly: wake scripted waits, drop open connections, join with a bound."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        with self._cond:
            connections = dict(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + _JOIN_TIMEOUT
        for t in [thread, *connections.values()]:
            if t is not None and t is not threading.current_thread():
                t.join(max(0.0, deadline - time.monotonic()))
        self._httpd = None
        self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- scripting -----------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Queue replies; each chat-completions POST pops the next one."""
        with self._cond:
            self._replies.extend(replies)

    def clear(self) -> None:
        """Forget queued replies and recorded requests (between test phases)."""
        with self._cond:
            self._replies.clear()
            self.requests.clear()

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> bool:
        """Block until at least n requests were recorded; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= n, timeout)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        """Only the POST /v1/chat/completions requests."""
        with self._cond:
            return [r for r in self.requests if r.method == "POST" and r.path.split("?", 1)[0].rstrip("/") == CHAT_PATH]

    @property
    def rate_limited(self) -> int:
        """How many chat requests got a 429 from `limits`."""
        return self._limits.rate_limited

    @property
    def max_in_flight(self) -> int:
        """The most chat requests answered at once so far (admitted, response not yet fully written)."""
        return self._limits.max_in_flight

    @property
    def pending_replies(self) -> int:
        """How many scripted replies are still queued."""
        with self._cond:
            return len(self._replies)

    # -- internals used by the handler ---------------------------------------------

    def _models_listing(self) -> dict[str, Any]:
        if self.models is None:
            model = {"id": DEFAULT_MODEL, "object": "model", "owned_by": "moonshotai"}
            return {"object": "list", "data": [model]}
        return models_listing(self.dialect, self.models, self.model_info)

    def _reject(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """(status, error body) when the modelled provider refuses this chat request, else None."""
        model = body.get("model")
        if self.models is not None and model not in self.models:
            return model_not_served(self.dialect, model)
        known = self.model_rules and model_family(model) is not None
        if self.require_reasoning_echo and not known:
            field_name = "reasoning_details" if self.dialect == "openrouter" else "reasoning_content"
            index = _missing_reasoning_echo(body.get("messages"), field_name)
            if index is not None:
                message = (
                    f"thinking is enabled but {field_name} is missing in assistant tool call message at index {index}"
                )
                return 400, {"error": {"message": message, "type": "invalid_request_error"}}
        if self.upstream is None and not self.model_rules:
            return None
        # Moonshot itself, or Moonshot behind OpenRouter.
        message = moonshot_rule_error(body) if self.model_rules else None
        if message is None:
            if known:
                scope = reasoning_scope(body)
            else:
                scope = "tool_calls" if self.upstream is not None else None
            message = _missing_reasoning(body.get("messages"), scope) if scope is not None else None
        if message is None:
            return None
        error = moonshot_error(message)
        if self.upstream is not None:
            return 400, openrouter_provider_error(400, self.upstream, error)
        return 400, error

    def _record(self, request: RecordedRequest) -> None:
        with self._cond:
            self.requests.append(request)
            self._cond.notify_all()

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        return self._take_reply(body)[0]

    def _take_reply(self, body: dict[str, Any]) -> tuple[Reply, bool]:
        """The next scripted reply, else the echo or demo one; True when it was scripted."""
        with self._cond:
            if self._replies:
                return self._replies.popleft(), True
        if self.demo:
            pacing = Pacing(self.tokens_per_second, self.echo_delay)
            return demo_reply(body, dialect=self.dialect, pacing=pacing), False
        text = _last_user_text(body)
        reply = Reply(
            content=f"Echo: {text}",
            reasoning=f"The user wrote: {text}. I will echo it.",
            dialect=self.dialect,
            delay=self.echo_delay,
        )
        return reply, False

    def _tool_ids(self, reply: Reply) -> list[str]:
        """Resolve default ids; Moonshot numbers calls across the server's life."""
        ids: list[str] = []
        with self._cond:
            for call in reply.tool_calls:
                if call.id is not None:
                    ids.append(call.id)
                elif reply.dialect == "moonshot":
                    ids.append(f"functions.{call.name}:{self._tool_counter}")
                    self._tool_counter += 1
                else:
                    ids.append("call_" + secrets.token_hex(12))
        return ids

    def _wait(self, seconds: float) -> bool:
        """Interruptible, bounded sleep; False means stop() was called."""
        return not self._stopping.wait(min(max(seconds, 0.0), _MAX_WAIT))

    def _track(self, conn: socket.socket, thread: threading.Thread) -> int:
        """Remember an open connection; returns its number (1, 2, …) in this server's life."""
        with self._cond:
            self._connections[conn] = thread
            self._accepted += 1
            return self._accepted

    def _untrack(self, conn: socket.socket) -> None:
        with self._cond:
            self._connections.pop(conn, None)


def main(argv: Iterable[str] | None = None) -> None:
    """Serve echo (or, with --demo, demo) replies until interrupted; prints the base URL as the only output line."""
    parser = argparse.ArgumentParser(
        prog="python -m kimi_lab.testing.server",
        description="Loopback OpenAI-compatible server speaking Kimi K2 Thinking provider dialects.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dialect", choices=DIALECTS, default="moonshot")
    parser.add_argument("--api-key", default=None)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds between SSE events")
    parser.add_argument("--demo", action="store_true",
                        help="answer like Kimi K2 Thinking with tools (scripted, not a model) instead of echoing")
    parser.add_argument("--tokens-per-second", type=float, default=DEFAULT_TOKENS_PER_SECOND, metavar="N",
                        help="--demo streaming pace, about 4 characters or one word a token (0: no pacing)")
    args = parser.parse_args(None if argv is None else list(argv))
    if args.tokens_per_second < 0:
        parser.error("--tokens-per-second must be >= 0")
    server = LoopbackServer(
        api_key=args.api_key,
        dialect=args.dialect,
        host=args.host,
        port=args.port,
        echo_delay=args.delay,
        demo=args.demo,
        tokens_per_second=args.tokens_per_second,
    ).start()
    print(server.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
