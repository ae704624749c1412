"""Recording every turn to the transcript store as it streams, off the hot path.

The asking thread never touches the database: it only enqueues (about a microsecond an event),
and a writer thread opens the file, starts turns and commits what arrived every BATCH_SECONDS
(text deltas of a batch joined into one row), so a crashed kernel loses at most that much of a
stream.

When another program holds the file locked (another kernel mid-commit, a `sqlite3` shell with a
transaction open, a backup tool), the writer keeps the waiting rows and retries in the
background, backing off up to RETRY_MAX_SECONDS, for LOCK_PATIENCE seconds. A short lock so
loses nothing. Past that the waiting rows are dropped with one warning, and recording goes on
with what comes next: holding them longer would grow without bound for as long as the other
program keeps the lock, and recording must never slow, block or break an answer. Any other
failure (disk full, read-only home, a file from a newer kimi_lab) turns recording off with one
warning.
"""

from __future__ import annotations

import queue
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from kimi_lab.common.events import Event, coalesce
from kimi_lab.common.result import Result

if TYPE_CHECKING:
    from kimi_lab.core.turn import Turn
    from kimi_lab.store.sqlite import TranscriptStore

__all__ = ["Recorder", "recorder", "recording"]

#: A crashed kernel loses at most this much of a stream; one commit per batch keeps the
#: writer's share of the CPU (and of the GIL) small at thousands of tokens a second.
BATCH_SECONDS = 0.05
#: How long rows wait for a file another program holds locked before they are dropped.
LOCK_PATIENCE = 30.0
#: One statement's own wait for a lock: short, so readers sharing the connection are not held
#: up; the writer's retries do the waiting.
BUSY_SECONDS = 0.1
RETRY_FIRST_SECONDS, RETRY_MAX_SECONDS = 0.05, 1.0


@dataclass(frozen=True)
class _Start:
    """A turn to open, as it was when asked (the row may be written later)."""

    chat: str
    prompt: str
    model: str
    provider: str
    kernel_id: str | None
    started: float


class _Key:
    """A recorded turn as the asking thread knows it; the writer maps it to the row's id."""

    __slots__ = ("__weakref__",)


def _is_marker(item: tuple[Any, Any]) -> bool:
    return isinstance(item[1], threading.Event)


def _release(items: list[tuple[Any, Any]]) -> None:
    """Wake whoever waits on a flush among `items`."""
    for _, payload in items:
        if isinstance(payload, threading.Event):
            payload.set()


