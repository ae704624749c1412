"""seccomp-BPF: the child may make only the system calls a computation needs; every other one fails.

An allow-list, not a deny-list: a system call nobody thought of (io_uring_setup, process_vm_writev, a new
one in a later kernel) fails by default. Denied calls return EPERM rather than killing the process, so
Python raises PermissionError and the model reads an error instead of a crash. What is allowed:

- memory (brk, mmap, munmap, mremap, mprotect, madvise, ...), futexes, signals to itself, clocks, sleeping;
- reading and writing file descriptors it already has, and file metadata (fstat, newfstatat, statx, lseek,
  getdents64, readlink, getcwd). Its only writable descriptors are /dev/null and the result pipe;
- `openat` only when the flags ask for reading: none of O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND or
  __O_TMPFILE (the bare bit: O_TMPFILE also contains O_DIRECTORY, which listing a folder uses);
- `clone` only for threads (CLONE_THREAD set); `clone3` answers ENOSYS, since its flags sit in memory
  the filter cannot read, and glibc then falls back to `clone`;
- `kill`/`tgkill` only aimed at its own pid (raise() and abort() use tgkill);
- `prlimit64` only to read limits (a NULL new limit): it could otherwise lower the kernel's own limits
  (same user), or let a privileged child raise its own;
- `ioctl` only TCGETS, TIOCGWINSZ, FIOCLEX and FIONCLEX (isatty, terminal size, close-on-exec);
- `fcntl` only F_DUPFD(_CLOEXEC), F_GETFD, F_SETFD, F_GETFL (F_SETOWN would aim SIGIO at the kernel);
- `prctl` only PR_SET_NAME/PR_GET_NAME.

So no execve, fork, socket, connect, unlink, rename, truncate, chmod, utime (Landlock does not cover
metadata changes), ptrace, process_vm_*, bpf or io_uring. The filter first checks the architecture field
(x86_64 or aarch64 as built, so an int 0x80 i386 call is refused) and on x86_64 refuses x32 numbers.
"""

from __future__ import annotations

import ctypes
import errno
import struct
import sys
from functools import lru_cache

from kimi_lab.tools.sandbox import _syscalls

__all__ = ["available", "install", "program"]

# <linux/filter.h> opcodes
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
JSET_K = 0x45
RET_K = 0x06

RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
DENY = RET_ERRNO | errno.EPERM

PR_GET_SECCOMP = 21
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
SECCOMP_GET_ACTION_AVAIL = 2
X32_SYSCALL_BIT = 0x40000000

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6] (little-endian on both arches)
OFF_NR = 0
OFF_ARCH = 4


def _arg_lo(i: int) -> int:
    return 16 + 8 * i


def _arg_hi(i: int) -> int:
    return 16 + 8 * i + 4


# asm-generic values, the same on x86_64 and aarch64
O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_TMPFILE_BIT = 0o1, 0o2, 0o100, 0o1000, 0o2000, 0o20000000
OPEN_WRITE_FLAGS = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND | O_TMPFILE_BIT
CLONE_THREAD = 0x00010000
TCGETS, TIOCGWINSZ, FIONCLEX, FIOCLEX = 0x5401, 0x5413, 0x5450, 0x5451
F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_DUPFD_CLOEXEC = 0, 1, 2, 3, 1030
PR_SET_NAME, PR_GET_NAME = 15, 16

ALLOWED = (
    # memory
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "membarrier",
    # threads and synchronisation
    "futex", "futex_waitv", "set_robust_list", "rseq", "set_tid_address", "sched_yield", "sched_getaffinity",
    "getcpu", "exit", "exit_group", "restart_syscall",
    # signals (to itself)
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "rt_sigsuspend", "rt_sigpending",
    "rt_sigtimedwait", "pause", "alarm", "getitimer", "setitimer",
    # clocks and sleeping
    "nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
    # descriptors it already holds, and metadata
    "read", "write", "readv", "writev", "pread64", "preadv", "preadv2", "close", "close_range", "lseek",
    "fstat", "newfstatat", "statx", "stat", "lstat", "access", "faccessat", "faccessat2", "getdents64",
    "getdents", "readlink", "readlinkat", "getcwd", "dup", "dup2", "dup3", "poll", "ppoll", "select",
    "pselect6",
    # identity and accounting, read-only
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid",
    "getresgid", "getpgrp", "uname", "sysinfo", "getrandom", "getrusage", "times", "getrlimit",
)


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


Insn = tuple[int, int, int, int]


def _op(code: int, k: int = 0, jt: int = 0, jf: int = 0) -> Insn:
    return (code, jt, jf, k & 0xFFFFFFFF)


