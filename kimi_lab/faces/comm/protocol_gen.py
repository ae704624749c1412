"""`python -m kimi_lab.faces.comm.protocol --write`: the sidebar's TypeScript types and the doc's message tables,
generated from kimi_lab/faces/comm/protocol.py, so neither can drift from what the kernel sends and accepts.
`--check` says whether they are current (tests/test_protocol.py runs the same comparison).

Not imported by the kernel: only by the command and the tests.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Literal, NotRequired, Union, get_args, get_origin, is_typeddict

from kimi_lab.faces.comm import protocol as p

__all__ = ["described", "document", "field_doc", "main", "reply_types", "stale", "tables", "ts_type", "typescript"]

ROOT = Path(__file__).resolve().parents[3]  # the repository: kimi_lab/faces/comm/ is three levels down
TS_PATH = ROOT / "labextension" / "src" / "protocol.generated.ts"
DOC_PATH = ROOT / "docs" / "sidebar-protocol.md"
COMMAND = "python -m kimi_lab.faces.comm.protocol --write"

#: Union and Literal types that TypeScript names, as the hand-written code refers to them.
ALIASES: dict[str, Any] = {
    "StreamEvent": p.StreamEvent,
    "ApprovalAnswer": p.ApprovalAnswer,
    "FrontendRequest": p.FrontendRequest,
    "KernelMessage": p.KernelMessage,
}
_BLOCK = re.compile(r"(<!-- generated: (?P<name>[\w-]+)[^\n]*-->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def described(td: Any) -> tuple[str, dict[str, str]]:
    """A TypedDict's description and its fields': its docstring is a paragraph, then `field: meaning`
    lines (a longer meaning goes on over indented lines)."""
    head, _, rest = inspect.cleandoc(td.__doc__ or "").partition("\n\n")
    docs: dict[str, str] = {}
    last = None
    for line in rest.splitlines():
        if match := re.fullmatch(r"(\w+): (.+)", line):
            last = match[1]
            docs[last] = match[2]
        elif line.startswith(" ") and last is not None:
            docs[last] += " " + line.strip()
        elif line.strip():
            raise ValueError(f"{td.__name__}'s docstring: {line!r} is not `field: meaning`")
    return " ".join(head.split()), docs


def field_doc(td: Any, name: str) -> str:
    """What field `name` of `td` holds ("" when nothing says)."""
    return described(td)[1].get(name) or p.COMMON_FIELDS.get(name, "")


def _fields(td: Any) -> list[tuple[str, Any, bool]]:
    """(name, type, optional) of each field, in order."""
    out = []
    for name, tp in td.__annotations__.items():
        if get_origin(tp) is NotRequired:
            tp = get_args(tp)[0]
        out.append((name, tp, name in td.__optional_keys__))
    return out


# ---------------------------------------------------------------------------------------------
# TypeScript.


def ts_type(tp: Any) -> str:
    for name, alias in ALIASES.items():
        if tp == alias:
            return name
    return _ts_expanded(tp)


def _ts_expanded(tp: Any) -> str:
    origin = get_origin(tp)
    if tp is Any:
        return "unknown"
    if is_typeddict(tp):
        return str(tp.__name__)
    if origin in (Union, UnionType):
        return " | ".join(ts_type(t) for t in get_args(tp))
    if origin is Literal:
        return " | ".join(_ts_literal(v) for v in get_args(tp))
    if origin is list:
        item = ts_type(get_args(tp)[0])
        return f"({item})[]" if " | " in item else f"{item}[]"
    if origin is dict:
        return f"Record<string, {ts_type(get_args(tp)[1])}>"
    simple = {str: "string", int: "number", float: "number", bool: "boolean", NoneType: "null"}
    if tp in simple:
        return simple[tp]
    raise TypeError(f"no TypeScript for {tp!r}")


def _ts_literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(value).lower()


def _jsdoc(text: str, indent: str = "") -> str:
    text = text.replace("*/", "*\\/")
    return f"{indent}/** {text} */\n" if text else ""


def _ts_interface(td: Any) -> str:
    doc, docs = described(td)
    lines = [_jsdoc(doc), f"export interface {td.__name__} {{\n"]
    for name, tp, optional in _fields(td):
        lines.append(_jsdoc(docs.get(name, ""), "  "))
        lines.append(f"  {name}{'?' if optional else ''}: {ts_type(tp)};\n")
    lines.append("}\n")
    return "".join(lines)


def _ts_union(name: str, doc: str) -> str:
    alias = ALIASES[name]
    members = [_ts_literal(v) for v in get_args(alias)] if get_origin(alias) is Literal else [
        ts_type(t) for t in get_args(alias)]
    return f"{_jsdoc(doc)}export type {name} =" + "".join(f"\n  | {m}" for m in members) + ";\n"


def _ts_set(name: str, doc: str, values: list[str]) -> str:
    items = ",\n".join(f"  {_ts_literal(v)}" for v in values)
    return f"{_jsdoc(doc)}export const {name}: ReadonlySet<string> = new Set([\n{items}\n]);\n"


def reply_types() -> list[str]:
    """Kernel messages that answer one request and end it: each is named after its request."""
    return [p.tag(td) for td in p.KERNEL_MESSAGES if p.tag(td) in p.REQUESTS]


def typescript() -> str:
    """labextension/src/protocol.generated.ts."""
    parts = [
        f"// Generated from kimi_lab/faces/comm/protocol.py by `{COMMAND}`: do not edit.\n"
        "// The comm protocol's types (docs/sidebar-protocol.md); protocol.ts holds the hand-written helpers.\n",
        f"{_jsdoc('The comm target the kernel registers on `%load_ext kimi_lab`.')}"
        f"export const COMM_TARGET = {_ts_literal(p.TARGET)};\n",
        f"{_jsdoc('The protocol this frontend speaks.')}export const PROTOCOL_VERSION = {p.PROTOCOL};\n",
        "// Stream events: exactly `kimi_lab.common.events.to_dict(event)`.\n",
        *(_ts_interface(td) for td in (p.TokenUsage, *p.EVENTS)),
        _ts_union("StreamEvent", "One stream event."),
        "// What the messages carry.\n",
        *(_ts_interface(td) for td in p.SHAPES if td is not p.TokenUsage),
        _ts_union("ApprovalAnswer", "The answers to an `approval`."),
        "// Frontend → kernel.\n",
        *(_ts_interface(td) for td in p.FRONTEND_REQUESTS),
        _ts_union("FrontendRequest", "A request of the frontend."),
        "// Kernel → frontend.\n",
        *(_ts_interface(td) for td in p.KERNEL_MESSAGES),
        _ts_union("KernelMessage", "A message of the kernel."),
        _ts_set("KERNEL_MESSAGE_TYPES", "Every kernel message type.", [p.tag(td) for td in p.KERNEL_MESSAGES]),
        _ts_set("REPLY_TYPES", "Kernel message types that answer a single request (and end it).", reply_types()),
    ]
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# The doc's tables.


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _field_list(td: Any, skip: tuple[str, ...] = ("type",)) -> str:
    docs = described(td)[1]
    items = []
    for name, tp, optional in _fields(td):
        if name in skip:
            continue
        kind = f"`{ts_type(tp)}`" + (", optional" if optional else "")
        items.append(f"`{name}` ({kind})" + (f": {docs[name]}" if name in docs else ""))
    return _cell("<br>".join(items))


def _table(head: str, rows: list[tuple[str, str, str]]) -> str:
    lines = [f"| {head} | fields | meaning |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {_cell(c)} |" for a, b, c in rows]
    return "\n".join(lines) + "\n"


def tables() -> dict[str, str]:
    """The generated blocks of docs/sidebar-protocol.md, by marker name."""

    def messages(tds: tuple[Any, ...]) -> str:
        return _table("`type`", [(f"`{p.tag(td)}`", _field_list(td), described(td)[0]) for td in tds])

    return {
        "requests": messages(p.FRONTEND_REQUESTS),
        "kernel-messages": messages(p.KERNEL_MESSAGES),
        "events": messages(p.EVENTS),
        "shapes": _table("shape", [(f"`{td.__name__}`", _field_list(td), described(td)[0]) for td in p.SHAPES]),
    }


def document(text: str) -> str:
    """`text` (the doc) with every generated block replaced by what the protocol says now."""
    blocks = tables()
    seen: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        name = match["name"]
        if name not in blocks:
            raise ValueError(f"{DOC_PATH.name}: no generated block is called {name!r}; known: {', '.join(blocks)}")
        seen.add(name)
        return f"{match[1]}{blocks[name]}{match[4]}"

    out = _BLOCK.sub(fill, text)
    if missing := set(blocks) - seen:
        raise ValueError(f"{DOC_PATH.name} lacks the generated blocks {sorted(missing)}: add "
                         f"`<!-- generated: NAME -->` … `<!-- end generated -->` for each")
    return out


def stale() -> list[Path]:
    """The generated files that differ from what the protocol says now."""
    out = []
    if not TS_PATH.exists() or TS_PATH.read_text(encoding="utf-8") != typescript():
        out.append(TS_PATH)
    doc = DOC_PATH.read_text(encoding="utf-8")
    if document(doc) != doc:
        out.append(DOC_PATH)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kimi_lab.faces.comm.protocol", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the generated files")
    parser.add_argument("--check", action="store_true", help="exit 1 when a generated file is stale")
    args = parser.parse_args(argv)
    if args.write:
        TS_PATH.write_text(typescript(), encoding="utf-8")
        DOC_PATH.write_text(document(DOC_PATH.read_text(encoding="utf-8")), encoding="utf-8")
        print(f"wrote {TS_PATH.relative_to(ROOT)} and {DOC_PATH.relative_to(ROOT)}")
        return 0
    if args.check:
        old = stale()
        for path in old:
            print(f"{path.relative_to(ROOT)} is stale: run {COMMAND}", file=sys.stderr)
        return 1 if old else 0
    sys.stdout.write(typescript())
    return 0
