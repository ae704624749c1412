"""What `%kimi fix` and `%kimi explain` send: the last error, the cell that raised it, the variables they name.

Face-independent: a face finds the cell's source (IPython's input history) and gets the prompt back.
Nothing is dumped: the variables go through `{name}`'s summaries and visibility rules (a DataFrame as
its shape, dtypes and first rows; a secret left out, with a note), and the traceback and the source are
scrubbed of secrets (a cell that typed a key raises with the key on screen).
"""

from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass
from typing import Any, Literal, Mapping, Sequence

from kimi_lab.common.secrets import namespace_secrets, scrub
from kimi_lab.common.summarize import cap
from kimi_lab.core.cell_errors import cell_error, format_error, last_cell_error
from kimi_lab.core.interpolate import variable_summary
from kimi_lab.tools.visibility import INPUT_HISTORY, IPYTHON_HELPER, MODULE, OUTPUT_HISTORY, PRIVATE, known_secrets

__all__ = ["LastError", "Task", "error_prompt", "find_error"]

Task = Literal["fix", "explain"]

SOURCE_CHARS = 8_000
TRACEBACK_CHARS = 6_000
VARIABLE_CHARS = 1_500  # per variable: a DataFrame's shape, dtypes and first rows fit
MAX_VARIABLES = 12
# Left out without a note: not the user's data, and the model knows what `pd` is.
_QUIET = {INPUT_HISTORY, IPYTHON_HELPER, MODULE, OUTPUT_HISTORY, PRIVATE}
_NAME = re.compile(r"(?<![\w.])[A-Za-z_]\w*")

_ASK = {
    "fix": "A cell of my Jupyter notebook raised the error below. Say briefly what went wrong, then end your "
           "answer with the whole corrected cell, ready to run, in one ```python block.",
    "explain": "A cell of my Jupyter notebook raised the error below. Explain what went wrong and why, and how "
               "to fix it, briefly. Do not rewrite the whole cell.",
}


@dataclass(frozen=True)
class LastError:
    """An error to ask about: the cell that raised it (None: unknown), its source, the traceback."""

    cell: int | None
    kind: str
    traceback: str
    source: str | None


def _source(inputs: Sequence[str] | None, cell: int) -> str | None:
    if inputs is not None and 0 < cell < len(inputs) and isinstance(inputs[cell], str):
        return inputs[cell]
    return None


def find_error(inputs: Sequence[str] | None, cell: int | None = None) -> LastError | None:
    """Cell `cell`'s error, or else the last one: the last a cell raised (recorded as cells end), or the
    kernel's last exception (`sys.last_exc`) when none was recorded (raised before kimi_lab was loaded),
    its cell unknown. `inputs`: the sources by cell number, as typed."""
    recorded = last_cell_error() if cell is None else cell_error(cell)
    if recorded is not None:
        return LastError(recorded.cell, recorded.kind, recorded.traceback, _source(inputs, recorded.cell))
    if cell is not None:
        return None
    exc = getattr(sys, "last_exc", None) or getattr(sys, "last_value", None)
    if isinstance(exc, Exception):
        return LastError(None, type(exc).__name__, format_error(exc), None)
    return None


def _fenced(text: str, lang: str = "") -> str:
    """A Markdown fence longer than any backtick run inside `text`, so the text cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"


def _named(error: LastError) -> list[str]:
    """The names the cell and the traceback's code lines use, in order, once each."""
    code_lines = [line for line in error.traceback.splitlines() if line.startswith("    ")]
    text = "\n".join([error.source or "", *code_lines])
    return list(dict.fromkeys(_NAME.findall(text)))


def _variables(error: LastError, namespace: Mapping[str, Any],
               known: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """`name: summary` for each visible variable named, and the names left out with why. Functions and
    classes are skipped: their source is in the cells, and their repr says nothing."""
    shown: list[str] = []
    left_out: list[tuple[str, str]] = []
    for name in _named(error):
        if name not in namespace or len(shown) >= MAX_VARIABLES:
            continue
        value = namespace[name]
        if inspect.isroutine(value) or isinstance(value, type):
            continue
        text, reason = variable_summary(name, value, known, VARIABLE_CHARS)
        if text is not None:
            shown.append(f"{name}: {text}")
        elif reason is not None and reason not in _QUIET:
            left_out.append((name, reason))
    return shown, left_out


def error_prompt(task: Task, error: LastError, namespace: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The prompt for `task`, scrubbed of secrets, and the notes to show under the answer."""
    known = known_secrets()
    secrets = [*known, *namespace_secrets(namespace)]
    parts = [_ASK[task]]
    where = f"Cell [{error.cell}]" if error.cell is not None else "The cell"
    if error.source is not None:
        parts.append(f"{where}:\n{_fenced(cap(error.source.rstrip(), SOURCE_CHARS), 'python')}")
    parts.append(f"Traceback:\n{_fenced(cap(error.traceback, TRACEBACK_CHARS))}")
    shown, left_out = _variables(error, namespace, known)
    if shown:
        parts.append("Variables it uses (summaries):\n" + "\n\n".join(shown))
    if left_out:
        parts.append("Variables left out, not shown to you: " + "; ".join(f"{n}: {why}" for n, why in left_out))
    notes = [f"left {name} out of the question: {why}" for name, why in left_out]
    return scrub("\n\n".join(parts), secrets), notes
