"""Will the question fit? The whole request (system, history, tools, files) against the model's context.

A request that does not fit fails at the provider after the upload, or (worse) is cut by a server that
truncates; so it is refused here, before anything is sent, with the numbers and what to drop.

The rule that keeps a normal question fast: the request is first estimated at four characters a token
(core/tokens.py, no I/O, microseconds). Below 75% of the room (the context minus the answer's budget) it
goes out uncounted: the estimate is within ±25% on prose and code. At 75% or more it is counted for real
where that is possible: Moonshot's `POST /v1/tokenizers/estimate-token-count` for the moonshot preset (one
small request, only for a question that big), or the GGUF's own tokenizer for `-p local` once the model is
loaded. Elsewhere the estimate decides, and every message says "~" for it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from kimi_lab.common.errors import KimiConfigError
from kimi_lab.core.tokens import estimate_message_tokens, estimate_tokens
from kimi_lab.settings.providers import PRESETS

if TYPE_CHECKING:
    from kimi_lab.backends.base import ChatRequest
    from kimi_lab.services.attachments import Attachment
    from kimi_lab.settings.config import KimiLab
    from kimi_lab.settings.target import Target

__all__ = ["CHECK_SHARE", "ESTIMATE_PATH", "MODEL_CONTEXTS", "Fit", "check_fits", "context_window"]

#: Counted for real only from this share of the room on: below it the estimate's error cannot matter.
CHECK_SHARE = 0.75
#: Moonshot's token counter (platform.moonshot.ai/docs/api/estimate): a chat request's `model` and `messages`
#: in, `{"data": {"total_tokens": N}}` out; messages of role system, user or assistant, none empty.
ESTIMATE_PATH = "/tokenizers/estimate-token-count"
COUNT_TIMEOUT = 10.0
#: Contexts that differ from the preset's figure, by model id (shared/kimi-protocol.md §8: K3 1,048,576,
#: K2.x 262,144). A provider's listing (OpenRouter's `context_length`) or a preset's own `context` wins.
MODEL_CONTEXTS: tuple[tuple[str, int], ...] = ((r"kimi-k3.*", 1_048_576),)


@dataclass(frozen=True)
class Fit:
    """How big the request is and what it may be."""

    tokens: int
    exact: bool  # counted by the provider or the model's tokenizer; else the ~4-characters estimate
    window: int  # the model's context
    reserve: int  # kept for the answer (its reasoning included)
    estimate: int  # the ~4-characters estimate of the same request, to share a count out among its parts

    @property
    def shown(self) -> str:
        return f"{'' if self.exact else '~'}{self.tokens:,}"


def context_window(target: Target) -> int:
    """The model's context in tokens: the provider's listing or the user's preset when they say, else the
    model's known figure, else the preset's."""
    from kimi_lab.backends.listing import cached_listing

    listing = cached_listing(target)
    entry = listing.get(target.model) if listing is not None else None
    if entry is not None and entry.context:
        return entry.context
    preset = PRESETS.get(target.provider.name)
    if preset is None or target.provider.context != preset.context:  # set in KimiLab.presets
        return target.provider.context
    name = target.model.rsplit("/", 1)[-1]
    return next((size for pattern, size in MODEL_CONTEXTS if re.fullmatch(pattern, name, re.IGNORECASE)),
                target.provider.context)


def _estimate(request: ChatRequest) -> int:
    """Everything the request sends at four characters a token: texts, echoed reasoning, calls, tools."""
    tools = estimate_tokens(json.dumps(request.tools, ensure_ascii=False)) if request.tools else 0
    return estimate_message_tokens(_countable(request.messages)) + tools


def _is_moonshot(target: Target) -> bool:
    host = (target.base_url or "").split("//", 1)[-1].split("/", 1)[0]
    return target.provider.name == "moonshot" or host.endswith(("moonshot.ai", "moonshot.cn"))


def _countable(messages: Sequence[dict[str, Any]]) -> list[dict[str, str]]:
    """The messages in the shape the counter takes (roles system/user/assistant, text content, none empty):
    a tool result counts as the text it is, a call as its arguments, echoed reasoning as text too."""
    out = []
    for m in messages:
        content = m.get("content")
        parts = [content if isinstance(content, str) else json.dumps(content, ensure_ascii=False) if content else ""]
        parts.append(m.get("reasoning_content") or "")
        parts += [json.dumps(call.get("function", {}), ensure_ascii=False) for call in m.get("tool_calls") or ()]
        text = "\n".join(p for p in parts if p)
        if text:
            role = m.get("role")
            out.append({"role": role if role in ("system", "user", "assistant") else "user", "content": text})
    return out


def _moonshot_count(request: ChatRequest, target: Target, cfg: KimiLab) -> int | None:
    """Moonshot's count of the messages (the tools added at the estimate: the endpoint documents only
    `model` and `messages`); None when it cannot be had, and the estimate decides."""
    from kimi_lab.backends.remote import _client

    body = {"model": request.model, "messages": _countable(request.messages)}
    try:
        client = _client(target, cfg).with_options(timeout=min(cfg.timeout, COUNT_TIMEOUT), max_retries=0)
        answer = client.post(ESTIMATE_PATH, cast_to=object, body=body)
        total = answer["data"]["total_tokens"]
    except Exception:  # no such endpoint, unreachable, another shape: the question is not stopped for it
        return None
    if not isinstance(total, int) or total < 0:
        return None
    tools = estimate_tokens(json.dumps(request.tools, ensure_ascii=False)) if request.tools else 0
    return total + tools


def _loaded_model(spec: str) -> Any:
    """The GGUF `spec` names when this kernel has it loaded already, whatever its context size (the
    tokenizer is the file's); a path only: a hub id is not resolved here, that may need the network."""
    from kimi_lab.backends import _models

    if not spec.lower().endswith(".gguf"):
        return None
    path = os.path.abspath(os.path.expanduser(spec))
    return next((m for m in _models.loaded() if m.path == path), None)


def _local_count(request: ChatRequest, model: Any) -> int | None:
    try:
        if model.native:
            from kimi_lab.native import render

            text = render(request.messages, request.tools, add_generation_prompt=True)
            return len(model.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))
        text = "\n".join(str(m.get("content") or "") for m in request.messages)
        return len(model.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))
    except Exception:
        return None


