"""`kimi_lab.map(..., backend="batch")` against the loopback server's Files and Batches API, driven end to end.

Why: a batch is paid for once created and answers only when it ends, so what matters is that rows come back
aligned and priced, that a failure stays on its row, that a typed answer is still validated, that files stay
under the provider's size limit, and above all that nothing is ever sent twice: a batch created before an
interrupt is picked up, and a finished job asks nothing again.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import openai
import pandas as pd
import pytest
from pydantic import BaseModel

import kimi_lab
from kimi_lab.common.errors import KimiConfigError, KimiError, KimiInterrupted
from kimi_lab.services.mapping import provider_batch
from kimi_lab.settings.providers import PRESETS
from kimi_lab.testing import Reply, Usage

from .conftest import CANARY_KEY, Kimi

MAX_POLLS = 2_000  # a bound on every test's polling: a batch that never ends fails the test, it does not hang it
FAST = {"batch_step": 0.02, "batch_rows_per_step": 4}


@pytest.fixture
def batch(kimi: Kimi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Kimi]:
    """A checkpoint of this test's own, a 5 ms poll, and a bounded number of polls."""
    monkeypatch.setenv("KIMI_LAB_TRANSCRIPTS", str(tmp_path / "transcripts.sqlite3"))
    monkeypatch.setitem(provider_batch.run_batch.__kwdefaults__, "poll", 0.005)
    monkeypatch.setattr(provider_batch, "_pause", bounded_pause())
    client = openai.OpenAI(api_key=CANARY_KEY, base_url=kimi.server.base_url, max_retries=0, timeout=10)
    kimi.sdk = client  # type: ignore[attr-defined]
    yield kimi
    client.close()


def bounded_pause() -> Any:
    calls: list[float] = []

    def pause(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) > MAX_POLLS:
            raise AssertionError(f"still polling after {MAX_POLLS} polls")
        threading.Event().wait(seconds)

    return pause


def run(data: Any, template: str = "Where is {city}?", **options: Any) -> Any:
    return kimi_lab.map(template, data, backend="batch", progress="none", confirm=False, **options)


def cities(n: int, index: list[Any] | None = None) -> pd.DataFrame:
    return pd.DataFrame({"city": [f"city {i}" for i in range(n)]}, index=index)


def posts(kimi: Kimi, path: str) -> int:
    return sum(1 for r in kimi.server.requests if r.method == "POST" and r.path.split("?")[0] == path)


def batches(kimi: Kimi) -> list[Any]:
    """Every batch the server holds, oldest first."""
    return list(reversed(kimi.sdk.batches.list(limit=100).data))  # type: ignore[attr-defined]


def sent(kimi: Kimi, created: Any) -> list[dict[str, Any]]:
    """The JSONL lines a batch was created from."""
    text = kimi.sdk.files.content(created.input_file_id).text  # type: ignore[attr-defined]
    return [json.loads(line) for line in text.splitlines()]


def keys_of(out: pd.DataFrame) -> list[str]:
    return list(out.attrs["kimi_map"]["keys"])


