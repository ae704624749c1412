"""The replay cache (issue 14): a notebook re-run answered from recorded model calls, instantly in `use` mode
and with no network at all in `replay` mode; a cache file exported, cleared, imported and replayed; nothing
secret in it."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
from pathlib import Path

import pytest

import kimi_lab
from kimi_lab.backends.listing import forget_listings
from kimi_lab.common.errors import KimiConfigError
from kimi_lab.core.session import new_session
from kimi_lab.settings.config import use_settings
from kimi_lab.testing import Reply, ToolCall, Usage
from kimi_lab.tools import registry

from .conftest import CANARY_KEY

SETUP = """
import pandas as pd
sales = pd.DataFrame({"region": ["north", "south", "east", "north"], "units": [12, 7, 3, 9]})
"""
QUESTION = "%kimi how many units were sold in all?"
MISS = "not in the replay cache: run it once with KimiLab.cache = 'use' and a key"


@pytest.fixture
def kimi(kimi, tmp_path):
    """The cache (and the transcripts beside it) in this test's own file."""
    kimi.config.transcripts_path = str(tmp_path / "transcripts.sqlite3")
    return kimi


def fresh_kernel(kimi) -> None:
    """What a restarted kernel starts from: no session, chats, variables, tools or model listings."""
    cfg = kimi.config
    new_session()
    use_settings(cfg)
    kimi.shell.reset(new_session=False)
    registry.clear()
    forget_listings()


