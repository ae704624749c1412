"""Every turn is recorded to the transcripts file as it streams; chats can be exported and reopened."""

from __future__ import annotations

from kimi_lab.core.session import session
from kimi_lab.store.recorder import recorder
from kimi_lab.testing import Reply

from .conftest import chat_messages


def test_turn_is_recorded_with_its_events(kimi):
    kimi.server.script(Reply(reasoning="Recall the facts.", content="Paris is the capital."))
    assert kimi.run("%kimi --chat rec-a --tools none capital of France?").error is None
    rec = recorder()
    assert rec is not None and rec.flush()
    turns = rec.store.turns("rec-a")
    assert len(turns) == 1 and turns[-1].prompt == "capital of France?" and not turns[-1].interrupted
    text = "".join(getattr(e, "text", "") for e in turns[-1].events if e.type == "content")
    assert text == "Paris is the capital."
    assert turns[-1].summary["content"] == "Paris is the capital."
    exported = kimi.run("%kimi export rec-a").text()
    assert "capital of France?" in exported and "Paris is the capital." in exported and "Recall the facts." in exported


def test_reopen_restores_a_chat_after_memory_is_lost(kimi):
    kimi.server.script(Reply(content="first answer"), Reply(content="second answer"))
    kimi.run("%kimi --chat rec-b --tools none first question")
    session().conversations.reset("rec-b")  # as after a kernel restart
    assert "reopened chat 'rec-b': 1 turn(s)" in kimi.run("%kimi reopen rec-b").stdout
    kimi.run("%kimi --chat rec-b --tools none second question")
    assert [m["content"] for m in chat_messages(kimi.server.chat_requests[-1])] == [
        "first question", "first answer", "second question"]


def test_transcripts_can_be_switched_off(kimi):
    kimi.config.transcripts = False
    kimi.server.script(Reply(content="not recorded"))
    kimi.run("%kimi --chat rec-c --tools none hi")
    kimi.config.transcripts = True
    rec = recorder()
    assert rec is not None and rec.flush() and rec.store.turns("rec-c") == []


def test_a_reopened_turn_keeps_its_reasoning_tools_usage_and_interruption(kimi, tmp_path):
    from kimi_lab.common import events as ev
    from kimi_lab.common.result import Result
    from kimi_lab.store.reopen import INTERRUPTED, reopen
    from kimi_lab.store.sqlite import TranscriptStore

    with TranscriptStore(tmp_path / "t.sqlite3") as store:
        done = store.start_turn("rec-d", "What is in df?", model="kimi-k2-thinking", provider="moonshot")
        for event in (ev.ReasoningDelta("Look at it first."), ev.ToolStart("c1", "describe_variable", '{"name": "df"}'),
                      ev.ToolEnd("c1", "describe_variable", "ok", "df: 3 rows", 0.25), ev.ReasoningDelta("Now answer."),
                      ev.ContentDelta("It has 3 rows."), ev.UsageEvent(ev.TokenUsage(100, 20, 0, 5))):
            store.append(done, event)
        store.end_turn(done, Result(content="It has 3 rows.", reasoning="Look at it first.Now answer.",
                                    usage=ev.TokenUsage(100, 20, 0, 5), cost=0.001, finish_reason="stop"))
        crashed = store.start_turn("rec-d", "And the mean?", model="kimi-k2-thinking", provider="moonshot")
        store.append(crashed, ev.ToolStart("c2", "evaluate", '{"expression": "df.x.mean()"}'))
        store.append(crashed, ev.ContentDelta("The mean is"))  # then the kernel died
        conv, n = reopen("rec-d", store)
    assert n == 2
    first, second = conv.results
    assert [s.kind for s in first.steps] == ["reasoning", "tool", "reasoning"]
    assert first.steps[1].status == "ok" and first.steps[1].preview == "df: 3 rows"
    assert first.tool_calls[0].arguments == {"name": "df"} and first.tool_calls[0].duration == 0.25
    assert first.content == "It has 3 rows." and first.usage.total == 120 and first.cost == 0.001
    assert second.finish_reason == "interrupted" and second.error == INTERRUPTED
    assert second.steps[0].status == "interrupted" and second.content == "The mean is"
    assert conv.messages[-1].partial and conv.messages[-1].content == "The mean is"
    shown = kimi.run("%kimi history rec-d").text()
    assert "What is in df?" in shown and "It has 3 rows." in shown and "And the mean?" in shown
    session().conversations.reset("rec-d")
