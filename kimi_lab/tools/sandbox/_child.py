"""The forked child: lock itself down, in an order where each step still has what it needs, run fn, reply.

Only the thread that called fork exists here. The kernel's other threads (IOPub, heartbeat, control, the
shell channel) are gone, and any lock one of them held at fork time stays locked for ever, so this code
touches nothing they own (zmq sockets, the OutStream, logging) and does little besides fn and the pipe; if
fn still blocks on such a lock, the parent's deadline kills the child.

The order, and why:
1. gc.freeze(): a collection would write to every tracked object inherited from the kernel and copy
   all their pages; the frozen generation is never scanned (objects fn creates still are).
2. PR_SET_PDEATHSIG(SIGKILL), then check the parent is still the one that forked: the child never
   outlives the kernel, even if every later step hangs.
3. Its own process group, and default actions for the signals the kernel handles in Python: a Jupyter
   interrupt (SIGINT to the kernel's group) reaches the kernel, which kills the child, and never runs
   the kernel's handlers here. Only then the signal mask the parent had before fork is restored.
4. Descriptors: sys.stdout/stderr into memory, /dev/null on 0-2, everything inherited closed except the
   result pipe, before anything could print or write (a warning, a C library's message).
5. The environment emptied but for locale, time zone and thread-count variables: API keys live there.
6. oom_score_adj = 1000, and the virtual size read, while /proc is still readable and writable.
7. BLAS single-threaded and one malloc arena (`_threads`), before the address-space limit is set.
8. Resource limits; setrlimit must precede seccomp, which forbids setting limits.
9. PR_SET_NO_NEW_PRIVS, which Landlock and seccomp both require of an unprivileged process.
10. Landlock, which needs open() for its rule folders and the landlock_* calls seccomp would refuse.
11. seccomp last: it refuses prctl, setrlimit, Landlock and writable open() that the steps above use.
Then fn runs, its text or exception goes to the pipe as JSON, and os._exit: no atexit handlers, no
finalizers, no flushing of buffers inherited from the kernel.

A protection that the parent found available but that fails to apply here is reported as a setup failure
and fn is not run (fail closed); one the kernel does not offer was already left out by the parent.
"""

from __future__ import annotations

import faulthandler
import gc
import os
import re
import signal
from dataclasses import dataclass
from typing import Any, Callable, NoReturn

from kimi_lab.tools.sandbox import _landlock, _limits, _protocol, _seccomp, _syscalls, _threads

__all__ = ["Plan", "main"]

PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38

EXIT_OK, EXIT_SETUP, EXIT_INTERNAL, EXIT_ORPHANED = 0, 3, 4, 5

KEEP_ENV = re.compile(r"(LANG|LANGUAGE|LC_[A-Z_]+|TZ|TZDIR|PATH|HOME|TMPDIR|PYTHONHASHSEED|"
                      r"(OMP|OPENBLAS|MKL|NUMEXPR|VECLIB_MAXIMUM)_NUM_THREADS)")


@dataclass(frozen=True)
class Plan:
    """Everything the child needs, decided in the parent before fork (the child computes little)."""

    timeout: float
    memory_bytes: int
    parent_pid: int
    layers: frozenset[str]
    landlock_abi: int
    landlock_paths: tuple[str, ...]
    seccomp: bool
    oom: bool
    blas: tuple[Any, ...] = ()
    sigmask: frozenset[int] = frozenset()


def main(fn: Callable[[], str], pipe: int, plan: Plan, close: int) -> NoReturn:
    code = EXIT_INTERNAL
    try:
        code = _run(fn, pipe, plan, close)
    finally:
        os._exit(code)


def _run(fn: Callable[[], str], pipe: int, plan: Plan, close: int) -> int:
    gc.freeze()
    os.close(close)  # the parent's read end: only the parent may hold it
    if faulthandler.is_enabled():
        faulthandler.disable()  # it would write tracebacks to a descriptor of the kernel's
    _syscalls.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != plan.parent_pid:
        return EXIT_ORPHANED  # the kernel died before the line above took effect
    try:
        pipe = _lock_down(pipe, plan)
    except Exception as exc:
        _send(pipe, _protocol.encode_setup_failure(f"{type(exc).__name__}: {exc}"))
        return EXIT_SETUP
    try:
        reply = _protocol.encode_text(fn())
    except MemoryError:
        reply = _protocol.MEMORY_ERROR_REPLY
    except BaseException as exc:  # everything fn raises (SystemExit, KeyboardInterrupt too) becomes a reply
        try:
            reply = _protocol.encode_error(exc)
        except MemoryError:
            reply = _protocol.MEMORY_ERROR_REPLY
    return EXIT_OK if _send(pipe, reply) else EXIT_INTERNAL


def _lock_down(pipe: int, plan: Plan) -> int:
    os.setpgid(0, 0)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGALRM, signal.SIGUSR1, signal.SIGUSR2):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a refused reply is an EPIPE error, not a death
    signal.pthread_sigmask(signal.SIG_SETMASK, plan.sigmask)  # the parent blocked SIGINT/SIGALRM around fork
    if "fds" in plan.layers:
        pipe = _limits.isolate_descriptors(pipe)
    if "environ" in plan.layers:
        for name in [n for n in os.environ if not KEEP_ENV.fullmatch(n)]:
            del os.environ[name]
    if plan.oom and "oom" in plan.layers:
        _limits.prefer_oom_kill()
    _threads.single_threaded(list(plan.blas))
    base = _limits.virtual_size()
    if "rlimits" in plan.layers:
        _limits.apply_rlimits(plan.memory_bytes, plan.timeout, base)
    if plan.landlock_abi or plan.seccomp:
        _syscalls.prctl(PR_SET_NO_NEW_PRIVS, 1)
    if plan.landlock_abi:
        _landlock.restrict(list(plan.landlock_paths), plan.landlock_abi)
    if plan.seccomp:
        _seccomp.install(os.getpid())
    return pipe


def _send(pipe: int, data: bytes) -> bool:
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(pipe, view):]
    except OSError:
        return False  # the parent stopped reading (deadline, or the reply was too large)
    return True
