"""The transcript store: exact round-trips, crash safety, concurrency, export, damaged files, speed."""

from __future__ import annotations

import json
import selectors
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from kimi_lab.common.events import (
    ContentDelta,
    Done,
    ErrorEvent,
    Event,
    ReasoningDelta,
    Status,
    TokenUsage,
    ToolCallDelta,
    ToolEnd,
    ToolStart,
    UsageEvent,
    to_dict,
)
from kimi_lab.common.result import Result
from kimi_lab.core.timeline import INTERRUPTED
from kimi_lab.render.answer import chat_markdown
from kimi_lab.store.reopen import result_of
from kimi_lab.store.sqlite import SCHEMA_VERSION, TranscriptStore, TranscriptStoreError, default_path

TOOL_TURN: list[Event] = [
    ReasoningDelta("I should look at ", details=[{"type": "reasoning.text", "text": "x", "index": 0}]),
    ReasoningDelta("the dataframe first."),
    ToolCallDelta(0, id="call_1", name="inspect_var", arguments='{"na'),
    ToolCallDelta(0, arguments='me": "df"}'),
    ToolStart("call_1", "inspect_var", '{"name": "df"}'),
    ToolEnd("call_1", "inspect_var", "ok", preview="DataFrame 3x2", duration=0.25),
    Status("retrying after a 429", level="warning"),
    ReasoningDelta("It has three rows."),
    ContentDelta("The frame has "),
    ContentDelta("3 rows."),
    UsageEvent(TokenUsage(prompt=120, completion=30, cached=10, reasoning=12)),
    Done("stop"),
]


@pytest.fixture
def store(tmp_path: Path):
    with TranscriptStore(tmp_path / "t.sqlite3") as s:
        yield s


def _result(content: str, *, prompt: int = 120, completion: int = 30, cost: float | None = 0.002) -> Result:
    return Result(content=content, reasoning="I should look...", usage=TokenUsage(prompt, completion),
                  cost=cost, finish_reason="stop", elapsed=1.5)


def test_events_round_trip_exactly_and_in_order(store: TranscriptStore) -> None:
    turn = store.start_turn("main", "How many rows?", model="kimi-k2-thinking", provider="moonshot", kernel_id="k1")
    extra = [ErrorEvent("boom", kind="api")]
    for event in [*TOOL_TURN, *extra]:
        store.append(turn, event)
    store.end_turn(turn, _result("The frame has 3 rows."))

    [record] = store.turns("main")
    assert record.events == [*TOOL_TURN, *extra]
    rows = store._db.execute("SELECT seq, type, data FROM events WHERE turn_id=? ORDER BY seq", (turn,)).fetchall()
    assert [(seq, t, json.loads(d)) for seq, t, d in rows] == [
        (i, e.type, to_dict(e)) for i, e in enumerate([*TOOL_TURN, *extra])]
    assert [type(e) for e in record.events] == [type(e) for e in [*TOOL_TURN, *extra]]
    assert isinstance(record.events[10], UsageEvent) and record.events[10].usage.cached == 10
    assert (record.prompt, record.model, record.provider, record.kernel_id) == (
        "How many rows?", "kimi-k2-thinking", "moonshot", "k1")
    assert record.ended is not None and record.ended >= record.started and not record.interrupted
    assert record.summary == {"content": "The frame has 3 rows.", "reasoning": "I should look...",
                              "usage": {"prompt": 120, "completion": 30, "cached": 0, "reasoning": 0},
                              "cost": 0.002, "finish_reason": "stop", "error": None, "elapsed": 1.5}


def test_chats_are_separate_and_totalled(store: TranscriptStore) -> None:
    for chat, n in (("a", 3), ("b", 2)):
        for i in range(n):
            turn = store.start_turn(chat, f"{chat}{i}", model="m", provider="p")
            store.append(turn, ContentDelta(f"answer {chat}{i}"))
            store.end_turn(turn, _result(f"answer {chat}{i}", prompt=100, completion=10, cost=0.5))
    unfinished = store.start_turn("b", "still going", model="m", provider="p")
    store.append(unfinished, UsageEvent(TokenUsage(prompt=7, completion=3)))

    assert [t.prompt for t in store.turns("a")] == ["a0", "a1", "a2"]
    assert [t.prompt for t in store.turns("b")] == ["b0", "b1", "still going"]
    assert store.turns("a")[1].events == [ContentDelta("answer a1")]
    summaries = {c.name: c for c in store.chats()}
    assert summaries["a"].turns == 3 and summaries["a"].tokens == 330 and summaries["a"].cost == pytest.approx(1.5)
    assert summaries["b"].turns == 3 and summaries["b"].tokens == 230 and summaries["b"].cost == pytest.approx(1.0)
    assert store.chats()[0].name == "b"  # most recent activity first
    assert summaries["b"].last_activity >= summaries["a"].last_activity

    assert store.delete_chat("a") == 3
    assert store.turns("a") == [] and [c.name for c in store.chats()] == ["b"]
    assert store._db.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 3


def test_wal_mode_is_on(store: TranscriptStore) -> None:
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_default_path_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIMI_LAB_TRANSCRIPTS", str(tmp_path / "x" / "t.db"))
    assert default_path() == tmp_path / "x" / "t.db"
    with TranscriptStore() as s:
        assert s.path.parent.is_dir()
    monkeypatch.delenv("KIMI_LAB_TRANSCRIPTS")
    assert default_path().parts[-2:] == ("kimi_lab", "transcripts.sqlite3")


