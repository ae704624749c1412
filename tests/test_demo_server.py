"""The loopback server's demo mode through the real client: paced reasoning, JSON when asked, tool loops
over live variables, user tools, run_python approval, the CLI flag and the no-key helper."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import openai
import pandas as pd
import pytest

import kimi_lab
from kimi_lab.core.session import session
from kimi_lab.core.turn import parse_json_answer
from kimi_lab.settings.config import KimiLab
from kimi_lab.settings.providers import PRESETS
from kimi_lab.testing import LoopbackServer, start_demo_if_no_key
from kimi_lab.testing import demo as demo_module
from kimi_lab.tools import registry

ROOT = Path(__file__).resolve().parents[1]
SALES = ROOT / "notebooks" / "data" / "sales.csv"
GROWTH_QUESTION = ("Which region grew its revenue fastest from January to June 2026? "
                   "Check the data with your tools before answering.")
_OPEN_CLIENTS: list[openai.OpenAI] = []


@pytest.fixture(autouse=True)
def _clean_registry() -> Iterator[None]:
    registry.clear()
    yield
    registry.clear()


@pytest.fixture(scope="module", autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    for client in _OPEN_CLIENTS:
        client.close()


@pytest.fixture
def demo(clean_env: None) -> Iterator[LoopbackServer]:
    with LoopbackServer(demo=True, tokens_per_second=0) as server:
        yield server


@pytest.fixture
def sales() -> pd.DataFrame:
    return pd.read_csv(SALES, parse_dates=["month"])


def ask(server: LoopbackServer, prompt: str, **options: Any) -> kimi_lab.Result:
    """One question through kimi_lab's own client, with settings nobody else touched."""
    options.setdefault("namespace", {})
    options.setdefault("new", True)
    cfg = KimiLab(timeout=10.0, retry_backoff=0.05)
    return kimi_lab.ask(prompt, base_url=server.base_url, show=False, config=cfg, **options)


def client(server: LoopbackServer) -> openai.OpenAI:
    c = openai.OpenAI(api_key="k", base_url=server.base_url, max_retries=0, timeout=10.0)
    _OPEN_CLIENTS.append(c)
    return c


def assert_reasoning_echoed(server: LoopbackServer) -> None:
    """Every assistant message with tool calls came back with its reasoning (Moonshot rejects it otherwise)."""
    for request in server.chat_requests:
        for message in request.body["messages"]:
            if message["role"] == "assistant" and message.get("tool_calls"):
                assert message.get("reasoning_content"), message


# ------------------------------------------------------------------------------------------------------- pacing


def test_reasoning_streams_before_the_answer_at_the_configured_pace(clean_env):
    tps = 100.0
    with LoopbackServer(demo=True, tokens_per_second=tps) as server:
        started = time.monotonic()
        stream = client(server).chat.completions.create(
            model="kimi-k2-thinking", stream=True,
            messages=[{"role": "user", "content": "In one sentence, why is the sky blue?"}])
        reasoning: list[float] = []
        content: list[float] = []
        for chunk in stream:
            delta = chunk.choices[0].delta if chunk.choices else None
            if delta is None:
                continue
            if (delta.model_extra or {}).get("reasoning_content"):
                reasoning.append(time.monotonic())
            if delta.content:
                content.append(time.monotonic())
        assert reasoning[0] - started >= 0.3, "a short first-token delay, as a thinking model has"
        assert len(reasoning) >= 40 and len(content) >= 20, "small pieces: a token or a word per event"
        assert reasoning[-1] - reasoning[0] >= 0.9 * (len(reasoning) - 1) / tps, "spread over time at the pace"
        assert content[0] > reasoning[-1], "reasoning first, then the answer"

        result = ask(server, "In one sentence, why is the sky blue?")
    assert "Rayleigh" in result.content
    assert result.thinking_time is not None
    assert result.thinking_time >= 0.9 * (len(result.reasoning) / 4 - 1) / tps


def test_no_pacing_when_tokens_per_second_is_zero(demo):
    result = ask(demo, "In one sentence, why is the sky blue?")
    assert result.reasoning and result.thinking_time is not None and result.thinking_time < 1.0


