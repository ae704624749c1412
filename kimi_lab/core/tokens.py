"""Token counts before anything is sent: an estimate, said to be one wherever it is shown.

Kimi's tokenizer (a 160K vocabulary) averages close to four characters a token on English prose and
fewer on code, numbers and other scripts; four characters a token, rounded up, is the documented
estimate here. Where a provider counts for us (Moonshot's estimate-token-count endpoint) or the model
is local (its own tokenizer), those are better and replace this.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["CHARS_PER_TOKEN", "estimate_message_tokens", "estimate_tokens"]

CHARS_PER_TOKEN = 4
_PER_MESSAGE = 4  # role and separators each message adds in the chat template


def estimate_tokens(text: str) -> int:
    return -(-len(text) // CHARS_PER_TOKEN)


def estimate_message_tokens(messages: list[dict[str, Any]]) -> int:
    total = 0
    for m in messages:
        content = m.get("content")
        total += _PER_MESSAGE + estimate_tokens(content if isinstance(content, str) else json.dumps(content))
    return total
