"""`%kimi fix` / `%kimi explain` on the last error, and `{In[N]}`, `{Out[N]}`, `{Err[N]}`, `{_}` in prompts.

The shell is shared by the tests and its execution counter keeps growing: cell numbers are read from it.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from kimi_lab.core import cell_errors
from kimi_lab.testing import Reply

from .conftest import CANARY_KEY, chat_messages

FRAME = "sales = pd.DataFrame({'region': [f'r{i:05d}' for i in range(10_000)], 'units': range(10_000)})"
FAILING = "per_row = int(sales['units'].sum()) / len(sales[sales['units'] < 0])"
FIXED = "negative = sales[sales['units'] < 0]\nper_row = int(sales['units'].sum()) / max(len(negative), 1)"
SECRET = "sk-live-7Qm2Lx9Pz4Kd8Rt3Wv6Yb1Nc5"


@pytest.fixture
def new_cells(kimi: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bool]]:
    """What the notebook would add below the asking cell."""
    added: list[tuple[str, bool]] = []
    monkeypatch.setattr(kimi.shell, "set_next_input", lambda text, replace=False: added.append((text, replace)))
    return added


def last_prompt(kimi: Any) -> str:
    return str(chat_messages(kimi.server.chat_requests[-1])[-1]["content"])


def fail_on_a_frame(kimi: Any) -> int:
    """A 10,000-row frame, then a cell that divides by zero with it; returns the failing cell's number."""
    assert kimi.run(f"import pandas as pd\n{FRAME}").error is None
    n = kimi.shell.execution_count
    assert isinstance(kimi.run(FAILING).error, ZeroDivisionError)
    return n


def test_fix_sends_the_error_the_cell_and_a_summary_and_puts_the_corrected_cell_below(kimi, new_cells):
    n = fail_on_a_frame(kimi)
    kimi.server.script(Reply(content=f"No row has negative units, so you divide by zero.\n\n```python\n{FIXED}\n```"))
    cell = kimi.run("%kimi fix")
    assert cell.error is None, cell.stdout
    prompt = last_prompt(kimi)
    assert "ZeroDivisionError: division by zero" in prompt
    assert f"Cell [{n}]" in prompt and FAILING in prompt
    assert "sales: DataFrame with 10,000 rows × 2 columns" in prompt
    assert "r09999" not in prompt  # a summary, not the frame: its last row is not sent
    assert len(json.dumps(kimi.server.chat_requests[-1].body)) < 12_000
    assert new_cells == [(FIXED, False)]  # shown below, not run
    assert f"corrected cell [{n}] is in a new cell below, not run" in cell.stdout
    assert "divide by zero" in cell.markdown


def test_explain_answers_and_adds_no_cell(kimi, new_cells):
    fail_on_a_frame(kimi)
    kimi.server.script(Reply(content="You divide by the number of negative rows, which is 0.\n\n```python\nx = 1\n```"))
    cell = kimi.run("%kimi explain")
    assert cell.error is None, cell.stdout
    prompt = last_prompt(kimi)
    assert "Explain what went wrong" in prompt and FAILING in prompt and "ZeroDivisionError" in prompt
    assert new_cells == [] and "new cell" not in cell.stdout
    assert "negative rows" in cell.markdown


def test_no_error_yet_is_one_line_and_nothing_is_sent(kimi, new_cells, monkeypatch):
    monkeypatch.setattr(cell_errors, "_errors", {})  # a fresh kernel: no cell has raised
    for name in ("last_exc", "last_type", "last_value", "last_traceback"):
        monkeypatch.delattr(sys, name, raising=False)
    for task in ("fix", "explain"):
        cell = kimi.run(f"%kimi {task}")
        assert cell.error is None
        assert cell.stdout.strip() == f"no error to {task} yet: " + (
            "when a cell raises, %kimi fix asks for a corrected cell" if task == "fix"
            else "when a cell raises, %kimi explain says why")
    assert kimi.server.chat_requests == [] and new_cells == []


