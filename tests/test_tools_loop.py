"""The tool loop against the loopback server, on live variables in a real IPython shell."""

from __future__ import annotations

import json
import re

import pytest

from kimi_lab.testing import Reply, ToolCall
from kimi_lab.tools import registry

from .conftest import CANARY_KEY, chat_messages

SETUP = """
import pandas as pd
sales = pd.DataFrame({
    "region": ["north", "south", "east", "north", "west", "south", "north"],
    "month": ["jan", "jan", "feb", "feb", "mar", "mar", "mar"],
    "units": [12, 7, 3, 9, 4, 8, 15],
    "price": [2.5, 3.0, 4.0, 2.5, 5.0, 3.0, 2.5],
})
"""


def call(tool_name: str, **arguments) -> ToolCall:
    return ToolCall(tool_name, json.dumps(arguments))


def tool_messages(request) -> list[dict]:
    return [m for m in request.body["messages"] if m["role"] == "tool"]


@pytest.fixture(autouse=True)
def _clean_registry():
    registry.clear()
    yield
    registry.clear()


def test_each_data_tool_sees_the_live_dataframe(kimi):
    kimi.config.update_interval = 0.0  # draw every boundary, so the running card is always drawn
    kimi.run(SETUP)
    kimi.server.script(
        Reply(reasoning="First see what data exists.", tool_calls=[call("list_variables")]),
        Reply(reasoning="Look at sales.", tool_calls=[call("describe_variable", name="sales")]),
        Reply(reasoning="Compute units by region.",
              tool_calls=[call("evaluate", expression='sales.groupby("region")["units"].sum().idxmax()')]),
        Reply(reasoning="north has the most.", content="**north** sells the most units (36)."),
    )
    cell = kimi.run("%kimi which region sells most?")
    assert cell.error is None, cell.stdout
    requests = kimi.server.chat_requests
    assert len(requests) == 4
    listing = tool_messages(requests[1])[0]["content"]
    assert "sales" in listing and "DataFrame" in listing
    described = tool_messages(requests[2])[-1]["content"]
    assert all(col in described for col in ("region", "month", "units", "price"))
    evaluated = tool_messages(requests[3])[-1]["content"]
    assert re.match(r'<tool_output id="[0-9a-f]{16}" name="evaluate" status="ok">\n', evaluated)
    assert "north" in evaluated
    # Every tool-call message of the loop carried its reasoning back (Moonshot answers 400 otherwise).
    assistant = [m for m in requests[3].body["messages"] if m["role"] == "assistant"]
    assert [m["reasoning_content"] for m in assistant] == [
        "First see what data exists.", "Look at sales.", "Compute units by region."]
    result = kimi.shell.user_ns["_"]
    assert [c.name for c in result.tool_calls] == ["list_variables", "describe_variable", "evaluate"]
    assert result.tool_calls[2].arguments == {"expression": 'sales.groupby("region")["units"].sum().idxmax()'}
    assert result.tool_calls[2].result == "north" and result.tool_calls[2].error is None
    assert all(c.duration > 0 for c in result.tool_calls)
    md = cell.markdown
    assert "3 tool calls" in md and "🔧 ✓ evaluate(expression=" in md
    # reasoning segments and tool cards stay in order
    order = [md.index(s) for s in ("First see what", "list_variables()", "Look at sales", "describe_variable(",
                                   "Compute units", "evaluate(")]
    assert order == sorted(order)
    live = [c["data"]["text/html"] for c in cell.updates if "text/html" in c.get("data", {})]
    assert any('class="kimi-lab-tool"' in h and "⏳" in h for h in live), "a running card was shown live"


def test_parallel_calls_run_in_order(kimi):
    kimi.run(SETUP)
    kimi.server.script(
        Reply(reasoning="Two things at once.",
              tool_calls=[call("evaluate", expression="len(sales)"), call("evaluate", expression="sales.units.max()")]),
        Reply(content="7 rows, max 15."),
    )
    assert kimi.run("%kimi size and max?").error is None
    results = tool_messages(kimi.server.chat_requests[1])
    assert ["\n7\n" in results[0]["content"], "\n15\n" in results[1]["content"]] == [True, True]
    ids = [c["id"] for m in kimi.server.chat_requests[1].body["messages"] if m["role"] == "assistant"
           for c in m["tool_calls"]]
    assert [m["tool_call_id"] for m in results] == ids


