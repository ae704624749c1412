"""Landlock: the child may read Python's own installation and the system libraries, and nothing else.

Landlock (Linux >= 5.13) lets an unprivileged process take away its own access to the filesystem, and
(ABI >= 4) to TCP, and (ABI >= 6) its ability to signal processes or reach abstract unix sockets outside
its domain. It applies to root too, and a restriction can never be lifted again. The child hands Landlock
every access right the running kernel knows ("handled") and grants back only reading, beneath:

- Python's installation: sys.prefix, sys.base_prefix, sys.exec_prefix and the site-packages folders on
  sys.path (lazy imports read .py/.pyc files and dlopen extension modules there), and kimi_lab itself;
- the system library folders (/usr/lib, /lib, /usr/lib64, /lib64) and /etc/ld.so.cache, for a lazy
  dlopen of a shared library, and /usr/share/zoneinfo (/etc/localtime resolves into it) for time zones.

Never '' or the current directory, the notebook's folder or $HOME: a folder is dropped if the current
directory or $HOME lies beneath it (so a prefix of "/" or of the home folder grants nothing). Metadata
(stat, readlink) is not governed by Landlock; file descriptors opened before the restriction keep working.
"""

from __future__ import annotations

import ctypes
import os
import sys
from functools import lru_cache

from kimi_lab.tools.sandbox import _syscalls

__all__ = ["abi", "allowed_paths", "restrict"]

CREATE_RULESET_VERSION = 1 << 0
RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REFER = 1 << 13  # ABI 2
FS_TRUNCATE = 1 << 14  # ABI 3
FS_IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1  # ABI 6

SYSTEM_DIRS = ("/usr/lib", "/lib", "/usr/lib64", "/lib64", "/usr/share/zoneinfo")
SYSTEM_FILES = ("/etc/ld.so.cache",)


class _RulesetAttr(ctypes.Structure):
    # struct landlock_ruleset_attr; the kernel accepts the larger struct when the fields it lacks are zero.
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    # struct landlock_path_beneath_attr is __attribute__((packed)): 12 bytes, not 16.
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@lru_cache(maxsize=1)
def abi() -> int:
    """The Landlock ABI version the kernel offers, 0 when it has none (or this architecture is unknown)."""
    if _syscalls.ARCH is None or not sys.platform.startswith("linux"):
        return 0
    try:
        return _syscalls.syscall("landlock_create_ruleset", None, 0, CREATE_RULESET_VERSION)
    except OSError:
        return 0


def handled_fs(version: int) -> int:
    """Every filesystem right the ABI knows, so that none is left unrestricted by omission."""
    rights = (1 << 13) - 1  # ABI 1: EXECUTE ... MAKE_SYM
    if version >= 2:
        rights |= FS_REFER
    if version >= 3:
        rights |= FS_TRUNCATE
    if version >= 5:
        rights |= FS_IOCTL_DEV
    return rights


def _beneath(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def allowed_paths() -> list[str]:
    """The folders and files the child may read (existing ones only, resolved, without duplicates)."""
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    candidates += [p for p in sys.path if p and ("site-packages" in p or "dist-packages" in p)]
    package = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # kimi_lab/
    candidates.append(package)
    protected = [os.path.realpath(os.getcwd()), os.path.realpath(os.path.expanduser("~"))]
    result: list[str] = []
    for path in candidates:
        real = os.path.realpath(path)
        if any(_beneath(keep, real) for keep in protected):
            continue  # granting it would expose the notebook's folder or the home folder
        if os.path.exists(real) and real not in result:
            result.append(real)
    for path in SYSTEM_DIRS + SYSTEM_FILES:
        real = os.path.realpath(path)
        if os.path.exists(real) and real not in result:
            result.append(real)
    return result


def restrict(paths: list[str], version: int) -> None:
    """Restrict this process (and its future threads) for good; needs no_new_privs set first."""
    read = FS_READ_FILE | FS_READ_DIR
    attr = _RulesetAttr(handled_fs(version), NET_BIND_TCP | NET_CONNECT_TCP if version >= 4 else 0,
                        SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if version >= 6 else 0)
    ruleset = _syscalls.syscall("landlock_create_ruleset", ctypes.byref(attr), ctypes.sizeof(attr), 0)
    try:
        for path in paths:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # vanished since it was listed: nothing to grant
            try:
                allowed = read if os.path.isdir(path) else FS_READ_FILE  # a file takes file rights only
                rule = _PathBeneathAttr(allowed, fd)
                _syscalls.syscall("landlock_add_rule", ruleset, RULE_PATH_BENEATH, ctypes.byref(rule), 0)
            finally:
                os.close(fd)
        # No network rule at all: with NET_* handled, every TCP bind and connect is denied.
        _syscalls.syscall("landlock_restrict_self", ruleset, 0)
    finally:
        os.close(ruleset)