class Recorder:
    """One transcripts file and its writer thread. The asking thread only calls `start`, `event`
    and `end`, which enqueue; everything that touches the file runs on the writer thread."""

    def __init__(self, path: Path | str | None = None) -> None:
        from kimi_lab.store.sqlite import default_path

        self.path = Path(path) if path is not None else default_path()
        self.store: TranscriptStore | None = None  # opened by the writer thread
        self.off = False  # a failure other than a lock: nothing more is recorded
        self._ids: dict[_Key, int] = {}  # writer thread only
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._pause = threading.Event()  # never set: waited on for BATCH_SECONDS
        self._warned_locked = False  # one warning per stretch of lock trouble
        self._thread = threading.Thread(target=self._write, name="kimi_lab-transcripts", daemon=True)
        self._thread.start()

    # -- the asking thread: enqueue only -----------------------------------------------------

    def start(self, turn: Turn, kernel_id: str | None = None) -> _Key | None:
        if self.off:
            return None
        key = _Key()
        self._queue.put((key, _Start(turn.conversation.name, turn.prompt, turn.target.model,
                                     turn.target.provider.name, kernel_id, time.time())))
        return key

    def event(self, turn_id: _Key, event: Event) -> None:
        self._queue.put((turn_id, event))

    def end(self, turn_id: _Key, result: Any) -> None:
        self._queue.put((turn_id, result))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written, or given up on (tests, readers)."""
        if self.off:  # its writer has ended
            return True
        done = threading.Event()
        self._queue.put((None, done))
        return done.wait(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then end the writer thread and close the file (a session that ends)."""
        self.flush(timeout)
        self.off = True
        self._queue.put((None, threading.Event()))  # wakes a writer waiting for work: it sees `off` and ends
        self._thread.join(timeout)

    # -- the writer thread -------------------------------------------------------------------

    def _write(self) -> None:
        """Collect a batch, write it in one commit; on a lock, keep it and retry with backoff.
        Ends once recording is off (the next `recorder()` call makes a new recorder)."""
        pending: list[tuple[Any, Any]] = []
        locked_since: float | None = None
        delay = RETRY_FIRST_SECONDS
        while not self.off:
            retry_at = None if locked_since is None else time.monotonic() + delay
            pending += self._gather(retry_at)
            if not self._commit(pending):
                locked_since = locked_since or time.monotonic()
                delay = min(delay * 2, RETRY_MAX_SECONDS)
                if time.monotonic() - locked_since < LOCK_PATIENCE:
                    continue
                self._drop(pending, time.monotonic() - locked_since)
            else:
                self._warned_locked = False
            _release(pending)
            pending, locked_since, delay = [], None, RETRY_FIRST_SECONDS
        if self.store is not None:
            self.store.close()
            self.store = None
        while True:  # off: nobody waits on a flush that will not come (bounded by what is queued)
            try:
                _release([self._queue.get_nowait()])
            except queue.Empty:
                return

    def _gather(self, retry_at: float | None) -> list[tuple[Any, Any]]:
        """With nothing waiting: the next item, then whatever arrives within BATCH_SECONDS. While
        retrying: what arrives until `retry_at`, or until someone waits on a flush."""
        items: list[tuple[Any, Any]] = []
        if retry_at is None:
            items.append(self._queue.get())
            if not _is_marker(items[0]):
                self._pause.wait(BATCH_SECONDS)  # one wake-up per batch, not one per token
        else:
            while (left := retry_at - time.monotonic()) > 0:  # bounded by retry_at
                try:
                    items.append(self._queue.get(timeout=left))
                except queue.Empty:
                    break
                if _is_marker(items[-1]):
                    break
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                return items

    def _commit(self, items: list[tuple[Any, Any]]) -> bool:
        """Write `items` in one transaction; False when the file is locked (nothing was written)."""
        from kimi_lab.store.sqlite import TranscriptStore, is_locked

        if self.off:
            return True
        try:
            if self.store is None:
                self.store = TranscriptStore(self.path, timeout=BUSY_SECONDS)
            new: dict[_Key, int] = {}
            rows = list(coalesce(item for item in items if not _is_marker(item)))
            if rows:  # a flush alone writes nothing, so it need not wait for a lock
                with self.store.batch():
                    for key, payload in rows:
                        self._write_one(self.store, new, key, payload)
        except Exception as exc:
            if is_locked(exc):
                return False
            self._fail(exc)
            return True
        self._ids.update(new)
        for key, payload in items:
            if isinstance(payload, Result):
                self._ids.pop(key, None)
        return True

    def _write_one(self, store: TranscriptStore, new: dict[_Key, int], key: _Key, payload: Any) -> None:
        if isinstance(payload, _Start):
            new[key] = store.start_turn(payload.chat, payload.prompt, model=payload.model, provider=payload.provider,
                                        kernel_id=payload.kernel_id, started=payload.started)
            return
        turn_id = new.get(key, self._ids.get(key))
        if turn_id is None:  # its start was dropped while the file was locked
            return
        if isinstance(payload, Result):
            store.end_turn(turn_id, payload)
        else:
            store.append(turn_id, payload)

    def _drop(self, items: list[tuple[Any, Any]], waited: float) -> None:
        turns = {key for key, payload in items if isinstance(payload, _Start)}
        for key, payload in items:
            if isinstance(payload, Result):
                self._ids.pop(key, None)
        if not self._warned_locked:
            self._warned_locked = True
            warnings.warn(f"kimi_lab: the transcripts file {self.path} has been locked by another program for "
                          f"{waited:.0f} s; what streamed meanwhile was not recorded ({len(turns)} new turn(s)). "
                          "Recording goes on once the file is free.", RuntimeWarning, stacklevel=2)

    def _fail(self, exc: BaseException) -> None:
        if not self.off:
            warnings.warn(f"kimi_lab: transcripts are off for this session ({exc})", RuntimeWarning, stacklevel=2)
        self.off = True
        self.store = None


_lock = threading.Lock()


def recorder() -> Recorder | None:
    """The session's recorder, or None when `KimiLab.transcripts` is off. Creating it opens
    nothing: its writer thread does, so no asking thread ever waits on the file."""
    from kimi_lab.core.session import session
    from kimi_lab.settings.config import settings

    if not settings().transcripts:
        return None
    from kimi_lab.store.sqlite import default_path

    wanted = Path(settings().transcripts_path).expanduser() if settings().transcripts_path else default_path()
    current = session()
    with _lock:
        if current.recorder is None or current.recorder.off or current.recorder.path != wanted:
            current.recorder = Recorder(wanted)
        return current.recorder


@contextmanager
def recording(turn: Turn, on_event: Callable[[Event], None]) -> Iterator[Callable[[Event], None]]:
    """`with recording(turn, view) as callback: turn.run(callback)`: the view, plus the store."""
    rec = recorder()
    turn_id = rec.start(turn) if rec is not None else None
    if rec is None or turn_id is None:
        yield on_event
        return

    def both(event: Event) -> None:
        rec.event(turn_id, event)
        on_event(event)

    try:
        yield both
    finally:
        rec.end(turn_id, turn.result)
