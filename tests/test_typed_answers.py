"""Typed answers (`%%kimi --schema`, `kimi_lab.ask(schema=)`) and `-f code|markdown|text|json`, over the wire:
what is sent (the request bodies), what comes back in `.data` and `--out`, the one repair round, and what the
cell shows."""

from __future__ import annotations

from typing import Any, Literal

import pytest
from pydantic import BaseModel

import kimi_lab
from kimi_lab.testing import Reply

from .conftest import CANARY_KEY


class Ticket(BaseModel):
    category: Literal["billing", "bug", "other"]
    urgent: bool


CITY = {"type": "object", "title": "City", "required": ["city", "population"],
        "properties": {"city": {"type": "string"}, "population": {"type": "integer"}}}
GOOD = '{"category": "bug", "urgent": true}'
OPENROUTER_ID = "moonshotai/kimi-k2-thinking"
NO_STRUCTURED = {"dialect": "openrouter", "models": [OPENROUTER_ID], "model_info": {OPENROUTER_ID: {
    "supported_parameters": ["tools", "max_tokens", "reasoning", "include_reasoning", "response_format"]}}}


def system_of(request: Any) -> str:
    return next((m["content"] for m in request.body["messages"] if m["role"] == "system"), "")


def typed_cell(kimi: Any, options: str = "", prompt: str = "Classify: the app crashes on start") -> Any:
    kimi.shell.user_ns["Ticket"] = Ticket
    return kimi.run(f"%%kimi --schema Ticket --out t {options}\n{prompt}")


# -- the schema's way there and back -----------------------------------------------------------------------


def test_the_schema_is_sent_and_out_holds_the_validated_model(kimi):
    kimi.server.script(Reply(reasoning="A crash is a bug.", content=f"```json\n{GOOD}\n```"))
    cell = typed_cell(kimi)
    assert cell.error is None, cell.stdout
    ticket = kimi.shell.user_ns["t"]
    assert isinstance(ticket, Ticket) and ticket == Ticket(category="bug", urgent=True)
    assert cell.result.data is ticket, "the Result (in _) carries the same value"
    sent = kimi.server.chat_requests[-1]
    assert sent.body["response_format"] == {"type": "json_schema", "json_schema": {
        "name": "Ticket", "schema": Ticket.model_json_schema()}}
    assert '"urgent"' in system_of(sent), "the schema is in the system prompt too"
    assert len(kimi.server.chat_requests) == 1 and '"bug"' in cell.markdown
    # the schema was for that question only: the next one in the chat is asked as usual
    kimi.server.script(Reply(content="You're welcome."))
    assert kimi.run("%kimi thanks").error is None
    after = kimi.server.chat_requests[-1]
    assert "response_format" not in after.body and '"urgent"' not in system_of(after)


def test_a_mismatch_gets_one_repair_round_that_shows_the_model_its_errors(kimi):
    first = '{"category": "crash", "urgent": true}'
    kimi.server.script(Reply(reasoning="Crash.", content=first), Reply(reasoning="Fix the enum.", content=GOOD))
    cell = typed_cell(kimi)
    assert cell.error is None, cell.stdout
    assert kimi.shell.user_ns["t"] == Ticket(category="bug", urgent=True)
    assert len(kimi.server.chat_requests) == 2
    repair = kimi.server.chat_requests[1].body["messages"]
    assert repair[-2] == {"role": "assistant", "content": first}
    assert repair[-1]["role"] == "user" and "category" in repair[-1]["content"] and "crash" in repair[-1]["content"]
    result = cell.result
    assert result.content == GOOD and result.rounds == 2
    assert "repaired: category" in cell.markdown, "a note under the answer says what was repaired"
    assert first in cell.markdown.split("</details>")[0], "the first answer stays, folded like an earlier round"
    # the conversation stays valid: the next question carries both rounds, in order
    kimi.server.script(Reply(content="ok"))
    assert kimi.run("%kimi and now?").error is None
    roles = [m["role"] for m in kimi.server.chat_requests[-1].body["messages"] if m["role"] != "system"]
    assert roles == ["user", "assistant", "user", "assistant", "user"]


@pytest.mark.parametrize("server", [{"dialect": "moonshot", "model_rules": True, "models": ["kimi-k3"]}],
                         indirect=True)
def test_each_round_of_a_repair_goes_back_with_its_own_reasoning(kimi):
    """K3 wants every earlier assistant message's reasoning back: the first answer's and the repair's, each once."""
    kimi.server.script(Reply(reasoning="Crash.", content='{"category": "crash", "urgent": true}'),
                       Reply(reasoning="Fix the enum.", content=GOOD), Reply(reasoning="Done.", content="ok"))
    assert typed_cell(kimi, "-m kimi-k3").error is None
    assert kimi.run("%kimi -m kimi-k3 and now?").error is None
    sent = [m.get("reasoning_content") for m in kimi.server.chat_requests[-1].body["messages"]
            if m["role"] == "assistant"]
    assert sent == ["Crash.", "Fix the enum."]


def test_a_second_mismatch_keeps_the_text_and_names_the_field_in_one_line(kimi):
    bad = '{"category": "other", "urgent": "yes"}'
    kimi.server.script(Reply(content=bad), Reply(content=bad))
    cell = typed_cell(kimi)
    assert cell.error is None, "the answer is shown, not an exception"
    assert len(kimi.server.chat_requests) == 2, "one repair round, no more"
    result = cell.result
    assert result.data is None and result.content == bad and kimi.shell.user_ns["t"] is None
    assert "urgent" in result.error and "after one repair round" in result.error and "\n" not in result.error
    lines = [line for line in cell.markdown.splitlines() if line.startswith("> ⚠")]
    assert len(lines) == 1 and "urgent" in lines[0]
    kimi.server.script(Reply(content=bad), Reply(content=bad))
    cell = typed_cell(kimi, "-f text")
    assert [line for line in cell.stdout.splitlines() if "after one repair round" in line], "plain text says it too"