def parked_batches(out: pd.DataFrame) -> int:
    with sqlite3.connect(out.attrs["kimi_map"]["checkpoint"]) as db:
        return int(db.execute("SELECT count(*) FROM batches").fetchone()[0])


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_answers_come_back_aligned_with_tokens_and_cost(batch: Kimi) -> None:
    index = [f"row-{n}" for n in (7, 3, 11, 0, 5, 9, 1, 10, 2, 8, 4, 6)]
    df = cities(12, index)
    batch.server.script(*(Reply(content=f"answer {i}", reasoning=f"thought {i}",
                                usage=Usage(100 + i, 10 + i, cached_tokens=40)) for i in range(12)))
    out = run(df, reasoning=True)

    assert list(out.index) == index
    assert out["answer"].tolist() == [f"answer {i}" for i in range(12)]  # lines run in row order
    assert out["reasoning"].tolist() == [f"thought {i}" for i in range(12)]
    assert out["error"].isna().all()
    assert out["tokens_in"].tolist() == [100 + i for i in range(12)]
    assert out["tokens_out"].tolist() == [10 + i for i in range(12)]
    price = PRESETS["moonshot"].price_of(out.attrs["kimi_map"]["model"])
    assert price is not None
    assert out["cost"].tolist() == pytest.approx([price.cost(100 + i, 10 + i, 40) for i in range(12)])
    assert price.cost(100, 10, 40) < price.cost(100, 10, 0)  # the cached tokens were read

    assert batch.server.chat_requests == []  # every row went through the batch
    (created,) = batches(batch)
    lines = sent(batch, created)
    assert [line["custom_id"] for line in lines] == keys_of(out)
    for i, line in enumerate(lines):
        assert (line["method"], line["url"]) == ("POST", "/v1/chat/completions")
        body = line["body"]
        assert body["stream"] is False and "stream_options" not in body
        assert body["model"] == out.attrs["kimi_map"]["model"]
        assert body["messages"][-1] == {"role": "user", "content": f"Where is city {i}?"}
    assert parked_batches(out) == 0  # every part read: nothing left to pick up


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_a_failed_line_is_that_rows_error_and_a_rerun_asks_only_it(batch: Kimi) -> None:
    df = cities(5)
    failure = {"error": {"message": "The engine is currently overloaded", "type": "engine_overloaded_error"}}
    batch.server.script(Reply(content="a0"), Reply(content="a1"), Reply(status=500, error=failure),
                        Reply(content="a3"), Reply(content="a4"))
    out = run(df)

    assert out["answer"].tolist()[:2] == ["a0", "a1"] and out["answer"].tolist()[3:] == ["a3", "a4"]
    assert out["error"].isna().tolist() == [True, True, False, True, True]  # that row only
    error = out["error"].tolist()[2]
    assert "500" in error and "The engine is currently overloaded" in error and "\n" not in error

    again = run(df)
    _, second = batches(batch)
    assert [line["custom_id"] for line in sent(batch, second)] == [keys_of(out)[2]]
    assert again["answer"].tolist() == ["a0", "a1", "Echo: Where is city 2?", "a3", "a4"]
    assert again["error"].isna().all()


class Verdict(BaseModel):
    label: str
    score: int


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_a_typed_answer_that_misses_the_schema_names_the_field(batch: Kimi) -> None:
    df = cities(4)
    batch.server.script(Reply(content='{"label": "north", "score": 1}'), Reply(content='{"label": "east", "score": 2}'),
                        Reply(content='{"label": "south", "score": "high"}'),
                        Reply(content='```json\n{"label": "west", "score": 4}\n```'))
    out = run(df, schema=Verdict)

    assert out["label"].tolist()[:2] == ["north", "east"] and out["label"].tolist()[3] == "west"
    assert out["score"].tolist()[:2] == [1, 2] and out["score"].tolist()[3] == 4
    assert out["error"].isna().tolist() == [True, True, False, True]
    error = out["error"].tolist()[2]
    assert "score" in error and "repair round" in error and "backend='batch'" in error
    (created,) = batches(batch)
    assert sent(batch, created)[0]["body"]["response_format"]["type"] == "json_schema"

    # The error's advice holds: without backend='batch' only that row is asked again, with a repair round.
    batch.server.script(Reply(content='{"label": "south", "score": 3}'))
    fixed = kimi_lab.map("Where is {city}?", df, schema=Verdict, progress="none", confirm=False)
    assert len(batch.server.chat_requests) == 1
    assert fixed["label"].tolist() == ["north", "east", "south", "west"]
    assert fixed["error"].isna().all()


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_requests_above_the_file_limit_are_split_into_parts(batch: Kimi, monkeypatch: pytest.MonkeyPatch) -> None:
    df = cities(12)
    monkeypatch.setitem(provider_batch.run_batch.__kwdefaults__, "max_bytes", 1_200)
    out = run(df)

    made = batches(batch)
    assert len(made) >= 2
    inputs = [sent(batch, created) for created in made]
    assert all(len(kimi_lab_bytes(lines)) <= 1_200 for lines in inputs)
    assert sorted(line["custom_id"] for lines in inputs for line in lines) == sorted(keys_of(out))
    assert out["answer"].tolist() == [f"Echo: Where is city {i}?" for i in range(12)]
    assert out["error"].isna().all()


