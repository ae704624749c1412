"""A second layer for `evaluate` on Linux: run the evaluation in a forked, locked-down child of the kernel.

kimi_lab's evaluator (kimi_lab.tools.safe_eval) must hold on its own on every platform. This layer assumes
it has a hole anyway and limits what the hole is worth. The child is a fork of the kernel, so it sees the
notebook's variables without copying them, and since its memory is copy-on-write the user's objects cannot
be changed by anything it does. Before it runs the expression it takes away its own ability to write files,
open network connections, start processes, signal other processes, read files outside Python's
installation, write to the kernel's sockets or streams, and exceed its memory and CPU budget
(see `_child` for the order and why). The kernel waits for a bounded JSON reply with a deadline, kills the
child at the deadline and always reaps it.

    text = run_isolated(lambda: evaluate_text(expr, ns), timeout=5, memory_bytes=1 << 30)

Errors: SandboxTimeout, SandboxMemory, SandboxCrashed (all SandboxError), the evaluated code's own
exception re-raised as the same builtin type or UnsafeExpression, or ChildError naming its type.
`available()` says whether the layer can run here; `protections()` which parts the kernel supports.
"""

from __future__ import annotations

from typing import Callable

from kimi_lab.tools.sandbox import _parent
from kimi_lab.tools.sandbox._errors import ChildError, SandboxCrashed, SandboxError, SandboxMemory, SandboxTimeout
from kimi_lab.tools.sandbox._probe import available, protections

__all__ = [
    "ChildError",
    "SandboxCrashed",
    "SandboxError",
    "SandboxMemory",
    "SandboxTimeout",
    "available",
    "protections",
    "run_isolated",
]


def run_isolated(fn: Callable[[], str], *, timeout: float, memory_bytes: int) -> str:
    """Run `fn` in a locked-down forked child and return its text.

    `timeout` is the wall-clock deadline in seconds (the child's CPU time is capped a second above it);
    `memory_bytes` is how much address space the child may add to what it inherited. Raises SandboxError
    (or a subclass) if the sandbox cannot run or the child produced no result, and re-raises what fn raised.
    """
    return _parent.run(fn, timeout=timeout, memory_bytes=memory_bytes)
