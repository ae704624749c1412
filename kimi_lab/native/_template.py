"""Kimi K2 Thinking's prompt text, rendered in Python the way its official chat template renders it.

llama-cpp-python's high-level chat API drops Kimi's control markers, so the local backend (and anyone
driving their own ``llama-server --special``) renders the conversation here and tokenizes the result with
special tokens. Any drift from the trained format silently degrades the model, so the rules below follow
moonshotai/Kimi-K2-Thinking's ``chat_template.jinja`` (and its tokenizer's ``apply_chat_template``), and
``kimi_k2_thinking.jinja`` beside this file is a Jinja twin that the tests hold byte-equal to ``render``.

Rules, as the official template applies them:

* Turns follow each other with no newline: ``<|im_{role}|>{label}<|im_middle|>{content}<|im_end|>``.
  The label is the message's ``name``, else its role; ``user`` and ``assistant`` open with their own
  marker, every other role (system, tool, ...) with ``<|im_system|>``.
* Tools are declared first, as one ``tool_declare`` turn holding the OpenAI tools list as JSON.
* The default system prompt is inserted (after the tools) when the first message is not a system message.
* Reasoning is kept only after the last final answer, i.e. after the last assistant message without tool
  calls: that is the tool loop still in progress. Every assistant message up to and including that final
  answer is rendered with an empty ``<think></think>``, so a finished turn loses its reasoning, and an
  unfinished loop keeps it even when a user message follows it.

Deliberate departures, each harmless for well-formed input:

* Reasoning is read from ``reasoning_content``, else ``reasoning`` (vLLM's newer field name).
* JSON (tools, and arguments given as objects rather than strings) is compact with keys sorted recursively
  and non-ASCII kept as is: Kimi's tokenizer deep-sorts the tools before rendering, and transformers'
  ``tojson`` defaults to ``ensure_ascii=False``. Missing arguments render as ``{}``.
* Content parts lists contribute their text parts only (the model is text-only); ``None`` renders nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib.resources import files
from typing import Any

from kimi_lab.native._markers import (
    ARG_BEGIN,
    CALL_BEGIN,
    CALL_END,
    IM_ASSISTANT,
    IM_END,
    IM_MIDDLE,
    IM_SYSTEM,
    IM_USER,
    SECTION_BEGIN,
    SECTION_END,
    THINK_CLOSE,
    THINK_OPEN,
)

DEFAULT_SYSTEM = "You are Kimi, an AI assistant created by Moonshot AI."
TEMPLATE_FILE = "kimi_k2_thinking.jinja"

_OPENERS = {"user": IM_USER, "assistant": IM_ASSISTANT}


def dumps(value: Any) -> str:
    """JSON as the template writes it, so tool declarations are byte-stable across calls (prefix caching)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_ids(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Copy ``messages`` with every tool-call id in the form the model was trained on.

    Why: foreign ids (``call_abc123``) in the history make the model imitate them. Each call becomes
    ``functions.{name}:{n}``, ``n`` counting calls over the whole conversation; a call already carrying
    that id keeps it. Tool results follow their call: a result's ``tool_call_id`` is mapped through the
    most recent call that had it, so ids a server reused in different turns still pair up correctly.
    Unknown result ids are left alone. The input is not mutated.
    """
    renamed: dict[str, str] = {}
    counter = 0
    out: list[dict[str, Any]] = []
    for message in messages:
        msg = dict(message)
        calls = msg.get("tool_calls")
        if msg.get("role") == "assistant" and calls:
            new_calls = []
            for call in calls:
                new = dict(call)
                function = new.get("function") or {}
                new["id"] = f"functions.{function.get('name') or ''}:{counter}"
                counter += 1
                if call.get("id") is not None:
                    renamed[str(call["id"])] = new["id"]
                new_calls.append(new)
            msg["tool_calls"] = new_calls
        elif msg.get("role") == "tool" and str(msg.get("tool_call_id")) in renamed:
            msg["tool_call_id"] = renamed[str(msg["tool_call_id"])]
        out.append(msg)
    return out


def render(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    add_generation_prompt: bool = True,
) -> str:
    """The prompt text for ``messages`` (OpenAI chat format), ids made canonical first.

    With ``add_generation_prompt`` the text ends with an open assistant turn; the model writes ``<think>``
    itself. Tokenize the result with special tokens enabled, or the markers become plain text.
    """
    msgs = canonical_ids(messages)
    parts: list[str] = []
    if tools:
        parts.append(f"{IM_SYSTEM}tool_declare{IM_MIDDLE}{dumps(list(tools))}{IM_END}")
    if not msgs or msgs[0].get("role") != "system":
        parts.append(f"{IM_SYSTEM}system{IM_MIDDLE}{DEFAULT_SYSTEM}{IM_END}")
    final = last_final_answer(msgs)
    parts.extend(_turn(msg, keep_reasoning=i > final) for i, msg in enumerate(msgs))
    if add_generation_prompt:
        parts.append(f"{IM_ASSISTANT}assistant{IM_MIDDLE}")
    return "".join(parts)


def last_final_answer(messages: Sequence[Mapping[str, Any]]) -> int:
    """Index of the last assistant message without tool calls, or -1: reasoning survives only after it."""
    for i in range(len(messages) - 1, -1, -1):
        if messages[i].get("role") == "assistant" and not messages[i].get("tool_calls"):
            return i
    return -1


def template_text() -> str:
    """The Jinja twin of ``render``, for embedding as a GGUF's ``tokenizer.chat_template``."""
    package = __name__.rpartition(".")[0]
    return files(package).joinpath(TEMPLATE_FILE).read_text(encoding="utf-8")


def _turn(msg: Mapping[str, Any], *, keep_reasoning: bool) -> str:
    role = str(msg.get("role") or "")
    label = str(msg.get("name") or role)  # a tool result is labelled by its tool's name, as officially
    body = text_of(msg.get("content"))
    if role == "assistant":
        reasoning = str(msg.get("reasoning_content") or msg.get("reasoning") or "") if keep_reasoning else ""
        body = f"{THINK_OPEN}{reasoning}{THINK_CLOSE}{body}{_calls(msg.get('tool_calls'))}"
    elif role == "tool":
        body = f"## Return of {msg.get('tool_call_id') or ''}\n{body}"
    return f"{_OPENERS.get(role, IM_SYSTEM)}{label}{IM_MIDDLE}{body}{IM_END}"


def _calls(calls: Sequence[Mapping[str, Any]] | None) -> str:
    if not calls:
        return ""
    rendered = []
    for call in calls:
        args = (call.get("function") or {}).get("arguments")
        args = "{}" if args is None else args if isinstance(args, str) else dumps(args)
        rendered.append(f"{CALL_BEGIN}{call.get('id') or ''}{ARG_BEGIN}{args}{CALL_END}")
    return f"{SECTION_BEGIN}{''.join(rendered)}{SECTION_END}"


def text_of(content: Any) -> str:
    """Message content as text: a string as is, the text parts of a parts list joined, ``None`` as ''."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(
            part if isinstance(part, str) else str(part.get("text") or "")
            for part in content
            if isinstance(part, str) or (isinstance(part, Mapping) and part.get("type", "text") == "text")
        )
    return str(content)


__all__ = ["DEFAULT_SYSTEM", "TEMPLATE_FILE", "canonical_ids", "dumps", "last_final_answer", "render", "template_text"]
