"""The services every face calls: `%kimi providers` and the sidebar's provider box read one
provider_statuses(), `%kimi models` and the model box one list_models(), `%kimi history` and the
sidebar one chat_history(), so they cannot disagree."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from kimi_lab.core.session import new_session
from kimi_lab.faces.comm.dispatch import Bridge
from kimi_lab.faces.ipython.subcommands import providers_table
from kimi_lab.services.providers import provider_statuses
from kimi_lab.settings.config import settings, use_settings
from kimi_lab.testing import Reply


def sidebar_providers() -> dict[str, Any]:
    sent: list[dict[str, Any]] = []
    Bridge(sent.append).handle({"content": {"data": {"type": "providers", "request_id": "p"}}})
    return sent[0]


def test_the_table_and_the_sidebar_agree_on_which_keys_are_set(kimi, monkeypatch):
    monkeypatch.delenv("MOONSHOT_API_KEY", raising=False)
    monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-test-key-123456")
    monkeypatch.setenv("KIMI_LAB_API_KEY", "sk-fallback-key-123456")
    import os

    statuses, fallback = provider_statuses(os.environ)
    by_name = {s.provider.name: s for s in statuses}
    assert fallback and by_name["openrouter"].key_set and not by_name["moonshot"].key_set
    assert not by_name["custom"].needs_key

    reply = sidebar_providers()
    sent = {p["name"]: p for p in reply["providers"]}
    assert {n: p["key_set"] for n, p in sent.items()} == {n: s.key_set for n, s in by_name.items()}
    assert reply["fallback_key_set"] is True

    rows = {row[0]: row[2] for row in providers_table(os.environ).rows}
    assert rows["openrouter"] == "OPENROUTER_API_KEY ✓ set"
    assert rows["moonshot"] == "MOONSHOT_API_KEY ✗ not set (KIMI_LAB_API_KEY serves)"  # usable after all: say so
    assert "sk-" not in str(rows) + str(reply), "keys are never shown"


def sidebar_reply(kind: str, **fields: Any) -> dict[str, Any]:
    """A request from the sidebar, and its reply (some replies come from a worker thread)."""
    sent: list[dict[str, Any]] = []
    arrived = threading.Event()

    def send(message: dict[str, Any]) -> None:
        sent.append(message)
        arrived.set()

    Bridge(send).handle({"content": {"data": {"type": kind, "request_id": "r", **fields}}})
    assert arrived.wait(10), f"no reply to {kind!r} within 10 s"
    return sent[0]


@pytest.mark.parametrize("server", [{"dialect": "moonshot", "models": ["kimi-k2.6", "kimi-k2-thinking"]}],
                         indirect=True)
def test_the_models_table_and_the_model_box_agree_on_the_model_an_ask_uses(kimi):
    """This Moonshot still lists K2 Thinking, which the preset prefers to its default: both faces say so."""
    table = kimi.run("%kimi models").result
    reply = sidebar_reply("models")
    assert reply["type"] == "models" and reply["error"] == "", reply
    assert "(chosen: kimi-k2-thinking)" in table.title and reply["chosen"] == "kimi-k2-thinking"
    assert reply["models"] == [row[0] for row in table.rows]
    kimi.server.script(Reply(content="hi"))
    assert kimi.run("%kimi --tools none hi").result.model == "kimi-k2-thinking"


@pytest.mark.parametrize("server", [{"dialect": "moonshot", "models": ["kimi-k2.6", "kimi-k2-thinking"]}],
                         indirect=True)
def test_the_sidebar_status_line_names_the_model_an_ask_uses(kimi):
    """The sidebar's "kimi_lab 0.1.0 · moonshot/…" line comes from `hello`: it said the preset's kimi-k2.6
    while every answer came from kimi-k2-thinking, which this Moonshot still lists."""
    from kimi_lab.faces.comm.protocol import PROTOCOL

    reply = sidebar_reply("hello", protocol=PROTOCOL)
    kimi.server.script(Reply(content="hi"))
    asked = kimi.run("%kimi --tools none hi").result.model
    assert (reply["provider"], reply["model"]) == ("moonshot", asked) == ("moonshot", "kimi-k2-thinking")


def test_history_in_a_fresh_kernel_shows_the_recorded_chat_in_every_face(kimi):
    """After a restart `%kimi history NAME` and the sidebar both bring the recorded turns back."""
    kimi.server.script(Reply(content="Paris."), Reply(content="About 2.1 million."))
    assert kimi.run("%kimi --chat svc-hist --tools none capital of France?").error is None
    assert kimi.run("%kimi --chat svc-hist --tools none and its population?").error is None
    cfg = settings()
    new_session()  # what a restarted kernel remembers: nothing in memory, the transcripts on disk
    use_settings(cfg)
    shown = kimi.run("%kimi history svc-hist")
    assert shown.error is None and "2 turn(s)" in shown.text() and "About 2.1 million." in shown.text()
    new_session()
    use_settings(cfg)
    reply = sidebar_reply("history", chat="svc-hist")
    assert [t["prompt"] for t in reply["turns"]] == ["capital of France?", "and its population?"]
    assert reply["restored"] == 2
