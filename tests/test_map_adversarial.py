"""`kimi_lab.map` attacked: hostile data in the frame, a prompt-injected model, a hostile or broken provider, and
odd option values, each against one of map's promises (README "Kimi over every row" and the project's rules).

A test that passes is a promise that held and stays as a regression test. A test marked
`xfail(strict=True)` demonstrates a break: it turns into an XPASS failure once the break is fixed.
Every wait is bounded (timeouts on joins, a bounded poll, a capped Retry-After).
"""

from __future__ import annotations

import copy
import json
import socket
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pytest
from pydantic import BaseModel, field_validator

import kimi_lab
from kimi_lab.common.errors import KimiConfigError, KimiError
from kimi_lab.testing import Reply, ToolCall, Usage

from ._map_races import all_started, fast_batch_polls
from .conftest import CANARY_KEY

FREE = {"provider": "custom", "progress": "none"}  # a server of one's own: no price, no confirmation
PAID = {"progress": "none", "rpm": 0, "tpm": 0, "confirm": False}  # moonshot (priced), without entry-tier pacing
ENV_SECRET = "qv7Rk2Lm9Xz4Wp8NbT3c"  # no credential shape: only known-secret scrubbing can catch it
NS_SECRET = "Tr0ub4dor-horse-93kqZ"  # typed into a notebook variable
URL_PASSWORD = "Sup3rS3cretPassw0rdX"
SECRETS = (CANARY_KEY, ENV_SECRET, NS_SECRET)