# ---------------------------------------------------------------------------------------------------------- JSON


def test_json_mode_answers_with_the_example_keys(demo):
    result = ask(demo, 'List three cities on the Danube as {"cities": [...]}', json=True)
    assert demo.chat_requests[-1].body["response_format"] == {"type": "json_object"}
    assert json.loads(result.content) == result.data
    assert isinstance(result.data, dict) and set(result.data) == {"cities"}
    assert len(result.data["cities"]) == 3 and "Vienna" in result.data["cities"]
    assert "Danube" in result.reasoning


def test_a_prompt_asking_for_json_gets_json_without_json_mode(demo):
    result = ask(demo, "My scattering measurements were {measurements} and the ratio is {ratio}.\n"
                       'Reply with a JSON object like {"plausible": true, "why": "..."}.',
                 namespace={"measurements": {"noon": 0.31, "sunset": 0.87}, "ratio": 0.87 / 0.31})
    value = parse_json_answer(result.content)
    assert set(value) == {"plausible", "why"}
    assert value["plausible"] is True and isinstance(value["why"], str) and value["why"] != "..."


def test_json_schema_response_format_fills_its_properties(demo):
    schema = {"type": "object", "properties": {"count": {"type": "integer"}, "names": {"type": "array"},
                                               "ok": {"type": "boolean"}}}
    completion = client(demo).chat.completions.create(
        model="kimi-k2-thinking",
        messages=[{"role": "user", "content": "Give me a summary of three names."}],
        response_format={"type": "json_schema", "json_schema": {"name": "summary", "schema": schema}},
    )
    value = json.loads(completion.choices[0].message.content or "")
    assert isinstance(value["count"], int) and isinstance(value["names"], list) and value["ok"] is True


@pytest.mark.parametrize("ticket, category, sentiment", [
    ("I was charged twice this month and nobody answers.", "billing", "negative"),
    ("The app crashes every time I open a report.", "bug", "negative"),
    ("Thanks, the new dashboard is fantastic!", "praise", "positive"),
])
def test_an_enum_property_gets_one_of_its_values_picked_from_the_row(demo, ticket, category, sentiment):
    """A pydantic Literal is an enum in the schema: the demo answers a value it allows (a map over tickets
    validates every row), chosen from the row's own words."""
    schema = {"type": "object", "required": ["category", "sentiment", "summary"], "properties": {
        "category": {"enum": ["billing", "refund", "bug", "login", "praise", "other"], "type": "string"},
        "sentiment": {"enum": ["positive", "neutral", "negative"], "type": "string"},
        "summary": {"type": "string"}}}
    completion = client(demo).chat.completions.create(
        model="kimi-k2-thinking",
        messages=[{"role": "user", "content": f"Classify this support ticket.\n\nTicket: {ticket}\nTier: pro"}],
        response_format={"type": "json_schema", "json_schema": {"name": "Ticket", "schema": schema}},
    )
    value = json.loads(completion.choices[0].message.content or "")
    assert (value["category"], value["sentiment"]) == (category, sentiment)
    assert ticket.split()[0] in value["summary"] and len(value["summary"].split()) <= 9


# ----------------------------------------------------------------------------------------------------- the tools


def test_a_question_naming_a_dataframe_runs_the_data_tools_on_it(demo, sales):
    other = pd.DataFrame({"city": ["a", "b"], "pop": [1, 2]})  # listed first: the named one must win
    result = ask(demo, "Which region has the highest total revenue in sales?",
                 namespace={"other": other, "sales": sales})
    assert [c.name for c in result.tool_calls] == ["list_variables", "describe_variable", "evaluate"]
    assert all(c.error is None for c in result.tool_calls), [c.error for c in result.tool_calls]
    assert result.tool_calls[1].arguments == {"name": "sales"}
    evaluated = str(result.tool_calls[2].result)
    assert "region" in result.tool_calls[2].arguments["expression"]
    figures = re.findall(r"\d+\.\d+", evaluated)
    assert figures and figures[0] in result.content, (evaluated, result.content)
    totals = sales.groupby("region")["revenue"].sum()
    assert f"**{totals.idxmax().capitalize()}**" in result.content
    assert result.reasoning.count("sales") >= 2, "reasoning talks about the actual data"
    assert_reasoning_echoed(demo)


