"""Descriptions of everything but DataFrame and Series: arrays, containers, text, callables, classes, objects.

Each reads only what it shows: containers are typed over a bounded scan, text is cut to its two ends,
and objects are read through their __dict__ slot and slots so no property or __getattr__ runs. Instances
of classes from outside the standard library, pandas and numpy are not even asked for their repr.
"""

from __future__ import annotations

import inspect
import itertools
import types
from typing import Any, Iterable

from kimi_lab.common._secret_scan import instance_dict
from kimi_lab.common.summarize import cap
from kimi_lab.tools._describe_brief import (
    TYPE_SCAN,
    brief,
    format_bytes,
    format_number,
    is_foreign,
    safe_repr,
    signature_text,
    trusted_base,
    type_histogram,
    value_brief,
)
from kimi_lab.tools._describe_frame import SAMPLE_ROWS, SAMPLE_SEED, sample_note


def describe_array(a: Any, limit: int) -> str:
    import numpy as np  # an ndarray exists, so numpy is loaded; its reductions are the only sane way here

    lines = [f"ndarray: shape {a.shape}, dtype {a.dtype}, nbytes {a.nbytes:,} ({format_bytes(a.nbytes)})"]
    kind = a.dtype.kind
    if a.size and kind in "biufcmM":
        sampled = a.size > SAMPLE_ROWS
        if sampled:
            positions = np.random.default_rng(SAMPLE_SEED).choice(a.size, SAMPLE_ROWS, replace=False)
            flat = a.flat[np.sort(positions)]
        else:
            flat = a.ravel()
        lines += sample_note(sampled, a.size, "elements", "stats")
        with np.errstate(all="ignore"):
            if kind == "f":
                nan = np.isnan(flat)
                count = int(nan.sum())
                lines.append(f"NaN: {'≈' if sampled else ''}{round(count * a.size / flat.size):,}")
                flat = flat[~nan]
            if kind == "b":
                lines.append(f"True: {int(flat.sum()):,} of {flat.size:,}")
            elif flat.size == 0:
                lines.append("all NaN")
            elif kind == "c":
                lines.append(f"mean {flat.mean()}")
            elif kind in "mM":
                lines.append(f"min {flat.min()}, max {flat.max()}")
            else:
                lines.append(f"min {format_number(flat.min())}, mean {format_number(flat.mean())}, "
                             f"std {format_number(flat.std())}, max {format_number(flat.max())}")
    body = "\n".join(lines)
    try:
        excerpt = np.array2string(a, edgeitems=3, threshold=100, max_line_width=120)
    except Exception as exc:
        excerpt = f"(values could not be rendered: {type(exc).__name__})"
    return body + "\nvalues:\n" + cap(excerpt, max(limit - len(body) - 9, 200))


def describe_dict(d: dict[Any, Any]) -> str:
    n = len(d)
    if not n:
        return f"{type(d).__name__}: empty"
    scanned = "" if n <= TYPE_SCAN else f" (in the first {TYPE_SCAN:,})"
    lines = [f"{type(d).__name__}: {n:,} items; key types{scanned}: {type_histogram(itertools.islice(d, TYPE_SCAN))}"]
    lines.append(f"first {min(n, 20)} items:")
    lines += [f"  {brief(k, 40, 0)}: {value_brief(k, v, 120)}" for k, v in itertools.islice(d.items(), 20)]
    if n > 20:
        lines.append(f"… {n - 20:,} more items")
    return "\n".join(lines)


def describe_sequence(seq: Any, kind: str) -> str:
    n = len(seq)
    if not n:
        return f"{type(seq).__name__}: empty"
    if kind == "set":
        scan: Iterable[Any] = itertools.islice(seq, TYPE_SCAN)
        scope = f" (in the first {TYPE_SCAN:,})" if n > TYPE_SCAN else ""
    elif n > TYPE_SCAN:
        step = n // TYPE_SCAN
        scan = seq[::step]
        scope = f" (in {len(scan):,} evenly spaced items)"
    else:
        scan, scope = seq, ""
    lines = [f"{type(seq).__name__}: {n:,} items; element types{scope}: {type_histogram(scan)}"]
    if kind == "set":
        lines.append(f"first {min(n, 10)} (sets have no order):")
        lines += [f"  {brief(v, 120)}" for v in itertools.islice(seq, 10)]
        return "\n".join(lines)
    head = min(n, 10)
    lines.append(f"first {head}:")
    lines += [f"  [{i}] {brief(seq[i], 120)}" for i in range(head)]
    if n > head:
        tail = range(max(head, n - 3), n)
        if tail.start > head:
            lines.append(f"  … {tail.start - head:,} items skipped")
        lines += [f"  [{i:,}] {brief(seq[i], 120)}" for i in tail]
    return "\n".join(lines)