@pytest.fixture(autouse=True)
def setup(kimi: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The canary key for `custom` too, a checkpoint of this test's own, a secret in the environment and one in a
    notebook variable (map reads the notebook's namespace when none is given)."""
    monkeypatch.setenv("KIMI_LAB_API_KEY", CANARY_KEY)
    monkeypatch.setenv("KIMI_LAB_TRANSCRIPTS", str(tmp_path / "transcripts.sqlite3"))
    monkeypatch.setenv("ACME_SERVICE_TOKEN", ENV_SECRET)
    kimi.shell.user_ns["db_password"] = NS_SECRET


def frame(n: int, index: list[Any] | None = None) -> pd.DataFrame:
    return pd.DataFrame({"text": [f"ticket number {i}" for i in range(n)]},
                        index=index if index is not None else [f"T{i:03d}" for i in range(n)])


def chats(kimi: Any) -> int:
    return len(kimi.server.chat_requests)


def wire(kimi: Any) -> str:
    """Every request body the provider received, as text."""
    return "\n".join(json.dumps(r.body, ensure_ascii=False) for r in kimi.server.requests if r.body is not None)


def stored(tmp_path: Path) -> str:
    """Every byte written under the test's folder (checkpoint, its WAL, transcripts), as text."""
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in tmp_path.rglob("*") if p.is_file())


def leaked(text: str, secrets: tuple[str, ...] = SECRETS) -> list[str]:
    return [s for s in secrets if s in text]


def shown(result: Any) -> str:
    return str(result) + "\n" + "\n".join(str(v) for v in result._repr_mimebundle_().values())


# -- secrets ---------------------------------------------------------------------------------------------------


def test_secrets_in_cells_and_the_template_reach_neither_the_wire_nor_the_checkpoint_nor_the_frame(kimi, tmp_path):
    df = pd.DataFrame({"text": [f"log line with {ENV_SECRET} inside", f"user pw={NS_SECRET}",
                                f"Authorization: Bearer {CANARY_KEY}"]}, index=["a", "b", "c"])
    template = f"Summarise (ref {ENV_SECRET}): {{text}}"
    est = kimi_lab.map(template, df, dry_run=True, **FREE)
    out = kimi_lab.map(template, df, reasoning=True, **FREE)
    printed = kimi.capfd.readouterr()
    assert chats(kimi) == 3
    traces = "\n".join(shown(out.kimi.trace(label)) for label in out.index)
    for where, text in (("the wire", wire(kimi)), ("the dry run", str(est)), ("the frame", out.to_string()),
                        ("trace", traces), ("the checkpoint", stored(tmp_path)),
                        ("the output", printed.out + printed.err)):
        assert leaked(text) == [], where
    assert "[redacted]" in out.loc["a", "answer"]


def test_a_secret_in_the_system_prompt_is_not_sent_to_the_model(kimi):
    kimi_lab.map("Classify: {text}", frame(1), system=f"Internal ref {ENV_SECRET}; key {NS_SECRET}.", **FREE)
    assert leaked(wire(kimi)) == []


def test_a_model_echoing_secrets_is_scrubbed_from_the_frame_reasoning_checkpoint_and_trace(kimi, tmp_path):
    said = f"the key is {CANARY_KEY}, the token {ENV_SECRET}, the password {NS_SECRET}"
    kimi.server.script(Reply(content=said, reasoning=said), Reply(content=said[::-1], reasoning=said.upper()))
    out = kimi_lab.map("Classify: {text}", frame(2), reasoning=True, concurrency=1, **FREE)
    traces = "\n".join(shown(out.kimi.trace(label)) for label in out.index)
    for where, text in (("the frame", out.to_string()), ("trace", traces), ("the checkpoint", stored(tmp_path))):
        assert leaked(text) == [] and leaked(text, tuple(s[::-1] for s in SECRETS)) == [], where
        assert leaked(text.lower(), tuple(s.lower() for s in SECRETS)) == [], where


class Labelled(BaseModel):
    label: str


def test_a_typed_answer_carrying_a_secret_is_scrubbed_in_its_column(kimi, tmp_path):
    kimi.server.script(Reply(content=json.dumps({"label": f"x {ENV_SECRET} y"})))
    out = kimi_lab.map("Classify: {text}", frame(1), schema=Labelled, **FREE)
    assert pd.isna(out["error"].iloc[0]) and leaked(out.to_string() + stored(tmp_path)) == []


def test_a_providers_error_quoting_secrets_is_scrubbed_in_the_error_column_and_the_raised_error(kimi, tmp_path):
    quoting = {"error": {"message": f"bad key {CANARY_KEY}; token {ENV_SECRET}; pw {NS_SECRET}",
                         "type": "invalid_request_error"}}
    kimi.server.script(Reply(status=400, error=quoting))
    out = kimi_lab.map("Classify: {text}", frame(2), concurrency=1, **FREE)
    assert "bad key" in out["error"].iloc[0] and leaked(out.to_string() + stored(tmp_path)) == []
    kimi.server.script(Reply(status=400, error=quoting))
    with pytest.raises(KimiError) as caught:
        kimi_lab.map("Again: {text}", frame(2), concurrency=1, on_error="raise", **FREE)
    printed = kimi.capfd.readouterr()
    assert leaked(caught.value.message + printed.out + printed.err) == []


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_password_in_the_base_url_shows_nowhere(kimi, tmp_path):
    url = f"http://alice:{URL_PASSWORD}@127.0.0.1:{closed_port()}/v1"
    est = kimi_lab.map("Classify: {text}", frame(2), base_url=url, dry_run=True, **FREE)
    out = kimi_lab.map("Classify: {text}", frame(2), base_url=url, concurrency=1, **FREE)
    printed = kimi.capfd.readouterr()
    assert out["error"].notna().all() and "cannot reach" in out["error"].iloc[0]
    text = "\n".join([str(est), out.to_string(), json.dumps(out.attrs, default=str), stored(tmp_path), printed.out,
                      printed.err])
    assert URL_PASSWORD not in text


def test_a_secret_index_label_is_scrubbed_from_the_raised_error(kimi):
    kimi.server.script(Reply(status=400, error={"error": {"message": "content filtered"}}))
    with pytest.raises(KimiError) as caught:
        kimi_lab.map("Classify: {text}", frame(1, index=[f"acct {ENV_SECRET}"]), on_error="raise", **FREE)
    assert "content filtered" in caught.value.message and leaked(caught.value.message) == []


# -- the template ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("template", ["{text.__class__}", "{text.__class__.__init__.__globals__}",
                                      "{__import__}", "{text.__dict__}"])
def test_attribute_lookups_in_a_field_are_a_missing_column_in_one_line(kimi, template):
    with pytest.raises(KimiConfigError) as caught:
        kimi_lab.map(template, frame(1), **FREE)
    assert "not a column" in caught.value.message and "\n" not in caught.value.message and chats(kimi) == 0


def test_format_tricks_are_text_and_cell_values_are_never_interpolated_again(kimi):
    df = pd.DataFrame({"text": ["{tier} {0} {text!r} {{x}} {}"], "tier": ["gold"]})
    out = kimi_lab.map("A {0} B {text!r} C {text:>99999999} D {tier} E {text}", df, **FREE)
    sent = kimi.server.chat_requests[0].body["messages"][-1]["content"]
    assert sent == "A {0} B {text!r} C {text:>99999999} D gold E {tier} {0} {text!r} {{x}} {}"
    assert out["answer"].iloc[0] == f"Echo: {sent}"


