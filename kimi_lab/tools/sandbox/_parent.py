"""The kernel's side: fork, wait for the reply within a deadline, kill at the deadline, always reap.

Waiting is poll(2) on the result pipe and on a pidfd of the child (so a reply is complete when the child
has exited, even if some unrelated fork elsewhere in the kernel still holds a copy of the pipe), in
slices bounded by the deadline. At the deadline, when the reply grows past its bound, or when the wait is
interrupted (KeyboardInterrupt from a Jupyter interrupt, a SIGALRM-based timeout of the caller), the child
gets SIGKILL and is reaped in a `finally`. Signals go through the pidfd where there is one, so a pid that
somebody else reaped and the system reused is never signalled. A child that cannot be reaped within a few
seconds of SIGKILL (stuck in the kernel) is remembered and reaped on a later call, never left a zombie for
ever.
"""

from __future__ import annotations

import math
import os
import re
import select
import signal
import threading
import time
import warnings
from dataclasses import dataclass
from typing import Callable

from kimi_lab.tools.sandbox import _child, _landlock, _limits, _protocol, _seccomp, _threads
from kimi_lab.tools.sandbox._errors import SandboxCrashed, SandboxError, SandboxMemory, SandboxTimeout
from kimi_lab.tools.sandbox._probe import available, has_oom_score

__all__ = ["LAYERS", "run"]

# Every protection applies in production; tests run single layers to prove each one holds on its own.
LAYERS = frozenset({"fds", "environ", "oom", "rlimits", "landlock", "seccomp"})
REAP_SECONDS = 5.0
SIGNAL_SLICE = 0.1  # seconds the parent waits in one poll() before letting Python run pending signal handlers
CHUNK = 1 << 16

# Python 3.12+ warns on every fork in a process with threads (ipykernel always has some): the child here
# only runs fn and relies on the parent's deadline if it ever blocks on a lock, so the warning is noise.
warnings.filterwarnings("ignore", message=r".*fork\(\) may lead to deadlocks", category=DeprecationWarning,
                        module=re.escape(__name__))

_orphans: set[int] = set()
_orphans_lock = threading.Lock()


@dataclass
class _Outcome:
    data: bytes
    kind: str  # "eof", "exited", "timeout", "too_big"


class _Child:
    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.status: int | None = None
        self.cpu = 0.0
        self.reaped = False
        self.killed = False
        try:
            self.pidfd: int | None = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = None  # Linux < 5.3: rely on the pipe's end-of-file

    def collect(self, pipe: int, deadline: float) -> _Outcome:
        os.set_blocking(pipe, False)
        poller = select.poll()
        poller.register(pipe, select.POLLIN)
        if self.pidfd is not None:
            poller.register(self.pidfd, select.POLLIN)
        chunks: list[bytes] = []
        size = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return _Outcome(b"".join(chunks), "timeout")
            # In slices: a SIGINT or SIGALRM that the kernel delivered to another thread (it does while this one
            # blocks them around fork) only runs its Python handler when this thread runs bytecode again.
            events = poller.poll(max(1, math.ceil(min(remaining, SIGNAL_SLICE) * 1000)))
            while True:
                try:
                    chunk = os.read(pipe, CHUNK)
                except BlockingIOError:
                    break
                if not chunk:
                    return _Outcome(b"".join(chunks), "eof")
                size += len(chunk)
                if size > _protocol.MAX_REPLY:
                    return _Outcome(b"", "too_big")
                chunks.append(chunk)
            if any(fd == self.pidfd for fd, _ in events):
                return _Outcome(b"".join(chunks), "exited")  # gone; what it wrote was drained above

    def _try_reap(self) -> bool:
        try:
            pid, status, usage = os.wait4(self.pid, os.WNOHANG)
        except ChildProcessError:
            self.reaped = True  # somebody else's waitpid(-1), or SIGCHLD ignored: the status is lost
            return True
        if pid == 0:
            return False
        self.reaped, self.status, self.cpu = True, status, usage.ru_utime + usage.ru_stime
        return True

    def _kill(self) -> None:
        self.killed = True
        try:
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            else:
                os.kill(self.pid, signal.SIGKILL)  # not reaped yet, so the pid is still this child's
        except ProcessLookupError:
            pass

    def _wait_exit(self, seconds: float) -> None:
        """Wait up to `seconds` for the child to exit (it is reaped by the caller)."""
        if self.pidfd is not None:
            poller = select.poll()
            poller.register(self.pidfd, select.POLLIN)
            poller.poll(int(seconds * 1000))
            return
        deadline = time.monotonic() + seconds  # kernels without pidfd (< 5.3): poll waitpid, bounded
        while not self._try_reap() and time.monotonic() < deadline:
            time.sleep(0.002)

    def finish(self, grace: float = 0.0) -> None:
        """Reap the child, killing it first unless it exits within `grace` seconds."""
        with _orphans_lock:
            _orphans.add(self.pid)  # if this is interrupted, a later call reaps it
        try:
            if not self._try_reap():
                if grace > 0:
                    self._wait_exit(grace)
                if not self._try_reap():
                    self._kill()
                    self._wait_exit(REAP_SECONDS)
                    self._try_reap()
            if self.reaped:
                with _orphans_lock:
                    _orphans.discard(self.pid)
        finally:
            if self.pidfd is not None:
                os.close(self.pidfd)
                self.pidfd = None


