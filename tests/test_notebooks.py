"""The example notebooks run top to bottom against the loopback server, as CI runs them."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

from kimi_lab.settings.providers import PRESETS
from kimi_lab.testing import LoopbackServer, Reply, ToolCall
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
