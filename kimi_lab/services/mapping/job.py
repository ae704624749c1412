"""Running a map job: worker threads ask rows under the admission control, retry what is worth
retrying, save each answered row as it finishes, and the cell's thread draws the progress.

Why threads driving the existing backend rather than a second, async client: the same wire code (request
rules, dialects, reasoning parsing, error messages) answers a row as answers a cell, and on this machine
it measured faster than a bare `AsyncOpenAI` loop (benchmarks/bench_map.py). The cell's thread only
waits and draws, so an interrupt (the notebook's Stop) reaches it at once; the workers see `stop` at
their next chunk, wait or admission.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kimi_lab.common.errors import (
    KimiAPIError,
    KimiConnectionError,
    KimiError,
    KimiInterrupted,
    KimiStreamError,
)
from kimi_lab.common.secrets import scrub
from kimi_lab.core.admission import Admission
from kimi_lab.services.mapping.claims import RowClaims, RowQueue, waiting_note
from kimi_lab.services.mapping.inputs import Rows
from kimi_lab.services.mapping.plan import MapPlan
from kimi_lab.services.mapping.rows import RowAnswer, RowFailed, ask_row
from kimi_lab.store.checkpoint import Checkpoint, RowRecord
from kimi_lab.store.claims import Holder

__all__ = ["Counts", "Job", "Outcome"]

_RETRY_STATUS = {408, 409, 500, 502, 503, 504, 529}
_FATAL_STATUS = {401, 403, 404}
_RATE_RETRIES = 12  # 429s one row may meet before it is recorded as failed
_JOIN = 10.0  # seconds the cell waits for workers to see `stop`
_RATE_LIMITED_JOB = 60  # 429s in a row, across the job, with no answer between: the limit will not lift soon


@dataclass
class Outcome:
    """What the output frame needs of a row (its reasoning stays in the checkpoint, read by `trace`)."""

    content: str | None = None  # None: no answer came (the request failed)
    data: Any = None
    error: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost: float | None = None
    reasoning: str | None = None  # kept only when the job was asked for a reasoning column

    @classmethod
    def of(cls, record: RowRecord) -> Outcome:
        return cls(record.content, record.data, record.error, record.tokens_in, record.tokens_out, record.cost)


@dataclass
class Counts:
    done: int = 0
    failed: int = 0
    tokens: int = 0
    cost: float = 0.0
    cost_known: bool = True
    answered: int = 0  # rows answered in this run (not from the checkpoint)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class Job:
    def __init__(self, plan: MapPlan, rows: Rows, keys: list[str], answered: dict[str, RowRecord],
                 checkpoint: Checkpoint | None, *, on_error: str = "record", max_cost: float | None = None,
                 keep_reasoning: bool = False, retries: int | None = None, row_estimate: float = 0.0,
                 progress: Callable[[Counts, int], None] | None = None, claims: RowClaims | None = None) -> None:
        self.plan, self.rows, self.keys, self.checkpoint = plan, rows, keys, checkpoint
        self.on_error, self.max_cost, self.keep_reasoning = on_error, max_cost, keep_reasoning
        self.retries = plan.cfg.max_retries if retries is None else retries
        self.stop = threading.Event()
        lim = plan.limits
        self.admission = Admission(lim.concurrency, rpm=lim.rpm, tpm=lim.tpm, stop=self.stop)
        self.outcomes: dict[str, Outcome] = {k: Outcome.of(r) for k, r in answered.items()}
        self.positions: dict[str, int] = {}  # first position of each key still to ask (equal rows asked once)
        for i, key in enumerate(keys):
            if key not in self.outcomes:
                self.positions.setdefault(key, i)
        self.counts = Counts()
        for key in keys:
            if key in self.outcomes:
                self._count(self.outcomes[key], from_checkpoint=True)
        self.claims = claims  # None: rows are asked without looking at other jobs (resume=False)
        self.queue = RowQueue(list(self.positions.items()), claims, plan.limits.concurrency,
                              answered_elsewhere=lambda key, record: self._finish(key, Outcome.of(record), True),
                              busy=self._busy)
        self.notes: list[str] = []  # said by the cell's thread as soon as they come
        self._take = threading.Lock()
        self.changed = threading.Condition()
        self.row_estimate = row_estimate  # a typical row's cost, until rows of this job say better
        self.warnings: list[str] = []  # said once when the job ends
        self._rate_limited_in_a_row = 0
        self.fatal: KimiError | None = None
        self.stopped_by: str = ""  # why admission stopped early ("max_cost $5.00 reached")
        self._progress = progress

    # -- counting ------------------------------------------------------------------

    def _count(self, outcome: Outcome, from_checkpoint: bool = False, rows: int | None = None) -> None:
        n = rows if rows is not None else 1
        with self.counts.lock:
            self.counts.done += n
            self.counts.failed += n if outcome.error else 0
            if not from_checkpoint:
                self.counts.answered += 1
                self.counts.tokens += outcome.tokens_in + outcome.tokens_out
                if outcome.cost is None and outcome.tokens_in + outcome.tokens_out:
                    self.counts.cost_known = False
                self.counts.cost += outcome.cost or 0.0

    def _spend(self, spent: RowAnswer) -> None:
        """A failed attempt may still have been billed (a stream cut mid-answer)."""
        with self.counts.lock:
            self.counts.tokens += spent.tokens_in + spent.tokens_out
            self.counts.cost += spent.cost or 0.0

    def _rows_of(self, key: str) -> int:
        return self.keys.count(key) if len(self.positions) != len(self.keys) else 1

    # -- workers -------------------------------------------------------------------

    def _take_next(self) -> tuple[str, int, float] | None:
        """The next row to ask: the rows in order, then those another job was asking (and may have answered)."""
        with self._take:
            if self.stop.is_set() or self.queue.empty():
                return None
            if self.max_cost is not None and self._over_budget():
                self.stopped_by = f"max_cost ${self.max_cost:,.2f} reached"
                return None
            return self.queue.take()

    def _busy(self, holder: Holder) -> None:
        """A row another live job is asking: it is waited for (bounded by that job's lease and life), once said."""
        if not self.notes:
            self.notes.append(waiting_note(holder, "some of these rows are being asked"))

    def _over_budget(self) -> bool:
        """Admitting one more row could pass max_cost: what is spent, plus what the rows in flight and this one
        will likely cost (the average row so far; before any has answered, the estimate's typical row). The
        first row always goes: without it nothing would ever be known."""
        cap = self.max_cost or 0.0
        with self.counts.lock:
            spent, answered = self.counts.cost, self.counts.answered
        in_flight = self.admission.in_flight
        if not answered and not in_flight and not spent:
            return False
        average = spent / answered if answered else self.row_estimate
        return spent >= cap or spent + (in_flight + 1) * average > cap

    def _work(self) -> None:
        while True:
            try:
                item = self._next_to_ask()
            except Exception as exc:  # never a silent dead worker: the job stops and says why
                self._fail(KimiError(f"map stopped: taking the next row failed ({type(exc).__name__}: "
                                     f"{str(exc)[:200]}); the rows answered are saved: run the same cell again"))
                return
            if item is None:
                return
            key, position = item
            try:
                outcome = self._ask(position)
            except Exception as exc:  # whatever a row does, the worker lives on and the row says what happened
                outcome = Outcome(error=scrub(f"{type(exc).__name__}: {str(exc)[:300]}", self.plan.secrets))
                if self.on_error == "raise":
                    self._fail(KimiError(f"row {self._label(position)}: {outcome.error}"))
                    return
            if self.claims is not None and (outcome is None or outcome.error):
                self._release(key)  # not saved, so free for another job at once (a save ends the claim itself)
            if outcome is None:  # stopped before it was answered
                return
            self._finish(key, outcome)

    def _next_to_ask(self) -> tuple[str, int] | None:
        """The next row this job asks (None: no more); a row another job was asking is looked at again first."""
        while True:
            item = self._take_next()
            if item is None:
                return None
            key, position, look_at = item
            if not look_at:
                return key, position
            if self.stop.wait(max(0.0, look_at - time.monotonic())):
                return None
            with self._take:
                if self.queue.again(key, position):  # its answer may be in by now, or its holder gone
                    return key, position

    def _finish(self, key: str, outcome: Outcome, from_checkpoint: bool = False) -> None:
        self.outcomes[key] = outcome
        self._count(outcome, from_checkpoint=from_checkpoint, rows=self._rows_of(key))
        with self.changed:
            self.changed.notify_all()

    def _release(self, key: str) -> None:
        if self.queue.trouble is not None:
            return  # the checkpoint is locked or damaged: each try would wait; the claim lapses with its lease
        try:
            self.claims.release(key)  # type: ignore[union-attr]
        except sqlite3.Error:
            pass

    def _ask(self, position: int) -> Outcome | None:
        prompt = self.plan.prompt(self.rows.row(position))
        attempts = rate_limited = 0
        while True:
            if self.stop.is_set():
                return None
            try:
                answer = ask_row(self.plan, prompt, self.stop, self.admission)  # each request admitted in there
            except RowFailed as failed:
                self._spend(failed.spent)
                error = failed.error
            else:
                if answer.cancelled:
                    self._spend(answer)
                    return None
                self._rate_limited_in_a_row = 0
                outcome = Outcome(answer.content, answer.data, answer.error, answer.tokens_in, answer.tokens_out,
                                  answer.cost, answer.reasoning if self.keep_reasoning else None)
                if not answer.error:  # a row that failed validation is asked again on a rerun
                    self._save(self.keys[position], answer)
                if answer.error and self.on_error == "raise":
                    self._fail(KimiError(f"row {self._label(position)}: {answer.error}"))
                return outcome
            status = getattr(error, "status", None) if isinstance(error, KimiAPIError) else None
            quota = status == 429 and "quota" in error.message.lower()
            if status == 429 and not quota and rate_limited < _RATE_RETRIES:
                rate_limited += 1
                with self._take:
                    self._rate_limited_in_a_row += 1
                    hopeless = self._rate_limited_in_a_row > _RATE_LIMITED_JOB
                if hopeless:  # the account is over its limit whatever we do: stop instead of waiting for hours
                    self._fail(KimiAPIError(
                        f"{self.plan.target.provider.name} answered 429 to {_RATE_LIMITED_JOB} requests in a row "
                        f"without answering one: lower concurrency= / rpm= (or wait for the limit to reset) and run "
                        f"the same cell again; the rows answered are saved", status=429))
                    return None
                wait = error.retry_after if error.retry_after is not None else self._backoff(rate_limited)
                self.admission.cool_down(wait)  # every worker waits, not only this one
                continue
            retryable = status in _RETRY_STATUS or isinstance(error, (KimiConnectionError, KimiStreamError))
            if retryable and attempts < self.retries:
                attempts += 1
                if self.stop.wait(self._backoff(attempts)):
                    return None
                continue
            if status in _FATAL_STATUS or quota:
                self._fail(error)  # every row would fail the same way: stop, keep what is done
                return None
            if self.on_error == "raise":
                self._fail(KimiError(f"row {self._label(position)}: {error.message}"))
                return None
            return Outcome(error=error.message)

    def _label(self, position: int) -> str:
        """A row's index label as an error names it, scrubbed (a label can be anything, a key included)."""
        return scrub(repr(self.rows.index[position])[:80], self.plan.secrets)

    def _backoff(self, attempt: int) -> float:
        return min(self.plan.cfg.retry_backoff * (2 ** (attempt - 1)) * (1 + random.random() / 4),
                   self.plan.cfg.retry_after_cap)

    def _fail(self, error: KimiError) -> None:
        with self._take:
            if self.fatal is None:
                self.fatal = error
        self.stop.set()
        self.admission.wake()

    def _save(self, key: str, answer: RowAnswer) -> None:
        """Checkpoint an answered row; a checkpoint that cannot be written (full disk, locked) loses no answer:
        the row stays in the result and the job says once that a rerun would ask it again."""
        if self.checkpoint is None:
            return
        data = answer.data.model_dump(mode="json") if hasattr(answer.data, "model_dump") else answer.data
        try:
            self.checkpoint.save(RowRecord(key, self.plan.target.model, answer.prompt, answer.content,
                                           answer.reasoning, data, answer.error, answer.tokens_in, answer.tokens_out,
                                           answer.cost))
        except (sqlite3.Error, OSError, TypeError, ValueError) as exc:
            with self._take:
                if not self.warnings:
                    self.warnings.append(f"rows could not be saved to the checkpoint ({type(exc).__name__}: "
                                         f"{str(exc)[:120]}): they are in the result, but a rerun would ask them again")

    # -- the cell's thread ---------------------------------------------------------

    def run(self, interval: float = 0.25) -> None:
        """Run to the end, drawing progress every `interval` s; raises KimiInterrupted on an interrupt."""
        n = min(self.plan.limits.concurrency, len(self.positions))
        workers: list[threading.Thread] = []
        said = 0
        try:  # from the first claim on: an interrupt anywhere stops the workers and frees the rows
            if self.claims is not None:
                with self._take:
                    self.queue.prime()  # the first rows claimed before any worker runs: they go out together
            for i in range(n):
                workers.append(threading.Thread(target=self._work, name=f"kimi_lab-map-{i}", daemon=True))
                workers[-1].start()
            while any(w.is_alive() for w in workers):
                with self.changed:
                    self.changed.wait(interval)
                for note in self.notes[said:]:
                    print(note, flush=True)
                said = len(self.notes)
                if self.claims is not None:
                    self.claims.renew_if_due()
                self._draw()
        except KeyboardInterrupt:
            self.stop.set()
            self.admission.wake()
            self._release_all()  # before waiting for the workers: another kernel waiting on these rows goes on now
            deadline = time.monotonic() + _JOIN
            for w in workers:
                w.join(max(0.0, deadline - time.monotonic()))
            raise KimiInterrupted("interrupted") from None
        finally:
            self._release_all()  # rows not answered are free for another kernel at once
            if self.queue.trouble is not None:
                self.warnings.append(self.queue.trouble)
        self._draw()

    def _release_all(self) -> None:
        if self.claims is not None and self.queue.trouble is None:
            with contextlib.suppress(sqlite3.Error):
                self.claims.release()

    def _draw(self) -> None:
        if self._progress is not None:
            self._progress(self.counts, self.admission.in_flight)