def _reap_orphans() -> None:
    with _orphans_lock:
        pending = list(_orphans)
    for pid in pending:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if not done:
                os.kill(pid, signal.SIGKILL)
                continue
        except (ChildProcessError, ProcessLookupError):
            pass
        with _orphans_lock:
            _orphans.discard(pid)


def _plan(timeout: float, memory_bytes: int, layers: frozenset[str], sigmask: frozenset[int]) -> _child.Plan:
    abi = _landlock.abi() if "landlock" in layers else 0
    return _child.Plan(
        timeout=timeout,
        memory_bytes=memory_bytes,
        parent_pid=os.getpid(),
        layers=layers,
        landlock_abi=abi,
        landlock_paths=tuple(_landlock.allowed_paths()) if abi else (),
        seccomp="seccomp" in layers and _seccomp.available(),
        oom=has_oom_score(),
        blas=tuple(_threads.blas_setters()),
        sigmask=sigmask,
    )


def run(fn: Callable[[], str], *, timeout: float, memory_bytes: int, layers: frozenset[str] = LAYERS,
        wait: float | None = None) -> str:
    """run_isolated, with the layers to apply and the parent's wall-clock wait adjustable for tests."""
    if not available():
        raise SandboxError("the process sandbox is not available here (it needs Linux and os.fork)")
    if not timeout > 0 or not memory_bytes > 0:
        raise ValueError("timeout and memory_bytes must be positive")
    _reap_orphans()
    # SIGINT (a Jupyter interrupt) and SIGALRM (a caller's timeout) are held back from just before fork
    # until the child is watched inside the try below, so neither can strand an unwatched child.
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGALRM})
    try:
        plan = _plan(timeout, memory_bytes, layers, frozenset(previous))
        read_end, write_end = os.pipe()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        raise
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        raise SandboxError(f"could not start the sandboxed evaluation ({exc.strerror}); try again later")
    if pid == 0:
        _child.main(fn, write_end, plan, read_end)
    outcome: _Outcome | None = None
    child: _Child | None = None
    try:
        # The mask holds signals back from this thread only: one the kernel handed to another thread
        # still runs its Python handler here at the next bytecode, even before the child is watched.
        child = _Child(pid)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a pending interrupt is raised here
        os.close(write_end)
        outcome = child.collect(read_end, time.monotonic() + (timeout if wait is None else wait))
    finally:
        try:
            os.close(read_end)
        finally:
            try:
                if child is None:
                    _Child(pid).finish()  # interrupted before it was watched: it must not be stranded
                else:
                    # after a complete reply the child is already exiting: give it a moment before SIGKILL
                    child.finish(grace=1.0 if outcome is not None and outcome.kind in ("eof", "exited") else 0.0)
            finally:
                # Unblock even when interrupted before the unblock above: a thread left with SIGINT blocked
                # ignores every later interrupt, and processes it starts inherit the mask.
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    assert outcome is not None and child is not None
    return _conclude(outcome, child, plan)


def _conclude(outcome: _Outcome, child: _Child, plan: _child.Plan) -> str:
    if outcome.kind == "too_big":
        raise SandboxError(f"the result was larger than {_protocol.MAX_REPLY // 2**20} MiB and was not read; "
                           "return a shorter text (head, a summary, fewer columns)")
    if outcome.kind == "timeout":
        raise SandboxTimeout(f"the evaluation took longer than {plan.timeout:g} s and was stopped; use a smaller "
                             "slice of the data or a cheaper expression")
    if outcome.data:
        reply = _protocol.decode(outcome.data)
        if reply.get("ok") is True:
            return str(reply["text"])
        _protocol.raise_for(reply, plan.memory_bytes)
    status = child.status
    if status is None:
        raise SandboxCrashed("the evaluation ended without a result; try a simpler expression")
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        limit = _limits.cpu_seconds(plan.timeout)
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and child.cpu >= limit - 0.5):
            raise SandboxTimeout(f"the evaluation used more than {limit} s of CPU time and was stopped; use a "
                                 "smaller slice of the data or a cheaper expression")
        if sig == signal.SIGKILL and child.killed:
            raise SandboxCrashed("the evaluation closed its reply without a result; try a simpler expression")
        if sig == signal.SIGKILL:
            raise SandboxMemory("the evaluation was killed by the system, most likely for using too much memory; "
                                "use a smaller slice of the data or an aggregate")
        try:
            name = signal.Signals(sig).name
        except ValueError:
            name = f"signal {sig}"
        raise SandboxCrashed(f"the evaluation crashed ({name}); the notebook's variables are unaffected; try a "
                             "simpler expression")
    raise SandboxCrashed(f"the evaluation exited without a result (status {os.WEXITSTATUS(status)}); try a "
                         "simpler expression")
