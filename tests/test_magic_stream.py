"""%%kimi against the loopback server in every dialect: what the user sees and what was sent."""

from __future__ import annotations

import re

import pytest

from kimi_lab.common.result import Result
from kimi_lab.testing import Reply, Usage

from .conftest import CANARY_KEY, chat_messages

REASONING = "First, recall that 2+2 is basic arithmetic. The sum is 4."
ANSWER = "The answer is **4**.\n\n```python\nprint(2 + 2)\n```"


@pytest.mark.parametrize("dialect", ["moonshot", "openrouter", "reasoning", "think"])
def test_reasoning_and_answer_stream_side_by_side(kimi, dialect):
    kimi.server.script(Reply(reasoning=REASONING, content=ANSWER, dialect=dialect, chunk_chars=5,
                             usage=Usage(1000, 200, cached_tokens=400, reasoning_tokens=120)))
    cell = kimi.run("%%kimi\nWhat is 2+2?")
    assert cell.error is None, cell.stdout
    result = kimi.shell.user_ns["_"]
    assert isinstance(result, Result)
    assert (result.reasoning, result.content) == (REASONING, ANSWER)
    # Live: at least one update showed the reasoning column beside the answer column.
    live = [c["data"]["text/html"] for c in cell.updates if "text/html" in c.get("data", {})]
    answer_started = re.compile(r'class="kimi-lab-answer"[^>]*><pre[^>]*>Th')
    both = [h for h in live if "The sum is 4." in h and answer_started.search(h)]
    assert both and 'class="kimi-lab-reasoning"' in both[0] and 'class="kimi-lab-answer"' in both[0]
    # Final: Markdown answer, reasoning collapsed to a one-line summary, footer with cost.
    md = cell.markdown
    # OpenRouter reports reasoning tokens; otherwise the count is an estimate, marked "~".
    assert "<details><summary>💭 Thought for" in md
    assert ("120 tokens" if dialect == "openrouter" else f"~{len(REASONING) // 4 + 1} tokens") in md
    assert "> First, recall that 2+2" in md
    assert ANSWER in md
    assert "kimi-k2-thinking" in md and "1,000 in / 200 out / 400 cached" in md
    assert result.usage.cached == 400
    # 600 uncached at $0.60, 400 cached at the cache-read price, 200 out at $2.50 per million
    cache_price = 0.06 if dialect == "tera" else 0.15
    assert result.cost == pytest.approx((600 * 0.6 + 400 * cache_price + 200 * 2.5) / 1e6)
    assert "\\\\$0.0009" in md
    assert len(cell.displays) == 1, "the live display is replaced in place, the value is not shown twice"


def test_plain_dialect_has_no_reasoning_block(kimi):
    kimi.server.script(Reply(content="Just the answer.", dialect="plain", usage=Usage(10, 5)))
    cell = kimi.run("%kimi hello")
    assert cell.error is None
    assert "<details>" not in cell.markdown and "Just the answer." in cell.markdown
    assert kimi.shell.user_ns["_"].reasoning == ""


def test_request_carries_defaults_and_key(kimi):
    cell = kimi.run("%kimi ping")
    assert cell.error is None
    req = kimi.server.chat_requests[-1]
    assert req.headers["Authorization"] == f"Bearer {CANARY_KEY}"
    body = req.body
    assert body["model"] == "kimi-k2-thinking"
    assert body["max_tokens"] == 32_768 and body["temperature"] == 1.0 and body["stream"] is True
    assert chat_messages(req) == [{"role": "user", "content": "ping"}]
    assert "top_p" not in body and "reasoning" not in body
    # The read-only data tools are offered by default, with a system note on tool output.
    assert [t["function"]["name"] for t in body["tools"]] == ["list_variables", "describe_variable", "evaluate"]
    assert body["messages"][0]["role"] == "system" and "<tool_output>" in body["messages"][0]["content"]


def test_no_tools_means_no_system_prompt(kimi):
    kimi.run("%kimi --tools none ping")
    body = kimi.server.chat_requests[-1].body
    assert "tools" not in body and body["messages"] == [{"role": "user", "content": "ping"}]


def test_openrouter_asks_for_reasoning(kimi, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", CANARY_KEY)
    kimi.server.script(Reply(reasoning="r", content="a", dialect="openrouter"))
    assert kimi.run("%kimi -p openrouter hi").error is None
    body = kimi.server.chat_requests[-1].body
    assert body["reasoning"] == {"enabled": True}
    assert body["model"] == "moonshotai/kimi-k2-thinking"


def test_tera_caps_max_tokens(kimi, monkeypatch):
    monkeypatch.setenv("TERA_API_KEY", CANARY_KEY)
    assert kimi.run("%kimi -p tera hi").error is None
    assert kimi.server.chat_requests[-1].body["max_tokens"] == 4_096


def test_sampling_options_are_sent(kimi):
    cell = kimi.run('%kimi --temperature 0.3 --top-p 0.9 --seed 7 --stop END --stop "##" --max-tokens 1000 '
                    '--system "Answer in French." -m kimi-k2-thinking-turbo Bonjour')
    assert cell.error is None, cell.stdout
    body = kimi.server.chat_requests[-1].body
    assert (body["temperature"], body["top_p"], body["seed"], body["stop"], body["max_tokens"], body["model"]) == (
        0.3, 0.9, 7, ["END", "##"], 1000, "kimi-k2-thinking-turbo")
    assert body["messages"][0] == {"role": "system", "content": "Answer in French."}


def test_conversation_history_without_old_reasoning(kimi):
    kimi.server.script(Reply(reasoning="think one", content="first answer"),
                       Reply(reasoning="think two", content="second answer"))
    kimi.run("%kimi first question")
    kimi.run("%kimi second question")
    messages = chat_messages(kimi.server.chat_requests[-1])
    assert messages == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
    ]


