"""Admission control for many requests at once: a concurrency cap, requests-per-minute and
tokens-per-minute budgets, and one cooldown that every worker honours.

Why one cooldown: a 429 with `Retry-After` says the account is over its limit, not that one request
was. If each worker backed off on its own, the others would keep hitting the limit (and some providers
lengthen the penalty for that); so a 429 pauses all admissions until the time the provider named.

RPM is paced evenly (one admission every `window / rpm` seconds, plus a margin of `PACING_MARGIN`), which
keeps the admitted rate just under the limit without bursts: paced exactly at it, the network's jitter lets
a provider's sliding window see rpm + 1 requests in one window, and answer the last one 429. TPM is a token bucket that
refills `tpm` tokens per window. Waits are bounded slices on a condition, woken by `stop`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["PACING_MARGIN", "Admission"]

_SLICE = 0.25  # longest single wait: a stop is seen within this
PACING_MARGIN = 0.02  # RPM spacing this much longer than window / rpm


class Admission:
    """Thread-safe; `acquire()` before a request, `release()` after it, `cool_down(s)` on a 429."""

    def __init__(self, concurrency: int, *, rpm: float | None = None, tpm: float | None = None,
                 window: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 stop: threading.Event | None = None) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        for name, value in (("rpm", rpm), ("tpm", tpm)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be above 0")
        self.concurrency, self.rpm, self.tpm, self.window = concurrency, rpm, tpm, window
        self._clock = clock
        self.stop = stop or threading.Event()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._next_start = clock()  # RPM: the earliest time the next request may start
        self._tokens = float(tpm) if tpm else 0.0  # TPM bucket, full at the start
        self._refilled = clock()
        self._cool_until = 0.0
        self.admitted = 0
        self.cooldowns = 0  # how many 429s paused everyone
        # when the latest requests were admitted (benchmarks read the rate); bounded, so memory stays flat
        self.admit_times: deque[float] = deque(maxlen=65536)

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    @property
    def cooling(self) -> float:
        """Seconds of cooldown left (0 when none)."""
        with self._cond:
            return max(0.0, self._cool_until - self._clock())

    def _refill(self, now: float) -> None:
        if self.tpm:
            self._tokens = min(float(self.tpm), self._tokens + (now - self._refilled) * self.tpm / self.window)
        self._refilled = now

    def _wait_needed(self, tokens: int, now: float) -> float:
        """Seconds until this request may start; 0 when it may start now."""
        waits = [self._cool_until - now]
        if self._in_flight >= self.concurrency:
            waits.append(_SLICE)  # until a release notifies
        if self.rpm:
            waits.append(self._next_start - now)
        if self.tpm:
            need = min(float(tokens), float(self.tpm))  # a request bigger than the bucket waits for a full one
            if self._tokens < need:
                waits.append((need - self._tokens) * self.window / self.tpm)
        return max(0.0, *waits)

    def acquire(self, tokens: int = 0) -> bool:
        """Block until the request may start; False when `stop` was set first."""
        with self._cond:
            while True:
                if self.stop.is_set():
                    return False
                now = self._clock()
                self._refill(now)
                wait = self._wait_needed(tokens, now)
                if wait <= 0:
                    break
                self._cond.wait(min(wait, _SLICE))
            self._in_flight += 1
            if self.rpm:
                self._next_start = max(self._next_start, now) + self.window / self.rpm * (1 + PACING_MARGIN)
            if self.tpm:
                self._tokens -= min(float(tokens), float(self.tpm))
            self.admitted += 1
            self.admit_times.append(now)
            return True

    def release(self) -> None:
        with self._cond:
            self._in_flight -= 1
            self._cond.notify_all()

    def cool_down(self, seconds: float) -> None:
        """Pause every admission for `seconds` from now (a later, longer pause wins)."""
        with self._cond:
            until = self._clock() + max(0.0, seconds)
            if until > self._cool_until:
                self._cool_until = until
                self.cooldowns += 1
            self._cond.notify_all()

    def wake(self) -> None:
        """Wake every waiter (after `stop` is set) so none waits out its slice."""
        with self._cond:
            self._cond.notify_all()
