"""The example notebooks run top to bottom against the loopback server, as CI runs them."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from kimi_lab.settings.providers import PRESETS
from kimi_lab.testing import LoopbackServer, RecordedRequest, Reply, ToolCall
from kimi_lab.testing.demo import MESSAGE as DEMO_MESSAGE

from .conftest import CANARY_KEY

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
pytestmark = pytest.mark.kernel


def execute(name: str, monkeypatch: pytest.MonkeyPatch, server: LoopbackServer,
            key_env: str = "KIMI_LAB_API_KEY", then: tuple[str, ...] = ()) -> nbformat.NotebookNode:
    """Run a notebook with one provider key set; the endpoint is the loopback server (KIMI_LAB_BASE_URL
    redirects the preset the key selects, as a user would only with a proxy). `then`: code cells the test
    appends, to read what the notebook left in its kernel."""
    for name_ in ("KIMI_LAB_API_KEY", "MOONSHOT_API_KEY", "OPENROUTER_API_KEY", "KIMI_LAB_PROVIDER"):
        monkeypatch.delenv(name_, raising=False)
    monkeypatch.setenv("KIMI_LAB_BASE_URL", server.base_url)
    monkeypatch.setenv(key_env, CANARY_KEY)
    if key_env != "KIMI_LAB_API_KEY":  # only that provider's key: the preset it selects, not `custom`
        monkeypatch.setenv("KIMI_LAB_PROVIDER", key_env.split("_")[0].lower())
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nb.cells.extend(nbformat.v4.new_code_cell(source) for source in then)
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def code_cells(nb: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """Code cells by their first line."""
    return {c.source.splitlines()[0]: c for c in nb.cells if c.cell_type == "code"}


def outputs_text(cell: nbformat.NotebookNode) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.extend(str(v) for v in out.get("data", {}).values())
    return "\n".join(parts)


def test_quickstart(monkeypatch, server):
    nb = execute("01-quickstart.ipynb", monkeypatch, server)
    by_source = code_cells(nb)
    assert outputs_text(by_source["from kimi_lab.testing import start_demo_if_no_key"]) == "", "a key: no demo"
    sky = outputs_text(by_source["%kimi In one sentence, why is the sky blue?"])
    assert "Echo: In one sentence, why is the sky blue?" in sky and "Thought for" in sky
    physics = outputs_text(by_source["%%kimi --chat physics"])
    assert "'noon': 0.31" in physics and "2.80" in physics, "variables were interpolated"
    assert "kimi-k2-thinking custom stop" in outputs_text(by_source["r = _"]), "_ is the last Result"
    assert "requests" in outputs_text(by_source["%kimi usage"])
    assert "Echo: Name one prime" in outputs_text(by_source["import kimi_lab"])
    assert CANARY_KEY not in nbformat.writes(nb)
    sent = [r.body["messages"][-1]["content"] for r in server.chat_requests]
    assert any("Now explain it to a ten-year-old" in s for s in sent)


# Where notebook 02 runs: any OpenAI-compatible server with KIMI_LAB_API_KEY; OpenRouter routing to Moonshot with
# only OPENROUTER_API_KEY; Moonshot's own API in 2026 (K2 Thinking retired, per-model rules) with only
# MOONSHOT_API_KEY. Each server enforces what that provider enforces (kimi_lab/testing/_providers.py).
WORLDS = {
    "custom": ({}, "KIMI_LAB_API_KEY", "moonshot"),
    "openrouter-only": ({"dialect": "openrouter", "upstream": "moonshot", "model_rules": True,
                         "models": ["moonshotai/kimi-k2-thinking"]}, "OPENROUTER_API_KEY", "openrouter"),
    "moonshot-only": ({"dialect": "moonshot", "model_rules": True, "models": ["kimi-k2.6", "kimi-k3"]},
                      "MOONSHOT_API_KEY", "moonshot"),
}


@pytest.mark.parametrize("world", list(WORLDS))
def test_dataframe_analysis(monkeypatch, world):
    options, key_env, dialect = WORLDS[world]
    with LoopbackServer(api_key=CANARY_KEY, **options) as server:
        check_dataframe_analysis(monkeypatch, server, key_env, dialect)


def check_dataframe_analysis(monkeypatch: pytest.MonkeyPatch, server: LoopbackServer, key_env: str,
                             dialect: str) -> None:

    sales = pd.read_csv(NOTEBOOKS / "data" / "sales.csv")
    by = sales.groupby(["region", "month"]).revenue.sum()
    growth = {r: round(float(by[r]["2026-06"] / by[r]["2026-01"] - 1), 4) for r in ("north", "south", "east", "west")}
    expression = ('(sales[sales.month == "2026-06-01"].groupby("region").revenue.sum() / '
                  'sales[sales.month == "2026-01-01"].groupby("region").revenue.sum() - 1).round(4)')
    server.script(*(replace(reply, dialect=dialect) for reply in (
        Reply(reasoning="Let me see what is loaded.", tool_calls=[ToolCall("list_variables", "{}")]),
        Reply(reasoning="Inspect sales.", tool_calls=[ToolCall("describe_variable", '{"name": "sales"}')]),
        Reply(reasoning="", tool_calls=[ToolCall("evaluate", json.dumps({"expression": expression}))]),
        Reply(reasoning="West is highest.", content="**West** grew fastest."),
        Reply(reasoning="Call it for each region.",
              tool_calls=[ToolCall("revenue_growth", json.dumps({"region": r})) for r in growth]),
        Reply(content="west > south > north > east"),
        Reply(reasoning="I need to run code.",
              tool_calls=[ToolCall("run_python", json.dumps({"code": "sales['share'] = 1"}))]),
        Reply(content="I was not allowed to run it."),
    )))
    nb = execute("02-dataframe-analysis.ipynb", monkeypatch, server, key_env)
    requests = server.chat_requests
    assert len(requests) == 8

    def tool_results(i: int) -> list[str]:
        return [m["content"] for m in requests[i].body["messages"] if m["role"] == "tool"]

    assert "sales" in tool_results(1)[0] and "DataFrame" in tool_results(1)[0]
    assert all(c in tool_results(2)[-1] for c in ("month", "region", "product", "units", "revenue"))
    evaluated = tool_results(3)[-1]
    assert 'status="ok"' in evaluated and str(growth["west"]) in evaluated, evaluated
    computed = tool_results(5)[-4:]
    assert [str(growth[r]) in c for r, c in zip(growth, computed, strict=True)] == [True] * 4
    assert 'status="denied"' in tool_results(7)[-1]
    code = code_cells(nb)
    assert outputs_text(code["from kimi_lab.testing import start_demo_if_no_key"]) == "", "a key: no demo"
    listing = outputs_text(code["%kimi tools"])
    assert "evaluate" in listing and "runs without asking" in listing
    calls = outputs_text(code["for call in _.tool_calls:"])
    assert "list_variables" in calls and "evaluate" in calls and "error=None" in calls
    assert "False" in outputs_text(code['"share" in sales.columns  # False unless you allowed the code to run']), \
        "the denied code did not run"


# Every variable that can select a provider: with none set, the notebooks' first cell starts the demo server.
PROVIDER_VARIABLES = sorted({p.key_env for p in PRESETS.values() if p.key_env}
                            | {"KIMI_LAB_API_KEY", "KIMI_LAB_BASE_URL", "KIMI_LAB_PROVIDER", "KIMI_LAB_MODEL"})


def execute_without_key(name: str, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    for variable in PROVIDER_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("KIMI_LAB_DEMO_TPS", "0")  # the demo's pace: none, so the test stays fast
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return nb


def errors(nb: nbformat.NotebookNode, allowed: tuple[str, ...] = ()) -> list[str]:
    return [f"{c.source.splitlines()[0]}: {o.get('ename')}: {o.get('evalue')}"
            for c in nb.cells if c.cell_type == "code" and c.source.splitlines()[0] not in allowed
            for o in c.get("outputs", []) if o.get("output_type") == "error"]


def shown(cell: nbformat.NotebookNode, text: str) -> int:
    """In how many of the cell's outputs `text` appears (each output counted once, whatever its mime types)."""
    return sum(text in outputs_text({"outputs": [out]}) for out in cell.get("outputs", []))


