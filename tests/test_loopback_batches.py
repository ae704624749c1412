"""The loopback server's Files and Batches emulation, driven by the real openai SDK.

Why: kimi_lab's batch path (upload JSONL, create, poll, download results) must be testable offline against a
peer that walks Moonshot's batch states, validates input as Moonshot documents, and answers each line through
the same scripted reply path as chat.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from kimi_lab.testing import LoopbackServer, Reply

KEY = "sk-loopback"
MODEL = "kimi-k2.6"
ENDPOINT = "/v1/chat/completions"
TERMINAL = {"completed", "failed", "expired", "cancelled"}
ORDER = ["validating", "in_progress", "finalizing", "completed"]

_OPEN: list[openai.OpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def sdk(srv: LoopbackServer, key: str = KEY) -> openai.OpenAI:
    client = openai.OpenAI(api_key=key, base_url=srv.base_url, max_retries=0, timeout=10)
    _OPEN.append(client)
    return client


def line(n: int, *, model: str = MODEL, **override: Any) -> dict[str, Any]:
    body = {"model": model, "messages": [{"role": "user", "content": f"question {n}"}]}
    return {"custom_id": f"r{n}", "method": "POST", "url": ENDPOINT, "body": body, **override}


def jsonl(lines: list[Any]) -> bytes:
    return "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines).encode()


def submit(client: openai.OpenAI, lines: list[Any], **create: Any) -> Any:
    upload = client.files.create(file=("requests.jsonl", jsonl(lines)), purpose="batch")
    return client.batches.create(input_file_id=upload.id, endpoint=ENDPOINT, completion_window="24h", **create)


def poll(client: openai.OpenAI, batch_id: str, done: Any = None, timeout: float = 10.0) -> list[Any]:
    """Every batch object read until `done(batch)` (default: a terminal status), within a bounded deadline."""
    done = done or (lambda b: b.status in TERMINAL)
    seen: list[Any] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.batches.retrieve(batch_id)
        seen.append(batch)
        if done(batch):
            return seen
        threading.Event().wait(0.02)
    raise AssertionError(f"batch {batch_id} still {seen[-1].status if seen else '?'} after {timeout}s")


def records(client: openai.OpenAI, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    return [json.loads(x) for x in client.files.content(file_id).text.splitlines()]


# -- the whole round trip ---------------------------------------------------------------------------------------


def test_upload_create_poll_and_download() -> None:
    with LoopbackServer(api_key=KEY, batch_step=0.05, batch_rows_per_step=2) as srv:
        client = sdk(srv)
        failure = {"error": {"message": "The engine is currently overloaded", "type": "engine_overloaded_error"}}
        srv.script(Reply(content="scripted answer", reasoning="thought"), Reply(status=503, error=failure))
        data = jsonl([line(n) for n in range(5)])
        upload = client.files.create(file=("requests.jsonl", data), purpose="batch")
        assert (upload.object, upload.purpose, upload.bytes, upload.filename) == (
            "file",
            "batch",
            len(data),
            "requests.jsonl",
        )
        assert client.files.retrieve(upload.id).id == upload.id
        assert client.files.content(upload.id).content == data

        created = client.batches.create(
            input_file_id=upload.id, endpoint=ENDPOINT, completion_window="24h", metadata={"job": "nightly"}
        )
        assert (created.object, created.status, created.input_file_id) == ("batch", "validating", upload.id)
        assert created.metadata == {"job": "nightly"} and created.request_counts.total == 5
        assert created.expires_at == created.created_at + 24 * 3600
        seen = poll(client, created.id)
        batch = seen[-1]
        statuses = [b.status for b in seen]
        assert batch.status == "completed"
        assert [s for s in ORDER if s in statuses] == sorted(set(statuses), key=ORDER.index)  # never backwards
        assert None not in (batch.in_progress_at, batch.finalizing_at, batch.completed_at)
        assert batch.failed_at is batch.expired_at is batch.cancelled_at is None
        assert (batch.request_counts.total, batch.request_counts.completed, batch.request_counts.failed) == (5, 4, 1)

        output = records(client, batch.output_file_id)
        assert [r["custom_id"] for r in output] == ["r0", "r2", "r3", "r4"]
        first = output[0]
        assert first["id"].startswith("batch_req_") and first["error"] is None
        assert first["response"]["status_code"] == 200 and first["response"]["request_id"]
        completion = first["response"]["body"]
        assert completion["object"] == "chat.completion" and completion["model"] == MODEL
        assert completion["choices"][0]["message"] == {
            "role": "assistant",
            "content": "scripted answer",
            "reasoning_content": "thought",
        }
        assert output[1]["response"]["body"]["choices"][0]["message"]["content"] == "Echo: question 2"

        errors = records(client, batch.error_file_id)
        assert [(r["custom_id"], r["response"]["status_code"], r["response"]["body"]) for r in errors] == [
            ("r1", 503, failure)
        ]
        for file_id in (batch.output_file_id, batch.error_file_id):
            assert client.files.retrieve(file_id).purpose == "batch_output"
        assert srv.pending_replies == 0
        assert srv.chat_requests == []  # batch lines are not HTTP requests

        listed = client.batches.list()
        assert [b.id for b in listed.data] == [batch.id] and listed.data[0].status == "completed"


def test_request_counts_grow_as_lines_finish() -> None:
    with LoopbackServer(api_key=KEY, batch_step=0.1, batch_rows_per_step=1) as srv:
        client = sdk(srv)
        created = submit(client, [line(n) for n in range(4)])
        seen = poll(client, created.id)
        done = [b.request_counts.completed for b in seen]
        assert done == sorted(done) and done[-1] == 4
        assert any(b.status == "in_progress" and 0 < b.request_counts.completed < 4 for b in seen), done
        assert all(b.output_file_id is None for b in seen[:-1])  # results appear when the batch ends


def test_every_request_is_recorded() -> None:
    with LoopbackServer(api_key=KEY, batch_step=0) as srv:
        client = sdk(srv)
        created = submit(client, [line(0)])
        client.batches.retrieve(created.id)
        recorded = [(r.method, r.path.split("?")[0]) for r in srv.requests]
        assert recorded == [("POST", "/v1/files"), ("POST", "/v1/batches"), ("GET", f"/v1/batches/{created.id}")]
        assert srv.requests[0].body is None  # an upload is not JSON
        assert srv.requests[1].body["input_file_id"] == created.input_file_id


def test_lines_follow_the_servers_rules() -> None:
    with LoopbackServer(api_key=KEY, model_rules=True, batch_step=0) as srv:
        client = sdk(srv)
        bad = line(1)
        bad["body"]["temperature"] = 0.3  # K2.6's sampling is fixed: a 400 from Moonshot's rules
        batch = poll(client, submit(client, [line(0), bad]).id)[-1]
        assert batch.status == "completed"
        assert [r["custom_id"] for r in records(client, batch.output_file_id)] == ["r0"]
        (error,) = records(client, batch.error_file_id)
        assert error["response"]["status_code"] == 400
        assert error["response"]["body"]["error"]["message"] == "invalid temperature: only 1 is allowed for this model"


def test_a_batch_without_failures_has_no_error_file() -> None:
    with LoopbackServer(api_key=KEY, batch_step=0) as srv:
        client = sdk(srv)
        batch = poll(client, submit(client, [line(0), line(1)]).id)[-1]
        assert batch.status == "completed" and batch.error_file_id is None
        assert len(records(client, batch.output_file_id)) == 2


# -- validation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        ([line(0), line(1, model="kimi-k2.5")], [("mismatched_model", 2)]),
        ([line(0), line(1, custom_id="r0")], [("duplicate_custom_id", 2)]),
        ([line(0), line(1, url="/v1/embeddings")], [("invalid_url", 2)]),
        ([line(0, method="GET")], [("invalid_method", 1)]),
        ([line(0), "{not json", line(2)], [("invalid_json_line", 2)]),
        ([{"custom_id": "r0", "method": "POST", "url": ENDPOINT}], [("missing_required_parameter", 1)]),
        (
            [line(0), line(1, custom_id="r0"), line(2, model="kimi-k2.5")],
            [("duplicate_custom_id", 2), ("mismatched_model", 3)],
        ),
    ],
)
def test_invalid_input_fails_the_batch(lines: list[Any], expected: list[tuple[str, int]]) -> None:
    with LoopbackServer(api_key=KEY, batch_step=0.02) as srv:
        client = sdk(srv)
        created = submit(client, lines)
        assert created.status == "validating"
        batch = poll(client, created.id)[-1]
        assert batch.status == "failed" and batch.failed_at is not None
        assert batch.errors is not None
        assert [(e.code, e.line) for e in batch.errors.data] == expected
        assert all(e.message for e in batch.errors.data)
        assert batch.output_file_id is None and batch.error_file_id is None and batch.in_progress_at is None
        assert srv.pending_replies == 0


def test_empty_file_and_unserved_model_fail_the_batch() -> None:
    with LoopbackServer(api_key=KEY, batch_step=0, models=["kimi-k2.6"]) as srv:
        client = sdk(srv)
        empty = client.files.create(file=("empty.jsonl", b""), purpose="batch")
        batch = client.batches.create(input_file_id=empty.id, endpoint=ENDPOINT, completion_window="24h")
        batch = client.batches.retrieve(batch.id)
        assert batch.status == "failed" and [e.code for e in batch.errors.data] == ["empty_file"]
        batch = client.batches.retrieve(submit(client, [line(0, model="kimi-k3")]).id)
        assert batch.status == "failed" and [(e.code, e.line) for e in batch.errors.data] == [("model_not_found", 1)]


def test_create_rejects_bad_requests() -> None:
    with LoopbackServer(api_key=KEY) as srv:
        client = sdk(srv)
        upload = client.files.create(file=("r.jsonl", jsonl([line(0)])), purpose="batch")
        with pytest.raises(openai.BadRequestError) as wrong_endpoint:
            client.batches.create(input_file_id=upload.id, endpoint="/v1/embeddings", completion_window="24h")
        assert wrong_endpoint.value.body["param"] == "endpoint"
        with pytest.raises(openai.BadRequestError) as wrong_window:
            client.batches.create(input_file_id=upload.id, endpoint=ENDPOINT, completion_window="soon")  # type: ignore[arg-type]
        assert wrong_window.value.body["param"] == "completion_window"
        with pytest.raises(openai.NotFoundError):
            client.batches.create(input_file_id="file-missing", endpoint=ENDPOINT, completion_window="24h")


# -- expiry and cancellation ------------------------------------------------------------------------------------


def test_expired_batch_keeps_finished_lines() -> None:
    with LoopbackServer(api_key=KEY, batch_step=0.05, batch_rows_per_step=1, batch_window=0.15) as srv:
        client = sdk(srv)
        batch = poll(client, submit(client, [line(n) for n in range(6)]).id)[-1]
        assert batch.status == "expired" and batch.expired_at is not None and batch.completed_at is None
        # 0.05 s validating, then one line per 0.05 s: two lines ran before the 0.15 s window ended.
        assert [r["custom_id"] for r in records(client, batch.output_file_id)] == ["r0", "r1"]
        errors = records(client, batch.error_file_id)
        assert [r["custom_id"] for r in errors] == ["r2", "r3", "r4", "r5"]
        assert all(r["response"] is None and r["error"]["code"] == "batch_expired" for r in errors)
        assert (batch.request_counts.completed, batch.request_counts.failed) == (2, 0)


def test_cancel_keeps_finished_lines() -> None:
    with LoopbackServer(api_key=KEY, batch_step=0.05, batch_rows_per_step=1) as srv:
        client = sdk(srv)
        created = submit(client, [line(n) for n in range(40)])
        poll(client, created.id, lambda b: b.request_counts.completed >= 1)
        cancelling = client.batches.cancel(created.id)
        assert cancelling.status == "cancelling" and cancelling.cancelling_at is not None
        ran = cancelling.request_counts.completed
        assert 1 <= ran < 40
        batch = poll(client, created.id)[-1]
        assert batch.status == "cancelled" and batch.cancelled_at is not None
        assert batch.request_counts.completed == ran  # nothing ran after the cancel
        assert [r["custom_id"] for r in records(client, batch.output_file_id)] == [f"r{n}" for n in range(ran)]
        errors = records(client, batch.error_file_id)
        assert [r["custom_id"] for r in errors] == [f"r{n}" for n in range(ran, 40)]
        assert {r["error"]["code"] for r in errors} == {"batch_cancelled"}
        with pytest.raises(openai.BadRequestError):
            client.batches.cancel(created.id)  # only validating, in_progress or finalizing batches


# -- files ------------------------------------------------------------------------------------------------------


def test_oversize_file_is_refused() -> None:
    with LoopbackServer(api_key=KEY, max_file_bytes=64) as srv:
        client = sdk(srv)
        assert client.files.create(file=("ok.jsonl", b"x" * 64), purpose="batch").bytes == 64
        with pytest.raises(openai.BadRequestError) as refused:
            client.files.create(file=("big.jsonl", b"x" * 65), purpose="batch")
        assert refused.value.status_code == 400
        assert refused.value.body["param"] == "file" and refused.value.body["type"] == "invalid_request_error"
        assert len(client.files.list().data) == 1


def test_wrong_purpose_is_refused() -> None:
    with LoopbackServer(api_key=KEY) as srv:
        client = sdk(srv)
        with pytest.raises(openai.BadRequestError) as refused:
            client.files.create(file=("a.jsonl", b"{}\n"), purpose="fine-tune")
        assert refused.value.body["param"] == "purpose" and "purpose" in refused.value.body["message"]
        assert client.files.list().data == []


def test_binary_content_round_trips_and_delete() -> None:
    with LoopbackServer(api_key=KEY) as srv:
        client = sdk(srv)
        data = bytes(range(256)) * 3 + b"\r\n--boundary-like--\r\n"
        upload = client.files.create(file=("blob.jsonl", data), purpose="batch")
        assert client.files.content(upload.id).content == data
        deleted = client.files.delete(upload.id)
        assert (deleted.id, deleted.deleted) == (upload.id, True)
        with pytest.raises(openai.NotFoundError):
            client.files.retrieve(upload.id)


def test_unknown_ids_are_404() -> None:
    with LoopbackServer(api_key=KEY) as srv:
        client = sdk(srv)
        calls = [
            lambda: client.files.retrieve("file-nope"),
            lambda: client.files.content("file-nope"),
            lambda: client.files.delete("file-nope"),
            lambda: client.batches.retrieve("batch_nope"),
            lambda: client.batches.cancel("batch_nope"),
        ]
        for call in calls:
            with pytest.raises(openai.NotFoundError) as missing:
                call()
            assert missing.value.status_code == 404


def test_files_and_batches_need_the_key() -> None:
    with LoopbackServer(api_key=KEY) as srv:
        good = sdk(srv)
        upload = good.files.create(file=("r.jsonl", jsonl([line(0)])), purpose="batch")
        bad = sdk(srv, key="sk-wrong")
        calls = [
            lambda: bad.files.create(file=("r.jsonl", b"{}\n"), purpose="batch"),
            lambda: bad.files.retrieve(upload.id),
            lambda: bad.files.content(upload.id),
            lambda: bad.files.delete(upload.id),
            lambda: bad.batches.create(input_file_id=upload.id, endpoint=ENDPOINT, completion_window="24h"),
            lambda: bad.batches.list(),
        ]
        for call in calls:
            with pytest.raises(openai.AuthenticationError):
                call()
        assert [f.id for f in good.files.list().data] == [upload.id]
