"""Remote text that leaks Kimi's raw markers (a server without a Kimi tool parser, or one that
puts tool calls inside reasoning): hand the stream to the native parser from the first marker on.

Until a marker shows up, text passes straight through (only a trailing "<" or "<|" is held
back, so normal streaming is not delayed)."""

from __future__ import annotations

from typing import Any

from kimi_lab.common.events import ContentDelta, Event, ReasoningDelta

__all__ = ["LeakGuard"]

_START = "<|"


class LeakGuard:
    def __init__(self, *, reasoning: bool) -> None:
        self.reasoning = reasoning
        self._held = ""
        self._parser: Any = None

    def _plain(self, text: str) -> list[Event]:
        if not text:
            return []
        return [ReasoningDelta(text) if self.reasoning else ContentDelta(text)]

    def feed(self, text: str) -> list[Event]:
        if self._parser is not None:
            return self._parser.feed(text)
        text = self._held + text
        self._held = ""
        at = text.find(_START)
        if at < 0:
            if text.endswith("<"):
                self._held, text = "<", text[:-1]
            return self._plain(text)
        from kimi_lab.native import Parser

        self._parser = Parser(starts_in_reasoning=self.reasoning)
        return self._plain(text[:at]) + self._parser.feed(text[at:])

    def close(self) -> list[Event]:
        if self._parser is not None:
            return self._parser.close()
        held, self._held = self._held, ""
        return self._plain(held)
