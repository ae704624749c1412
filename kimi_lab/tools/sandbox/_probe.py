"""Whether the sandbox can run here, and which of its protections this kernel actually offers.

The fork itself (copy-on-write isolation, the deadline, the resource limits) needs only Linux and
os.fork. Landlock and seccomp depend on the kernel's version and configuration (and on the architecture
having a syscall table here); where one is missing the sandbox runs with the others, since it is a second
layer behind the evaluator, and `protections()` says what is active.
"""

from __future__ import annotations

import os
import sys

from kimi_lab.tools.sandbox import _landlock, _seccomp

__all__ = ["available", "has_oom_score", "protections"]


def available() -> bool:
    """Linux with os.fork, unless KIMI_LAB_NO_SANDBOX=1 turns the sandbox off."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork")
            and os.environ.get("KIMI_LAB_NO_SANDBOX", "").strip() != "1")


def has_oom_score() -> bool:
    return os.path.exists("/proc/self/oom_score_adj")


def protections() -> dict[str, bool]:
    """Each protection and whether it is applied to an isolated evaluation on this machine."""
    on = available()
    abi = _landlock.abi() if on else 0
    return {
        "fork": on,  # copy-on-write: the notebook's objects cannot be changed
        "rlimits": on,  # address space, CPU time, file size 0, no core dumps
        "oom_score_adj": on and has_oom_score(),
        "landlock": abi >= 1,  # reading only Python's installation and system libraries; no writes
        "landlock_network": abi >= 4,  # no TCP bind or connect
        "landlock_scopes": abi >= 6,  # no signals or abstract unix sockets outside the sandbox
        "seccomp": on and _seccomp.available(),  # allow-list of system calls
    }
