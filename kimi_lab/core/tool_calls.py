"""A round's tool calls as they stream in: fragments gathered by index, then the calls in wire form."""

from __future__ import annotations

from typing import Any

from kimi_lab.common.events import ToolCallDelta

__all__ = ["ToolCallParts"]


class ToolCallParts:
    """Providers stream a call's id, name and arguments in pieces, keyed by the call's index in the round."""

    def __init__(self) -> None:
        self._slots: dict[int, dict[str, Any]] = {}

    def add(self, event: ToolCallDelta) -> None:
        slot = self._slots.setdefault(event.index, {"id": None, "name": "", "arguments": []})
        if event.id:
            slot["id"] = event.id
        if event.name:
            slot["name"] += event.name
        slot["arguments"].append(event.arguments)

    def calls(self, base: int) -> list[dict[str, Any]]:
        """The calls in OpenAI wire form, in index order; ids are echoed unchanged (`base`: calls before this
        round, numbering the ids a provider left out as Kimi numbers them)."""
        return [
            {
                "id": slot["id"] or f"functions.{slot['name']}:{base + n}",
                "type": "function",
                "function": {"name": slot["name"], "arguments": "".join(slot["arguments"])},
            }
            for n, (_, slot) in enumerate(sorted(self._slots.items()))
        ]