def _advice(fit: Fit, request: ChatRequest, files: Sequence[Attachment], local: bool) -> str:
    """What to drop, biggest first: the files whose removal would make it fit, the history, the budget."""
    over = fit.tokens - (fit.window - fit.reserve)
    scale = fit.tokens / max(fit.estimate, 1)  # a part's share of a real count: its estimate, scaled alike
    ways: list[str] = []
    dropped, names = 0.0, []
    for file in sorted(files, key=lambda f: f.tokens, reverse=True):
        names.append(f"{file.option}")
        dropped += file.tokens * scale
        if dropped >= over:
            ways.append("drop " + " and ".join(names))
            break
    history = [m for m in request.messages[:-1] if m.get("role") != "system"]
    if history and estimate_message_tokens(_countable(history)) * scale >= over:
        ways.append("start a new chat with --new")
    if local:
        ways.append("raise %config KimiLab.n_ctx (or --n-ctx)")
    elif fit.reserve - over >= 1_024:
        ways.append(f"lower --max-tokens to {fit.reserve - over:,} or less")
    return " or ".join(ways) if ways else "shorten the question"


def check_fits(request: ChatRequest, target: Target, cfg: KimiLab, *, files: Sequence[Attachment] = (),
               backend: Any = None, count: bool = True) -> Fit:
    """The request's size against the model's context; raise KimiConfigError (the numbers and what to
    drop) when it would not fit with the answer's budget kept. See the module docstring for when the
    tokens are counted rather than estimated; `count=False`: never (a replay sends nothing)."""
    local = target.provider.dialect == "native"
    model = _loaded_model(target.model) if local else None
    if local:
        window = getattr(getattr(backend, "options", None), "n_ctx", None) or cfg.n_ctx  # what it is loaded with
        reserve = min(request.max_tokens, window // 4)  # the local backend answers in whatever room is left
    else:
        window = context_window(target)
        reserve = min(request.max_tokens, target.provider.max_output or request.max_tokens)
    room = window - reserve
    estimate = _estimate(request)
    fit = Fit(estimate, False, window, reserve, estimate)
    if fit.tokens < CHECK_SHARE * room or not count:
        if fit.tokens > room:
            raise _refusal(fit, request, target, files, local)
        return fit
    counted = None
    if model is not None:
        counted = _local_count(request, model)
    elif not local and _is_moonshot(target):
        counted = _moonshot_count(request, target, cfg)
    if counted is not None:
        fit = Fit(counted, True, window, reserve, estimate)
    if fit.tokens > room:
        raise _refusal(fit, request, target, files, local)
    return fit


def _refusal(fit: Fit, request: ChatRequest, target: Target, files: Sequence[Attachment],
             local: bool) -> KimiConfigError:
    name = os.path.basename(target.model) if local else target.model
    return KimiConfigError(
        f"this question needs {fit.shown} tokens and {name} takes {fit.window:,} ({fit.reserve:,} kept for the "
        f"answer): {_advice(fit, request, files, local)}"
    )
