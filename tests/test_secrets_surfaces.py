"""Secrets held by the notebook or a base URL never reach what the user sees, the transcripts, or the model."""

from __future__ import annotations

import base64
import json
import socket

import pytest

from kimi_lab.testing import Reply, ToolCall

NB_KEY = "zq-notebook-key-55aa66bb77cc"  # no known token shape: only the notebook says it is a secret
URL_PW = "urlpw-3d5f7h9k2m"


def encodings(secret: str) -> list[str]:
    return [secret, secret.upper(), secret[::-1], base64.b64encode(secret.encode()).decode().rstrip("="),
            secret.encode().hex(), secret[:14]]


def leaks(text: str, secret: str) -> list[str]:
    return [form for form in encodings(secret) if form in text]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _leave_the_namespace_as_found(shell):
    """The shell is shared by the session: variables these tests make must not show up in other tests."""
    before = set(shell.user_ns)
    yield
    for name in set(shell.user_ns) - before:
        if not name.startswith("_"):
            del shell.user_ns[name]


def test_config_providers_and_errors_show_a_base_url_without_its_password(kimi):
    url = f"http://app:{URL_PW}@127.0.0.1:{closed_port()}/v1"
    kimi.config.base_url = url
    config = kimi.run("%kimi config").text()
    assert "http://app:***@127.0.0.1:" in config and URL_PW not in config
    kimi.config.presets = {**kimi.config.presets, "mybox": {"base_url": url}}
    providers = kimi.run("%kimi providers").text()
    assert "http://app:***@127.0.0.1:" in providers and URL_PW not in providers
    cell = kimi.run("%kimi hi")
    lines = [line for line in cell.stdout.splitlines() if line.strip()]
    assert type(cell.error).__name__ == "KimiConnectionError" and len(lines) == 1
    assert "cannot reach http://app:***@127.0.0.1:" in lines[0] and URL_PW not in cell.text()


def test_a_notebook_secret_echoed_in_any_encoding_is_scrubbed_everywhere(kimi):
    kimi.shell.user_ns["cfg"] = {"api_key": NB_KEY, "retries": 3}
    b64 = base64.b64encode(NB_KEY.encode()).decode()
    kimi.server.script(
        Reply(reasoning=f"the config holds {b64}",
              tool_calls=[ToolCall("describe_variable", json.dumps({"name": NB_KEY.upper()}))]),
        Reply(content=f"It is {NB_KEY[::-1]}, or {NB_KEY.encode().hex()} in hex, starting {NB_KEY[:14]}"),
        Reply(content="ok"),
    )
    cell = kimi.run("%kimi --out r what is in {cfg}?")
    assert cell.error is None, cell.stdout
    kimi.run("%kimi and now?")
    result = kimi.shell.user_ns["r"]
    surfaces = {
        "cell": cell.text(), "result": str(result) + repr(result.tool_calls),
        "export": kimi.run("%kimi export").text(), "history": kimi.run("%kimi history").text(),
        "sent": json.dumps([r.body for r in kimi.server.chat_requests]),
    }
    assert {where: leaks(text, NB_KEY) for where, text in surfaces.items()} == {w: [] for w in surfaces}
    first_prompt = kimi.server.chat_requests[0].body["messages"][-1]["content"]
    assert "'retries': 3" in first_prompt and "[redacted]" in first_prompt


def test_a_url_password_variable_is_not_interpolated_and_a_typed_key_is_scrubbed(kimi):
    typed = "zq-typed-in-a-cell-4455667788"
    kimi.run(f"login(password={typed!r})")  # fails, but the key is now in IPython's input history
    kimi.shell.user_ns["db_url"] = f"postgres://app:{URL_PW}@db.internal/sales"
    kimi.server.script(Reply(content=f"your password is {typed.upper()}"))
    cell = kimi.run("%kimi --out r connect to {db_url}")
    result = kimi.shell.user_ns["r"]
    assert "left {db_url} as text: its value looks like a secret" in " ".join(result.warnings)
    sent = json.dumps(kimi.server.chat_requests[-1].body)
    assert URL_PW not in sent and "{db_url}" in sent
    assert leaks(cell.text(), typed) == [] and leaks(result.content, typed) == []


def test_a_secret_loaded_by_a_tool_mid_answer_is_scrubbed_from_the_rest_of_it(kimi, monkeypatch):
    loaded = "zq-loaded-by-a-tool-8899aabb"
    kimi.shell.user_ns["load_credentials"] = lambda: {"token": loaded}
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    code = "creds_cache = load_credentials()"
    kimi.server.script(Reply(reasoning="load them", tool_calls=[ToolCall("run_python", json.dumps({"code": code}))]),
                       Reply(reasoning=f"now I know {loaded}", content=f"The token is {loaded[::-1]}."))
    cell = kimi.run("%kimi --tools +code --out r load the credentials")
    assert cell.error is None, cell.stdout
    result = kimi.shell.user_ns["r"]
    assert leaks(cell.text(), loaded) == [] and leaks(result.reasoning + result.content, loaded) == []
    assert "The token is [redacted]." in result.content