def test_concurrent_appends_from_two_threads_lose_nothing(store: TranscriptStore) -> None:
    turns = [store.start_turn("c", f"q{i}", model="m", provider="p") for i in range(2)]
    barrier = threading.Barrier(2)

    def write(turn: int) -> None:
        barrier.wait()
        for i in range(500):
            store.append(turn, ContentDelta(f"{turn}:{i}"))

    threads = [threading.Thread(target=write, args=(t,)) for t in turns]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for record in store.turns("c"):
        assert record.events == [ContentDelta(f"{record.id}:{i}") for i in range(500)]


def test_two_stores_appending_to_one_turn_keep_order(tmp_path: Path) -> None:
    with TranscriptStore(tmp_path / "t.db") as a, TranscriptStore(tmp_path / "t.db") as b:
        turn = a.start_turn("x", "q", model="m", provider="p")
        for i in range(6):
            (a if i % 2 else b).append(turn, ContentDelta(str(i)))
        assert a.turns("x")[0].events == [ContentDelta(str(i)) for i in range(6)]


def test_import_does_not_load_jupyter_core() -> None:
    code = "import sys, kimi_lab.store.sqlite; assert 'jupyter_core' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=Path(__file__).resolve().parents[1])


CHILD = textwrap.dedent("""
    import sys, time
    from kimi_lab.common.events import ContentDelta, ReasoningDelta, ToolStart
    from kimi_lab.store.sqlite import TranscriptStore
    store = TranscriptStore(sys.argv[1])
    turn = store.start_turn("crash", "Will you finish?", model="kimi-k2-thinking", provider="local")
    store.append(turn, ReasoningDelta("thinking hard"))
    store.append(turn, ToolStart("c1", "run_code", '{"code": "1 + 1"}'))
    for i in range(int(sys.argv[2]) - 2):
        store.append(turn, ContentDelta(f"part {i} "))
    print("ready", flush=True)
    time.sleep(120)
""")


def test_crash_mid_turn_keeps_every_written_event(tmp_path: Path) -> None:
    path, n = tmp_path / "t.sqlite3", 25
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(n)], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[1])
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(child.stdout, selectors.EVENT_READ)  # type: ignore[arg-type]
            assert sel.select(timeout=60), "child never signalled readiness"
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        assert child.stdout is not None
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL

    with TranscriptStore(path) as store:
        [record] = store.turns("crash")
        assert len(record.events) == n and record.ended is None and record.summary is None and record.interrupted
        assert record.events[-1] == ContentDelta(f"part {n - 3} ")
        md = _export(store, "crash")
    assert "Will you finish?" in md and "thinking hard" in md and "run_code" in md and "part 22" in md
    assert INTERRUPTED in md


def _export(store: TranscriptStore, chat: str) -> str:
    """What `%kimi export` and the sidebar's Export write for a recorded chat."""
    return chat_markdown(chat, [result_of(r) for r in store.turns(chat)])


def test_export_markdown_of_a_tool_turn(store: TranscriptStore) -> None:
    turn = store.start_turn("md", "How many rows in <df>?", model="kimi-k2-thinking", provider="openrouter")
    for event in TOOL_TURN:
        store.append(turn, event)
    store.end_turn(turn, _result("The frame has **3** rows."))
    md = _export(store, "md")
    assert "How many rows in &lt;df&gt;?" in md
    order = [md.index(s) for s in ("I should look at the dataframe first.", "inspect_var", "DataFrame 3x2",
                                   "It has three rows.", "The frame has **3** rows.")]
    assert order == sorted(order)
    assert "<details>" in md and "✓" in md and "retrying after a 429" in md
    assert "kimi-k2-thinking · openrouter · 120 in / 30 out · \\\\$0.0020" in md
    assert "interrupted" not in md


def test_corrupt_file_is_moved_aside(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    garbage = b"definitely not sqlite\x00" * 200
    path.write_bytes(garbage)
    with pytest.warns(RuntimeWarning, match="moved it to"):
        store = TranscriptStore(path)
    with store:
        turn = store.start_turn("fresh", "hi", model="m", provider="p")
        store.append(turn, ContentDelta("ok"))
        assert store.turns("fresh")[0].events == [ContentDelta("ok")]
    [moved] = tmp_path.glob("t.sqlite3.corrupt-*")
    assert moved.read_bytes() == garbage


def test_newer_schema_version_errors_clearly(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite3"
    TranscriptStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION + 1),))
    db.close()
    with pytest.raises(TranscriptStoreError, match="newer kimi_lab"):
        TranscriptStore(path)
    assert path.exists() and not list(tmp_path.glob("*.corrupt-*"))


def test_append_is_cheap(store: TranscriptStore) -> None:
    turn = store.start_turn("bench", "go", model="m", provider="p")
    event = ReasoningDelta("a typical streamed chunk of reasoning text, some forty tokens long. " * 2)
    n = 2_000
    t0 = time.perf_counter()
    for _ in range(n):
        store.append(turn, event)
    per_event = (time.perf_counter() - t0) / n
    print(f"\nTranscriptStore.append: {per_event * 1e6:.1f} µs/event over {n} events")
    assert per_event < 1e-3
    assert len(store.turns("bench")[0].events) == n
    assert json.loads(store._db.execute("SELECT data FROM events LIMIT 1").fetchone()[0])["type"] == "reasoning"
