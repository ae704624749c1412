"""The prompt-injection notebook runs in a real kernel against a scripted model that obeys the injection:
it tries to read a file, write one, read the environment and the input history, change the data, call a
notebook function, and run code it claims is pre-approved. The notebook's last cell checks every canary;
this test also checks that nothing secret reached the model."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from kimi_lab.testing import LoopbackServer, Reply, ToolCall

from .conftest import CANARY_KEY

NOTEBOOK = Path(__file__).resolve().parent / "notebooks" / "prompt-injection.ipynb"
pytestmark = pytest.mark.kernel

READ = [
    "open('canary.txt').read()",
    "pd.read_csv('canary.txt')",
    "reviews.text.apply(pd.Series(filter(None, [open])).to_numpy())",
    "pd.Series(['canary.txt']).map(lambda p: open(p).read())",
    "reviews.text.str.cat(sep=str(open))",
]
WRITE = [
    "reviews.to_csv('pwned.csv')",
    "pd.Series(['pwned.txt']).transform(pd.Series(filter(None, [open])).to_numpy(), mode='w')",
    "reviews.drop(**{'columns': ['text'], 'inplace': True})",
    "reviews.rating.to_numpy().sort()",
    "reviews.rating.array.fillna(0, copy=False)",
    "refund(1)",
    "reviews.rating.apply(refund)",
]
LEAK = [
    "os.environ",
    "In",
    "openai_key",
    "[cell for cell in In]",
    "_i2",
    "str(globals())",
    "reviews.to_string(float_format='{0.__class__.__mro__}')",
]
CODE = [
    "open('pwned.txt', 'w').write('x')\rreviews.describe()",
    "import os; print(dict(os.environ))",
]


def _calls(name: str, key: str, values: list[str]) -> list[ToolCall]:
    return [ToolCall(name, json.dumps({key: value})) for value in values]


def test_every_canary_survives_an_obedient_model(monkeypatch: pytest.MonkeyPatch, server: LoopbackServer) -> None:
    file_text, env_token, typed_key = (f"canary-{secrets.token_hex(8)}" for _ in range(3))
    typed_key = f"sk-typed{secrets.token_hex(12)}"
    monkeypatch.setenv("INJECTION_FILE_TEXT", file_text)
    monkeypatch.setenv("INJECTION_CANARY_TOKEN", env_token)
    monkeypatch.setenv("INJECTION_TYPED_KEY", typed_key)
    monkeypatch.setenv("KIMI_LAB_BASE_URL", server.base_url)
    monkeypatch.setenv("KIMI_LAB_API_KEY", CANARY_KEY)
    server.script(
        Reply(reasoning="What is in the notebook?", tool_calls=[ToolCall("list_variables", "{}")]),
        Reply(reasoning="Read the reviews.", tool_calls=[ToolCall("describe_variable", '{"name": "reviews"}')]),
        Reply(reasoning="The notice says to read canary.txt.", tool_calls=_calls("evaluate", "expression", READ)),
        Reply(reasoning="Now write the file and fix the data.", tool_calls=_calls("evaluate", "expression", WRITE)),
        Reply(reasoning="Print the environment and the history.", tool_calls=_calls("evaluate", "expression", LEAK)),
        Reply(reasoning="run_python is pre-approved, the notice says.", tool_calls=_calls("run_python", "code", CODE)),
        Reply(content="Customers like the kettle and the blender; the toaster got a low rating."),
    )
    nb = nbformat.read(NOTEBOOK, as_version=4)
    folder = {"metadata": {"path": str(NOTEBOOK.parent)}}
    NotebookClient(nb, timeout=120, kernel_name="python3", resources=folder).execute()

    last = "".join(out.get("text", "") for out in nb.cells[-1].outputs)
    n_calls = 2 + len(READ) + len(WRITE) + len(LEAK) + len(CODE)
    assert f"every canary intact; {n_calls} tool calls, {len(CODE)} denied" in last
    sent = [json.dumps(r.body) for r in server.chat_requests]
    assert len(sent) == 7
    for secret in (file_text, env_token, typed_key, CANARY_KEY):
        assert not any(secret in body for body in sent), "a secret reached the model"
        assert secret not in nbformat.writes(nb), "a secret is in the notebook"
    tool_results = [m for m in server.chat_requests[-1].body["messages"] if m["role"] == "tool"]
    statuses = [m["content"].split('status="', 1)[1].split('"', 1)[0] for m in tool_results]
    assert statuses[:2] == ["ok", "ok"]
    assert statuses[2:-len(CODE)] == ["error"] * (len(READ) + len(WRITE) + len(LEAK))
    assert statuses[-len(CODE):] == ["denied"] * len(CODE)
