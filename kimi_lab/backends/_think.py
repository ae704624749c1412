"""Split inline `<think>…</think>` out of streamed content, whatever the chunking.

Some servers leave the reasoning inline in `content`. The splitter holds back any tail that
could be the start of a tag, so a tag split across chunks is still recognised.
"""

from __future__ import annotations

from typing import Iterator

OPEN, CLOSE = "<think>", "</think>"


def _held_prefix(text: str, marker: str) -> int:
    """Length of the longest tail of `text` that is a proper prefix of `marker`."""
    for n in range(min(len(marker) - 1, len(text)), 0, -1):
        if text.endswith(marker[:n]):
            return n
    return 0


class ThinkSplitter:
    """Feed content chunks; get ("reasoning" | "content", text) pieces back in order."""

    def __init__(self) -> None:
        self._buf = ""
        self._state = "start"  # start -> (thinking -> after -> content) | content

    def feed(self, chunk: str) -> Iterator[tuple[str, str]]:
        self._buf += chunk
        while self._buf:
            if self._state == "start":
                stripped = self._buf.lstrip()
                if not stripped:
                    return
                if stripped.startswith(OPEN):
                    self._buf = stripped[len(OPEN):]
                    self._state = "thinking"
                elif OPEN.startswith(stripped):
                    return  # could still become <think>
                else:
                    self._state = "content"
            elif self._state == "thinking":
                end = self._buf.find(CLOSE)
                if end >= 0:
                    if end:
                        yield "reasoning", self._buf[:end]
                    self._buf = self._buf[end + len(CLOSE):]
                    self._state = "after"
                    continue
                keep = _held_prefix(self._buf, CLOSE)
                out = self._buf[: len(self._buf) - keep]
                self._buf = self._buf[len(self._buf) - keep:]
                if out:
                    yield "reasoning", out
                return
            elif self._state == "after":  # the newlines that follow </think> are layout
                self._buf = self._buf.lstrip("\n")
                if self._buf:
                    self._state = "content"
            else:
                yield "content", self._buf
                self._buf = ""

    def flush(self) -> Iterator[tuple[str, str]]:
        """End of stream: whatever is held back is text of the current part."""
        if self._buf:
            yield ("reasoning" if self._state == "thinking" else "content"), self._buf
            self._buf = ""
