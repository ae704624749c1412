"""Servers that misbehave around a finished or a running answer, through the real client against the
loopback server: an answer ends at `data: [DONE]` whatever the connection does next, keep-alive
comments neither break nor prolong a turn (but cannot hold one open past the read timeout), and a
stream event of the wrong shape is skipped with a warning instead of ending the answer."""

from __future__ import annotations

import json
import time

import pytest

from kimi_lab.backends.remote import MAX_MALFORMED_WARNINGS
from kimi_lab.testing import Reply

ANSWER = "The answer arrives whole, every word of it."


def asked(kimi, reply: Reply, prompt: str = "hi"):
    """(cell, seconds) of one question answered by `reply`."""
    kimi.server.script(reply)
    started = time.monotonic()
    cell = kimi.run(f"%kimi --tools none {prompt}")
    return cell, time.monotonic() - started


# -- the end of an answer is `data: [DONE]` ------------------------------------------------------


@pytest.mark.parametrize("comment", [None, "keep-alive"], ids=["silent", "comments"])
def test_a_server_that_keeps_the_body_open_after_done_does_not_hold_the_answer(kimi, comment):
    cell, elapsed = asked(kimi, Reply(reasoning="Short.", content=ANSWER, linger=30, comment=comment))
    assert cell.error is None, cell.stdout
    assert cell.result.content == ANSWER and cell.result.finish_reason == "stop"
    assert elapsed < 2.0, f"the finished answer waited {elapsed:.1f} s for the server to close the body"
    assert cell.result.warnings == []
    cell, elapsed = asked(kimi, Reply(content="next"), "and the next question")
    assert cell.error is None and cell.result.content == "next" and elapsed < 2.0


@pytest.mark.parametrize("dialect", ["moonshot", "openrouter"])
def test_comments_between_events_change_nothing(kimi, dialect):
    cell, _ = asked(kimi, Reply(reasoning="Think it through.", content=ANSWER, chunk_chars=3, dialect=dialect,
                                comment="OPENROUTER PROCESSING"))
    assert cell.error is None, cell.stdout
    assert cell.result.content == ANSWER and cell.result.reasoning == "Think it through."
    assert cell.result.warnings == []


def test_comments_alone_for_longer_than_the_read_timeout_are_a_timeout(kimi):
    kimi.config.timeout = 0.5
    cell, elapsed = asked(kimi, Reply(content="too late", first_delay=20, comment="OPENROUTER PROCESSING"))
    assert type(cell.error).__name__ == "KimiConnectionError", cell.stdout
    assert "within 0.5 s" in str(cell.error) and "KimiLab.timeout" in str(cell.error)
    assert elapsed < 3.0, f"{elapsed:.1f} s"


def test_comments_alone_mid_answer_for_longer_than_the_read_timeout_are_a_timeout(kimi):
    kimi.config.timeout = 0.5
    cell, elapsed = asked(kimi, Reply(content="never shown", delay=20, comment="keep-alive"))
    assert type(cell.error).__name__ == "KimiConnectionError", cell.stdout
    assert "stopped sending for 0.5 s mid-answer" in str(cell.error) and cell.error.partial is not None
    assert elapsed < 3.0, f"{elapsed:.1f} s"


# -- events of the wrong shape -----------------------------------------------------------------

MALFORMED = {
    "not JSON": '{"choices": [{"delta": {"content": "unterminated',
    "choices an object": json.dumps({"choices": {"delta": {"content": "x"}}}),
    "choices a string": json.dumps({"choices": "abc"}),
    "choices [null]": json.dumps({"choices": [None]}),
    "delta a string": json.dumps({"choices": [{"delta": "some text"}]}),
    "content a number": json.dumps({"choices": [{"delta": {"content": 42}}]}),
    "reasoning a number": json.dumps({"choices": [{"delta": {"reasoning_content": 7}}]}),
    "reasoning_details a string": json.dumps({"choices": [{"delta": {"reasoning_details": "x"}}]}),
    "tool_calls an object": json.dumps({"choices": [{"delta": {"tool_calls": {"index": 0}}}]}),
    "tool_calls [null]": json.dumps({"choices": [{"delta": {"tool_calls": [None]}}]}),
    "tool call index a word": json.dumps({"choices": [{"delta": {"tool_calls": [{"index": "first"}]}}]}),
    "function a string": json.dumps({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": "f"}]}}]}),
    "arguments a number": json.dumps({"choices": [{"delta": {"tool_calls": [{"index": 0, "function": {
        "name": "f", "arguments": 1}}]}}]}),
    "finish_reason a number": json.dumps({"choices": [{"delta": {}, "finish_reason": 3}]}),
    "usage a string": json.dumps({"choices": [], "usage": "lots"}),
    "usage counts words": json.dumps({"choices": [], "usage": {"prompt_tokens": "many"}}),
    "usage details a list": json.dumps({"choices": [], "usage": {"prompt_tokens_details": [1]}}),
    "an array": json.dumps([1, 2, 3]),
    "a string": json.dumps("just text"),
    "a number": "42",
    "null": "null",
    "nested 100,000 deep": "[" * 100_000 + "]" * 100_000,
    "an object nested 100,000 deep": '{"a":' * 100_000 + "1" + "}" * 100_000,
}


@pytest.mark.parametrize("payload", list(MALFORMED.values()), ids=list(MALFORMED))
def test_one_malformed_event_is_skipped_with_one_warning(kimi, payload):
    reply = Reply(reasoning="Reason first.", content=ANSWER, chunk_chars=5, inject=[(4, payload)])
    cell, _ = asked(kimi, reply)
    assert cell.error is None, cell.stdout
    r = cell.result
    assert r.content == ANSWER and r.reasoning == "Reason first." and r.finish_reason == "stop"
    assert r.tool_calls == [] and r.usage.completion > 0
    assert len(r.warnings) == 1 and r.warnings[0].startswith("skipped a malformed stream event"), r.warnings
    assert "\n" not in r.warnings[0] and len(r.warnings[0]) < 200
    assert r.warnings[0] in cell.markdown, "the warning is shown under the answer"


def test_every_shape_in_one_answer_keeps_the_text_around_them(kimi):
    payloads = list(MALFORMED.values())
    reply = Reply(content=ANSWER, chunk_chars=1, inject=[(2 + n, p) for n, p in enumerate(payloads)])
    cell, elapsed = asked(kimi, reply)
    assert cell.error is None, cell.stdout
    assert cell.result.content == ANSWER
    warnings = cell.result.warnings
    assert len(warnings) == MAX_MALFORMED_WARNINGS + 1, warnings
    assert all(w.startswith("skipped a malformed stream event") for w in warnings)
    assert "later ones are skipped without a warning" in warnings[-1]
    assert elapsed < 5.0


def test_a_tool_loop_reuses_its_connection_after_each_done(kimi):
    """The body after [DONE] is drained off the asking thread, so the next round's request can go out on the
    same keep-alive connection instead of opening a new one each round (closing at [DONE] opened five
    connections for five requests; the drain races the next request, so reuse is usual, not certain)."""
    from kimi_lab.testing import ToolCall

    kimi.server.clear()
    kimi.server.script(*[Reply(reasoning=f"Round {i}.", tool_calls=[ToolCall("list_variables", "{}")])
                         for i in range(4)], Reply(content="done"))
    cell = kimi.run("%kimi --new look around")
    assert cell.error is None and cell.result.content == "done", cell.stdout
    numbers = [r.connection for r in kimi.server.chat_requests]
    assert len(numbers) == 5 and len(set(numbers)) < 5, numbers
