"""The demo's data work: read what `list_variables` and `describe_variable` returned, write an `evaluate`
expression or a `run_python` snippet over the real names, and answer from what came back.

Why: a believable stand-in has to use the user's actual variables and columns, and its expressions must
pass the safe evaluator's allow-list (kimi_lab/tools/safe_eval), so the tool cards show real work.
It only parses text (the tools' documented output formats), never touches the notebook itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from kimi_lab.testing._demo_words import short, variant, words

__all__ = ["GROWTH_WORDS", "Column", "Frame", "Variable", "code_answer", "evaluate_answer", "expression",
           "parse_frame", "parse_listing", "pick_variable", "python_snippet"]

GROWTH_WORDS = frozenset("grew grow growth grown increase increased change changed fastest slowest trend rose".split())
LOW_WORDS = frozenset("lowest smallest least slowest worst fewest bottom".split())
_AVERAGE_WORDS = frozenset("average mean typical".split())
_MEASURE_NAMES = ("revenue", "sales", "amount", "total", "value", "price", "profit", "cost", "count", "units")
_ROW_LIMIT = 12


@dataclass
class Variable:
    """One row of list_variables' table."""

    name: str
    type: str
    shape: str
    summary: str


@dataclass
class Column:
    name: str
    dtype: str
    kind: str  # "date" | "number" | "category"
    distinct: int | None = None
    low: str = ""
    high: str = ""


@dataclass
class Frame:
    """What describe_variable said about a DataFrame."""

    name: str
    rows: str = "?"
    columns: list[Column] = field(default_factory=list)

    def of(self, kind: str) -> list[Column]:
        return [c for c in self.columns if c.kind == kind]


# ------------------------------------------------------------------------------------------------------- parsing


def parse_listing(text: str) -> list[Variable]:
    """Rows of the aligned table list_variables prints (column spans come from its dashed rule)."""
    lines = text.splitlines()
    rule = next((i for i, line in enumerate(lines) if re.fullmatch(r"-+( +-+)*\s*", line)), None)
    if rule is None:
        return []
    spans = [m.span() for m in re.finditer(r"-+", lines[rule])]
    out = []
    for line in lines[rule + 1 : rule + 501]:
        if not line.strip() or line.startswith("…"):
            break
        cells = [line[a : (b if i + 1 < len(spans) else None)].strip() for i, (a, b) in enumerate(spans)]
        if len(cells) >= 5 and cells[0]:
            out.append(Variable(cells[0], cells[1], cells[2], cells[4]))
    return out


def _column(name: str, dtype: str, stats: str) -> Column:
    lowered = dtype.lower()
    if lowered.startswith("datetime") or lowered.startswith("period"):
        kind = "date"
    elif re.match(r"u?int|float|Int|Float", dtype) and "bool" not in lowered:
        kind = "number"
    else:
        kind = "category"
    distinct = re.search(r"distinct (\d+)", stats)
    low = re.search(r"\bmin (\S+)", stats)
    high = re.search(r"\bmax (\S+)", stats)
    return Column(name, dtype, kind, int(distinct.group(1)) if distinct else None,
                  low.group(1) if low else "", high.group(1) if high else "")


def parse_frame(name: str, text: str) -> Frame | None:
    """Columns of a DataFrame description ('- name (dtype): stats' lines); None for anything else."""
    head = re.search(r"= DataFrame: ([\d,]+) rows", text)
    if head is None:
        return None
    columns = []
    for match in re.finditer(r"^- (.+?) \(([^()]*)\): (.*)$", text, re.MULTILINE):
        label = match.group(1)
        if re.fullmatch(r"[^\"'\\\n]{1,80}", label):  # names a plain string literal can hold
            columns.append(_column(label, match.group(2), match.group(3)))
    return Frame(name, head.group(1), columns)


def pick_variable(listing: list[Variable], question: str) -> Variable | None:
    """The variable the question names (DataFrames first), else the first DataFrame, else other data."""
    asked = words(question)
    named = [v for v in listing if v.name.lower() in asked or f"`{v.name}`" in question]
    for pool in (named, listing):
        for types in (("DataFrame",), ("Series", "ndarray"), ("list", "dict", "tuple", "set", "int", "float", "str")):
            found = next((v for v in pool if v.type in types), None)
            if found is not None:
                return found
    return named[0] if named else None


def _named(columns: list[Column], question: str) -> list[Column]:
    asked = words(question)
    return [c for c in columns if c.name.lower() in asked]


def _measure(frame: Frame, question: str) -> Column | None:
    numbers = frame.of("number")
    named = _named(numbers, question)
    if named:
        return named[0]
    return next((c for m in _MEASURE_NAMES for c in numbers if c.name.lower() == m), numbers[-1] if numbers else None)


def _group(frame: Frame, question: str) -> Column | None:
    categories = [c for c in frame.of("category") if (c.distinct or 0) >= 2]
    named = _named(categories, question)
    if named:
        return named[0]
    return min(categories, key=lambda c: c.distinct or 0) if categories else None


