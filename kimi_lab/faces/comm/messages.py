"""The comm protocol's JSON forms of what the kernel sends besides stream events: a turn's
`result`, finished turns for `history`, the one line an error becomes. Shared by the bridge, its
running asks and the chat panel."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from kimi_lab.common.events import join_text, to_dict
from kimi_lab.common.secrets import scrub
from kimi_lab.core.timeline import events_of
from kimi_lab.faces.comm.mainthread import MainThreadBusy
from kimi_lab.render.answer import markdown

__all__ = ["BridgeError", "face_message", "jsonable", "one_line", "result_dict", "turns", "wire"]


class BridgeError(Exception):
    """A request that cannot be served; the message is what the frontend shows."""


def one_line(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if not isinstance(exc, (BridgeError, MainThreadBusy)) and not hasattr(exc, "kind"):
        text = f"{type(exc).__name__}: {text}"
    line = scrub(" ".join(str(text).split()))  # before the cut: a key cut in half would not match
    return line if len(line) <= 300 else line[:299] + "…"


def face_message(exc: BaseException) -> str:
    """The one line a chat face shows: what to do from there (no --base-url to pass in a sidebar)."""
    from kimi_lab.common.errors import KimiNoProviderError
    from kimi_lab.settings.target import sidebar_setup_help

    return sidebar_setup_help(exc.keys) if isinstance(exc, KimiNoProviderError) else one_line(exc)


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def result_dict(result: Any) -> dict[str, Any]:
    """The `result` of the protocol: what the magic shows, as JSON."""
    return jsonable({
        "content": result.content, "reasoning": result.reasoning, "markdown": markdown(result),
        "usage": asdict(result.usage), "cost": result.cost, "model": result.model,
        "provider": result.provider, "finish_reason": result.finish_reason,
        "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments, "error": c.error,
                        "duration": c.duration} for c in result.tool_calls],
        "elapsed": result.elapsed, "ttft": result.ttft, "chat": result.chat, "prompt": result.prompt,
        "warnings": list(result.warnings), "error": result.error,
    })


def wire(events: list[Any]) -> list[dict[str, Any]]:
    """Events as an `events` message carries them: text deltas joined, each in the one JSON form."""
    return jsonable([to_dict(e) for e in join_text(events)])


def turns(results: list[Any]) -> list[dict[str, Any]]:
    """Finished turns as `history` sends them."""
    return [{"prompt": r.prompt, "events": wire(events_of(r)), "result": result_dict(r)} for r in results]
