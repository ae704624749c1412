"""The child's one reply, as bounded JSON: the text, or an exception's type name, module and message.

Nothing from the child is ever unpickled: a compromised child could otherwise run code in the kernel
while the kernel decodes its reply. JSON text decodes to plain str/dict values only. The parent reads at
most MAX_REPLY bytes (a larger reply is refused unread), and re-raises exceptions only as types it builds
itself from a name: a few builtins, kimi_lab's own UnsafeExpression, otherwise ChildError.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from kimi_lab.tools.sandbox._errors import ChildError, SandboxCrashed, SandboxError, SandboxMemory

__all__ = ["MAX_REPLY", "decode", "encode_error", "encode_setup_failure", "encode_text", "raise_for"]

MAX_REPLY = 4 * 1024 * 1024
MAX_MESSAGE = 4_000

BUILTIN_ERRORS: dict[str, type[Exception]] = {
    cls.__name__: cls
    for cls in (KeyError, TypeError, ValueError, AttributeError, IndexError, ZeroDivisionError, NameError,
                OverflowError)
}

# Prepared before the evaluation, so a child out of memory can still say so.
MEMORY_ERROR_REPLY = b'{"ok": false, "type": "MemoryError", "module": "builtins", "message": ""}'


def _dump(obj: dict[str, Any]) -> bytes:
    # Lone surrogates (from odd data) survive the trip with surrogatepass on both sides.
    return json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")


def encode_text(text: object) -> bytes:
    if not isinstance(text, str):
        raise TypeError(f"the evaluation returned {type(text).__name__}, not text")
    return _dump({"ok": True, "text": text})


def _message(exc: BaseException) -> str:
    try:
        if isinstance(exc, KeyError) and len(exc.args) == 1:
            message = str(exc.args[0])  # str(KeyError('x')) is "'x'": keep the key, not its repr
        else:
            message = str(exc)
    except Exception:
        message = "<the message could not be printed>"
    return message[:MAX_MESSAGE]


def encode_error(exc: BaseException) -> bytes:
    if isinstance(exc, MemoryError):
        return MEMORY_ERROR_REPLY
    cls = type(exc)
    return _dump({"ok": False, "type": str(cls.__name__)[:200], "module": str(cls.__module__)[:200],
                  "message": _message(exc)})


def encode_setup_failure(message: str) -> bytes:
    return _dump({"setup": message[:MAX_MESSAGE]})


def decode(data: bytes) -> dict[str, Any]:
    """The reply as a dict of the expected shape; SandboxCrashed if it is anything else."""
    try:
        reply = json.loads(data.decode("utf-8", "surrogatepass"))
    except (ValueError, RecursionError):
        raise SandboxCrashed("the evaluation sent a malformed reply; try a simpler expression")
    ok = isinstance(reply, dict) and (
        (reply.get("ok") is True and isinstance(reply.get("text"), str))
        or (reply.get("ok") is False and all(isinstance(reply.get(k), str) for k in ("type", "module", "message")))
        or isinstance(reply.get("setup"), str)
    )
    if not ok:
        raise SandboxCrashed("the evaluation sent a malformed reply; try a simpler expression")
    return reply


def raise_for(reply: dict[str, Any], memory_bytes: int) -> NoReturn:
    """Raise the exception a non-ok reply describes."""
    if "setup" in reply:
        raise SandboxError(f"the sandbox could not be set up ({reply['setup']}); the expression was not run")
    name, module, message = reply["type"], reply["module"], reply["message"]
    if module == "builtins" and name == "MemoryError":
        raise SandboxMemory(f"the evaluation needed more than {memory_bytes / 2**20:,.0f} MiB of memory; use a "
                            "smaller slice of the data (head, sample, a few columns) or an aggregate")
    if module == "builtins" and name in BUILTIN_ERRORS:
        raise BUILTIN_ERRORS[name](message)
    if name == "UnsafeExpression" and module.startswith("kimi_lab.tools.safe_eval"):
        from kimi_lab.tools.safe_eval import UnsafeExpression  # lazily: the sandbox does not need the evaluator

        raise UnsafeExpression(message)
    raise ChildError(name, message, module)