@pytest.mark.parametrize(
    "bad_call, expected",
    [
        (ToolCall("delete_everything", "{}"), "there is no tool named 'delete_everything'; available:"),
        (ToolCall("describe_variable", '{"name": "sales",}'), "were repaired"),
        (ToolCall("describe_variable", "{name: sales"), "arguments are not valid JSON"),
        (ToolCall("describe_variable", '{"nam": "sales"}'), "invalid arguments for describe_variable"),
        (ToolCall("evaluate", '{"expression": "sales[\\"nope\\"]"}'), "evaluate raised KeyError"),
        (ToolCall("evaluate", '{"expression": "__import__(\\"os\\")"}'), "evaluate raised UnsafeExpression"),
        (ToolCall("run_python", '{"code": "x = 1"}'), "there is no tool named 'run_python'"),
    ],
)
def test_bad_calls_become_results_and_the_loop_goes_on(kimi, bad_call, expected):
    kimi.run(SETUP)
    kimi.server.script(Reply(reasoning="try", tool_calls=[bad_call]), Reply(content="recovered"))
    cell = kimi.run("%kimi go")
    assert cell.error is None, cell.stdout
    content = tool_messages(kimi.server.chat_requests[1])[0]["content"]
    assert expected in content, content
    assert kimi.shell.user_ns["_"].content == "recovered"


def test_tool_timeout_is_reported(kimi):
    import threading

    from kimi_lab.tools import tool

    gate = threading.Event()

    @tool(timeout=0.3)
    def slow_lookup(key: str) -> str:
        """Look a key up in a slow store.

        Args:
            key: what to look up
        """
        gate.wait(5)
        return "late"

    kimi.server.script(Reply(reasoning="r", tool_calls=[call("slow_lookup", key="a")]), Reply(content="ok"))
    cell = kimi.run("%kimi look up a")
    gate.set()
    assert cell.error is None
    content = tool_messages(kimi.server.chat_requests[1])[0]["content"]
    assert 'status="timeout"' in content and "took longer than 0.3 s" in content


def test_run_python_is_off_by_default_and_denied_without_stdin(kimi):
    kimi.run(SETUP)
    kimi.server.script(Reply(reasoning="r", tool_calls=[call("run_python", code="sales['units'] = 0")]),
                       Reply(content="done"))
    cell = kimi.run("%kimi --tools +code zero the units")
    assert cell.error is None
    assert 'status="denied"' in tool_messages(kimi.server.chat_requests[1])[0]["content"]
    assert "no way to ask here" in cell.stdout
    assert kimi.shell.user_ns["sales"]["units"].sum() == 58, "nothing ran"


def test_run_python_runs_after_yes_and_always(kimi, monkeypatch):
    answers = iter(["a"])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    kimi.run(SETUP)
    kimi.server.script(
        Reply(reasoning="r", tool_calls=[
            call("run_python", code="total = int(sales.units.sum())\nprint('sum', total)\ntotal * 2")]),
        Reply(reasoning="again", tool_calls=[call("run_python", code="total + 1")]),
        Reply(content="done"),
    )
    cell = kimi.run("%kimi --tools +code compute")
    assert cell.error is None, cell.stdout
    first, second = (tool_messages(kimi.server.chat_requests[i])[-1]["content"] for i in (1, 2))
    assert "stdout:\nsum 58" in first and "value:\n116" in first
    assert "value:\n59" in second, "'always' did not ask again"
    assert kimi.shell.user_ns["total"] == 58, "the code ran in the user's namespace"
    asking = [c["data"] for c in cell.updates if "kimi-lab-asking" in c.get("data", {}).get("text/html", "")]
    assert asking and all("total = int(sales.units.sum())" in a["text/plain"] for a in asking), \
        "the card showed the code before asking"
    assert "total = int(sales.units.sum())" in asking[0]["text/html"] and "run_python" in asking[0]["text/html"]
    final = cell.markdown
    assert "approved by you for this session · ok" in final, "the saved output records what was decided"
    assert "waiting for your answer" not in final


def test_user_tools_are_live_and_validated(kimi):
    kimi.run(
        "import kimi_lab\n"
        "threshold = 10\n"
        "@kimi_lab.tool\n"
        "def count_above(column: str, minimum: int = 0) -> int:\n"
        "    '''Count rows whose column exceeds max(minimum, threshold).\n\n"
        "    Args:\n        column: a numeric column of sales\n        minimum: lower bound\n    '''\n"
        "    return int((sales[column] > max(minimum, threshold)).sum())\n"
    )
    kimi.run(SETUP)
    kimi.run("threshold = 8")  # changed after registration: the tool sees the live value
    kimi.server.script(Reply(reasoning="r", tool_calls=[call("count_above", column="units", minimum="3")]),
                       Reply(content="ok"))
    assert kimi.run("%kimi how many big orders?").error is None
    schema = next(t for t in kimi.server.chat_requests[0].body["tools"] if t["function"]["name"] == "count_above")
    assert schema["function"]["parameters"]["properties"]["column"]["description"] == "a numeric column of sales"
    assert "\n3\n" in tool_messages(kimi.server.chat_requests[1])[0]["content"]  # 12, 9, 15 > 8
    listing = kimi.run("%kimi tools").text()
    assert "count_above" in listing and "yours" in listing and "runs without asking" in listing