def _when(nr: int, body: list[Insn]) -> list[Insn]:
    """`if nr == <nr>: body` (body ends in a return, so A still holds nr on the fall-through path)."""
    return [_op(JEQ_K, nr, 0, len(body)), *body]


def _flags_clear(arg: int, mask: int) -> list[Insn]:
    return [_op(LD_W_ABS, _arg_lo(arg)), _op(JSET_K, mask, 0, 1), _op(RET_K, DENY), _op(RET_K, RET_ALLOW)]


def _flags_set(arg: int, mask: int) -> list[Insn]:
    return [_op(LD_W_ABS, _arg_lo(arg)), _op(JSET_K, mask, 0, 1), _op(RET_K, RET_ALLOW), _op(RET_K, DENY)]


def _one_of(arg: int, values: tuple[int, ...]) -> list[Insn]:
    # Each jeq jumps over the remaining tests and the DENY to the ALLOW when it matches.
    tests = [_op(JEQ_K, v, len(values) - i, 0) for i, v in enumerate(values)]
    return [_op(LD_W_ABS, _arg_lo(arg)), *tests, _op(RET_K, DENY), _op(RET_K, RET_ALLOW)]


def _null(arg: int) -> list[Insn]:
    return [_op(LD_W_ABS, _arg_lo(arg)), _op(JEQ_K, 0, 0, 2), _op(LD_W_ABS, _arg_hi(arg)), _op(JEQ_K, 0, 1, 0),
            _op(RET_K, DENY), _op(RET_K, RET_ALLOW)]


def program(arch: str, pid: int) -> list[Insn]:
    """The filter for `arch` ("x86_64" or "aarch64"), letting the process signal only `pid` (itself)."""
    audit_arch, nr = _syscalls.TABLES[arch]
    code: list[Insn] = [
        _op(LD_W_ABS, OFF_ARCH), _op(JEQ_K, audit_arch, 1, 0), _op(RET_K, DENY),
        _op(LD_W_ABS, OFF_NR),
    ]
    if arch == "x86_64":
        code += [_op(JGE_K, X32_SYSCALL_BIT, 0, 1), _op(RET_K, DENY)]
    for name in ALLOWED:
        if name in nr:
            code += _when(nr[name], [_op(RET_K, RET_ALLOW)])
    code += _when(nr["openat"], _flags_clear(2, OPEN_WRITE_FLAGS))
    if "open" in nr:
        code += _when(nr["open"], _flags_clear(1, OPEN_WRITE_FLAGS))
    code += _when(nr["clone"], _flags_set(0, CLONE_THREAD))
    code += _when(nr["clone3"], [_op(RET_K, RET_ERRNO | errno.ENOSYS)])
    code += _when(nr["openat2"], [_op(RET_K, RET_ERRNO | errno.ENOSYS)])  # flags in memory: glibc falls back
    code += _when(nr["kill"], _one_of(0, (pid,)))
    code += _when(nr["tgkill"], _one_of(0, (pid,)))
    code += _when(nr["prlimit64"], _null(2))
    code += _when(nr["ioctl"], _one_of(1, (TCGETS, TIOCGWINSZ, FIOCLEX, FIONCLEX)))
    code += _when(nr["fcntl"], _one_of(1, (F_DUPFD, F_GETFD, F_SETFD, F_GETFL, F_DUPFD_CLOEXEC)))
    code += _when(nr["prctl"], _one_of(0, (PR_SET_NAME, PR_GET_NAME)))
    code.append(_op(RET_K, DENY))
    assert all(jt < 256 and jf < 256 for _, jt, jf, _ in code) and len(code) < 4096
    return code


def encode(code: list[Insn]) -> bytes:
    return b"".join(struct.pack("=HBBI", *insn) for insn in code)


@lru_cache(maxsize=1)
def available() -> bool:
    """The kernel has seccomp filters with the ERRNO action, and this architecture has a table here."""
    if _syscalls.ARCH is None or not sys.platform.startswith("linux"):
        return False
    try:
        _syscalls.prctl(PR_GET_SECCOMP)
        action = ctypes.c_uint32(RET_ERRNO)
        _syscalls.syscall("seccomp", SECCOMP_GET_ACTION_AVAIL, 0, ctypes.byref(action))
    except OSError:
        return False
    return True


def install(pid: int) -> None:
    """Install the filter on this process for good; needs no_new_privs set first. Raises OSError."""
    assert _syscalls.ARCH is not None
    code = program(_syscalls.ARCH, pid)
    filters = (_Filter * len(code))(*(_Filter(c, jt, jf, k) for c, jt, jf, k in code))
    prog = _Program(len(code), filters)
    _syscalls.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(prog))
