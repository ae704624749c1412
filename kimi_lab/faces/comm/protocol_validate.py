"""Checking one message against the comm protocol's definition (kimi_lab.faces.comm.protocol): the
bridge's tests run every message they see through `validate`."""

from types import NoneType, UnionType
from typing import Any, Literal, NotRequired, Union, get_args, get_origin, is_typeddict

from kimi_lab.faces.comm.protocol import BY_SENDER, tag
from kimi_lab.faces.comm.protocol_shapes import AskOptions

__all__ = ["validate"]

# ---------------------------------------------------------------------------------------------
# Validation.


def validate(message: Any, sender: Literal["kernel", "frontend"] = "kernel") -> list[str]:
    """The problems of one message from `sender` against its definition: missing keys, wrong types,
    an unknown `type`. Keys it does not define are a problem from the kernel, which must send only
    what is defined; from a frontend only in `options` (the kernel refuses unknown options and
    ignores other keys, so a newer frontend can still talk to an older kernel)."""
    if not isinstance(message, dict):
        return [f"a message is a JSON object, not {type(message).__name__}"]
    kind = message.get("type")
    schema = BY_SENDER[sender].get(kind) if isinstance(kind, str) else None
    if schema is None:
        known = ", ".join(BY_SENDER[sender])
        return [f"unknown {sender} message type {kind!r} (known: {known})"]
    problems: list[str] = []
    _check(message, schema, tag(schema), sender == "kernel", problems)
    return problems


def _check(value: Any, tp: Any, path: str, closed: bool, out: list[str]) -> None:
    """Append the problems of `value` against type `tp` to `out`; `path` names it in them."""
    origin = get_origin(tp)
    if origin is NotRequired:
        _check(value, get_args(tp)[0], path, closed, out)
    elif tp is Any:
        pass
    elif is_typeddict(tp):
        _check_dict(value, tp, path, closed, out)
    elif origin is Union or origin is UnionType:
        _check_union(value, tp, path, closed, out)
    elif origin is Literal:
        if not any(value == v and type(value) is type(v) for v in get_args(tp)):
            out.append(f"{path}: {value!r} is not one of {', '.join(map(repr, get_args(tp)))}")
    elif origin is list:
        if not isinstance(value, list):
            out.append(f"{path}: expected a list, got {_show(value)}")
            return
        for i, item in enumerate(value):
            _check(item, get_args(tp)[0], f"{path}[{i}]", closed, out)
    elif origin is dict:
        if not isinstance(value, dict):
            out.append(f"{path}: expected an object, got {_show(value)}")
            return
        for key, item in value.items():
            if not isinstance(key, str):
                out.append(f"{path}: key {key!r} is not a string")
            _check(item, get_args(tp)[1], f"{path}.{key}", closed, out)
    elif not _is(value, tp):
        out.append(f"{path}: expected {_name(tp)}, got {_show(value)}")


def _check_dict(value: Any, td: Any, path: str, closed: bool, out: list[str]) -> None:
    if not isinstance(value, dict):
        out.append(f"{path}: expected {td.__name__} (an object), got {_show(value)}")
        return
    out.extend(f"{path}: missing {key!r}" for key in td.__annotations__
               if key in td.__required_keys__ and key not in value)
    if closed or td is AskOptions:  # the kernel refuses unknown options
        out.extend(f"{path}: unexpected key {key!r}" for key in value if key not in td.__annotations__)
    for key, item in value.items():
        if key in td.__annotations__:
            _check(item, td.__annotations__[key], f"{path}.{key}", closed, out)


def _check_union(value: Any, tp: Any, path: str, closed: bool, out: list[str]) -> None:
    """Fine when one alternative fits; else the problems inside the object it most likely meant (the one
    its `type` names, or the only one that is not null), or that it fits none."""
    alternatives = get_args(tp)
    for alt in alternatives:
        problems: list[str] = []
        _check(value, alt, path, closed, problems)
        if not problems:
            return
    likely = [alt for alt in alternatives if alt is not NoneType]
    if isinstance(value, dict):
        likely = [alt for alt in likely if _tag_of(alt) == value.get("type")] or likely
    if value is not None and len(likely) == 1 and (is_typeddict(likely[0]) or get_origin(likely[0]) in (list, dict)):
        _check(value, likely[0], path, closed, out)
    else:
        out.append(f"{path}: expected {_name(tp)}, got {_show(value)}")


def _tag_of(tp: Any) -> str | None:
    return tag(tp) if is_typeddict(tp) and "type" in tp.__annotations__ else None


def _is(value: Any, tp: Any) -> bool:
    if tp is NoneType or tp is None:
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)  # JSON has one number type
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp in (str, bool):
        return isinstance(value, tp)
    raise TypeError(f"the protocol uses a type validate does not know: {tp!r}")


def _name(tp: Any) -> str:
    if get_origin(tp) in (Union, UnionType):
        return " | ".join(_name(t) for t in get_args(tp))
    return "null" if tp is NoneType else getattr(tp, "__name__", repr(tp))


def _show(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:39] + '…'}"
