"""`kimi_lab.map` over the wire: rows asked concurrently under admission control against the loopback
server, with its latency, 429s with Retry-After, 5xx, cut streams and invalid JSON; what a user sees
in the frame it returns, and what is asked again (nothing answered) on a rerun."""

from __future__ import annotations

from typing import Any, Literal

import pandas as pd
import pytest
from pydantic import BaseModel

import kimi_lab
from kimi_lab.common.errors import KimiAPIError, KimiConfigError, KimiInterrupted
from kimi_lab.services.mapping.estimate import Estimate
from kimi_lab.testing import Reply

from .conftest import CANARY_KEY

FREE = {"provider": "custom", "progress": "none"}  # a server of one's own: no price, no confirmation
MOONSHOT_429 = {"error": {"message": "The engine is currently overloaded, please try again later",
                          "type": "engine_overloaded_error"}}


@pytest.fixture(autouse=True)
def custom_key(kimi: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """The loopback server wants the canary key from every provider, `custom` (KIMI_LAB_API_KEY) included;
    each test has its own checkpoint (beside its own transcripts file), so no test finds another's rows."""
    monkeypatch.setenv("KIMI_LAB_API_KEY", CANARY_KEY)
    monkeypatch.setenv("KIMI_LAB_TRANSCRIPTS", str(tmp_path / "transcripts.sqlite3"))


class Ticket(BaseModel):
    category: Literal["billing", "bug", "other"]
    urgent: bool


def tickets(n: int) -> pd.DataFrame:
    return pd.DataFrame({"text": [f"ticket number {i}" for i in range(n)],
                         "tier": [("gold", "free")[i % 2] for i in range(n)]}, index=[f"T{i:03d}" for i in range(n)])


def chat_count(kimi: Any) -> int:
    return len(kimi.server.chat_requests)


@pytest.mark.parametrize("server", [{"latency": 0.05}], indirect=True)
def test_every_row_is_answered_in_the_input_order_whatever_order_answers_arrive(kimi):
    df = tickets(24).iloc[::-1]  # a non-monotonic index: alignment, not sorting
    out = kimi_lab.map("Classify: {text} (tier {tier})", df, concurrency=6, **FREE)
    assert list(out.index) == list(df.index)
    for label, row in df.iterrows():
        assert out.loc[label, "answer"] == f"Echo: Classify: {row.text} (tier {row.tier})"
    assert out["error"].isna().all() and (out["tokens_in"] > 0).all() and out["tokens_out"].dtype == "int64"
    assert 1 < kimi.server.max_in_flight <= 6, "concurrent, and never above the cap"
    assert chat_count(kimi) == 24


def test_a_series_and_a_list_are_mapped_too(kimi):
    series = pd.Series(["red", "green"], index=[10, 20], name="color")
    assert list(kimi_lab.map("Name a fruit that is {color}", series, **FREE)["answer"]) == [
        "Echo: Name a fruit that is red", "Echo: Name a fruit that is green"]
    assert list(kimi_lab.map("Spell {}", ["ab", "cd"], **FREE)["answer"]) == ["Echo: Spell ab", "Echo: Spell cd"]


@pytest.mark.parametrize("call, message", [
    (lambda: kimi_lab.map("Classify: {txt}", tickets(2), **FREE), "{txt}, which is not a column; the columns are: "
                                                                   "text, tier"),
    (lambda: kimi_lab.map("Classify: {text}", tickets(0), **FREE), "no rows"),
    (lambda: kimi_lab.map("Classify: {text}", tickets(2), schema=int, **FREE), "pydantic model class or a JSON"),
    (lambda: kimi_lab.map("Classify: {text}", "not a frame", **FREE), "takes a DataFrame, a Series or a list"),
    (lambda: kimi_lab.map("Classify: {text}", tickets(2), on_error="ignore", **FREE), "on_error must be"),
    (lambda: kimi_lab.map("Classify: {text}", tickets(2), tools="+code", **FREE), "tools that ask first"),
    (lambda: kimi_lab.map("Classify: {text}", tickets(2), concurrency=0, **FREE), "concurrency must be"),
])
def test_bad_input_is_one_line_and_sends_nothing(kimi, call, message):
    with pytest.raises(KimiConfigError) as caught:
        call()
    assert message in caught.value.message and "\n" not in caught.value.message
    assert chat_count(kimi) == 0


def test_json_in_the_template_is_text_and_doubled_braces_are_literal(kimi):
    out = kimi_lab.map('Reply like {"label": "x"} for {text} {{not a field}}', tickets(2), **FREE)
    assert out["answer"].iloc[0] == 'Echo: Reply like {"label": "x"} for ticket number 0 {not a field}'


@pytest.mark.parametrize("server", [{"latency": 0.5}], indirect=True)
def test_a_429_pauses_every_worker_for_its_retry_after(kimi):
    """Four rows go out at once; one comes back 429 with Retry-After 1 at 0.15 s (after all four were sent,
    however slowly the workers start). The three others finish at 0.5 s, and without a shared cooldown their
    workers would send the next rows then."""
    kimi.server.script(Reply(status=429, error=MOONSHOT_429, headers={"Retry-After": "1"}, hang=0.15))
    out = kimi_lab.map("Classify: {text}", tickets(8), concurrency=4, **FREE)
    assert out["error"].isna().all() and chat_count(kimi) == 9
    arrivals = sorted(r.time for r in kimi.server.chat_requests)
    first_wave, later = arrivals[:4], arrivals[4:]
    assert max(first_wave) - min(first_wave) < 0.45, "the first four went out together"
    assert min(later) - min(first_wave) >= 0.95, "nobody sent during the cooldown the provider asked for"


def test_5xx_and_a_cut_stream_are_retried_and_the_rows_answered(kimi):
    kimi.server.script(Reply(status=503), Reply(content="partial answer", cut_after=2))
    out = kimi_lab.map("Classify: {text}", tickets(4), concurrency=1, **FREE)
    assert out["error"].isna().all(), out["error"].tolist()
    assert chat_count(kimi) == 6  # four rows, two retries


def test_a_row_that_keeps_failing_records_its_error_and_the_others_are_answered(kimi):
    kimi.server.script(*[Reply(status=400, error={"error": {"message": "content filtered",
                                                             "type": "invalid_request_error"}})])
    out = kimi_lab.map("Classify: {text}", tickets(3), concurrency=1, **FREE)
    assert "content filtered" in out["error"].iloc[0] and out["error"].iloc[1:].isna().all()
    assert out["answer"].iloc[0] is None or pd.isna(out["answer"].iloc[0])
    with pytest.raises(Exception, match=r"row 'T000'.*content filtered"):
        kimi.server.script(Reply(status=400, error={"error": {"message": "content filtered"}}))
        kimi_lab.map("Classify again: {text}", tickets(3), concurrency=1, on_error="raise", **FREE)


def test_a_rejected_key_stops_the_job_at_once_in_one_line(kimi):
    kimi.server.api_key = "another-key"
    with pytest.raises(KimiAPIError) as caught:
        kimi_lab.map("Classify: {text}", tickets(20), concurrency=2, **FREE)
    assert caught.value.status == 401 and "\n" not in caught.value.message
    assert chat_count(kimi) <= 3, "not one request per row"


def test_typed_rows_json_schema_sent_one_repair_round_and_a_named_field_on_failure(kimi):
    kimi.server.script(
        Reply(content='{"category": "bug", "urgent": true}'),
        Reply(content='{"category": "bugs", "urgent": true}'), Reply(content='```json\n{"category": "billing", '
                                                                             '"urgent": false}\n```'),
        Reply(content='not json at all'), Reply(content='{"category": "other", "urgent": "yes"}'),
    )
    out = kimi_lab.map("Classify: {text}", tickets(3), schema=Ticket, concurrency=1, **FREE)
    assert list(out.columns[:2]) == ["category", "urgent"]
    assert out.loc["T000", "category"] == "bug" and out.loc["T000", "urgent"] is True
    assert out.loc["T001", "category"] == "billing" and pd.isna(out.loc["T001", "error"]), "repaired"
    assert "urgent" in out.loc["T002", "error"] and pd.isna(out.loc["T002", "category"]), "never coerced"
    first = kimi.server.chat_requests[0].body
    assert first["response_format"]["type"] == "json_schema"
    assert first["response_format"]["json_schema"]["schema"]["properties"]["category"]["enum"] == [
        "billing", "bug", "other"]
    repair = kimi.server.chat_requests[2].body["messages"]
    assert repair[-2]["content"] == '{"category": "bugs", "urgent": true}' and "category" in repair[-1]["content"]


def test_a_rerun_asks_only_the_rows_not_answered_before(kimi):
    kimi_lab.map("Classify: {text}", tickets(4), **FREE)
    assert chat_count(kimi) == 4
    out = kimi_lab.map("Classify: {text}", tickets(6), **FREE)
    assert chat_count(kimi) == 6 and out["answer"].notna().all()
    kimi_lab.map("Classify: {text}", tickets(6), resume=False, **FREE)
    assert chat_count(kimi) == 12, "resume=False asks everything again"


def test_equal_rows_are_asked_once(kimi):
    df = pd.DataFrame({"text": ["same", "same", "other"]})
    out = kimi_lab.map("Say {text}", df, **FREE)
    assert list(out["answer"]) == ["Echo: Say same", "Echo: Say same", "Echo: Say other"]
    assert chat_count(kimi) == 2


def test_an_interrupt_keeps_every_answered_row_and_the_rerun_asks_the_rest(kimi, monkeypatch):
    from kimi_lab.render import progress

    real = progress.Progress.update

    def interrupt_after_three(self, **counts):
        if counts["done"] >= 3:
            raise KeyboardInterrupt
        return real(self, **counts)

    monkeypatch.setattr(progress.Progress, "update", interrupt_after_three)
    with pytest.raises(KimiInterrupted) as caught:
        kimi_lab.map("Classify: {text}", tickets(12), concurrency=1, **FREE)
    assert "run the same cell again" in caught.value.message
    partial = caught.value.partial
    answered = partial["answer"].notna().sum()
    assert 3 <= answered < 12 and (partial.loc[partial["answer"].isna(), "error"] == "not asked: interrupted").all()
    monkeypatch.setattr(progress.Progress, "update", real)
    asked = chat_count(kimi)
    out = kimi_lab.map("Classify: {text}", tickets(12), concurrency=1, **FREE)
    assert out["answer"].notna().all() and chat_count(kimi) - asked == 12 - answered


def test_trace_opens_a_row_with_its_reasoning_beside_the_answer(kimi):
    out = kimi_lab.map("Classify: {text}", tickets(2), **FREE)
    shown = out.kimi.trace("T001")
    text = str(shown)
    assert "I will echo it." in text and "Echo: Classify: ticket number 1" in text
    md = shown._repr_mimebundle_()["text/markdown"]
    assert "Thought for" in md and "I will echo it." in md and "Echo: Classify: ticket number 1" in md
    with pytest.raises(KimiConfigError, match="no row 'T999'"):
        out.kimi.trace("T999")


# -- cost --------------------------------------------------------------------------------------------

PAID = {"progress": "none", "rpm": 0, "tpm": 0}  # the Moonshot preset (priced), without its entry-tier pacing


def test_dry_run_sends_nothing_and_says_rows_tokens_cost_and_time(kimi):
    est = kimi_lab.map("Classify: {text}", tickets(10), dry_run=True, progress="none")
    assert isinstance(est, Estimate) and chat_count(kimi) == 0
    text = str(est)
    assert "rows: 10; to ask: 10" in text and "tokens" in text and "$" in text
    assert "concurrency 1, 3 requests/min" in text and "Moonshot's entry tier" in text, "start low, say how to raise"
    assert "about 3 min" in text, "ten rows at 3 per minute"


def test_a_job_over_the_confirmation_threshold_stops_without_stdin_and_says_how_to_go_on(kimi):
    kimi.config.map_confirm_cost = 0.000001
    with pytest.raises(KimiConfigError) as caught:
        kimi_lab.map("Classify: {text}", tickets(4), **PAID)
    assert "max_cost=" in caught.value.message and "confirm=False" in caught.value.message
    assert chat_count(kimi) == 0
    out = kimi_lab.map("Classify: {text}", tickets(4), confirm=False, concurrency=2, **PAID)
    assert out["answer"].notna().all() and out["cost"].gt(0).all()


def test_free_providers_never_ask(kimi):
    kimi.config.map_confirm_cost = 0.0
    assert kimi_lab.map("Classify: {text}", tickets(2), **FREE)["answer"].notna().all()


def test_max_cost_stops_admitting_rows_and_says_so(kimi):
    one_row = kimi_lab.map("Price: {text}", tickets(2), concurrency=1, **PAID)["cost"].iloc[0]
    out = kimi_lab.map("Classify: {text}", tickets(10), concurrency=1, max_cost=one_row * 2.5, **PAID)
    answered = out["answer"].notna().sum()
    assert 2 <= answered <= 3 and out["cost"].sum() <= one_row * 3.6
    assert out.loc[out["answer"].isna(), "error"].str.startswith("not asked: max_cost $").all()


def test_a_cap_below_the_low_estimate_is_refused_before_anything_is_sent(kimi):
    with pytest.raises(KimiConfigError, match=r"low estimate .* is above max_cost"):
        kimi_lab.map("Classify: {text} " + "x" * 4000, tickets(50), max_cost=0.0001, **PAID)
    assert chat_count(kimi) == 0


@pytest.mark.parametrize("server", [{"limits": {"rpm": 3, "concurrency": 1}, "limit_window": 3.0}], indirect=True)
def test_the_default_admission_keeps_a_new_account_under_its_limit(kimi, monkeypatch):
    """Moonshot's entry tier (concurrency 1, 3 RPM), its minute scaled to 3 s: paced by the defaults, the job
    never meets a 429."""
    from kimi_lab.services.mapping import job

    class ScaledMinute(job.Admission):
        def __init__(self, concurrency: int, **kw: Any) -> None:
            super().__init__(concurrency, **{**kw, "window": 3.0})

    monkeypatch.setattr(job, "Admission", ScaledMinute)
    out = kimi_lab.map("Classify: {text}", tickets(5), progress="none", confirm=False)
    assert out["error"].isna().all() and kimi.server.rate_limited == 0 and kimi.server.max_in_flight == 1
    arrivals = sorted(r.time for r in kimi.server.chat_requests)
    assert arrivals[-1] - arrivals[0] >= 4.0, "five requests at three per (scaled) minute"


# -- the magic ---------------------------------------------------------------------------------------

def test_the_magic_maps_the_cell_body_over_a_frame_into_a_variable(kimi):
    kimi.shell.user_ns.update(df=tickets(3), Ticket=Ticket)
    kimi.server.script(*[Reply(content='{"category": "bug", "urgent": false}') for _ in range(3)])
    cell = kimi.run("%%kimi --map df --schema Ticket --out labels -p custom --concurrency 1\nClassify: {text}")
    assert cell.error is None, cell.stdout
    labels = kimi.shell.user_ns["labels"]
    assert list(labels.index) == ["T000", "T001", "T002"] and (labels["category"] == "bug").all()
    assert "Classify: ticket number 2" in kimi.server.chat_requests[2].body["messages"][-1]["content"]
    est = kimi.run("%%kimi --map df --dry-run -p custom\nSummarise: {text}")
    assert est.error is None and "to ask: 3" in est.text() and chat_count(kimi) == 3


@pytest.mark.parametrize("cell, message", [
    ("%%kimi --map nowhere -p custom\nSay {text}", "--map nowhere: no variable of that name"),
    ("%%kimi --map df --schema Nope -p custom\nSay {text}", "--schema Nope: no variable of that name"),
    ("%%kimi --dry-run -p custom\nSay hi", "--dry-run goes with --map VAR"),
    ("%%kimi --map df -p custom\nSay {txt}", "{txt}, which is not a column"),
])
def test_the_magic_says_what_is_wrong_in_one_line(kimi, cell, message):
    kimi.shell.user_ns.update(df=tickets(2), Ticket=Ticket)
    result = kimi.run(cell)
    assert result.error is not None and message in str(result.error) and chat_count(kimi) == 0


def test_a_row_that_failed_validation_is_asked_again_on_the_rerun_and_the_good_ones_are_not(kimi):
    kimi.server.script(Reply(content='{"category": "bug", "urgent": true}'), Reply(content="nope"),
                       Reply(content="still nope"))
    first = kimi_lab.map("Classify: {text}", tickets(2), schema=Ticket, concurrency=1, **FREE)
    assert pd.isna(first.loc["T000", "error"]) and "schema" in first.loc["T001", "error"]
    kimi.server.script(Reply(content='{"category": "other", "urgent": false}'))
    again = kimi_lab.map("Classify: {text}", tickets(2), schema=Ticket, concurrency=1, **FREE)
    assert again["error"].isna().all() and chat_count(kimi) == 4, "T001 once more, T000 not"
    assert "ticket number 1" in kimi.server.chat_requests[-1].body["messages"][-1]["content"]


def test_tools_offered_to_rows_run_one_at_a_time_on_the_users_own_function(kimi):
    """Rows answer concurrently, but a user's function registered as a tool need not be thread-safe."""
    import threading

    from kimi_lab.testing import ToolCall
    from kimi_lab.tools import tool

    inside, most, lock, pause = [0], [0], threading.Lock(), threading.Event()

    @tool
    def lookup(ticket: str) -> str:
        """Look a ticket up in the CRM."""
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        pause.wait(0.05)
        with lock:
            inside[0] -= 1
        return f"crm says {ticket} is fine"

    kimi.server.script(*[Reply(tool_calls=[ToolCall("lookup", '{"ticket": "x"}')]) for _ in range(4)],
                       *[Reply(content="done") for _ in range(4)])
    out = kimi_lab.map("Check {text}", tickets(4), tools="lookup", concurrency=4, **FREE)
    assert out["error"].isna().all() and (out["answer"] == "done").all(), out["error"].tolist()
    assert most[0] == 1