def _q(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


# ----------------------------------------------------------------------------------------------------- evaluate


def expression(var: Variable, frame: Frame | None, question: str) -> tuple[str, str, str] | None:
    """(expression, kind, plan sentence) for one evaluate call, or None when nothing is worth computing."""
    name, asked = var.name, words(question)
    if frame is None:
        if var.type == "Series":
            return f"{name}.describe()", "describe", f"summary statistics of `{name}`"
        if var.type == "ndarray":
            return f"{name}.mean()", "scalar", f"the mean of `{name}`"
        if var.type in ("list", "dict", "tuple", "set", "str"):
            return f"len({name})", "scalar", f"how many items `{name}` holds"
        if var.type in ("int", "float"):
            return f"round({name}, 4)", "scalar", f"the value of `{name}`"
        return None
    num, group = _measure(frame, question), _group(frame, question)
    date = next(iter(frame.of("date")), None)
    if num and group and date and asked & GROWTH_WORDS:
        d, g, n = _q(date.name), _q(group.name), _q(num.name)
        last = f'{name}[{name}[{d}] == {name}[{d}].max()].groupby({g})[{n}].sum()'
        first = f'{name}[{name}[{d}] == {name}[{d}].min()].groupby({g})[{n}].sum()'
        plan = (f"each {group.name}'s {num.name} in the last {date.name} divided by the first, minus one: "
                "growth as a fraction")
        return f"({last} / {first} - 1).round(4).sort_values(ascending=False)", "growth", plan
    if num and date and asked & GROWTH_WORDS:
        expr = f"{name}.groupby({_q(date.name)})[{_q(num.name)}].sum().pct_change().round(4)"
        return expr, "change", f"the change of total {num.name} from one {date.name} to the next"
    if num and group:
        agg = "mean" if asked & _AVERAGE_WORDS else "sum"
        expr = f"{name}.groupby({_q(group.name)})[{_q(num.name)}].{agg}().round(2).sort_values(ascending=False)"
        word = "average" if agg == "mean" else "total"
        return expr, word, f"the {word} {num.name} per {group.name}, largest first"
    if num:
        return f"{name}[{_q(num.name)}].describe().round(2)", "describe", f"summary statistics of {num.name}"
    return f"{name}.shape", "scalar", f"the shape of `{name}`"


def series_rows(text: str) -> tuple[str, list[tuple[str, str]]]:
    """(index name, [(label, value)]) from a pandas Series as text; no rows for anything else."""
    lines = [line.rstrip() for line in text.strip().splitlines()]
    rows: list[tuple[str, str]] = []
    index_name = ""
    for i, line in enumerate(lines[:200]):
        if line.startswith(("Name:", "dtype:", "Freq:", "(warning")) or not line:
            break
        parts = line.rsplit(None, 1)
        if len(parts) == 1 and i == 0:
            index_name = parts[0]
            continue
        if len(parts) != 2 or not re.fullmatch(r"-?[\d.,]+(?:[eE][-+]?\d+)?|NaN|nan", parts[1]):
            return "", []
        rows.append((parts[0].strip(), parts[1]))
    return index_name, rows


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows[:_ROW_LIMIT]]
    if len(rows) > _ROW_LIMIT:
        out.append(f"| … {len(rows) - _ROW_LIMIT} more | |")
    return "\n".join(out)


def _title(label: str) -> str:
    """'west' -> 'West' at the start of a sentence; labels with capitals or digits stay as they are."""
    return label.capitalize() if label.isalpha() and label.islower() else label


def _pct(value: str) -> str:
    try:
        return f"{float(value):+.1%}"
    except ValueError:
        return value