def test_a_column_named_like_a_trick_is_just_a_column(kimi):
    df = pd.DataFrame({"text.__class__": ["v1"], "a b-c": ["v2"], 0: ["v3"]})
    kimi_lab.map("{text.__class__}|{a b-c}|{0}", df, **FREE)
    assert kimi.server.chat_requests[0].body["messages"][-1]["content"] == "v1|v2|{0}"


def test_a_huge_cell_is_estimated_without_sending_and_not_rendered_into_a_wall(kimi):
    df = pd.DataFrame({"text": ["x" * 2_000_000, "short"]})
    est = kimi_lab.map("Summarise: {text}", df, dry_run=True, **FREE)
    assert chats(kimi) == 0 and 400_000 < est.input_tokens < 600_000 and len(str(est)) < 2_000


# -- index labels and trace ------------------------------------------------------------------------------------


@pytest.mark.parametrize("index", [
    [("a", 1), ("a", 2), ("b", 1)],
    [float("nan"), 1.5, float("nan")],
    ["dup", "dup", "other"],
    pd.MultiIndex.from_tuples([("x", 1), ("x", 2), ("y", 1)]),
    [None, True, 3],
])
def test_the_output_keeps_any_index_exactly(kimi, index):
    df = frame(3)
    df.index = index if isinstance(index, pd.Index) else pd.Index(index, tupleize_cols=False)
    out = kimi_lab.map("Classify: {text}", df, **FREE)
    assert out.index.equals(df.index) and list(out["answer"]) == [f"Echo: Classify: ticket number {i}"
                                                                     for i in range(3)]


def test_trace_of_a_duplicate_label_is_one_line_and_of_a_nan_label_is_that_row(kimi):
    df = frame(3, index=["dup", "dup", float("nan")])
    out = kimi_lab.map("Classify: {text}", df, **FREE)
    with pytest.raises(KimiConfigError, match="more than once"):
        out.kimi.trace("dup")
    assert "ticket number 2" in out.kimi.trace(float("nan")).prompt


def test_trace_on_a_filtered_output_opens_the_row_asked(kimi):
    out = kimi_lab.map("Classify: {text}", frame(4), **FREE)
    later = out.iloc[2:]  # pandas keeps attrs (the keys of all four rows) through slicing, filtering, sorting
    assert "ticket number 3" in later.kimi.trace("T003").prompt


def test_trace_of_an_unhashable_label_is_one_line(kimi):
    out = kimi_lab.map("Classify: {text}", frame(2), **FREE)
    with pytest.raises(KimiConfigError):
        out.kimi.trace(["T000"])


# -- the input is never mutated --------------------------------------------------------------------------------


class Ticket(BaseModel):
    category: Literal["billing", "bug", "other"]
    urgent: bool


def test_the_users_frame_is_never_mutated(kimi):
    df = pd.DataFrame({"text": ["a", "b", None], "n": [1, 2, 3], "when": pd.to_datetime(["2024-01-01"] * 3)},
                      index=pd.Index(["x", "y", "z"], name="id"))
    df.attrs["mine"] = {"keep": True}
    before = copy.deepcopy(df)
    kimi.server.script(*[Reply(content='{"category": "bug", "urgent": true}')] * 3)
    kimi_lab.map("Classify: {text} ({n}, {when})", df, schema=Ticket, reasoning=True, **FREE)
    pd.testing.assert_frame_equal(df, before)
    assert df.attrs == {"mine": {"keep": True}} and df.index.name == "id" and list(df.columns) == ["text", "n", "when"]


# -- option values ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("options", [
    {"concurrency": -3}, {"concurrency": 10**9}, {"rpm": -1}, {"tpm": -0.5},
    {"max_cost": 0}, {"max_cost": -5}, {"backend": "threads"}, {"on_error": None},
    {"concurrency": float("nan")},
    {"concurrency": float("inf")},
    {"rpm": float("nan")},
    {"tpm": float("nan")},
    {"max_cost": float("nan")},
    {"rpm": "3"},
    {"max_cost": "5"},
])
def test_odd_option_values_are_one_line_before_anything_is_sent(kimi, options):
    with pytest.raises(KimiConfigError) as caught:
        kimi_lab.map("Classify: {text}", frame(2), dry_run=True, progress="none", **options)
    assert "\n" not in caught.value.message and chats(kimi) == 0


