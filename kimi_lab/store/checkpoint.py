"""Every finished row of a `kimi_lab.map` job, saved as it finishes, so nothing is asked (or billed) twice.

A row is keyed by a hash of what is sent for it (model, the rendered request) rather than by its
position: rerunning the same cell after an interrupt, a crash or a failed run finds the rows already
answered, and a changed template or model is a new row. SQLite in WAL mode beside the transcripts
file: each save is its own committed transaction, which survives the kernel being killed, and readers
(the `trace` of a row) never wait for the workers writing. Its `claims` table says which job is asking which
row right now, so two kernels sharing the file pay for a row once (store/claims.py).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kimi_lab.common.errors import KimiError
from kimi_lab.store.claims import CLAIMS_SCHEMA, Holder, Owner, clocks, take
from kimi_lab.store.sqlite import _private_file, _private_folder, connect_wal, default_path, immediate

__all__ = ["BatchRecord", "Checkpoint", "CheckpointError", "RowRecord", "checkpoint_path", "read_row"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rows(key TEXT PRIMARY KEY, model TEXT, prompt TEXT, content TEXT, reasoning TEXT,
    data TEXT, error TEXT, tokens_in INTEGER, tokens_out INTEGER, cost REAL, at REAL);
CREATE TABLE IF NOT EXISTS batches(job TEXT NOT NULL, part INTEGER NOT NULL, batch_id TEXT NOT NULL,
    model TEXT, rows INTEGER, at REAL, PRIMARY KEY(job, part));
""" + CLAIMS_SCHEMA + """
CREATE TRIGGER IF NOT EXISTS answered_ends_claim AFTER INSERT ON rows BEGIN
    DELETE FROM claims WHERE key = NEW.key;
END;
"""
_CHUNK = 500  # keys per IN (…) query: under SQLite's variable limit everywhere


def checkpoint_path() -> Path:
    """`map.sqlite3` in the transcripts file's folder (`KIMI_LAB_TRANSCRIPTS` moves both)."""
    return default_path().with_name("map.sqlite3")


@dataclass(frozen=True)
class RowRecord:
    """One answered row: what was asked, the answer, its reasoning and what it cost."""

    key: str
    model: str
    prompt: str
    content: str
    reasoning: str
    data: Any  # the validated JSON value of a typed answer (None for text)
    error: str | None  # an answer that came but is unusable (not of the schema after the repair round)
    tokens_in: int
    tokens_out: int
    cost: float | None


@dataclass(frozen=True)
class BatchRecord:
    """A provider batch a job created (`backend="batch"`): found again by a later kernel."""

    part: int
    batch_id: str
    model: str
    rows: int


