"""The admission control map's workers share: a concurrency cap, RPM pacing just under the limit, a
TPM bucket, one cooldown for everyone, and a stop that no waiter outlives."""

from __future__ import annotations

import threading
import time

import pytest

from kimi_lab.core.admission import PACING_MARGIN, Admission


def admit(adm: Admission, n: int, tokens: int = 0) -> list[float]:
    times = []
    for _ in range(n):
        assert adm.acquire(tokens)
        times.append(time.monotonic())
        adm.release()
    return times


def test_rpm_paces_just_under_the_limit_so_no_window_sees_rpm_plus_one():
    adm = Admission(8, rpm=10, window=0.5)
    times = admit(adm, 11)
    span = times[-1] - times[0]  # paced exactly at the limit, 11 requests would fit in one 0.5 s window
    assert span >= 0.5 * (1 + PACING_MARGIN) - 0.001
    assert span < 0.5 * 1.2, "and not much slower than the limit"


def test_concurrency_caps_requests_in_flight():
    adm = Admission(3)
    peak, now, lock = [0], [0], threading.Lock()
    gate = threading.Event()

    def work() -> None:
        assert adm.acquire()
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        gate.wait(0.05)
        with lock:
            now[0] -= 1
        adm.release()

    threads = [threading.Thread(target=work) for _ in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert peak[0] == 3 and adm.admitted == 9


def test_tpm_bucket_waits_for_tokens_to_refill():
    adm = Admission(4, tpm=1000, window=1.0)  # 1,000 tokens a second, full at the start
    start = time.monotonic()
    admit(adm, 2, tokens=500)  # the whole bucket at once
    assert time.monotonic() - start < 0.1
    admit(adm, 1, tokens=250)  # a quarter second of refill
    assert time.monotonic() - start >= 0.2


def test_a_cooldown_pauses_every_waiter_and_a_longer_one_wins():
    adm = Admission(4)
    adm.cool_down(0.3)
    adm.cool_down(0.1)  # shorter: does not cut the first short
    start = time.monotonic()
    admit(adm, 1)
    assert time.monotonic() - start >= 0.28 and adm.cooldowns == 1


def test_stop_wakes_waiters_at_once_and_nothing_is_admitted_after_it():
    adm = Admission(1, rpm=1, window=60.0)
    assert adm.acquire()
    adm.release()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(adm.acquire()))
    waiter.start()
    start = time.monotonic()
    adm.stop.set()
    adm.wake()
    waiter.join(2)
    assert result == [False] and time.monotonic() - start < 0.5
    assert not adm.acquire()


@pytest.mark.parametrize("kwargs", [{"concurrency": 0}, {"concurrency": 1, "rpm": 0}, {"concurrency": 1, "tpm": -5}])
def test_impossible_limits_are_refused(kwargs):
    with pytest.raises(ValueError):
        Admission(**kwargs)
