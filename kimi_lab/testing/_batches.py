"""The loopback server's Batch API: batches of chat requests from an uploaded JSONL file, run on the server's clock.

Why: Moonshot runs batches of chat requests (§8: `/v1/batches`; platform.kimi.com/docs/guide/use-batch-api), and
a client that submits, polls, cancels and collects them needs a peer that walks the same states, offline and
deterministically. Each line is answered by the server's normal reply path (scripted Replies first, then the echo
or demo, with the provider rules of LoopbackServer._reject), rendered as a non-streaming chat.completion.

Sources: "§8" is /work/shared/kimi-protocol.md section 8. The batch object, its statuses and the output and error
file lines follow OpenAI's Batch API, which Moonshot's guide drives with the OpenAI SDK:
developers.openai.com/api/reference/python/resources/batches (create, retrieve, cancel, list; the Batch object and
its statuses validating, failed, in_progress, finalizing, completed, expired, cancelling, cancelled). Moonshot's
cancel goes through cancelling to cancelled, and only a validating, in_progress or finalizing batch can be
cancelled (platform.kimi.ai/docs/api/batch-cancel). Output lines {id, custom_id,
response: {status_code, request_id, body}, error}: OpenAI's batch request output (an example is quoted in
openai-api-rs's examples/data/batch_result.json). Error codes for lines never run, "batch_expired" (the completion
window ended) and "batch_cancelled": OpenAI's BatchRequestOutputError (openai-client-base's docs, generated from
OpenAI's OpenAPI spec).

Timing, this server's model: a batch validates for one `step`, then runs `rows_per_step` lines per step, then
finalizes for one step. Nothing runs in the background: a batch catches up with the clock whenever it is read, so a
batch nobody reads takes no scripted replies. request_counts count the lines that ran (completed: 200, failed:
another status); lines left by expiry or cancellation are only in the error file.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from kimi_lab.testing._batches_check import Line, check_create, check_input, window_seconds
from kimi_lab.testing._batches_files import OUTPUT_PURPOSE, UPLOAD_PURPOSES, Files, openai_error
from kimi_lab.testing._dialects import _Rendered
from kimi_lab.testing._replies import _dumps, _error_body

if TYPE_CHECKING:
    from kimi_lab.testing.server import LoopbackServer

FILES_PATH = "/v1/files"
BATCHES_PATH = "/v1/batches"
_CANCELLABLE = ("validating", "in_progress", "finalizing")
_TERMINAL = ("failed", "completed", "expired", "cancelled")
_STAMPS = ("in_progress", "finalizing", "completed", "failed", "expired", "cancelling", "cancelled")
# OpenAI's list: limit 1-100, default 20 (developers.openai.com/api/reference/python/resources/batches, list).
_LIST_DEFAULT, _LIST_MAX = 20, 100

Answer = tuple[int, dict[str, Any] | bytes]


@dataclass
class _Batch:
    id: str
    request: dict[str, Any]  # the create request: input_file_id, endpoint, completion_window, metadata
    created: float  # time.monotonic() at creation
    created_wall: float  # time.time() at creation
    window: float  # seconds until it expires
    lines: list[Line]
    errors: list[dict[str, Any]]
    status: str = "validating"
    done: int = 0  # lines run so far
    completed: int = 0
    failed: int = 0
    output: list[str] = field(default_factory=list)  # JSONL lines of the output file
    failures: list[str] = field(default_factory=list)  # JSONL lines of the error file
    stamps: dict[str, float] = field(default_factory=dict)  # status -> time.monotonic() it began
    cancel_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None

    def wall(self, at: float) -> int:
        return int(self.created_wall + (at - self.created))

    def object(self) -> dict[str, Any]:
        """The batch object as OpenAI's reference lists its fields."""
        request = self.request
        obj: dict[str, Any] = {
            "id": self.id,
            "object": "batch",
            "endpoint": request["endpoint"],
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": request["input_file_id"],
            "completion_window": request["completion_window"],
            "status": self.status,
            "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id,
            "created_at": int(self.created_wall),
            "expires_at": self.wall(self.created + self.window),
        }
        for name in _STAMPS:
            at = self.stamps.get(name)
            obj[f"{name}_at"] = None if at is None else self.wall(at)
        obj["request_counts"] = {"total": len(self.lines), "completed": self.completed, "failed": self.failed}
        obj["metadata"] = request.get("metadata")
        return obj