def test_notebooks_run_on_the_demo_without_a_key(monkeypatch, tmp_path):
    quickstart = execute_without_key("01-quickstart.ipynb", monkeypatch)
    assert errors(quickstart) == []
    code = code_cells(quickstart)
    assert outputs_text(code["from kimi_lab.testing import start_demo_if_no_key"]).strip() == DEMO_MESSAGE
    sky = outputs_text(code["%kimi In one sentence, why is the sky blue?"])
    assert "Rayleigh" in sky and "Thought for" in sky and "Echo:" not in sky
    assert '"plausible": true' in outputs_text(code["%%kimi --chat physics"])
    data = outputs_text(code["cities.data"]).strip()
    assert data.startswith("{'cities': [") and "'Vienna'" in data, data
    last = code["import kimi_lab"]
    assert shown(last, "is a prime number above 100") == 1, "the answer is shown once"

    # The run_python cell is the one place a demo turn could end in an error: nobody can approve in CI.
    analysis = execute_without_key("02-dataframe-analysis.ipynb", monkeypatch)
    assert errors(analysis, allowed=("%%kimi --tools +code",)) == []
    code = code_cells(analysis)
    assert outputs_text(code["from kimi_lab.testing import start_demo_if_no_key"]).strip() == DEMO_MESSAGE
    question = outputs_text(code["%%kimi --new"])
    assert "describe_variable" in question and "**West** grew fastest" in question
    calls = outputs_text(code["for call in _.tool_calls:"])
    for name in ("list_variables(", "describe_variable(", "evaluate("):
        assert name in calls, calls
    assert calls.count("error=None") == 3, calls
    ranking = outputs_text(code["%%kimi"])
    assert ranking.count('revenue_growth(region="') >= 4 and "Ranking: **west**" in ranking
    assert "did not run" in outputs_text(code["%%kimi --tools +code"])
    assert "False" in outputs_text(code['"share" in sales.columns  # False unless you allowed the code to run'])

    # kimi_lab.map, its checkpoint in this test's own folder so that every row is asked.
    monkeypatch.setenv("KIMI_LAB_TRANSCRIPTS", str(tmp_path / "transcripts.sqlite3"))
    mapping = execute_without_key("03-map-over-a-dataframe.ipynb", monkeypatch)
    assert errors(mapping) == []
    code = code_cells(mapping)
    assert outputs_text(code["from kimi_lab.testing import start_demo_if_no_key"]).strip() == DEMO_MESSAGE
    assert "40 to ask of 40 rows (0 answered before)" in outputs_text(code[f"out = {MAP})"])
    assert "Empty DataFrame" in outputs_text(code["out[out.error.notna()]"]), "no row failed"
    assert "0 to ask of 40 rows (40 answered before)" in outputs_text(code[f"again = {MAP})"])

    # Notebook 04: every cell runs on the demo but the one that raises on purpose; the replay gives the same answer.
    workflows = execute_without_key_in(workflows_folder(tmp_path), WORKFLOWS, monkeypatch)
    assert errors(workflows, allowed=(FAILING_CELL,)) == []
    code = code_cells(workflows)
    assert outputs_text(code["from kimi_lab.testing import start_demo_if_no_key"]).strip() == DEMO_MESSAGE
    assert [o.ename for o in code[FAILING_CELL].outputs if o.output_type == "error"] == ["KeyError"]
    assert re.fullmatch(TYPED, outputs_text(code["check"]).strip()), outputs_text(code["check"])
    assert "-f code: " in outputs_text(code["%%kimi -f code"])
    assert "new cell below" in outputs_text(code["%kimi fix"]) or "no cell was added" in outputs_text(code["%kimi fix"])
    assert "· cached: " in outputs_text(code[REPLAYED])
    assert "the same answer: True" in outputs_text(code[SAME])