def test_round_limit_keeps_everything_and_the_chat_stays_valid(kimi):
    kimi.run(SETUP)
    kimi.server.script(*[Reply(reasoning=f"step {i}", tool_calls=[call("evaluate", expression=f"{i} + 1")])
                         for i in range(5)])
    cell = kimi.run("%kimi --max-rounds 3 loop")
    assert cell.error is None
    r = kimi.shell.user_ns["_"]
    assert len(r.tool_calls) == 3 and "stopped after 3 tool rounds" in cell.markdown
    assert kimi.server.chat_requests[-1].body["tool_choice"] == "none", "the last round asks for an answer"
    kimi.server.clear()
    kimi.server.script(Reply(content="fine"))
    assert kimi.run("%kimi and now?").error is None, "the history sent next is accepted by the server"
    roles = [m["role"] for m in chat_messages(kimi.server.chat_requests[-1])]
    assert roles == ["user"] + ["assistant", "tool"] * 3 + ["assistant", "user"]


def test_300_rounds(kimi):
    kimi.run(SETUP)
    kimi.config.max_tool_rounds = 300
    kimi.server.script(*[Reply(reasoning=f"r{i}", tool_calls=[call("evaluate", expression=f"{i} * 2")],
                               chunk_chars=64) for i in range(300)],
                       Reply(content="all done", chunk_chars=64))
    cell = kimi.run("%kimi long task")
    assert cell.error is None, cell.stdout[-500:]
    r = kimi.shell.user_ns["_"]
    assert len(r.tool_calls) == 300 and r.content == "all done" and r.rounds == 301
    last = kimi.server.chat_requests[-1]
    assert len(tool_messages(last)) == 300 and "\n598\n" in tool_messages(last)[-1]["content"]


@pytest.mark.parametrize("server", [{"dialect": "openrouter", "require_reasoning_echo": True}], indirect=True)
def test_openrouter_echoes_reasoning_details(kimi, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    kimi.server.script(Reply(reasoning="check", dialect="openrouter", tool_calls=[call("list_variables")]),
                       Reply(content="done", dialect="openrouter"))
    cell = kimi.run("%kimi -p openrouter --chat or look")
    assert cell.error is None, cell.stdout
    assistant = next(m for m in kimi.server.chat_requests[1].body["messages"] if m["role"] == "assistant")
    assert assistant["reasoning"] == "check"
    assert "".join(d["text"] for d in assistant["reasoning_details"]) == "check"


def test_results_are_capped_and_scrubbed(kimi, monkeypatch):
    from kimi_lab.tools import tool

    @tool
    def dump() -> str:
        """Return a very long log that happens to contain the API key."""
        return "start " + "x" * 100_000 + f" key={CANARY_KEY} end"

    kimi.server.script(Reply(reasoning="r", tool_calls=[call("dump")]), Reply(content="ok"))
    assert kimi.run("%kimi read the log").error is None
    content = tool_messages(kimi.server.chat_requests[1])[0]["content"]
    assert "characters cut" in content and re.search(r'end\n</tool_output id="[0-9a-f]{16}">$', content)
    assert CANARY_KEY not in content and len(content) < 17_000


def test_run_python_rich_output_goes_to_the_user_and_a_stand_in_to_the_model(kimi, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt="": "y")
    code = "from IPython.display import HTML, display\ndisplay(HTML('<b>chart here</b>'))\nprint('drawn')"
    kimi.server.script(Reply(reasoning="draw", tool_calls=[call("run_python", code=code)]), Reply(content="done"))
    cell = kimi.run("%kimi --tools +code draw it")
    assert cell.error is None, cell.stdout
    sent = tool_messages(kimi.server.chat_requests[1])[0]["content"]
    assert "shown to the user (not sent to you): text/html" in sent and "chart here" not in sent
    assert "stdout:\ndrawn" in sent
    assert any("<b>chart here</b>" in d.get("text/html", "") for d in cell.displays), "the user saw it"


@pytest.mark.parametrize("where", ["content", "reasoning"])
def test_raw_kimi_markers_leaked_by_a_server_still_make_tool_calls(kimi, where):
    raw = ('<|tool_calls_section_begin|><|tool_call_begin|>functions.evaluate:0<|tool_call_argument_begin|>'
           '{"expression": "6 * 7"}<|tool_call_end|><|tool_calls_section_end|>')
    first = (Reply(reasoning="Compute it.", content="Let me compute." + raw, chunk_chars=5) if where == "content"
             else Reply(reasoning="I will compute." + raw, content="", dialect="reasoning", chunk_chars=5))
    kimi.server.script(first, Reply(content="42", dialect="plain"))
    cell = kimi.run("%kimi --tools data what is 6*7?")
    assert cell.error is None, cell.stdout
    r = kimi.shell.user_ns["_"]
    assert [c.name for c in r.tool_calls] == ["evaluate"] and r.tool_calls[0].result == "42"  # the text the model read
    assert "<|" not in r.content and "<|" not in r.reasoning
    assert r.content == "42"
