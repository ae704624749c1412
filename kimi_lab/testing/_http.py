"""The loopback server's HTTP/1.1 side: read each request, answer JSON or stream SSE, inject the scripted faults.

Why a separate module: speaking the wire (chunked bodies, SSE events, cut connections, keep-alive comments)
is one concern, deciding what to answer is another; the handler asks its owning LoopbackServer for every
decision.
"""

from __future__ import annotations

import json
import socket
import socketserver
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

from kimi_lab.testing._batches import Batches
from kimi_lab.testing._dialects import _Rendered
from kimi_lab.testing._replies import (
    _MALFORMED,
    _MAX_WAIT,
    CHAT_PATH,
    MODELS_PATH,
    RecordedRequest,
    Reply,
    _dumps,
    _error_body,
    _Headers,
)
from kimi_lab.testing._tokenizer import TOKENIZER_PATH, estimate_answer

if TYPE_CHECKING:
    from kimi_lab.testing.server import LoopbackServer


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

    def _send_bytes(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
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
        if Batches.owns(self.path):
            self._answer_store(b"")
        elif self.path.split("?", 1)[0].rstrip("/") != MODELS_PATH:
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

    do_PUT = do_PATCH = _not_found

    def do_DELETE(self) -> None:
        if not Batches.owns(self.path):
            self._not_found()
            return
        arrived = time.monotonic()
        self._read_body()
        self._record(arrived, None)
        self._answer_store(b"")

    def do_POST(self) -> None:
        arrived = time.monotonic()
        raw = self._read_body()
        multipart = self.headers.get("Content-Type", "").lower().startswith("multipart/")
        body = None if multipart else _parse_json(raw)  # an upload is recorded without a body
        recorded = self._record(arrived, body)
        try:
            if Batches.owns(self.path):
                self._answer_store(raw)
            else:
                self._answer_post(body)
        finally:
            recorded.finished = time.monotonic()

    def _answer_store(self, raw: bytes) -> None:
        """The Files and Batches routes (kimi_lab/testing/_batches.py); they need the key like chat does."""
        if not self._authorized():
            self._send_json(401, _error_body(401, "Invalid Authentication"))
            return
        store = self.owner._batches
        status, answer = store.answer(self.command, self.path, self.headers.get("Content-Type", ""), raw)
        if isinstance(answer, bytes):
            self._send_bytes(status, answer)
        else:
            self._send_json(status, answer)

    def _answer_post(self, body: dict[str, Any] | None) -> None:
        if self.path.split("?", 1)[0].rstrip("/") == TOKENIZER_PATH and self.owner.dialect == "moonshot":
            if not self._authorized():
                self._send_json(401, _error_body(401, "Invalid Authentication"))
            else:
                self._send_json(*estimate_answer(self.owner, body))
            return
        if self.path.split("?", 1)[0].rstrip("/") != CHAT_PATH:
            self._send_json(404, _error_body(404, f"No route for POST {self.path}"))
            return
        if not self._authorized():
            self._send_json(401, _error_body(401, "Invalid Authentication"))
            return
        if body is None:
            self._send_json(400, _error_body(400, "Invalid request: body must be a JSON object"))
            return
        limits = self.owner._limits
        refusal = limits.admit(body)
        if refusal is not None:
            self._send_json(*refusal)
            return
        try:
            self._answer_chat(body)
        finally:
            limits.release()

    def _answer_chat(self, body: dict[str, Any]) -> None:
        owner = self.owner
        rejection = owner._reject(body)
        if rejection is not None:
            self._send_json(*rejection)
            return
        reply, scripted = owner._take_reply(body)
        # `latency` delays echo and demo answers only: a scripted Reply carries its own delays. No lock is held.
        if not scripted and owner.latency > 0 and not owner._wait(owner.latency):
            self._cut()
            return
        if reply.hang > 0 and not owner._wait(reply.hang):
            self._cut()
            return
        if reply.status != 200:
            error = reply.error if reply.error is not None else _error_body(reply.status)
            self._send_json(reply.status, error, reply.headers)
            return
        rendered = _Rendered(reply, body, owner._tool_ids(reply))
        if owner.prefix_cache is not None and reply.usage is None:  # a scripted usage is reported as scripted
            rendered.usage = owner.prefix_cache.usage(body, rendered.usage)
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