def test_named_chats_new_and_reset(kimi):
    kimi.run("%kimi --chat a one")
    kimi.run("%kimi --chat b two")
    kimi.run("%kimi --chat a three")
    assert [m["content"] for m in chat_messages(kimi.server.chat_requests[-1])][::2] == ["one", "three"]
    kimi.run("%kimi --chat a --new four")
    assert chat_messages(kimi.server.chat_requests[-1]) == [{"role": "user", "content": "four"}]
    cell = kimi.run("%kimi reset b")
    assert "chat 'b' cleared (2 messages)" in cell.stdout
    kimi.run("%kimi --chat b five")
    assert len(chat_messages(kimi.server.chat_requests[-1])) == 1


def test_history_shows_each_turn(kimi):
    kimi.server.script(Reply(reasoning="because", content="yes"))
    kimi.run("%kimi is it?")
    cell = kimi.run("%kimi history")
    text = cell.text()
    assert "1. You: is it?" in text and "yes" in text and "because" in text


def test_json_mode_parses(kimi):
    kimi.server.script(Reply(content='```json\n{"cities": ["Paris", "Rome"]}\n```'))
    cell = kimi.run("%kimi --json list two cities")
    assert cell.error is None
    assert kimi.server.chat_requests[-1].body["response_format"] == {"type": "json_object"}
    assert kimi.shell.user_ns["_"].data == {"cities": ["Paris", "Rome"]}


def test_json_mode_bad_json_warns_and_keeps_text(kimi):
    kimi.server.script(Reply(content="not json"))
    cell = kimi.run("%kimi --json list")
    assert cell.error is None
    r = kimi.shell.user_ns["_"]
    assert r.data is None and r.content == "not json" and "not valid JSON" in cell.markdown


def test_out_stores_result(kimi):
    kimi.server.script(Reply(content="stored"))
    kimi.run("%kimi --out answer hi")
    assert kimi.shell.user_ns["answer"].content == "stored"
    kimi.server.script(Reply(content="assigned"))
    cell = kimi.run("x = %kimi hi")
    assert kimi.shell.user_ns["x"].content == "assigned"
    assert len(cell.displays) == 1
    shown = kimi.run("x")
    assert "assigned" in shown.text(), "a stored result displays normally in a later cell"


def test_no_reasoning_hides_but_records(kimi):
    kimi.server.script(Reply(reasoning="secret plan", content="done"))
    cell = kimi.run("%kimi --no-reasoning go")
    assert "secret plan" not in cell.text()
    assert kimi.shell.user_ns["_"].reasoning == "secret plan"


def test_interpolation_of_dataframe_keeps_json_braces(kimi):
    kimi.run("import pandas as pd\nsales = pd.DataFrame({'region': ['north', 'south'], 'total': [10, 20]})")
    kimi.run('%%kimi\nSummarise {sales} as {"region": total}')
    sent = kimi.server.chat_requests[-1].body["messages"][-1]["content"]
    assert "DataFrame with 2 rows × 2 columns" in sent and "north" in sent
    assert sent.rstrip().endswith('as {"region": total}')


def test_plain_text_form_has_reasoning_and_answer(kimi):
    kimi.server.script(Reply(reasoning="why", content="what", usage=Usage(3, 4)))
    kimi.run("%kimi q")
    text = str(kimi.shell.user_ns["_"])
    assert "── reasoning" in text and "why" in text and "── answer ──\nwhat" in text and "3 in / 4 out" in text


def test_usage_and_providers_reports(kimi):
    kimi.server.script(Reply(content="a", usage=Usage(100, 50)), Reply(content="b", usage=Usage(200, 50)))
    kimi.run("%kimi one")
    kimi.run("%kimi two")
    usage = kimi.run("%kimi usage").text()
    assert "300" in usage and "100" in usage and "requests" in usage
    providers = kimi.run("%kimi providers").text()
    assert "MOONSHOT_API_KEY ✓ set" in providers and "OPENROUTER_API_KEY ✗ not set" in providers
    assert CANARY_KEY not in providers
    config = kimi.run("%kimi config").text()
    assert "from MOONSHOT_API_KEY" in config and CANARY_KEY not in config


def test_terminal_view_streams_text(kimi):
    kimi.config.display = "text"
    kimi.server.script(Reply(reasoning="hmm", content="plain answer", usage=Usage(5, 6)))
    cell = kimi.run("%kimi q")
    assert "hmm" in cell.stdout and "plain answer" in cell.stdout and "5 in / 6 out" in cell.stdout
    assert cell.stdout.count("plain answer") == 1


def test_updates_are_throttled(kimi):
    kimi.server.script(Reply(content="x" * 20_000, chunk_chars=1))
    cell = kimi.run("%kimi flood")
    assert cell.error is None
    result = kimi.shell.user_ns["_"]
    updates = len(cell.updates)
    # at most one per interval plus the boundaries (first token, answer start, final)
    assert updates <= result.elapsed / kimi.config.update_interval + 4, (updates, result.elapsed)


def test_question_mark_is_a_question_not_help(kimi):
    cell = kimi.run("%kimi why is the sky blue?")
    assert cell.error is None
    assert kimi.server.chat_requests[-1].body["messages"][-1]["content"] == "why is the sky blue?"
