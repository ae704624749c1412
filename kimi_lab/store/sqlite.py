"""Transcripts on disk: every event of every turn, one SQLite row each, committed as it arrives.

So a kernel that dies mid-answer loses nothing already streamed, a reload can restore a chat, and
`%kimi history` / the sidebar can reopen and export it. WAL + synchronous=NORMAL makes a one-row
commit cost tens of µs and survive a process crash (only an OS crash may drop the last instants).
Only what is given is kept: events arrive scrubbed; no environment, headers or keys are added.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

from kimi_lab.common.errors import KimiError
from kimi_lab.common.events import Event, event_from_dict, to_dict

if TYPE_CHECKING:
    from kimi_lab.common.result import Result

__all__ = ["ChatSummary", "TranscriptStore", "TranscriptStoreError", "TurnRecord", "connect_wal", "default_path",
           "immediate", "is_locked"]

SCHEMA_VERSION = 1
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_LOCKED_CODES = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED; extended codes keep these in their low byte
_SIDECARS = ("-wal", "-shm")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns(id INTEGER PRIMARY KEY, chat TEXT NOT NULL, prompt TEXT, model TEXT,
    provider TEXT, kernel_id TEXT, started REAL, ended REAL, summary TEXT);
CREATE INDEX IF NOT EXISTS turns_chat ON turns(chat, id);
CREATE TABLE IF NOT EXISTS events(turn_id INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT, data TEXT,
    at REAL, PRIMARY KEY(turn_id, seq)) WITHOUT ROWID;
"""


class TranscriptStoreError(KimiError):
    """The transcripts file cannot be used as it is (e.g. written by a newer kimi_lab)."""

    kind = "store"


def default_path() -> Path:
    """`<jupyter data dir>/kimi_lab/transcripts.sqlite3`; `KIMI_LAB_TRANSCRIPTS` overrides."""
    override = os.environ.get("KIMI_LAB_TRANSCRIPTS")
    if override:
        return Path(override).expanduser()
    try:  # lazily: importing kimi_lab must not need (or pay for) jupyter_core
        from jupyter_core.paths import jupyter_data_dir

        base = Path(jupyter_data_dir())
    except ImportError:
        base = Path.home() / ".local" / "share" / "jupyter"
    return base / "kimi_lab" / "transcripts.sqlite3"


@dataclass(frozen=True)
class ChatSummary:
    name: str
    turns: int
    last_activity: float  # epoch seconds of the newest turn start, event or end
    tokens: int  # prompt + completion over all turns (from usage events when a turn never ended)
    cost: float | None  # None when no turn reported a cost


@dataclass(frozen=True)
class TurnRecord:
    id: int
    chat: str
    prompt: str
    model: str
    provider: str
    kernel_id: str | None
    started: float
    ended: float | None  # None: the kernel stopped mid-turn
    summary: dict[str, Any] | None
    events: list[Event] = field(default_factory=list)

    @property
    def interrupted(self) -> bool:
        return self.ended is None


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _encode(event: Event) -> str:
    return _ENCODER.encode(to_dict(event))


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code in _CORRUPT_CODES
    return type(exc) is sqlite3.DatabaseError  # OperationalError (locked, permissions) is not corruption