def evaluate_answer(var: Variable, frame: Frame | None, expr: str, kind: str, result: str,
                    question: str) -> tuple[str, str]:
    """(reasoning, answer) quoting the evaluated figures, with a small table when the result is a Series."""
    index_name, rows = series_rows(result)
    low = bool(words(question) & LOW_WORDS)
    date = next(iter(frame.of("date")), None) if frame else None
    period = f" from {date.low} to {date.high}" if date and date.low and date.high else ""
    how = f"\n\nComputed with `evaluate`: `{expr}`"
    if kind == "growth" and rows:
        label, value = rows[-1] if low else rows[0]
        other = rows[0] if low else rows[-1]
        verb = "grew slowest" if low else "grew fastest"
        num = _measure(frame, question) if frame else None
        head = f"**{_title(label)}** {verb}{period}: {_pct(value)} ({value} as a fraction)."
        table = _table((index_name or "group", "growth", "change"), [(r, v, _pct(v)) for r, v in rows])
        reasoning = (
            f"The result is back: {label} at {value}, i.e. {_pct(value)}, and {other[0]} at {other[1]} "
            f"({_pct(other[1])}) at the other end. That answers which {index_name or 'group'} "
            f"{'grew slowest' if low else 'grew fastest'}{' in ' + num.name if num else ''}. I'll lead with it, "
            "then the full ranking as a table, and say how it was computed."
        )
        return reasoning, f"{head}\n\n{table}{how}"
    if rows and kind in ("total", "average", "change"):
        label, value = rows[-1] if low else rows[0]
        what = {"total": "the highest total", "average": "the highest average", "change": "the largest change"}[kind]
        if low:
            what = what.replace("highest", "lowest").replace("largest", "smallest")
        num = _measure(frame, question) if frame else None
        head = f"**{_title(label)}** has {what}{' ' + num.name if num else ''}: {value}."
        table = _table((index_name or "group", "value"), rows)
        reasoning = (f"The numbers are in: {label} at {value}. I'll answer with that and show all "
                     f"{len(rows)} rows, since they are few.")
        return reasoning, f"{head}\n\n{table}{how}"
    if rows:
        bullets = "\n".join(f"- {label}: {value}" for label, value in rows[:_ROW_LIMIT])
        reasoning = "The summary is back; a short bullet list of the figures answers it."
        return reasoning, f"`{var.name}` at a glance:\n\n{bullets}{how}"
    first = result.strip().splitlines()[0] if result.strip() else "(no value)"
    reasoning = f"`{expr}` gave {short(first, 60)}. That is the figure to report."
    body = result.strip() if len(result.strip().splitlines()) > 1 else ""
    text = f"`{expr}` gives **{short(first, 120)}**." + (f"\n\n```\n{body[:1500]}\n```" if body else "")
    return reasoning, text


# --------------------------------------------------------------------------------------------------- run_python


def python_snippet(frame: Frame | None, target: str | None, question: str) -> tuple[str, str]:
    """(code, plan sentence) for a request to change the data, using the real frame and column names."""
    if frame is None:
        if target:
            return f"{target}", f"show `{target}` first; without a DataFrame I cannot tell what to change"
        return "sorted(name for name in globals() if not name.startswith('_'))", "see which names exist"
    f, asked = frame.name, words(question)
    num = _measure(frame, question)
    by = _named([c for c in frame.columns if c.kind != "number"], question) or [
        *frame.of("date"), *frame.of("category")]
    group = by[0] if by else None
    if num is None:
        return f"{f}.head()", f"look at `{f}`: it has no numeric column to work with"
    n = _q(num.name)
    if group is not None and asked & {"share", "proportion", "fraction", "percent", "percentage"}:
        g = _q(group.name)
        code = (f'{f}["share"] = {f}[{n}] / {f}.groupby({g})[{n}].transform("sum")\n'
                f'{f}[[{g}, {n}, "share"]].head()')
        return code, (f"divide each row's {num.name} by the sum of {num.name} over the rows of the same "
                      f"{group.name}; groupby(...).transform('sum') keeps the row alignment")
    if group is not None and asked & {"rank", "ranking"}:
        column = f"{num.name}_rank"
        code = (f'{f}[{_q(column)}] = {f}.groupby({_q(group.name)})[{n}].rank(ascending=False)\n'
                f'{f}.head()')
        return code, f"rank rows by {num.name} within each {group.name}"
    column = f"{num.name}_pct_of_total"
    code = f'{f}[{_q(column)}] = {f}[{n}] / {f}[{n}].sum()\n{f}.head()'
    return code, f"add `{column}`: each row's {num.name} as a fraction of the whole column"


def code_answer(code: str, status: str, result: str, target: str | None) -> tuple[str, str]:
    """(reasoning, answer) after run_python: what changed, or that nothing ran and why."""
    shown = f"```python\n{code}\n```"
    name = f"`{target}`" if target else "your data"
    if status == "denied":
        reasoning = ("The user declined the run_python call (or there was no way to ask them). I must not retry "
                     "it unchanged; I'll say nothing was changed and give the code so they can run it themselves.")
        return reasoning, (f"I did not run the code: running it was not approved, so {name} is unchanged. "
                           f"To add the column yourself, run:\n\n{shown}")
    if status != "ok" or result.lstrip().startswith("error"):
        first = short(result.strip().splitlines()[0] if result.strip() else status, 160)
        reasoning = f"run_python did not succeed ({first}). I'll report the error rather than guess."
        return reasoning, f"Running the code failed: {first}\n\n{shown}\n\n{name} may be unchanged."
    failed = "stderr:" in result
    preview = result.strip()
    reasoning = variant((
        "The code ran. The preview shows the new column next to the values it came from; I'll confirm what "
        "changed and show the first rows.",
        "run_python succeeded; the value it returned is the head of the updated frame. Confirm and show it.",
    ), code)
    verdict = "The code ran but wrote to stderr:" if failed else f"Done: {name} is updated."
    return reasoning, f"{verdict}\n\n{shown}\n\n```\n{preview[:1500]}\n```"