@pytest.mark.parametrize("dialect", ["moonshot", "openrouter", "reasoning", "think", "plain"])
def test_the_tool_loop_works_in_every_dialect(clean_env, sales, dialect):
    with LoopbackServer(demo=True, tokens_per_second=0, dialect=dialect) as server:
        result = ask(server, "Which region has the highest total revenue in sales?", namespace={"sales": sales})
    assert [c.name for c in result.tool_calls] == ["list_variables", "describe_variable", "evaluate"]
    assert all(c.error is None for c in result.tool_calls) and "11282.5" in result.content
    assert bool(result.reasoning) == (dialect != "plain")


@pytest.mark.parametrize(("namespace", "expected"), [
    ({}, "no variables yet"),
    ({"readings": [3, 1, 2]}, "gives **3**"),
])
def test_data_questions_without_a_dataframe(demo, namespace, expected):
    result = ask(demo, "How many values are in my data?", namespace=namespace)
    assert result.tool_calls[0].name == "list_variables" and all(c.error is None for c in result.tool_calls)
    assert expected in result.content, result.content


def test_the_notebook_growth_question_finds_the_fastest_region(demo, sales):
    result = ask(demo, GROWTH_QUESTION, namespace={"sales": sales})
    assert [c.name for c in result.tool_calls] == ["list_variables", "describe_variable", "evaluate"]
    assert all(c.error is None for c in result.tool_calls)
    by = sales.groupby(["region", sales.month.dt.month])["revenue"].sum()
    growth = {r: by[r][6] / by[r][1] - 1 for r in sales.region.unique()}
    best = max(growth, key=growth.__getitem__)
    assert f"{growth[best]:.4f}" in str(result.tool_calls[2].result)
    assert f"{growth[best]:.4f}" in result.content and f"**{best.capitalize()}** grew fastest" in result.content