def describe_text(text: str | bytes | bytearray) -> str:
    n = len(text)
    if isinstance(text, str):
        show = str
        lines = [f"str: {n:,} characters, {text.count(chr(10)) + 1 if text else 0:,} lines"]
    else:
        show = repr
        lines = [f"{type(text).__name__}: {n:,} bytes"]
    if n <= 1_300:
        return "\n".join([*lines, "content:", show(text)])
    return "\n".join([*lines, "first 1,000:", show(text[:1_000]), f"… {n - 1_300:,} skipped …",
                      "last 300:", show(text[-300:])])


def _doc(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return cap(doc.split("\n\n")[0].strip(), 600)


def describe_callable(func: Any) -> str:
    name = getattr(func, "__qualname__", None) or getattr(func, "__name__", None) or type(func).__name__
    module = getattr(func, "__module__", None)
    lines = [f"{type(func).__name__} {name}{signature_text(func)}"]
    code = getattr(getattr(func, "__func__", func), "__code__", None)
    if code is not None:
        lines.append(f"defined in {code.co_filename}:{code.co_firstlineno}" + (f" (module {module})" if module else ""))
    elif module:
        lines.append(f"module {module}")
    doc = _doc(func)
    lines.append(f"doc: {doc}" if doc else "no docstring")
    return "\n".join(lines)


def describe_class(cls: type) -> str:
    bases = ", ".join(b.__qualname__ for b in cls.__bases__)
    lines = [f"class {cls.__module__}.{cls.__qualname__}({bases})"]
    doc = _doc(cls) if cls.__doc__ else ""
    if doc:
        lines.append(f"doc: {doc}")
    methods: dict[str, None] = {}
    properties: dict[str, None] = {}
    for klass in cls.__mro__:
        if klass.__module__ == "builtins":
            continue
        for attr, member in vars(klass).items():
            if attr.startswith("_"):
                continue
            if isinstance(member, property):
                properties.setdefault(attr)
            elif isinstance(member, (staticmethod, classmethod)) or inspect.isroutine(member):
                methods.setdefault(attr)
    shown = list(methods)[:60]
    more = f", … {len(methods) - 60:,} more" if len(methods) > 60 else ""
    lines.append(f"public methods ({len(methods)}): {', '.join(shown)}{more}" if methods else "no public methods")
    if properties:
        lines.append(f"properties: {', '.join(list(properties)[:30])}")
    return "\n".join(lines)


def _attributes(obj: Any) -> dict[str, Any]:
    """Public data attributes read without running properties or __getattr__: the __dict__ slot, then slots."""
    found: dict[str, Any] = {k: v for k, v in instance_dict(obj).items() if isinstance(k, str)}
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        for slot in [slots] if isinstance(slots, str) else slots:
            if slot not in found and isinstance(klass.__dict__.get(slot), types.MemberDescriptorType):
                try:
                    found[slot] = klass.__dict__[slot].__get__(obj, type(obj))
                except AttributeError:
                    pass  # declared but never set
    return {k: v for k, v in found.items() if not k.startswith("_") and not callable(v)}


def _foreign_lines(obj: Any) -> list[str]:
    """What a foreign instance shows without running its code: built-in base contents, enum member."""
    cls, base = type(obj), trusted_base(type(obj))
    lines = ["repr not shown: kimi_lab runs no code of this class (no __repr__, no properties)"]
    own = instance_dict(obj)
    if "_name_" in own and "_value_" in own:
        lines.append(f"enum member {own['_name_']} = {brief(own['_value_'], 120)}")
    fields = vars(cls).get("_fields")
    if base is tuple and isinstance(fields, tuple):
        pairs = itertools.islice(zip(fields, tuple.__iter__(obj), strict=False), 20)
        lines += [f"  {f} = {value_brief(f, v, 120)}" for f, v in pairs]
    elif base in (dict, list, tuple, set, frozenset):
        lines.append(f"a {base.__name__} subclass of {base.__len__(obj):,} items; first ones:")
        pairs = dict.items(obj) if base is dict else ((None, v) for v in base.__iter__(obj))
        lines += [f"  {brief(k, 40, 0) + ': ' if base is dict else ''}{value_brief(k, v, 120)}"
                  for k, v in itertools.islice(pairs, 10)]
    return lines


def describe_object(obj: Any) -> str:
    cls = type(obj)
    lines = [f"type: {cls.__module__}.{cls.__qualname__}"]
    lines += _foreign_lines(obj) if is_foreign(obj) else [f"repr: {safe_repr(obj, 1_000)}"]
    attrs = _attributes(obj)
    if attrs:
        lines.append(f"public attributes ({min(len(attrs), 20)} of {len(attrs)}):")
        lines += [f"  {k} = {value_brief(k, v, 120)}" for k, v in itertools.islice(attrs.items(), 20)]
    return "\n".join(lines)
