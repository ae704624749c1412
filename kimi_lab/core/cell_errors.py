"""Which notebook cells raised, and their tracebacks: for `%kimi fix`, `%kimi explain` and `{Err[N]}`.

IPython keeps only the last exception (`sys.last_exc`), not which cell raised it, so the IPython face
records each failing cell here as it ends. The traceback is formatted at once, as plain capped text, and
the exception is dropped: holding it would keep every frame it passed through (and their locals) alive.
The text is kept as the kernel holds `In`, unscrubbed; whoever puts it in a prompt scrubs it.
Standard library only: recording runs after every failing cell.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from types import TracebackType

from kimi_lab.common.summarize import cap

__all__ = ["CellError", "cell_error", "cell_errors", "format_error", "last_cell_error", "record_cell_error"]

KEEP = 100  # failing cells remembered, the most recent
TRACEBACK_CHARS = 12_000  # a deep traceback keeps its head and its tail (the error line)
_IPYTHON = ("IPython.", "ipykernel.")

_errors: dict[int, CellError] = {}


@dataclass(frozen=True)
class CellError:
    """The error cell `cell` raised: its type's name and its traceback as Python prints it."""

    cell: int
    kind: str
    traceback: str


def _user_frames(tb: TracebackType | None) -> TracebackType | None:
    """The traceback from the first frame that is not IPython's own (`run_code` calling `exec`)."""
    while tb is not None and str(tb.tb_frame.f_globals.get("__name__", "")).startswith(_IPYTHON):
        tb = tb.tb_next
    return tb


def format_error(exc: BaseException) -> str:
    """The traceback as plain text (no colours, without IPython's frames), capped."""
    try:
        text = "".join(traceback.format_exception(type(exc), exc, _user_frames(exc.__traceback__)))
    except Exception:  # a hostile __str__ or a broken frame must not break the cell's hook
        text = f"{type(exc).__name__} (its traceback could not be formatted)"
    return cap(text.rstrip("\n"), TRACEBACK_CHARS)


def record_cell_error(cell: int, exc: BaseException) -> None:
    """Remember that cell number `cell` raised `exc` (a later error of the same number replaces it)."""
    _errors.pop(cell, None)
    _errors[cell] = CellError(cell, type(exc).__name__, format_error(exc))
    while len(_errors) > KEEP:
        del _errors[next(iter(_errors))]


def cell_error(cell: int) -> CellError | None:
    return _errors.get(cell)


def cell_errors() -> dict[int, CellError]:
    """The recorded errors by cell number, oldest first (a copy)."""
    return dict(_errors)


def last_cell_error() -> CellError | None:
    """The most recently recorded error."""
    return next(reversed(_errors.values()), None) if _errors else None