class Batches:
    """Files and batches of one LoopbackServer, in memory; thread-safe (one lock for both)."""

    def __init__(
        self,
        owner: LoopbackServer,
        *,
        max_file_bytes: int,
        step: float,
        rows_per_step: int,
        window: float | None,
    ) -> None:
        if not step >= 0:
            raise ValueError("batch_step must be >= 0")
        if isinstance(rows_per_step, bool) or not isinstance(rows_per_step, int) or rows_per_step < 1:
            raise ValueError("batch_rows_per_step must be an int >= 1")
        if window is not None and not window > 0:
            raise ValueError("batch_window must be > 0 (or None for the batch's completion_window)")
        self.owner = owner
        self.files = Files(max_file_bytes)
        self.step = float(step)
        self.rows_per_step = rows_per_step
        self.window = window
        self._batches: dict[str, _Batch] = {}
        self._lock = threading.Lock()

    @staticmethod
    def owns(path: str) -> bool:
        """True for the Files and Batches routes (query string ignored)."""
        path = path.split("?", 1)[0].rstrip("/")
        return any(path == root or path.startswith(root + "/") for root in (FILES_PATH, BATCHES_PATH))

    def answer(self, method: str, path: str, content_type: str, raw: bytes) -> Answer:
        """(status, JSON object or raw bytes) for an authorized request to one of the owned routes."""
        route, _, query = path.partition("?")
        route = route.rstrip("/")
        now = time.monotonic()
        with self._lock:
            if route == FILES_PATH or route.startswith(FILES_PATH + "/"):
                parts = [p for p in route[len(FILES_PATH) :].split("/") if p]
                if method == "POST" and not parts:
                    return self.files.upload(content_type, raw)
                return self.files.answer(method, parts)
            parts = [p for p in route[len(BATCHES_PATH) :].split("/") if p]
            if method == "POST" and not parts:
                return self._create(_json_object(raw), now)
            if method == "GET" and not parts:
                return self._list(parse_qs(query), now)
            batch = self._batches.get(parts[0]) if parts else None
            known = (method, len(parts)) == ("GET", 1) or (method, parts[1:]) == ("POST", ["cancel"])
            if not known:
                return 404, openai_error(f"No route for {method} {route}")
            if batch is None:
                return 404, openai_error(f"No such Batch object: {parts[0]}", param="id", code="resource_not_found")
            self._advance(batch, now)
            if method == "POST":
                return self._cancel(batch, now)
            return 200, batch.object()

    # -- routes (lock held) -----------------------------------------------------------------------------------

    def _create(self, body: dict[str, Any] | None, now: float) -> Answer:
        problem = check_create(body)
        if problem is not None or body is None:
            return 400, problem or openai_error("Invalid request")
        source = self.files.by_id.get(body["input_file_id"])
        if source is None:
            message = f"No such File object: {body['input_file_id']}"
            return 404, openai_error(message, param="input_file_id", code="resource_not_found")
        if source.purpose not in UPLOAD_PURPOSES:
            message = f"File {source.id} has purpose {source.purpose!r}; a batch input needs purpose 'batch'"
            return 400, openai_error(message, param="input_file_id", code="invalid_value")
        lines, errors = check_input(source.data, body["endpoint"], self.owner.models)
        request = {k: body.get(k) for k in ("input_file_id", "endpoint", "completion_window", "metadata")}
        window = self.window if self.window is not None else window_seconds(body["completion_window"]) or 86400.0
        batch = _Batch("batch_" + secrets.token_hex(12), request, now, time.time(), window, lines, errors)
        self._batches[batch.id] = batch
        return 200, batch.object()

    def _list(self, query: dict[str, list[str]], now: float) -> Answer:
        try:
            limit = int(query.get("limit", [str(_LIST_DEFAULT)])[0])
        except ValueError:
            limit = 0
        if not 1 <= limit <= _LIST_MAX:
            return 400, openai_error(f"limit must be between 1 and {_LIST_MAX}", param="limit", code="invalid_value")
        newest_first = list(reversed(self._batches.values()))
        after = query.get("after", [None])[0]
        if after is not None:
            ids = [b.id for b in newest_first]
            newest_first = newest_first[ids.index(after) + 1 :] if after in ids else []
        page = newest_first[:limit]
        for batch in page:
            self._advance(batch, now)
        data = [b.object() for b in page]
        return 200, {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(newest_first) > limit,
        }

    def _cancel(self, batch: _Batch, now: float) -> Answer:
        if batch.status not in _CANCELLABLE:
            message = f"Cannot cancel a batch with status {batch.status!r}; only {', '.join(_CANCELLABLE)} can be"
            return 400, openai_error(message, code="invalid_state")
        batch.cancel_at = now
        batch.status = "cancelling"
        batch.stamps["cancelling"] = now
        return 200, batch.object()

    # -- the clock ------------------------------------------------------------------------------------------

    def _due(self, batch: _Batch, at: float) -> int:
        """How many lines have run by time `at` (one chunk of rows_per_step lines per step after validation)."""
        total = len(batch.lines)
        if self.step == 0:
            return total
        steps = math.floor((at - batch.created) / self.step + 1e-9) - 1
        return min(total, max(0, steps) * self.rows_per_step)

    def _advance(self, batch: _Batch, now: float) -> None:
        """Bring a batch up to `now`: run the lines due, move its status, write its files when it ends."""
        if batch.status in _TERMINAL:
            return
        step = self.step
        if batch.cancel_at is not None:  # cancelling: no new lines; cancelled one step later
            if now >= batch.cancel_at + step:
                self._finish(batch, "cancelled", batch.cancel_at + step)
            return
        started = batch.created + step
        if now < started:
            return
        if batch.errors:
            self._finish(batch, "failed", started)
            return
        batch.status = "in_progress"
        batch.stamps.setdefault("in_progress", started)
        deadline = batch.created + batch.window
        self._run(batch, self._due(batch, min(now, deadline)))
        if batch.done == len(batch.lines):
            done_at = started + step * math.ceil(len(batch.lines) / self.rows_per_step)
            batch.status = "finalizing"
            batch.stamps.setdefault("finalizing", done_at)
            if now >= done_at + step:
                self._finish(batch, "completed", done_at + step)
            return
        if now >= deadline:
            self._finish(batch, "expired", deadline)

    def _run(self, batch: _Batch, upto: int) -> None:
        """Answer lines batch.done..upto-1 through the owner's reply path, in file order."""
        owner = self.owner
        while batch.done < upto:
            custom_id, body = batch.lines[batch.done]
            batch.done += 1
            rejection = owner._reject(body)
            if rejection is not None:
                status, answer = rejection
            else:
                reply = owner._next_reply(body)
                if reply.status != 200:
                    status = reply.status
                    answer = reply.error if reply.error is not None else _error_body(reply.status)
                else:
                    status, answer = 200, _Rendered(reply, body, owner._tool_ids(reply)).completion()
            response = {"status_code": status, "request_id": secrets.token_hex(16), "body": answer}
            line = _dumps(_output_line(custom_id, response, None))
            if status == 200:
                batch.completed += 1
                batch.output.append(line)
            else:
                batch.failed += 1
                batch.failures.append(line)

    def _finish(self, batch: _Batch, status: str, at: float) -> None:
        batch.status = status
        batch.stamps[status] = at
        if status == "failed":
            return
        if status in ("expired", "cancelled"):
            code = "batch_expired" if status == "expired" else "batch_cancelled"
            reason = "the completion window ended" if status == "expired" else "the batch was cancelled"
            for custom_id, _ in batch.lines[batch.done :]:
                error = {"code": code, "message": f"This request was not run: {reason}"}
                batch.failures.append(_dumps(_output_line(custom_id, None, error)))
        # A file only when it has lines: error_file_id is null for a batch without failures (OpenAI's reference:
        # error_file_id is optional, "the outputs of requests with errors").
        if batch.output:
            batch.output_file_id = self._write(batch, "output", batch.output)
        if batch.failures:
            batch.error_file_id = self._write(batch, "error", batch.failures)

    def _write(self, batch: _Batch, kind: str, lines: list[str]) -> str:
        data = ("\n".join(lines) + "\n").encode("utf-8")
        return self.files.add(f"{batch.id}_{kind}.jsonl", OUTPUT_PURPOSE, data).id


def _output_line(custom_id: str, response: dict[str, Any] | None, error: dict[str, Any] | None) -> dict[str, Any]:
    return {"id": "batch_req_" + secrets.token_hex(12), "custom_id": custom_id, "response": response, "error": error}


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw) if raw else None
    except (ValueError, UnicodeDecodeError):
        return None
    return value if isinstance(value, dict) else None
