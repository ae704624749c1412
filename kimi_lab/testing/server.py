"""Scripted loopback OpenAI-compatible chat-completions server.

Why: tests, benchmarks and demo notebooks need a real HTTP/1.1 peer that speaks the
streaming (SSE) dialects of the providers serving Kimi K2 Thinking, deterministically,
offline, and with faults on demand. Standard library only, so it runs anywhere the
package does.
"""

from __future__ import annotations

import argparse
import json
import secrets
import socket
import socketserver
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

from kimi_lab.testing._demo import DEFAULT_TOKENS_PER_SECOND, Pacing, demo_reply
from kimi_lab.testing._dialects import _Rendered
from kimi_lab.testing._providers import (
    UPSTREAMS,
    model_family,
    model_not_served,
    models_listing,
    moonshot_error,
    moonshot_rule_error,
    openrouter_provider_error,
    reasoning_scope,
)
from kimi_lab.testing._providers import missing_reasoning as _missing_reasoning
from kimi_lab.testing._replies import (
    _JOIN_TIMEOUT,
    _MALFORMED,
    _MAX_WAIT,
    CHAT_PATH,
    DEFAULT_MODEL,
    DIALECTS,
    MODELS_PATH,
    RecordedRequest,
    Reply,
    ToolCall,
    Usage,
    _dumps,
    _error_body,
    _Headers,
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


class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its owner and stays quiet about client hang-ups."""

    daemon_threads = True
    block_on_close = False  # the owner joins handler threads itself, with a bound

    def __init__(self, address: tuple[str, int], owner: LoopbackServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        """Skip HTTPServer's getfqdn(), which can stall on reverse DNS without network."""
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Disconnects are expected in fault tests; only report genuine bugs."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Per-connection handler; all policy lives in the owning LoopbackServer."""

    protocol_version = "HTTP/1.1"
    server_version = "kimi-lab-loopback/1.0"
    sys_version = ""

    @property
    def owner(self) -> LoopbackServer:
        return cast(_HTTPServer, self.server).owner

    def version_string(self) -> str:
        """Server header without the Python version suffix."""
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the access log: test output should show only test failures."""

    def setup(self) -> None:
        super().setup()
        # Small SSE writes must leave at once, as a real server's do (no Nagle + delayed-ACK stalls).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.connection_number = self.owner._track(self.connection, threading.current_thread())

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.owner._untrack(self.connection)

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # BrokenPipe, ConnectionReset, shutdown by stop()
            self.close_connection = True

    # -- request plumbing ----------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _record(self, arrived: float, body: dict[str, Any] | None) -> RecordedRequest:
        headers = _Headers({k.lower(): v for k, v in self.headers.items()})
        request = RecordedRequest(self.command, self.path, headers, body, arrived, connection=self.connection_number)
        self.owner._record(request)
        return request

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = _dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _cut(self) -> None:
        """Drop the connection mid-body: no terminating chunk, nothing written afterwards."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _authorized(self) -> bool:
        key = self.owner.api_key
        return key is None or self.headers.get("Authorization") == f"Bearer {key}"

    # -- verbs ---------------------------------------------------------------------

    def do_GET(self) -> None:
        arrived = time.monotonic()
        self._read_body()
        self._record(arrived, None)
        if self.path.split("?", 1)[0].rstrip("/") != MODELS_PATH:
            self._send_json(404, _error_body(404, f"No route for GET {self.path}"))
        elif not self._authorized():
            self._send_json(401, _error_body(401, "Invalid Authentication"))
        else:
            self._send_json(200, self.owner._models_listing())

    def _not_found(self) -> None:
        arrived = time.monotonic()
        raw = self._read_body()
        self._record(arrived, _parse_json(raw))
        self._send_json(404, _error_body(404, f"No route for {self.command} {self.path}"))

    do_PUT = do_PATCH = do_DELETE = _not_found

    def do_POST(self) -> None:
        arrived = time.monotonic()
        raw = self._read_body()
        body = _parse_json(raw)
        recorded = self._record(arrived, body)
        try:
            self._answer_post(body)
        finally:
            recorded.finished = time.monotonic()

    def _answer_post(self, body: dict[str, Any] | None) -> None:
        if self.path.split("?", 1)[0].rstrip("/") != CHAT_PATH:
            self._send_json(404, _error_body(404, f"No route for POST {self.path}"))
            return
        if not self._authorized():
            self._send_json(401, _error_body(401, "Invalid Authentication"))
            return
        if body is None:
            self._send_json(400, _error_body(400, "Invalid request: body must be a JSON object"))
            return
        owner = self.owner
        rejection = owner._reject(body)
        if rejection is not None:
            self._send_json(*rejection)
            return
        reply = owner._next_reply(body)
        if reply.hang > 0 and not owner._wait(reply.hang):
            self._cut()
            return
        if reply.status != 200:
            error = reply.error if reply.error is not None else _error_body(reply.status)
            self._send_json(reply.status, error, reply.headers)
            return
        rendered = _Rendered(reply, body, owner._tool_ids(reply))
        if body.get("stream") is True:
            self._stream(rendered)
        else:
            if reply.first_delay > 0 and not owner._wait(reply.first_delay):
                self._cut()
                return
            self._send_json(200, rendered.completion(), reply.headers)

    def _stream(self, rendered: _Rendered) -> None:
        reply = rendered.reply
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.flush()
        if rendered.dialect == "openrouter":
            self._write_chunk(b": OPENROUTER PROCESSING\n\n")
        if not self._hold(reply, reply.first_delay):
            self._cut()
            return
        payloads = rendered.payloads()
        injected = reply.inject
        for index, payload in enumerate(payloads):
            if reply.cut_after is not None and index >= reply.cut_after:
                self._cut()
                return
            if index > 0 and not self._hold(reply, reply.delay):
                self._cut()
                return
            if reply.malformed_at == index:
                self._write_chunk(_MALFORMED)
            for raw in (raw for at, raw in injected if at == index):
                self._write_chunk(f"data: {raw}\n\n".encode())
            if reply.comment is not None:
                self._write_chunk(_comment(reply.comment))
            self._write_chunk(f"data: {payload}\n\n".encode())
        if reply.malformed_at is not None and reply.malformed_at >= len(payloads):
            self._write_chunk(_MALFORMED)
        for raw in (raw for at, raw in injected if at >= len(payloads)):
            self._write_chunk(f"data: {raw}\n\n".encode())
        if reply.cut_after is not None:
            self._cut()
            return
        if not self._hold(reply, reply.linger):  # a server keeping the body open after [DONE]
            self._cut()
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _hold(self, reply: Reply, seconds: float) -> bool:
        """Keep the body open for `seconds` (bounded by _MAX_WAIT), sending `reply.comment` every
        `reply.comment_every` s when set; False when stop() was called."""
        if seconds <= 0:
            return True
        deadline = time.monotonic() + min(seconds, _MAX_WAIT)
        while (left := deadline - time.monotonic()) > 0:
            if reply.comment is not None:
                self._write_chunk(_comment(reply.comment))
                left = min(left, reply.comment_every)
            if not self.owner._wait(left):
                return False
        return True


def _comment(text: str) -> bytes:
    """An SSE comment line: a line starting with ':' that clients ignore."""
    return f": {text}\n\n".encode()


def _parse_json(raw: bytes) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None


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
        with self._cond:
            if self._replies:
                return self._replies.popleft()
        if self.demo:
            return demo_reply(body, dialect=self.dialect, pacing=Pacing(self.tokens_per_second, self.echo_delay))
        text = _last_user_text(body)
        return Reply(
            content=f"Echo: {text}",
            reasoning=f"The user wrote: {text}. I will echo it.",
            dialect=self.dialect,
            delay=self.echo_delay,
        )

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
