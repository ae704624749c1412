"""The replay cache: the events of one model call, under the hash of its request, in the transcripts file.

It lives in its own table, created IF NOT EXISTS, with its own version row in `meta`
(`replay_cache_version`) instead of a bump of the transcripts' schema version: an older kimi_lab
opening the file reads its transcripts as before and ignores the table, and a cache table of a newer
layout stops only the cache, in one line, never the transcripts.

The events stored are already scrubbed, like the transcripts' (the caller scrubs them), and the key is
a SHA-256 of the request: neither holds a secret. `export` writes a versioned JSON-lines file that can
travel with a notebook; `merge` reads one back, keeping the entries already here.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from kimi_lab.common.errors import KimiError
from kimi_lab.common.events import Event, event_from_dict, to_dict
from kimi_lab.store.sqlite import TranscriptStore

__all__ = ["CACHE_VERSION", "CacheEntry", "CacheStats", "ReplayCache", "ReplayCacheError", "read_export"]

#: The layout of the table and of an exported file; a newer one is refused, never half-read.
CACHE_VERSION = 1
_FORMAT = "kimi_lab replay cache"
_KEY = re.compile(r"^[0-9a-f]{64}$")
_TABLE = """
CREATE TABLE IF NOT EXISTS replay_cache(key TEXT PRIMARY KEY, provider TEXT NOT NULL, model TEXT NOT NULL,
    events TEXT NOT NULL, created REAL NOT NULL) WITHOUT ROWID;
