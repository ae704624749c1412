"""The output of `kimi_lab.map`: a DataFrame aligned with the input's index, and `out.kimi.trace(i)` to
open one row's answer with its reasoning beside it, like any other answer (read from the checkpoint,
so the frame itself holds no reasoning)."""

from __future__ import annotations

from typing import Any

from kimi_lab.core.structured import Schema
from kimi_lab.services.mapping.inputs import Rows

__all__ = ["OWN_COLUMNS", "build_frame", "register_accessor"]

_ATTR = "kimi_map"
#: The columns map adds beside the answer's: a schema field may not take one of these names.
OWN_COLUMNS = frozenset({"reasoning", "error", "tokens_in", "tokens_out", "cost"})


def build_frame(rows: Rows, keys: list[str], outcomes: dict[str, Any], schema: Schema | None, *,
                keep_reasoning: bool, unasked: str, info: dict[str, Any]) -> Any:
    """One row per input row, in the input's order, whatever order the answers came in. `unasked`: the
    error a row not asked carries (the job stopped before it)."""
    import pandas as pd

    answer_columns = list(schema.fields) if schema is not None else ["answer"]
    columns: dict[str, list[Any]] = {c: [] for c in answer_columns}
    if keep_reasoning:
        columns["reasoning"] = []
    for name in ("error", "tokens_in", "tokens_out", "cost"):
        columns[name] = []
    for key in keys:
        o = outcomes.get(key)
        if o is None:
            values: dict[str, Any] = {}
            error, tin, tout, cost, reasoning = unasked, 0, 0, None, None
        else:
            if schema is not None:
                values = schema.columns(o.data) if o.data is not None else {}
            else:
                values = {"answer": o.content}
            error, tin, tout, cost, reasoning = o.error, o.tokens_in, o.tokens_out, o.cost, o.reasoning
        for c in answer_columns:
            columns[c].append(values.get(c))
        if keep_reasoning:
            columns["reasoning"].append(reasoning)
        columns["error"].append(error)
        columns["tokens_in"].append(tin)
        columns["tokens_out"].append(tout)
        columns["cost"].append(cost)
    frame = pd.DataFrame(columns, index=rows.index.copy())
    frame["tokens_in"] = frame["tokens_in"].astype("int64")
    frame["tokens_out"] = frame["tokens_out"].astype("int64")
    frame["cost"] = frame["cost"].astype("float64")
    # The labels the keys belong to travel with them: pandas keeps attrs through filters and sorts, so a row is
    # found by its label in the index it was mapped under, never by its position in a derived frame.
    frame.attrs[_ATTR] = {"keys": keys, "index": rows.index.copy(), **info}
    register_accessor()
    return frame


_registered = False


def register_accessor() -> None:
    """`DataFrame.kimi`, registered with the first map output (pandas is imported by then)."""
    global _registered
    if _registered:
        return
    import pandas as pd

    @pd.api.extensions.register_dataframe_accessor("kimi")
    class KimiAccessor:
        """`out.kimi.trace(label)`: that row's question, reasoning and answer, shown like any answer."""

        def __init__(self, frame: Any) -> None:
            self._frame = frame

        def trace(self, label: Any) -> Any:
            from kimi_lab.common.errors import KimiConfigError

            info = self._frame.attrs.get(_ATTR)
            if not info:
                raise KimiConfigError("this frame is not the output of kimi_lab.map (or lost its attrs in a "
                                      "transformation): trace the frame map returned")
            import pandas as pd

            shown = repr(label)[:80]
            mapped = info.get("index")
            try:
                if label not in self._frame.index:
                    raise KeyError(label)
                position = (mapped if mapped is not None else self._frame.index).get_loc(label)
            except (KeyError, TypeError, pd.errors.InvalidIndexError):
                raise KimiConfigError(f"no row {shown} in this frame's index") from None
            if not isinstance(position, int):
                raise KimiConfigError(f"the index holds {shown} more than once: trace a unique label")
            return _trace(info, position, self._frame.loc[label])

    _registered = True


def _trace(info: dict[str, Any], position: int, row: Any) -> Any:
    from kimi_lab.common.events import TokenUsage
    from kimi_lab.common.result import Result, Step
    from kimi_lab.store.checkpoint import read_row

    key = info["keys"][position]
    record = read_row(info["checkpoint"], key)  # read-only: a frame from elsewhere cannot make us write a file
    if record is None:
        return Result(prompt="(not recorded)", content="", error=str(row.get("error") or "this row was not answered"),
                      model=info.get("model", ""), provider=info.get("provider", ""), chat="kimi_lab.map")
    return Result(prompt=record.prompt, content=record.content, reasoning=record.reasoning,
                  usage=TokenUsage(record.tokens_in, record.tokens_out), cost=record.cost, model=record.model,
                  provider=info.get("provider", ""), chat="kimi_lab.map", data=record.data,
                  error=record.error, steps=[Step("reasoning", record.reasoning)] if record.reasoning else [])
