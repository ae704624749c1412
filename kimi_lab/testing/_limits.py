"""Moonshot's rate limits for the loopback server: concurrency, requests per minute, tokens per minute.

Why: a client that runs many chat requests (a batch of cells, a benchmark) must pace itself against the limits
of the account it uses; the entry tier is tiny (§8, and platform.moonshot.ai/docs/pricing/limits: Tier0 has
concurrency 1, 3 RPM, 500,000 TPM). This module counts what is in flight and what started in the last window
and says when a chat request is over a limit. It always counts, so `max_in_flight` is known without limits.

Sources: "§8" is /work/shared/kimi-protocol.md section 8; "owner/repo#N" are GitHub issues quoting Moonshot's
responses. Wording marked "unconfirmed" follows the pattern of the confirmed messages.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import Any

from kimi_lab.testing._providers import moonshot_error
from kimi_lab.testing._replies import _dumps

LIMIT_KINDS: tuple[str, ...] = ("concurrency", "rpm", "tpm")
# Moonshot names the account and key in its rate-limit messages ("Your account xxxxx / proj-xxxxxx <ak-xxxxx>
# request reached ...": LLM-Red-Team/kimi-cc#41); these stand in for them.
_ACCOUNT = "org-loopback<ak-loopback>"


def estimated_tokens(body: dict[str, Any]) -> int:
    """What a chat request counts against TPM: its messages at about four characters a token (the estimate the
    server's usage uses; Moonshot puts an English token at 3 to 4 characters, platform.kimi.ai/docs/intro), plus
    the output it may ask for: Moonshot's gateway computes rate limits from the request's max_tokens (Moonshot's
    Main Concepts page, section Rate Limits, platform.moonshot.cn/docs/introduction); max_completion_tokens is the
    newer name of that field (§8). A request naming neither counts its input only: what Moonshot counts then is not
    documented."""
    tokens = len(_dumps(body.get("messages", []))) // 4
    asked = body.get("max_tokens", body.get("max_completion_tokens"))
    if isinstance(asked, int) and not isinstance(asked, bool) and asked > 0:
        tokens += asked
    return tokens


class Limits:
    """In-flight and sliding-window accounting for chat requests; thread-safe."""

    def __init__(self, limits: dict[str, int] | None, window: float) -> None:
        caps = dict(limits or {})
        unknown = set(caps) - set(LIMIT_KINDS)
        if unknown:
            raise ValueError(f"unknown limits {sorted(unknown)}; expected some of {LIMIT_KINDS}")
        for kind, value in caps.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"limits[{kind!r}] must be an int >= 1, got {value!r}")
        if not window > 0:
            raise ValueError("limit_window must be > 0")
        self.caps = caps
        self.window = float(window)
        self.rate_limited = 0
        self.max_in_flight = 0
        self._in_flight = 0
        self._started: deque[tuple[float, int]] = deque()  # (time.monotonic(), tokens) of admitted requests
        self._lock = threading.Lock()

    def admit(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """Start a chat request: None when it may run (then call release() when its response is written), else the
        429 to send. A refused request counts in neither the window nor the in-flight number: Moonshot's message
        tells the caller to "try again after N seconds" (MoonshotAI/Kimi-K2#34), which would not help if refusals
        filled the window."""
        tokens = estimated_tokens(body)
        now = time.monotonic()
        with self._lock:
            while self._started and self._started[0][0] <= now - self.window:
                self._started.popleft()
            refusal = self._refusal(tokens, now)
            if refusal is not None:
                self.rate_limited += 1
                message, wait = refusal
                # Retry-After in whole seconds (delay-seconds, RFC 9110 section 10.2.3), at least 1, the same number
                # as the message's "please try again after N seconds". §8 says to honour Retry-After on Moonshot's
                # 429s; one real Moonshot 429 carried no rate-limit headers (lucasdicioccio/agents-exe#336), so
                # the header is this server's choice, made so clients can be tested against it.
                retry_after = max(1, math.ceil(wait))
                message = message.replace("{wait}", str(retry_after))
                return 429, moonshot_error(message, "rate_limit_reached_error"), {"Retry-After": str(retry_after)}
            self._started.append((now, tokens))
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        return None

    def release(self) -> None:
        """A request admitted by admit() has been answered (or its connection dropped)."""
        with self._lock:
            self._in_flight -= 1

    def _refusal(self, tokens: int, now: float) -> tuple[str, float] | None:
        """(message, seconds to wait) for the first limit this request would break, else None. Lock held."""
        caps = self.caps
        concurrency = caps.get("concurrency")
        if concurrency is not None and self._in_flight >= concurrency:
            # Unconfirmed wording, after the RPM message below; "max organization concurrency ... please try again
            # after 1 seconds" is quoted in Graphify-Labs/graphify#1523.
            return (
                f"Your account {_ACCOUNT} request reached organization max concurrency: {concurrency}, "
                "please try again after {wait} seconds",
                1.0,
            )
        rpm = caps.get("rpm")
        if rpm is not None and len(self._started) >= rpm:
            # "request reached organization max RPM: 3, please try again after 1 seconds" (MoonshotAI/Kimi-K2#34;
            # the "Your account ..." prefix: harry0703/MoneyPrinterTurbo#339, LLM-Red-Team/kimi-cc#41).
            oldest = self._started[len(self._started) - rpm][0]
            return (
                f"Your account {_ACCOUNT} request reached organization max RPM: {rpm}, "
                "please try again after {wait} seconds",
                oldest + self.window - now,
            )
        tpm = caps.get("tpm")
        used = sum(t for _, t in self._started)
        if tpm is not None and used + tokens > tpm:
            # "request reached project TPM rate limit, current: 1410, limit: 100, see .../docs/pricing/limits"
            # (LLM-Red-Team/kimi-cc#41); "organization" in place of "project" is unconfirmed, as the tiers are
            # per account. The wait is until enough earlier requests leave the window (a full window when this
            # request alone is over the limit).
            wait = self.window
            freed = 0
            for started, counted in self._started:
                freed += counted
                if used - freed + tokens <= tpm:
                    wait = started + self.window - now
                    break
            return (
                f"Your account {_ACCOUNT} request reached organization TPM rate limit, current: {used + tokens}, "
                f"limit: {tpm}, see https://platform.moonshot.ai/docs/pricing/limits",
                wait,
            )
        return None
