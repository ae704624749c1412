"""`kimi_lab.map(..., backend="batch")`: the rows still to ask go to the provider's Batch API as JSONL files
instead of one streamed request at a time.

Why a batch: the provider runs it within a completion window, at its batch price and outside the chat
rate limits (Moonshot: `/v1/files` and `/v1/batches`, kimi-protocol.md §8), so a large unattended job
needs no admission control. What that changes, and why this module looks the way it does:

- A batch is paid for once created. Its id is saved to the checkpoint the moment `batches.create`
  returns, under a job id that is a hash of the requests, so rerunning the same cell (in this kernel or
  a new one, after an interrupt or a crash) polls the batches already running instead of paying twice.
- Results arrive only when a batch ends, so rows are saved once every part has ended: the requests, and
  with them the job id, stay the same until then.
- An interrupt stops the polling, not the batch: it keeps running on the provider and is picked up again.
- One request a row and no conversation: no tool loop, and no repair round for a typed answer that does
  not match its schema. Such rows are left out of the checkpoint, so a rerun without backend='batch'
  asks exactly those, with the repair round.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kimi_lab.backends._think import ThinkSplitter
from kimi_lab.backends._wire import MalformedEvent, usage_of
from kimi_lab.backends.remote import RemoteBackend, _client
from kimi_lab.common.errors import KimiAPIError, KimiConfigError, KimiConnectionError, KimiError, KimiInterrupted
from kimi_lab.common.secrets import scrub
from kimi_lab.core.structured import SchemaMismatch
from kimi_lab.render.progress import Progress
from kimi_lab.services.mapping.claims import batch_claim
from kimi_lab.services.mapping.inputs import Rows
from kimi_lab.services.mapping.job import Outcome
from kimi_lab.services.mapping.plan import MapPlan
from kimi_lab.store.checkpoint import BatchRecord, Checkpoint, RowRecord

__all__ = ["run_batch"]

ENDPOINT = "/v1/chat/completions"  # the only endpoint Moonshot's Batch API runs (§8)
WINDOW = "24h"
_ENDED = ("completed", "expired", "cancelled", "failed")
_EXPIRY_GRACE = 3600.0  # seconds past `expires_at` a batch may still be finalizing before polling gives up
_POLL_RETRIES = 3  # transient failures in a row while polling before giving up (the batch keeps running)
_KEEPS = "the batch keeps running on the provider; run the same cell again to pick it up (nothing is sent twice)"
_NOT_RUN = {"batch_expired": "the batch's completion window ended before this row ran",
            "batch_cancelled": "the batch was cancelled before this row ran"}


@dataclass(frozen=True)
class _Request:
    key: str
    prompt: str
    line: bytes  # its JSONL line, newline included


def _pause(seconds: float) -> None:
    """The wait between polls: interruptible (a kernel's Stop reaches it at once), never a busy loop."""
    threading.Event().wait(seconds)


class _AnsweredElsewhere(Exception):
    """Another kernel answered some of these rows while this one waited to create their batch."""


def run_batch(plan: MapPlan, rows: Rows, keys: list[str], answered: dict[str, RowRecord], checkpoint: Checkpoint, *,
              progress: str = "auto", keep_reasoning: bool = False, poll: float = 5.0, max_bytes: int = 100_000_000,
              _looks: int = 3) -> tuple[dict[str, Outcome], str]:
    """Ask every distinct row not in `answered` through the Batch API; (outcomes by key, the error of a row
    the provider returned nothing for)."""
    name = plan.target.provider.name
    if plan.target.provider.dialect == "native":
        raise KimiConfigError(f"backend='batch' needs a provider with a batch API; {name} runs the model in this "
                              f"kernel: use backend='async' (the default), or a provider such as moonshot")
    if plan.spec.offered:
        raise KimiConfigError("backend='batch' sends one request a row and cannot run a tool loop: pass "
                              "tools='none', or use backend='async' to offer tools")
    outcomes: dict[str, Outcome] = {k: Outcome.of(r) for k, r in answered.items()}
    requests = _requests(plan, rows, keys, outcomes)
    if not requests:
        return outcomes, "not asked"
    parts = _parts(requests, max_bytes)
    job = hashlib.sha256("\n".join(sorted(r.key for r in requests)).encode()).hexdigest()[:32]
    client = _client(plan.target, plan.cfg)
    before = sum(1 for k in keys if k in outcomes)
    bar = Progress(len(rows), kind="none" if progress == "none" else progress,
                   title=f"kimi_lab.map · {plan.target.model} · batch", start=before)
    ids: dict[int, str] = {}
    try:
        _submit(client, plan, job, parts, checkpoint, ids, look=_looks > 0)
        ended = _poll(client, plan, ids, poll, lambda *counts: _draw(bar, before, *counts))
        read = {n: _results(client, plan, batch) for n, batch in ended.items() if batch.status != "failed"}
    except _AnsweredElsewhere:  # the rest, without them: a batch of the rows still missing
        bar.close("some rows were answered by another kernel meanwhile: asking the rest")
        return run_batch(plan, rows, keys, checkpoint.answered(keys), checkpoint, progress=progress,
                         keep_reasoning=keep_reasoning, poll=poll, max_bytes=max_bytes, _looks=_looks - 1)
    except KeyboardInterrupt:
        bar.close("stopped: interrupted")
        if not ids:
            raise KimiInterrupted("interrupted before a batch was created: nothing runs; run the same cell again "
                                  "to send it") from None
        made = f"{len(ids)} of {len(parts)} batches are" if len(ids) < len(parts) else (
            "the batch is" if len(parts) == 1 else f"its {len(parts)} batches are")
        raise KimiInterrupted(f"interrupted: {made} created and kept on {name}, not cancelled; "
                              f"run the same cell again to pick {'it' if len(ids) == 1 else 'them'} up "
                              f"(nothing is sent twice)") from None
    except KimiError as exc:
        bar.close(f"stopped: {exc.message}")
        if ids and getattr(exc, "status", None) == 404:  # a batch or file the provider no longer knows
            checkpoint.forget_batches(job)
            raise KimiAPIError(f"{exc.message}; its saved batch ids are forgotten: run the same cell again to send "
                               f"the rows in a new batch", status=404) from None
        if ids and not isinstance(exc, KimiConfigError):
            raise type(exc)(f"{exc.message}; {_KEEPS}") from None
        raise
    prompts = {r.key: r.prompt for r in requests}
    saved = 0
    for results in read.values():
        for key, (outcome, save) in results.items():
            if key not in prompts:
                continue  # not a row of this job (a provider that returns more than it was sent)
            if save:
                data = outcome.data.model_dump(mode="json") if hasattr(outcome.data, "model_dump") else outcome.data
                checkpoint.save(RowRecord(key, plan.target.model, prompts[key], outcome.content,
                                          outcome.reasoning or "", data, outcome.error, outcome.tokens_in,
                                          outcome.tokens_out, outcome.cost))
                saved += 1
            if not keep_reasoning:
                outcome.reasoning = None
            outcomes[key] = outcome
    checkpoint.forget_batches(job)  # every part is read: a rerun asks only the rows still missing
    failed = [batch for batch in ended.values() if batch.status == "failed"]
    done = sum(1 for k in keys if k in outcomes)
    errors = sum(1 for k in keys if k in outcomes and outcomes[k].error)
    tokens = sum(o.tokens_in + o.tokens_out for k, o in outcomes.items() if k in prompts)
    costs = [o.cost for k, o in outcomes.items() if k in prompts and o.tokens_in + o.tokens_out]
    bar.update(done=done, failed=errors, in_flight=0, tokens=tokens,
               cost=None if None in costs else sum(c or 0.0 for c in costs), force=True)
    if failed:
        bar.close(f"stopped: {len(failed)} of {len(parts)} batches refused by {name}")
        reasons = "; ".join(_refusal(batch) for batch in failed)
        kept = f" ({saved:,} rows of other parts answered and saved)" if saved else ""
        raise KimiError(f"{name} refused the batch ({scrub(reasons, plan.secrets)[:400]}): none of its rows ran; "
                        f"fix that and run the same cell again{kept}")
    bar.close(f"done: {len(rows):,} rows, {errors:,} failed")
    return outcomes, "not answered: the batch's results have no line for this row; run the same cell again to ask it"


# -- the requests -----------------------------------------------------------------------------------------------


def _requests(plan: MapPlan, rows: Rows, keys: list[str], outcomes: dict[str, Outcome]) -> list[_Request]:
    """One request per distinct key still to ask, in the order of its first row."""
    seen = set(outcomes)
    out: list[_Request] = []
    for i, key in enumerate(keys):
        if key in seen:
            continue
        seen.add(key)
        prompt = plan.prompt(rows.row(i))
        # The exact body a streamed request would send (request rules, dialect fields, response_format),
        # made non-streaming: a batch line gets one chat.completion back.
        body = json.loads(RemoteBackend(plan.target, plan.cfg).body(plan.request(plan.messages(prompt),
                                                                                  threading.Event())))
        body["stream"] = False
        body.pop("stream_options", None)
        line = {"custom_id": key, "method": "POST", "url": ENDPOINT, "body": body}
        out.append(_Request(key, prompt, (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
                            .encode()))
    return out


def _parts(requests: list[_Request], max_bytes: int) -> list[list[_Request]]:
    """Files of at most `max_bytes` each (Moonshot takes 100 MB a file), in order."""
    parts: list[list[_Request]] = [[]]
    size = 0
    for request in requests:
        if len(request.line) > max_bytes:
            raise KimiConfigError(f"one row's request is {len(request.line):,} bytes, above the batch file limit of "
                                  f"{max_bytes:,}: shorten that row, or use backend='async'")
        if parts[-1] and size + len(request.line) > max_bytes:
            parts.append([])
            size = 0
        parts[-1].append(request)
        size += len(request.line)
    return parts


# -- the provider -----------------------------------------------------------------------------------------------


def _submit(client: Any, plan: MapPlan, job: str, parts: list[list[_Request]], checkpoint: Checkpoint,
            ids: dict[int, str], look: bool = True) -> None:
    """Each part's batch id into `ids` as soon as it is known (an interrupt then says what exists): the ones an
    earlier run, or another kernel at the same moment, created; then the missing parts, created here."""
    def saved() -> dict[int, str]:
        return {b.part: b.batch_id for b in checkpoint.batches(job) if b.part < len(parts)}

    def picked_up(found: dict[int, str]) -> None:
        if found:
            print(f"kimi_lab.map: picking up {len(found)} batch(es) created before for these {total:,} rows "
                  f"({', '.join(found.values())})", flush=True)
        ids.update(found)

    total = sum(len(part) for part in parts)
    picked_up(saved())
    if len(ids) < len(parts):  # another kernel may be creating this very job: only one of the two creates it
        with batch_claim(checkpoint, job, lambda: len(saved()) == len(parts), _pause,
                         lambda line: print(line, flush=True)):
            picked_up({n: i for n, i in saved().items() if n not in ids})
            missing = [r.key for n, part in enumerate(parts) if n not in ids for r in part]
            if look and missing and checkpoint.answered(missing):  # a kernel finished them while this one waited
                raise _AnsweredElsewhere
            for n, part in enumerate(parts):
                if n in ids:
                    continue
                data = b"".join(r.line for r in part)
                upload = _call(plan, "uploading the batch file", client.files.create,
                               file=(f"kimi_lab-map-{job[:12]}-{n}.jsonl", data), purpose="batch")
                batch = _call(plan, "creating the batch", client.batches.create, input_file_id=upload.id,
                              endpoint=ENDPOINT, completion_window=WINDOW)
                checkpoint.save_batch(job, BatchRecord(n, batch.id, plan.target.model, len(part)))  # at once
                ids[n] = batch.id
    print(f"kimi_lab.map: {total:,} rows in {len(parts)} batch(es) on {plan.target.provider.name}, results "
          f"within {WINDOW}; if the kernel stops, run the same cell again to pick them up", flush=True)


def _poll(client: Any, plan: MapPlan, ids: dict[int, str], poll: float, draw: Callable[..., None]
          ) -> dict[int, Any]:
    """Every part's batch object once it has ended, reading them every `poll` seconds until then."""
    latest: dict[int, Any] = {}
    ended: dict[int, Any] = {}
    misses = 0
    while True:
        for n, batch_id in ids.items():
            if n in ended:
                continue
            try:
                batch = _call(plan, f"reading batch {batch_id}", client.batches.retrieve, batch_id)
            except (KimiAPIError, KimiConnectionError) as exc:
                status = getattr(exc, "status", None)
                transient = isinstance(exc, KimiConnectionError) or status == 429 or (status or 0) >= 500
                misses += 1
                if not transient or misses > _POLL_RETRIES:
                    raise
                continue
            misses = 0
            latest[n] = batch
            if batch.status in _ENDED:
                ended[n] = batch
            elif _overdue(batch):
                raise KimiError(f"batch {batch_id} on {plan.target.provider.name} is still {batch.status!r} an hour "
                                f"past its expiry; polling stopped. {_KEEPS}")
        counts = [getattr(b, "request_counts", None) for b in latest.values()]
        ran = sum((c.completed or 0) + (c.failed or 0) for c in counts if c is not None)
        failed = sum(c.failed or 0 for c in counts if c is not None)
        waiting = sum(max(0, (c.total or 0) - (c.completed or 0) - (c.failed or 0))
                      for n, c in zip(latest, counts, strict=True) if c is not None and n not in ended)
        draw(ran, failed, waiting)
        if len(ended) == len(ids):
            return ended
        _pause(poll)


def _overdue(batch: Any) -> bool:
    """A batch the provider still calls running long after its own expiry: polling it would never end."""
    expires = getattr(batch, "expires_at", None)
    return isinstance(expires, (int, float)) and time.time() > expires + _EXPIRY_GRACE


def _draw(bar: Progress, before: int, ran: int, failed: int, waiting: int) -> None:
    bar.update(done=before + ran, failed=failed, in_flight=waiting, tokens=0, cost=None)


def _results(client: Any, plan: MapPlan, batch: Any) -> dict[str, tuple[Outcome, bool]]:
    """Each line of an ended batch's output and error files: its outcome, and whether to save it."""
    out: dict[str, tuple[Outcome, bool]] = {}
    for file_id in (batch.output_file_id, batch.error_file_id):
        if not file_id:
            continue
        content = _call(plan, f"downloading the results of batch {batch.id}", client.files.content, file_id)
        for raw in content.text.splitlines():
            try:
                item = json.loads(raw)
            except ValueError:
                continue  # a blank or broken line; its row stays "not answered" and is asked again
            if isinstance(item, dict) and isinstance(item.get("custom_id"), str):
                outcome = _outcome(plan, item)
                earlier = out.get(item["custom_id"])
                if earlier is not None and earlier[1] and not outcome[1]:
                    continue  # an error line never replaces an answer already read (it was paid for)
                out[item["custom_id"]] = outcome
    return out


def _outcome(plan: MapPlan, item: dict[str, Any]) -> tuple[Outcome, bool]:
    """One result line as a row's outcome; only an answer is saved (an error is asked again on a rerun)."""
    name = plan.target.provider.name
    response = item.get("response") if isinstance(item.get("response"), dict) else None
    if response is None:
        error = item.get("error") if isinstance(item.get("error"), dict) else {}
        reason = _NOT_RUN.get(str(error.get("code")), f"{name} did not run it ({_one_line(plan, error)})")
        return Outcome(error=f"not answered: {reason}; run the same cell again to ask it"), False
    status, body = response.get("status_code"), response.get("body")
    if status != 200:
        detail = _one_line(plan, body.get("error", body) if isinstance(body, dict) else body)
        return Outcome(error=f"{name} answered {status} for this row ({detail}); run the same cell again to ask "
                             f"it again"), False
    try:
        choice = body["choices"][0]
        message = choice["message"]
        content = message.get("content") or ""
        reasoning = message.get("reasoning_content") or message.get("reasoning") or ""
        usage = usage_of(body.get("usage") or {})
        if not isinstance(content, str) or not isinstance(reasoning, str):
            raise TypeError("content or reasoning is not a string")
    except (KeyError, IndexError, TypeError, AttributeError, MalformedEvent) as exc:
        return Outcome(error=f"{name}'s result for this row is not a chat completion ({exc}); run the same cell "
                             f"again to ask it"), False
    # What the provider sent back is scrubbed as the streamed path scrubs it: a model (or a provider) that echoes
    # a key must not put it into the frame or the checkpoint.
    content, reasoning = scrub(content, plan.secrets), scrub(reasoning, plan.secrets)
    if "<think>" in content:  # a server that leaves the reasoning inline, as the streamed path handles it
        splitter = ThinkSplitter()
        pieces = [*splitter.feed(content), *splitter.flush()]
        content = "".join(text for part, text in pieces if part == "content")
        reasoning = reasoning or "".join(text for part, text in pieces if part == "reasoning")
    price = plan.target.provider.price
    cost = price.cost(usage.prompt, usage.completion, usage.cached) if price is not None else None
    outcome = Outcome(content, None, None, usage.prompt, usage.completion, cost, reasoning)
    if choice.get("finish_reason") == "length":
        outcome.error = f"cut at max_tokens={plan.spec.request.max_tokens:,}; raise max_tokens"
        return outcome, True
    if plan.schema is not None:
        try:
            outcome.data = plan.schema.parse(content)
        except SchemaMismatch as exc:
            outcome.error = (f"the answer does not match the schema: {exc} (batch mode has no repair round; rerun "
                             f"the cell without backend='batch' to ask those rows again with one)")
            return outcome, False
    return outcome, True


def _one_line(plan: MapPlan, error: Any) -> str:
    """The provider's message for an error object, on one line and without secrets."""
    text = (error.get("message") or error.get("code") or error) if isinstance(error, dict) else error
    return " ".join(scrub(str(text or "no reason given"), plan.secrets).split())[:300]


def _refusal(batch: Any) -> str:
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    said = [str(e.message) if not getattr(e, "line", None) or "line" in str(e.message).lower()
            else f"line {e.line}: {e.message}" for e in errors[:5]]
    return f"batch {batch.id}: " + ("; ".join(said) or "no reason given")


def _call(plan: MapPlan, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """An SDK call, its errors as one line naming the provider and what to do."""
    import openai

    target = plan.target
    name, where = target.provider.name, target.shown_url
    try:
        return fn(*args, **kwargs)
    except openai.APIStatusError as exc:
        status = exc.status_code
        detail = " ".join(scrub(_message(exc), plan.secrets).split())[:300]
        key = target.key_source or target.provider.key_env or "KIMI_LAB_API_KEY"
        if status == 401:
            message = f"{name} rejected the API key while {what} (401: {detail}): check {key}"
        elif status in (404, 405) and not what.startswith(("reading", "downloading")):
            message = (f"{name} has no batch API at {where} ({status}: {detail}) ({what}): use backend='async', "
                       f"or a provider with /v1/batches such as moonshot")
        elif status == 429:
            message = f"{name} is rate limiting or out of quota while {what} (429: {detail}): wait and run again"
        elif status >= 500:
            message = f"{name} had a server error while {what} ({status}: {detail}): try again later"
        else:
            message = f"{name} refused {what} ({status}: {detail})"
        raise KimiAPIError(message, status=status) from None
    except openai.APITimeoutError:
        raise KimiConnectionError(f"no response from {where} within {plan.cfg.timeout:g} s while {what}: try "
                                  f"again, or raise %config KimiLab.timeout") from None
    except openai.APIConnectionError as exc:
        cause = scrub(str(exc.__cause__ or exc), plan.secrets)[:160]
        raise KimiConnectionError(f"cannot reach {where} while {what} ({cause}): is the server running and the "
                                  f"URL right?") from None


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(inner, dict) and inner.get("message"):
        return str(inner["message"])
    return str(inner or getattr(exc, "message", "") or exc)