def cut_network(monkeypatch) -> list[object]:
    """No network from here on: every connection attempt fails, and is counted."""
    attempts: list[object] = []

    def refuse(sock, address):
        attempts.append(address)
        raise OSError("the network is off in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


def record_tool_loop(kimi) -> None:
    kimi.config.cache = "use"
    kimi.run(SETUP)
    kimi.server.script(
        Reply(reasoning="Sum the units column.",
              tool_calls=[ToolCall("evaluate", json.dumps({"expression": "int(sales['units'].sum())"}))]),
        Reply(reasoning="The tool says 31.", content="The regions sold **31** units in all."),
    )
    cell = kimi.run(QUESTION)
    assert cell.error is None, cell.stdout
    assert len(kimi.server.chat_requests) == 2


def rows(kimi) -> list[tuple[str, str]]:
    with sqlite3.connect(kimi.config.transcripts_path) as db:
        return db.execute("SELECT key, events FROM replay_cache").fetchall()


def test_replay_runs_a_tool_loop_with_the_server_stopped_no_key_and_no_network(kimi, monkeypatch):
    record_tool_loop(kimi)
    kimi.server.stop()
    offline = cut_network(monkeypatch)
    fresh_kernel(kimi)
    monkeypatch.delenv("MOONSHOT_API_KEY")  # a colleague with the notebook and its cache, but no key
    kimi.config.cache = "replay"
    kimi.run(SETUP)
    cell = kimi.run(QUESTION)
    assert cell.error is None, cell.stdout
    result = cell.result
    assert "**31** units" in cell.markdown
    assert [c.name for c in result.tool_calls] == ["evaluate"] and str(result.tool_calls[0].result) == "31"
    assert result.cache_hits == 2 and result.cost == 0
    assert re.search(r"· cached: [\d,]+ in / [\d,]+ out · \$0 ·", str(result)), str(result)
    assert offline == [], "a replay opened a connection"


def test_a_changed_dataframe_misses_in_replay_mode_with_one_line(kimi, monkeypatch):
    record_tool_loop(kimi)
    kimi.server.stop()
    offline = cut_network(monkeypatch)
    fresh_kernel(kimi)
    kimi.config.cache = "replay"
    kimi.run(SETUP + "sales.loc[0, 'units'] = 100\n")
    cell = kimi.run(QUESTION)
    assert isinstance(cell.error, KimiConfigError)
    lines = [ln for ln in cell.stdout.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and MISS in lines[0] and "model call 2" in lines[0], cell.stdout
    # the first call was replayed and its tool ran on the changed frame: that result is what missed
    assert str(cell.error.partial.tool_calls[0].result) == "119"
    assert offline == []


def test_use_mode_answers_a_repeated_question_without_sending_it_for_nothing(kimi):
    kimi.config.cache = "use"
    kimi.server.script(Reply(reasoning="France's capital.", content="Paris.", usage=Usage(50, 10)))
    first = kimi.run("%kimi --new --tools none what is the capital of France?")
    assert first.error is None and first.result.cost > 0 and "cached" not in first.markdown
    sent = len(kimi.server.requests)
    second = kimi.run("%kimi --new --tools none what is the capital of France?")
    assert second.error is None, second.stdout
    assert len(kimi.server.requests) == sent, "the repeated question sent something"
    assert second.result.content == "Paris." and second.result.reasoning == "France's capital."
    assert second.result.cost == 0 and second.result.usage.total == 0
    assert "· cached: 50 in / 10 out · $0 ·" in str(second.result), str(second.result)
    other = kimi.run("%kimi --new --tools none what is the capital of Spain?")
    assert other.error is None and len(kimi.server.chat_requests) == 2, "a new question is sent"


def test_a_cut_or_stopped_answer_is_not_cached(kimi):
    kimi.config.cache = "use"
    kimi.server.script(Reply(content="A long answer that breaks off", chunk_chars=4, cut_after=3))
    assert kimi.run("%kimi --new --tools none tell me a story").error is not None
    kimi.server.script(Reply(content="The whole story."))
    again = kimi.run("%kimi --new --tools none tell me a story")
    assert again.error is None and again.result.content == "The whole story."
    assert len(kimi.server.chat_requests) == 2, "the broken answer was replayed"
    assert rows(kimi) and all("breaks off" not in events for _, events in rows(kimi))


def test_export_clear_import_then_replay(kimi, tmp_path):
    kimi.config.cache = "use"
    kimi.server.script(Reply(content="Forty-two."))
    assert kimi.run("%kimi --new --tools none the answer?").error is None
    listed = kimi.run("%kimi cache")
    assert "Replay cache: 1 entry" in listed.text() and "kimi-k2-thinking" in listed.text()
    path = tmp_path / "shared" / "notebook cache.jsonl"
    path.parent.mkdir()
    assert "exported 1 entry" in kimi.run(f'%kimi cache export "{path}"').stdout
    assert "cleared the replay cache: 1 entry" in kimi.run("%kimi cache clear").stdout
    kimi.config.cache = "replay"
    assert MISS in kimi.run("%kimi --new --tools none the answer?").stdout
    assert "imported 1 entry" in kimi.run(f'%kimi cache import "{path}"').stdout
    cell = kimi.run("%kimi --new --tools none the answer?")
    assert cell.error is None and cell.result.content == "Forty-two."
    assert len(kimi.server.chat_requests) == 1
    assert "(1 entry already here)" in kimi.run(f'%kimi cache import "{path}"').stdout


def test_a_cache_file_of_a_newer_version_is_refused_in_one_line(kimi, tmp_path):
    path = tmp_path / "future.jsonl"
    path.write_text(json.dumps({"format": "kimi_lab replay cache", "version": 99, "entries": 0}) + "\n")
    cell = kimi.run(f"%kimi cache import {path}")
    lines = [ln for ln in cell.stdout.strip().splitlines() if ln.strip()]
    assert cell.error is not None and len(lines) == 1, cell.stdout
    assert "version 99" in lines[0] and "upgrade kimi_lab" in lines[0]


def test_neither_the_key_nor_the_file_holds_the_api_key_or_a_secret(kimi, monkeypatch, tmp_path):
    secret = "tok-9f8e7d6c5b4a3928170615"
    monkeypatch.setenv("SHOP_TOKEN", secret)
    kimi.config.secret_env = ["SHOP_TOKEN"]
    kimi.config.cache = "use"
    # a model that repeats a secret it should never have seen: what is stored is scrubbed all the same
    kimi.server.script(Reply(content=f"Your token {secret} and key {CANARY_KEY} look fine.", chunk_chars=5))
    assert kimi.run(f"%kimi --tools none is {secret} a valid token?").error is None
    (key, events), = rows(kimi)
    assert re.fullmatch(r"[0-9a-f]{64}", key), "the key is a hash of the request, not the request"
    exported = tmp_path / "out.jsonl"
    kimi.run(f"%kimi cache export {exported}")
    db = Path(kimi.config.transcripts_path)
    files = [f.read_bytes().decode("latin-1") for f in (db, db.with_name(db.name + "-wal")) if f.exists()]
    for text in (key, events, exported.read_text(), *files):
        assert secret not in text and CANARY_KEY not in text


def test_bad_modes_and_commands_are_one_line_and_questions_about_caches_are_asked(kimi):
    with pytest.raises(KimiConfigError, match="--cache must be one of off, use, replay, not 'sometimes'"):
        kimi_lab.ask("hi", cache="sometimes", show=False)
    assert "unknown cache command 'flush'" in kimi.run("%kimi cache flush").stdout
    assert "takes one PATH" in kimi.run("%kimi cache export a.jsonl b.jsonl").stdout
    assert kimi.server.chat_requests == []
    cell = kimi.run("%kimi cache invalidation: why is it hard?")
    assert cell.error is None and len(kimi.server.chat_requests) == 1
