"""What `run_isolated` raises, as one-line messages the model can read and act on.

The sandbox's own failures (too slow, too big, crashed) are `SandboxError`s. An exception raised by the
evaluated code itself crosses the process boundary as text only (its type name, module and message), never
as a pickled object, and is raised again in the kernel as the same builtin type where that is safe to
build, or as `ChildError` carrying the original type's name.
"""

from __future__ import annotations

__all__ = ["ChildError", "SandboxCrashed", "SandboxError", "SandboxMemory", "SandboxTimeout"]


class SandboxError(Exception):
    """The isolated evaluation did not produce a result; the message says what to try instead."""


class SandboxTimeout(SandboxError):
    """The evaluation ran past its wall-clock deadline or its CPU-time limit and was killed."""


class SandboxMemory(SandboxError):
    """The evaluation needed more memory than it was given (or the system killed it for memory)."""


class SandboxCrashed(SandboxError):
    """The evaluating process died without a result (a signal such as SIGSEGV, or a malformed reply)."""


class ChildError(Exception):
    """An exception raised by the evaluated code, raised again in the kernel; `str(exc)` is its message."""

    def __init__(self, type_name: str, message: str, module: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.module = module

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""