# Notebook 03: kimi_lab.map over 40 tickets, on the demo server (as a notebook's first cell starts it, without
# its pace), which answers in the shape the response format's json_schema asks for.
TICKET_FIELDS = {
    "category": {"billing", "refund", "bug", "login", "feature_request", "praise", "other"},
    "sentiment": {"positive", "neutral", "negative"},
}
MAP = "kimi_lab.map(question, tickets.head(40), schema=Ticket, concurrency=8"  # the cells' first lines
DUMP_OUT = 'print(out.to_json(orient="split"))'


@pytest.fixture
def demo_server() -> Iterator[LoopbackServer]:
    with LoopbackServer(api_key=CANARY_KEY, demo=True, tokens_per_second=0) as srv:
        yield srv


def test_map_notebook(monkeypatch, tmp_path, demo_server):
    monkeypatch.setenv("KIMI_LAB_TRANSCRIPTS", str(tmp_path / "transcripts.sqlite3"))  # the checkpoint goes beside it
    nb = execute("03-map-over-a-dataframe.ipynb", monkeypatch, demo_server, then=(DUMP_OUT,))
    assert errors(nb) == []
    code = code_cells(nb)
    assert outputs_text(code["from kimi_lab.testing import start_demo_if_no_key"]) == "", "a key: no demo"
    estimate = outputs_text(code[f"{MAP}, dry_run=True)"])
    for shown_ in ("dry run: nothing sent", "rows: 40; to ask: 40; already answered (checkpoint): 0", "input: about",
                   "cost:", "admission: concurrency 8", "time: at most"):
        assert shown_ in estimate, estimate

    dumped = json.loads(outputs_text(code[DUMP_OUT]))
    out = pd.DataFrame(dumped["data"], index=dumped["index"], columns=dumped["columns"])
    tickets = pd.read_csv(NOTEBOOKS / "data" / "support_tickets.csv", index_col="ticket_id").head(40)
    assert list(out.index) == list(tickets.index), "aligned with the input's index"
    assert out.error.isna().all(), out.error.dropna().unique()[:3]
    for column, allowed in TICKET_FIELDS.items():
        assert set(out[column]) <= allowed, (column, set(out[column]) - allowed)
    assert out.summary.map(lambda s: isinstance(s, str) and s.strip() != "").all()
    assert "Empty DataFrame" in outputs_text(code["out[out.error.notna()]"]), "the failed rows: none"
    assert (out.tokens_in > 0).all() and (out.tokens_out > 0).all()
    assert "40 to ask of 40 rows (0 answered before)" in outputs_text(code[f"out = {MAP})"])
    counts = outputs_text(code["labelled.category.value_counts()"]).strip().splitlines()
    assert dict(line.rsplit(None, 1) for line in counts[1:-1]) == {
        str(k): str(n) for k, n in out.category.value_counts().items()}, counts

    trace = outputs_text(code["out.kimi.trace(out.index[0])"])
    assert "Thought for" in trace and "The user wants JSON with the keys" in trace, "the reasoning"
    first = out.iloc[0]
    assert f'"category": "{first.category}"' in trace and f'"sentiment": "{first.sentiment}"' in trace, "the answer"

    # One request a row: the dry run sent nothing; rerunning the call, and the cell form, asked nothing.
    rerun = code[f"again = {MAP})"]
    assert "0 to ask of 40 rows (40 answered before)" in outputs_text(rerun) and "True" in outputs_text(rerun)
    cell_form = outputs_text(code["%%kimi --map first_40 --schema Ticket --concurrency 8 --out labels"])
    assert "0 to ask of 40 rows (40 answered before)" in cell_form, "the cell asks the call's question: all answered"
    assert "True" in outputs_text(code["labels.equals(out)"])
    requests = demo_server.chat_requests
    assert len(requests) == 40, len(requests)
    sent = [r.body["messages"][-1]["content"] for r in requests]
    for text, tier in zip(tickets.text, tickets.tier, strict=True):
        assert sum(f"Ticket: {text}\n" in s and f"Customer tier: {tier}" in s for s in sent) == 1, text
    assert all(r.body["response_format"]["type"] == "json_schema" for r in requests)
    assert (tmp_path / "map.sqlite3").exists(), "the checkpoint is beside the transcripts file"
    assert CANARY_KEY not in nbformat.writes(nb)


