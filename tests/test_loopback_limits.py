"""The loopback server's Moonshot rate limits and its latency knob, driven by the real openai SDK.

Why: kimi_lab must pace and retry against Moonshot's tiers (entry tier: concurrency 1, 3 RPM, 500,000 TPM), and
benchmarks need a server that takes a set time per request without serialising requests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import openai
import pytest

from kimi_lab.testing import LoopbackServer, Reply
from kimi_lab.testing._limits import estimated_tokens

KEY = "sk-loopback"
USER = [{"role": "user", "content": "hi"}]

_OPEN: list[openai.OpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def sdk(srv: LoopbackServer) -> openai.OpenAI:
    client = openai.OpenAI(api_key=KEY, base_url=srv.base_url, max_retries=0, timeout=10)
    _OPEN.append(client)
    return client


def ask(client: openai.OpenAI, **extra: Any) -> Any:
    return client.chat.completions.create(model="kimi-k2.6", messages=USER, **extra)  # type: ignore[arg-type]


def wait_until(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        threading.Event().wait(0.01)
    return condition()


def test_fourth_request_in_the_window_gets_moonshots_429() -> None:
    with LoopbackServer(api_key=KEY, limits={"concurrency": 1, "rpm": 3}, limit_window=2.0) as srv:
        client = sdk(srv)
        for _ in range(3):
            assert ask(client).choices[0].message.content == "Echo: hi"
        with pytest.raises(openai.RateLimitError) as limited:
            ask(client)
        error = limited.value
        assert error.status_code == 429
        retry_after = error.response.headers["retry-after"]
        assert retry_after.isdigit() and 1 <= int(retry_after) <= 2
        assert error.body["type"] == "rate_limit_reached_error"
        assert set(error.body) == {"message", "type"}  # Moonshot's shape: no code, no param
        assert "max RPM: 3" in error.body["message"]
        assert f"please try again after {retry_after} seconds" in error.body["message"]
        assert srv.rate_limited == 1 and srv.max_in_flight == 1
        assert len(srv.chat_requests) == 4  # the refused request is recorded too


def test_the_window_slides() -> None:
    with LoopbackServer(api_key=KEY, limits={"rpm": 1}, limit_window=0.3) as srv:
        client = sdk(srv)
        started = time.monotonic()
        ask(client)
        with pytest.raises(openai.RateLimitError):
            ask(client)

        def accepted() -> bool:
            try:
                ask(client)
            except openai.RateLimitError:
                return False
            return True

        assert wait_until(accepted)
        assert time.monotonic() - started >= 0.3
        assert srv.rate_limited >= 1


def test_requests_over_the_concurrency_cap_get_429() -> None:
    with LoopbackServer(api_key=KEY, limits={"concurrency": 1}) as srv:
        client = sdk(srv)
        srv.script(Reply(content="slow", first_delay=0.5))
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(ask, client)
            assert wait_until(lambda: srv.max_in_flight == 1)
            with pytest.raises(openai.RateLimitError) as limited:
                ask(client)
            assert slow.result().choices[0].message.content == "slow"
        assert limited.value.response.headers["retry-after"] == "1"
        assert "max concurrency: 1" in limited.value.body["message"]
        assert limited.value.body["type"] == "rate_limit_reached_error"
        assert ask(client).choices[0].message.content == "Echo: hi"  # the slot is free again
        assert (srv.rate_limited, srv.max_in_flight) == (1, 1)


def test_concurrent_burst_never_exceeds_the_cap() -> None:
    with LoopbackServer(api_key=KEY, limits={"concurrency": 2}, latency=0.5) as srv:
        client = sdk(srv)
        barrier = threading.Barrier(6)

        def one(_: int) -> int:
            barrier.wait()
            try:
                ask(client)
            except openai.RateLimitError:
                return 429
            return 200

        with ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(one, range(6)))
        assert codes.count(200) >= 2 and codes.count(429) >= 1
        assert srv.rate_limited == codes.count(429)
        assert srv.max_in_flight == 2


def test_tokens_per_minute_count_input_and_max_tokens() -> None:
    body = {"messages": USER, "max_tokens": 60}
    assert estimated_tokens(body) == 60 + len('[{"role":"user","content":"hi"}]') // 4
    assert estimated_tokens({"messages": USER}) == estimated_tokens(body) - 60
    with LoopbackServer(api_key=KEY, limits={"tpm": 100}, limit_window=5.0) as srv:
        client = sdk(srv)
        ask(client, max_tokens=60)
        with pytest.raises(openai.RateLimitError) as limited:
            ask(client, max_tokens=60)
        message = limited.value.body["message"]
        assert "TPM rate limit" in message and "limit: 100" in message
        assert f"current: {2 * estimated_tokens(body)}" in message
        assert limited.value.body["type"] == "rate_limit_reached_error"
        assert int(limited.value.response.headers["retry-after"]) >= 1
        ask(client)  # without max_tokens this one still fits
        assert srv.rate_limited == 1


def test_limits_apply_to_chat_only() -> None:
    with LoopbackServer(api_key=KEY, limits={"rpm": 1}) as srv:
        client = sdk(srv)
        ask(client)
        for _ in range(3):
            assert client.models.list().data
            assert client.files.list().data == []
        assert srv.rate_limited == 0


def test_limit_options_are_checked() -> None:
    for bad in ({"rps": 1}, {"rpm": 0}, {"tpm": 1.5}, {"concurrency": True}):
        with pytest.raises(ValueError):
            LoopbackServer(limits=bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        LoopbackServer(limit_window=0)
    with pytest.raises(ValueError):
        LoopbackServer(latency=-1)


# -- latency ----------------------------------------------------------------------------------------------------


def test_latency_delays_an_unscripted_answer() -> None:
    with LoopbackServer(api_key=KEY, latency=0.2) as srv:
        client = sdk(srv)
        started = time.monotonic()
        assert ask(client).choices[0].message.content == "Echo: hi"
        assert time.monotonic() - started >= 0.2
        started = time.monotonic()
        stream = ask(client, stream=True)
        next(iter(stream))
        assert time.monotonic() - started >= 0.2  # before the first byte of a stream too
        stream.close()


def test_latency_does_not_delay_scripted_replies() -> None:
    with LoopbackServer(api_key=KEY, latency=5.0) as srv:
        client = sdk(srv)
        srv.script(Reply(content="at once"))
        started = time.monotonic()
        assert ask(client).choices[0].message.content == "at once"
        assert time.monotonic() - started < 2.0


def test_latency_is_waited_in_parallel() -> None:
    with LoopbackServer(api_key=KEY, latency=0.2) as srv:
        client = sdk(srv)
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda _: ask(client).choices[0].message.content, range(8)))
        elapsed = time.monotonic() - started
        assert answers == ["Echo: hi"] * 8
        assert 0.2 <= elapsed < 0.8  # 8 x 0.2 s one after another would be 1.6 s
        assert srv.max_in_flight >= 4