def _turn(*calls: tuple[str, dict[str, Any], str]) -> list[dict[str, Any]]:
    """A conversation whose current turn already made these calls and got these results back."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "What is the total revenue in `sales`?"}]
    for i, (name, arguments, result) in enumerate(calls):
        messages.append({"role": "assistant", "content": "", "reasoning_content": "next step",
                         "tool_calls": [{"id": f"c{i}", "type": "function",
                                         "function": {"name": name, "arguments": json.dumps(arguments)}}]})
        messages.append({"role": "tool", "tool_call_id": f"c{i}", "content": result})
    return messages


DATA_TOOLS = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
              for n in ("list_variables", "describe_variable", "evaluate")]


def test_an_evaluate_error_is_reported_not_retried(demo, sales):
    from kimi_lab.tools.inspect_vars import describe_variable, list_variables

    ns = {"sales": sales}
    error = '<tool_output id="ab12" name="evaluate" status="error">\nerror: evaluate raised TypeError: boom\n' \
            '</tool_output id="ab12">'
    messages = _turn(("list_variables", {}, list_variables(ns)),
                     ("describe_variable", {"name": "sales"}, describe_variable(ns, "sales")),
                     ("evaluate", {"expression": "sales.x"}, error))
    completion = client(demo).chat.completions.create(model="kimi-k2-thinking", messages=messages,  # type: ignore[arg-type]
                                                      tools=DATA_TOOLS)  # type: ignore[arg-type]
    message = completion.choices[0].message
    assert not message.tool_calls, "an error ends the loop"
    assert "TypeError: boom" in (message.content or "") and "sales.x" in (message.content or "")


def test_a_user_tool_named_in_the_question_is_called_for_each_documented_value(demo, sales):
    @kimi_lab.tool
    def revenue_growth(region: str, start: str = "2026-01", end: str = "2026-06") -> float:
        """Revenue growth of one region between two months, as a fraction (0.25 means +25%).

        Args:
            region: north, south, east or west
            start: first month, YYYY-MM
            end: last month, YYYY-MM
        """
        by_month = sales[sales.region == region].groupby(sales.month.dt.strftime("%Y-%m"))["revenue"].sum()
        return round(float(by_month[end] / by_month[start] - 1), 4)

    result = ask(demo, "Use revenue_growth to compare all four regions, and give me a one-line ranking.",
                 namespace={"sales": sales})
    calls = result.tool_calls
    assert [c.name for c in calls] == ["revenue_growth"] * 4 and all(c.error is None for c in calls)
    assert sorted(c.arguments["region"] for c in calls) == ["east", "north", "south", "west"]
    assert len(demo.chat_requests[0].body["tools"]) == 4
    ranked = sorted(calls, key=lambda c: -c.result)
    line = result.content.splitlines()[0]
    assert [line.index(f"**{c.arguments['region']}**") for c in ranked] == sorted(
        line.index(f"**{c.arguments['region']}**") for c in ranked)
    assert str(ranked[0].result) in result.content
    assert_reasoning_echoed(demo)


def test_a_failing_user_tool_is_mentioned_in_the_answer(demo):
    @kimi_lab.tool
    def exchange_rate(currency: str) -> float:
        """Today's rate of one currency against the euro.

        Args:
            currency: usd or gbp
        """
        raise ValueError(f"no rate for {currency} today")

    result = ask(demo, "Use exchange_rate for usd and gbp.")
    assert [c.arguments for c in result.tool_calls] == [{"currency": "usd"}, {"currency": "gbp"}]
    assert "failed" in result.content and "no rate for usd today" in result.content
    assert result.rounds == 2


def test_run_python_denied_leaves_the_data_alone_and_says_so(demo, sales):
    result = ask(demo, "Add a column with each row's share of its month's revenue.", tools="+code",
                 namespace={"sales": sales}, approve=lambda tool, arguments: "no")
    assert [c.name for c in result.tool_calls] == ["list_variables", "describe_variable", "run_python"]
    assert result.tool_calls[-1].error is not None and "declined" in result.tool_calls[-1].error
    assert "did not run" in result.content and "share" not in sales.columns
    assert 'sales["share"]' in result.content, "the code is offered to run by hand"


def test_run_python_approved_adds_a_correct_column(demo, sales):
    result = ask(demo, "Add a column with each row's share of its month's revenue.", tools="+code",
                 namespace={"sales": sales}, approve=lambda tool, arguments: "yes")
    assert result.tool_calls[-1].name == "run_python" and result.tool_calls[-1].error is None
    assert "share" in sales.columns
    assert sales.groupby("month")["share"].sum().round(9).eq(1).all()
    assert "Done" in result.content


def test_the_tool_loop_is_bounded(demo):
    @kimi_lab.tool
    def probe(n: int) -> int:
        """Always the same.

        Args:
            n: any number
        """
        return n

    # a conversation already six tool rounds deep in this turn: the demo answers instead of calling more
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Use probe on 1."}]
    for i in range(6):
        messages.append({"role": "assistant", "content": "", "reasoning_content": "again",
                         "tool_calls": [{"id": f"c{i}", "type": "function",
                                         "function": {"name": "list_variables", "arguments": "{}"}}]})
        messages.append({"role": "tool", "tool_call_id": f"c{i}", "content": "No user variables yet."})
    completion = client(demo).chat.completions.create(
        model="kimi-k2-thinking", messages=messages,  # type: ignore[arg-type]
        tools=[{"type": "function", "function": {"name": "probe", "parameters": {"type": "object"}}}])
    message = completion.choices[0].message
    assert not message.tool_calls and "stopped after 6 rounds" in (message.content or "")


def test_unknown_questions_get_an_honest_note(demo):
    result = ask(demo, "What's the capital of Peru?")
    assert "demo server" in result.content and "not a model" in result.content and not result.tool_calls


# ------------------------------------------------------------------------------------------------ CLI and default


def test_cli_demo_flag_serves_demo_replies():
    proc = subprocess.Popen(
        [sys.executable, "-m", "kimi_lab.testing.server", "--demo", "--tokens-per-second", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        base_url = proc.stdout.readline().strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        c = openai.OpenAI(api_key="k", base_url=base_url, max_retries=0, timeout=10.0)
        _OPEN_CLIENTS.append(c)
        tools = [{"type": "function", "function": {"name": "list_variables", "parameters": {"type": "object"}}}]
        completion = c.chat.completions.create(
            model="m", tools=tools,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": "What is the average revenue in my data?"}])
        message = completion.choices[0].message
        assert message.tool_calls and message.tool_calls[0].function.name == "list_variables"
        assert message.tool_calls[0].id.startswith("functions.list_variables:")
        assert (message.model_extra or {}).get("reasoning_content")
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=5)
    assert "Warning" not in err and "Traceback" not in err


def test_default_server_still_echoes_even_with_tools(clean_env, sales):
    with LoopbackServer() as server:
        result = ask(server, "Which region has the highest total revenue in sales?", namespace={"sales": sales})
    assert result.content == "Echo: Which region has the highest total revenue in sales?"
    assert not result.tool_calls


def test_negative_pace_is_refused():
    with pytest.raises(ValueError, match="tokens_per_second"):
        LoopbackServer(demo=True, tokens_per_second=-1)


# ---------------------------------------------------------------------------------------------- no-key helper

PROVIDER_VARIABLES = sorted({p.key_env for p in PRESETS.values() if p.key_env}
                            | {"KIMI_LAB_API_KEY", "KIMI_LAB_BASE_URL", "KIMI_LAB_PROVIDER", "KIMI_LAB_MODEL"})


@pytest.fixture
def no_provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No key, base URL or provider anywhere; settings as a fresh kernel has them; no demo running."""
    for name in PROVIDER_VARIABLES:
        monkeypatch.setenv(name, "x")  # recorded, so teardown restores the real state whatever the helper set
        monkeypatch.delenv(name)
    monkeypatch.setattr(session(), "settings", KimiLab())
    monkeypatch.setattr(demo_module, "_running", None)
    yield
    running = demo_module._running
    if running is not None:
        running.stop()


