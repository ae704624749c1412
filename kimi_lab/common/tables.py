"""Small tables shown both as Markdown (notebooks) and aligned plain text (terminals)."""

from __future__ import annotations

from typing import Sequence

from kimi_lab.common.dollars import md_plain

__all__ = ["Table"]


class Table:
    def __init__(self, headers: Sequence[str], rows: Sequence[Sequence[object]], title: str = "") -> None:
        self.headers = [str(h) for h in headers]
        self.rows = [[str(c) for c in row] for row in rows]
        self.title = title

    def markdown(self) -> str:
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(md_plain(c).replace("|", "\\|") for c in cells) + " |"

        out = [f"**{md_plain(self.title)}**\n"] if self.title else []
        out += [line(self.headers), "|" + "---|" * len(self.headers)]
        out += [line(r) for r in self.rows]
        return "\n".join(out)

    def text(self) -> str:
        widths = [max(len(r[i]) for r in [self.headers, *self.rows]) for i in range(len(self.headers))]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        out = [self.title] if self.title else []
        out += [fmt.format(*self.headers), fmt.format(*("-" * w for w in widths))]
        out += [fmt.format(*r) for r in self.rows]
        return "\n".join(out)

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/markdown": self.markdown(), "text/plain": self.text()}

    def __str__(self) -> str:
        return self.text()