def test_a_float_concurrency_is_not_silently_ignored(kimi):
    with pytest.raises(KimiConfigError, match="concurrency must be a whole number"):
        kimi_lab.map("Classify: {text}", frame(2), concurrency=2.9, dry_run=True, **FREE)


# -- the defaults on Moonshot ----------------------------------------------------------------------------------


def test_moonshot_defaults_are_the_entry_tier_even_with_other_options_given(kimi):
    est = kimi_lab.map("Classify: {text}", frame(2), dry_run=True, progress="none", max_cost=1.0, temperature=None)
    assert (est.limits.concurrency, est.limits.rpm, est.limits.tpm) == (1, 3, 500_000)


@pytest.mark.parametrize("tools", ["+code", "run_python", "data,run_python", "auto,run_python"])
def test_tools_that_ask_first_cannot_run_unattended(kimi, tools):
    with pytest.raises(KimiConfigError, match="tools that ask first"):
        kimi_lab.map("Classify: {text}", frame(1), tools=tools, **FREE)
    assert chats(kimi) == 0


def test_tools_that_ask_first_cannot_come_in_through_the_settings(kimi):
    kimi.config.tools = "+code"
    with pytest.raises(KimiConfigError, match="tools that ask first"):
        kimi_lab.map("Classify: {text}", frame(1), tools=None, **FREE)
    kimi.shell.user_ns["df"] = frame(1)
    cell = kimi.run("%%kimi --map df -p custom --tools +code\nClassify: {text}")
    assert cell.error is not None and "tools that ask first" in str(cell.error) and chats(kimi) == 0


# -- tools="data" in worker threads ------------------------------------------------------------------------------


def test_data_tools_from_concurrent_workers_neither_leak_secrets_nor_mutate_the_frame(kimi):
    df = frame(4)
    kimi.shell.user_ns.update(df=df, cfg={"api_key": NS_SECRET, "region": "eu"}, note=f"token={ENV_SECRET}")
    before = copy.deepcopy(df)
    grabs = ['db_password', 'cfg["api_key"]', 'note', 'df.pop("text")']
    replies = []
    for expression in grabs:
        replies += [Reply(reasoning="look", tool_calls=[ToolCall("evaluate", json.dumps({"expression": expression}))])]
    kimi.server.script(*replies)  # four workers each ask one of these first, then the echo answers
    out = kimi_lab.map("Classify: {text}", df, tools="data", concurrency=4, **FREE)
    assert out["error"].isna().all(), out["error"].tolist()
    pd.testing.assert_frame_equal(df, before)
    tool_results = [m for r in kimi.server.chat_requests for m in r.body["messages"] if m["role"] == "tool"]
    assert len(tool_results) == 4 and leaked(json.dumps(tool_results)) == []
    assert leaked(out.to_string()) == []


# -- a hostile or broken provider ------------------------------------------------------------------------------

RATE = {"error": {"message": "rate limit reached", "type": "rate_limit_reached_error"}}
AUTH = {"error": {"message": "Invalid Authentication", "type": "invalid_authentication_error"}}


@pytest.mark.parametrize("header, value", [
    ("Retry-After", "-5"), ("Retry-After", "nan"), ("Retry-After", "inf"), ("Retry-After", "1e9"),
    ("Retry-After", "99999999999999999999999999"), ("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT"),
    ("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"), ("retry-after-ms", "1e15"), ("retry-after-ms", "-1"),
    ("Retry-After", "soon"),
    ("Retry-After", "0x10"),
])
def test_any_retry_after_is_honoured_within_the_cap_and_the_row_answered(kimi, header, value):
    kimi.config.retry_after_cap = 0.3
    kimi.server.script(Reply(status=429, error=RATE, headers={header: value}))
    started = time.monotonic()
    out = kimi_lab.map("Classify: {text}", frame(2), concurrency=1, **FREE)
    assert out["error"].isna().all(), out["error"].tolist()
    assert time.monotonic() - started < 10 and chats(kimi) == 3