class Checkpoint:
    """Thread-safe: one connection, one lock; the workers save from their threads."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else checkpoint_path()
        _private_folder(self.path.parent)
        _private_file(self.path)  # prompts and answers: the user's alone, like the transcripts
        self._lock = threading.Lock()
        try:
            self._db = connect_wal(self.path, 10.0, lambda db: db.executescript(_SCHEMA))
        except sqlite3.DatabaseError as exc:
            raise CheckpointError(
                f"the map checkpoint {self.path} cannot be used ({exc}): move it aside (only saved answers are in it, "
                f"and a rerun asks them again), or set KIMI_LAB_TRANSCRIPTS to a file in another folder"
            ) from None

    def save(self, record: RowRecord) -> None:
        data = None if record.data is None else json.dumps(record.data, ensure_ascii=False, default=str)
        with self._lock:  # one statement (its trigger ends the row's claim): the workers wait on this lock
            self._db.execute(
                "INSERT OR REPLACE INTO rows VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (record.key, record.model, record.prompt, record.content, record.reasoning, data, record.error,
                 record.tokens_in, record.tokens_out, record.cost, time.time()),
            )

    # -- claims: one kernel asks a row while another waits for its answer (store/claims.py) ------------

    def claim(self, key: str, owner: Owner, lease: float) -> RowRecord | Holder | None:
        """None: `owner` now asks `key`. A RowRecord: another job answered it meanwhile (use that answer).
        A Holder: another live job is asking it right now (wait for its answer)."""
        return self.claim_many([key], owner, lease)[key]

    def claim_many(self, keys: list[str], owner: Owner, lease: float) -> dict[str, RowRecord | Holder | None]:
        """`claim` for each key, in one transaction (one write, however many rows a job takes at a time)."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, RowRecord | Holder | None] = {}
        with self._lock, immediate(self._db):  # a claim's read and write: no other process writes between
            out.update(self._answered(wanted))
            out.update(take(self._db, [k for k in wanted if k not in out], owner, lease))
        return out

    def renew(self, owner: Owner, lease: float) -> None:
        """Every claim of `owner` runs `lease` seconds more (a job renews while it runs)."""
        with self._lock:
            self._db.execute("UPDATE claims SET until=?, until_mono=? WHERE owner=?", (*clocks(lease), owner.token))

    def release(self, owner: Owner, key: str | None = None) -> None:
        """Give up `owner`'s claim on `key` (every claim of `owner` when None)."""
        with self._lock:
            if key is None:
                self._db.execute("DELETE FROM claims WHERE owner=?", (owner.token,))
            else:
                self._db.execute("DELETE FROM claims WHERE key=? AND owner=?", (key, owner.token))

    def answered(self, keys: Iterable[str]) -> dict[str, RowRecord]:
        """The rows among `keys` that were answered before (without their reasoning: read it with `get`)."""
        with self._lock:
            return self._answered(list(dict.fromkeys(keys)))

    def _answered(self, wanted: list[str]) -> dict[str, RowRecord]:
        found: dict[str, RowRecord] = {}
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in self._db.execute(
                f"SELECT key, model, '', content, '', data, error, tokens_in, tokens_out, cost FROM rows "
                f"WHERE key IN ({marks})", chunk):
                try:
                    found[row[0]] = _record(row)
                except (ValueError, TypeError):
                    continue  # a saved answer that cannot be read back (a damaged file): asked again
        return found

    def get(self, key: str) -> RowRecord | None:
        with self._lock:
            row = self._db.execute(
                "SELECT key, model, prompt, content, reasoning, data, error, tokens_in, tokens_out, cost FROM rows "
                "WHERE key=?", (key,)).fetchone()
        return _record(row) if row is not None else None

    def save_batch(self, job: str, record: BatchRecord) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO batches VALUES(?,?,?,?,?,?)",
                             (job, record.part, record.batch_id, record.model, record.rows, time.time()))

    def batches(self, job: str) -> list[BatchRecord]:
        with self._lock:
            rows = self._db.execute("SELECT part, batch_id, model, rows FROM batches WHERE job=? ORDER BY part",
                                    (job,)).fetchall()
        return [BatchRecord(*row) for row in rows]

    def forget_batches(self, job: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM batches WHERE job=?", (job,))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Checkpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CheckpointError(KimiError):
    """The checkpoint file cannot be opened or read as one."""

    kind = "store"


def read_row(path: Path | str, key: str) -> RowRecord | None:
    """One row, read-only: opening a path (named by a frame's attrs, which a shared file can carry) never
    creates, changes the mode of, or writes to any file."""
    from urllib.parse import quote

    try:
        db = sqlite3.connect(f"file:{quote(str(Path(path).resolve()))}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        raise CheckpointError(f"the map checkpoint {path} cannot be read ({exc})") from None
    try:
        row = db.execute("SELECT key, model, prompt, content, reasoning, data, error, tokens_in, tokens_out, cost "
                         "FROM rows WHERE key=?", (key,)).fetchone()
    except sqlite3.Error as exc:
        raise CheckpointError(f"{path} is not a map checkpoint kimi_lab can read ({exc})") from None
    finally:
        db.close()
    return _record(row) if row is not None else None


def _record(row: tuple[Any, ...]) -> RowRecord:
    key, model, prompt, content, reasoning, data, error, tokens_in, tokens_out, cost = row
    return RowRecord(key, model or "", prompt or "", content or "", reasoning or "",
                     None if data is None else json.loads(data), error, tokens_in or 0, tokens_out or 0, cost)
