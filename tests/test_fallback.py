"""Falling back across providers (`-p moonshot,openrouter`): two loopback servers, one per dialect, each
enforcing its provider's rules; the user sees who answered and why the others did not."""

from __future__ import annotations

import json
import socket
from typing import Any, Iterator

import pytest

from kimi_lab.core.session import session
from kimi_lab.testing import LoopbackServer, Reply, ToolCall

from .conftest import CANARY_KEY

OR_KEY = "sk-or-v1-canary-0a1b2c3d4e5f60718293"  # OpenRouter's own key: it must never reach Moonshot, nor show
CHAIN = "-p moonshot,openrouter --tools none"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def router(kimi: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """A second provider: OpenRouter in front of Moonshot (a tool-call message without `reasoning_content` is
    refused, as Moonshot refuses it); the `kimi` fixture's server is Moonshot itself."""
    monkeypatch.setenv("OPENROUTER_API_KEY", OR_KEY)
    kimi.config.max_retries = 1
    with LoopbackServer(api_key=OR_KEY, dialect="openrouter", upstream="moonshot") as srv:
        kimi.config.presets = {**kimi.config.presets, "openrouter": {"base_url": srv.base_url}}
        yield srv


def one_line(cell: Any) -> str:
    assert cell.error is not None, cell.stdout
    message = str(cell.error)
    assert "\n" not in message and CANARY_KEY not in message and OR_KEY not in message
    return message


def evaluate(expression: str) -> ToolCall:
    return ToolCall("evaluate", json.dumps({"expression": expression}))


@pytest.mark.parametrize("failure", ["503", "429", "refused", "timeout"])
def test_a_provider_that_fails_before_answering_hands_the_question_to_the_next(
        kimi: Any, router: LoopbackServer, failure: str) -> None:
    if failure == "refused":
        kimi.config.presets = {**kimi.config.presets, "moonshot": {"base_url": f"http://127.0.0.1:{closed_port()}/v1"}}
    elif failure == "timeout":
        kimi.config.timeout = 0.3
        kimi.server.script(Reply(content="too late", first_delay=5))
    else:
        kimi.server.script(*[Reply(status=int(failure), headers={"Retry-After": "0"})] * 2)
    router.script(Reply(reasoning="Routed.", content="answered by the router", dialect="openrouter"))
    cell = kimi.run(f"%kimi {CHAIN} hello")
    assert cell.error is None, cell.stdout
    result, shown = cell.result, cell.text()
    assert result.provider == "openrouter" and result.content == "answered by the router"
    why = {"503": "moonshot: 503 after 1 retry", "429": "moonshot: 429 after 1 retry",
           "refused": "moonshot: cannot reach http://127.0.0.1:",
           "timeout": "moonshot: stopped sending for 0.3 s"}[failure]
    note = next(w for w in result.warnings if w.startswith(why))
    assert note.endswith("; answered by openrouter") and note in cell.markdown
    assert "openrouter via Moonshot AI" in cell.markdown  # the footer
    # OpenRouter got a request built for it: its model id, its reasoning switch, its own key
    sent = router.chat_requests[-1]
    assert sent.body["model"] == "moonshotai/kimi-k2-thinking" and sent.body["reasoning"] == {"enabled": True}
    assert sent.headers["authorization"] == f"Bearer {OR_KEY}"
    assert CANARY_KEY not in shown and OR_KEY not in shown
    assert len(session().conversations.get(result.chat).results) == 1  # one question, one turn in the chat


def test_a_model_the_first_provider_does_not_serve_moves_on_without_taking_m_along(
        kimi: Any, router: LoopbackServer) -> None:
    kimi.server.models = ["kimi-k2.6"]
    router.script(Reply(content="served here", dialect="openrouter"))
    cell = kimi.run(f"%kimi {CHAIN} -m kimi-k2-thinking hello")
    assert cell.error is None, cell.stdout
    assert "moonshot: model 'kimi-k2-thinking' not found (404); answered by openrouter" in cell.result.warnings
    assert router.chat_requests[-1].body["model"] == "moonshotai/kimi-k2-thinking"  # -m was Moonshot's id


def test_a_stream_cut_after_the_answer_began_keeps_the_partial_answer_and_asks_no_one_else(
        kimi: Any, router: LoopbackServer) -> None:
    kimi.server.script(Reply(reasoning="Thinking it through.", content="The first half of the answer",
                             chunk_chars=4, cut_after=8))
    cell = kimi.run(f"%kimi {CHAIN} --out partial hello")
    message = one_line(cell)
    assert "the partial answer is kept" in message and "no provider answered" not in message
    partial = kimi.shell.user_ns["partial"]
    assert partial.provider == "moonshot" and partial.reasoning.startswith("Thinking")
    assert partial.reasoning in cell.text()  # shown above the error
    assert router.chat_requests == []


def test_when_every_provider_fails_one_line_names_each_reason(kimi: Any, router: LoopbackServer) -> None:
    kimi.config.max_retries = 0
    kimi.server.script(Reply(status=503))
    port = closed_port()
    kimi.config.presets = {**kimi.config.presets, "openrouter": {"base_url": f"http://127.0.0.1:{port}/v1"}}
    message = one_line(kimi.run(f"%kimi {CHAIN} hello"))
    assert message.startswith("no provider answered: moonshot: 503 after 0 retries; ")
    assert f"openrouter: cannot reach http://127.0.0.1:{port}/v1" in message and "%kimi doctor" in message


def test_a_refusal_that_another_provider_cannot_fix_stops_the_chain(kimi: Any, router: LoopbackServer) -> None:
    kimi.server.api_key = "rotated"  # Moonshot answers 401: a key to fix, not an outage
    cell = kimi.run(f"%kimi {CHAIN} hello")
    assert "moonshot rejected the API key (401" in one_line(cell) and router.chat_requests == []


def test_a_provider_without_a_key_is_skipped_with_a_note(kimi: Any, router: LoopbackServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOONSHOT_API_KEY")
    router.script(Reply(content="keyed", dialect="openrouter"))
    cell = kimi.run(f"%kimi {CHAIN} hello")
    assert cell.error is None, cell.stdout
    assert cell.result.warnings[0] == "moonshot: no key (set MOONSHOT_API_KEY); answered by openrouter"
    assert kimi.server.chat_requests == []
    monkeypatch.delenv("OPENROUTER_API_KEY")
    message = one_line(kimi.run(f"%kimi {CHAIN} hello"))
    assert message == ("no provider of -p moonshot,openrouter is set up: moonshot: no key (set MOONSHOT_API_KEY); "
                       "openrouter: no key (set OPENROUTER_API_KEY)")


def test_the_generic_key_serves_the_first_provider_only(kimi: Any, router: LoopbackServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY")
    monkeypatch.setenv("KIMI_LAB_API_KEY", CANARY_KEY)
    kimi.server.script(*[Reply(status=503)] * 2)
    message = one_line(kimi.run(f"%kimi {CHAIN} hello"))
    assert "openrouter: no key (set OPENROUTER_API_KEY)" in message and router.chat_requests == []


def tool_turn(dialect: str) -> list[Reply]:
    return [Reply(reasoning="Read x first.", tool_calls=[evaluate("x + 1")], dialect=dialect),
            Reply(reasoning="Done.", content="x + 1 is 42", dialect=dialect)]


@pytest.mark.parametrize("order", ["moonshot,openrouter", "openrouter,moonshot"])
def test_the_next_question_of_a_chat_carries_the_reasoning_where_the_other_dialect_wants_it(
        kimi: Any, router: LoopbackServer, order: str) -> None:
    kimi.shell.user_ns["x"] = 41
    first, second = order.split(",")
    servers = {"moonshot": kimi.server, "openrouter": router}
    dialect = {"moonshot": "moonshot", "openrouter": "openrouter"}
    servers[first].script(*tool_turn(dialect[first]))
    cell = kimi.run(f"%kimi -p {order} --chat mixed --new --tools evaluate what is x + 1?")
    assert cell.error is None and cell.result.provider == first and cell.result.rounds == 2, cell.stdout
    # the first provider is down now: the same chat goes on through the other one, tool history and all
    servers[first].script(*[Reply(status=503)] * 2)
    servers[second].script(Reply(reasoning="Recall.", content="It was 42.", dialect=dialect[second]))
    cell = kimi.run(f"%kimi -p {order} --chat mixed --tools evaluate and again?")
    assert cell.error is None, cell.stdout  # the second server's reasoning-echo rule accepted the history
    assert cell.result.provider == second and cell.result.content == "It was 42."
    history = servers[second].chat_requests[-1].body["messages"]
    call = next(m for m in history if m["role"] == "assistant" and m.get("tool_calls"))
    assert call["reasoning_content"] == "Read x first."
    assert call.get("reasoning") == ("Read x first." if second == "openrouter" else None)


def test_a_single_provider_fails_as_before(kimi: Any, router: LoopbackServer) -> None:
    kimi.config.max_retries = 0
    kimi.server.script(Reply(status=503))
    message = one_line(kimi.run("%kimi -p moonshot --tools none hello"))
    assert message.startswith("moonshot had a server error (503") and router.chat_requests == []
    kimi.server.script(Reply(content="plain"))
    cell = kimi.run("%kimi -p moonshot --tools none hello")
    assert cell.result.content == "plain" and "answered by" not in cell.text()


def test_a_chain_in_the_settings_and_in_the_python_api(kimi: Any, router: LoopbackServer) -> None:
    import kimi_lab

    kimi.config.max_retries = 0
    kimi.config.provider = ["moonshot", "openrouter"]
    kimi.server.script(Reply(status=502))
    router.script(Reply(content="from settings", dialect="openrouter"))
    assert kimi.run("%kimi --tools none hello").result.provider == "openrouter"
    kimi.config.provider = None
    kimi.server.script(Reply(status=500))
    router.script(Reply(content="from python", dialect="openrouter"))
    result = kimi_lab.ask("hello", provider=["moonshot", "openrouter"], tools="none", show=False)
    assert result.provider == "openrouter" and result.warnings[0].startswith("moonshot: 500 after 0 retries")


def test_config_and_doctor_show_the_chain(kimi: Any, router: LoopbackServer,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENROUTER_API_KEY")
    shown = kimi.run("%kimi config -p moonshot,openrouter,local").text()
    assert "moonshot: ready" in shown and "openrouter: skipped: no key (set OPENROUTER_API_KEY)" in shown
    assert "local: skipped: needs a model" in shown
    rows = kimi.run("%kimi doctor -p moonshot,openrouter").result.rows
    chain = " | ".join(rows[0])
    assert chain.startswith("⚠ fallback chain") and "moonshot (ready) → openrouter (skipped: no key" in chain
    assert "the checks below are moonshot's" in chain and rows[1][0] == "✓ API key"
    assert kimi.server.chat_requests == [] and router.requests == []  # nothing asked, nothing listed there


def test_after_a_fallback_usage_keeps_a_known_cost_and_the_transcript_names_who_answered(
        kimi: Any, router: LoopbackServer) -> None:
    """The failed first attempt billed nothing, so the session's cost stays known; and a reopened chat says
    which provider answered, not which one was asked first."""
    from kimi_lab.store.reopen import open_store

    kimi.server.script(*[Reply(status=503, headers={"Retry-After": "0"})] * 2)
    router.script(Reply(reasoning="Routed.", content="answered by the router", dialect="openrouter"))
    assert kimi.run(f"%kimi {CHAIN} --chat fb-usage hello").error is None
    assert "cost unknown" not in kimi.run("%kimi usage").text()
    store = open_store()
    assert store is not None
    assert [(t.provider, t.model) for t in store.turns("fb-usage")] == [("openrouter", "moonshotai/kimi-k2-thinking")]