def test_a_provider_that_answers_429_forever_is_bounded_per_row(kimi):
    kimi.server.script(*[Reply(status=429, error=RATE, headers={"Retry-After": "0"}) for _ in range(60)])
    out = kimi_lab.map("Classify: {text}", frame(2), concurrency=1, **FREE)
    assert out["error"].str.contains("429").all() and chats(kimi) == 2 * 13


def test_a_provider_that_answers_500_forever_is_bounded_per_row(kimi):
    kimi.server.script(*[Reply(status=500) for _ in range(40)])
    out = kimi_lab.map("Classify: {text}", frame(2), concurrency=1, **FREE)
    assert out["error"].str.contains("500").all() and chats(kimi) == 2 * (1 + kimi.config.max_retries)


def test_a_stream_that_never_ends_does_not_hold_the_job_forever(kimi):
    kimi.config.timeout = 1.0
    kimi.server.script(Reply(content="word " * 4_000, chunk_chars=10, delay=0.01))  # 20 s of steady bytes
    box: dict[str, Any] = {}

    def go() -> None:
        try:
            box["out"] = kimi_lab.map("Classify: {text}", frame(1), max_tokens=16, namespace={}, **FREE)
        except BaseException as exc:  # handed to the test's thread
            box["error"] = exc

    worker = threading.Thread(target=go, daemon=True)
    worker.start()
    worker.join(8.0)
    try:
        assert not worker.is_alive(), "one row (max_tokens=16) still streaming after 8 s"
    finally:
        kimi.server.stop()  # ends the stream: the row fails and the job returns
        worker.join(20.0)


def test_a_body_claiming_absurd_usage_does_not_lose_the_row(kimi):
    kimi.server.script(Reply(content="a", usage=Usage(10**30, 10**30)))
    out = kimi_lab.map("Classify: {text}", frame(3), concurrency=1, **PAID)
    assert out["answer"].notna().all(), out["error"].tolist()


def one_row_cost(kimi: Any) -> float:
    return float(kimi_lab.map("Classify: {text}", frame(1), **PAID)["cost"].iloc[0])


def test_negative_usage_cannot_switch_max_cost_off(kimi):
    one = one_row_cost(kimi)
    kimi.server.script(Reply(content="a", usage=Usage(-10**9, 0)))
    out = kimi_lab.map("Classify: {text}", frame(10), concurrency=1, max_cost=one * 2.5, resume=False, **PAID)
    assert out["answer"].notna().sum() <= 4


def test_max_cost_still_protects_when_the_provider_reports_no_usage(kimi):
    one = one_row_cost(kimi)
    kimi.server.script(*[Reply(content=f"a{i}", usage=Usage(0, 0)) for i in range(10)])
    out = kimi_lab.map("Classify: {text}", frame(10), concurrency=1, max_cost=one * 2.5, resume=False, **PAID)
    answered = out[out["answer"].notna()]
    assert (answered["cost"] > 0).all(), "a paid row whose usage is missing is said to cost $0.00"
    assert answered["cost"].sum() <= one * 2.5 + answered["cost"].max(), "the cap holds on estimated costs"


def test_a_provider_with_an_unknown_price_is_not_treated_as_free(kimi, monkeypatch):
    monkeypatch.setenv("TOGETHER_API_KEY", CANARY_KEY)
    est = kimi_lab.map("Classify: {text}", frame(6), provider="together", dry_run=True, progress="none")
    assert "nothing billed" not in str(est)
    try:
        out = kimi_lab.map("Classify: {text}", frame(6), provider="together", max_cost=1e-9, concurrency=1,
                           progress="none")
    except KimiConfigError:
        return  # refusing a cap it cannot enforce, in one line, is fine
    assert out["answer"].notna().sum() < 6, "max_cost was silently ignored"


@pytest.mark.parametrize("server", [{"latency": 0.3}], indirect=True)
def test_max_cost_with_many_workers_does_not_spend_a_multiple_of_the_cap(kimi):
    one = one_row_cost(kimi)
    out = kimi_lab.map("Classify: {text}", frame(16), concurrency=8, max_cost=one * 2.5, resume=False, **PAID)
    assert out["cost"].sum() <= one * 3.6, f"spent {out['cost'].sum() / one:.1f} rows' worth on a 2.5-row cap"


