"""Every failure a user can hit: one line that says what to do, partial answers kept, no key leaked."""

from __future__ import annotations

import socket
import time

import pytest

from kimi_lab.core.session import session
from kimi_lab.testing import Reply

from .conftest import CANARY_KEY


def one_line_error(cell, kind: str) -> str:
    assert cell.error is not None, "the cell should fail so Run All stops"
    assert type(cell.error).__name__ == kind
    lines = [ln for ln in cell.stdout.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in cell.stdout, cell.stdout
    assert CANARY_KEY not in cell.text()
    return lines[0]


def test_no_provider_lists_how_to_set_each_up(kimi, monkeypatch):
    monkeypatch.delenv("MOONSHOT_API_KEY")
    line = one_line_error(kimi.run("%kimi hi"), "KimiNoProviderError")  # a KimiConfigError
    assert "MOONSHOT_API_KEY (moonshot)" in line and "OPENROUTER_API_KEY (openrouter)" in line
    assert "--base-url" in line
    assert kimi.server.chat_requests == []


def test_missing_key_names_variable_and_preset(kimi):
    line = one_line_error(kimi.run("%kimi -p openrouter hi"), "KimiConfigError")
    assert "no API key for openrouter: set OPENROUTER_API_KEY" in line
    assert kimi.server.chat_requests == []


def test_401_says_which_key_to_check(kimi, monkeypatch):
    monkeypatch.setenv("MOONSHOT_API_KEY", "sk-wrong-key-0123456789")
    cell = kimi.run("%kimi hi")
    line = one_line_error(cell, "KimiAPIError")
    assert "rejected the API key (401" in line and "check MOONSHOT_API_KEY" in line
    assert "sk-wrong-key-0123456789" not in cell.text()


def test_key_echoed_by_server_is_scrubbed(kimi):
    kimi.server.script(Reply(status=401, error={"error": {"message": f"Incorrect API key provided: {CANARY_KEY}"}}))
    line = one_line_error(kimi.run("%kimi hi"), "KimiAPIError")
    assert "[redacted]" in line


@pytest.mark.parametrize(
    "status, expected",
    [
        (403, "refused the request (403"),
        (404, "model 'kimi-k2-thinking' not found at"),
        (400, "rejected the request (400"),
    ],
)
def test_status_errors(kimi, status, expected):
    kimi.server.script(Reply(status=status))
    line = one_line_error(kimi.run("%kimi hi"), "KimiAPIError")
    assert expected in line
    assert len(kimi.server.chat_requests) == 1, "client errors are not retried"


def test_429_honours_retry_after_then_succeeds(kimi):
    kimi.server.script(Reply(status=429, headers={"Retry-After": "1"}), Reply(content="finally"))
    cell = kimi.run("%kimi hi")
    assert cell.error is None
    first, second = kimi.server.chat_requests
    assert second.time - first.time >= 0.95
    assert kimi.shell.user_ns["_"].content == "finally"
    assert any("answered 429; retry 1 of 3 in 1.0 s" in str(c.get("data")) for c in cell.updates)


def test_429_gives_up_after_retries(kimi):
    kimi.server.script(*[Reply(status=429, headers={"Retry-After": "0"})] * 4)
    line = one_line_error(kimi.run("%kimi hi"), "KimiAPIError")
    assert "rate limiting (429" in line
    assert len(kimi.server.chat_requests) == 4


def test_5xx_is_retried_with_backoff(kimi):
    kimi.server.script(Reply(status=503), Reply(status=502), Reply(content="recovered"))
    cell = kimi.run("%kimi hi")
    assert cell.error is None and kimi.shell.user_ns["_"].content == "recovered"
    assert len(kimi.server.chat_requests) == 3


def test_connection_refused(kimi):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cell = kimi.run(f"%kimi --base-url http://127.0.0.1:{port}/v1 hi")
    line = one_line_error(cell, "KimiConnectionError")
    assert f"cannot reach http://127.0.0.1:{port}/v1" in line and "is the server running" in line
    shown = "\n".join(str(v) for d in cell.displays for v in d.values())
    assert "cannot reach" not in shown, "said once, by the error line, not again as a note above it"


def test_an_error_after_part_of_the_answer_is_said_once_below_it(kimi):
    kimi.server.script(Reply(reasoning="thinking", content="The first half, then", chunk_chars=5, cut_after=5))
    cell = kimi.run("%kimi hi")
    line = one_line_error(cell, "KimiStreamError")
    assert "The first" in cell.markdown and "dropped mid-answer" in line
    assert "dropped mid-answer" not in cell.markdown


def test_timeout(kimi):
    kimi.config.timeout = 0.5
    kimi.server.script(Reply(hang=5))
    start = time.monotonic()
    line = one_line_error(kimi.run("%kimi hi"), "KimiConnectionError")
    assert time.monotonic() - start < 3
    assert "within 0.5 s" in line


def test_stream_cut_keeps_partial_answer(kimi):
    kimi.server.script(Reply(reasoning="thinking hard", content="The first half of the answer, then", chunk_chars=6,
                             cut_after=7))
    cell = kimi.run("%kimi --out r long question")
    line = one_line_error(cell, "KimiStreamError")
    assert "dropped mid-answer" in line and "partial answer is kept" in line
    partial = kimi.shell.user_ns["r"]
    assert partial.content and "The first half".startswith(partial.content[:14])
    assert partial.content in cell.markdown, "the partial answer stays on screen"
    messages = session().conversations.get().messages
    assert messages[-1].partial and messages[-1].content == partial.content
    kimi.server.script(Reply(content="second try"))
    assert kimi.run("%kimi again").error is None, "the conversation stays usable"


def test_malformed_event_is_skipped_with_a_warning(kimi):
    kimi.server.script(Reply(content="complete answer text", chunk_chars=4, malformed_at=3))
    cell = kimi.run("%kimi hi")
    assert cell.error is None
    r = kimi.shell.user_ns["_"]
    assert r.content == "complete answer text"
    assert any("skipped a malformed stream event" in w for w in r.warnings)
    assert "skipped a malformed stream event" in cell.markdown


def test_length_finish_says_how_to_raise_the_limit(kimi):
    kimi.server.script(Reply(reasoning="long", content="cut", finish_reason="length"))
    cell = kimi.run("%kimi hi")
    assert cell.error is None
    assert "truncated at max_tokens=32,768" in cell.markdown and "--max-tokens 65,536" in cell.markdown


def test_mid_stream_error_event(kimi):
    kimi.server.script(Reply(content="some text", stream_error={"message": "upstream overloaded"}))
    line = one_line_error(kimi.run("%kimi --out r hi"), "KimiStreamError")
    assert "upstream overloaded" in line
    assert kimi.shell.user_ns["r"].content == "some text"


def test_pasted_key_never_reaches_the_model(kimi):
    kimi.run(f"%kimi my key is {CANARY_KEY}, is it safe?")
    sent = kimi.server.chat_requests[-1].body["messages"][-1]["content"]
    assert CANARY_KEY not in sent and "[redacted]" in sent


def test_bad_options_are_one_line_usage_errors(kimi):
    cell = kimi.run("%kimi --temperature hot hi")
    assert "UsageError" in cell.stdout and "Traceback" not in cell.stdout
    cell = kimi.run("%kimi --modle x hi")
    assert "unknown option --modle" in cell.stdout
    cell = kimi.run("%kimi --temperature 5 hi")
    assert "between 0.0 and 2.0" in one_line_error(cell, "KimiConfigError")
    assert kimi.server.chat_requests == []