# Notebook 04: a typed answer, -f code, %kimi fix, --file and the replay cache, on the demo server, with the code
# a model would write scripted for the two cells that turn an answer into a cell. The replay runs with the server
# stopped: nothing can be sent.
WORKFLOWS = "04-notebook-workflows.ipynb"
FAILING_CELL = '# raises on purpose: the column is "region", not "regio"'
REPLAY_MODE = '%config KimiLab.cache = "replay"'
RECORDED, REPLAYED = "%%kimi --new --chat replay --out _recorded", "%%kimi --new --chat replay --out replayed"
SAME = 'print("the same answer:", replayed.content == _recorded.content)'
TYPED = (r"RegionCheck\(region='(north|south|east|west)', best_product='(widget|gadget|gizmo)', "
         r"reason='[^']+'\)")
GROWTH = ('def monthly_growth(df, region):\n'
          '    by_month = df[df["region"] == region].groupby("month")["revenue"].sum()\n'
          '    return by_month.pct_change()')
FIXED = 'sales.groupby("region").units.sum()'
SCRIPTED = {  # the cell, and the answer the server gives its first request
    "%%kimi -f code": Reply(reasoning="Filter the region, sum by month, then pct_change.",
                            content=f"Sum the region's revenue by month, then the change:\n\n```python\n{GROWTH}\n```"),
    "%kimi fix": Reply(reasoning="A typo in the column name.",
                       content=f"`sales` has no column `regio`; it is `region`.\n\n```python\n{FIXED}\n```"),
}