@pytest.mark.parametrize("server", [{"limits": {"rpm": 3, "concurrency": 1}, "limit_window": 3.0}], indirect=True)
def test_the_default_admission_keeps_a_new_account_under_its_limit_with_repair_rounds(kimi, monkeypatch):
    from kimi_lab.services.mapping import job

    class ScaledMinute(job.Admission):
        def __init__(self, concurrency: int, **kw: Any) -> None:
            super().__init__(concurrency, **{**kw, "window": 3.0})

    monkeypatch.setattr(job, "Admission", ScaledMinute)
    kimi.server.script(*[r for _ in range(3) for r in (Reply(content="not json"),
                                                       Reply(content='{"category": "bug", "urgent": true}'))])
    out = kimi_lab.map("Classify: {text}", frame(3), schema=Ticket, progress="none", confirm=False)
    assert out["error"].isna().all() and kimi.server.rate_limited == 0


def test_a_job_stopped_by_a_rejected_key_leaves_out_holding_the_rows_answered(kimi):
    kimi.shell.user_ns.update(df=frame(6), labels="what the user had")
    kimi.server.script(Reply(content="a"), Reply(content="b"), Reply(status=401, error=AUTH))
    cell = kimi.run("%%kimi --map df -p custom --concurrency 1 --out labels\nClassify: {text}")
    assert cell.error is not None and "401" in str(cell.error)
    labels = kimi.shell.user_ns["labels"]
    assert isinstance(labels, pd.DataFrame) and labels["answer"].notna().sum() == 2, labels


# -- typed answers ---------------------------------------------------------------------------------------------


def test_an_answer_nested_too_deeply_is_that_rows_error_not_a_dead_worker(kimi):
    schema = {"type": "object", "properties": {"label": {"type": "string"}}}
    kimi.server.script(Reply(content="[" * 50_000, chunk_chars=5_000), Reply(content="[" * 50_000, chunk_chars=5_000))
    out = kimi_lab.map("Classify: {text}", frame(3), schema=schema, concurrency=1, **FREE)
    assert "schema" in str(out["error"].iloc[0]) and out["error"].iloc[1:].str.startswith("the answer").all()


class Picky(BaseModel):
    label: str

    @field_validator("label")
    @classmethod
    def not_boom(cls, value: str) -> str:
        if value == "boom":
            raise TypeError("a validator that raises something pydantic does not wrap")
        return value


def test_a_validator_raising_an_odd_exception_is_that_rows_error(kimi):
    kimi.server.script(Reply(content='{"label": "boom"}'), Reply(content='{"label": "boom"}'))
    out = kimi_lab.map("Classify: {text}", frame(3), schema=Picky, concurrency=1, **FREE)
    assert "TypeError" in out["error"].iloc[0] and "not asked" not in out["error"].iloc[0]
    assert not out["error"].iloc[1:].str.startswith("not asked").any(), "the worker lived on to ask the others"


def test_a_ref_to_a_ref_is_still_checked(kimi):
    schema = {"type": "object", "properties": {"n": {"$ref": "#/$defs/a"}}, "required": ["n"],
              "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"type": "integer"}}}
    kimi.server.script(Reply(content='{"n": "five"}'), Reply(content='{"n": "five"}'))
    out = kimi_lab.map("Classify: {text}", frame(1), schema=schema, **FREE)
    assert "n:" in str(out["error"].iloc[0])


def test_a_recursive_schema_is_checked_to_the_bottom_without_looping(kimi):
    node = {"type": "object", "properties": {"v": {"type": "integer"}, "child": {"$ref": "#/$defs/node"}}}
    schema = {"type": "object", "properties": {"root": {"$ref": "#/$defs/node"}}, "$defs": {"node": node},
              "additionalProperties": False}
    value: dict[str, Any] = {"v": "bad"}
    for _ in range(60):
        value = {"v": 1, "child": value}
    bad = json.dumps({"root": value})
    kimi.server.script(Reply(content=bad, chunk_chars=500), Reply(content=bad, chunk_chars=500))
    out = kimi_lab.map("Classify: {text}", frame(1), schema=schema, **FREE)
    assert ".child.child" in out["error"].iloc[0] and ".v: should be integer" in out["error"].iloc[0]


# -- resume and the checkpoint ---------------------------------------------------------------------------------


@pytest.mark.parametrize("change", [{"template": "Classify now: {text}"}, {"model": "another-model"},
                                    {"system": "Be terse."}, {"max_tokens": 123}, {"temperature": 0.3},
                                    {"schema": Ticket}, {"stop": ["END"]}, {"seed": 7}])
def test_a_rerun_with_anything_changed_that_shapes_the_answer_gets_no_stale_answer(kimi, change):
    kimi_lab.map("Classify: {text}", frame(2), **FREE)
    options = {k: v for k, v in change.items() if k != "template"}
    kimi_lab.map(change.get("template", "Classify: {text}"), frame(2), **options, **FREE)
    assert chats(kimi) == (6 if "schema" in change else 4)  # a typed row that is not JSON gets a repair round


def test_a_corrupted_checkpoint_is_one_line_and_left_as_it_was(kimi, tmp_path):
    path = tmp_path / "map.sqlite3"
    path.write_bytes(b"this is not a database; " * 200)
    before = path.read_bytes()
    with pytest.raises(KimiError) as caught:
        kimi_lab.map("Classify: {text}", frame(2), **FREE)
    assert "\n" not in caught.value.message and path.read_bytes() == before and chats(kimi) == 0


def test_a_checkpoint_that_cannot_be_written_loses_no_answer(kimi, monkeypatch):
    from kimi_lab.store.checkpoint import Checkpoint

    def full(self: Any, record: Any) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Checkpoint, "save", full)
    out = kimi_lab.map("Classify: {text}", frame(3), concurrency=1, **FREE)
    assert out["answer"].notna().all(), out["error"].tolist()


