"""The transcripts file under conditions the user does not control: another program holding it
locked must never slow an answer, and the file (with its WAL sidecars) and the folder kimi_lab
makes for it must be readable by the user alone: it holds every prompt, answer and tool result."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from kimi_lab.common.events import ContentDelta
from kimi_lab.store import recorder as transcripts
from kimi_lab.store.recorder import recorder
from kimi_lab.store.sqlite import TranscriptStore
from kimi_lab.testing import Reply


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another connection (another kernel, a `sqlite3` shell, a backup tool) holds the write lock."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


def _fresh_recorder(kimi, path: Path):
    kimi.config.transcripts_path = str(path)
    kimi.server.script(Reply(content="warm"))
    assert kimi.run(f"%kimi --chat {path.stem} --tools none warm up").error is None
    rec = recorder()
    assert rec is not None and rec.flush()
    return rec


def _ask_timed(kimi, chat: str, prompt: str, answer: str) -> float:
    kimi.server.script(Reply(content=answer))
    started = time.monotonic()
    cell = kimi.run(f"%kimi --chat {chat} --tools none {prompt}")
    elapsed = time.monotonic() - started
    assert cell.error is None and cell.result.content == answer
    return elapsed


def test_a_locked_transcripts_file_never_slows_the_answer_and_the_turn_is_kept(kimi, tmp_path):
    rec = _fresh_recorder(kimi, tmp_path / "lock-kept.sqlite3")
    with locked(rec.path):
        elapsed = _ask_timed(kimi, "lock-kept", "asked while locked", "answered at once")
        assert not rec.flush(timeout=0.3), "nothing can be written while the lock is held"
    assert elapsed < 2.0, f"the answer waited {elapsed:.1f} s for the locked transcripts file"
    assert rec.flush(timeout=5), "once the lock is released the waiting rows are written"
    [_, turn] = rec.store.turns("lock-kept")
    assert turn.prompt == "asked while locked" and turn.summary["content"] == "answered at once"
    assert "".join(e.text for e in turn.events if isinstance(e, ContentDelta)) == "answered at once"


def test_a_file_locked_for_too_long_drops_what_waits_with_one_warning(kimi, tmp_path, monkeypatch):
    monkeypatch.setattr(transcripts, "LOCK_PATIENCE", 0.5)
    rec = _fresh_recorder(kimi, tmp_path / "lock-dropped.sqlite3")
    with pytest.warns(RuntimeWarning) as seen:
        with locked(rec.path):
            elapsed = [_ask_timed(kimi, "lock-dropped", f"question {n}", f"answer {n}") for n in (1, 2)]
            assert rec.flush(timeout=10), "the writer gives up after LOCK_PATIENCE instead of waiting forever"
    notes = [str(w.message) for w in seen if "locked" in str(w.message)]
    assert len(notes) == 1, notes
    assert str(rec.path) in notes[0] and "not recorded" in notes[0]
    assert max(elapsed) < 2.0
    _ask_timed(kimi, "lock-dropped", "after the lock", "recorded again")
    assert rec.flush()
    assert [t.prompt for t in rec.store.turns("lock-dropped")] == ["warm up", "after the lock"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The common 022: files would be world-readable unless kimi_lab asks for less."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_the_transcripts_file_its_sidecars_and_new_folders_are_private(tmp_path, usual_umask):
    path = tmp_path / "home" / "kimi_lab" / "transcripts.sqlite3"
    with TranscriptStore(path) as store:
        store.append(store.start_turn("c", "secret plans", model="m", provider="p"), ContentDelta("answer"))
        sidecars = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
        assert all(p.exists() for p in sidecars)
        assert {p.name: _mode(p) for p in (path, *sidecars)} == {p.name: 0o600 for p in (path, *sidecars)}
    assert _mode(path.parent) == 0o700 and _mode(path.parent.parent) == 0o700


def test_an_existing_folder_is_left_alone_and_an_old_readable_file_is_made_private(tmp_path, usual_umask):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    path = folder / "transcripts.sqlite3"
    sqlite3.connect(path).close()  # as an older kimi_lab left it: 0644
    assert _mode(path) == 0o644
    with TranscriptStore(path) as store:
        store.start_turn("c", "q", model="m", provider="p")
    assert _mode(path) == 0o600 and _mode(folder) == 0o755


def test_a_file_that_cannot_be_used_never_breaks_the_answer(kimi, tmp_path):
    from kimi_lab.store.sqlite import SCHEMA_VERSION

    path = tmp_path / "newer.sqlite3"
    TranscriptStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    db.close()
    kimi.config.transcripts_path = str(path)
    with pytest.warns(RuntimeWarning, match="newer kimi_lab"):
        elapsed = _ask_timed(kimi, "newer", "still answered?", "yes")
        recorder().flush()
    assert elapsed < 2.0
    with pytest.warns(RuntimeWarning, match="newer kimi_lab"):  # each use tries the file again
        exported = kimi.run("%kimi export newer").text()
    assert "transcripts are off or cannot be used" in exported and "still answered?" in exported
