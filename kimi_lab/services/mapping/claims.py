"""Two kernels mapping the same rows at once pay for each row once: before asking a row a job claims it in
the checkpoint; a row another live job is asking is waited for and its answer used (store/claims.py says
how a claim is kept and when it lapses).

Why claims rather than a lock on the whole job: two notebooks often share most rows, not all (a frame and
its head, a rerun with more rows), and each should ask the rows only it needs at full speed.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

from kimi_lab.store.checkpoint import Checkpoint, RowRecord
from kimi_lab.store.claims import Holder, Owner

__all__ = ["LEASE", "POLL", "RowClaims", "RowQueue", "batch_claim", "waiting_note"]

LEASE = 60.0  # seconds a claim lasts unless renewed: how long a row waits on a job that stopped renewing
RENEW = LEASE / 4  # a running job renews its claims this often (a long row keeps its claim)
POLL = 0.5  # seconds between looks at a row another job is asking
BATCH_LEASE = 180.0  # a batch's creation (up to 100 MB a part to upload) is renewed every quarter of it meanwhile


class RowQueue:
    """The rows a job has still to ask, in order, each claimed before it is handed to a worker. Rows are claimed
    a chunk at a time (one write for many rows, made before the workers start, so the first requests go out
    together); a row another job is asking comes back at the end, to be looked at again after POLL seconds.

    Not thread-safe by itself: the job calls `take` under its lock. `again` is called by one worker at a time
    per row."""

    def __init__(self, pending: list[tuple[str, int]], claims: RowClaims | None, chunk: int,
                 answered_elsewhere: Callable[[str, RowRecord], None], busy: Callable[[Holder], None]) -> None:
        self.pending, self.claims, self.chunk = pending, claims, max(1, chunk)
        self._next = 0
        self._ready: deque[tuple[str, int]] = deque()
        self._waiting: deque[tuple[str, int, float]] = deque()
        self._answered_elsewhere, self._busy = answered_elsewhere, busy
        self.trouble: str | None = None  # why claiming failed, said once when the job ends

    def empty(self) -> bool:
        return self._next >= len(self.pending) and not self._ready and not self._waiting

    def prime(self) -> None:
        """Claim the first chunk now (the cell's thread, before the workers start)."""
        if self.claims is not None and not self._ready and self._next < len(self.pending):
            chunk = self.pending[:self.chunk]
            self._next = len(chunk)
            self._ready.extend(self._sort(chunk))

    def take(self) -> tuple[str, int, float] | None:
        """(key, position, when to look again): 0 for a row to ask now; else a row another job was asking,
        to pass to `again` at that time."""
        if self.claims is None:
            if self._next >= len(self.pending):
                return None
            self._next += 1
            return (*self.pending[self._next - 1], 0.0)
        while not self._ready and self._next < len(self.pending):
            chunk = self.pending[self._next:self._next + self.chunk]
            self._next += len(chunk)
            self._ready.extend(self._sort(chunk))
        if self._ready:
            return (*self._ready.popleft(), 0.0)
        return self._waiting.popleft() if self._waiting else None

    def again(self, key: str, position: int) -> bool:
        """A row another job was asking, looked at again: whether to ask it now."""
        return bool(self._sort([(key, position)]))

    def _sort(self, rows: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """Claim `rows`: those now this job's are returned; answered ones and busy ones go where they belong."""
        assert self.claims is not None
        if self.trouble is not None:
            return rows  # claiming failed once (a file locked for seconds): not tried again, each try would wait
        try:
            got = self.claims.claim_many([key for key, _ in rows])
        except Exception as exc:  # a locked or damaged file must not stop the job: ask, as without claims
            self.trouble = (f"rows could not be claimed in the checkpoint ({type(exc).__name__}: {str(exc)[:120]}):"
                            f" another kernel mapping the same rows at this moment may ask them too")
            return rows
        mine: list[tuple[str, int]] = []
        for key, position in rows:
            held = got[key]
            if held is None:
                mine.append((key, position))
            elif isinstance(held, Holder):
                self._busy(held)
                self._waiting.append((key, position, time.monotonic() + POLL))
            else:
                self._answered_elsewhere(key, held)
        return mine


class RowClaims:
    """One job's claims on its rows (thread-safe through the checkpoint's lock)."""

    def __init__(self, checkpoint: Checkpoint, lease: float | None = None) -> None:
        self.checkpoint, self.lease = checkpoint, LEASE if lease is None else lease
        self.owner = Owner()
        self._renewed = time.monotonic()

    def claim_many(self, keys: list[str]) -> dict[str, RowRecord | Holder | None]:
        """Per key, None: ask the row; a RowRecord: its answer, from another job; a Holder: another job is asking
        it now."""
        return self.checkpoint.claim_many(keys, self.owner, self.lease)

    def release(self, key: str | None = None) -> None:
        self.checkpoint.release(self.owner, key)

    def renew_if_due(self) -> None:
        if time.monotonic() - self._renewed >= RENEW:
            self._renewed = time.monotonic()
            with contextlib.suppress(sqlite3.Error):  # a renewal missed is one lease of risk, not a failed job
                self.checkpoint.renew(self.owner, self.lease)


def waiting_note(holder: Holder, what: str) -> str:
    """One line for the user: why nothing seems to happen for these rows ("{what} by {who} right now")."""
    who = "another job in this kernel" if holder.same_process else f"another kernel (pid {holder.pid} on {holder.host})"
    return f"kimi_lab.map: {what} by {who} right now; waiting for its answers rather than paying twice"


@contextlib.contextmanager
def batch_claim(checkpoint: Checkpoint, job: str, created: Callable[[], bool], pause: Callable[[float], None],
                say: Callable[[str], None]) -> Iterator[None]:
    """Held while this kernel creates a job's batches, so another kernel creating the same job waits and picks
    them up instead of creating (and paying for) them again. `created()` says whether they now exist. Renewed
    by a thread of its own while held (one part's upload can take longer than a lease); waited for as long as
    the other kernel lives and renews it."""
    owner = Owner()
    key = f"batch:{job}"
    said = False
    while True:
        holder = checkpoint.claim(key, owner, BATCH_LEASE)
        if holder is None or created():
            break
        if not said and isinstance(holder, Holder):
            say(waiting_note(holder, "the batch for these rows is being created"))
            said = True
        pause(POLL)
    done = threading.Event()

    def keep() -> None:
        while not done.wait(BATCH_LEASE / 4):
            with contextlib.suppress(sqlite3.Error):
                checkpoint.renew(owner, BATCH_LEASE)

    keeper = threading.Thread(target=keep, name="kimi_lab-batch-claim", daemon=True)
    keeper.start()
    try:
        yield
    finally:
        done.set()
        keeper.join(5.0)
        with contextlib.suppress(sqlite3.Error):
            checkpoint.release(owner, key)