def workflows_folder(tmp_path: Path) -> Path:
    """A copy of the notebooks' data for notebook 04 to run beside: its cache export goes there, not into the
    repository."""
    folder = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS / "data", folder / "data")
    return folder


def execute_without_key_in(folder: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    """execute_without_key, the kernel started in `folder`."""
    for variable in PROVIDER_VARIABLES:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("KIMI_LAB_DEMO_TPS", "0")
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return nb


def question(request: RecordedRequest) -> str:
    """The question a chat request asks: its last user message (a tool round's too)."""
    return str([m for m in request.body["messages"] if m["role"] == "user"][-1]["content"])


def asked(server: LoopbackServer, start: str) -> list[RecordedRequest]:
    """The chat requests whose question starts with `start`, tool rounds included."""
    return [r for r in server.chat_requests if question(r).startswith(start)]


def answer_text(cell: nbformat.NotebookNode) -> str:
    """The answer as its text/plain form shows it, between the reasoning and the footer."""
    plain = "\n".join(out["data"]["text/plain"] for out in cell.outputs if "── answer ──" in
                      out.get("data", {}).get("text/plain", ""))
    return plain.split("── answer ──\n", 1)[1].split("\n── ", 1)[0]


def test_workflows_notebook(monkeypatch, tmp_path, demo_server):
    folder = workflows_folder(tmp_path)
    monkeypatch.setenv("KIMI_LAB_TRANSCRIPTS", str(tmp_path / "transcripts.sqlite3"))  # the replay cache is in it
    for name_ in ("KIMI_LAB_API_KEY", "MOONSHOT_API_KEY", "OPENROUTER_API_KEY", "KIMI_LAB_PROVIDER"):
        monkeypatch.delenv(name_, raising=False)
    monkeypatch.setenv("KIMI_LAB_BASE_URL", demo_server.base_url)
    monkeypatch.setenv("KIMI_LAB_API_KEY", CANARY_KEY)
    nb = nbformat.read(NOTEBOOKS / WORKFLOWS, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('print("monthly_growth" in globals(), "sales" in globals())'))
    payloads: dict[int, list[dict]] = {}  # what each cell's execute reply carried: set_next_input, for a new cell

    def record_payload(cell: nbformat.NotebookNode, cell_index: int, execute_reply: dict) -> None:
        payloads[cell_index] = execute_reply["content"].get("payload", [])

    # One kernel, cell by cell, as Run All does; the server is stopped before the replay cells run.
    client = NotebookClient(nb, timeout=60, kernel_name="python3", resources={"metadata": {"path": str(folder)}},
                            on_cell_executed=record_payload)
    sent_before_replay = -1
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            first = cell.source.splitlines()[0] if cell.source else ""
            if cell.cell_type == "code" and first in SCRIPTED:
                demo_server.script(SCRIPTED[first])
            if first == REPLAY_MODE:
                sent_before_replay = len(demo_server.requests)
                demo_server.stop()
            client.execute_cell(cell, index)  # an error raises here, but in the cell tagged raises-exception
    assert sent_before_replay > 0, "the replay cells ran"
    assert errors(nb, allowed=(FAILING_CELL,)) == []
    code = code_cells(nb)
    at = {c.source.splitlines()[0]: i for i, c in enumerate(nb.cells) if c.cell_type == "code"}
    assert outputs_text(code["from kimi_lab.testing import start_demo_if_no_key"]) == "", "a key: no demo"

    # A typed answer: the schema went out as the response format; `check` is a RegionCheck instance.
    typed, = asked(demo_server, "Which region of ")
    assert typed.body["response_format"]["type"] == "json_schema"
    assert set(typed.body["response_format"]["json_schema"]["schema"]["properties"]) == {
        "region", "best_product", "reason"}
    assert re.fullmatch(TYPED, outputs_text(code["check"]).strip()), outputs_text(code["check"])

    # -f code: the answer's code block is the new cell's text, shown and not run.
    assert payloads[at["%%kimi -f code"]] == [{"source": "set_next_input", "text": GROWTH, "replace": False}]
    assert "-f code: its code block is in a new cell below (not run)" in outputs_text(code["%%kimi -f code"])
    assert "Sum the region's revenue by month" in answer_text(code["%%kimi -f code"]), "the answer is shown too"
    assert outputs_text(nb.cells[-1]).strip() == "False True", "monthly_growth was not run"

    # %kimi fix: the failing cell's source, its KeyError and a summary of `sales` went out; the fix is the new cell.
    failing = code[FAILING_CELL]
    assert [o.ename for o in failing.outputs if o.output_type == "error"] == ["KeyError"]
    fix, = asked(demo_server, "A cell of my Jupyter notebook raised the error below.")
    prompt = question(fix)
    assert f"Cell [{failing.execution_count}]" in prompt and 'sales.groupby("regio").units.sum()' in prompt
    assert "Traceback" in prompt and "KeyError: 'regio'" in prompt, prompt
    assert "sales: DataFrame with 72 rows" in prompt, prompt
    assert payloads[at["%kimi fix"]] == [{"source": "set_next_input", "text": FIXED, "replace": False}]
    assert (f"the corrected cell [{failing.execution_count}] is in a new cell below, not run"
            in outputs_text(code["%kimi fix"]))

    # --file: the notes went out whole, named.
    notes = (NOTEBOOKS / "data" / "notes.md").read_text()
    filed = asked(demo_server, "Answer the open questions in these notes")
    assert filed and "File `notes.md`" in question(filed[0]) and notes.strip() in question(filed[0])

    # The replay cache: recorded in "use" mode (each call of the tool loop), exported beside the notebook, then
    # the same question answered with the server stopped: nothing sent, the same answer.
    recorded = asked(demo_server, "Which region sold the most units in total?")
    calls = len(recorded)
    assert calls >= 2 and any(m["role"] == "tool" for m in recorded[-1].body["messages"]), "a tool loop"
    units = pd.read_csv(NOTEBOOKS / "data" / "sales.csv").groupby("region").units.sum()
    first_answer = answer_text(code[RECORDED])
    assert f"**{units.idxmax().capitalize()}**" in first_answer and str(units.max()) in first_answer, first_answer
    cache_file = "data/04-notebook-workflows.cache.jsonl"  # as the cells name it
    exported = folder / cache_file
    assert f"exported {calls} entries" in outputs_text(code[f"%kimi cache export {cache_file}"])
    assert exported.exists() and not (NOTEBOOKS / cache_file).exists(), "beside the notebook that ran"
    assert f"({calls} entries already here)" in outputs_text(code[f"%kimi cache import {cache_file}"])
    # the port is closed: a request would have failed the replay cell with "cannot reach", not gone unrecorded
    assert len(demo_server.requests) == sent_before_replay, "a request after the server stopped"
    assert answer_text(code[REPLAYED]) == first_answer
    assert "· cached: " in outputs_text(code[REPLAYED]) and "· cached: " not in outputs_text(code[RECORDED])
    same = outputs_text(code[SAME])
    assert "the same answer: True" in same and f"model calls answered from the cache: {calls} ; cost: 0" in same, same
    assert CANARY_KEY not in nbformat.writes(nb) and CANARY_KEY not in exported.read_text()
