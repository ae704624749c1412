"""What `kimi_lab.map` accepts: a DataFrame (template fields are its columns), a Series or a list
(the field is `{}` or `{value}`, or a Series' name). Only the index and a row accessor are kept."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kimi_lab.common.errors import KimiConfigError
from kimi_lab.core.template import VALUE

__all__ = ["Rows", "rows_of"]


@dataclass(frozen=True)
class Rows:
    """The input as map reads it: its index (the output's), its column names, and row `i` as a mapping."""

    index: Any  # a pandas Index
    columns: tuple[str, ...]
    row: Callable[[int], dict[str, Any]]

    def __len__(self) -> int:
        return len(self.index)


def rows_of(data: Any) -> Rows:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        columns = tuple(str(c) for c in data.columns)
        if len(set(columns)) != len(columns):
            raise KimiConfigError("the frame has two columns of the same name; rename one so {column} is clear")
        values = data.to_numpy(dtype=object, copy=False) if len(columns) else None

        def frame_row(i: int) -> dict[str, Any]:
            return dict(zip(columns, values[i], strict=True)) if values is not None else {}

        rows = Rows(data.index, columns, frame_row)
    elif isinstance(data, pd.Series):
        name = str(data.name) if data.name is not None else VALUE
        series = data.to_numpy(dtype=object, copy=False)
        rows = Rows(data.index, tuple(dict.fromkeys((name, VALUE))), lambda i: {name: series[i], VALUE: series[i]})
    elif isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        items = list(data)
        rows = Rows(pd.RangeIndex(len(items)), (VALUE,), lambda i: {VALUE: items[i]})
    else:
        raise KimiConfigError(
            f"kimi_lab.map takes a DataFrame, a Series or a list, got {type(data).__name__}"
        )
    if len(rows) == 0:
        raise KimiConfigError("there are no rows to ask about (the input is empty)")
    return rows
