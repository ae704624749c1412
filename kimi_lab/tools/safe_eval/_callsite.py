"""One library call about to run, as the estimators see it, and the helpers they share."""

from __future__ import annotations

from typing import Any, Callable

from kimi_lab.tools.safe_eval._sizes import POINTER, Sizes, held

CELL = 16  # a numeric cell of a result, with its share of the index


class CallSite:
    """What is called on what, with which arguments.

    `bound` holds the arguments by parameter name when the callee has a signature; then an argument is
    looked up by name only (its position depends on the callee: `pd.merge(left, right, how)` has `how`
    third, `df.merge(right, how)` second). Without a signature, by keyword, else by position.
    `data` is the pandas object behind a handle (the Series of `s.str`, the frame of a groupby), which
    the interpreter remembers when it makes the handle; for anything else it is the owner itself.
    """

    def __init__(
        self,
        owner: Any,
        name: str,
        args: list[Any],
        kwargs: dict[str, Any],
        bound: dict[str, Any] | None,
        data: Any = None,
    ) -> None:
        self.owner, self.name, self.args, self.kwargs, self.bound = owner, name, args, kwargs, bound
        self.data = owner if data is None else data

    def arg(self, position: int, keyword: str, default: Any = None) -> Any:
        if self.bound is not None:
            return self.bound.get(keyword, default)
        if keyword in self.kwargs:
            return self.kwargs[keyword]
        return self.args[position] if len(self.args) > position else default


Estimator = Callable[[CallSite, Sizes], int]


def rows_of(value: Any) -> int:
    try:
        return len(value)
    except Exception:
        return 0


def row_bytes(frame: Any, sizes: Sizes) -> int:
    """What one row of a result made from `frame`'s rows can cost: its share of the buffers, and its text (for
    Arrow-backed text the biggest cell of each column, since a repeated row copies its cells)."""
    rows = max(rows_of(frame), 1)
    return held(frame) // rows + max(sizes.text(frame) // rows, sizes.row(frame)) + POINTER