def test_a_secret_typed_in_the_failing_cell_is_not_sent(kimi, new_cells, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_API_KEY", SECRET)
    kimi.run(f'key = "{SECRET}"\nrate = 1 / (len(key) - len(key))')
    kimi.server.script(Reply(content="```python\nrate = 0\n```"))
    cell = kimi.run("%kimi fix")
    assert cell.error is None, cell.stdout
    sent = json.dumps(kimi.server.chat_requests[-1].body)
    assert SECRET not in sent and SECRET[:14] not in sent and SECRET[-14:] not in sent
    assert "rate = 1 / (len(key) - len(key))" in last_prompt(kimi)  # the rest of the cell is there
    assert "left key out of the question: its value looks like a secret" in cell.text()
    assert SECRET not in cell.text()


def test_a_syntax_error_can_be_fixed_too(kimi, new_cells):
    kimi.run("total = sum([1, 2, 3)")
    kimi.server.script(Reply(content="A bracket does not match.\n```python\ntotal = sum([1, 2, 3])\n```"))
    assert kimi.run("%kimi fix").error is None
    assert "SyntaxError" in last_prompt(kimi) and "total = sum([1, 2, 3)" in last_prompt(kimi)
    assert new_cells == [("total = sum([1, 2, 3])", False)]


def test_options_still_apply_and_a_failed_kimi_cell_is_not_the_error_fixed(kimi, new_cells, monkeypatch):
    n = fail_on_a_frame(kimi)
    assert kimi.run("%kimi --temperature 9 hi").error is not None  # kimi_lab's own error, not the notebook's
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    kimi.server.script(Reply(content="```python\nper_row = 0\n```", dialect="openrouter"))
    assert kimi.run("%kimi fix -p openrouter --max-tokens 1234").error is None
    body = kimi.server.chat_requests[-1].body
    assert body["model"] == "moonshotai/kimi-k2-thinking" and body["max_tokens"] == 1234
    assert f"Cell [{n}]" in last_prompt(kimi) and FAILING in last_prompt(kimi)


def test_fix_of_a_named_cell_and_explain_followed_by_words_is_a_question(kimi, new_cells):
    n = fail_on_a_frame(kimi)
    assert kimi.run("x = 1 / 1").error is None
    kimi.server.script(Reply(content="```python\nper_row = 0\n```"))
    kimi.run(f"%kimi fix {n}")
    assert f"Cell [{n}]" in last_prompt(kimi)
    assert kimi.run(f"%kimi fix {n + 1}").stdout.strip() == f"cell [{n + 1}] raised no error that kimi_lab saw"
    kimi.server.script(Reply(content="A decorator wraps a function."))
    kimi.run("%kimi --tools none explain decorators")
    assert last_prompt(kimi) == "explain decorators"


def test_cell_references_are_filled(kimi):
    n = kimi.shell.execution_count
    kimi.run(f"import pandas as pd\n{FRAME}")  # In[n]
    kimi.run("sales")  # Out[n + 1]: a frame
    kimi.run("sales.loc[10_000]")  # Err[n + 2]: a KeyError
    kimi.run("'the last output'")  # `_`
    cell = kimi.run(f"%kimi --tools none Code {{In[{n}]}} gave {{Out[{n + 1}]}}, then {{Err[{n + 2}]}}; {{_}}")
    assert cell.error is None, cell.stdout
    prompt = last_prompt(kimi)
    assert prompt.startswith(f"Code import pandas as pd\n{FRAME} gave DataFrame with 10,000 rows × 2 columns")
    assert "r09999" not in prompt  # the output is summarised like a variable
    assert "KeyError: 10000" in prompt and "sales.loc[10_000]" in prompt
    assert prompt.endswith("; the last output")


def test_missing_references_stay_as_text_with_a_note_and_double_braces_are_literal(kimi):
    n = kimi.shell.execution_count
    kimi.run("quiet = 1")  # a cell with no output and no error
    missing = n + 1_000_000
    cell = kimi.run(f"%kimi --tools none a {{In[{missing}]}} b {{Out[{n}]}} c {{Err[{n}]}} d {{{{In[1]}}}}")
    assert cell.error is None, cell.stdout
    assert last_prompt(kimi) == f"a {{In[{missing}]}} b {{Out[{n}]}} c {{Err[{n}]}} d {{In[1]}}"
    shown = cell.text()
    assert f"left {{In[{missing}]}} as text: there is no cell {missing}" in shown
    assert f"left {{Out[{n}]}} as text: cell {n} has no output" in shown
    assert f"left {{Err[{n}]}} as text: cell {n} raised no error" in shown


def test_secrets_in_inputs_outputs_and_errors_are_not_sent(kimi, monkeypatch):
    monkeypatch.setenv("WAREHOUSE_API_KEY", SECRET)
    n = kimi.shell.execution_count
    kimi.run(f'key = "{SECRET}"\nkey')  # typed, and shown as the output
    kimi.run("raise ValueError(f'the warehouse refused {key}')")
    cell = kimi.run(f"%kimi --tools none {{In[{n}]}} / {{Out[{n}]}} / {{Err[{n + 1}]}}")
    assert cell.error is None, cell.stdout
    sent, prompt = json.dumps(kimi.server.chat_requests[-1].body), last_prompt(kimi)
    assert SECRET not in sent and SECRET[:14] not in sent
    assert prompt.startswith('key = "[redacted]"\nkey / {Out[')
    assert "ValueError: the warehouse refused [redacted]" in prompt
    assert f"left {{Out[{n}]}} as text: its value looks like a secret" in cell.text()