def test_the_python_face_returns_the_model_instance_or_the_error(kimi):
    kimi.server.script(Reply(content=GOOD))
    result = kimi_lab.ask("Classify: the app crashes", schema=Ticket, show=False)
    assert isinstance(result.data, Ticket) and result.error is None
    kimi.server.script(Reply(content="not json"), Reply(content="still not json"))
    result = kimi_lab.ask("Classify: again", schema=Ticket, show=False)
    assert result.data is None and result.content == "still not json" and "does not match Ticket" in result.error


def test_a_json_schema_dict_gives_the_dict(kimi):
    kimi.server.script(Reply(content='{"city": "Paris", "population": "2.1M"}'),
                       Reply(content='{"city": "Paris", "population": 2100000}'))
    result = kimi_lab.ask("The capital of France and its population?", schema=CITY, show=False)
    assert result.data == {"city": "Paris", "population": 2100000}
    first = kimi.server.chat_requests[0].body
    assert first["response_format"]["json_schema"]["schema"] == CITY
    assert "population" in kimi.server.chat_requests[1].body["messages"][-1]["content"]


@pytest.mark.parametrize("server", [NO_STRUCTURED], indirect=True)
def test_json_mode_where_the_listing_says_the_model_has_no_structured_outputs(kimi, monkeypatch, tmp_path):
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    kimi.server.script(Reply(content=GOOD, dialect="openrouter"))
    cell = typed_cell(kimi, "-p openrouter --tools none")
    assert cell.error is None, cell.stdout
    sent = kimi.server.chat_requests[-1]
    assert sent.body["response_format"] == {"type": "json_object"} and '"category"' in system_of(sent)
    assert kimi.shell.user_ns["t"] == Ticket(category="bug", urgent=True)
    # kimi_lab.map decides the same way (one rule for both)
    monkeypatch.setenv("KIMI_LAB_TRANSCRIPTS", str(tmp_path / "transcripts.sqlite3"))
    kimi.server.script(Reply(content=GOOD, dialect="openrouter"))
    kimi_lab.map("Classify: {}", ["crash"], schema=Ticket, provider="openrouter", confirm=False, progress="none")
    assert kimi.server.chat_requests[-1].body["response_format"] == {"type": "json_object"}


# -- -f / --format ---------------------------------------------------------------------------------------


CODE_ANSWER = "Load it, then plot:\n\n```python\nimport math\n```\n\nand\n\n```python\nroot = math.sqrt(2)\n```\n"


def test_format_code_puts_the_code_in_a_new_cell_below_without_running_it(kimi, monkeypatch):
    inserted: list[tuple[str, bool]] = []
    monkeypatch.setattr(kimi.shell, "set_next_input", lambda text, replace=False: inserted.append((text, replace)))
    kimi.server.script(Reply(content=CODE_ANSWER), Reply(content="print('no fence')"))
    cell = kimi.run("%%kimi -f code\nthe square root of two")
    assert cell.error is None, cell.stdout
    assert inserted == [("import math\n\nroot = math.sqrt(2)", False)]
    assert "root" not in kimi.shell.user_ns, "shown, not run"
    assert "2 code blocks" in cell.stdout and "new cell below (not run)" in cell.stdout
    assert "Load it" in cell.markdown, "the answer itself is shown as usual"
    kimi.run("%kimi --format code print something")
    assert inserted[-1] == ("print('no fence')", False)


@pytest.mark.parametrize("answer, code", [
    ("1. First:\n   ```python\n   x = 1\n   if x:\n       y = 2\n   ```\n", "x = 1\nif x:\n    y = 2"),
    ("````markdown\n```python\nnot the end\n```\n````", "```python\nnot the end\n```"),
    ("~~~\nls -la\n~~~", "ls -la"),
    ("Cut off:\n```python\nx = 1", "x = 1"),
])
def test_format_code_reads_fences_as_markdown_does(answer, code):
    from kimi_lab.faces.ipython.formats import code_blocks

    assert code_blocks(answer) == [code]


def test_format_text_is_plain_text_and_json_is_json_mode(kimi):
    kimi.server.script(Reply(reasoning="Bold it.", content="**bold** answer"))
    cell = kimi.run("%kimi -f text say it")
    assert cell.error is None and "**bold** answer" in cell.stdout
    assert not [d for d in cell.displays if "text/markdown" in d or "text/html" in d], "no Markdown, no HTML"
    kimi.server.script(Reply(content='{"a": 1}'))
    cell = kimi.run("%kimi -f json one key")
    assert kimi.server.chat_requests[-1].body["response_format"] == {"type": "json_object"}
    assert cell.result.data == {"a": 1}


# -- bad input: one line, nothing sent -------------------------------------------------------------------


@pytest.mark.parametrize("cell, message", [
    ("%%kimi --schema Nope\nClassify", "--schema Nope: no variable of that name"),
    ("%%kimi --schema five\nClassify", "schema must be a pydantic model class or a JSON schema"),
    ("%kimi -f yaml hi", "invalid choice: 'yaml'"),
    ("%%kimi --map rows -f code\nSay {}", "--map answers in a DataFrame"),
])
def test_bad_input_is_one_line_and_sends_nothing(kimi, cell, message):
    kimi.shell.user_ns.update(five=5, rows=["a"])
    out = kimi.run(cell)
    assert out.error is not None and message in str(out.error) and "\n" not in str(out.error)
    assert kimi.server.chat_requests == []