def test_start_demo_if_no_key_starts_one_only_without_a_provider(no_provider, capsys):
    server = start_demo_if_no_key(tokens_per_second=0)
    assert server is not None and server.demo and server.tokens_per_second == 0
    assert os.environ["KIMI_LAB_BASE_URL"] == server.base_url
    assert capsys.readouterr().out.strip() == demo_module.MESSAGE
    assert start_demo_if_no_key() is server, "running the cell again keeps the same demo"
    assert capsys.readouterr().out.strip() == demo_module.MESSAGE
    result = ask(server, 'List three cities on the Danube as {"cities": [...]}', json=True)
    assert "Vienna" in result.data["cities"]


@pytest.mark.parametrize("env", [
    {"MOONSHOT_API_KEY": "sk-test"},
    {"OPENROUTER_API_KEY": "sk-test"},
    {"KIMI_LAB_API_KEY": "sk-test"},
    {"KIMI_LAB_BASE_URL": "http://127.0.0.1:9/v1"},
    {"KIMI_LAB_PROVIDER": "openrouter"},  # set up but missing its key: its own error says more than a demo
])
def test_start_demo_if_no_key_leaves_a_configured_environment_alone(no_provider, monkeypatch, capsys, env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    before = dict(os.environ)
    assert start_demo_if_no_key() is None
    assert dict(os.environ) == before and capsys.readouterr().out == ""


def test_a_provider_in_the_settings_counts_as_set_up(no_provider):
    assert not demo_module.provider_configured()
    assert demo_module.provider_configured(config=KimiLab(base_url="http://127.0.0.1:9/v1"))


def test_the_helper_pace_comes_from_the_environment(no_provider, monkeypatch):
    monkeypatch.setenv("KIMI_LAB_DEMO_TPS", "250")
    server = start_demo_if_no_key()
    assert server is not None and server.tokens_per_second == 250


def test_importing_and_starting_the_demo_imports_nothing_heavy():
    code = (
        "import sys\n"
        "from kimi_lab.testing import start_demo_if_no_key\n"
        "server = start_demo_if_no_key(tokens_per_second=0)\n"
        "assert server is not None\n"
        "server.stop()\n"
        "print([m for m in ('openai', 'pandas', 'numpy') if m in sys.modules])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_VARIABLES}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
