"""The services every face calls: `%kimi providers` and the sidebar's provider box read one
provider_statuses(), so they cannot disagree about which keys are set."""

from __future__ import annotations

from typing import Any

from kimi_lab.faces.comm.dispatch import Bridge
from kimi_lab.faces.ipython.subcommands import providers_table
from kimi_lab.services.providers import provider_statuses


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
