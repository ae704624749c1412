"""System-call numbers and a thin ctypes door to the kernel, for the two architectures the filter knows.

Landlock and seccomp have no wrappers in Python's standard library, so they are reached through libc's
`syscall(2)` and `prctl(2)` via ctypes. Numbers differ per architecture: x86_64 has its own table, aarch64
uses the kernel's generic one (which has no `open`, `stat`, `dup2`, `poll`, ...: glibc uses the `*at`
forms there). The numbers below were taken from libseccomp's src/syscalls.csv (kernel v7.1 data) and
checked against the kernel headers' asm/unistd_64.h (x86_64) and asm-generic/unistd.h (aarch64); the
three Landlock calls are 444-446 on both. An architecture not listed here gets no seccomp filter.
"""

from __future__ import annotations

import ctypes
import os
import platform
from typing import Any

__all__ = ["ARCH", "AUDIT_ARCH", "NUMBERS", "prctl", "syscall"]

# AUDIT_ARCH_* from <linux/audit.h>: EM_* | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_AARCH64 = 0xC00000B7

X86_64: dict[str, int] = {
    "read": 0, "write": 1, "open": 2, "close": 3, "stat": 4, "fstat": 5, "lstat": 6, "poll": 7, "lseek": 8,
    "mmap": 9, "mprotect": 10, "munmap": 11, "brk": 12, "rt_sigaction": 13, "rt_sigprocmask": 14,
    "rt_sigreturn": 15, "ioctl": 16, "pread64": 17, "readv": 19, "writev": 20, "access": 21, "select": 23,
    "sched_yield": 24, "mremap": 25, "mincore": 27, "madvise": 28, "dup": 32, "dup2": 33, "pause": 34,
    "nanosleep": 35, "getitimer": 36, "alarm": 37, "setitimer": 38, "getpid": 39, "clone": 56, "fork": 57,
    "vfork": 58, "exit": 60, "kill": 62, "uname": 63, "fcntl": 72, "getdents": 78, "getcwd": 79,
    "readlink": 89, "gettimeofday": 96, "getrlimit": 97, "getrusage": 98, "sysinfo": 99, "times": 100,
    "getuid": 102, "getgid": 104, "geteuid": 107, "getegid": 108, "getppid": 110, "getpgrp": 111,
    "getgroups": 115, "getresuid": 118, "getresgid": 120, "rt_sigpending": 127, "rt_sigtimedwait": 128,
    "rt_sigsuspend": 130, "sigaltstack": 131, "prctl": 157, "gettid": 186, "time": 201, "futex": 202,
    "sched_getaffinity": 204, "getdents64": 217, "set_tid_address": 218, "restart_syscall": 219,
    "clock_gettime": 228, "clock_getres": 229, "clock_nanosleep": 230, "exit_group": 231, "tgkill": 234,
    "openat": 257, "newfstatat": 262, "readlinkat": 267, "faccessat": 269, "pselect6": 270, "ppoll": 271,
    "set_robust_list": 273, "dup3": 292, "preadv": 295, "prlimit64": 302, "getcpu": 309, "seccomp": 317,
    "getrandom": 318, "membarrier": 324, "preadv2": 327, "statx": 332, "rseq": 334, "clone3": 435,
    "close_range": 436, "openat2": 437, "faccessat2": 439, "landlock_create_ruleset": 444,
    "landlock_add_rule": 445, "landlock_restrict_self": 446, "futex_waitv": 449,
}

AARCH64: dict[str, int] = {
    "getcwd": 17, "dup": 23, "dup3": 24, "fcntl": 25, "ioctl": 29, "faccessat": 48, "openat": 56, "close": 57,
    "getdents64": 61, "lseek": 62, "read": 63, "write": 64, "readv": 65, "writev": 66, "pread64": 67,
    "preadv": 69, "pselect6": 72, "ppoll": 73, "readlinkat": 78, "newfstatat": 79, "fstat": 80, "exit": 93,
    "exit_group": 94, "set_tid_address": 96, "futex": 98, "set_robust_list": 99, "nanosleep": 101,
    "getitimer": 102, "setitimer": 103, "clock_gettime": 113, "clock_getres": 114, "clock_nanosleep": 115,
    "sched_getaffinity": 123, "sched_yield": 124, "restart_syscall": 128, "kill": 129, "tgkill": 131,
    "sigaltstack": 132, "rt_sigsuspend": 133, "rt_sigaction": 134, "rt_sigprocmask": 135, "rt_sigpending": 136,
    "rt_sigtimedwait": 137, "rt_sigreturn": 139, "getresuid": 148, "getresgid": 150, "times": 153,
    "getgroups": 158, "uname": 160, "getrlimit": 163, "getrusage": 165, "prctl": 167, "getcpu": 168,
    "gettimeofday": 169, "getpid": 172, "getppid": 173, "getuid": 174, "geteuid": 175, "getgid": 176,
    "getegid": 177, "gettid": 178, "sysinfo": 179, "brk": 214, "munmap": 215, "mremap": 216, "clone": 220,
    "mmap": 222, "mprotect": 226, "mincore": 232, "madvise": 233, "prlimit64": 261, "seccomp": 277,
    "getrandom": 278, "membarrier": 283, "preadv2": 286, "statx": 291, "rseq": 293, "clone3": 435,
    "close_range": 436, "openat2": 437, "faccessat2": 439, "landlock_create_ruleset": 444,
    "landlock_add_rule": 445, "landlock_restrict_self": 446, "futex_waitv": 449,
}

TABLES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (AUDIT_ARCH_X86_64, X86_64),
    "aarch64": (AUDIT_ARCH_AARCH64, AARCH64),
}

_machine = platform.machine().lower()
ARCH: str | None = {"amd64": "x86_64", "arm64": "aarch64"}.get(_machine, _machine)
if ARCH not in TABLES:
    ARCH = None
AUDIT_ARCH: int | None = TABLES[ARCH][0] if ARCH else None
NUMBERS: dict[str, int] = TABLES[ARCH][1] if ARCH else {}

_libc: Any = None


def _lib() -> Any:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.syscall.restype = ctypes.c_long
        _libc.prctl.restype = ctypes.c_int
    return _libc


def _word(arg: Any) -> Any:
    # syscall(2) and prctl(2) are variadic: pass every integer as a full machine word, never a C int.
    return ctypes.c_long(arg) if isinstance(arg, int) else arg


def syscall(name: str, *args: Any) -> int:
    """Call a system call by name; raises OSError (with errno) on failure, KeyError if unknown here."""
    result = _lib().syscall(ctypes.c_long(NUMBERS[name]), *(_word(a) for a in args))
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")
    return int(result)


def prctl(option: int, *args: Any) -> int:
    """prctl(2) with unsigned long arguments; raises OSError on failure."""
    words = [ctypes.c_ulong(a) if isinstance(a, int) else a for a in args]
    words += [ctypes.c_ulong(0)] * (4 - len(words))
    result = _lib().prctl(ctypes.c_int(option), *words)
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl({option}): {os.strerror(err)}")
    return int(result)