def kimi_lab_bytes(lines: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n" for line in lines).encode()


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_a_batch_created_before_an_interrupt_is_picked_up_not_sent_again(
        batch: Kimi, monkeypatch: pytest.MonkeyPatch) -> None:
    df = cities(12)

    def kernel_dies(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(provider_batch, "_pause", kernel_dies)
    with pytest.raises(KimiInterrupted) as stopped:
        run(df)
    assert "not cancelled" in stopped.value.message and "run the same cell again" in stopped.value.message
    assert (posts(batch, "/v1/files"), posts(batch, "/v1/batches")) == (1, 1)
    assert not any(r.path.endswith("/cancel") for r in batch.server.requests)

    monkeypatch.setattr(provider_batch, "_pause", bounded_pause())
    out = run(df)
    assert (posts(batch, "/v1/files"), posts(batch, "/v1/batches")) == (1, 1)  # nothing uploaded or created again
    (created,) = batches(batch)
    assert created.status == "completed" and created.request_counts.total == 12
    assert out["answer"].tolist() == [f"Echo: Where is city {i}?" for i in range(12)]
    assert out["error"].isna().all()
    assert parked_batches(out) == 0


@pytest.mark.parametrize("server", [{"batch_step": 0.02, "batch_rows_per_step": 2, "batch_window": 0.07}],
                         indirect=True)
def test_expired_rows_carry_an_error_and_a_rerun_asks_only_them(batch: Kimi) -> None:
    df = cities(12)
    out = run(df)

    # 0.02 s validating, then 2 lines a step: 4 lines ran before the 0.07 s window ended.
    assert out["answer"].tolist()[:4] == [f"Echo: Where is city {i}?" for i in range(4)]
    expired = out["error"].tolist()[4:]
    assert out["error"].isna().tolist() == [True] * 4 + [False] * 8
    assert all("completion window" in e and "run the same cell again" in e for e in expired)

    again = run(df)
    first, second = batches(batch)
    assert first.status == "expired"
    assert [line["custom_id"] for line in sent(batch, second)] == keys_of(out)[4:]
    assert again["answer"].tolist()[:8] == [f"Echo: Where is city {i}?" for i in range(8)]
    assert again["error"].isna().tolist() == [True] * 8 + [False] * 4


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_a_finished_job_sends_no_batch_again(batch: Kimi) -> None:
    df = cities(3)
    out = run(df)
    assert (posts(batch, "/v1/files"), posts(batch, "/v1/batches")) == (1, 1)
    seen = len(batch.server.requests)

    again = run(df)
    later = [r.path for r in batch.server.requests[seen:]]
    assert not [p for p in later if p.startswith(("/v1/files", "/v1/batches", "/v1/chat"))]  # not even a poll
    pd.testing.assert_frame_equal(again, out)


def test_a_local_model_has_no_batch_api() -> None:
    plan = SimpleNamespace(target=SimpleNamespace(provider=SimpleNamespace(name="local", dialect="native")))
    with pytest.raises(KimiConfigError) as refused:
        provider_batch.run_batch(plan, None, [], {}, None)  # type: ignore[arg-type]
    assert "backend='batch' needs a provider with a batch API" in refused.value.message
    assert "\n" not in refused.value.message


@pytest.mark.parametrize("server", [FAST], indirect=True)
def test_tools_are_refused_before_anything_is_sent(batch: Kimi) -> None:
    with pytest.raises(KimiConfigError) as refused:
        run(cities(2), tools="data")
    assert "tools='none'" in refused.value.message
    assert posts(batch, "/v1/files") == 0



@pytest.mark.parametrize("server", [{**FAST, "models": ["kimi-k2.6"]}], indirect=True)
def test_a_refused_batch_is_one_line_with_the_providers_reason(batch: Kimi) -> None:
    with pytest.raises(KimiError) as refused:
        run(cities(3), model="kimi-k9")
    message = refused.value.message
    assert "refused the batch" in message and "'kimi-k9' does not exist" in message and "\n" not in message
    assert batch.server.chat_requests == []
    again_before = posts(batch, "/v1/batches")
    with pytest.raises(KimiError):
        run(cities(3), model="kimi-k9")
    assert posts(batch, "/v1/batches") == again_before + 1  # the refused batch is not picked up again
