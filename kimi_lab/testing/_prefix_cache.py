"""Automatic prefix caching, as the loopback server emulates it (opt-in: `LoopbackServer(prefix_cache=True)`).

What providers document: most cache automatically, with no request field; a request whose prompt begins
with what an earlier request sent is billed for that prefix at the cache-read price, and the usage says how
many prompt tokens were read from cache: `usage.prompt_tokens_details.cached_tokens` (OpenRouter's prompt
caching guide, https://openrouter.ai/docs/guides/best-practices/prompt-caching, which lists Moonshot's cache
read at 0.25x the input price), and on Moonshot's own API for Kimi K2 also a top-level `usage.cached_tokens`
(real K2.5 responses quoted in openclaw/openclaw#25436: `"prompt_tokens": 1113, "cached_tokens": 1024`).
Each dialect's usage shape is the loopback server's own (kimi_lab/testing/_dialects.py).

The prompt a provider caches is the rendered chat template, and Kimi's template declares the tools first,
then the messages in order (moonshotai/Kimi-K2-Thinking's chat_template.jinja; kimi_lab/native/_template.py).
So the prompt here is the tools as sent, then each message as sent, compact JSON with keys in the order the
client wrote them: stricter than a template that sorts keys, which is the point, since a prefix that is not
byte-stable misses at some host. `cached_tokens` is the longest common prefix with any earlier prompt of the
same model, at four characters a token; providers round down to blocks (the 1,024 of 1,113 above), which
this does not, so that small test prompts show their hits.
"""

from __future__ import annotations

import math
import threading
from typing import Any

from kimi_lab.testing._replies import Usage, _dumps

__all__ = ["PrefixCache", "prompt_text"]

_REMEMBERED = 256  # prompts kept per model; the oldest is forgotten first, like an evicted cache entry


def prompt_text(body: dict[str, Any]) -> str:
    """What this emulation caches of a chat request: the tools, then every message, as sent."""
    tools = body.get("tools")
    parts = [_dumps(tools)] if tools else []
    messages = body.get("messages")
    parts += [_dumps(m) for m in messages] if isinstance(messages, list) else []
    return "".join(parts)


def _common(a: str, b: str) -> int:
    """Length of the common prefix of a and b (binary search over slice comparisons: C speed)."""
    low, high = 0, min(len(a), len(b))
    while low < high:
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


class PrefixCache:
    """The prompts seen so far, per model; `usage` reports a request's prompt and cached tokens."""

    def __init__(self) -> None:
        self._seen: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def usage(self, body: dict[str, Any], usage: Usage) -> Usage:
        """`usage` with prompt_tokens and cached_tokens from this request's prompt; remembers it."""
        text = prompt_text(body)
        model = str(body.get("model"))
        with self._lock:
            seen = self._seen.setdefault(model, [])
            hit = max((_common(text, earlier) for earlier in seen), default=0)
            seen.append(text)
            del seen[:-_REMEMBERED]
        prompt = math.ceil(len(text) / 4)
        return Usage(prompt, usage.completion_tokens, min(hit // 4, prompt), usage.reasoning_tokens)