"""
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class ReplayCacheError(KimiError):
    """The cache (or a cache file) cannot be used as it is."""

    kind = "store"


@dataclass(frozen=True)
class CacheEntry:
    key: str
    provider: str
    model: str
    events: list[Event]
    created: float


@dataclass(frozen=True)
class CacheStats:
    """Entries and bytes of stored events, in all and per (provider, model)."""

    entries: int
    size: int
    by_model: list[tuple[str, str, int, int]]  # provider, model, entries, bytes


def _encode(events: Sequence[Event]) -> str:
    return _ENCODER.encode([to_dict(e) for e in events])


def _decode(text: str) -> list[Event]:
    return [event_from_dict(item) for item in json.loads(text)]


class ReplayCache(TranscriptStore):
    """The transcripts file, opened for its cache table (private modes, WAL and checks as for transcripts).
    Open it for a few calls and close it: `with ReplayCache(path) as cache: ...`."""

    def __init__(self, path: Path | str | None = None, *, timeout: float = 5.0) -> None:
        super().__init__(path, timeout=timeout)
        try:
            row = self._db.execute("SELECT value FROM meta WHERE key='replay_cache_version'").fetchone()
            if row is not None and int(row[0]) > CACHE_VERSION:
                raise ReplayCacheError(
                    f"the replay cache in {self.path} was written by a newer kimi_lab (v{row[0]}; this one reads "
                    f"v{CACHE_VERSION}): upgrade kimi_lab, or set KimiLab.cache = 'off'")
            self._db.executescript(_TABLE)
            if row is None:
                self._db.execute("INSERT OR IGNORE INTO meta VALUES('replay_cache_version', ?)", (str(CACHE_VERSION),))
        except BaseException:
            self.close()
            raise

    # -- one model call ------------------------------------------------------------------------

    def get(self, key: str) -> list[Event] | None:
        with self._lock:
            row = self._db.execute("SELECT events FROM replay_cache WHERE key=?", (key,)).fetchone()
        return None if row is None else _decode(row[0])

    def put(self, key: str, provider: str, model: str, events: Sequence[Event]) -> None:
        """Keep the first answer of a request: a later one of the same request changes nothing."""
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO replay_cache VALUES(?,?,?,?,?)",
                             (key, provider, model, _encode(events), time.time()))

    def models(self, provider: str) -> set[str]:
        """The models this provider answered from here: what a replay can choose among, offline."""
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT model FROM replay_cache WHERE provider=?", (provider,))
            return {model for (model,) in rows.fetchall()}

    def providers(self) -> list[str]:
        """Providers with entries, the most recently recorded first."""
        with self._lock:
            rows = self._db.execute("SELECT provider FROM replay_cache GROUP BY provider ORDER BY MAX(created) DESC")
            return [name for (name,) in rows.fetchall()]

    # -- the whole cache -----------------------------------------------------------------------

    def stats(self) -> CacheStats:
        with self._lock:
            rows = self._db.execute(
                "SELECT provider, model, COUNT(*), SUM(LENGTH(CAST(events AS BLOB))) FROM replay_cache "
                "GROUP BY provider, model ORDER BY provider, model").fetchall()
        by_model = [(p, m, int(n), int(size or 0)) for p, m, n, size in rows]
        return CacheStats(sum(r[2] for r in by_model), sum(r[3] for r in by_model), by_model)

    def clear(self) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM replay_cache").rowcount

    def export(self, path: Path | str) -> int:
        """Write every entry to `path` (a header line, then one entry a line), replacing it whole; the count."""
        path = Path(path).expanduser()
        with self._lock:
            rows = self._db.execute(
                "SELECT key, provider, model, events, created FROM replay_cache ORDER BY created, key").fetchall()
        header = {"format": _FORMAT, "version": CACHE_VERSION, "entries": len(rows)}
        lines = [_ENCODER.encode(header)]
        for key, provider, model, events, created in rows:
            # `events` is already JSON: spliced in, not decoded and encoded again
            head = _ENCODER.encode({"key": key, "provider": provider, "model": model, "created": created})
            lines.append(f'{head[:-1]},"events":{events}}}')
        folder = path.parent if str(path.parent) else Path(".")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write("\n".join(lines) + "\n")
            os.replace(tmp, path)  # a reader never sees half a file
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return len(rows)

    def merge(self, path: Path | str) -> tuple[int, int]:
        """Add the entries of an exported file, keeping those already here; (added, already here).
        The whole file is checked first: a bad one adds nothing."""
        entries = read_export(path)
        with self.batch():
            added = sum(
                self._db.execute("INSERT OR IGNORE INTO replay_cache VALUES(?,?,?,?,?)",
                                 (e.key, e.provider, e.model, _encode(e.events), e.created)).rowcount
                for e in entries)
        return added, len(entries) - added


def read_export(path: Path | str) -> list[CacheEntry]:
    """The entries of an exported file; one line naming the problem for anything else."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReplayCacheError(f"no file {path}: export one with %kimi cache export PATH") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayCacheError(f"cannot read {path} ({type(exc).__name__}): is it a kimi_lab cache file?") from None
    lines = text.splitlines()
    header = _json_line(lines[0]) if lines else None
    if not isinstance(header, dict) or header.get("format") != _FORMAT:
        raise ReplayCacheError(f"{path} is not a kimi_lab replay cache file: make one with %kimi cache export PATH")
    version = header.get("version")
    if not isinstance(version, int) or version > CACHE_VERSION:
        raise ReplayCacheError(f"{path} is a replay cache of version {version}, newer than this kimi_lab reads "
                               f"(v{CACHE_VERSION}): upgrade kimi_lab to import it")
    entries = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        entry = _entry(_json_line(line))
        if entry is None:
            raise ReplayCacheError(f"{path} line {number} is not a cache entry; nothing was imported")
        entries.append(entry)
    return entries


def _json_line(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def _entry(item: Any) -> CacheEntry | None:
    if not isinstance(item, dict) or not isinstance(item.get("events"), list):
        return None
    key, provider, model, created = (item.get(k) for k in ("key", "provider", "model", "created"))
    if not (isinstance(key, str) and _KEY.match(key) and isinstance(provider, str) and isinstance(model, str)
            and isinstance(created, (int, float))):
        return None
    try:
        events = [event_from_dict(e) for e in item["events"]]
    except (ValueError, TypeError, AttributeError):
        return None
    return CacheEntry(key, provider, model, events, float(created))