def twice_at_once(call: Any) -> dict[str, Any]:
    """`call` run by two threads at once (two kernels on one checkpoint): each one's result or exception."""
    done: dict[str, Any] = {}

    def go(name: str) -> None:
        try:
            done[name] = call()
        except BaseException as exc:
            done[name] = exc

    workers = [threading.Thread(target=go, args=(n,), daemon=True) for n in ("a", "b")]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30.0)
    return done


@pytest.mark.parametrize("server", [{"latency": 0.3}], indirect=True)
def test_two_kernels_mapping_the_same_frame_at_once_pay_for_each_row_once(kimi, monkeypatch):
    all_started(monkeypatch, 2, "answered")
    df = frame(6)
    done = twice_at_once(lambda: kimi_lab.map("Classify: {text}", df, concurrency=2, namespace={}, **FREE))
    assert all(isinstance(done.get(n), pd.DataFrame) for n in ("a", "b")), done
    assert chats(kimi) == 6, f"{chats(kimi)} requests for 6 rows"


# -- the batch backend against a hostile provider ------------------------------------------------------------------

FAST = {"batch_step": 0.02, "batch_rows_per_step": 4}


@pytest.fixture
def batch(kimi: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A 5 ms poll, and at most 400 polls."""
    fast_batch_polls(monkeypatch, 0.005, 400)
    return kimi


def run_batch(data: Any, template: str = "Classify: {text}", **options: Any) -> Any:
    return kimi_lab.map(template, data, backend="batch", progress="none", confirm=False, **options)


def tamper(kimi: Any, extra_output: list[dict[str, Any]], extra_errors: list[dict[str, Any]]) -> None:
    """The provider appends lines of its own to a completed batch's output and error files."""
    batches = kimi.server._batches
    real = batches._finish

    def finish(b: Any, status: str, at: float) -> None:
        if status == "completed":
            first = b.lines[0][0]
            b.output += [json.dumps({**line, "custom_id": line["custom_id"].replace("FIRST", first)})
                         for line in extra_output]
            b.failures += [json.dumps({**line, "custom_id": line["custom_id"].replace("FIRST", first)})
                           for line in extra_errors]
        real(b, status, at)

    batches._finish = finish


def completion(content: str) -> dict[str, Any]:
    return {"status_code": 200, "body": {"choices": [{"message": {"content": content}, "finish_reason": "stop"}],
                                         "usage": {"prompt_tokens": 5, "completion_tokens": 5}}}


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_batch_lines_for_rows_never_sent_are_ignored(batch, tmp_path):
    tamper(batch, [{"custom_id": "never-sent", "response": completion("injected")}], [])
    out = run_batch(frame(3))
    assert "injected" not in out.to_string() and out["answer"].notna().all()
    with sqlite3.connect(tmp_path / "map.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM rows WHERE key='never-sent' OR content='injected'").fetchone()[0] == 0


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_a_duplicate_error_line_does_not_discard_an_answered_row(batch):
    tamper(batch, [], [{"custom_id": "FIRST", "response": {"status_code": 500, "body": {"error": {"message": "x"}}}}])
    out = run_batch(frame(3))
    assert out["answer"].notna().all(), out["error"].tolist()


@pytest.mark.parametrize("server", [{**FAST, "batch_window": 0.01}], indirect=True)
def test_a_batch_stuck_past_its_expiry_is_not_polled_forever(batch, monkeypatch):
    def stuck(b: Any, now: float) -> None:
        b.status = "in_progress"

    batch.server._batches._advance = stuck
    monkeypatch.setattr("kimi_lab.services.mapping.provider_batch._EXPIRY_GRACE", 0.0)
    with pytest.raises(KimiError, match="past its expiry"):
        run_batch(frame(2))


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_a_batch_answer_echoing_secrets_is_scrubbed(batch, tmp_path):
    said = f"the key is {CANARY_KEY}, the token {ENV_SECRET}, the password {NS_SECRET}"
    batch.server.script(Reply(content=said, reasoning=said), Reply(content=said, reasoning=said))
    out = run_batch(frame(2), reasoning=True)
    assert leaked(out.to_string() + stored(tmp_path)) == []


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_max_cost_holds_on_the_batch_backend(batch):
    template = "Classify this ticket carefully: {text} " + "context " * 50
    est = kimi_lab.map(template, frame(40), dry_run=True, progress="none")
    cap = est.low * 1.5  # above the input alone, well below what the answers cost
    try:
        out = run_batch(frame(40), template, max_cost=cap)
    except KimiConfigError:
        return  # refusing a cap it cannot keep, in one line, is fine
    assert out["cost"].sum() <= cap, f"spent ${out['cost'].sum():.4f} on a ${cap:.4f} cap"


@pytest.mark.parametrize("server", [{**FAST, "batch_step": 0.3}], indirect=True)
def test_two_kernels_submitting_the_same_batch_at_once_create_it_once(batch, monkeypatch):
    all_started(monkeypatch, 2, "batches")
    df = frame(4)
    twice_at_once(lambda: run_batch(df, namespace={}))
    created = [r for r in batch.server.requests if r.method == "POST" and r.path.rstrip("/") == "/v1/batches"]
    assert len(created) == 1, f"{len(created)} batches created for one job"


def test_the_checkpoint_is_private_to_the_user(kimi, tmp_path):
    kimi_lab.map("Classify: {text}", frame(1), **FREE)
    assert (tmp_path / "map.sqlite3").stat().st_mode & 0o077 == 0


def test_trace_of_a_frame_from_a_shared_file_touches_no_file_it_names(kimi, tmp_path):
    victim = tmp_path / "shared" / "team.sqlite3"
    victim.parent.mkdir()
    with sqlite3.connect(victim) as db:
        db.execute("CREATE TABLE notes(x)")
    db.close()
    victim.chmod(0o664)
    before = victim.read_bytes()
    crafted = pd.DataFrame({"answer": ["hi"], "error": [None]}, index=["r"])
    crafted.attrs["kimi_map"] = {"keys": ["k"], "checkpoint": str(victim), "model": "m", "provider": "p"}
    crafted.to_parquet(tmp_path / "shared.parquet")  # the attrs travel with the data
    loaded = pd.read_parquet(tmp_path / "shared.parquet")
    kimi_lab.map("Classify: {text}", frame(1), **FREE)  # the accessor is registered
    try:
        loaded.kimi.trace("r")
    except KimiError:
        pass  # refusing is fine; touching the file is not
    assert victim.read_bytes() == before and victim.stat().st_mode & 0o777 == 0o664
    assert not (victim.parent / "team.sqlite3-wal").exists()


def test_a_schema_field_named_like_an_output_column_loses_nothing(kimi):
    class LogLine(BaseModel):
        error: bool
        cost: float

    kimi.server.script(*[Reply(content='{"error": true, "cost": 1.5}') for _ in range(2)])
    try:
        out = kimi_lab.map("Classify: {text}", frame(2), schema=LogLine, **FREE)
    except KimiConfigError as exc:  # refusing the schema before anything is sent is fine
        assert "\n" not in exc.message and chats(kimi) == 0
        return
    assert len(out) == 2 and chats(kimi) == 2


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text form")


def test_a_cell_that_cannot_be_rendered_is_one_line(kimi):
    df = pd.DataFrame({"text": ["fine", Unprintable()]})
    with pytest.raises(KimiError) as caught:
        kimi_lab.map("Classify: {text}", df, **FREE)
    assert "\n" not in caught.value.message and chats(kimi) == 0