def connect_wal(path: Path, timeout: float, setup: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
    """A connection in WAL mode, `setup` (schema) run on it. Two kernels opening a new file at the same moment
    can be refused "database is locked" at once, without SQLite's busy wait (switching to WAL needs the file
    alone): that is retried, briefly, until `timeout`."""
    deadline = time.monotonic() + timeout
    attempt = 0
    while True:
        # isolation_level=None: every statement is its own committed transaction, with no BEGIN/COMMIT round trip.
        db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a killed process
            setup(db)
            return db
        except BaseException as exc:
            db.close()
            if not is_locked(exc) or time.monotonic() >= deadline:
                raise
        attempt += 1
        threading.Event().wait(min(0.005 * 2 ** attempt, 0.25))  # the other opener needs a few milliseconds


@contextmanager
def immediate(db: sqlite3.Connection) -> Iterator[None]:
    """One transaction that takes the write lock at its start: what it reads, no other process writes before it
    commits (a connection in autocommit mode, isolation_level=None)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def is_locked(exc: BaseException) -> bool:
    """Another connection holds the file: worth waiting for, unlike a full disk or a damaged file."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in _LOCKED_CODES
    return "locked" in str(exc) or "busy" in str(exc)


def _private_folder(folder: Path) -> None:
    """Create `folder` and its missing parents readable by the user alone (the file holds every prompt,
    answer and tool result); a folder that exists keeps its mode: it may be shared on purpose."""
    missing = []
    for parent in (folder, *folder.parents):  # bounded by the path's depth
        if parent.exists():
            break
        missing.append(parent)
    for made in reversed(missing):
        try:
            made.mkdir(mode=0o700)
        except FileExistsError:  # another kernel made it meanwhile
            continue
        os.chmod(made, 0o700)  # mkdir's mode is masked by the umask


def _private_file(path: Path) -> None:
    """Create the database 0600 before SQLite does, since SQLite gives its -wal and -shm files the
    database's mode; take group and other access from files an older kimi_lab left readable."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    if os.name != "posix":
        return
    for name in (path, *(path.with_name(path.name + suffix) for suffix in _SIDECARS)):
        try:
            mode = stat.S_IMODE(os.stat(name).st_mode)
            if mode & 0o077:
                os.chmod(name, mode & ~0o077)
        except OSError:  # absent, or not ours to change
            continue


class TranscriptStore:
    """One SQLite file shared by all faces; thread-safe through a single connection and a lock.

    `timeout`: how long one statement waits for another connection's lock before failing with
    "database is locked" (the session's recorder passes a short one and retries by itself)."""

    def __init__(self, path: Path | str | None = None, *, timeout: float = 10.0) -> None:
        self.path = Path(path) if path is not None else default_path()
        self.timeout = timeout
        _private_folder(self.path.parent)
        self._lock = threading.RLock()  # batch() holds it around appends
        self._next_seq: dict[int, int] = {}  # per turn, so an append is one INSERT and no lookup
        try:
            self._db = self._open()
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                raise
            moved = self._move_aside()
            warnings.warn(f"kimi_lab: transcripts file {self.path} is unreadable ({exc}); moved it to {moved} "
                          "and started a fresh one", RuntimeWarning, stacklevel=2)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        """Connect; only a new file is written to, so opening one that another program holds
        locked does not wait for it."""
        _private_file(self.path)
        return connect_wal(self.path, self.timeout, self._setup)

    def _setup(self, db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)")
        row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is not None and int(row[0]) > SCHEMA_VERSION:  # checked before touching anything else
            raise TranscriptStoreError(
                f"{self.path} was written by a newer kimi_lab (transcript schema v{row[0]}; this one reads "
                f"v{SCHEMA_VERSION}). Upgrade kimi_lab, or set KIMI_LAB_TRANSCRIPTS to another file.")
        db.executescript(_SCHEMA)  # IF NOT EXISTS: no write when the tables are there
        if row is None:
            db.execute("INSERT OR IGNORE INTO meta VALUES('schema_version', ?)", (str(SCHEMA_VERSION),))

    def _move_aside(self) -> Path:
        """Rename the file (and its WAL sidecars) out of the way; never delete what may hold data."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        self.path.rename(target)
        for suffix in _SIDECARS:
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
        return target

    # -- writing -----------------------------------------------------------------------------

    def start_turn(self, chat: str, prompt: str, *, model: str, provider: str, kernel_id: str | None = None,
                   started: float | None = None) -> int:
        """A new turn's id; `started` (epoch seconds, default now) when it is written later than asked."""
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO turns(chat, prompt, model, provider, kernel_id, started) VALUES(?,?,?,?,?,?)",
                (chat, prompt, model, provider, kernel_id, time.time() if started is None else started))
        return int(cur.lastrowid or 0)

    def append(self, turn_id: int, event: Event) -> None:
        """Commit one event at once (one autocommitted INSERT; batching would break "lose nothing")."""
        data = _encode(event)
        with self._lock:
            seq = self._next_seq.get(turn_id)
            if seq is None:
                seq = self._last_seq(turn_id) + 1
            row = (turn_id, seq, event.type, data, time.time())
            try:
                self._db.execute("INSERT INTO events VALUES(?,?,?,?,?)", row)
            except sqlite3.IntegrityError:  # another store (or process) appended to this turn too
                seq = self._last_seq(turn_id) + 1
                self._db.execute("INSERT INTO events VALUES(?,?,?,?,?)", (turn_id, seq, *row[2:]))
            self._next_seq[turn_id] = seq + 1

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several appends in one transaction: one commit instead of one per row. IMMEDIATE takes
        the write lock first, so a locked file fails here, before any row, and never half-way."""
        with self._lock, immediate(self._db):
            yield

    def _last_seq(self, turn_id: int) -> int:
        row = self._db.execute("SELECT MAX(seq) FROM events WHERE turn_id=?", (turn_id,)).fetchone()
        return -1 if row[0] is None else int(row[0])

    def end_turn(self, turn_id: int, result: Result) -> None:
        summary = {
            "content": result.content, "reasoning": result.reasoning, "usage": asdict(result.usage),
            "cost": result.cost, "finish_reason": result.finish_reason, "error": result.error,
            "elapsed": result.elapsed,
        }
        with self._lock:
            self._next_seq.pop(turn_id, None)
            # provider and model again: a fallback chain's answer may come from another provider than the first
            self._db.execute("UPDATE turns SET ended=?, summary=?, provider=COALESCE(NULLIF(?, ''), provider), "
                             "model=COALESCE(NULLIF(?, ''), model) WHERE id=?",
                             (time.time(), json.dumps(summary, ensure_ascii=False), result.provider, result.model,
                              turn_id))

    def rename_chat(self, old: str, new: str) -> int:
        """Record chat `old`'s turns under `new` (the cells' name for a notebook chat the sidebar
        names differently); returns how many turns moved."""
        with self._lock:
            return self._db.execute("UPDATE turns SET chat=? WHERE chat=?", (new, old)).rowcount

    def delete_chat(self, chat: str) -> int:
        """Remove a chat's turns and events; returns how many turns went."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.execute("DELETE FROM events WHERE turn_id IN (SELECT id FROM turns WHERE chat=?)", (chat,))
                n = self._db.execute("DELETE FROM turns WHERE chat=?", (chat,)).rowcount
                self._db.execute("COMMIT")
                self._next_seq.clear()  # deleted ids may be reused by new turns
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return n

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> TranscriptStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------------

    def chats(self) -> list[ChatSummary]:
        """Every chat with its size and totals, most recently active first."""
        sql = """
        SELECT chat, COUNT(*), MAX(COALESCE(ended, (SELECT MAX(at) FROM events WHERE turn_id=t.id), started)),
          SUM(COALESCE(json_extract(summary, '$.usage.prompt') + json_extract(summary, '$.usage.completion'),
              (SELECT SUM(json_extract(data, '$.usage.prompt') + json_extract(data, '$.usage.completion'))
               FROM events WHERE turn_id=t.id AND type='usage'), 0)),
          SUM(json_extract(summary, '$.cost'))
        FROM turns t GROUP BY chat ORDER BY 3 DESC"""
        with self._lock:
            rows = self._db.execute(sql).fetchall()
        return [ChatSummary(name, n, last, int(tokens or 0), cost) for name, n, last, tokens, cost in rows]

    def turns(self, chat: str) -> list[TurnRecord]:
        """A chat's turns in order, each with its events rebuilt (rows of unknown type are skipped)."""
        with self._lock:
            heads = self._db.execute(
                "SELECT id, chat, prompt, model, provider, kernel_id, started, ended, summary "
                "FROM turns WHERE chat=? ORDER BY id", (chat,)).fetchall()
            rows = self._db.execute(
                "SELECT e.turn_id, e.data FROM events e JOIN turns t ON t.id=e.turn_id "
                "WHERE t.chat=? ORDER BY e.turn_id, e.seq", (chat,)).fetchall()
        events: dict[int, list[Event]] = {}
        for turn_id, data in rows:
            try:
                events.setdefault(turn_id, []).append(event_from_dict(json.loads(data)))
            except (ValueError, TypeError):
                continue  # written by a newer kimi_lab, or damaged: keep the rest readable
        return [TurnRecord(*head[:8], json.loads(head[8]) if head[8] else None, events.get(head[0], []))
                for head in heads]
