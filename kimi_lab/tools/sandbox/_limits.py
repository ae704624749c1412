"""Resource limits and stream isolation for the child: cheap, portable, and enforced by the kernel.

- RLIMIT_AS: the child's virtual size at fork plus the memory budget. Fresh allocations beyond it fail
  with MemoryError instead of growing until the OOM killer picks a victim. (Pages copied on write from
  the parent are not new address space: that growth is bounded by the parent's own size, and
  oom_score_adj=1000 makes the child, never the kernel, the OOM killer's first choice.)
- RLIMIT_CPU: a backstop for the parent's wall-clock deadline (SIGXCPU, then SIGKILL), in case the parent
  cannot kill in time. It counts every thread's CPU time.
- RLIMIT_FSIZE = 0 with SIGXFSZ ignored: a write that would grow a regular file fails with EFBIG instead
  of killing the process. RLIMIT_CORE = 0: a crash or SIGXCPU never dumps the kernel's memory to a file.
- RLIMIT_NOFILE: a few dozen descriptors are plenty for reading modules.
RLIMIT_NPROC is not used: it counts every process of the user (so it cannot say "no children for this
one") and root ignores it; seccomp refuses fork and exec instead.
"""

from __future__ import annotations

import io
import math
import os
import signal
import sys

__all__ = ["apply_rlimits", "cpu_seconds", "isolate_descriptors", "prefer_oom_kill", "virtual_size"]

NOFILE = 64


def cpu_seconds(timeout: float) -> int:
    return math.ceil(timeout) + 1


def virtual_size() -> int:
    """This process's current virtual size in bytes (from /proc/self/statm, read before Landlock)."""
    import resource  # POSIX only; imported where used so the package imports everywhere

    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


def isolate_descriptors(keep: int) -> int:
    """stdio onto /dev/null, Python's streams into memory, every other inherited descriptor closed.

    Returns the descriptor number of `keep`, which is moved to 3. The
    kernel's zmq sockets, its output-capture pipes and anything the notebook opened are closed here, so
    nothing the child does can ever write to them.
    """
    sys.stdout = io.StringIO()  # rebinding only: the kernel's OutStream belongs to its IOPub thread
    sys.stderr = io.StringIO()
    sys.stdin = io.StringIO()
    import resource

    if keep <= 2:
        keep = os.dup(keep)  # the lowest free number above 2 is not guaranteed, so move it explicitly
        while keep <= 2:
            keep = os.dup(keep)
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        if null != fd:
            os.dup2(null, fd, inheritable=False)
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    high = soft if 0 < soft < 1 << 20 else 1 << 20
    os.closerange(3, keep)
    os.closerange(keep + 1, max(high, keep + 2))
    if keep != 3:  # the same number in every child, however many descriptors the kernel had open
        os.dup2(keep, 3, inheritable=False)
        os.close(keep)
    return 3


def prefer_oom_kill() -> None:
    """Make this process the OOM killer's first choice (raising the score needs no privilege).

    Best effort: where /proc is read-only the evaluation still runs, under its address-space limit.
    """
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass


def apply_rlimits(memory_bytes: int, timeout: float, base_vsize: int) -> None:
    import resource

    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    cpu = cpu_seconds(timeout)
    limits = {
        resource.RLIMIT_AS: (base_vsize + memory_bytes,) * 2,
        # soft CPU limit first (SIGXCPU, reported as a timeout), the hard one a second later (SIGKILL)
        resource.RLIMIT_CPU: (cpu, cpu + 1),
        resource.RLIMIT_FSIZE: (0, 0),
        resource.RLIMIT_CORE: (0, 0),
        resource.RLIMIT_NOFILE: (NOFILE, NOFILE),
    }
    for which, (soft, hard) in limits.items():
        current = resource.getrlimit(which)[1]
        if current != resource.RLIM_INFINITY:  # a hard limit cannot be raised without privilege; lower is stricter
            soft, hard = min(soft, current), min(hard, current)
        resource.setrlimit(which, (soft, hard))
